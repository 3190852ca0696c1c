// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The IO edge of the `up`/`down` plans: what exists, per provider (k3d: the engine's containers
//! with k3d's labels or the kit's names and its network, and `k3d node list` unless all runs; kind and k3s:
//! [`crate::provider::live`]), the host (ports) and the two kubeconfigs. [`crate::plan`] decides
//! on the [`Observed`] this returns.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use bollard::models::{ContainerSummary, ContainerSummaryStateEnum, PortSummaryTypeEnum};
use bollard::query_parameters::ListContainersOptionsBuilder;

use crate::engine::{self, Resolved};
use crate::env::Env;
use crate::k3d::{self, Seen};
use crate::kubeconfig::{self, Files, Input, MergeOptions, doc};
use crate::plan::{ClusterFile, KubeconfigSeen, Mirrors, Observed};
use crate::ports::{self, WantedPort};
use crate::provider::{self, Provider, live};
use crate::settings::Settings;

/// How long one engine API call of the observation may take.
const ENGINE_LIMIT: Duration = Duration::from_secs(10);

/// The engine the kit acts through, as `k8s-dev-helper engine` resolves it.
pub struct EngineInUse {
    pub resolved: Resolved,
    /// `DOCKER_SOCK` for k3d (see [`engine::docker_sock`]).
    pub docker_sock: Option<String>,
}

impl EngineInUse {
    pub fn resolve(env: &Env) -> Result<EngineInUse> {
        let resolved = engine::resolve(env).result?;
        let docker_sock = resolved.socket_path().map(|path| {
            engine::docker_sock(env.os, path, std::fs::canonicalize(path).ok())
                .display()
                .to_string()
        });
        Ok(EngineInUse {
            resolved,
            docker_sock,
        })
    }

    /// `export DOCKER_HOST=…` lines, as `k8s-dev-helper engine` prints them.
    pub fn shell(&self) -> String {
        engine::shell_exports(&self.resolved, self.docker_sock.as_deref().map(Path::new))
    }

    /// Run k3d against this engine.
    pub fn k3d(&self, args: &[&str]) -> Result<String> {
        k3d::run(args, Some(&self.resolved), self.docker_sock.as_deref())
    }
}

/// Observe everything the plans decide on, through the provider's own view of its cluster.
pub fn observe(env: &Env, s: &Settings, engine: &EngineInUse) -> Result<Observed> {
    let (seen, node_image) = provider_seen_with_node_image(env, s, engine)?;
    let mut busy = busy_ports(s);
    if s.provider() != Provider::K3d && busy.iter().any(|(n, _)| *n == "K8S_DEV_REGISTRY_PORT") {
        // After a switch from k3d, its registry usually holds the port: say so.
        let k3d_registry = format!("k3d-{}", s.get("K8S_DEV_REGISTRY_NAME"));
        if live::exists(&engine.resolved, &k3d_registry)? {
            for (setting, why) in &mut busy {
                if *setting == "K8S_DEV_REGISTRY_PORT" {
                    *why = provider::registry_port_held_by_k3d(
                        s.get("K8S_DEV_BIND_ADDRESS"),
                        s.port("K8S_DEV_REGISTRY_PORT"),
                        &k3d_registry,
                    );
                }
            }
        }
    }
    Ok(Observed {
        provider: s.provider(),
        cluster: seen.cluster,
        registry: seen.registry,
        network: seen.network,
        node_image,
        mirrors: seen.mirrors,
        busy_ports: busy,
        kubeconfig: kubeconfig_seen(s),
    })
}

/// The cluster, the registry and the mirrors, as the provider shows them (what `status` reports).
pub fn provider_seen(env: &Env, s: &Settings, engine: &EngineInUse) -> Result<live::Seen> {
    Ok(provider_seen_with_node_image(env, s, engine)?.0)
}

