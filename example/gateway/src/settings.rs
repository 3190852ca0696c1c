// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Command line, environment and config file, read once at start-up into [`Settings`].
//!
//! The interface is the subset of OpenShell's `openshell-gateway` (crates/openshell-server,
//! `cli.rs` and `config_file.rs`) that the dev loop uses, with the same names and precedence:
//! flag > `OPENSHELL_*` variable > `--config` TOML > built-in default. So the kit's tasks, its
//! chart and a runner like OpenShell's `tasks/scripts/gateway.sh` start either binary the same
//! way, and fail the same way: TLS is on unless `--disable-tls`, and then needs a certificate.
//! Where the stand-in differs from OpenShell it says so in an error rather than guessing.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

pub const USAGE: &str = "\
Usage: openshell-gateway [OPTIONS]

Stand-in for OpenShell's gateway: an HTTP API that runs sandbox pods through a Kubernetes
driver. Flags, variables and config keys are the subset of OpenShell's that the dev loop uses.
Precedence: flag > environment > --config file > default.

Options:
  --config PATH          gateway TOML ([openshell.gateway], [openshell.drivers.kubernetes])
                         [env OPENSHELL_GATEWAY_CONFIG]
  --bind-address IP      listen address of every listener [env OPENSHELL_BIND_ADDRESS,
                         default 127.0.0.1]
  --port PORT            API port [env OPENSHELL_SERVER_PORT, default 17670]
  --health-port PORT     dedicated /healthz, /readyz listener; 0 disables it (the API port
                         serves them too) [env OPENSHELL_HEALTH_PORT, default 0]
  --log-level LEVEL      trace, debug, info, warn or error [env OPENSHELL_LOG_LEVEL, default info]
  --drivers LIST         compute drivers; only `kubernetes` exists here (alias --driver)
                         [env OPENSHELL_DRIVERS, default kubernetes]
  --disable-tls          plaintext HTTP [env OPENSHELL_DISABLE_TLS]; the stand-in serves
                         nothing else, and without it stops: --tls-cert is required
  --tls-cert PATH        [env OPENSHELL_TLS_CERT]
  --tls-key PATH         [env OPENSHELL_TLS_KEY]
  --db-url URL           accepted for OpenShell's interface; the stand-in keeps no state
                         [env OPENSHELL_DB_URL]
  -h, --help             print this help
  -V, --version          print name, version, git sha and build time

Sandbox settings come from the config file, as in OpenShell:
  [openshell.gateway]  sandbox_namespace, default_image, supervisor_image (inherited by the
                       driver table below)
  [openshell.drivers.kubernetes]  namespace (default openshell), default_image (default: the
                       supervisor image), supervisor_image (required to create sandboxes),
                       image_pull_policy, supervisor_image_pull_policy (empty: Kubernetes'
                       default), image_pull_secrets (names of Secrets in the sandbox
                       namespace), supervisor_sideload_method (init-container only)
Out of the cluster the Kubernetes client reads KUBECONFIG; in a pod, the service account.
";

/// OpenShell's `DEFAULT_SERVER_PORT`.
pub const DEFAULT_PORT: u16 = 17670;
pub const DEFAULT_NAMESPACE: &str = "openshell";
const LOG_LEVELS: [&str; 5] = ["trace", "debug", "info", "warn", "error"];
const PULL_POLICIES: [&str; 3] = ["Always", "IfNotPresent", "Never"];

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Boxed: the settings dwarf the other variants.
    Run(Box<Settings>),
    Help,
    Version,
}

/// A bad command line (exit 2, like clap) as opposed to a bad setting (exit 1).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub bind: IpAddr,
    pub port: u16,
    /// The dedicated health listener, if any.
    pub health: Option<SocketAddr>,
    pub log_level: String,
    /// Only its scheme is ever shown: a PostgreSQL URL carries a password.
    pub db_url: Option<String>,
    pub config: Option<PathBuf>,
    pub allow_unauthenticated_users: bool,
    pub sandbox: SandboxSettings,
}

impl Settings {
    /// `sqlite`, `postgres`, … of `--db-url`, for the start-up line.
    pub fn db_scheme(&self) -> Option<&str> {
        self.db_url.as_deref().and_then(|u| u.split(':').next())
    }
}

