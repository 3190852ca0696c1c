// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper status`: one report of the cluster, its nodes, the registry, the kubeconfig
//! and the engine, rendered as text or JSON from the same struct. Names and states only: no
//! server certificates, tokens or keys ever enter the report.

use serde::Serialize;
use serde_json::Value;

use crate::kubectl::{condition, name_of};
use crate::provider::Provider;

#[derive(Debug, Serialize)]
pub struct StatusReport {
    /// `local` (the kit's cluster) or `remote` (K8S_DEV_CONTEXT).
    pub mode: &'static str,
    /// K8S_DEV_PROVIDER: where the local cluster comes from (k3d, kind, k3s).
    pub provider: Provider,
    pub cluster: ClusterView,
    pub nodes: Vec<NodeView>,
    /// Pods of the release and sandbox namespaces; each that does not run says why.
    pub pods: Vec<PodView>,
    pub registry: RegistryView,
    pub kubeconfig: KubeconfigView,
    pub engine: EngineView,
}

#[derive(Debug, Serialize)]
pub struct ClusterView {
    pub name: String,
    pub context: String,
    /// missing, stopped, partial, running; `reachable`/`unreachable` in remote mode;
    /// `unknown` when it could not be read (see `error`).
    pub state: String,
    pub servers: Option<String>,
    pub agents: Option<String>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct NodeView {
    pub name: String,
    pub ready: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PodView {
    pub namespace: String,
    pub name: String,
    pub phase: String,
    pub ready: bool,
    /// Why a container does not run: its waiting or terminated reason and message, e.g.
    /// `ErrImagePull: failed to pull and unpack image …` (init containers first).
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RegistryView {
    pub name: String,
    /// missing, stopped, running; `external` in remote mode; `unknown` on error.
    pub state: String,
    /// Its container (`k3d-<name>` on k3d).
    pub container: String,
    pub push: String,
    pub pull: String,
    /// kind and k3s: whether the cluster's containerd sends pulls of both names to it
    /// (`up-to-date`, or what is missing); none where k3d wires it.
    pub mirrors: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct KubeconfigView {
    /// The cluster's own kubeconfig (`~/.kube/k3d-<cluster>.yaml`); none in remote mode.
    pub file: Option<String>,
    pub file_exists: bool,
    /// Octal permission bits of `file`, e.g. `0600`.
    pub file_mode: Option<String>,
    /// The kubeconfig new entries go to: kubectl's default file among `files`.
    pub default_file: String,
    /// The kubeconfig files kubectl reads: those of $KUBECONFIG, else ~/.kube/config.
    pub files: Vec<String>,
    /// Whether kubectl sees the context through `files`.
    pub context_in_default: bool,
    /// The file whose copy of the context kubectl uses.
    pub context_file: Option<String>,
    pub current_context: Option<String>,
    /// Why the kubeconfig files could not be read (not a regular file, not a kubeconfig).
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct EngineView {
    pub engine: Option<String>,
    pub host: Option<String>,
    pub version: Option<String>,
    pub error: Option<String>,
}

/// Node names and readiness from `kubectl get nodes -o json`.
pub fn node_views(list: &Value) -> Vec<NodeView> {
    list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|node| NodeView {
            name: name_of(node).to_string(),
            ready: condition(node, "Ready").map(|(s, _)| s) == Some("True"),
        })
        .collect()
}

/// Pods from `kubectl get pods -o json`: phase, readiness, and the first container (init
/// containers first) that waits or has ended with an error, as `reason: message`.
pub fn pod_views(list: &Value) -> Vec<PodView> {
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    items
        .iter()
        .map(|pod| {
            let statuses = ["initContainerStatuses", "containerStatuses"]
                .iter()
                .filter_map(|key| pod["status"][key].as_array())
                .flatten();
            let reason = statuses
                .filter_map(|c| {
                    let state = &c["state"];
                    let why = match (&state["waiting"], &state["terminated"]) {
                        (w, _) if w.is_object() => w,
                        (_, t) if t.is_object() && t["exitCode"].as_i64() != Some(0) => t,
                        _ => return None,
                    };
                    let reason = why["reason"].as_str().unwrap_or("Unknown");
                    Some(match why["message"].as_str() {
                        Some(message) if !message.is_empty() => format!("{reason}: {message}"),
                        _ => reason.to_string(),
                    })
                })
                .next();
            PodView {
                namespace: pod["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                name: name_of(pod).to_string(),
                phase: pod["status"]["phase"].as_str().unwrap_or("Unknown").into(),
                ready: condition(pod, "Ready").map(|(s, _)| s) == Some("True"),
                reason,
            }
        })
        .collect()
}

/// `0600`-style text of permission bits.
pub fn mode_string(mode: u32) -> String {
    format!("{:04o}", mode & 0o7777)
}

impl StatusReport {
    /// The human view: a heading, a blank line, then `  Key: value` lines.
    pub fn render(&self) -> String {
        let c = &self.cluster;
        let mut out = format!("k8s-dev status ({})\n\n", self.mode);
        let (servers, agents) = match self.provider {
            Provider::Kind => ("control planes", "workers"),
            Provider::K3d | Provider::K3s => ("servers", "agents"),
        };
        let counts = match (&c.servers, &c.agents) {
            (Some(s), Some(a)) => format!(", {servers} {s}, {agents} {a}"),
            _ => String::new(),
        };
        if self.mode == "local" {
            out += &format!("  Provider: {}\n", self.provider);
        }
        out += &format!("  Cluster: {} ({}{counts})\n", c.name, c.state);
        if let Some(err) = &c.error {
            out += &format!("  Cluster error: {err}\n");
        }
        out += &format!("  Context: {}\n", c.context);
        if !self.nodes.is_empty() {
            let nodes: Vec<String> = self
                .nodes
                .iter()
                .map(|n| format!("{} {}", n.name, if n.ready { "Ready" } else { "NotReady" }))
                .collect();
            out += &format!("  Nodes: {}\n", nodes.join(", "));
        }
        for p in &self.pods {
            let state = if p.ready { "Ready" } else { p.phase.as_str() };
            out += &format!("  Pod: {}/{} {state}", p.namespace, p.name);
            if let Some(reason) = &p.reason {
                out += &format!(" ({reason})");
            }
            out += "\n";
        }
        let r = &self.registry;
        out += &format!(
            "  Registry: {} ({}; push {}, pull {})\n",
            r.name, r.state, r.push, r.pull
        );
        if let Some(mirrors) = &r.mirrors {
            out += &format!("  Registry mirrors: {mirrors}\n");
        }
        let k = &self.kubeconfig;
        if let Some(file) = &k.file {
            let mode = k.file_mode.as_deref().unwrap_or("missing");
            out += &format!("  Kubeconfig: {file} ({mode})\n");
        }
        let has = match (&k.context_file, k.context_in_default) {
            (Some(file), true) if k.files.len() > 1 => format!("has the context in {file}"),
            (_, true) => "has the context".into(),
            (_, false) => "lacks the context".into(),
        };
        let current = k.current_context.as_deref().unwrap_or("none");
        out += &match &k.error {
            Some(err) => format!(
                "  Default kubeconfig: {} (unusable: {err})\n",
                k.default_file
            ),
            None if k.files.len() > 1 => format!(
                "  Kubeconfig files: {} (new entries go to {}; {has}; current-context {current})\n",
                k.files.join(":"),
                k.default_file
            ),
            None => format!(
                "  Default kubeconfig: {} ({has}; current-context {current})\n",
                k.default_file
            ),
        };
        let e = &self.engine;
        match (&e.engine, &e.error) {
            (Some(engine), _) => {
                out += &format!(
                    "  Engine: {engine} {} at {}\n",
                    e.version.as_deref().unwrap_or("?"),
                    e.host.as_deref().unwrap_or("?")
                )
            }
            (None, Some(err)) => out += &format!("  Engine: none ({err})\n"),
            (None, None) => out += "  Engine: not checked\n",
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn node_views_reads_names_and_ready_condition() {
        let list = json!({"items": [
            {"metadata": {"name": "a"}, "status": {"conditions": [{"type": "Ready", "status": "True"}]}},
            {"metadata": {"name": "b"}, "status": {"conditions": [{"type": "Ready", "status": "False"}]}},
            {"metadata": {"name": "c"}}
        ]});
        assert_eq!(
            node_views(&list),
            vec![
                NodeView {
                    name: "a".into(),
                    ready: true
                },
                NodeView {
                    name: "b".into(),
                    ready: false
                },
                NodeView {
                    name: "c".into(),
                    ready: false
                },
            ]
        );
    }

    #[test]
    fn pod_views_say_why_a_container_does_not_run() {
        let list = json!({"items": [
            {"metadata": {"name": "gw", "namespace": "ns"},
             "status": {"phase": "Pending", "containerStatuses": [
                {"state": {"waiting": {"reason": "ErrImagePull", "message": "failed to pull: connection refused"}}}]}},
            {"metadata": {"name": "sb", "namespace": "ns"},
             "status": {"phase": "Pending",
                "initContainerStatuses": [{"state": {"terminated": {"reason": "Error", "exitCode": 1}}}],
                "containerStatuses": [{"state": {"waiting": {"reason": "PodInitializing"}}}]}},
            {"metadata": {"name": "ok", "namespace": "ns"},
             "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                "initContainerStatuses": [{"state": {"terminated": {"reason": "Completed", "exitCode": 0}}}],
                "containerStatuses": [{"state": {"running": {}}}]}}
        ]});
        let reasons: Vec<_> = pod_views(&list)
            .into_iter()
            .map(|p| (p.name, p.phase, p.ready, p.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (
                    "gw".into(),
                    "Pending".into(),
                    false,
                    Some("ErrImagePull: failed to pull: connection refused".into())
                ),
                ("sb".into(), "Pending".into(), false, Some("Error".into())),
                ("ok".into(), "Running".into(), true, None),
            ]
        );
    }

    #[test]
    fn mode_string_is_four_octal_digits() {
        assert_eq!(mode_string(0o100600), "0600");
        assert_eq!(mode_string(0o644), "0644");
    }

    #[test]
    fn render_shows_every_part_on_its_own_line() {
        let status = StatusReport {
            mode: "local",
            provider: Provider::K3d,
            cluster: ClusterView {
                name: "dev".into(),
                context: "k3d-dev".into(),
                state: "running".into(),
                servers: Some("1/1".into()),
                agents: Some("1/1".into()),
                error: None,
            },
            nodes: vec![NodeView {
                name: "k3d-dev-server-0".into(),
                ready: true,
            }],
            pods: vec![
                PodView {
                    namespace: "openshell".into(),
                    name: "openshell-0".into(),
                    phase: "Pending".into(),
                    ready: false,
                    reason: Some(
                        "ImagePullBackOff: Back-off pulling image \"reg:5000/gw:dev\"".into(),
                    ),
                },
                PodView {
                    namespace: "openshell".into(),
                    name: "sandbox".into(),
                    phase: "Running".into(),
                    ready: true,
                    reason: None,
                },
            ],
            registry: RegistryView {
                name: "reg".into(),
                state: "running".into(),
                container: "k3d-reg".into(),
                push: "localhost:5000".into(),
                pull: "reg:5000".into(),
                mirrors: None,
            },
            kubeconfig: KubeconfigView {
                file: Some("/h/.kube/k3d-dev.yaml".into()),
                file_exists: true,
                file_mode: Some("0600".into()),
                default_file: "/h/.kube/config".into(),
                files: vec!["/h/.kube/config".into()],
                context_in_default: true,
                context_file: Some("/h/.kube/config".into()),
                current_context: Some("k3d-dev".into()),
                error: None,
            },
            engine: EngineView {
                engine: Some("podman".into()),
                host: Some("unix:///run/podman.sock".into()),
                version: Some("4.3.1".into()),
                error: None,
            },
        };
        assert_eq!(
            status.render(),
            "k8s-dev status (local)\n\n\
             \x20 Provider: k3d\n\
             \x20 Cluster: dev (running, servers 1/1, agents 1/1)\n\
             \x20 Context: k3d-dev\n\
             \x20 Nodes: k3d-dev-server-0 Ready\n\
             \x20 Pod: openshell/openshell-0 Pending (ImagePullBackOff: Back-off pulling image \"reg:5000/gw:dev\")\n\
             \x20 Pod: openshell/sandbox Ready\n\
             \x20 Registry: reg (running; push localhost:5000, pull reg:5000)\n\
             \x20 Kubeconfig: /h/.kube/k3d-dev.yaml (0600)\n\
             \x20 Default kubeconfig: /h/.kube/config (has the context; current-context k3d-dev)\n\
             \x20 Engine: podman 4.3.1 at unix:///run/podman.sock\n"
        );
    }

    #[test]
    fn render_names_every_kubeconfig_file_and_an_unusable_one() {
        let mut view = KubeconfigView {
            file: None,
            file_exists: false,
            file_mode: None,
            default_file: "/b".into(),
            files: vec!["/a".into(), "/b".into()],
            context_in_default: true,
            context_file: Some("/a".into()),
            current_context: Some("prod".into()),
            error: None,
        };
        let line = |view: &KubeconfigView| {
            let status = StatusReport {
                mode: "remote",
                provider: Provider::K3d,
                cluster: ClusterView {
                    name: "prod".into(),
                    context: "prod".into(),
                    state: "reachable".into(),
                    servers: None,
                    agents: None,
                    error: None,
                },
                nodes: Vec::new(),
                pods: Vec::new(),
                registry: RegistryView {
                    name: "reg".into(),
                    state: "external".into(),
                    container: "k3d-reg".into(),
                    push: "r:5000".into(),
                    pull: "r:5000".into(),
                    mirrors: None,
                },
                kubeconfig: view.clone(),
                engine: EngineView {
                    engine: None,
                    host: None,
                    version: None,
                    error: None,
                },
            };
            status
                .render()
                .lines()
                .find(|l| l.contains("ubeconfig"))
                .unwrap()
                .to_owned()
        };
        assert_eq!(
            line(&view),
            "  Kubeconfig files: /a:/b (new entries go to /b; has the context in /a; current-context prod)"
        );
        view.error =
            Some("kubeconfig /a is a FIFO (named pipe), not a regular file; fix: …".into());
        assert_eq!(
            line(&view),
            "  Default kubeconfig: /b (unusable: kubeconfig /a is a FIFO (named pipe), not a regular file; fix: …)"
        );
    }
}
