// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What `up` and `down` do, decided from what exists (ctlptl's compare-decide-act), for every
//! provider. The task script only acts on the plan: [`up`] and [`down`] are pure functions of an
//! [`Observed`], the provider's capabilities and the [`Settings`], so every combination of
//! cluster, registry and mirror state is a unit test.
//!
//! The provider enters at the edge: `observe.rs` reads what exists and each provider
//! (`provider::k3d`, `provider::kind`, `provider::k3s`) says what it means in the neutral terms
//! here (a state, what is foreign, what is broken, each with its fix).

use serde::Serialize;

use crate::provider::{ObjectState, Provider};
use crate::settings::Settings;

/// Everything the plans look at.
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    pub provider: Provider,
    pub cluster: ClusterSeen,
    pub registry: RegistrySeen,
    /// k3d: the network K8S_DEV_NETWORK exists (k3d needs it before anything joins it). kind:
    /// the registry container is on kind's network. k3s: unused (the registry is on the
    /// host's network).
    pub network: bool,
    /// The cluster's containerd mirrors of the registry's names.
    pub mirrors: Mirrors,
    /// Host ports that could not be bound, by setting, with the one-line reason.
    pub busy_ports: Vec<(&'static str, String)>,
    pub kubeconfig: KubeconfigSeen,
}

/// The kit's cluster, as its provider shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterSeen {
    /// k3d: nodes and load balancer together; kind: the node containers; k3s: whether its
    /// kubeconfig is there (Missing) and its API answers (Running) or not (Stopped).
    pub state: ObjectState,
    /// Running and total of the servers (kind: control planes) and agents (kind: workers).
    pub servers: (usize, usize),
    pub agents: (usize, usize),
    /// The host port of its API where the provider records it apart (k3d's label).
    pub api_port: Option<u16>,
    /// What runs already holds the API and gateway host ports (k3d: its load balancer; kind:
    /// the control plane): those ports are its own, not busy.
    pub holds_ports: bool,
    /// What has the cluster's names but is not the kit's; the state is then Foreign.
    pub foreign: Vec<Foreign>,
    /// Why the cluster cannot be used or completed as it is, one line each with its fix (a k3d
    /// cluster without its load balancer, an attached k3s that does not answer).
    pub defects: Vec<String>,
}

/// The kit's registry container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrySeen {
    pub state: ObjectState,
    /// The host port it publishes.
    pub port: Option<u16>,
    pub foreign: Vec<Foreign>,
}

/// Something with one of the kit's names that the kit did not make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foreign {
    /// `container k3d-x exists but was not created by k3d`.
    pub why: String,
    /// What the user can do: `remove it, or set K8S_DEV_CLUSTER to another name`.
    pub fix: String,
}

impl Foreign {
    pub fn line(&self) -> String {
        format!("{}; {}", self.why, self.fix)
    }
}