/// How sandbox pods are built; see `pod::sandbox_pod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSettings {
    pub namespace: String,
    /// Image of the sandbox's main container; `None` means the supervisor image.
    pub image: Option<String>,
    /// Image the init container copies the supervisor from.
    pub supervisor_image: Option<String>,
    /// `None`: the field is left out and Kubernetes applies its default.
    pub pull_policy: Option<String>,
    pub supervisor_pull_policy: Option<String>,
    /// `imagePullSecrets` of sandbox pods, as OpenShell's `image_pull_secrets`: Secrets in the
    /// sandbox namespace, for a registry that wants a login.
    pub pull_secrets: Vec<String>,
}

impl SandboxSettings {
    /// The (supervisor, sandbox) images, or why sandboxes cannot be created.
    pub fn images(&self) -> Result<(&str, &str), String> {
        let Some(supervisor) = self.supervisor_image.as_deref() else {
            return Err("no supervisor image configured; set supervisor_image in \
                 [openshell.drivers.kubernetes] of the --config file (the chart: \
                 supervisor.image.*; `mise run gateway`: OPENSHELL_SUPERVISOR_IMAGE)"
                .into());
        };
        Ok((supervisor, self.image.as_deref().unwrap_or(supervisor)))
    }
}

// --- the config file: the subset of OpenShell's RFC 0003 schema the stand-in reads ----------

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    openshell: Root,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Root {
    version: Option<u32>,
    #[serde(default)]
    gateway: GatewaySection,
    #[serde(default)]
    drivers: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewaySection {
    bind_address: Option<SocketAddr>,
    health_bind_address: Option<SocketAddr>,
    log_level: Option<String>,
    compute_drivers: Option<Vec<String>>,
    sandbox_namespace: Option<String>,
    default_image: Option<String>,
    supervisor_image: Option<String>,
    disable_tls: Option<bool>,
    tls: Option<TlsSection>,
    auth: Option<AuthSection>,
    /// Rejected with OpenShell's message: the URL is a secret.
    database_url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsSection {
    cert_path: PathBuf,
    key_path: PathBuf,
    #[allow(dead_code)] // accepted for OpenShell's schema; the stand-in never serves TLS
    client_ca_path: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthSection {
    #[serde(default)]
    allow_unauthenticated_users: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KubernetesDriver {
    namespace: Option<String>,
    default_image: Option<String>,
    supervisor_image: Option<String>,
    image_pull_policy: Option<String>,
    supervisor_image_pull_policy: Option<String>,
    #[serde(default)]
    image_pull_secrets: Vec<String>,
    supervisor_sideload_method: Option<String>,
    /// Where sandboxes call back; the stand-in's sandboxes do not, so it is only accepted.
    #[allow(dead_code)]
    grpc_endpoint: Option<String>,
}

const SCHEMA_VERSION: u32 = 1;

fn parse_file(text: &str, path: &Path) -> Result<ConfigFile> {
    if text.trim().is_empty() {
        return Ok(ConfigFile::default());
    }
    let file: ConfigFile = toml::from_str(text)
        .with_context(|| format!("parsing gateway config file {}", path.display()))?;
    if let Some(version) = file.openshell.version.filter(|v| *v > SCHEMA_VERSION) {
        bail!(
            "unsupported gateway config version {version}; this build only supports version \
             {SCHEMA_VERSION}"
        );
    }
    if file.openshell.gateway.database_url.is_some() {
        bail!(
            "`database_url` is not allowed in the gateway config file — set the OPENSHELL_DB_URL \
             env var or pass --db-url on the command line"
        );
    }
    if let Some(other) = file.openshell.drivers.keys().find(|d| *d != "kubernetes") {
        bail!(
            "[openshell.drivers.{other}] in {}: this gateway only has the `kubernetes` driver",
            path.display()
        );
    }
    Ok(file)
}

/// `[openshell.drivers.kubernetes]` with the gateway-wide keys it inherits from
/// `[openshell.gateway]` (OpenShell's `driver_table`): a key set in the driver table wins.
fn kubernetes_driver(file: &ConfigFile) -> Result<KubernetesDriver> {
    let mut driver: KubernetesDriver = match file.openshell.drivers.get("kubernetes") {
        Some(table) => table
            .clone()
            .try_into()
            .context("reading [openshell.drivers.kubernetes]")?,
        None => KubernetesDriver::default(),
    };
    let gateway = &file.openshell.gateway;
    driver.namespace = driver.namespace.or(gateway.sandbox_namespace.clone());
    driver.default_image = driver.default_image.or(gateway.default_image.clone());
    driver.supervisor_image = driver.supervisor_image.or(gateway.supervisor_image.clone());
    Ok(driver)
}

// --- the command line ---------------------------------------------------------------------------

/// Parse `args` (without the program name) over `env`, reading `--config` through
/// `read_file`. Pure apart from `read_file`, so tests pass all three in.
pub fn parse<I>(
    args: I,
    env: &BTreeMap<String, String>,
    read_file: impl Fn(&Path) -> std::io::Result<String>,
) -> Result<Command>
where
    I: IntoIterator<Item = String>,
{
    let mut flags: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("generate-certs") {
        bail!(
            "generate-certs: the stand-in serves plaintext only and has no certificates to make \
             (OpenShell's chart runs it as a pre-install hook); run with --disable-tls"
        );
    }
    while let Some(arg) = args.next() {
        let (name, inline) = match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => (name.to_string(), Some(value)),
            _ => (arg.clone(), None),
        };
        let key = match name.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            "--disable-tls" if inline.is_none() => {
                flags.insert("disable-tls", "true".into());
                continue;
            }
            "--config" => "config",
            "--bind-address" => "bind-address",
            "--port" => "port",
            "--health-port" => "health-port",
            "--log-level" => "log-level",
            "--drivers" | "--driver" => "drivers",
            "--tls-cert" => "tls-cert",
            "--tls-key" => "tls-key",
            "--db-url" => "db-url",
            _ => {
                return Err(UsageError(format!("unexpected argument {arg:?}; see --help")).into());
            }
        };
        let value = match inline {
            Some(value) => value.to_string(),
            None => args
                .next()
                .ok_or_else(|| UsageError(format!("{name} needs a value; see --help")))?,
        };
        flags.insert(key, value);
    }

    // Flag, else variable: (where it came from, value). `None` when neither is given.
    let given = |flag: &str, var: &str| -> Option<(String, String)> {
        if let Some(v) = flags.get(flag) {
            return Some((format!("--{flag}"), v.clone()));
        }
        env.get(var)
            .filter(|v| !v.is_empty())
            .map(|v| (var.to_string(), v.clone()))
    };

    let config = given("config", "OPENSHELL_GATEWAY_CONFIG").map(|(_, p)| PathBuf::from(p));
    let file = match &config {
        Some(path) => {
            let text = read_file(path).with_context(|| {
                format!(
                    "reading gateway config file {}; pass an existing --config",
                    path.display()
                )
            })?;
            parse_file(&text, path)?
        }
        None => ConfigFile::default(),
    };
    let gateway = &file.openshell.gateway;

    let (source, drivers) = given("drivers", "OPENSHELL_DRIVERS")
        .or_else(|| {
            gateway
                .compute_drivers
                .as_ref()
                .map(|d| ("compute_drivers".into(), d.join(",")))
        })
        .unwrap_or_else(|| ("default".into(), "kubernetes".into()));
    check_drivers(&drivers).with_context(|| format!("{source}={drivers}"))?;

    let bind = match given("bind-address", "OPENSHELL_BIND_ADDRESS") {
        Some((source, value)) => value
            .parse()
            .with_context(|| format!("{source}={value}: not an IP address"))?,
        None => gateway
            .bind_address
            .map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip()),
    };
    let port = match given("port", "OPENSHELL_SERVER_PORT") {
        Some(given) => parse_port(given)?,
        None => gateway.bind_address.map_or(DEFAULT_PORT, |a| a.port()),
    };
    // An explicit --health-port puts the listener on the bind address (0: none); otherwise
    // the file's full address, so a loopback-only health listener stays on loopback.
    let health = match given("health-port", "OPENSHELL_HEALTH_PORT") {
        Some(given) => match parse_port(given)? {
            0 => None,
            p => Some(SocketAddr::new(bind, p)),
        },
        None => gateway.health_bind_address,
    };
    if let Some(h) = health.filter(|h| h.port() == port) {
        bail!(
            "--port and --health-port must be different (both set to {})",
            h.port()
        );
    }

    let (source, log_level) = given("log-level", "OPENSHELL_LOG_LEVEL")
        .or_else(|| gateway.log_level.clone().map(|l| ("log_level".into(), l)))
        .unwrap_or_else(|| ("default".into(), "info".into()));
    if !LOG_LEVELS.contains(&log_level.as_str()) {
        bail!(
            "{source}={log_level}: not a log level; use one of {}",
            LOG_LEVELS.join(", ")
        );
    }

    let disable_tls = match given("disable-tls", "OPENSHELL_DISABLE_TLS") {
        Some((_, value)) => truthy(&value),
        None => gateway.disable_tls.unwrap_or(false),
    };
    if !disable_tls {
        let tls = gateway.tls.as_ref();
        let cert = given("tls-cert", "OPENSHELL_TLS_CERT")
            .map(|(_, v)| v)
            .or_else(|| tls.map(|t| t.cert_path.display().to_string()));
        let key = given("tls-key", "OPENSHELL_TLS_KEY")
            .map(|(_, v)| v)
            .or_else(|| tls.map(|t| t.key_path.display().to_string()));
        // OpenShell's own words, so a dev loop that forgets --disable-tls fails the same way
        // against either binary.
        if cert.is_none() {
            bail!("--tls-cert is required when TLS is enabled (use --disable-tls to skip)");
        }
        if key.is_none() {
            bail!("--tls-key is required when TLS is enabled (use --disable-tls to skip)");
        }
        bail!(
            "TLS is enabled: the stand-in gateway serves plaintext HTTP only; pass --disable-tls \
             (or set disable_tls = true in [openshell.gateway])"
        );
    }

    let driver = kubernetes_driver(&file)?;
    if let Some(method) = driver.supervisor_sideload_method.as_deref()
        && method != "init-container"
    {
        bail!(
            "supervisor_sideload_method = {method:?}: the stand-in only copies the supervisor \
             with an init container; set \"init-container\""
        );
    }
    let sandbox = SandboxSettings {
        namespace: driver
            .namespace
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.into()),
        image: driver.default_image.filter(|i| !i.is_empty()),
        supervisor_image: driver.supervisor_image.filter(|i| !i.is_empty()),
        pull_policy: check_pull_policy("image_pull_policy", driver.image_pull_policy)?,
        supervisor_pull_policy: check_pull_policy(
            "supervisor_image_pull_policy",
            driver.supervisor_image_pull_policy,
        )?,
        pull_secrets: check_pull_secrets(driver.image_pull_secrets)?,
    };

    Ok(Command::Run(Box::new(Settings {
        bind,
        port,
        health,
        log_level,
        db_url: given("db-url", "OPENSHELL_DB_URL").map(|(_, v)| v),
        config,
        allow_unauthenticated_users: gateway
            .auth
            .as_ref()
            .is_some_and(|a| a.allow_unauthenticated_users),
        sandbox,
    })))
}

