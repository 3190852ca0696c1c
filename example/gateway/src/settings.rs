// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Command line and environment, read once at start-up into [`Settings`]. The names follow
//! OpenShell's gateway (`--bind-address`, `--port`, `--health-port`, `--drivers`,
//! `OPENSHELL_*`) so the dev tasks start either binary the same way.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::{Context, Result, bail};

pub const USAGE: &str = "\
Usage: example-gateway [OPTIONS]

Stand-in OpenShell gateway: an HTTP API that runs sandbox pods through a Kubernetes driver.

Options (each flag overrides its environment variable):
  --bind-address ADDR       listen address [env OPENSHELL_BIND_ADDRESS, default 127.0.0.1]
  --port PORT               API port [env OPENSHELL_GATEWAY_PORT or OPENSHELL_SERVER_PORT, default 8080]
  --health-port PORT        /healthz, /readyz, /version [env OPENSHELL_HEALTH_PORT, default 8081]
  --drivers LIST            compute drivers; only `kubernetes` exists [env OPENSHELL_DRIVERS, default kubernetes]
  --sandbox-namespace NS    namespace of sandbox pods [env OPENSHELL_SANDBOX_NAMESPACE, default openshell]
  -h, --help                print this help
  -V, --version             print name, version, git sha and build time

Environment:
  OPENSHELL_SANDBOX_IMAGE                 image of the sandbox container; also the supervisor image
                                          when OPENSHELL_SUPERVISOR_IMAGE is unset (required to create sandboxes)
  OPENSHELL_SUPERVISOR_IMAGE              image the init container copies the supervisor from
  OPENSHELL_SANDBOX_IMAGE_PULL_POLICY     Always | IfNotPresent | Never (default IfNotPresent)
  OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY  default: the sandbox pull policy
  KUBECONFIG                              cluster access out of the cluster (kube::Config::infer);
                                          in a pod the service account is used
";

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Settings),
    Help,
    Version,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bind: IpAddr,
    pub port: u16,
    pub health_port: u16,
    pub sandbox: SandboxSettings,
}

/// How sandbox pods are built; see `pod::sandbox_pod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub namespace: String,
    /// Image of the sandbox's main container; `None` means the supervisor image.
    pub image: Option<String>,
    /// Image the init container copies the supervisor from; `None` means `image`.
    pub supervisor_image: Option<String>,
    pub pull_policy: String,
    pub supervisor_pull_policy: String,
}

impl SandboxSettings {
    /// The (supervisor, sandbox) images, or why sandboxes cannot be created.
    pub fn images(&self) -> Result<(&str, &str), String> {
        let supervisor = self.supervisor_image.as_deref().or(self.image.as_deref());
        let Some(supervisor) = supervisor else {
            return Err(
                "no sandbox image configured; set OPENSHELL_SANDBOX_IMAGE to the \
                        supervisor image (e.g. openshell-registry:5000/openshell-supervisor:dev)"
                    .into(),
            );
        };
        Ok((supervisor, self.image.as_deref().unwrap_or(supervisor)))
    }
}

const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