/// Whether the cluster's containerd sends pulls of the registry's push and pull names to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state")]
pub enum Mirrors {
    /// k3d writes them into its nodes from the cluster config.
    ByProvider,
    UpToDate,
    /// Missing or different (kind: in a node; k3s: in registries.yaml): the kit writes them.
    Stale,
    /// Not readable: kind's nodes do not run. The kit writes them when it starts the nodes.
    Unknown,
    /// k3s: registries.yaml lacks them and this user may not write it. `steps` (the exact file
    /// and the restart) are printed for the user to run.
    NotWritable {
        file: String,
        steps: String,
    },
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
    /// kind: connect an existing registry to kind's network (a new one is created on it).
    Connect,
    /// Mirrors: write them (kind: into every node; k3s: registries.yaml).
    Write,
    /// Kubeconfig: get it from the provider and merge it into both files.
    Refresh,
    /// Kubeconfig: merge the cluster's file into the default one.
    Merge,
    Publish,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Create => "create",
            Action::Start => "start",
            Action::Delete => "delete",
            Action::Keep => "keep",
            Action::Connect => "connect",
            Action::Write => "write",
            Action::Refresh => "refresh",
            Action::Merge => "merge",
            Action::Publish => "publish",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UpPlan {
    pub network: Action,
    pub registry: Action,
    pub cluster: Action,
    pub mirrors: Action,
    pub kubeconfig: Action,
    pub configmap: Action,
    /// What was there before, for the summary (`was running`).
    pub registry_was: ObjectState,
    pub cluster_was: ObjectState,
}

/// Decide `up`: what to create or start, or every reason it cannot go ahead (one line each,
/// with the fix). Nothing has been touched when this refuses.
pub fn up(o: &Observed, s: &Settings) -> Result<UpPlan, Vec<String>> {
    use ObjectState::*;
    let provider = o.provider;
    let cluster = s.get("K8S_DEV_CLUSTER");
    let mut blockers: Vec<String> = o.kubeconfig.problems.clone();
    blockers.extend(o.cluster.foreign.iter().map(|f| f.line()));
    blockers.extend(o.registry.foreign.iter().map(|f| f.line()));
    blockers.extend(o.cluster.defects.iter().cloned());

    let registry = match o.registry.state {
        Missing => Action::Create,
        Stopped | Partial => Action::Start,
        Running | Foreign => Action::None,
    };
    let wanted_registry_port = s.port("K8S_DEV_REGISTRY_PORT");
    if let Some(port) = o.registry.port.filter(|p| *p != wanted_registry_port) {
        blockers.push(format!(
            "registry {} publishes port {port}, but K8S_DEV_REGISTRY_PORT is \
             {wanted_registry_port}; set K8S_DEV_REGISTRY_PORT={port}, or delete the registry to \
             re-create it (mise run k8s:dev:down --registry)",
            s.get("K8S_DEV_REGISTRY_CONTAINER")
        ));
    }

    let usable = o.cluster.foreign.is_empty() && o.cluster.defects.is_empty();
    let owns = provider.owns_cluster();
    let cluster_action = match o.cluster.state {
        _ if !usable => Action::None,
        Running | Foreign => Action::None,
        Missing if owns => Action::Create,
        // A stopped k3d load balancer is a stopped cluster: `k3d cluster start` starts it too.
        Stopped | Partial if owns => Action::Start,
        // The host's k3s is never created or started by the kit; its observation says why it
        // does not answer (a defect), this is the fallback.
        state => {
            blockers.push(format!(
                "{provider} cluster {cluster} is {}; the kit does not create or start it: start \
                 it yourself, then run up again",
                state.as_str()
            ));
            Action::None
        }
    };
    let wanted_api_port = s.port("K8S_DEV_API_PORT");
    if let Some(port) = o.cluster.api_port.filter(|p| *p != wanted_api_port) {
        blockers.push(format!(
            "cluster {cluster} serves its API on port {port}, but K8S_DEV_API_PORT is \
             {wanted_api_port}; set K8S_DEV_API_PORT={port}, or re-create the cluster (mise run \
             k8s:dev:down && mise run k8s:dev:up)"
        ));
    }

    let mirrors = match (&o.mirrors, provider) {
        (Mirrors::ByProvider, _) => Action::None,
        (Mirrors::NotWritable { file, .. }, _) => {
            blockers.push(format!(
                "{file} does not send pulls of {} to the kit's registry, and you may not write \
                 it; run the commands printed above (they write it and restart k3s), then run \
                 up again",
                mirrored(s)
            ));
            Action::None
        }
        (Mirrors::Stale, _) => Action::Write,
        (Mirrors::Unknown, _) if cluster_action != Action::None => Action::Write,
        (Mirrors::Unknown, _) => Action::None,
        // kind's files live in the nodes: new nodes need them, and a start rewrites them so a
        // node container that was replaced gets them back (compared first: nothing is written
        // when they are there).
        (Mirrors::UpToDate, Provider::Kind) if cluster_action != Action::None => Action::Write,
        (Mirrors::UpToDate, _) => Action::None,
    };

    // Ports of what runs are held by it; only the ports of what is about to be created or
    // started must be free. k3d publishes the API port on the load balancer too.
    let mut free = Vec::new();
    if matches!(registry, Action::Create | Action::Start) {
        free.push("K8S_DEV_REGISTRY_PORT");
    }
    if matches!(cluster_action, Action::Create | Action::Start) && !o.cluster.holds_ports {
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

    let network = match provider {
        Provider::K3d => {
            let creates = registry == Action::Create || cluster_action == Action::Create;
            if creates && !o.network {
                Action::Create
            } else {
                Action::None
            }
        }
        // kind makes its network with the first cluster; a new registry is created on it (after
        // the cluster), one that is not on it joins it.
        Provider::Kind if !o.network && !matches!(registry, Action::Create) => Action::Connect,
        Provider::Kind | Provider::K3s => Action::None,
    };
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
        network,
        registry,
        cluster: cluster_action,
        mirrors,
        kubeconfig,
        // KEP-1755: tells Skaffold and Tilt where to push. A running cluster has it already,
        // unless the kit meets it for the first time (an attached k3s: no kubeconfig yet).
        configmap: if cluster_action != Action::None || kubeconfig == Action::Refresh {
            Action::Publish
        } else {
            Action::None
        },
        registry_was: o.registry.state,
        cluster_was: o.cluster.state,
    })
}

