// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The IO edge of the `up`/`down` plans: what exists, per provider (k3d: one `k3d node list` and
//! the engine's containers that took the kit's names and its network; kind and k3s:
//! [`crate::provider::live`]), the host (ports) and the two kubeconfigs. [`crate::plan`] decides
//! on the [`Observed`] this returns.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
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
    let seen = provider_seen(env, s, engine)?;
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
        mirrors: seen.mirrors,
        busy_ports: busy,
        kubeconfig: kubeconfig_seen(s),
    })
}

/// The cluster, the registry and the mirrors, as the provider shows them (what `status` reports).
pub fn provider_seen(env: &Env, s: &Settings, engine: &EngineInUse) -> Result<live::Seen> {
    Ok(match s.provider() {
        Provider::K3d => {
            let (k3d, network) = k3d_seen(s, engine)?;
            live::Seen {
                cluster: provider::k3d::cluster_seen(&k3d, s.get("K8S_DEV_CLUSTER")),
                registry: provider::k3d::registry_seen(&k3d),
                network,
                mirrors: Mirrors::ByProvider,
            }
        }
        Provider::Kind => live::kind(s, &engine.resolved)?,
        Provider::K3s => live::k3s(env, s, &engine.resolved)?,
    })
}

/// The kit's cluster and registry as k3d and the engine see them, and whether the network
/// exists.
pub fn k3d_seen(s: &Settings, engine: &EngineInUse) -> Result<(Seen, bool)> {
    let (cluster, registry) = (s.get("K8S_DEV_CLUSTER"), s.get("K8S_DEV_REGISTRY_NAME"));
    let nodes = k3d::parse_nodes(&engine.k3d(&["node", "list", "-o", "json"])?)?;
    let (containers, network) = engine_view(engine, cluster, registry, s.get("K8S_DEV_NETWORK"))?;
    let strangers = k3d::stranger_names(&containers, cluster, registry);
    let seen = Seen::of(&nodes, cluster, registry).with_strangers(&strangers, cluster, registry);
    Ok((seen, network))
}

/// The containers named like the kit's (any state, with labels) and whether the network
/// exists, in one round trip to the engine.
fn engine_view(
    engine: &EngineInUse,
    cluster: &str,
    registry: &str,
    network: &str,
) -> Result<(Vec<k3d::Labelled>, bool)> {
    let docker = engine::client(&engine.resolved.endpoint(), ENGINE_LIMIT)
        .map_err(|err| anyhow::anyhow!(err))?;
    // The engine matches `name` filters as substrings; stranger_names picks the exact names.
    let filters = HashMap::from([(
        "name",
        vec![format!("k3d-{registry}"), format!("k3d-{cluster}-")],
    )]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let host = &engine.resolved.host;
    let (list, net) = crate::runtime::block_on(async {
        tokio::join!(
            docker.list_containers(Some(options)),
            docker.inspect_network(network, None)
        )
    });
    let list = list.with_context(|| format!("listing containers of the engine at {host}"))?;
    let network_exists = match net {
        Ok(_) => true,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => false,
        Err(err) => {
            return Err(err).with_context(|| format!("inspecting network {network} at {host}"));
        }
    };
    Ok((live::labelled(list), network_exists))
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
