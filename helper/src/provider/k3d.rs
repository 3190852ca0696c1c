// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What k3d's view of the kit ([`crate::k3d::Seen`]: the nodes, the load balancer and the
//! registry, each in its state) means to the plans: one cluster state, what is foreign, and a
//! cluster that k3d cannot start as it is (only part of it exists).

use crate::k3d::{Part, Seen};
use crate::plan::{ClusterSeen, Foreign, RegistrySeen};
use crate::provider::ObjectState;

/// The cluster: nodes and load balancer together. A load balancer without nodes, or nodes
/// without one, cannot be started into the kit's cluster: a defect naming the fix.
pub fn cluster_seen(k: &Seen, cluster: &str) -> ClusterSeen {
    let foreign: Vec<Foreign> = k
        .foreign
        .iter()
        .filter(|f| f.part != Part::Registry)
        .map(|f| Foreign {
            why: f.why.clone(),
            fix: "remove it, or set K8S_DEV_CLUSTER to another name".into(),
        })
        .collect();
    let mut defects = Vec::new();
    match (k.nodes, k.load_balancer) {
        (ObjectState::Foreign, _) | (_, ObjectState::Foreign) => {}
        (ObjectState::Missing, ObjectState::Missing) => {}
        (ObjectState::Missing, _) => defects.push(format!(
            "cluster {cluster} is incomplete: only its load balancer k3d-{cluster}-serverlb \
             exists; delete it (mise run k8s:dev:down), then run up again"
        )),
        (_, ObjectState::Missing) => defects.push(format!(
            "cluster {cluster} has no load balancer, so K8S_DEV_LB_PORT cannot reach it (it \
             was not created from the kit's config); re-create it: mise run k8s:dev:down && \
             mise run k8s:dev:up"
        )),
        _ => {}
    }
    ClusterSeen {
        state: cluster_state(k),
        servers: k.servers,
        agents: k.agents,
        api_port: k.api_port,
        holds_ports: k.load_balancer == ObjectState::Running,
        foreign,
        defects,
    }
}

/// The cluster's state for humans and plans: nodes and load balancer together.
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

/// The registry k3d made (`k3d-<name>`), or what stands in its way.
pub fn registry_seen(k: &Seen) -> RegistrySeen {
    RegistrySeen {
        state: k.registry,
        port: k.registry_port,
        foreign: k
            .foreign
            .iter()
            .filter(|f| f.part == Part::Registry)
            .map(|f| Foreign {
                why: f.why.clone(),
                fix: "remove it, or set K8S_DEV_REGISTRY_NAME to another name".into(),
            })
            .collect(),
    }
}