/// Parse `args` (without the program name) over `env`. Pure, so tests pass both in.
pub fn parse<I>(args: I, env: &BTreeMap<String, String>) -> Result<Command>
where
    I: IntoIterator<Item = String>,
{
    let mut flags: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let key = match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--bind-address" => "bind-address",
            "--port" => "port",
            "--health-port" => "health-port",
            "--drivers" => "drivers",
            "--sandbox-namespace" => "sandbox-namespace",
            _ => bail!("unexpected argument {arg:?}; see --help"),
        };
        let value = match inline {
            Some(value) => value.to_string(),
            None => args
                .next()
                .with_context(|| format!("{name} needs a value; see --help"))?,
        };
        flags.insert(key, value);
    }

    let env_get = |name: &str| env.get(name).filter(|v| !v.is_empty()).cloned();
    let pick = |flag: &str, vars: &[&str], default: &str| -> (String, String) {
        if let Some(v) = flags.get(flag) {
            return (format!("--{flag}"), v.clone());
        }
        vars.iter()
            .find_map(|var| env_get(var).map(|v| (var.to_string(), v)))
            .unwrap_or_else(|| ("default".into(), default.into()))
    };

    let (source, drivers) = pick("drivers", &["OPENSHELL_DRIVERS"], "kubernetes");
    check_drivers(&drivers).with_context(|| format!("{source}={drivers}"))?;

    let (source, bind) = pick("bind-address", &["OPENSHELL_BIND_ADDRESS"], "127.0.0.1");
    let bind = bind
        .parse()
        .with_context(|| format!("{source}={bind}: not an IP address"))?;
    let port = parse_port(pick(
        "port",
        &["OPENSHELL_GATEWAY_PORT", "OPENSHELL_SERVER_PORT"],
        "8080",
    ))?;
    let health_port = parse_port(pick("health-port", &["OPENSHELL_HEALTH_PORT"], "8081"))?;
    // Port 0 (any free port, for tests) may repeat; a fixed port cannot serve both.
    if port == health_port && port != 0 {
        bail!("API and health ports are both {port}; give --health-port another port");
    }

    let (_, namespace) = pick(
        "sandbox-namespace",
        &["OPENSHELL_SANDBOX_NAMESPACE"],
        "openshell",
    );
    let pull_policy = check_pull_policy(
        "OPENSHELL_SANDBOX_IMAGE_PULL_POLICY",
        env_get("OPENSHELL_SANDBOX_IMAGE_PULL_POLICY"),
        "IfNotPresent",
    )?;
    let supervisor_pull_policy = check_pull_policy(
        "OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY",
        env_get("OPENSHELL_SUPERVISOR_IMAGE_PULL_POLICY"),
        &pull_policy,
    )?;
    Ok(Command::Run(Settings {
        bind,
        port,
        health_port,
        sandbox: SandboxSettings {
            namespace,
            image: env_get("OPENSHELL_SANDBOX_IMAGE"),
            supervisor_image: env_get("OPENSHELL_SUPERVISOR_IMAGE"),
            pull_policy,
            supervisor_pull_policy,
        },
    }))
}

/// OpenShell accepts a list of compute drivers; the stand-in has only the Kubernetes one, and
/// rejecting the rest keeps a misconfigured dev loop from starting a gateway that does nothing.
fn check_drivers(list: &str) -> Result<()> {
    let drivers: Vec<&str> = list.split(',').map(str::trim).collect();
    if let Some(other) = drivers.iter().find(|d| **d != "kubernetes") {
        bail!("unsupported compute driver {other:?}; this gateway only has `kubernetes`");
    }
    Ok(())
}

fn parse_port((source, value): (String, String)) -> Result<u16> {
    value
        .parse()
        .with_context(|| format!("{source}={value}: not a port number (0-65535)"))
}

