// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::cluster::{self, ClusterInfo, State};

/// Read what exists of the k3d cluster and registry, and check cluster names
#[derive(Debug, clap::Subcommand)]
pub enum ClusterCommand {
    /// Print the cluster and registry state (missing, stopped, partial, running)
    ///
    /// Default output is sh-evalable: K8S_DEV_CLUSTER_STATE=… and K8S_DEV_REGISTRY_STATE=….
    #[command(
        after_long_help = "Example:\n  eval \"$(k8s-dev-helper cluster state --name openshell-dev --registry openshell-registry)\""
    )]
    State(StateArgs),
    /// Exit 1 with the fix when NAME is not a valid k3d cluster name (RFC 1123, lower case, ≤ 32)
    CheckName {
        /// The cluster name (K8S_DEV_CLUSTER)
        name: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct StateArgs {
    /// Cluster name
    #[arg(long, env = "K8S_DEV_CLUSTER", default_value = "openshell-dev")]
    name: String,
    /// Registry name, as given to `k3d registry create` (k3d prefixes the container with k3d-)
    #[arg(
        long,
        env = "K8S_DEV_REGISTRY_NAME",
        default_value = "openshell-registry"
    )]
    registry: String,
    /// Print one JSON object instead of shell assignments
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
pub struct ClusterAndRegistry {
    pub cluster: ClusterInfo,
    pub registry: State,
}

impl ClusterCommand {
    pub fn run(self) -> Result<()> {
        match self {
            ClusterCommand::State(args) => args.run(),
            ClusterCommand::CheckName { name } => cluster::check_cluster_name(&name),
        }
    }
}

impl StateArgs {
    fn run(self) -> Result<()> {
        cluster::check_cluster_name(&self.name)?;
        let state = read_state(&self.name, &self.registry)?;
        if self.json {
            println!("{}", serde_json::to_string(&state)?);
        } else {
            println!("K8S_DEV_CLUSTER_STATE={}", state.cluster.state.as_str());
            println!("K8S_DEV_REGISTRY_STATE={}", state.registry.as_str());
        }
        Ok(())
    }
}

/// Ask k3d for the cluster and the registry.
pub fn read_state(name: &str, registry: &str) -> Result<ClusterAndRegistry> {
    let cluster = match k3d_list(&["cluster", "list", name, "-o", "json"])? {
        Some(json) => cluster::parse_cluster_list(&json, name)?,
        None => ClusterInfo::missing(),
    };
    let registry = match k3d_list(&["registry", "list", registry, "-o", "json"])? {
        Some(json) => cluster::parse_registry_list(&json, registry)?,
        None => State::Missing,
    };
    Ok(ClusterAndRegistry { cluster, registry })
}

/// Run a k3d listing; `None` when k3d says the object does not exist.
fn k3d_list(args: &[&str]) -> Result<Option<String>> {
    let k3d =
        which::which("k3d").map_err(|_| anyhow::anyhow!("k3d not found. Run: mise install"))?;
    let out = Command::new(&k3d)
        .args(args)
        .env("LOG_COLORS", "false")
        .output()
        .with_context(|| format!("running {}", k3d.display()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()));
    }
    if cluster::is_not_found(&stderr) {
        return Ok(None);
    }
    bail!(
        "k3d {}: {}; is the container engine running? try: k8s-dev-helper engine --explain",
        args.join(" "),
        cluster::k3d_error(&stderr)
    )
}