/// clap's reading of a boolean flag's variable: these words are false, anything else true.
fn truthy(value: &str) -> bool {
    !matches!(
        value.to_ascii_lowercase().as_str(),
        "0" | "false" | "f" | "no" | "n" | "off"
    )
}

/// OpenShell accepts a list of compute drivers; the stand-in has only the Kubernetes one, and
/// rejecting the rest keeps a misconfigured dev loop from starting a gateway that does nothing.
fn check_drivers(list: &str) -> Result<()> {
    let drivers: Vec<&str> = list.split(',').map(str::trim).collect();
    if let Some(other) = drivers
        .iter()
        .find(|d| !matches!(**d, "kubernetes" | "k8s"))
    {
        bail!("unsupported compute driver {other:?}; this gateway only has `kubernetes`");
    }
    Ok(())
}

fn parse_port((source, value): (String, String)) -> Result<u16> {
    value
        .parse()
        .with_context(|| format!("{source}={value}: not a port number (0-65535)"))
}

/// Empty means "let Kubernetes decide", as in OpenShell's driver.
fn check_pull_policy(key: &str, value: Option<String>) -> Result<Option<String>> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if !PULL_POLICIES.contains(&value.as_str()) {
        bail!(
            "{key} = {value:?}: not an imagePullPolicy; use one of {}",
            PULL_POLICIES.join(", ")
        );
    }
    Ok(Some(value))
}