fn check_pull_policy(var: &str, value: Option<String>, default: &str) -> Result<String> {
    let value = value.unwrap_or_else(|| default.to_string());
    if !PULL_POLICIES.contains(&value.as_str()) {
        bail!(
            "{var}={value}: not an imagePullPolicy; use one of {}",
            PULL_POLICIES.join(", ")
        );
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn run(args: &[&str], pairs: &[(&str, &str)]) -> Result<Settings> {
        match parse(args.iter().map(|a| a.to_string()), &env(pairs))? {
            Command::Run(settings) => Ok(settings),
            other => panic!("expected run, got {other:?}"),
        }
    }

    #[test]
    fn defaults_need_no_environment() {
        let s = run(&[], &[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1");
        assert_eq!((s.port, s.health_port), (8080, 8081));
        assert_eq!(s.sandbox.namespace, "openshell");
        assert_eq!(s.sandbox.pull_policy, "IfNotPresent");
        assert_eq!(s.sandbox.supervisor_pull_policy, "IfNotPresent");
        assert_eq!(s.sandbox.image, None);
    }

    #[test]
    fn flags_override_environment() {
        let s = run(
            &[
                "--port",
                "9000",
                "--health-port=9001",
                "--bind-address",
                "0.0.0.0",
            ],
            &[
                ("OPENSHELL_GATEWAY_PORT", "7000"),
                ("OPENSHELL_HEALTH_PORT", "7001"),
                ("OPENSHELL_BIND_ADDRESS", "10.0.0.1"),
            ],
        )
        .unwrap();
        assert_eq!((s.port, s.health_port), (9000, 9001));
        assert_eq!(s.bind.to_string(), "0.0.0.0");
    }

    #[test]
    fn openshell_server_port_is_read_when_gateway_port_is_unset() {
        let s = run(&[], &[("OPENSHELL_SERVER_PORT", "18091")]).unwrap();
        assert_eq!(s.port, 18091);
        let s = run(
            &[],
            &[
                ("OPENSHELL_SERVER_PORT", "18091"),
                ("OPENSHELL_GATEWAY_PORT", "18092"),
            ],
        )
        .unwrap();
        assert_eq!(s.port, 18092);
    }

    #[test]
    fn sandbox_environment_is_read() {
        let s = run(
            &[],
            &[
                ("OPENSHELL_SANDBOX_NAMESPACE", "sandboxes"),
                ("OPENSHELL_SANDBOX_IMAGE", "reg:5000/sup:dev"),
                ("OPENSHELL_SANDBOX_IMAGE_PULL_POLICY", "Always"),
            ],
        )
        .unwrap();
        assert_eq!(s.sandbox.namespace, "sandboxes");
        assert_eq!(s.sandbox.pull_policy, "Always");
        assert_eq!(s.sandbox.supervisor_pull_policy, "Always");
        assert_eq!(
            s.sandbox.images().unwrap(),
            ("reg:5000/sup:dev", "reg:5000/sup:dev")
        );
    }

    #[test]
    fn supervisor_image_splits_from_sandbox_image() {
        let s = run(
            &[],
            &[
                ("OPENSHELL_SANDBOX_IMAGE", "base:1"),
                ("OPENSHELL_SUPERVISOR_IMAGE", "sup:2"),
            ],
        )
        .unwrap();
        assert_eq!(s.sandbox.images().unwrap(), ("sup:2", "base:1"));
    }

    #[test]
    fn missing_sandbox_image_names_the_variable() {
        let err = run(&[], &[]).unwrap().sandbox.images().unwrap_err();
        assert!(err.contains("set OPENSHELL_SANDBOX_IMAGE"), "{err}");
    }

    #[test]
    fn other_drivers_are_rejected() {
        let err = run(&[], &[("OPENSHELL_DRIVERS", "podman")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "OPENSHELL_DRIVERS=podman: unsupported compute driver \"podman\"; \
             this gateway only has `kubernetes`"
        );
        let err = run(&["--drivers", "kubernetes,vm"], &[]).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("--drivers=kubernetes,vm: "),
            "{err:#}"
        );
        assert!(run(&["--drivers", "kubernetes"], &[]).is_ok());
    }

    #[test]
    fn bad_values_say_where_they_came_from() {
        let err = run(&[], &[("OPENSHELL_HEALTH_PORT", "http")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "OPENSHELL_HEALTH_PORT=http: not a port number (0-65535): invalid digit found in string"
        );
        let err = run(&[], &[("OPENSHELL_SANDBOX_IMAGE_PULL_POLICY", "always")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "OPENSHELL_SANDBOX_IMAGE_PULL_POLICY=always: not an imagePullPolicy; \
             use one of Always, IfNotPresent, Never"
        );
        let err = run(&["--port", "8081"], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "API and health ports are both 8081; give --health-port another port"
        );
        assert!(run(&["--port", "0", "--health-port", "0"], &[]).is_ok());
    }

    #[test]
    fn unknown_and_incomplete_flags_are_errors() {
        let err = run(&["--nope"], &[]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unexpected argument \"--nope\"; see --help"
        );
        let err = run(&["--port"], &[]).unwrap_err();
        assert_eq!(err.to_string(), "--port needs a value; see --help");
    }

    #[test]
    fn help_and_version_win() {
        let e = env(&[]);
        let parsed = parse(["--port", "1", "-h"].map(String::from), &e).unwrap();
        assert_eq!(parsed, Command::Help);
        let parsed = parse(["--version"].map(String::from), &e).unwrap();
        assert_eq!(parsed, Command::Version);
    }
}
