// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The checks, each a small function of the environment and the [`System`] probes.

use std::io;
use std::path::{Path, PathBuf};

use super::{Check, CheckStatus, Report, System, Tool};
use crate::engine::{ResolveError, Resolved, shell_quote};
use crate::env::{Env, Os};
use crate::provider::{self, Provider, Registry, checks::ExecOutput};
use crate::settings::{Problem, Settings};

/// A tool the loop runs, and how to ask it for its version.
pub struct ToolSpec {
    pub name: &'static str,
    pub version_args: &'static [&'static str],
    /// Whether the loop cannot run without it (missing → `fail`, else `warn`).
    pub required: bool,
}

/// k3d, for the k3d provider (kind and k3s have their own checks in `provider::checks`).
pub const K3D: ToolSpec = ToolSpec {
    name: "k3d",
    version_args: &["version"],
    required: true,
};

/// kubectl, skaffold and helm are pinned in `mise.toml`; cargo builds the workload on the host
/// but the cluster can come up without it.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "kubectl",
        version_args: &["version", "--client"],
        required: true,
    },
    ToolSpec {
        name: "skaffold",
        version_args: &["version"],
        required: true,
    },
    ToolSpec {
        name: "helm",
        version_args: &["version", "--short"],
        required: true,
    },
    ToolSpec {
        name: "cargo",
        version_args: &["--version"],
        required: false,
    },
];

const GIB: u64 = 1 << 30;
/// A k3s node image, the registry and a few workload images take a few GiB.
const DISK_WARN: u64 = 5 * GIB;
const DISK_FAIL: u64 = GIB;

/// The controllers a rootless engine needs delegated to run k3s (k3d's Podman guide).
const DELEGATED: [&str; 5] = ["cpu", "cpuset", "io", "memory", "pids"];

/// Run every check: the engine, the tools (the provider's own: k3d, kind or k3s), the settings,
/// the host ports the provider publishes, the kubeconfig, cgroup delegation, disk, and the
/// provider's wiring of the registry (kind: reachable from every node and named in their
/// containerd hosts files; k3s: its kubeconfig readable, registries.yaml mirroring the
/// registry, the registry answering on the host's loopback).
pub fn report(env: &Env, sys: &dyn System) -> Report {
    let engine = sys.engine(env);
    let (settings, problems) = Settings::lenient(env, None);
    let provider = settings.provider();
    let mut checks = vec![engine_check(&engine)];
    match provider {
        Provider::K3d => checks.push(tool_check(&K3D, sys.tool(env, K3D.name, K3D.version_args))),
        Provider::Kind => checks.push(provider::checks::kind_tool(sys.tool(
            env,
            "kind",
            &["version"],
        ))),
        Provider::K3s => checks.push(provider::checks::k3s_tool(sys.tool(
            env,
            "k3s",
            &["--version"],
        ))),
    }
    let tools: Vec<(&ToolSpec, Tool)> = TOOLS
        .iter()
        .map(|spec| (spec, sys.tool(env, spec.name, spec.version_args)))
        .collect();
    checks.extend(
        tools
            .iter()
            .map(|(spec, tool)| tool_check(spec, tool.clone())),
    );
    let version = |name: &str| {
        tools.iter().find_map(|(spec, tool)| match tool {
            Tool::Found {
                version: Ok(line), ..
            } if spec.name == name => Some(line.as_str()),
            _ => None,
        })
    };
    checks.push(super::versions::check(
        version("kubectl"),
        version("helm"),
        version("skaffold"),
    ));
    checks.push(settings_check(&problems));
    let address = settings.get("K8S_DEV_BIND_ADDRESS");
    let mut ports = vec![
        ("api-port", "K8S_DEV_API_PORT", "cluster's API server"),
        ("registry-port", "K8S_DEV_REGISTRY_PORT", "registry"),
        ("lb-port", "K8S_DEV_LB_PORT", "cluster's load balancer"),
    ];
    // The attached k3s publishes no port of the kit's but the registry's.
    if provider == Provider::K3s {
        ports.retain(|(name, _, _)| *name == "registry-port");
    }
    for (name, var, holder) in ports {
        let port = Port {
            name,
            var,
            number: settings.port(var),
            problem: problems.iter().find(|p| p.setting == var),
            given: env.var(var),
            holder,
        };
        checks.push(port_check(&port, address, sys));
    }
    checks.push(kubeconfig_check(&settings, sys));
    checks.push(kube_dir_check(env, sys));
    checks.push(cgroup_check(env, provider, &engine, sys));
    checks.push(disk_check(env, sys));
    match provider {
        Provider::K3d => {}
        Provider::Kind => checks.extend(kind_checks(&settings, &engine, sys)),
        Provider::K3s => checks.extend(k3s_checks(env, &settings, sys)),
    }
    Report::new(checks)
}

/// Every running node of the kind cluster reaches the registry by its name on kind's network
/// and holds the hosts files that send pulls of both names there.
fn kind_checks(
    s: &Settings,
    engine: &Result<Resolved, ResolveError>,
    sys: &dyn System,
) -> Vec<Check> {
    let registry = Registry::of(s);
    let url = format!("http://{}:5000/v2/", registry.name);
    let skipped = |why: String| {
        ["registry-from-nodes", "registry-hosts"]
            .map(|name| Check::new(name, CheckStatus::Skip, why.clone(), None))
            .to_vec()
    };
    let Ok(engine) = engine else {
        return skipped("no engine to reach the nodes through".into());
    };
    let files = match provider::kind::hosts_files(&registry) {
        Ok(files) => files,
        Err(err) => return skipped(format!("{err:#}")),
    };
    let nodes = match sys.kind_nodes(engine, s.get("K8S_DEV_CLUSTER")) {
        Ok(nodes) if nodes.is_empty() => {
            return skipped(format!(
                "no running node of kind cluster {}; mise run k8s:dev:up starts it",
                s.get("K8S_DEV_CLUSTER")
            ));
        }
        Ok(nodes) => nodes,
        Err(err) => return skipped(format!("listing the kind nodes: {err}")),
    };
    let probe = provider::checks::registry_probe(&url);
    let probed: Vec<(String, Result<ExecOutput, String>)> = nodes
        .iter()
        .map(|node| (node.clone(), sys.exec(engine, node, &probe)))
        .collect();
    let found: Vec<(String, Vec<Option<String>>)> = nodes
        .iter()
        .map(|node| {
            let contents = files
                .iter()
                .map(|f| {
                    let cat = ["cat".to_string(), f.path()];
                    match sys.exec(engine, node, &cat) {
                        Ok(out) if out.exit_code == 0 => Some(out.output),
                        _ => None,
                    }
                })
                .collect();
            (node.clone(), contents)
        })
        .collect();
    vec![
        provider::checks::registry_from_nodes(&url, &probed),
        provider::checks::kind_hosts_files(&files, &found),
    ]
}