/// Secret names, as Kubernetes takes them in `imagePullSecrets` (DNS subdomains).
fn check_pull_secrets(names: Vec<String>) -> Result<Vec<String>> {
    for name in &names {
        let ok = !name.is_empty()
            && name.len() <= 253
            && name.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if !ok {
            bail!(
                "image_pull_secrets: {name:?} is not a Secret name; use lower-case letters, \
                 digits, '-' and '.'"
            );
        }
    }
    Ok(names)
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

    /// Parse with an in-memory `--config` file (`None`: reading it fails).
    fn run_with(args: &[&str], pairs: &[(&str, &str)], file: Option<&str>) -> Result<Settings> {
        let file = file.map(str::to_string);
        let read = move |_: &Path| {
            file.clone()
                .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))
        };
        match parse(args.iter().map(|a| a.to_string()), &env(pairs), read)? {
            Command::Run(settings) => Ok(*settings),
            other => panic!("expected run, got {other:?}"),
        }
    }

    fn run(args: &[&str], pairs: &[(&str, &str)]) -> Result<Settings> {
        let mut args = args.to_vec();
        args.push("--disable-tls");
        run_with(&args, pairs, None)
    }

    fn message(err: anyhow::Error) -> String {
        format!("{err:#}")
    }

    const CHART_CONFIG: &str = r#"
