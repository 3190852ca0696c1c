// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::cli::cluster::read_state;
use crate::env::Env;
use crate::kubeconfig::{Files, Input, doc, edit, store};
use crate::status::{
    ClusterView, EngineView, KubeconfigView, NodeView, RegistryView, Status, mode_string,
    node_views,
};
use crate::wait::kube::Kubectl;

/// How long one kubectl call of status may take: status reports, it does not wait.
const KUBECTL_LIMIT: Duration = Duration::from_secs(5);

/// Show the cluster, its nodes, the registry, the kubeconfig and the engine
///
/// Never fails because something is down: that is what it reports. Exit 0 unless the
/// arguments are wrong.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Cluster name
    #[arg(long, env = "K8S_DEV_CLUSTER", default_value = "openshell-dev")]
    cluster: String,
    /// Registry name, as given to `k3d registry create`
    #[arg(
        long,
        env = "K8S_DEV_REGISTRY_NAME",
        default_value = "openshell-registry"
    )]
    registry: String,
    /// Registry as the host pushes to it
    #[arg(long, env = "K8S_DEV_REGISTRY", default_value = "localhost:5000")]
    push: String,
    /// Registry as the cluster pulls from it
    #[arg(
        long,
        env = "K8S_DEV_REGISTRY_PULL",
        default_value = "openshell-registry:5000"
    )]
    pull: String,
    /// Remote mode: an existing context to report on instead of the k3d cluster
    #[arg(long, env = "K8S_DEV_CONTEXT")]
    context: Option<String>,
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

impl StatusArgs {
    pub fn run(self) -> Result<()> {
        crate::cluster::check_cluster_name(&self.cluster)?;
        let env = Env::from_process();
        let k3d_context = format!("k3d-{}", self.cluster);
        let remote = self
            .context
            .clone()
            .filter(|c| !c.is_empty() && *c != k3d_context);
        let status = match remote {
            Some(context) => self.remote(&env, context),
            None => self.local(&env, k3d_context),
        };
        if self.json {
            println!("{}", serde_json::to_string(&status)?);
        } else {
            print!("{}", status.render());
        }
        Ok(())
    }

    fn local(&self, env: &Env, context: String) -> Status {
        let file = env
            .home
            .as_ref()
            .map(|h| h.join(".kube").join(format!("k3d-{}.yaml", self.cluster)));
        let (mut cluster, registry_state) = match read_state(&self.cluster, &self.registry) {
            Ok(state) => {
                let c = state.cluster;
                (
                    ClusterView {
                        name: self.cluster.clone(),
                        context: context.clone(),
                        state: c.state.as_str().to_string(),
                        servers: Some(format!("{}/{}", c.servers_running, c.servers)),
                        agents: Some(format!("{}/{}", c.agents_running, c.agents)),
                        error: None,
                    },
                    state.registry.as_str().to_string(),
                )
            }
            Err(err) => (
                ClusterView {
                    name: self.cluster.clone(),
                    context: context.clone(),
                    state: "unknown".into(),
                    servers: None,
                    agents: None,
                    error: Some(format!("{err:#}")),
                },
                "unknown".into(),
            ),
        };
        let nodes = match (&file, cluster.state.as_str()) {
            (Some(f), "running" | "partial") if f.is_file() => nodes_of(Some(f.clone()), &context)
                .unwrap_or_else(|err| {
                    cluster.error = Some(err);
                    Vec::new()
                }),
            _ => Vec::new(),
        };
        Status {
            mode: "local",
            cluster,
            nodes,
            registry: RegistryView {
                name: self.registry.clone(),
                state: registry_state,
                push: self.push.clone(),
                pull: self.pull.clone(),
            },
            kubeconfig: kubeconfig_view(env, file, &context),
            engine: engine_view(),
        }
    }

    fn remote(&self, env: &Env, context: String) -> Status {
        let (state, nodes, error) = match nodes_of(None, &context) {
            Ok(nodes) => ("reachable", nodes, None),
            Err(err) => ("unreachable", Vec::new(), Some(err)),
        };
        Status {
            mode: "remote",
            cluster: ClusterView {
                name: context.clone(),
                context: context.clone(),
                state: state.into(),
                servers: None,
                agents: None,
                error,
            },
            nodes,
            registry: RegistryView {
                name: self.registry.clone(),
                state: "external".into(),
                push: self.push.clone(),
                pull: self.pull.clone(),
            },
            kubeconfig: kubeconfig_view(env, None, &context),
            engine: engine_view(),
        }
    }
}

fn nodes_of(kubeconfig: Option<PathBuf>, context: &str) -> Result<Vec<NodeView>, String> {
    let kubectl =
        Kubectl::find(kubeconfig, Some(context.to_string())).map_err(|e| format!("{e:#}"))?;
    Ok(node_views(&kubectl.nodes(KUBECTL_LIMIT)?))
}

fn kubeconfig_view(env: &Env, file: Option<PathBuf>, context: &str) -> KubeconfigView {
    let mode = file
        .as_ref()
        .and_then(|f| std::fs::metadata(f).ok())
        .map(|m| mode_string(m.permissions().mode()));
    let mut view = KubeconfigView {
        file_exists: mode.is_some(),
        file: file.map(|f| f.display().to_string()),
        file_mode: mode,
        default_file: "~/.kube/config".into(),
        files: Vec::new(),
        context_in_default: false,
        context_file: None,
        current_context: None,
        error: None,
    };
    let files = match Files::from_env(env) {
        Ok(files) => files,
        Err(err) => {
            view.error = Some(format!("{err:#}"));
            return view;
        }
    };
    view.files = files
        .paths()
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    view.default_file = view.files[0].clone();
    // Read as kubectl would, but never blocking: a FIFO or device there is reported, not read.
    let loaded = match store::read_view(&files) {
        Ok(loaded) => loaded,
        Err(err) => {
            view.error = Some(format!("{err:#}"));
            return view;
        }
    };
    view.default_file = loaded.files[loaded.default]
        .found
        .given
        .display()
        .to_string();
    let mut roots = Vec::new();
    for file in &loaded.files {
        let text = file.text.as_deref().unwrap_or_default();
        match doc::parse(text, Input::Target) {
            Ok(root) => roots.push(root),
            Err(err) => {
                view.error = Some(format!(
                    "{} is not a valid kubeconfig: {}",
                    file.found.given.display(),
                    err.problem
                ));
                return view;
            }
        }
    }
    if let Some(index) = edit::origin(&roots, doc::Section::Contexts, context) {
        view.context_in_default = true;
        view.context_file = Some(loaded.files[index].found.given.display().to_string());
    }
    view.current_context = edit::view_current_context(&roots).map(|(_, name)| name.to_string());
    view
}

fn engine_view() -> EngineView {
    match crate::engine::resolve_from_process() {
        Ok(r) => EngineView {
            engine: Some(r.engine.as_str().to_string()),
            host: Some(r.host),
            version: Some(r.version),
            error: None,
        },
        Err(err) => EngineView {
            engine: None,
            host: None,
            version: None,
            error: Some(format!("{err:#}")),
        },
    }
}