/// The attached k3s: its kubeconfig as the kit would merge it, registries.yaml's mirrors, and
/// the registry answering on the host's loopback, where k3s's containerd pulls from.
fn k3s_checks(env: &Env, s: &Settings, sys: &dyn System) -> Vec<Check> {
    let path = Path::new(s.get("K8S_DEV_K3S_KUBECONFIG"));
    let read = sys
        .read_file(path)
        .map_err(|err| provider::k3s::read_error(path, &err));
    let layout = provider::k3s::Layout::of(env);
    let registry = Registry::of(s);
    let registries = match sys.read_file(&layout.registries()) {
        Ok(text) => provider::checks::k3s_registries(&provider::k3s::plan_registries(
            Some(&text),
            &registry,
        )),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            provider::checks::k3s_registries(&provider::k3s::plan_registries(None, &registry))
        }
        Err(err) => Check::new(
            "k3s-registries",
            CheckStatus::Warn,
            format!("cannot read {}: {err}", layout.registries().display()),
            Some("run doctor as a user who may read it (root)".into()),
        ),
    };
    let url = format!("http://127.0.0.1:{}/v2/", registry.port);
    let reachable = match sys.registry_answers(&url) {
        Ok(()) => Check::new(
            "registry-from-nodes",
            CheckStatus::Ok,
            format!("{url} answers on the host, where k3s's containerd pulls from"),
            None,
        ),
        Err(err) => Check::new(
            "registry-from-nodes",
            CheckStatus::Fail,
            format!("{url} does not answer on the host ({err})"),
            Some("mise run k8s:dev:up (starts the registry on the host's network)".into()),
        ),
    };
    vec![
        provider::checks::k3s_kubeconfig(path, read),
        registries,
        reachable,
    ]
}

fn engine_check(engine: &Result<Resolved, ResolveError>) -> Check {
    match engine {
        Ok(r) => {
            let detail = format!(
                "{} {} at {} (from {})",
                r.engine, r.version, r.host, r.source
            );
            Check::new("engine", CheckStatus::Ok, detail, None)
        }
        Err(err) => Check::new(
            "engine",
            CheckStatus::Fail,
            err.problem.clone(),
            Some(err.fix.clone()),
        ),
    }
}

fn tool_check(spec: &ToolSpec, tool: Tool) -> Check {
    let short = if spec.required {
        CheckStatus::Fail
    } else {
        CheckStatus::Warn
    };
    let install = match spec.name {
        // A repository may pin k3d for some systems only (OpenShell keeps it off Linux), where
        // `mise install` then installs nothing; a global pin works in any tree.
        "k3d" => "install k3d: mise use -g aqua:k3d-io/k3d@5.9.0 (a repository's own pin may \
                  leave it out on this system), or see https://k3d.io/#installation"
            .to_string(),
        _ if spec.required => "mise install".to_string(),
        _ => "install Rust with rustup (https://rustup.rs)".to_string(),
    };
    match tool {
        Tool::Missing => Check::new(spec.name, short, "not found on PATH".into(), Some(install)),
        Tool::Found {
            path,
            version: Ok(version),
        } => Check::new(
            spec.name,
            CheckStatus::Ok,
            format!("{version} ({})", path.display()),
            None,
        ),
        Tool::Found {
            path,
            version: Err(err),
        } => Check::new(
            spec.name,
            short,
            format!(
                "{} {} failed: {err}",
                path.display(),
                spec.version_args.join(" ")
            ),
            Some(install),
        ),
    }
}

struct Port<'a> {
    name: &'a str,
    var: &'a str,
    /// The port to try: the setting, or its default when the setting is invalid.
    number: u16,
    /// Why the setting is invalid, when it is.
    problem: Option<&'a Problem>,
    given: Option<&'a str>,
    /// What of the kit's own holds it once the loop runs.
    holder: &'a str,
}

/// Every setting breaking its rule (or clashing with another), with its fix; the port checks
/// below also name their own.
fn settings_check(problems: &[Problem]) -> Check {
    if problems.is_empty() {
        return Check::new(
            "settings",
            CheckStatus::Ok,
            "every K8S_DEV_* setting is valid".into(),
            None,
        );
    }
    let names: Vec<&str> = problems.iter().map(|p| p.setting).collect();
    let lines: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    Check::new(
        "settings",
        CheckStatus::Fail,
        format!("invalid: {}", names.join(", ")),
        Some(lines.join(" | ")),
    )
}

