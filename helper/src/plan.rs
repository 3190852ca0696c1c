// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What `up` and `down` do, decided from what exists (ctlptl's compare-decide-act). The task
//! script only acts on the plan: [`up`] and [`down`] are pure functions of an [`Observed`] and
//! the [`Settings`], so every combination of cluster, load balancer and registry state is a
//! unit test. `observe.rs` gathers the [`Observed`].

use serde::Serialize;

use crate::k3d::{ObjectState, Part, Seen};
use crate::settings::Settings;

/// Everything the plans look at.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub k3d: Seen,
    /// Whether the container network exists.
    pub network: bool,
    /// Whether the engine has the k3s image (K8S_DEV_K3S_IMAGE) already.
    pub node_image: bool,
    /// Host ports that could not be bound, by setting, with the one-line reason.
    pub busy_ports: Vec<(&'static str, String)>,
    pub kubeconfig: KubeconfigSeen,
}

/// The two kubeconfigs `up` writes.
#[derive(Debug, Clone, Serialize)]
pub struct KubeconfigSeen {
    /// Why a file could not be written (a directory, not a kubeconfig, not writable), one line
    /// each; `up` stops before creating anything.
    pub problems: Vec<String>,
    pub cluster_file: ClusterFile,
    /// The default kubeconfig already has the cluster file's entries (and its current-context,
    /// when `K8S_DEV_SWITCH_CONTEXT` asks for it).
    pub default_current: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClusterFile {
    Missing,
    /// It exists but has no context of the cluster.
    WithoutContext,
    WithContext,
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    None,
    Create,
    Start,
    Delete,
    Keep,
    /// Kubeconfig: get it from k3d and merge it into both files.
    Refresh,
    /// Kubeconfig: merge the cluster's file into the default one.
    Merge,
    Publish,
    /// The node image: pull it before k3d runs.
    Pull,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Start => "start",
            Action::Delete => "delete",
            Action::Keep => "keep",
            Action::Refresh => "refresh",
            Action::Merge => "merge",
            Action::Publish => "publish",
            Action::Pull => "pull",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpPlan {
    pub network: Action,
    pub registry: Action,
    /// Pull the k3s image first: k3d's timeout (options.k3d.timeout, K8S_DEV_TIMEOUT) also
    /// covers pulling it, which alone can outlast it on a cold machine or a slow link, and k3d
    /// then rolls the new cluster back. Pulled apart, the limit covers only the start.
    pub node_image: Action,
    pub cluster: Action,
    pub kubeconfig: Action,
    pub configmap: Action,
    /// What was there before, for the summary (`was running`).
    pub registry_was: ObjectState,
    pub cluster_was: ObjectState,
}

/// Decide `up`: what to create or start, or every reason it cannot go ahead (one line each,
/// with the fix). Nothing has been touched when this refuses.
pub fn up(o: &Observed, s: &Settings) -> Result<UpPlan, Vec<String>> {
    let k = &o.k3d;
    let cluster = s.get("K8S_DEV_CLUSTER");
    let registry_name = s.get("K8S_DEV_REGISTRY_NAME");
    let mut blockers: Vec<String> = o.kubeconfig.problems.clone();
    for f in &k.foreign {
        let (part, why) = (f.part, &f.why);
        let setting = match part {
            Part::Registry => "K8S_DEV_REGISTRY_NAME",
            Part::Nodes | Part::LoadBalancer => "K8S_DEV_CLUSTER",
        };
        blockers.push(format!(
            "{why}; remove it, or set {setting} to another name"
        ));
    }

    let registry = match k.registry {
        ObjectState::Missing => Action::Create,
        ObjectState::Stopped | ObjectState::Partial => Action::Start,
        ObjectState::Running | ObjectState::Foreign => Action::None,
    };
    let wanted_registry_port = s.port("K8S_DEV_REGISTRY_PORT");
    if let Some(port) = k.registry_port.filter(|p| *p != wanted_registry_port) {
        blockers.push(format!(
            "registry k3d-{registry_name} publishes port {port}, but K8S_DEV_REGISTRY_PORT is \
             {wanted_registry_port}; set K8S_DEV_REGISTRY_PORT={port}, or delete the registry to \
             re-create it (mise run k8s:dev:down --registry)"
        ));
    }

    use ObjectState::*;
    let cluster_action = match (k.nodes, k.load_balancer) {
        (Foreign, _) | (_, Foreign) => Action::None,
        (Missing, Missing) => Action::Create,
        (Missing, _) => {
            blockers.push(format!(
                "cluster {cluster} is incomplete: only its load balancer k3d-{cluster}-serverlb \
                 exists; delete it (mise run k8s:dev:down), then run up again"
            ));
            Action::None
        }
        (_, Missing) => {
            blockers.push(format!(
                "cluster {cluster} has no load balancer, so K8S_DEV_LB_PORT cannot reach it (it \
                 was not created from the kit's config); re-create it: mise run k8s:dev:down && \
                 mise run k8s:dev:up"
            ));
            Action::None
        }
        (Running, Running) => Action::None,
        // A stopped load balancer is a stopped cluster: `k3d cluster start` starts it too.
        (Stopped | Partial | Running, Stopped | Partial | Running) => Action::Start,
    };
    let wanted_api_port = s.port("K8S_DEV_API_PORT");
    if let Some(port) = k.api_port.filter(|p| *p != wanted_api_port) {
        blockers.push(format!(
            "cluster {cluster} serves its API on port {port}, but K8S_DEV_API_PORT is \
             {wanted_api_port}; set K8S_DEV_API_PORT={port}, or re-create the cluster (mise run \
             k8s:dev:down && mise run k8s:dev:up)"
        ));
    }

    // Ports of what runs are held by it; only the ports of what is about to be created or
    // started must be free. k3d publishes the API port on the load balancer too.
    let mut free = Vec::new();
    if matches!(registry, Action::Create | Action::Start) {
        free.push("K8S_DEV_REGISTRY_PORT");
    }
    if matches!(cluster_action, Action::Create | Action::Start) && k.load_balancer != Running {
        free.extend(["K8S_DEV_API_PORT", "K8S_DEV_LB_PORT"]);
    }
    for (setting, why) in &o.busy_ports {
        if free.contains(setting) {
            blockers.push(why.clone());
        }
    }
    if !blockers.is_empty() {
        return Err(blockers);
    }

    let creates = registry == Action::Create || cluster_action == Action::Create;
    let kubeconfig = if cluster_action != Action::None
        || o.kubeconfig.cluster_file != ClusterFile::WithContext
    {
        Action::Refresh
    } else if !o.kubeconfig.default_current {
        Action::Merge
    } else {
        Action::None
    };
    Ok(UpPlan {
        network: if creates && !o.network {
            Action::Create
        } else {
            Action::None
        },
        registry,
        node_image: if cluster_action == Action::Create && !o.node_image {
            Action::Pull
        } else {
            Action::None
        },
        cluster: cluster_action,
        kubeconfig,
        // KEP-1755: tells Skaffold and Tilt where to push; a running cluster has it already.
        configmap: if cluster_action == Action::None {
            Action::None
        } else {
            Action::Publish
        },
        registry_was: k.registry,
        cluster_was: cluster_state(k),
    })
}

/// The cluster's state for humans: nodes and load balancer together.
pub fn cluster_state(k: &Seen) -> ObjectState {
    use ObjectState::*;
    match (k.nodes, k.load_balancer) {
        (Foreign, _) | (_, Foreign) => Foreign,
        (Missing, Missing) => Missing,
        (Running, Running) => Running,
        (Stopped, Stopped | Missing) | (Missing, Stopped) => Stopped,
        _ => Partial,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownPlan {
    pub cluster: Action,
    pub registry: Action,
    pub registry_was: ObjectState,
    /// Containers left alone because k3d did not make them, one line each.
    pub warnings: Vec<String>,
}

/// Decide `down`: delete what k3d made for the kit, never a stranger's container.
pub fn down(o: &Observed, delete_registry: bool) -> DownPlan {
    let k = &o.k3d;
    let cluster = match cluster_state(k) {
        ObjectState::Missing | ObjectState::Foreign => Action::None,
        _ => Action::Delete,
    };
    let registry = match (k.registry, delete_registry) {
        (ObjectState::Missing | ObjectState::Foreign, _) => Action::None,
        (_, true) => Action::Delete,
        (_, false) => Action::Keep,
    };
    let warnings = k
        .foreign
        .iter()
        .map(|f| format!("left alone: {}", f.why))
        .collect();
    DownPlan {
        cluster,
        registry,
        registry_was: k.registry,
        warnings,
    }
}

impl UpPlan {
    /// Shell assignments for the task script: `PLAN_REGISTRY=create` …
    pub fn shell(&self) -> String {
        format!(
            "PLAN_NETWORK={}\nPLAN_REGISTRY={}\nPLAN_NODE_IMAGE={}\nPLAN_CLUSTER={}\n\
             PLAN_KUBECONFIG={}\nPLAN_CONFIGMAP={}\nPLAN_REGISTRY_WAS={}\nPLAN_CLUSTER_WAS={}\n",
            self.network.as_str(),
            self.registry.as_str(),
            self.node_image.as_str(),
            self.cluster.as_str(),
            self.kubeconfig.as_str(),
            self.configmap.as_str(),
            self.registry_was.as_str(),
            self.cluster_was.as_str(),
        )
    }
}

impl DownPlan {
    pub fn shell(&self) -> String {
        format!(
            "PLAN_CLUSTER={}\nPLAN_REGISTRY={}\nPLAN_REGISTRY_WAS={}\n",
            self.cluster.as_str(),
            self.registry.as_str(),
            self.registry_was.as_str()
        )
    }
}

/// The KEP-1755 `local-registry-hosting` ConfigMap: where Skaffold and Tilt push for this
/// cluster (the host's name) and how its runtime pulls (the in-cluster name).
pub fn registry_hosting(s: &Settings) -> String {
    // Every value is validated to a registry-name character set: nothing here can leave its
    // quotes.
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-registry-hosting\n  \
         namespace: kube-public\ndata:\n  localRegistryHosting.v1: |\n    host: \"{}\"\n    \
         hostFromClusterNetwork: \"k3d-{}:5000\"\n    hostFromContainerRuntime: \"{}\"\n    \
         help: \"https://github.com/k8s-dev/k8s-dev#settings\"\n",
        s.get("K8S_DEV_REGISTRY"),
        s.get("K8S_DEV_REGISTRY_NAME"),
        s.get("K8S_DEV_REGISTRY_PULL"),
    )
}

/// Whether kubectl's complaint means the kubeconfig holds another cluster's credentials (the
/// cluster was re-created outside the kit): then `up` fetches it from k3d again.
pub fn stale_credentials(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    [
        "x509:",
        "certificate signed by unknown authority",
        "invalid peer certificate",
        "unauthorized",
        "provide credentials",
    ]
    .iter()
    .any(|needle| reason.contains(needle))
}

/// An error of several lines, one `error:` each (main prints the first prefix).
#[derive(Debug)]
pub struct Blockers(pub Vec<String>);

impl std::fmt::Display for Blockers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join("\nerror: "))
    }
}