/// [`provider_seen`], and whether the engine has the node image k3d would pull for a new
/// cluster (K8S_DEV_K3S_IMAGE; kind and k3s: true, they bring their own).
fn provider_seen_with_node_image(
    env: &Env,
    s: &Settings,
    engine: &EngineInUse,
) -> Result<(live::Seen, bool)> {
    Ok(match s.provider() {
        Provider::K3d => {
            let (k3d, view) = k3d_seen(s, engine)?;
            let seen = live::Seen {
                cluster: provider::k3d::cluster_seen(&k3d, s.get("K8S_DEV_CLUSTER")),
                registry: provider::k3d::registry_seen(&k3d),
                network: view.network,
                mirrors: Mirrors::ByProvider,
            };
            (seen, view.node_image)
        }
        Provider::Kind => (live::kind(s, &engine.resolved)?, true),
        Provider::K3s => (live::k3s(env, s, &engine.resolved)?, true),
    })
}

/// What the engine has besides k3d's containers.
pub struct EngineView {
    pub network: bool,
    pub node_image: bool,
}

/// The kit's cluster and registry as k3d and the engine see them, whether the network exists
/// and whether the engine has the node image. The engine's list carries k3d's own labels: when
/// it shows every part running, that is what `k3d node list` would say (it reads the same
/// labels, then inspects each container: ~270 ms on Podman), and k3d is not asked. Anything
/// else (missing, stopped, partial, foreign) is decided on k3d's view, as is an engine that does
/// not answer (k3d's error names it the recorded way).
pub fn k3d_seen(s: &Settings, engine: &EngineInUse) -> Result<(Seen, EngineView)> {
    let (cluster, registry) = (s.get("K8S_DEV_CLUSTER"), s.get("K8S_DEV_REGISTRY_NAME"));
    let (containers, nodes, view) = match engine_view(
        engine,
        cluster,
        registry,
        s.get("K8S_DEV_NETWORK"),
        s.get("K8S_DEV_K3S_IMAGE"),
    ) {
        Ok(answer) => answer,
        Err(err) => {
            engine.k3d(&["node", "list", "-o", "json"])?;
            return Err(err);
        }
    };
    let strangers = k3d::stranger_names(&containers, cluster, registry);
    let of = |nodes: &[k3d::Node]| {
        Seen::of(nodes, cluster, registry).with_strangers(&strangers, cluster, registry)
    };
    let from_engine = of(&nodes);
    if from_engine.all_running() {
        return Ok((from_engine, view));
    }
    let nodes = k3d::parse_nodes(&engine.k3d(&["node", "list", "-o", "json"])?)?;
    Ok((of(&nodes), view))
}

/// A container as `k3d node list` would show it: k3d's node is the container's name, its
/// `k3d.role` label, its labels, whether it runs and its published ports.
fn k3d_node(container: &ContainerSummary) -> Option<k3d::Node> {
    let name = container.names.as_ref()?.first()?.trim_start_matches('/');
    let labels: BTreeMap<String, String> = container
        .labels
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut ports: BTreeMap<String, Vec<k3d::Binding>> = BTreeMap::new();
    for port in container.ports.iter().flatten() {
        let Some(host_port) = port.public_port else {
            continue;
        };
        let protocol = match port.typ {
            Some(PortSummaryTypeEnum::UDP) => "udp",
            Some(PortSummaryTypeEnum::SCTP) => "sctp",
            _ => "tcp",
        };
        ports
            .entry(format!("{}/{protocol}", port.private_port))
            .or_default()
            .push(k3d::Binding {
                host_ip: port.ip.clone().unwrap_or_default(),
                host_port: host_port.to_string(),
            });
    }
    Some(k3d::Node {
        name: name.to_string(),
        role: labels.get("k3d.role").cloned().unwrap_or_default(),
        state: k3d::NodeState {
            running: container.state == Some(ContainerSummaryStateEnum::RUNNING),
        },
        labels,
        ports,
    })
}

