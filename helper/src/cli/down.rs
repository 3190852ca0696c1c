// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::path::Path;

use anyhow::Result;

use crate::cli::up::{LockArgs, print_plan, require_provider, require_tool, tell};
use crate::env::Env;
use crate::kubeconfig;
use crate::observe::{self, EngineInUse};
use crate::plan;
use crate::provider::Provider;
use crate::settings::Settings;

/// The two halves of `k8s:dev:down`, around the script's deletes
#[derive(Debug, clap::Subcommand)]
pub enum DownCommand {
    Plan(PlanArgs),
    Finish,
}

impl DownCommand {
    pub fn run(self) -> Result<()> {
        match self {
            DownCommand::Plan(args) => args.run(),
            DownCommand::Finish => finish(),
        }
    }
}

/// Decide what `down` deletes: the cluster k3d or kind made (any state), the registry only with
/// --registry; never the host's k3s, never a container the kit did not make (a registry is named
/// in a warning; a cluster of the kit's name that is not the kit's stops down, nothing deleted)
///
/// Prints the engine's exports and PLAN_CLUSTER (delete|none), PLAN_REGISTRY
/// (delete|keep|none) and PLAN_REGISTRY_WAS for `eval`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Also delete the registry and its images
    #[arg(long)]
    registry: bool,
    /// Print {"engine", "observed", "plan"} as JSON instead
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    lock: LockArgs,
}

impl PlanArgs {
    fn run(self) -> Result<()> {
        let env = Env::from_process();
        let s = Settings::resolve(&env, None)?;
        match s.provider() {
            Provider::K3d => require_tool(&env, "k3d")?,
            Provider::Kind => require_provider(&env, &s)?,
            // Forgetting the host's k3s needs nothing of it: not even a readable kubeconfig.
            Provider::K3s => {}
        }
        let engine = EngineInUse::resolve(&env)?;
        self.lock.take(&s, &env, "down")?;
        let observed = observe::observe(&env, &s, &engine)?;
        let decided = plan::down(&observed, self.registry);
        if let Ok(plan) = &decided {
            for warning in &plan.warnings {
                eprintln!("[k8s-dev] {warning}");
            }
        }
        print_plan(self.json, &s, &engine, &observed, decided)
    }
}

/// Remove the cluster's context (and its cluster and user unless shared) from the user's
/// kubeconfig files, from the file kubectl reads it from, and delete the cluster's own
/// kubeconfig with its backup. Idempotent.
fn finish() -> Result<()> {
    let s = Settings::resolve(&Env::from_process(), None)?;
    let files = s.kubeconfig_files()?;
    let context = s.get("K8S_DEV_CLUSTER_CONTEXT");
    let (summary, written) = kubeconfig::remove_from_file(&files, context)?;
    tell(&written);
    if !summary.contexts.removed.is_empty() {
        eprintln!(
            "[k8s-dev] removed context {context} from {}",
            files.display()
        );
    }
    let deleted = kubeconfig::delete(Path::new(s.get("K8S_DEV_CLUSTER_KUBECONFIG")))?;
    if let Some((file, why)) = &deleted.emptied {
        eprintln!(
            "note: emptied {} instead of deleting it: {why}",
            file.display()
        );
    }
    for warning in &deleted.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(())
}