impl std::error::Error for Blockers {}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::env::{Env, Os};
    use ObjectState::*;

    const STATES: [ObjectState; 4] = [Missing, Stopped, Running, Foreign];

    fn settings() -> Settings {
        let env = Env {
            home: Some(PathBuf::from("/home/dev")),
            ..Env::empty(Os::Linux)
        };
        Settings::resolve(
            &env.with(&[("K8S_DEV_CLUSTER", "dev"), ("K8S_DEV_REGISTRY_NAME", "reg")]),
            None,
        )
        .unwrap()
    }

    /// A world with the given parts; ports free, kubeconfigs up to date, network present.
    fn observed(nodes: ObjectState, lb: ObjectState, registry: ObjectState) -> Observed {
        let mut foreign = Vec::new();
        for (state, part, container) in [
            (nodes, Part::Nodes, "k3d-dev-server-0"),
            (lb, Part::LoadBalancer, "k3d-dev-serverlb"),
            (registry, Part::Registry, "k3d-reg"),
        ] {
            if state == Foreign {
                foreign.push(crate::k3d::Foreign {
                    part,
                    why: format!("container {container} exists but was not created by k3d"),
                });
            }
        }
        let exists = |s: ObjectState| !matches!(s, Missing | Foreign);
        Observed {
            k3d: Seen {
                nodes,
                servers: (0, 0),
                agents: (0, 0),
                load_balancer: lb,
                api_port: exists(nodes).then_some(6550),
                registry,
                registry_port: exists(registry).then_some(5000),
                foreign,
            },
            network: true,
            node_image: true,
            busy_ports: Vec::new(),
            kubeconfig: KubeconfigSeen {
                problems: Vec::new(),
                cluster_file: ClusterFile::WithContext,
                default_current: true,
            },
        }
    }

    /// The decision table, as prose: every combination of cluster nodes, load balancer and
    /// registry, each missing, stopped, running or foreign.
    fn expected(
        nodes: ObjectState,
        lb: ObjectState,
        registry: ObjectState,
    ) -> Result<(Action, Action), usize> {
        let mut blockers = 0;
        let registry_action = match registry {
            Missing => Action::Create,
            Stopped => Action::Start,
            Running => Action::None,
            Foreign => {
                blockers += 1;
                Action::None
            }
            Partial => unreachable!(),
        };
        let cluster_action = match (nodes, lb) {
            (Foreign, Foreign) => {
                blockers += 2;
                Action::None
            }
            (Foreign, _) | (_, Foreign) => {
                blockers += 1;
                Action::None
            }
            (Missing, Missing) => Action::Create,
            (Missing, _) | (_, Missing) => {
                blockers += 1;
                Action::None
            }
            (Running, Running) => Action::None,
            _ => Action::Start,
        };
        if blockers > 0 {
            Err(blockers)
        } else {
            Ok((registry_action, cluster_action))
        }
    }

    #[test]
    fn every_combination_of_nodes_load_balancer_and_registry() {
        let s = settings();
        let mut cases = 0;
        for nodes in STATES {
            for lb in STATES {
                for registry in STATES {
                    let o = observed(nodes, lb, registry);
                    let got = up(&o, &s);
                    let case = format!("nodes {nodes:?}, lb {lb:?}, registry {registry:?}");
                    match (expected(nodes, lb, registry), got) {
                        (Ok((r, c)), Ok(plan)) => {
                            assert_eq!((plan.registry, plan.cluster), (r, c), "{case}");
                            let touched = c != Action::None;
                            assert_eq!(plan.configmap == Action::Publish, touched, "{case}");
                            assert_eq!(
                                plan.kubeconfig,
                                if touched {
                                    Action::Refresh
                                } else {
                                    Action::None
                                },
                                "{case}"
                            );
                            assert_eq!(plan.network, Action::None, "{case}: the network exists");
                        }
                        (Err(n), Err(blockers)) => {
                            assert_eq!(blockers.len(), n, "{case}: {blockers:?}");
                            for b in &blockers {
                                assert!(b.contains("; "), "{case}: no fix in {b}");
                            }
                        }
                        (want, got) => panic!("{case}: want {want:?}, got {got:?}"),
                    }
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 64);
    }

    /// The plans on what the real k3d 5.9 listed (`k3d node list -o json`, recorded by
    /// tests/data/recorded/record.sh over the stand-in images): the kit's cluster and registry
    /// running, its load balancer stopped (`k3d node stop`), an agent stopped, the cluster
    /// stopped, only the registry, nothing.
    #[test]
    fn plans_from_the_real_k3d_listings() {
        use crate::k3d::{Seen, parse_nodes, recorded};
        for (case, want_up, want_down) in [
            ("node-list", (Action::None, Action::None), Action::Delete),
            (
                "node-list-lb-stopped",
                (Action::None, Action::Start),
                Action::Delete,
            ),
            (
                "node-list-partial",
                (Action::None, Action::Start),
                Action::Delete,
            ),
            (
                "node-list-stopped",
                (Action::None, Action::Start),
                Action::Delete,
            ),
            (
                "node-list-registry",
                (Action::None, Action::Create),
                Action::None,
            ),
            (
                "node-list-none",
                (Action::Create, Action::Create),
                Action::None,
            ),
        ] {
            let rec = recorded::k3d(case);
            let (cluster, registry) = (&rec.vars["CLUSTER"], &rec.vars["NAME"]);
            // The ports of that run (node-list-none was recorded before the cluster had one).
            let mut pairs = vec![
                ("K8S_DEV_CLUSTER", cluster.as_str()),
                ("K8S_DEV_REGISTRY_NAME", registry.as_str()),
                ("K8S_DEV_REGISTRY_PORT", rec.vars["PORT"].as_str()),
            ];
            if let Some(port) = rec.vars.get("API_PORT") {
                pairs.push(("K8S_DEV_API_PORT", port));
            }
            let env = Env::empty(Os::Linux).with(&pairs);
            let s = Settings::resolve(&env, None).unwrap();
            let mut o = observed(Missing, Missing, Missing);
            o.k3d = Seen::of(&parse_nodes(&rec.stdout).unwrap(), cluster, registry);
            let plan = up(&o, &s).unwrap_or_else(|b| panic!("{case}: {b:?}"));
            assert_eq!((plan.registry, plan.cluster), want_up, "{case}");
            let down = down(&o, false);
            assert_eq!(down.cluster, want_down, "{case}");
            let keep = if o.k3d.registry.exists() {
                Action::Keep
            } else {
                Action::None
            };
            assert_eq!(down.registry, keep, "{case}");
        }
    }

    #[test]
    fn a_stopped_load_balancer_is_a_stopped_cluster() {
        let plan = up(&observed(Running, Stopped, Running), &settings()).unwrap();
        assert_eq!(plan.cluster, Action::Start);
        assert_eq!(plan.cluster_was, Partial);
    }

    #[test]
    fn a_partly_running_cluster_is_started() {
        let plan = up(&observed(Partial, Running, Running), &settings()).unwrap();
        assert_eq!(plan.cluster, Action::Start);
    }

    #[test]
    fn foreign_containers_are_named_with_the_setting_to_change() {
        let blockers = up(&observed(Running, Running, Foreign), &settings()).unwrap_err();
        assert_eq!(
            blockers,
            [
                "container k3d-reg exists but was not created by k3d; remove it, or set K8S_DEV_REGISTRY_NAME to another name"
            ]
        );
        let blockers = up(&observed(Missing, Foreign, Running), &settings()).unwrap_err();
        assert!(
            blockers[0].ends_with("set K8S_DEV_CLUSTER to another name"),
            "{blockers:?}"
        );
    }

    #[test]
    fn only_the_ports_of_what_is_created_or_started_must_be_free() {
        let busy = |o: &mut Observed| {
            o.busy_ports = vec![
                ("K8S_DEV_REGISTRY_PORT", "port 5000 on 127.0.0.1 is in use by another program; stop it or set K8S_DEV_REGISTRY_PORT".into()),
                ("K8S_DEV_API_PORT", "port 6550 on 127.0.0.1 is in use by another program; stop it or set K8S_DEV_API_PORT".into()),
            ];
        };
        let mut o = observed(Running, Running, Running);
        busy(&mut o);
        assert!(
            up(&o, &settings()).is_ok(),
            "everything runs: the ports are its own"
        );
        let mut o = observed(Stopped, Stopped, Running);
        busy(&mut o);
        assert_eq!(
            up(&o, &settings()).unwrap_err(),
            [
                "port 6550 on 127.0.0.1 is in use by another program; stop it or set K8S_DEV_API_PORT"
            ]
        );
        let mut o = observed(Missing, Missing, Missing);
        busy(&mut o);
        assert_eq!(up(&o, &settings()).unwrap_err().len(), 2);
        // Agents stopped, load balancer running: it holds the API and LB ports itself.
        let mut o = observed(Partial, Running, Running);
        busy(&mut o);
        assert!(up(&o, &settings()).is_ok());
    }

    #[test]
    fn a_registry_on_another_port_is_refused_with_both_fixes() {
        let mut o = observed(Running, Running, Running);
        o.k3d.registry_port = Some(5001);
        let blockers = up(&o, &settings()).unwrap_err();
        assert_eq!(blockers.len(), 1);
        assert!(
            blockers[0].contains("publishes port 5001, but K8S_DEV_REGISTRY_PORT is 5000"),
            "{blockers:?}"
        );
        assert!(
            blockers[0].contains("set K8S_DEV_REGISTRY_PORT=5001"),
            "{blockers:?}"
        );
    }

    #[test]
    fn a_cluster_on_another_api_port_is_refused() {
        let mut o = observed(Running, Running, Running);
        o.k3d.api_port = Some(6551);
        let blockers = up(&o, &settings()).unwrap_err();
        assert!(
            blockers[0].contains("serves its API on port 6551"),
            "{blockers:?}"
        );
    }

    #[test]
    fn kubeconfig_problems_stop_up_before_anything_is_created() {
        let mut o = observed(Missing, Missing, Missing);
        o.kubeconfig.problems =
            vec!["checking kubeconfig /h/.kube/config: … fix: repair it".into()];
        assert_eq!(up(&o, &settings()).unwrap_err().len(), 1);
    }

    #[test]
    fn kubeconfig_is_refreshed_merged_or_left_alone() {
        let s = settings();
        let mut o = observed(Running, Running, Running);
        assert_eq!(up(&o, &s).unwrap().kubeconfig, Action::None);
        o.kubeconfig.default_current = false;
        assert_eq!(up(&o, &s).unwrap().kubeconfig, Action::Merge);
        o.kubeconfig.cluster_file = ClusterFile::WithoutContext;
        assert_eq!(up(&o, &s).unwrap().kubeconfig, Action::Refresh);
        o.kubeconfig.cluster_file = ClusterFile::Missing;
        assert_eq!(up(&o, &s).unwrap().kubeconfig, Action::Refresh);
    }

    #[test]
    fn the_node_image_is_pulled_only_for_a_new_cluster_and_only_when_missing() {
        let s = settings();
        let mut o = observed(Missing, Missing, Running);
        o.node_image = false;
        assert_eq!(up(&o, &s).unwrap().node_image, Action::Pull);
        o.node_image = true;
        assert_eq!(up(&o, &s).unwrap().node_image, Action::None);
        let mut o = observed(Stopped, Stopped, Running);
        o.node_image = false;
        assert_eq!(
            up(&o, &s).unwrap().node_image,
            Action::None,
            "a stopped cluster's nodes exist: k3d pulls nothing to start them"
        );
    }

    #[test]
    fn the_network_is_created_only_for_what_is_created() {
        let s = settings();
        let mut o = observed(Missing, Missing, Running);
        o.network = false;
        assert_eq!(up(&o, &s).unwrap().network, Action::Create);
        let mut o = observed(Stopped, Stopped, Stopped);
        o.network = false;
        assert_eq!(up(&o, &s).unwrap().network, Action::None);
    }

    #[test]
    fn down_deletes_what_k3d_made_and_leaves_strangers_alone() {
        for nodes in STATES {
            for lb in STATES {
                for registry in STATES {
                    for delete_registry in [false, true] {
                        let o = observed(nodes, lb, registry);
                        let plan = down(&o, delete_registry);
                        let case = format!("{nodes:?} {lb:?} {registry:?} {delete_registry}");
                        let cluster_foreign = nodes == Foreign || lb == Foreign;
                        let cluster_gone = nodes == Missing && lb == Missing;
                        assert_eq!(
                            plan.cluster,
                            if cluster_foreign || cluster_gone {
                                Action::None
                            } else {
                                Action::Delete
                            },
                            "{case}"
                        );
                        let want_registry = match (registry, delete_registry) {
                            (Missing | Foreign, _) => Action::None,
                            (_, true) => Action::Delete,
                            (_, false) => Action::Keep,
                        };
                        assert_eq!(plan.registry, want_registry, "{case}");
                        assert_eq!(plan.warnings.len(), o.k3d.foreign.len(), "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn registry_hosting_names_the_derived_registry() {
        let env = Env::empty(Os::Linux).with(&[
            ("K8S_DEV_REGISTRY_PORT", "5001"),
            ("K8S_DEV_REGISTRY_NAME", "reg"),
        ]);
        let s = Settings::resolve(&env, None).unwrap();
        let cm = registry_hosting(&s);
        assert!(cm.contains("    host: \"localhost:5001\"\n"), "{cm}");
        assert!(
            cm.contains("    hostFromClusterNetwork: \"k3d-reg:5000\"\n"),
            "{cm}"
        );
        assert!(
            cm.contains("    hostFromContainerRuntime: \"reg:5000\"\n"),
            "{cm}"
        );
        let parsed: serde_json::Value = serde_saphyr::from_str(&cm).unwrap();
        assert_eq!(parsed["metadata"]["namespace"], "kube-public");
    }

    #[test]
    fn stale_credentials_are_recognised() {
        assert!(stale_credentials(
            "Unable to connect to the server: tls: failed to verify certificate: x509: certificate signed by unknown authority"
        ));
        assert!(stale_credentials(
            "error: You must be logged in to the server (Unauthorized)"
        ));
        assert!(stale_credentials(
            "error sending request: invalid peer certificate: UnknownIssuer"
        ));
        assert!(!stale_credentials(
            "dial tcp 127.0.0.1:6550: connect: connection refused"
        ));
    }

    #[test]
    fn shell_form_of_a_plan() {
        let plan = up(&observed(Running, Stopped, Missing), &settings()).unwrap();
        assert_eq!(
            plan.shell(),
            "PLAN_NETWORK=none\nPLAN_REGISTRY=create\nPLAN_NODE_IMAGE=none\nPLAN_CLUSTER=start\n\
             PLAN_KUBECONFIG=refresh\nPLAN_CONFIGMAP=publish\nPLAN_REGISTRY_WAS=missing\n\
             PLAN_CLUSTER_WAS=partial\n"
        );
    }
}
