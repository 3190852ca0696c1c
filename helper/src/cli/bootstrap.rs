// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::bootstrap;
use crate::cli::wait::KubeArgs;
use crate::env::Env;
use crate::settings::Settings;

/// What `k8s:dev:bootstrap` does before it installs the chart
#[derive(Debug, clap::Subcommand)]
pub enum BootstrapCommand {
    Plan(PlanArgs),
}

impl BootstrapCommand {
    pub fn run(self) -> Result<()> {
        match self {
            BootstrapCommand::Plan(args) => args.run(),
        }
    }
}

/// Decide, from the cluster, whether the release's namespace must be created, whether the
/// sandbox namespace must be created or marked as the release's (so a chart that renders it adopts it), and whether an interrupted helm left the
/// release pending (uninstall a pending install, roll back a pending upgrade or rollback)
///
/// Prints PLAN_NAMESPACE (create|none), PLAN_SANDBOX_NAMESPACE (create|adopt|none), PLAN_RELEASE (uninstall|rollback|none)
/// and PLAN_RELEASE_STATUS for `eval`. Reads K8S_DEV_NAMESPACE, K8S_DEV_SANDBOX_NAMESPACE and
/// K8S_DEV_RELEASE; the release's revisions from the labels of Helm's release Secrets.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Example:
  eval \"$(k8s-dev-helper bootstrap plan --kubeconfig ~/.kube/k3d-openshell-dev.yaml \\
    --context k3d-openshell-dev)\"")]
pub struct PlanArgs {
    #[command(flatten)]
    kube: KubeArgs,
    /// Print the plan as JSON instead
    #[arg(long)]
    json: bool,
}

/// Longest kubectl call of the plan.
const KUBECTL_LIMIT: Duration = Duration::from_secs(30);

impl PlanArgs {
    fn run(self) -> Result<()> {
        let s = Settings::resolve(&Env::from_process(), None)?;
        let kubectl = self.kube.kubectl()?;
        let (namespace, sandbox, release) = (
            s.get("K8S_DEV_NAMESPACE"),
            s.get("K8S_DEV_SANDBOX_NAMESPACE"),
            s.get("K8S_DEV_RELEASE"),
        );
        // Both reads at once: each is a kubectl process (~0.1 s to start), and bootstrap waits.
        let (namespaces, revisions) = std::thread::scope(|scope| {
            let revisions =
                scope.spawn(|| kubectl.release_revisions(namespace, release, KUBECTL_LIMIT));
            let namespaces = kubectl.namespaces(&[namespace, sandbox], KUBECTL_LIMIT);
            (
                namespaces,
                revisions
                    .join()
                    .unwrap_or_else(|_| Err("kubectl's reader panicked".into())),
            )
        });
        let namespaces = namespaces.map_err(|why| {
            anyhow!("reading namespaces {namespace} and {sandbox}: {why}; is the cluster up?")
        })?;
        let revisions = revisions.map_err(|why| {
            anyhow!("reading the revisions of release {release} in {namespace}: {why}; is the cluster up?")
        })?;
        let plan = bootstrap::plan(
            &s,
            namespaces[0].as_ref(),
            namespaces[1].as_ref(),
            &bootstrap::parse_revisions(&revisions),
        );
        if self.json {
            println!("{}", serde_json::to_string(&plan)?);
        } else {
            print!("{}", plan.shell());
        }
        Ok(())
    }
}
