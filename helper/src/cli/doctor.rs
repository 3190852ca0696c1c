// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::io::Write;

use super::credentials::CredentialEnv;
use crate::doctor::{CheckStatus, HostSystem, System, credentials, report};
use crate::env::Env;
use crate::image::auth::Locations;

/// Check this machine for the k8s-dev loop and say how to fix what is wrong.
///
/// Checks the container engine, the provider's tool (k3d, kind or k3s, with its version),
/// kubectl, skaffold, helm and cargo, every K8S_DEV_* setting, whether the API, registry and
/// load-balancer ports are free on K8S_DEV_BIND_ADDRESS, the kubeconfig's permissions, cgroup v2
/// delegation for a rootless engine on Linux, free disk space, that the registry credential
/// files (Docker's config.json, Podman's auth.json) are private, and the provider's wiring of
/// the registry (kind: reached from every node, named in their containerd hosts files; k3s: its
/// kubeconfig readable, registries.yaml mirroring it, the registry answering on the host).
/// Prints the report on stdout; exits 1 when any check fails (warnings do not).
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct DoctorArgs {
    /// Print the report as one JSON object: {"ok": bool, "checks": [{"name", "status"
    /// (ok|warn|fail|skip), "detail", "fix" (string or null)}]}
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    credentials: CredentialEnv,
}

const AFTER_HELP: &str = "\
Environment:
  every K8S_DEV_* setting (`k8s-dev-helper settings` shows them with their defaults); the port
  checks use K8S_DEV_BIND_ADDRESS, K8S_DEV_API_PORT, K8S_DEV_REGISTRY_PORT and K8S_DEV_LB_PORT
  KUBECONFIG             first entry is the kubeconfig checked (default ~/.kube/config)
  DOCKER_CONFIG, REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR   where the credential files are
  and everything `k8s-dev-helper engine` reads (DOCKER_HOST, K8S_DEV_ENGINE, ...)

Examples:
  k8s-dev-helper doctor
  k8s-dev-helper doctor --json | jq '.checks[] | select(.status == \"fail\")'";

impl DoctorArgs {
    pub fn run(self) -> anyhow::Result<()> {
        // Env has no REGISTRY_AUTH_FILE (yet): the credential files come from the flags.
        let files = Locations::of(&self.credentials.auth_env(), &[]).files;
        let report = report(&Env::from_process(), &HostSystem)
            .with(credentials::check(&files, &|p| HostSystem.mode(p)));
        let out = if self.json {
            format!("{}\n", serde_json::to_string(&report)?)
        } else {
            report.render()
        };
        std::io::stdout().write_all(out.as_bytes())?;
        match report.count(CheckStatus::Fail) {
            0 => Ok(()),
            1 => anyhow::bail!("1 check failed; see its fix above"),
            n => anyhow::bail!("{n} checks failed; see their fixes above"),
        }
    }
}