/// A port in use is only a warning: the kit's own cluster or registry holds it once up.
fn port_check(port: &Port, address: &str, sys: &dyn System) -> Check {
    let (name, var, number) = (port.name, port.var, port.number);
    // The rule `up` applies (the settings table): doctor must not pass what up refuses.
    if let Some(problem) = port.problem {
        let given = port.given.unwrap_or("");
        return Check::new(
            name,
            CheckStatus::Fail,
            format!("{var}={given:?}: {}", problem.why),
            Some(format!(
                "set {var} to a port from 1024 to 65535 (default {number})"
            )),
        );
    }
    let at = format!("{address}:{number}");
    match sys.bind(address, number) {
        Ok(()) => Check::new(name, CheckStatus::Ok, format!("{at} is free ({var})"), None),
        Err(err) if err.kind() == io::ErrorKind::AddrInUse => Check::new(
            name,
            CheckStatus::Warn,
            format!(
                "{at} is in use; fine if it is this kit's own {}",
                port.holder
            ),
            Some(format!(
                "if another program holds it, set {var} to a free port"
            )),
        ),
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => Check::new(
            name,
            CheckStatus::Fail,
            format!("binding {at} is not permitted: {err}"),
            Some(format!("set {var} to a port above 1023")),
        ),
        Err(err) => Check::new(
            name,
            CheckStatus::Fail,
            format!("cannot bind {at}: {err}"),
            Some(
                "set K8S_DEV_BIND_ADDRESS to an address of this machine (default 127.0.0.1)".into(),
            ),
        ),
    }
}

/// The kubeconfig files the loop reads and writes, as kubectl does (K8S_DEV_DEFAULT_KUBECONFIG:
/// those of `KUBECONFIG`, else `~/.kube/config`). Each must be a regular file (or missing) and
/// private; `stat` only, so a FIFO there cannot hang the check.
fn kubeconfig_check(settings: &Settings, sys: &dyn System) -> Check {
    let Ok(files) = settings.kubeconfig_files() else {
        return Check::new(
            "kubeconfig",
            CheckStatus::Skip,
            "no KUBECONFIG and no home directory".into(),
            None,
        );
    };
    let modes: Vec<(&Path, Option<u32>)> = files
        .paths()
        .iter()
        .map(|path| (path.as_path(), sys.mode(path)))
        .collect();
    for (path, mode) in &modes {
        if let Some(mode) = mode
            && let Some(what) = not_regular(*mode)
        {
            // `up` refuses it: a merge must not replace /dev/null or block on a FIFO.
            return Check::new(
                "kubeconfig",
                CheckStatus::Fail,
                format!("{} is {what}, not a regular file", path.display()),
                Some(
                    "point KUBECONFIG at a regular file, or at a path that does not exist yet"
                        .into(),
                ),
            );
        }
    }
    // It holds client keys: anyone else who can read it is a cluster admin.
    let open: Vec<(&Path, u32)> = modes
        .iter()
        .filter_map(|(path, mode)| mode.filter(|m| m & 0o077 != 0).map(|m| (*path, m)))
        .collect();
    if !open.is_empty() {
        let details: Vec<String> = open
            .iter()
            .map(|(path, mode)| {
                format!(
                    "{} is open to group or others (mode {:04o}) and holds cluster credentials",
                    path.display(),
                    mode & 0o7777
                )
            })
            .collect();
        let quoted: Vec<String> = open
            .iter()
            .map(|(path, _)| shell_quote(&path.to_string_lossy()))
            .collect();
        return Check::new(
            "kubeconfig",
            CheckStatus::Fail,
            details.join("; "),
            Some(format!("chmod 600 {}", quoted.join(" "))),
        );
    }
    let exists: Vec<bool> = modes.iter().map(|(_, mode)| mode.is_some()).collect();
    let default = files.paths()[files.default_index(&exists)].display();
    if !exists.contains(&true) {
        return Check::new(
            "kubeconfig",
            CheckStatus::Skip,
            format!("{default} does not exist yet"),
            None,
        );
    }
    let listed: Vec<String> = modes
        .iter()
        .map(|(path, mode)| match mode {
            Some(mode) => format!("{} (mode {:04o})", path.display(), mode & 0o7777),
            None => format!("{} (missing)", path.display()),
        })
        .collect();
    let detail = if listed.len() == 1 {
        listed.join("")
    } else {
        format!("{}; new entries go to {default}", listed.join(", "))
    };
    Check::new("kubeconfig", CheckStatus::Ok, detail, None)
}

/// What a `st_mode` names when it is not a regular file. The `S_IF*` values are the same on
/// Linux and macOS (libc's differ only in type there).
fn not_regular(mode: u32) -> Option<&'static str> {
    match mode & 0o170000 {
        0o100000 => None,
        0o040000 => Some("a directory"),
        0o020000 => Some("a character device"),
        0o060000 => Some("a block device"),
        0o010000 => Some("a FIFO (named pipe)"),
        0o140000 => Some("a socket"),
        _ => Some("a special file"),
    }
}

fn kube_dir_check(env: &Env, sys: &dyn System) -> Check {
    let Some(dir) = env.home.as_ref().map(|home| home.join(".kube")) else {
        return Check::new(
            "kube-dir",
            CheckStatus::Skip,
            "no home directory".into(),
            None,
        );
    };
    match sys.mode(&dir) {
        None => Check::new(
            "kube-dir",
            CheckStatus::Skip,
            format!("{} does not exist", dir.display()),
            None,
        ),
        Some(mode) if mode & 0o077 != 0 => Check::new(
            "kube-dir",
            CheckStatus::Warn,
            format!("{} is mode {:04o}, not 0700", dir.display(), mode & 0o7777),
            Some(format!("chmod 700 {}", shell_quote(&dir.to_string_lossy()))),
        ),
        Some(mode) => Check::new(
            "kube-dir",
            CheckStatus::Ok,
            format!("{} (mode {:04o})", dir.display(), mode & 0o7777),
            None,
        ),
    }
}

