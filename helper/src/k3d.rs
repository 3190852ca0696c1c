// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! k3d as the kit observes it: one `k3d node list -o json` (every k3d container: servers,
//! agents, load balancers and registries, with their labels and state) read into the state of
//! the kit's cluster, load balancer and registry. [`parse_nodes`] and [`Seen::of`] are pure;
//! [`node_list`] runs k3d.

use std::collections::BTreeMap;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::engine::Resolved;

pub use crate::provider::ObjectState;

/// One k3d container as `k3d node list -o json` reports it (the fields the kit reads).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default, rename = "runtimeLabels")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, rename = "State")]
    pub state: NodeState,
    #[serde(default, rename = "portMappings")]
    pub ports: BTreeMap<String, Vec<Binding>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct NodeState {
    #[serde(default, rename = "Running")]
    pub running: bool,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Binding {
    #[serde(default, rename = "HostIp")]
    pub host_ip: String,
    #[serde(default, rename = "HostPort")]
    pub host_port: String,
}

impl Node {
    fn cluster(&self) -> &str {
        self.labels.get("k3d.cluster").map_or("", String::as_str)
    }
}

/// Parse `k3d node list -o json`: an array of nodes, or `null` when there are none (k3d
/// appends to a nil slice).
pub fn parse_nodes(json: &str) -> Result<Vec<Node>> {
    let nodes: Option<Vec<Node>> =
        serde_json::from_str(json).context("parsing `k3d node list -o json` output")?;
    Ok(nodes.unwrap_or_default())
}

/// The kit's cluster and registry, as k3d sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Seen {
    /// The servers and agents together.
    pub nodes: ObjectState,
    pub servers: (usize, usize),
    pub agents: (usize, usize),
    pub load_balancer: ObjectState,
    /// The host port of the API, from the server's `k3d.server.api.port` label.
    pub api_port: Option<u16>,
    pub registry: ObjectState,
    /// The host port the registry publishes.
    pub registry_port: Option<u16>,
    /// Why a part is foreign, one line each.
    pub foreign: Vec<Foreign>,
}

/// Which part of the kit a foreign container stands in the way of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Part {
    Nodes,
    LoadBalancer,
    Registry,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Foreign {
    pub part: Part,
    /// `container k3d-x exists but was not created by k3d`.
    pub why: String,
}

impl Seen {
    /// Pick the cluster `cluster` and the registry `registry` (k3d's container `k3d-<name>`)
    /// out of every k3d node.
    pub fn of(nodes: &[Node], cluster: &str, registry: &str) -> Seen {
        let ours: Vec<&Node> = nodes.iter().filter(|n| n.cluster() == cluster).collect();
        let count = |role: &str| {
            let of_role: Vec<&&Node> = ours.iter().filter(|n| n.role == role).collect();
            let running = of_role.iter().filter(|n| n.state.running).count();
            (running, of_role.len())
        };
        let (servers, agents) = (count("server"), count("agent"));
        let nodes_state = ObjectState::from_counts(servers.0 + agents.0, servers.1 + agents.1);
        let load_balancer = match ours.iter().find(|n| n.role == "loadbalancer") {
            Some(lb) if lb.state.running => ObjectState::Running,
            Some(_) => ObjectState::Stopped,
            None => ObjectState::Missing,
        };
        let api_port = ours
            .iter()
            .find(|n| n.role == "server")
            .and_then(|n| n.labels.get("k3d.server.api.port"))
            .and_then(|p| p.parse().ok());
        let container = format!("k3d-{registry}");
        let mut foreign = Vec::new();
        let found = nodes
            .iter()
            .find(|n| n.role == "registry" && (n.name == container || n.name == registry));
        let (registry_state, registry_port) = match found {
            None => (ObjectState::Missing, None),
            Some(reg) if !reg.cluster().is_empty() => {
                foreign.push(Foreign {
                    part: Part::Registry,
                    why: format!(
                        "registry {} belongs to cluster {} (k3d --registry-create) and is deleted \
                         with it",
                        reg.name,
                        reg.cluster()
                    ),
                });
                (ObjectState::Foreign, None)
            }
            Some(reg) => {
                let port = reg
                    .ports
                    .get("5000/tcp")
                    .and_then(|b| b.first())
                    .and_then(|b| b.host_port.parse().ok());
                let state = if reg.state.running {
                    ObjectState::Running
                } else {
                    ObjectState::Stopped
                };
                (state, port)
            }
        };
        Seen {
            nodes: nodes_state,
            servers,
            agents,
            load_balancer,
            api_port,
            registry: registry_state,
            registry_port,
            foreign,
        }
    }

