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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k3d::Foreign as K3dForeign;
    use ObjectState::*;

    fn seen(nodes: ObjectState, lb: ObjectState) -> Seen {
        Seen {
            nodes,
            servers: (1, 1),
            agents: (0, 1),
            load_balancer: lb,
            api_port: Some(6550),
            registry: Running,
            registry_port: Some(5000),
            foreign: Vec::new(),
        }
    }

    #[test]
    fn nodes_and_load_balancer_make_one_cluster_state() {
        for (nodes, lb, want) in [
            (Missing, Missing, Missing),
            (Running, Running, Running),
            (Stopped, Stopped, Stopped),
            (Stopped, Missing, Stopped),
            (Missing, Stopped, Stopped),
            (Running, Stopped, Partial),
            (Partial, Running, Partial),
            (Foreign, Running, Foreign),
            (Running, Foreign, Foreign),
        ] {
            assert_eq!(cluster_state(&seen(nodes, lb)), want, "{nodes:?} {lb:?}");
        }
    }

    #[test]
    fn a_cluster_k3d_cannot_start_as_it_is_is_a_defect_with_its_fix() {
        let lb_only = cluster_seen(&seen(Missing, Running), "dev");
        assert_eq!(lb_only.defects.len(), 1);
        assert!(
            lb_only.defects[0].starts_with("cluster dev is incomplete"),
            "{:?}",
            lb_only.defects
        );
        let no_lb = cluster_seen(&seen(Running, Missing), "dev");
        assert!(
            no_lb.defects[0].contains("re-create it: mise run k8s:dev:down && mise run k8s:dev:up")
        );
        assert!(
            cluster_seen(&seen(Running, Running), "dev")
                .defects
                .is_empty()
        );
        assert!(cluster_seen(&seen(Running, Running), "dev").holds_ports);
        assert!(!cluster_seen(&seen(Running, Stopped), "dev").holds_ports);
    }

    #[test]
    fn foreign_containers_go_to_the_part_they_block_with_its_setting() {
        let mut k = seen(Running, Foreign);
        k.registry = Foreign;
        k.foreign = vec![
            K3dForeign {
                part: Part::LoadBalancer,
                why: "container k3d-dev-serverlb exists but was not created by k3d".into(),
            },
            K3dForeign {
                part: Part::Registry,
                why: "container k3d-reg exists but was not created by k3d".into(),
            },
        ];
        let cluster = cluster_seen(&k, "dev");
        assert_eq!(cluster.foreign.len(), 1);
        assert!(
            cluster.foreign[0]
                .fix
                .ends_with("set K8S_DEV_CLUSTER to another name")
        );
        let registry = registry_seen(&k);
        assert_eq!(registry.state, Foreign);
        assert!(
            registry.foreign[0]
                .fix
                .ends_with("set K8S_DEV_REGISTRY_NAME to another name")
        );
    }
}