/// Rootless k3s needs cgroup v2 with cpu, cpuset, io, memory and pids delegated to the user's
/// systemd instance (k3d's Podman guide; k3d-io/k3d#1082 "failed to find cpu cgroup (v2)"), and
/// so does kind (its rootless guide; kind refuses rootless on cgroup v1). The attached k3s runs
/// on the host, not in the engine: nothing to check.
fn cgroup_check(
    env: &Env,
    provider: Provider,
    engine: &Result<Resolved, ResolveError>,
    sys: &dyn System,
) -> Check {
    const NAME: &str = "cgroup-delegation";
    if provider == Provider::K3s {
        return Check::new(
            NAME,
            CheckStatus::Skip,
            "the attached k3s runs on the host, not in the engine".into(),
            None,
        );
    }
    let nodes = match provider {
        Provider::Kind => "kind",
        Provider::K3d | Provider::K3s => "k3s",
    };
    if env.os != Os::Linux {
        return Check::new(
            NAME,
            CheckStatus::Skip,
            "the engine runs in a VM on this OS".into(),
            None,
        );
    }
    let Ok(resolved) = engine else {
        return Check::new(NAME, CheckStatus::Skip, "no engine to check".into(), None);
    };
    let engine_name = resolved.engine;
    match sys.rootless(resolved) {
        Ok(false) => {
            return Check::new(
                NAME,
                CheckStatus::Skip,
                format!("{engine_name} runs rootful"),
                None,
            );
        }
        Err(err) => {
            return Check::new(
                NAME,
                CheckStatus::Warn,
                format!("cannot tell whether {engine_name} runs rootless: {err}"),
                None,
            );
        }
        Ok(true) => {}
    }
    let fix = "create /etc/systemd/system/user@.service.d/delegate.conf containing `[Service]` \
               and `Delegate=cpu cpuset io memory pids`, run `sudo systemctl daemon-reload`, \
               then log out and in again"
        .to_string();
    if sys
        .read(Path::new("/sys/fs/cgroup/cgroup.controllers"))
        .is_none()
    {
        return Check::new(
            NAME,
            CheckStatus::Fail,
            format!(
                "rootless {engine_name} on cgroup v1 (/sys/fs/cgroup/cgroup.controllers is \
                 missing); rootless {nodes} needs cgroup v2"
            ),
            Some(
                "boot with cgroup v2 (kernel argument systemd.unified_cgroup_hierarchy=1), then \
                 delegate controllers: "
                    .to_string()
                    + &fix,
            ),
        );
    }
    let uid = env.uid;
    let path = PathBuf::from(format!(
        "/sys/fs/cgroup/user.slice/user-{uid}.slice/user@{uid}.service/cgroup.controllers"
    ));
    let have = sys.read(&path).unwrap_or_default();
    let missing: Vec<&str> = DELEGATED
        .into_iter()
        .filter(|c| !have.split_whitespace().any(|h| h == *c))
        .collect();
    if missing.is_empty() {
        Check::new(
            NAME,
            CheckStatus::Ok,
            format!(
                "rootless {engine_name}; {} delegated to user@{uid}.service",
                DELEGATED.join(" ")
            ),
            None,
        )
    } else {
        Check::new(
            NAME,
            CheckStatus::Fail,
            format!(
                "rootless {engine_name}, but {} does not list {}",
                path.display(),
                missing.join(" ")
            ),
            Some(fix),
        )
    }
}