/// Whether an engine answer means found (`Ok`), not found (404) or failed.
fn found<T>(answer: Result<T, bollard::errors::Error>) -> Result<bool, bollard::errors::Error> {
    match answer {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(err) => Err(err),
    }
}

/// The containers named like the kit's (any state, with labels), k3d's containers of the cluster
/// (its label) and the registry as k3d nodes, whether the network exists and whether the node
/// image is there, in one round trip to the engine.
fn engine_view(
    engine: &EngineInUse,
    cluster: &str,
    registry: &str,
    network: &str,
    node_image: &str,
) -> Result<(Vec<k3d::Labelled>, Vec<k3d::Node>, EngineView)> {
    let docker = engine::client(&engine.resolved.endpoint(), ENGINE_LIMIT)
        .map_err(|err| anyhow::anyhow!(err))?;
    // The engine matches `name` filters as substrings; stranger_names picks the exact names.
    let by_name = HashMap::from([(
        "name",
        vec![format!("k3d-{registry}"), format!("k3d-{cluster}-")],
    )]);
    // Nodes k3d made for the cluster under other names (`k3d node create`) carry its label.
    let by_label = HashMap::from([(
        "label",
        vec!["app=k3d".to_string(), format!("k3d.cluster={cluster}")],
    )]);
    let list = |filters: &HashMap<&str, Vec<String>>| {
        ListContainersOptionsBuilder::new()
            .all(true)
            .filters(filters)
            .build()
    };
    let host = &engine.resolved.host;
    let (named, labelled, net, image) = crate::runtime::block_on(async {
        tokio::join!(
            docker.list_containers(Some(list(&by_name))),
            docker.list_containers(Some(list(&by_label))),
            docker.inspect_network(network, None),
            docker.inspect_image(node_image)
        )
    });
    let listing = || format!("listing containers of the engine at {host}");
    let (named, labelled) = (
        named.with_context(listing)?,
        labelled.with_context(listing)?,
    );
    let network_exists =
        found(net).with_context(|| format!("inspecting network {network} at {host}"))?;
    let node_image =
        found(image).with_context(|| format!("inspecting image {node_image} at {host}"))?;
    let registry_container = format!("k3d-{registry}");
    let nodes = labelled
        .iter()
        .chain(named.iter().filter(|c| {
            c.names
                .iter()
                .flatten()
                .any(|n| n.trim_start_matches('/') == registry_container)
        }))
        .filter_map(k3d_node)
        .collect();
    Ok((
        live::labelled(named),
        nodes,
        EngineView {
            network: network_exists,
            node_image,
        },
    ))
}

/// The kit's host ports that cannot be bound now, with the line `up` reports if it needs them.
/// The attached k3s publishes none of the kit's: only the registry's.
fn busy_ports(s: &Settings) -> Vec<(&'static str, String)> {
    let bind: IpAddr = s
        .get("K8S_DEV_BIND_ADDRESS")
        .parse()
        .expect("K8S_DEV_BIND_ADDRESS is validated");
    let settings: &[&'static str] = match s.provider() {
        Provider::K3d | Provider::Kind => &[
            "K8S_DEV_REGISTRY_PORT",
            "K8S_DEV_API_PORT",
            "K8S_DEV_LB_PORT",
        ],
        Provider::K3s => &["K8S_DEV_REGISTRY_PORT"],
    };
    settings
        .iter()
        .copied()
        .filter_map(|setting| {
            let wanted = WantedPort {
                port: s.port(setting),
                setting: setting.to_string(),
            };
            ports::check(bind, &[wanted], ports::bind_probe)
                .err()
                .map(|err| (setting, err.to_string()))
        })
        .collect()
}