[openshell]
version = 1

[openshell.gateway]
bind_address          = "0.0.0.0:8080"
health_bind_address   = "0.0.0.0:8081"
log_level             = "debug"
sandbox_namespace     = "sandboxes"
default_image         = "base:1"
supervisor_image      = "reg:5000/openshell-supervisor:dev"
disable_tls           = true

[openshell.gateway.auth]
allow_unauthenticated_users = true

[openshell.drivers.kubernetes]
grpc_endpoint                = "http://openshell.openshell.svc.cluster.local:8080"
supervisor_sideload_method   = "init-container"
image_pull_policy            = "Always"
image_pull_secrets           = ["k8s-dev-pull"]
"#;

    #[test]
    fn defaults_are_openshells() {
        let s = run(&[], &[]).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1");
        assert_eq!((s.port, s.health), (17670, None));
        assert_eq!(s.log_level, "info");
        assert_eq!(s.sandbox.namespace, "openshell");
        assert_eq!(
            (s.sandbox.pull_policy, s.sandbox.supervisor_pull_policy),
            (None, None)
        );
        assert_eq!((s.sandbox.image, s.sandbox.supervisor_image), (None, None));
        assert!(!s.allow_unauthenticated_users);
    }

    #[test]
    fn tls_on_without_a_certificate_stops_with_openshells_message() {
        let err = run_with(&["--port", "8080"], &[], None).unwrap_err();
        assert_eq!(
            message(err),
            "--tls-cert is required when TLS is enabled (use --disable-tls to skip)"
        );
        let err = run_with(&["--tls-cert", "c.pem"], &[], None).unwrap_err();
        assert!(message(err).starts_with("--tls-key is required"));
    }

    #[test]
    fn tls_with_a_certificate_is_refused_by_the_stand_in() {
        let err = run_with(&["--tls-cert", "c.pem", "--tls-key", "k.pem"], &[], None).unwrap_err();
        assert!(message(err).contains("pass --disable-tls"), "tls error");
    }

    #[test]
    fn tls_can_be_disabled_by_flag_variable_or_file() {
        assert!(run_with(&["--disable-tls"], &[], None).is_ok());
        assert!(run_with(&[], &[("OPENSHELL_DISABLE_TLS", "true")], None).is_ok());
        let err = run_with(&[], &[("OPENSHELL_DISABLE_TLS", "false")], None).unwrap_err();
        assert!(message(err).starts_with("--tls-cert is required"));
        let file = "[openshell.gateway]\ndisable_tls = true\n";
        assert!(run_with(&["--config", "g.toml"], &[], Some(file)).is_ok());
    }

    #[test]
    fn the_config_file_gives_listeners_and_sandbox_settings() {
        let s = run_with(&["--config", "g.toml"], &[], Some(CHART_CONFIG)).unwrap();
        assert_eq!(SocketAddr::new(s.bind, s.port).to_string(), "0.0.0.0:8080");
        assert_eq!(s.health.unwrap().to_string(), "0.0.0.0:8081");
        assert_eq!(s.log_level, "debug");
        assert!(s.allow_unauthenticated_users);
        assert_eq!(s.config.as_deref(), Some(Path::new("g.toml")));
        // [openshell.gateway]'s sandbox keys are inherited by the driver table.
        assert_eq!(s.sandbox.namespace, "sandboxes");
        assert_eq!(
            s.sandbox.images().unwrap(),
            ("reg:5000/openshell-supervisor:dev", "base:1")
        );
        assert_eq!(s.sandbox.pull_policy.as_deref(), Some("Always"));
        assert_eq!(s.sandbox.supervisor_pull_policy, None);
        assert_eq!(s.sandbox.pull_secrets, ["k8s-dev-pull"]);
    }

    #[test]
    fn a_pull_secret_that_is_no_secret_name_is_refused() {
        let file = "[openshell.gateway]\ndisable_tls = true\n\n[openshell.drivers.kubernetes]\nimage_pull_secrets = [\"Bad_Name\"]\n";
        let err = run_with(&["--config", "g.toml"], &[], Some(file)).unwrap_err();
        assert!(message(err).contains("image_pull_secrets: \"Bad_Name\" is not a Secret name"));
    }

    #[test]
    fn flags_and_variables_override_the_file() {
        let s = run_with(
            &["--config", "g.toml", "--port", "9000", "--log-level=warn"],
            &[("OPENSHELL_BIND_ADDRESS", "127.0.0.2")],
            Some(CHART_CONFIG),
        )
        .unwrap();
        assert_eq!((s.bind.to_string(), s.port), ("127.0.0.2".into(), 9000));
        assert_eq!(s.log_level, "warn");
        // The file's health listener keeps its own address.
        assert_eq!(s.health.unwrap().to_string(), "0.0.0.0:8081");
        let s = run_with(
            &["--config", "g.toml", "--health-port", "0"],
            &[],
            Some(CHART_CONFIG),
        )
        .unwrap();
        assert_eq!(s.health, None);
    }

    #[test]
    fn the_driver_table_wins_over_inherited_gateway_keys() {
        let file = "[openshell.gateway]\ndisable_tls = true\nsandbox_namespace = \"a\"\n\
                    [openshell.drivers.kubernetes]\nnamespace = \"b\"\n";
        let s = run_with(&["--config", "g.toml"], &[], Some(file)).unwrap();
        assert_eq!(s.sandbox.namespace, "b");
    }

    #[test]
    fn config_file_errors_name_the_problem() {
        let err = run_with(&["--config", "g.toml"], &[], None).unwrap_err();
        assert!(
            message(err)
                .starts_with("reading gateway config file g.toml; pass an existing --config")
        );
        let err = run_with(
            &["--config", "g.toml"],
            &[],
            Some("[openshell.gateway]\nbind_adress = \"0.0.0.0:1\"\n"),
        )
        .unwrap_err();
        assert!(message(err).contains("unknown field `bind_adress`"), "typo");
        let err = run_with(
            &["--config", "g.toml"],
            &[],
            Some("[openshell.gateway]\ndatabase_url = \"sqlite::memory:\"\n"),
        )
        .unwrap_err();
        assert!(message(err).contains("set the OPENSHELL_DB_URL env var or pass --db-url"));
        let err = run_with(
            &["--config", "g.toml"],
            &[],
            Some("[openshell]\nversion = 2\n"),
        )
        .unwrap_err();
        assert!(message(err).starts_with("unsupported gateway config version 2"));
        let err = run_with(
            &["--config", "g.toml", "--disable-tls"],
            &[],
            Some("[openshell.drivers.podman]\n"),
        )
        .unwrap_err();
        assert!(message(err).contains("only has the `kubernetes` driver"));
    }

    #[test]
    fn the_config_path_can_come_from_the_environment() {
        let s = run_with(
            &[],
            &[("OPENSHELL_GATEWAY_CONFIG", "/etc/openshell/gateway.toml")],
            Some(CHART_CONFIG),
        )
        .unwrap();
        assert_eq!(s.port, 8080);
    }

    #[test]
    fn openshell_server_port_and_db_url_are_read() {
        let s = run(
            &[],
            &[
                ("OPENSHELL_SERVER_PORT", "18091"),
                ("OPENSHELL_DB_URL", "postgres://u:secret@db/x"),
            ],
        )
        .unwrap();
        assert_eq!(s.port, 18091);
        assert_eq!(s.db_scheme(), Some("postgres"));
    }

    #[test]
    fn variables_openshell_does_not_read_are_ignored() {
        // OpenShell's binary takes sandbox settings from its config file only; so does this one.
        let s = run(
            &[],
            &[
                ("OPENSHELL_GATEWAY_PORT", "1"),
                ("OPENSHELL_SANDBOX_NAMESPACE", "x"),
                ("OPENSHELL_SANDBOX_IMAGE", "y"),
            ],
        )
        .unwrap();
        assert_eq!((s.port, s.sandbox.namespace.as_str()), (17670, "openshell"));
        assert_eq!(s.sandbox.image, None);
    }

    #[test]
    fn missing_supervisor_image_names_the_key() {
        let err = run(&[], &[]).unwrap().sandbox.images().unwrap_err();
        assert!(
            err.contains("set supervisor_image in [openshell.drivers.kubernetes]"),
            "{err}"
        );
    }

    #[test]
    fn other_drivers_are_rejected() {
        let err = run(&[], &[("OPENSHELL_DRIVERS", "podman")]).unwrap_err();
        assert_eq!(
            message(err),
            "OPENSHELL_DRIVERS=podman: unsupported compute driver \"podman\"; \
             this gateway only has `kubernetes`"
        );
        let err = run(&["--driver", "kubernetes,vm"], &[]).unwrap_err();
        assert!(message(err).starts_with("--drivers=kubernetes,vm: "));
        assert!(run(&["--drivers", "kubernetes"], &[]).is_ok());
        assert!(run(&["--driver=k8s"], &[]).is_ok());
    }

    #[test]
    fn bad_values_say_where_they_came_from() {
        let err = run(&[], &[("OPENSHELL_HEALTH_PORT", "http")]).unwrap_err();
        assert_eq!(
            message(err),
            "OPENSHELL_HEALTH_PORT=http: not a port number (0-65535): invalid digit found in string"
        );
        let err = run(&["--log-level", "loud"], &[]).unwrap_err();
        assert!(message(err).starts_with("--log-level=loud: not a log level"));
        let err = run(&["--port", "8081", "--health-port", "8081"], &[]).unwrap_err();
        assert_eq!(
            message(err),
            "--port and --health-port must be different (both set to 8081)"
        );
        let file = "[openshell.gateway]\ndisable_tls = true\n\
                    [openshell.drivers.kubernetes]\nimage_pull_policy = \"always\"\n";
        let err = run_with(&["--config", "g"], &[], Some(file)).unwrap_err();
        assert!(message(err).starts_with("image_pull_policy = \"always\": not an imagePullPolicy"));
        let file = "[openshell.gateway]\ndisable_tls = true\n\
                    [openshell.drivers.kubernetes]\nsupervisor_sideload_method = \"image-volume\"\n";
        let err = run_with(&["--config", "g"], &[], Some(file)).unwrap_err();
        assert!(message(err).contains("set \"init-container\""));
    }

    #[test]
    fn unknown_and_incomplete_flags_are_usage_errors() {
        let err = run(&["--nope"], &[]).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some());
        assert_eq!(
            err.to_string(),
            "unexpected argument \"--nope\"; see --help"
        );
        let err = run_with(&["--port"], &[], None).unwrap_err();
        assert_eq!(err.to_string(), "--port needs a value; see --help");
        // The stand-in's old flag is gone, as it never was OpenShell's.
        assert!(run(&["--sandbox-namespace", "x"], &[]).is_err());
    }

    #[test]
    fn generate_certs_is_refused_with_the_fix() {
        let err = run_with(&["generate-certs", "--output-dir", "x"], &[], None).unwrap_err();
        assert!(message(err).contains("run with --disable-tls"));
    }

    #[test]
    fn help_and_version_win() {
        let e = env(&[]);
        let none = |_: &Path| Err(std::io::Error::from(std::io::ErrorKind::NotFound));
        let parsed = parse(["--port", "1", "-h"].map(String::from), &e, none).unwrap();
        assert_eq!(parsed, Command::Help);
        let parsed = parse(["--version"].map(String::from), &e, none).unwrap();
        assert_eq!(parsed, Command::Version);
    }
}
