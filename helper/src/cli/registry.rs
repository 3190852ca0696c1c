// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

use super::credentials::CredentialEnv;
use crate::image::auth::{Found, Locations};
use crate::image::pull_secret::{self, Spec};

/// Registry logins for the cluster
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    PullSecret(PullSecretArgs),
}

impl RegistryCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            RegistryCommand::PullSecret(args) => args.run(),
        }
    }
}

const EXAMPLES: &str = "\
Examples:
  # Remote mode: the host pushes to reg.example.com, pods pull from it too
  k8s-dev-helper registry pull-secret --registry reg.example.com \\
      --namespace openshell --namespace openshell-sandboxes --create-namespace --context shared
  # Push through localhost:5000, pods pull through openshell-registry:5000
  k8s-dev-helper registry pull-secret --registry localhost:5000 \\
      --pull-registry openshell-registry:5000 --namespace openshell
  # Write the manifest (mode 0600) instead of applying it
  k8s-dev-helper registry pull-secret --registry ghcr.io --namespace ci --output pull-secret.json

Then reference it from the chart: imagePullSecrets: [{name: k8s-dev-pull}] for the gateway and
server.sandboxImagePullSecrets: [{name: k8s-dev-pull}] for sandbox pods (OpenShell's chart).

Credentials come from where `image publish` finds them: ~/.docker/config.json ($DOCKER_CONFIG:
credHelpers, auths, credsStore), then Podman's auth.json ($REGISTRY_AUTH_FILE,
$XDG_RUNTIME_DIR/containers/auth.json, ~/.config/containers/auth.json).

Exit codes: 0 applied or written (or, with --optional, nothing to do), 1 error, 2 usage.";

/// Create or update an image pull secret from your registry login
///
/// Looks up the credentials for --registry as `image publish` does and applies a
/// kubernetes.io/dockerconfigjson Secret holding them, keyed by --pull-registry, to each
/// --namespace: `kubectl apply --server-side` with the manifest on its stdin (idempotent;
/// KUBECONFIG as kubectl reads it). The secret is never put on a command line, printed or
/// logged; --output writes the manifest to a file of mode 0600 instead. Prints the Secret's
/// name on stdout.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct PullSecretArgs {
    /// Registry whose login to use, as the host pushes to it
    #[arg(long, value_name = "HOST[:PORT][/PATH]")]
    registry: String,
    /// Registry the cluster's pods pull from, the key the kubelet matches images against
    /// [default: --registry]
    #[arg(long, value_name = "HOST[:PORT][/PATH]")]
    pull_registry: Option<String>,
    /// Namespace to put the Secret in (repeatable: the release's and the sandboxes'; a
    /// namespace given twice gets one)
    #[arg(long = "namespace", short = 'n', value_name = "NS", required = true)]
    namespaces: Vec<String>,
    /// Name of the Secret
    #[arg(long, default_value = "k8s-dev-pull")]
    name: String,
    /// Create each namespace that does not exist yet
    #[arg(long)]
    create_namespace: bool,
    /// kubeconfig context kubectl uses [default: its current context]
    #[arg(long, value_name = "CONTEXT")]
    context: Option<String>,
    /// Write the manifest (the Namespaces and Secrets, JSON documents for `kubectl apply -f`)
    /// to FILE, mode 0600, instead of applying it
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Without a login for --registry, do nothing and exit 0 (prints nothing): for a
    /// registry that may or may not need one
    #[arg(long)]
    optional: bool,
    #[command(flatten)]
    credentials: CredentialEnv,
}