/// Whether the cluster's kubeconfig and the user's kubeconfig files can be written (the
/// store's rules: regular files only, writable, each a kubeconfig), and whether they already
/// hold the cluster.
pub fn kubeconfig_seen(s: &Settings) -> KubeconfigSeen {
    let cluster = Files::one(s.get("K8S_DEV_CLUSTER_KUBECONFIG"));
    let user = s.kubeconfig_files();
    let checked = [
        kubeconfig::check_file(&cluster),
        user.as_ref()
            .map_err(|err| anyhow::anyhow!("{err:#}"))
            .and_then(kubeconfig::check_file),
    ];
    let problems = checked
        .into_iter()
        .filter_map(|result| result.err().map(|err| format!("{err:#}")))
        .collect();
    let context = s.get("K8S_DEV_CLUSTER_CONTEXT");
    // Through the store: a FIFO or device there is refused (as a problem above), never read.
    let cluster_text = kubeconfig::read_file(&cluster.paths()[0]).ok().flatten();
    let cluster_file = match &cluster_text {
        None => ClusterFile::Missing,
        Some(text) if has_context(text, context) => ClusterFile::WithContext,
        Some(_) => ClusterFile::WithoutContext,
    };
    let default_current = match (&cluster_text, cluster_file, &user) {
        (Some(cluster), ClusterFile::WithContext, Ok(user)) => {
            let options = MergeOptions {
                set_current: s.flag("K8S_DEV_SWITCH_CONTEXT"),
            };
            kubeconfig::merged_already(user, cluster, options)
        }
        _ => false,
    };
    KubeconfigSeen {
        problems,
        cluster_file,
        default_current,
    }
}

fn has_context(text: &str, context: &str) -> bool {
    doc::parse(text, Input::Target)
        .ok()
        .and_then(|root| {
            doc::entries(&root, doc::Section::Contexts, Input::Target)
                .ok()
                .map(|entries| entries.iter().any(|(name, _)| name == context))
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bollard::models::PortSummary;

    fn container(
        name: &str,
        labels: &[(&str, &str)],
        running: bool,
        port: Option<(u16, u16)>,
    ) -> ContainerSummary {
        ContainerSummary {
            names: Some(vec![format!("/{name}")]),
            labels: Some(
                labels
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            state: Some(if running {
                ContainerSummaryStateEnum::RUNNING
            } else {
                ContainerSummaryStateEnum::EXITED
            }),
            ports: port.map(|(private, public)| {
                vec![PortSummary {
                    ip: Some("127.0.0.1".into()),
                    private_port: private,
                    public_port: Some(public),
                    typ: Some(PortSummaryTypeEnum::TCP),
                }]
            }),
            ..Default::default()
        }
    }

    #[test]
    fn the_engines_list_reads_as_k3ds_node_list() {
        let server = [
            ("app", "k3d"),
            ("k3d.cluster", "dev"),
            ("k3d.role", "server"),
            ("k3d.server.api.port", "6550"),
        ];
        let lb = [
            ("app", "k3d"),
            ("k3d.cluster", "dev"),
            ("k3d.role", "loadbalancer"),
        ];
        let registry = [("app", "k3d"), ("k3d.role", "registry")];
        let nodes: Vec<k3d::Node> = [
            container("k3d-dev-server-0", &server, true, None),
            container("k3d-dev-serverlb", &lb, true, Some((6443, 6550))),
            container("k3d-reg", &registry, true, Some((5000, 5001))),
        ]
        .iter()
        .filter_map(k3d_node)
        .collect();
        assert_eq!(nodes[2].ports["5000/tcp"][0].host_port, "5001");
        let seen = Seen::of(&nodes, "dev", "reg");
        assert!(seen.all_running());
        assert_eq!(
            (seen.api_port, seen.registry_port),
            (Some(6550), Some(5001))
        );
        assert_eq!((seen.servers, seen.agents), ((1, 1), (0, 0)));

        let stopped = k3d_node(&container("k3d-dev-serverlb", &lb, false, None)).unwrap();
        assert!(!stopped.state.running);
        assert_eq!(stopped.role, "loadbalancer");
    }
}
