// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Result;

use crate::env::Env;
use crate::kubeconfig::{Input, doc, edit, store};
use crate::kubectl::Kubectl;
use crate::observe::{self, EngineInUse};
use crate::plan::Mirrors;
use crate::provider::Provider;
use crate::settings::Settings;
use crate::status::{
    ClusterView, EngineView, KubeconfigView, NodeView, PodView, RegistryView, StatusReport,
    mode_string, node_views, pod_views,
};

/// How long one kubectl call of status may take: status reports, it does not wait.
const KUBECTL_LIMIT: Duration = Duration::from_secs(5);

/// Show the cluster, its nodes, the registry, the kubeconfig and the engine
///
/// Reads the provider's cluster (k3d's node list, kind's node containers, the attached k3s's
/// API) and the registry through the engine `k8s-dev-helper engine` resolves, with the settings
/// in effect (`k8s-dev-helper settings`). Never fails because something is down: that is what it
/// reports. Exit 0 unless a setting or an argument is wrong.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print one JSON object
    #[arg(long)]
    json: bool,
}

impl StatusArgs {
    pub fn run(self) -> Result<()> {
        let env = Env::from_process();
        let s = Settings::resolve(&env, None)?;
        let engine = EngineInUse::resolve(&env);
        let status = if s.remote() {
            remote(&s, &engine)
        } else {
            local(&env, &s, &engine)
        };
        if self.json {
            println!("{}", serde_json::to_string(&status)?);
        } else {
            print!("{}", status.render());
        }
        Ok(())
    }
}

fn registry_view(s: &Settings, state: &str) -> RegistryView {
    RegistryView {
        name: s.get("K8S_DEV_REGISTRY_NAME").to_string(),
        state: state.to_string(),
        container: s.get("K8S_DEV_REGISTRY_CONTAINER").to_string(),
        push: s.get("K8S_DEV_REGISTRY").to_string(),
        pull: s.get("K8S_DEV_REGISTRY_PULL").to_string(),
        mirrors: None,
    }
}

fn local(env: &Env, s: &Settings, engine: &Result<EngineInUse>) -> StatusReport {
    let context = s.get("K8S_DEV_CLUSTER_CONTEXT").to_string();
    let file = PathBuf::from(s.get("K8S_DEV_CLUSTER_KUBECONFIG"));
    let seen = match engine {
        Ok(engine) => observe::provider_seen(env, s, engine),
        Err(err) => Err(anyhow::anyhow!("{err:#}")),
    };
    let provider = s.provider();
    let mut cluster = ClusterView {
        name: s.get("K8S_DEV_CLUSTER").to_string(),
        context: context.clone(),
        state: "unknown".into(),
        servers: None,
        agents: None,
        error: None,
    };
    let (registry_state, mirrors) = match &seen {
        Ok(seen) => {
            let c = &seen.cluster;
            cluster.state = c.state.as_str().to_string();
            if provider != Provider::K3s {
                cluster.servers = Some(format!("{}/{}", c.servers.0, c.servers.1));
                cluster.agents = Some(format!("{}/{}", c.agents.0, c.agents.1));
            }
            let problems: Vec<String> = c
                .foreign
                .iter()
                .chain(&seen.registry.foreign)
                .map(|f| f.why.clone())
                .chain(c.defects.iter().cloned())
                .collect();
            if !problems.is_empty() {
                cluster.error = Some(problems.join("; "));
            }
            let mirrors = match &seen.mirrors {
                Mirrors::ByProvider => None,
                Mirrors::UpToDate => Some("up-to-date".to_string()),
                Mirrors::Stale => Some("missing (mise run k8s:dev:up writes them)".to_string()),
                Mirrors::Unknown => Some("unknown: the nodes do not run".to_string()),
                Mirrors::NotWritable { file, .. } => {
                    Some(format!("missing in {file}, which you may not write"))
                }
            };
            (seen.registry.state.as_str().to_string(), mirrors)
        }
        Err(err) => {
            cluster.error = Some(format!("{err:#}"));
            ("unknown".into(), None)
        }
    };
    let (nodes, pods) = match cluster.state.as_str() {
        "running" | "partial" if file.is_file() => {
            let nodes = nodes_of(Some(file.clone()), &context).unwrap_or_else(|err| {
                cluster.error = Some(err);
                Vec::new()
            });
            let pods = pods_of(s, Some(file.clone()), &context).unwrap_or_else(|err| {
                cluster.error.get_or_insert(err);
                Vec::new()
            });
            (nodes, pods)
        }
        _ => (Vec::new(), Vec::new()),
    };
    let mut registry = registry_view(s, &registry_state);
    registry.mirrors = mirrors;
    StatusReport {
        mode: "local",
        provider,
        cluster,
        nodes,
        pods,
        registry,
        kubeconfig: kubeconfig_view(s, Some(file), &context),
        engine: engine_view(engine),
    }
}

fn remote(s: &Settings, engine: &Result<EngineInUse>) -> StatusReport {
    let context = s.get("K8S_DEV_CONTEXT").to_string();
    let (state, nodes, pods, error) = match nodes_of(None, &context) {
        Ok(nodes) => match pods_of(s, None, &context) {
            Ok(pods) => ("reachable", nodes, pods, None),
            Err(err) => ("reachable", nodes, Vec::new(), Some(err)),
        },
        Err(err) => ("unreachable", Vec::new(), Vec::new(), Some(err)),
    };
    StatusReport {
        mode: "remote",
        provider: s.provider(),
        cluster: ClusterView {
            name: context.clone(),
            context: context.clone(),
            state: state.into(),
            servers: None,
            agents: None,
            error,
        },
        nodes,
        pods,
        registry: registry_view(s, "external"),
        kubeconfig: kubeconfig_view(s, None, &context),
        engine: engine_view(engine),
    }
}

fn nodes_of(kubeconfig: Option<PathBuf>, context: &str) -> Result<Vec<NodeView>, String> {
    let kubectl =
        Kubectl::find(kubeconfig, Some(context.to_string())).map_err(|e| format!("{e:#}"))?;
    Ok(node_views(&kubectl.nodes(KUBECTL_LIMIT)?))
}

/// Pods of the release namespace and the sandbox namespace (when another one).
fn pods_of(
    s: &Settings,
    kubeconfig: Option<PathBuf>,
    context: &str,
) -> Result<Vec<PodView>, String> {
    let kubectl =
        Kubectl::find(kubeconfig, Some(context.to_string())).map_err(|e| format!("{e:#}"))?;
    let mut namespaces = vec![s.get("K8S_DEV_NAMESPACE")];
    if s.get("K8S_DEV_SANDBOX_NAMESPACE") != namespaces[0] {
        namespaces.push(s.get("K8S_DEV_SANDBOX_NAMESPACE"));
    }
    let mut pods = Vec::new();
    for namespace in namespaces {
        pods.extend(pod_views(&kubectl.pods(namespace, KUBECTL_LIMIT)?));
    }
    Ok(pods)
}

fn kubeconfig_view(s: &Settings, file: Option<PathBuf>, context: &str) -> KubeconfigView {
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
    let files = match s.kubeconfig_files() {
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

fn engine_view(engine: &Result<EngineInUse>) -> EngineView {
    match engine {
        Ok(e) => EngineView {
            engine: Some(e.resolved.engine.as_str().to_string()),
            host: Some(e.resolved.host.clone()),
            version: Some(e.resolved.version.clone()),
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