/// `openshell-registry:5000 and localhost:5000`: the names the mirrors cover.
fn mirrored(s: &Settings) -> String {
    crate::provider::Registry::of(s)
        .mirrored_names()
        .join(" and ")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DownPlan {
    pub cluster: Action,
    pub registry: Action,
    pub registry_was: ObjectState,
    /// Containers left alone because the kit did not make them, one line each.
    pub warnings: Vec<String>,
}

/// Decide `down`: delete what the provider made for the kit, never a stranger's container and
/// never the host's k3s. A cluster of the kit's name that is not the kit's stops `down` before
/// anything is deleted, each reason one line with its fix.
pub fn down(o: &Observed, delete_registry: bool) -> Result<DownPlan, Vec<String>> {
    if !o.cluster.foreign.is_empty() {
        return Err(o
            .cluster
            .foreign
            .iter()
            .map(|f| format!("deleting nothing: {}", f.line()))
            .collect());
    }
    let cluster = match o.cluster.state {
        _ if !o.provider.owns_cluster() => Action::None,
        ObjectState::Missing | ObjectState::Foreign => Action::None,
        _ => Action::Delete,
    };
    let registry = match (o.registry.state, delete_registry) {
        (ObjectState::Missing | ObjectState::Foreign, _) => Action::None,
        (_, true) => Action::Delete,
        (_, false) => Action::Keep,
    };
    let warnings = o
        .registry
        .foreign
        .iter()
        .map(|f| format!("left alone: {}", f.why))
        .collect();
    Ok(DownPlan {
        cluster,
        registry,
        registry_was: o.registry.state,
        warnings,
    })
}

/// A plan as shell assignments for the task script: `PLAN_REGISTRY=create` …
pub trait Shell {
    fn shell(&self) -> String;
}

impl Shell for UpPlan {
    fn shell(&self) -> String {
        format!(
            "PLAN_NETWORK={}\nPLAN_REGISTRY={}\nPLAN_CLUSTER={}\nPLAN_MIRRORS={}\n\
             PLAN_KUBECONFIG={}\nPLAN_CONFIGMAP={}\nPLAN_REGISTRY_WAS={}\nPLAN_CLUSTER_WAS={}\n",
            self.network.as_str(),
            self.registry.as_str(),
            self.cluster.as_str(),
            self.mirrors.as_str(),
            self.kubeconfig.as_str(),
            self.configmap.as_str(),
            self.registry_was.as_str(),
            self.cluster_was.as_str(),
        )
    }
}

impl Shell for DownPlan {
    fn shell(&self) -> String {
        format!(
            "PLAN_CLUSTER={}\nPLAN_REGISTRY={}\nPLAN_REGISTRY_WAS={}\n",
            self.cluster.as_str(),
            self.registry.as_str(),
            self.registry_was.as_str()
        )
    }
}

/// Whether kubectl's complaint means the kubeconfig holds another cluster's credentials (the
/// cluster was re-created outside the kit): then `up` fetches it from the provider again.
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
    use crate::k3d::{Part, Seen};
    use ObjectState::*;

    const STATES: [ObjectState; 4] = [Missing, Stopped, Running, Foreign];

    fn settings_of(vars: &[(&str, &str)]) -> Settings {
        let env = Env {
            home: Some(PathBuf::from("/home/dev")),
            ..Env::empty(Os::Linux)
        };
        let mut all = vec![("K8S_DEV_CLUSTER", "dev"), ("K8S_DEV_REGISTRY_NAME", "reg")];
        all.extend_from_slice(vars);
        Settings::resolve(&env.with(&all), None).unwrap()
    }

    fn settings() -> Settings {
        settings_of(&[])
    }

    fn kubeconfig_current() -> KubeconfigSeen {
        KubeconfigSeen {
            problems: Vec::new(),
            cluster_file: ClusterFile::WithContext,
            default_current: true,
        }
    }

    /// A k3d world with the given parts; ports free, kubeconfigs up to date, network present.
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
        k3d_world(&Seen {
            nodes,
            servers: (0, 0),
            agents: (0, 0),
            load_balancer: lb,
            api_port: exists(nodes).then_some(6550),
            registry,
            registry_port: exists(registry).then_some(5000),
            foreign,
        })
    }

    fn k3d_world(k: &Seen) -> Observed {
        Observed {
            provider: Provider::K3d,
            cluster: crate::provider::k3d::cluster_seen(k, "dev"),
            registry: crate::provider::k3d::registry_seen(k),
            network: true,
            mirrors: Mirrors::ByProvider,
            busy_ports: Vec::new(),
            kubeconfig: kubeconfig_current(),
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
    fn k3d_every_combination_of_nodes_load_balancer_and_registry() {
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
                            assert_eq!(plan.mirrors, Action::None, "{case}: k3d writes them");
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
        o.registry.port = Some(5001);
        let blockers = up(&o, &settings()).unwrap_err();
        assert_eq!(blockers.len(), 1);
        assert!(
            blockers[0].contains(
                "registry k3d-reg publishes port 5001, but K8S_DEV_REGISTRY_PORT is 5000"
            ),
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
        o.cluster.api_port = Some(6551);
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
        let plan = up(&o, &s).unwrap();
        assert_eq!(plan.kubeconfig, Action::Refresh);
        assert_eq!(
            plan.configmap,
            Action::Publish,
            "a cluster met without its kubeconfig gets the ConfigMap again"
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
    fn k3d_down_deletes_what_k3d_made_refuses_a_foreign_cluster_and_leaves_strangers_alone() {
        for nodes in STATES {
            for lb in STATES {
                for registry in STATES {
                    for delete_registry in [false, true] {
                        let o = observed(nodes, lb, registry);
                        let decided = down(&o, delete_registry);
                        let case = format!("{nodes:?} {lb:?} {registry:?} {delete_registry}");
                        let cluster_foreign = nodes == Foreign || lb == Foreign;
                        if cluster_foreign {
                            let lines = decided.unwrap_err();
                            assert_eq!(
                                lines.len(),
                                usize::from(nodes == Foreign) + usize::from(lb == Foreign),
                                "{case}"
                            );
                            assert!(
                                lines[0].starts_with("deleting nothing: container "),
                                "{case}"
                            );
                            continue;
                        }
                        let plan = decided.unwrap();
                        let cluster_gone = nodes == Missing && lb == Missing;
                        assert_eq!(
                            plan.cluster,
                            if cluster_gone {
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
                        assert_eq!(
                            plan.warnings.len(),
                            usize::from(registry == Foreign),
                            "{case}"
                        );
                    }
                }
            }
        }
    }

    // --- kind ---------------------------------------------------------------------------------

    /// A kind world: the cluster (its nodes' state, or foreign: a cluster of that name the kit
    /// did not make), the registry container and whether it is on kind's network.
    fn kind_world(cluster: ObjectState, registry: ObjectState, on_network: bool) -> Observed {
        let foreign = if cluster == Foreign {
            vec![crate::provider::kind::foreign(
                "dev",
                &["its API (6443/tcp) is on 127.0.0.1:41234, not on 127.0.0.1:6550".into()],
            )]
        } else {
            Vec::new()
        };
        let registry_foreign = if registry == Foreign {
            vec![super::Foreign {
                why: "container reg exists but was not created by k8s-dev".into(),
                fix: "remove it, or set K8S_DEV_REGISTRY_NAME to another name".into(),
            }]
        } else {
            Vec::new()
        };
        Observed {
            provider: Provider::Kind,
            cluster: ClusterSeen {
                state: cluster,
                servers: (0, 0),
                agents: (0, 0),
                api_port: None,
                holds_ports: cluster == Running,
                foreign,
                defects: Vec::new(),
            },
            registry: RegistrySeen {
                state: registry,
                port: registry
                    .exists()
                    .then_some(5000)
                    .filter(|_| registry != Foreign),
                foreign: registry_foreign,
            },
            network: on_network,
            mirrors: if cluster == Running {
                Mirrors::UpToDate
            } else {
                Mirrors::Unknown
            },
            busy_ports: Vec::new(),
            kubeconfig: kubeconfig_current(),
        }
    }

    #[test]
    fn kind_every_combination_of_cluster_registry_and_network() {
        let s = settings_of(&[("K8S_DEV_PROVIDER", "kind")]);
        let mut cases = 0;
        for cluster in [Missing, Stopped, Partial, Running, Foreign] {
            for registry in [Missing, Stopped, Running, Foreign] {
                for on_network in [false, true] {
                    let o = kind_world(cluster, registry, on_network);
                    let case = format!(
                        "cluster {cluster:?}, registry {registry:?}, on kind's network {on_network}"
                    );
                    cases += 1;
                    let want_blockers =
                        usize::from(cluster == Foreign) + usize::from(registry == Foreign);
                    let plan = match up(&o, &s) {
                        Err(lines) => {
                            assert_eq!(lines.len(), want_blockers, "{case}: {lines:?}");
                            assert!(want_blockers > 0, "{case}: {lines:?}");
                            if cluster == Foreign {
                                assert!(
                                    lines[0].starts_with("kind cluster 'dev' exists but is not the one k8s-dev makes ("),
                                    "{case}: {lines:?}"
                                );
                                assert!(
                                    lines[0].contains("kind delete cluster --name dev"),
                                    "{case}"
                                );
                            }
                            continue;
                        }
                        Ok(plan) => plan,
                    };
                    assert_eq!(want_blockers, 0, "{case}: planned {plan:?}");
                    let cluster_action = match cluster {
                        Missing => Action::Create,
                        Stopped | Partial => Action::Start,
                        _ => Action::None,
                    };
                    assert_eq!(plan.cluster, cluster_action, "{case}");
                    assert_eq!(
                        plan.registry,
                        match registry {
                            Missing => Action::Create,
                            Stopped => Action::Start,
                            _ => Action::None,
                        },
                        "{case}"
                    );
                    // kind makes its network with the cluster; a new registry is created on
                    // it, one that is not on it joins it.
                    assert_eq!(
                        plan.network,
                        if on_network || registry == Missing {
                            Action::None
                        } else {
                            Action::Connect
                        },
                        "{case}"
                    );
                    // New or started nodes get the hosts files; a running cluster has them.
                    assert_eq!(
                        plan.mirrors,
                        if cluster_action == Action::None {
                            Action::None
                        } else {
                            Action::Write
                        },
                        "{case}"
                    );
                    assert_eq!(
                        plan.configmap == Action::Publish,
                        cluster_action != Action::None,
                        "{case}"
                    );
                }
            }
        }
        assert_eq!(cases, 40);
    }

    #[test]
    fn kind_mirrors_missing_from_a_running_node_are_written() {
        let s = settings_of(&[("K8S_DEV_PROVIDER", "kind")]);
        let mut o = kind_world(Running, Running, true);
        o.mirrors = Mirrors::Stale;
        let plan = up(&o, &s).unwrap();
        assert_eq!((plan.cluster, plan.mirrors), (Action::None, Action::Write));
    }

    #[test]
    fn kind_api_and_gateway_ports_are_held_by_a_running_control_plane() {
        let s = settings_of(&[("K8S_DEV_PROVIDER", "kind")]);
        let mut o = kind_world(Stopped, Running, true);
        o.busy_ports = vec![(
            "K8S_DEV_LB_PORT",
            "port 8080 … busy; set K8S_DEV_LB_PORT".into(),
        )];
        assert_eq!(
            up(&o, &s).unwrap_err().len(),
            1,
            "a start needs the ports free"
        );
        o.cluster.state = Partial;
        o.cluster.holds_ports = true;
        assert_eq!(
            up(&o, &s).unwrap().cluster,
            Action::Start,
            "the control plane holds them"
        );
    }

    #[test]
    fn kind_down_refuses_a_foreign_cluster_deleting_nothing() {
        let o = kind_world(Foreign, Running, true);
        for delete_registry in [false, true] {
            let lines = down(&o, delete_registry).unwrap_err();
            assert_eq!(lines.len(), 1);
            assert!(
                lines[0].starts_with(
                    "deleting nothing: kind cluster 'dev' exists but is not the one k8s-dev makes"
                ),
                "{lines:?}"
            );
            assert!(!lines[0].contains('\n'));
        }
        let plan = down(&kind_world(Stopped, Running, true), true).unwrap();
        assert_eq!(
            (plan.cluster, plan.registry),
            (Action::Delete, Action::Delete)
        );
        let plan = down(&kind_world(Missing, Foreign, false), true).unwrap();
        assert_eq!((plan.cluster, plan.registry), (Action::None, Action::None));
        assert_eq!(plan.warnings.len(), 1);
    }

    // --- k3s (attach) --------------------------------------------------------------------------

    fn k3s_world(
        attached: &crate::provider::k3s::Attached,
        registry: ObjectState,
        mirrors: Mirrors,
    ) -> Observed {
        let mut o = kind_world(Missing, registry, true);
        o.provider = Provider::K3s;
        o.cluster = crate::provider::k3s::cluster_seen(attached, "sudo systemctl start k3s");
        o.mirrors = mirrors;
        o.kubeconfig.cluster_file = ClusterFile::Missing;
        o
    }

    #[test]
    fn k3s_every_combination_of_attached_cluster_registry_and_mirrors() {
        use crate::provider::k3s::Attached;
        let s = settings_of(&[("K8S_DEV_PROVIDER", "k3s")]);
        let attached = [
            Attached::Up,
            Attached::NoKubeconfig(
                "k3s kubeconfig /etc/rancher/k3s/k3s.yaml is not readable by you (k3s writes it for root); copy it: …".into(),
            ),
            Attached::Down {
                server: "https://127.0.0.1:6443".into(),
                reason: "connection refused".into(),
            },
        ];
        let mirrors = [
            Mirrors::UpToDate,
            Mirrors::Stale,
            Mirrors::NotWritable {
                file: "/etc/rancher/k3s/registries.yaml".into(),
                steps: "sudo tee …\n".into(),
            },
        ];
        let mut cases = 0;
        for a in &attached {
            for registry in [Missing, Stopped, Running, Foreign] {
                for m in &mirrors {
                    cases += 1;
                    let o = k3s_world(a, registry, m.clone());
                    let case = format!("{a:?}, registry {registry:?}, mirrors {m:?}");
                    let want = usize::from(*a != Attached::Up)
                        + usize::from(registry == Foreign)
                        + usize::from(matches!(m, Mirrors::NotWritable { .. }));
                    match up(&o, &s) {
                        Err(lines) => {
                            assert_eq!(lines.len(), want, "{case}: {lines:?}");
                            for line in &lines {
                                assert!(!line.contains('\n'), "{case}: {line}");
                            }
                            if let Attached::Down { .. } = a {
                                assert!(
                                    lines.iter().any(|l| l.starts_with("k3s does not answer at https://127.0.0.1:6443 (connection refused); start it: sudo systemctl start k3s")),
                                    "{case}: {lines:?}"
                                );
                            }
                        }
                        Ok(plan) => {
                            assert_eq!(want, 0, "{case}: {plan:?}");
                            assert_eq!(
                                plan.cluster,
                                Action::None,
                                "{case}: never created or started"
                            );
                            assert_eq!(plan.network, Action::None, "{case}");
                            assert_eq!(
                                plan.mirrors,
                                if *m == Mirrors::Stale {
                                    Action::Write
                                } else {
                                    Action::None
                                },
                                "{case}"
                            );
                            // The first attach has no kubeconfig of the kit's yet.
                            assert_eq!(plan.kubeconfig, Action::Refresh, "{case}");
                            assert_eq!(plan.configmap, Action::Publish, "{case}");
                        }
                    }
                }
            }
        }
        assert_eq!(cases, 36);
    }

    #[test]
    fn k3s_down_never_deletes_the_hosts_cluster() {
        use crate::provider::k3s::Attached;
        for a in [
            Attached::Up,
            Attached::Down {
                server: "s".into(),
                reason: "r".into(),
            },
        ] {
            let plan = down(&k3s_world(&a, Running, Mirrors::UpToDate), true).unwrap();
            assert_eq!(
                (plan.cluster, plan.registry),
                (Action::None, Action::Delete)
            );
        }
    }

    #[test]
    fn an_attached_k3s_with_a_registry_on_the_host_is_only_checked() {
        use crate::provider::k3s::Attached;
        let s = settings_of(&[("K8S_DEV_PROVIDER", "k3s")]);
        let mut o = k3s_world(&Attached::Up, Running, Mirrors::UpToDate);
        o.kubeconfig = kubeconfig_current();
        let plan = up(&o, &s).unwrap();
        assert_eq!(
            (
                plan.registry,
                plan.cluster,
                plan.mirrors,
                plan.kubeconfig,
                plan.configmap
            ),
            (
                Action::None,
                Action::None,
                Action::None,
                Action::None,
                Action::None
            )
        );
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
            "PLAN_NETWORK=none\nPLAN_REGISTRY=create\nPLAN_CLUSTER=start\nPLAN_MIRRORS=none\n\
             PLAN_KUBECONFIG=refresh\nPLAN_CONFIGMAP=publish\nPLAN_REGISTRY_WAS=missing\n\
             PLAN_CLUSTER_WAS=partial\n"
        );
    }
}