    /// Mark the parts whose container names are taken by containers k3d did not make
    /// (`strangers`: container names from the engine, see [`stranger_names`]).
    pub fn with_strangers(mut self, strangers: &[String], cluster: &str, registry: &str) -> Seen {
        for name in strangers {
            let part = if *name == format!("k3d-{registry}") {
                self.registry = ObjectState::Foreign;
                Part::Registry
            } else if *name == format!("k3d-{cluster}-serverlb") {
                self.load_balancer = ObjectState::Foreign;
                Part::LoadBalancer
            } else {
                self.nodes = ObjectState::Foreign;
                Part::Nodes
            };
            self.foreign.push(Foreign {
                part,
                why: format!("container {name} exists but was not created by k3d"),
            });
        }
        self
    }
}

/// A container's name as the engine lists it (`/k3d-x`), with its labels.
pub type Labelled = (String, BTreeMap<String, String>);

/// The container names k3d would use for the cluster and the registry, among `containers`
/// (from the engine): those without k3d's labels for that purpose are strangers.
pub fn stranger_names(containers: &[Labelled], cluster: &str, registry: &str) -> Vec<String> {
    let prefix = format!("k3d-{cluster}-");
    let registry_name = format!("k3d-{registry}");
    let is_node_name = |name: &str| {
        name.strip_prefix(&prefix).is_some_and(|rest| {
            rest == "serverlb"
                || rest == "tools"
                || ["server-", "agent-"].iter().any(|role| {
                    rest.strip_prefix(role)
                        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
                })
        })
    };
    let label = |labels: &BTreeMap<String, String>, key: &str| {
        labels
            .get(key)
            .map(String::as_str)
            .unwrap_or("")
            .to_string()
    };
    containers
        .iter()
        .filter_map(|(name, labels)| {
            let name = name.trim_start_matches('/');
            let k3d = label(labels, "app") == "k3d";
            let stranger = if name == registry_name {
                !(k3d && label(labels, "k3d.role") == "registry")
            } else if is_node_name(name) {
                !(k3d && label(labels, "k3d.cluster") == cluster)
            } else {
                false
            };
            stranger.then(|| name.to_string())
        })
        .collect()
}

/// Run `k3d node list -o json` against the resolved engine.
pub fn node_list(engine: Option<&Resolved>, docker_sock: Option<&str>) -> Result<Vec<Node>> {
    let out = run(&["node", "list", "-o", "json"], engine, docker_sock)?;
    parse_nodes(&out)
}

/// Run k3d with the engine's `DOCKER_HOST`/`DOCKER_SOCK`; stdout on success, else an error
/// naming the command and k3d's last line.
pub fn run(args: &[&str], engine: Option<&Resolved>, docker_sock: Option<&str>) -> Result<String> {
    let k3d =
        which::which("k3d").map_err(|_| anyhow::anyhow!("k3d not found. Run: mise install"))?;
    let mut cmd = Command::new(&k3d);
    cmd.args(args).env("LOG_COLORS", "false");
    if let Some(engine) = engine {
        cmd.env("DOCKER_HOST", &engine.host);
    }
    if let Some(sock) = docker_sock {
        cmd.env("DOCKER_SOCK", sock);
    }
    let out = cmd
        .output()
        .with_context(|| format!("running {}", k3d.display()))?;
    stdout_of("k3d", args, &out)
}