fn disk_check(env: &Env, sys: &dyn System) -> Check {
    let Some(home) = &env.home else {
        return Check::new("disk", CheckStatus::Skip, "no home directory".into(), None);
    };
    let free = match sys.free_bytes(home) {
        Ok(free) => free,
        Err(err) => {
            return Check::new(
                "disk",
                CheckStatus::Warn,
                format!("cannot read free space on {}: {err}", home.display()),
                None,
            );
        }
    };
    let detail = format!(
        "{:.1} GiB free on {}",
        free as f64 / GIB as f64,
        home.display()
    );
    let fix = Some(
        "free space: remove unused images and containers (`docker system prune` or `podman \
         system prune`)"
            .to_string(),
    );
    if free < DISK_FAIL {
        Check::new("disk", CheckStatus::Fail, format!("only {detail}"), fix)
    } else if free < DISK_WARN {
        Check::new(
            "disk",
            CheckStatus::Warn,
            format!("only {detail}; 5 GiB is comfortable"),
            fix,
        )
    } else {
        Check::new("disk", CheckStatus::Ok, detail, None)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::*;
    use crate::engine::Engine;
    use crate::provider::checks::ExecOutput;

    /// A host where everything is fine unless a test says otherwise.
    struct FakeSystem {
        engine: Result<Resolved, ResolveError>,
        rootless: Result<bool, String>,
        tools: HashMap<&'static str, Tool>,
        busy_ports: Vec<u16>,
        bind_error: Option<io::ErrorKind>,
        modes: HashMap<PathBuf, u32>,
        files: HashMap<PathBuf, String>,
        free: io::Result<u64>,
        kind_nodes: Result<Vec<String>, String>,
        /// What `exec` runs in a node: argv joined by spaces → output (exit 0); absent → exit 1.
        in_nodes: HashMap<String, String>,
        registry: Result<(), String>,
    }

    const USER_CONTROLLERS: &str =
        "/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service/cgroup.controllers";

    impl FakeSystem {
        fn healthy() -> FakeSystem {
            let tools = TOOLS
                .iter()
                .chain([&K3D])
                .map(|t| {
                    let version = match t.name {
                        "kubectl" => "Client Version: v1.32.5",
                        "helm" => "v3.21.4+g1234567",
                        "skaffold" => "v2.24.0",
                        _ => "v1.0.0",
                    };
                    let tool = Tool::Found {
                        path: PathBuf::from(format!("/bin/{}", t.name)),
                        version: Ok(format!("{} {version}", t.name)),
                    };
                    (t.name, tool)
                })
                .collect();
            FakeSystem {
                engine: Ok(Resolved {
                    engine: Engine::Podman,
                    host: "unix:///run/user/1000/podman/podman.sock".into(),
                    source: "run-user".into(),
                    version: "5.4.0".into(),
                }),
                rootless: Ok(false),
                tools,
                busy_ports: vec![],
                bind_error: None,
                modes: HashMap::from([
                    (PathBuf::from("/home/dev/.kube"), 0o40700),
                    (PathBuf::from("/home/dev/.kube/config"), 0o100600),
                ]),
                files: HashMap::from([
                    (
                        PathBuf::from("/sys/fs/cgroup/cgroup.controllers"),
                        "cpuset cpu io memory hugetlb pids rdma misc\n".into(),
                    ),
                    (
                        PathBuf::from(USER_CONTROLLERS),
                        "cpuset cpu io memory pids\n".into(),
                    ),
                ]),
                free: Ok(50 * GIB),
                kind_nodes: Ok(Vec::new()),
                in_nodes: HashMap::new(),
                registry: Ok(()),
            }
        }

        fn rootless(self) -> FakeSystem {
            FakeSystem {
                rootless: Ok(true),
                ..self
            }
        }
    }

    impl System for FakeSystem {
        fn engine(&self, _env: &Env) -> Result<Resolved, ResolveError> {
            self.engine.clone()
        }

        fn rootless(&self, _engine: &Resolved) -> Result<bool, String> {
            self.rootless.clone()
        }

        fn tool(&self, _env: &Env, name: &str, _args: &[&str]) -> Tool {
            self.tools.get(name).cloned().unwrap_or(Tool::Missing)
        }

        fn bind(&self, _address: &str, port: u16) -> io::Result<()> {
            if let Some(kind) = self.bind_error {
                return Err(io::Error::from(kind));
            }
            if self.busy_ports.contains(&port) {
                return Err(io::Error::from(io::ErrorKind::AddrInUse));
            }
            Ok(())
        }

        fn mode(&self, path: &Path) -> Option<u32> {
            self.modes.get(path).copied()
        }

        fn read(&self, path: &Path) -> Option<String> {
            self.files.get(path).cloned()
        }

        fn free_bytes(&self, _path: &Path) -> io::Result<u64> {
            match &self.free {
                Ok(n) => Ok(*n),
                Err(err) => Err(io::Error::from(err.kind())),
            }
        }

        fn read_file(&self, path: &Path) -> io::Result<String> {
            self.files
                .get(path)
                .cloned()
                .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
        }

        fn kind_nodes(&self, _engine: &Resolved, _cluster: &str) -> Result<Vec<String>, String> {
            self.kind_nodes.clone()
        }

        fn exec(
            &self,
            _engine: &Resolved,
            container: &str,
            argv: &[String],
        ) -> Result<ExecOutput, String> {
            let key = format!("{container} {}", argv.join(" "));
            Ok(match self.in_nodes.get(&key) {
                Some(output) => ExecOutput {
                    exit_code: 0,
                    output: output.clone(),
                },
                None => ExecOutput {
                    exit_code: 1,
                    output: "no such file".into(),
                },
            })
        }

        fn registry_answers(&self, _url: &str) -> Result<(), String> {
            self.registry.clone()
        }
    }

    fn env() -> Env {
        Env {
            home: Some(PathBuf::from("/home/dev")),
            ..Env::empty(Os::Linux)
        }
    }

    fn find<'a>(report: &'a Report, name: &str) -> &'a Check {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name}"))
    }

    #[test]
    fn healthy_host_passes_every_check_in_order() {
        let report = report(&env(), &FakeSystem::healthy());
        assert!(report.ok);
        let names: Vec<_> = report.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "engine",
                "k3d",
                "kubectl",
                "skaffold",
                "helm",
                "cargo",
                "versions",
                "settings",
                "api-port",
                "registry-port",
                "lb-port",
                "kubeconfig",
                "kube-dir",
                "cgroup-delegation",
                "disk"
            ]
        );
        let engine = find(&report, "engine");
        assert_eq!(
            engine.detail,
            "podman 5.4.0 at unix:///run/user/1000/podman/podman.sock (from run-user)"
        );
        assert_eq!(find(&report, "k3d").detail, "k3d v1.0.0 (/bin/k3d)");
        assert_eq!(find(&report, "cgroup-delegation").status, CheckStatus::Skip);
    }

    fn provider_env(provider: &str) -> Env {
        env().with(&[
            ("K8S_DEV_PROVIDER", provider),
            ("K8S_DEV_CLUSTER", "dev"),
            ("K8S_DEV_REGISTRY_NAME", "reg"),
        ])
    }

    /// The registry `provider_env` names.
    fn reg() -> Registry {
        Registry {
            name: "reg".into(),
            port: 5000,
            push: "localhost:5000".into(),
            pull: "reg:5000".into(),
        }
    }

    fn names(report: &Report) -> Vec<&str> {
        report.checks.iter().map(|c| c.name.as_str()).collect()
    }

    /// A kind cluster whose two nodes reach the registry and hold both hosts files.
    fn kind_host() -> FakeSystem {
        let mut sys = FakeSystem::healthy();
        sys.tools.remove("k3d");
        sys.tools.insert(
            "kind",
            Tool::Found {
                path: PathBuf::from("/bin/kind"),
                version: Ok("kind v0.33.0 go1.26.8 linux/amd64".into()),
            },
        );
        sys.kind_nodes = Ok(vec!["dev-control-plane".into(), "dev-worker".into()]);
        let files = provider::kind::hosts_files(&reg()).unwrap();
        for node in ["dev-control-plane", "dev-worker"] {
            sys.in_nodes.insert(
                format!("{node} curl -fsS -o /dev/null -m 5 http://reg:5000/v2/"),
                String::new(),
            );
            for f in &files {
                sys.in_nodes
                    .insert(format!("{node} cat {}", f.path()), f.content.clone());
            }
        }
        sys
    }

    #[test]
    fn kind_checks_its_binary_and_the_registry_from_every_node_not_k3d() {
        let report = report(&provider_env("kind"), &kind_host());
        assert!(report.ok, "{}", report.render());
        assert_eq!(
            names(&report),
            [
                "engine",
                "kind",
                "kubectl",
                "skaffold",
                "helm",
                "cargo",
                "versions",
                "settings",
                "api-port",
                "registry-port",
                "lb-port",
                "kubeconfig",
                "kube-dir",
                "cgroup-delegation",
                "disk",
                "registry-from-nodes",
                "registry-hosts"
            ]
        );
        assert_eq!(
            find(&report, "registry-from-nodes").detail,
            "http://reg:5000/v2/ answers from 2 nodes"
        );
        assert_eq!(
            find(&report, "registry-hosts").detail,
            "2 nodes send reg:5000 and localhost:5000 to the kit's registry"
        );
    }

    #[test]
    fn kind_without_its_binary_or_a_hosts_file_fails_with_the_fix() {
        let mut sys = kind_host();
        sys.tools.remove("kind");
        sys.in_nodes
            .retain(|k, _| !k.starts_with("dev-worker cat /etc/containerd/certs.d/reg:5000"));
        sys.in_nodes
            .remove("dev-worker curl -fsS -o /dev/null -m 5 http://reg:5000/v2/");
        let report = report(&provider_env("kind"), &sys);
        assert!(!report.ok);
        let kind = find(&report, "kind");
        assert_eq!(kind.status, CheckStatus::Fail);
        assert!(
            kind.fix
                .as_deref()
                .unwrap()
                .contains("go install sigs.k8s.io/kind@v0.33.0")
        );
        let hosts = find(&report, "registry-hosts");
        assert_eq!(hosts.status, CheckStatus::Fail);
        assert_eq!(
            hosts.detail,
            "dev-worker: /etc/containerd/certs.d/reg:5000/hosts.toml is missing"
        );
        let reach = find(&report, "registry-from-nodes");
        assert_eq!(reach.status, CheckStatus::Fail);
        assert!(
            reach.detail.contains("dev-worker: exit 1"),
            "{}",
            reach.detail
        );
    }

    #[test]
    fn kind_without_a_running_node_skips_the_node_checks() {
        let mut sys = kind_host();
        sys.kind_nodes = Ok(Vec::new());
        let report = report(&provider_env("kind"), &sys);
        assert!(report.ok);
        let reach = find(&report, "registry-from-nodes");
        assert_eq!(reach.status, CheckStatus::Skip);
        assert!(
            reach.detail.contains("mise run k8s:dev:up starts it"),
            "{}",
            reach.detail
        );
    }

    const K3S_YAML: &str = "clusters: [{name: default, cluster: {server: https://127.0.0.1:6443}}]\n\
                            users: [{name: default, user: {token: t}}]\n\
                            contexts: [{name: default, context: {cluster: default, user: default}}]\n";

    fn k3s_host() -> FakeSystem {
        let mut sys = FakeSystem::healthy();
        sys.tools.remove("k3d");
        sys.tools.insert(
            "k3s",
            Tool::Found {
                path: PathBuf::from("/usr/local/bin/k3s"),
                version: Ok("k3s version v1.32.5+k3s1 (8e8f2a47)".into()),
            },
        );
        sys.files
            .insert(PathBuf::from("/etc/rancher/k3s/k3s.yaml"), K3S_YAML.into());
        let provider::k3s::RegistriesPlan::Write { content, .. } =
            provider::k3s::plan_registries(None, &reg()).unwrap()
        else {
            panic!("a write");
        };
        sys.files
            .insert(PathBuf::from("/etc/rancher/k3s/registries.yaml"), content);
        sys
    }

    #[test]
    fn k3s_checks_its_binary_kubeconfig_mirrors_and_the_registry_on_the_host() {
        let report = report(&provider_env("k3s"), &k3s_host());
        assert!(report.ok, "{}", report.render());
        assert_eq!(
            names(&report),
            [
                "engine",
                "k3s",
                "kubectl",
                "skaffold",
                "helm",
                "cargo",
                "versions",
                "settings",
                "registry-port",
                "kubeconfig",
                "kube-dir",
                "cgroup-delegation",
                "disk",
                "k3s-kubeconfig",
                "k3s-registries",
                "registry-from-nodes"
            ]
        );
        assert_eq!(
            find(&report, "cgroup-delegation").detail,
            "the attached k3s runs on the host, not in the engine"
        );
    }

    #[test]
    fn k3s_without_its_kubeconfig_mirrors_or_registry_says_how_to_fix_each() {
        let mut sys = k3s_host();
        sys.files.clear();
        sys.registry = Err("connection refused".into());
        let report = report(&provider_env("k3s"), &sys);
        assert!(!report.ok);
        let kubeconfig = find(&report, "k3s-kubeconfig");
        assert_eq!(kubeconfig.status, CheckStatus::Fail);
        assert!(
            kubeconfig.fix.as_deref().unwrap().starts_with("install it"),
            "{kubeconfig:?}"
        );
        let mirrors = find(&report, "k3s-registries");
        assert_eq!(mirrors.status, CheckStatus::Warn);
        assert!(
            mirrors
                .fix
                .as_deref()
                .unwrap()
                .starts_with("mise run k8s:dev:up")
        );
        let reach = find(&report, "registry-from-nodes");
        assert_eq!(reach.status, CheckStatus::Fail);
        assert_eq!(
            reach.detail,
            "http://127.0.0.1:5000/v2/ does not answer on the host (connection refused)"
        );
    }

    #[test]
    fn no_engine_fails_with_the_resolvers_fix() {
        let sys = FakeSystem {
            engine: Err(ResolveError {
                problem: "no container engine answered".into(),
                fix: "start one".into(),
            }),
            ..FakeSystem::healthy()
        };
        let report = report(&env(), &sys);
        assert!(!report.ok);
        let engine = find(&report, "engine");
        assert_eq!(engine.status, CheckStatus::Fail);
        assert_eq!(engine.detail, "no container engine answered");
        assert_eq!(engine.fix.as_deref(), Some("start one"));
        assert_eq!(
            find(&report, "cgroup-delegation").detail,
            "no engine to check"
        );
    }

    #[test]
    fn missing_required_tool_fails_with_mise_install() {
        let mut sys = FakeSystem::healthy();
        sys.tools.remove("helm");
        let report = report(&env(), &sys);
        assert!(!report.ok);
        let helm = find(&report, "helm");
        assert_eq!(
            (helm.status, helm.detail.as_str()),
            (CheckStatus::Fail, "not found on PATH")
        );
        assert_eq!(helm.fix.as_deref(), Some("mise install"));
    }

    #[test]
    fn missing_k3d_names_an_install_that_works_where_the_repository_pins_it_elsewhere() {
        let mut sys = FakeSystem::healthy();
        sys.tools.remove("k3d");
        let k3d = find(&report(&env(), &sys), "k3d").clone();
        assert_eq!(k3d.status, CheckStatus::Fail);
        assert!(
            k3d.fix
                .as_deref()
                .is_some_and(|f| f.starts_with("install k3d: mise use -g aqua:k3d-io/k3d@5.9.0")),
            "{k3d:?}"
        );
    }

    #[test]
    fn the_adopters_tool_versions_are_judged() {
        let mut sys = FakeSystem::healthy();
        let found = |line: &str| Tool::Found {
            path: PathBuf::from("/repo/.mise/bin/x"),
            version: Ok(line.to_string()),
        };
        sys.tools.insert("helm", found("v4.2.0+g2f5a4f1"));
        sys.tools.insert("skaffold", found("v2.16.0"));
        let first = report(&env(), &sys);
        assert!(!first.ok);
        let versions = find(&first, "versions");
        assert_eq!(versions.status, CheckStatus::Fail);
        assert!(versions.detail.contains("helm 4.2.0"), "{versions:?}");
        sys.tools.insert("skaffold", found("v2.20.0"));
        assert_eq!(
            find(&report(&env(), &sys), "versions").status,
            CheckStatus::Ok
        );
    }

    #[test]
    fn missing_cargo_is_only_a_warning() {
        let mut sys = FakeSystem::healthy();
        sys.tools.remove("cargo");
        let report = report(&env(), &sys);
        assert!(report.ok);
        assert_eq!(find(&report, "cargo").status, CheckStatus::Warn);
    }

    #[test]
    fn tool_whose_version_command_fails_is_reported() {
        let mut sys = FakeSystem::healthy();
        sys.tools.insert(
            "helm",
            Tool::Found {
                path: "/bin/helm".into(),
                version: Err("exit status 1: boom".into()),
            },
        );
        let helm = report(&env(), &sys).checks[4].clone();
        assert_eq!(helm.status, CheckStatus::Fail);
        assert_eq!(
            helm.detail,
            "/bin/helm version --short failed: exit status 1: boom"
        );
    }

    #[test]
    fn port_in_use_warns_and_names_the_variable() {
        let sys = FakeSystem {
            busy_ports: vec![5000],
            ..FakeSystem::healthy()
        };
        let report = report(&env(), &sys);
        assert!(report.ok);
        let registry = find(&report, "registry-port");
        assert_eq!(registry.status, CheckStatus::Warn);
        assert_eq!(
            registry.detail,
            "127.0.0.1:5000 is in use; fine if it is this kit's own registry"
        );
        assert_eq!(
            registry.fix.as_deref(),
            Some("if another program holds it, set K8S_DEV_REGISTRY_PORT to a free port")
        );
        assert_eq!(
            find(&report, "api-port").detail,
            "127.0.0.1:6550 is free (K8S_DEV_API_PORT)"
        );
    }

    #[test]
    fn ports_and_bind_address_come_from_env() {
        let env = env().with(&[
            ("K8S_DEV_BIND_ADDRESS", "0.0.0.0"),
            ("K8S_DEV_API_PORT", "7443"),
            ("K8S_DEV_LB_PORT", "9090"),
        ]);
        let sys = FakeSystem {
            busy_ports: vec![7443],
            ..FakeSystem::healthy()
        };
        let report = report(&env, &sys);
        assert_eq!(find(&report, "api-port").status, CheckStatus::Warn);
        assert!(
            find(&report, "api-port")
                .detail
                .starts_with("0.0.0.0:7443 is in use")
        );
        assert_eq!(
            find(&report, "lb-port").detail,
            "0.0.0.0:9090 is free (K8S_DEV_LB_PORT)"
        );
    }

    #[test]
    fn invalid_settings_fail_with_their_fixes() {
        let env = env().with(&[("K8S_DEV_AGENTS", "two")]);
        let report = report(&env, &FakeSystem::healthy());
        assert!(!report.ok);
        let settings = find(&report, "settings");
        assert_eq!(settings.status, CheckStatus::Fail);
        assert_eq!(settings.detail, "invalid: K8S_DEV_AGENTS");
        assert_eq!(
            settings.fix.as_deref(),
            Some(
                "K8S_DEV_AGENTS: 'two' is not a whole number; set K8S_DEV_AGENTS to a whole number from 0 to 9"
            )
        );
    }

    #[test]
    fn bad_port_value_fails_naming_the_variable() {
        let env = env().with(&[("K8S_DEV_LB_PORT", "80a")]);
        let lb = find(&report(&env, &FakeSystem::healthy()), "lb-port").clone();
        assert_eq!(lb.status, CheckStatus::Fail);
        assert_eq!(
            lb.detail,
            r#"K8S_DEV_LB_PORT="80a": port '80a' is not a number"#
        );
    }

    #[test]
    fn unbindable_address_fails_naming_bind_address() {
        let sys = FakeSystem {
            bind_error: Some(io::ErrorKind::AddrNotAvailable),
            ..FakeSystem::healthy()
        };
        let api = find(&report(&env(), &sys), "api-port").clone();
        assert_eq!(api.status, CheckStatus::Fail);
        assert!(api.fix.unwrap().contains("K8S_DEV_BIND_ADDRESS"));
    }

    #[test]
    fn group_readable_kubeconfig_fails_with_chmod() {
        let mut sys = FakeSystem::healthy();
        sys.modes.insert("/home/dev/.kube/config".into(), 0o100644);
        let report = report(&env(), &sys);
        assert!(!report.ok);
        let kc = find(&report, "kubeconfig");
        assert_eq!(kc.status, CheckStatus::Fail);
        assert_eq!(
            kc.detail,
            "/home/dev/.kube/config is open to group or others (mode 0644) and holds cluster credentials"
        );
        assert_eq!(kc.fix.as_deref(), Some("chmod 600 /home/dev/.kube/config"));
    }

    #[test]
    fn every_kubeconfig_entry_is_checked() {
        let env = Env {
            kubeconfig: Some(":/work/my repo/kubeconfig:/home/dev/.kube/config".into()),
            ..env()
        };
        let mut sys = FakeSystem::healthy();
        sys.modes
            .insert("/work/my repo/kubeconfig".into(), 0o100640);
        let kc = find(&report(&env, &sys), "kubeconfig").clone();
        assert_eq!(
            kc.fix.as_deref(),
            Some("chmod 600 '/work/my repo/kubeconfig'")
        );
    }

    #[test]
    fn a_kubeconfig_that_is_not_a_regular_file_fails() {
        for (mode, what) in [
            (0o020666, "a character device"),
            (0o010600, "a FIFO (named pipe)"),
            (0o040700, "a directory"),
        ] {
            let mut sys = FakeSystem::healthy();
            sys.modes.insert("/home/dev/.kube/config".into(), mode);
            let kc = find(&report(&env(), &sys), "kubeconfig").clone();
            assert_eq!(kc.status, CheckStatus::Fail, "{what}");
            assert_eq!(
                kc.detail,
                format!("/home/dev/.kube/config is {what}, not a regular file")
            );
            assert_eq!(
                kc.fix.as_deref(),
                Some("point KUBECONFIG at a regular file, or at a path that does not exist yet")
            );
        }
    }

    #[test]
    fn several_kubeconfig_files_are_listed_with_where_new_entries_go() {
        let env = Env {
            kubeconfig: Some("/work/kubeconfig:/home/dev/.kube/config".into()),
            ..env()
        };
        let kc = find(&report(&env, &FakeSystem::healthy()), "kubeconfig").clone();
        assert_eq!(kc.status, CheckStatus::Ok);
        assert_eq!(
            kc.detail,
            "/work/kubeconfig (missing), /home/dev/.kube/config (mode 0600); new entries go to /home/dev/.kube/config"
        );
    }

    #[test]
    fn missing_kubeconfig_is_skipped() {
        let mut sys = FakeSystem::healthy();
        sys.modes.clear();
        let report = report(&env(), &sys);
        assert_eq!(find(&report, "kubeconfig").status, CheckStatus::Skip);
        assert_eq!(find(&report, "kube-dir").status, CheckStatus::Skip);
    }

    #[test]
    fn open_kube_dir_warns_with_chmod_700() {
        let mut sys = FakeSystem::healthy();
        sys.modes.insert("/home/dev/.kube".into(), 0o40755);
        let report = report(&env(), &sys);
        assert!(report.ok);
        let dir = find(&report, "kube-dir");
        assert_eq!(dir.status, CheckStatus::Warn);
        assert_eq!(dir.detail, "/home/dev/.kube is mode 0755, not 0700");
        assert_eq!(dir.fix.as_deref(), Some("chmod 700 /home/dev/.kube"));
    }

    #[test]
    fn rootless_engine_with_delegation_passes() {
        let c = find(
            &report(&env(), &FakeSystem::healthy().rootless()),
            "cgroup-delegation",
        )
        .clone();
        assert_eq!(c.status, CheckStatus::Ok);
        assert_eq!(
            c.detail,
            "rootless podman; cpu cpuset io memory pids delegated to user@1000.service"
        );
    }

    #[test]
    fn rootless_engine_without_delegation_fails_with_delegate_fix() {
        let mut sys = FakeSystem::healthy().rootless();
        sys.files
            .insert(USER_CONTROLLERS.into(), "memory pids\n".into());
        let report = report(&env(), &sys);
        assert!(!report.ok);
        let c = find(&report, "cgroup-delegation");
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.detail.ends_with("does not list cpu cpuset io"),
            "{}",
            c.detail
        );
        let fix = c.fix.as_deref().unwrap();
        assert!(fix.contains("Delegate=cpu cpuset io memory pids"), "{fix}");
        assert!(
            fix.contains("/etc/systemd/system/user@.service.d/delegate.conf"),
            "{fix}"
        );
    }

    #[test]
    fn rootless_engine_on_cgroup_v1_fails() {
        let mut sys = FakeSystem::healthy().rootless();
        sys.files.clear();
        let c = find(&report(&env(), &sys), "cgroup-delegation").clone();
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(c.detail.contains("cgroup v1"), "{}", c.detail);
    }

    #[test]
    fn rootless_unknown_is_a_warning() {
        let sys = FakeSystem {
            rootless: Err("GET /info: timed out".into()),
            ..FakeSystem::healthy()
        };
        let c = find(&report(&env(), &sys), "cgroup-delegation").clone();
        assert_eq!(c.status, CheckStatus::Warn);
        assert_eq!(
            c.detail,
            "cannot tell whether podman runs rootless: GET /info: timed out"
        );
    }

    #[test]
    fn cgroup_check_skipped_off_linux() {
        let env = Env {
            os: Os::MacOs,
            ..env()
        };
        let c = find(
            &report(&env, &FakeSystem::healthy().rootless()),
            "cgroup-delegation",
        )
        .clone();
        assert_eq!(c.status, CheckStatus::Skip);
    }

    #[test]
    fn low_disk_warns_then_fails() {
        let sys = FakeSystem {
            free: Ok(3 * GIB),
            ..FakeSystem::healthy()
        };
        let report3 = report(&env(), &sys);
        assert_eq!(find(&report3, "disk").status, CheckStatus::Warn);
        assert_eq!(
            find(&report3, "disk").detail,
            "only 3.0 GiB free on /home/dev; 5 GiB is comfortable"
        );
        let sys = FakeSystem {
            free: Ok(GIB / 2),
            ..FakeSystem::healthy()
        };
        let report_half = report(&env(), &sys);
        assert_eq!(find(&report_half, "disk").status, CheckStatus::Fail);
        assert!(!report_half.ok);
    }
}