impl PullSecretArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let host = pull_secret::registry_host(&self.registry)?;
        let spec = Spec {
            name: self.name.clone(),
            pull_registry: pull_secret::pull_key(
                self.pull_registry.as_deref().unwrap_or(&self.registry),
            )
            .context("reading --pull-registry")?,
            namespaces: self.namespaces.iter().fold(Vec::new(), |mut seen, ns| {
                if !seen.contains(ns) {
                    seen.push(ns.clone());
                }
                seen
            }),
            create_namespaces: self.create_namespace,
        };
        spec.check()?;
        let locations = Locations::of(&self.credentials.auth_env(), &[]);
        let Some(found) = locations.find(&host)? else {
            if self.optional {
                eprintln!(
                    "no login for {} (looked in {}); no pull secret made",
                    self.registry,
                    locations.looked_in()
                );
                return Ok(());
            }
            bail!(
                "no login for registry {} (looked in {}); log in: docker login {host} (or \
                 podman login {host}), or set DOCKER_CONFIG or REGISTRY_AUTH_FILE",
                self.registry,
                locations.looked_in()
            );
        };
        let manifest = pull_secret::manifest(&spec, &found.secret, &found.source)?;
        let where_ = format!(
            "pull secret {} for {} in {} (login from {})",
            spec.name,
            spec.pull_registry,
            spec.namespaces.join(", "),
            found.source
        );
        match &self.output {
            Some(file) => {
                write_private(file, manifest.as_bytes())?;
                eprintln!("wrote {where_} to {} (mode 0600)", file.display());
            }
            None => {
                self.apply(&manifest, &found, &spec)?;
                eprintln!("applied {where_}");
            }
        }
        println!("{}", spec.name);
        Ok(())
    }

    /// `kubectl apply --server-side` with `manifest` on stdin; kubectl's words redacted.
    fn apply(&self, manifest: &str, found: &Found, spec: &Spec) -> anyhow::Result<()> {
        let mut cmd = Command::new("kubectl");
        if let Some(context) = &self.context {
            cmd.args(["--context", context]);
        }
        // Server-side: no last-applied annotation carrying a second copy of the data, and
        // the Secret's fields owned by this command even if someone created it by hand.
        cmd.args([
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=k8s-dev",
            "-f",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
                "kubectl not found on PATH; install it (mise install), or write the manifest \
                 with --output FILE and apply it yourself"
            ),
            Err(e) => return Err(e).context("running kubectl"),
        };
        // kubectl reads all of stdin before it answers; a write error shows in its status.
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(manifest.as_bytes());
        }
        let out = child.wait_with_output().context("running kubectl")?;
        let clean = |bytes: &[u8]| {
            pull_secret::redact(&String::from_utf8_lossy(bytes), &found.secret, manifest)
        };
        let stdout = clean(&out.stdout);
        for line in stdout.lines().filter(|l| !l.trim().is_empty()) {
            eprintln!("{line}");
        }
        if out.status.success() {
            return Ok(());
        }
        // The fix is chosen on kubectl's own words; only the redacted ones are shown.
        let raw = String::from_utf8_lossy(&out.stderr);
        let first_line = |text: &str| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or("no message")
                .trim_start_matches("error: ")
                .to_string()
        };
        let missing_namespace = {
            let line = first_line(&raw);
            line.contains("namespaces \"") && line.contains("not found")
        };
        let first = first_line(&clean(&out.stderr));
        let fix = if missing_namespace {
            "create the namespace first, or pass --create-namespace".to_string()
        } else {
            format!(
                "check that kubectl reaches the cluster and may create secrets there: kubectl{} \
                 auth can-i create secrets -n {}",
                self.context
                    .as_ref()
                    .map(|c| format!(" --context {c}"))
                    .unwrap_or_default(),
                spec.namespaces[0]
            )
        };
        bail!(
            "applying pull secret {} with kubectl ({}): {first}; {fix}",
            spec.name,
            out.status
        )
    }
}

/// `bytes` to `file`, created 0600 beside it and renamed over it: never readable by others,
/// never half-written.
fn write_private(file: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = match file.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = file
        .file_name()
        .with_context(|| format!("--output {}: names no file", file.display()))?;
    let temp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = (|| -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        out.write_all(bytes)?;
        out.sync_all()?;
        std::fs::rename(&temp, file)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        bail!(
            "writing {}: {e}; pass --output a path in a directory you can write",
            file.display()
        );
    }
    Ok(())
}