/// A cluster tool's stdout when it succeeded, else an error naming the command and the last line
/// it printed on stderr (k3d's `FATA`, kind's `ERROR:`).
pub fn stdout_of(tool: &str, args: &[&str], out: &std::process::Output) -> Result<String> {
    if out.status.success() {
        return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    bail!(
        "{tool} {}: {}; is the container engine running? try: k8s-dev-helper engine --explain",
        args.join(" "),
        last.trim()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, role: &str, cluster: &str, running: bool) -> String {
        format!(
            r#"{{"name":"{name}","role":"{role}","runtimeLabels":{{"app":"k3d","k3d.cluster":"{cluster}","k3d.role":"{role}","k3d.server.api.port":"6550"}},"State":{{"Running":{running},"Status":"x"}},"portMappings":{{"5000/tcp":[{{"HostIp":"127.0.0.1","HostPort":"5001"}}]}}}}"#
        )
    }

    fn seen(nodes: &[String]) -> Seen {
        let json = format!("[{}]", nodes.join(","));
        Seen::of(&parse_nodes(&json).unwrap(), "dev", "reg")
    }

    #[test]
    fn a_running_cluster_and_registry() {
        let s = seen(&[
            node("k3d-dev-server-0", "server", "dev", true),
            node("k3d-dev-agent-0", "agent", "dev", true),
            node("k3d-dev-serverlb", "loadbalancer", "dev", true),
            node("k3d-reg", "registry", "", true),
            node("k3d-other-server-0", "server", "other", false),
        ]);
        assert_eq!(
            (s.nodes, s.load_balancer, s.registry),
            (
                ObjectState::Running,
                ObjectState::Running,
                ObjectState::Running
            )
        );
        assert_eq!((s.servers, s.agents), ((1, 1), (1, 1)));
        assert_eq!((s.api_port, s.registry_port), (Some(6550), Some(5001)));
        assert!(s.foreign.is_empty());
    }

    #[test]
    fn stopped_partial_and_missing_parts() {
        let s = seen(&[
            node("k3d-dev-server-0", "server", "dev", true),
            node("k3d-dev-agent-0", "agent", "dev", false),
            node("k3d-dev-serverlb", "loadbalancer", "dev", false),
        ]);
        assert_eq!(s.nodes, ObjectState::Partial);
        assert_eq!(s.load_balancer, ObjectState::Stopped);
        assert_eq!(s.registry, ObjectState::Missing);
        let none = Seen::of(&parse_nodes("null").unwrap(), "dev", "reg");
        assert_eq!(
            (none.nodes, none.load_balancer, none.registry),
            (
                ObjectState::Missing,
                ObjectState::Missing,
                ObjectState::Missing
            )
        );
    }

    #[test]
    fn a_registry_of_another_cluster_is_foreign() {
        let s = seen(&[node("k3d-reg", "registry", "other", true)]);
        assert_eq!(s.registry, ObjectState::Foreign);
        assert_eq!(s.foreign[0].part, Part::Registry);
        assert!(
            s.foreign[0].why.contains("belongs to cluster other"),
            "{:?}",
            s.foreign
        );
    }

    #[test]
    fn containers_with_kit_names_but_no_k3d_labels_are_strangers() {
        let labels = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        let containers = vec![
            ("/k3d-reg".to_string(), labels(&[])),
            (
                "/k3d-dev-serverlb".to_string(),
                labels(&[("app", "k3d"), ("k3d.cluster", "x")]),
            ),
            (
                "/k3d-dev-server-0".to_string(),
                labels(&[("app", "k3d"), ("k3d.cluster", "dev")]),
            ),
            ("/k3d-dev-server-extra".to_string(), labels(&[])),
            ("/k3d-registry".to_string(), labels(&[])),
        ];
        let strangers = stranger_names(&containers, "dev", "reg");
        assert_eq!(strangers, ["k3d-reg", "k3d-dev-serverlb"]);
        let s = seen(&[node("k3d-dev-server-0", "server", "dev", true)])
            .with_strangers(&strangers, "dev", "reg");
        assert_eq!(s.registry, ObjectState::Foreign);
        assert_eq!(s.load_balancer, ObjectState::Foreign);
        assert_eq!(s.nodes, ObjectState::Running);
        let whys: Vec<(Part, &str)> = s.foreign.iter().map(|f| (f.part, f.why.as_str())).collect();
        assert_eq!(
            whys,
            [
                (
                    Part::Registry,
                    "container k3d-reg exists but was not created by k3d"
                ),
                (
                    Part::LoadBalancer,
                    "container k3d-dev-serverlb exists but was not created by k3d"
                )
            ]
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let err = parse_nodes("INFO[0000] hello").unwrap_err();
        assert!(format!("{err:#}").contains("k3d node list"));
    }
}
