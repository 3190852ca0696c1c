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

    /// Whether the cluster (a server at least, every agent and its load balancer) and the
    /// registry run and nothing foreign stands in their way: all a no-op `up` needs to know.
    pub fn all_running(&self) -> bool {
        [self.nodes, self.load_balancer, self.registry] == [ObjectState::Running; 3]
            && self.servers.1 > 0
            && self.foreign.is_empty()
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

/// Run k3d with the engine's `DOCKER_HOST`/`DOCKER_SOCK`; stdout on success, else the error
/// [`failure`] words from k3d's log.
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
    bail!(
        "{}",
        failure(tool, args, &String::from_utf8_lossy(&out.stderr))
    )
}

/// One line of k3d's log with `LOG_COLORS=false` (logrus: `time="…" level=error msg="…"`):
/// its level and message; `None` for anything else.
fn log_line(line: &str) -> Option<(&str, String)> {
    let rest = &line[line.find(" level=")? + " level=".len()..];
    let (level, rest) = rest.split_once(' ')?;
    let msg = rest.strip_prefix("msg=")?;
    // logrus quotes a message with Go's %q, which JSON reads for every k3d message recorded.
    let msg = serde_json::from_str::<String>(msg).unwrap_or_else(|_| msg.to_string());
    Some((level, msg))
}

/// The error for a failed k3d call, from its stderr. What went wrong is k3d's first error, not
/// its last line: when the engine does not answer, k3d 5.9 logs that error and then says "No
/// nodes found for given cluster" all the same (`kubeconfig get`, `cluster list`; recorded in
/// tests/data/recorded/k3d/*-no-engine.json), which alone would read as a missing cluster. Only
/// a fatal "not found" with no error before it means the object is missing.
pub fn failure(tool: &str, args: &[&str], stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let logged: Vec<(&str, String)> = lines.iter().filter_map(|l| log_line(l)).collect();
    let error = logged.iter().find(|(level, _)| *level == "error");
    let fatal = logged.iter().find(|(level, _)| *level == "fatal");
    let command = format!("{tool} {}", args.join(" "));
    match (error, fatal) {
        (None, Some((_, msg)))
            if msg.contains("No nodes found") || msg.contains("Didn't find container") =>
        {
            format!(
                "{command}: {msg} ({tool} has no such object); run up again: mise run k8s:dev:up"
            )
        }
        _ => {
            let cause = error
                .or(fatal)
                .map(|(_, msg)| msg.clone())
                .or_else(|| lines.last().map(|l| l.to_string()))
                .unwrap_or_else(|| "no output".to_string());
            format!(
                "{command}: {cause}; is the container engine running? try: k8s-dev-helper engine \
                 --explain"
            )
        }
    }
}

/// What the real k3d printed, as tests/data/recorded/record.sh captured it.
#[cfg(test)]
pub(crate) mod recorded {
    use std::collections::BTreeMap;

    pub struct Case {
        pub stdout: String,
        pub stderr: String,
        /// The names and ports of that run (`CLUSTER`, `NAME`, `PORT`, `API_PORT`, …).
        pub vars: BTreeMap<String, String>,
    }

    pub fn k3d(case: &str) -> Case {
        let path = format!(
            "{}/../tests/data/recorded/k3d/{case}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        Case {
            stdout: json["stdout"].as_str().unwrap().to_string(),
            stderr: json["stderr"].as_str().unwrap().to_string(),
            vars: serde_json::from_value(json["vars"].clone()).unwrap(),
        }
    }
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
    fn all_running_only_when_every_part_runs_and_nothing_is_foreign() {
        let running = [
            node("k3d-dev-server-0", "server", "dev", true),
            node("k3d-dev-agent-0", "agent", "dev", true),
            node("k3d-dev-serverlb", "loadbalancer", "dev", true),
            node("k3d-reg", "registry", "", true),
        ];
        assert!(seen(&running).all_running());
        for (i, part) in running.iter().enumerate() {
            let mut stopped = running.clone();
            stopped[i] = part.replace(r#""Running":true"#, r#""Running":false"#);
            assert!(!seen(&stopped).all_running(), "{part} stopped");
            if part.contains(r#""role":"agent""#) {
                continue; // a cluster without agents runs (K8S_DEV_AGENTS=0)
            }
            let missing: Vec<String> = running
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n.clone())
                .collect();
            assert!(!seen(&missing).all_running(), "{part} missing");
        }
        let foreign = seen(&running).with_strangers(&["k3d-dev-serverlb".into()], "dev", "reg");
        assert!(!foreign.all_running());
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

    /// The kit's cluster (1 server, 1 agent, the load balancer) and its separate registry as the
    /// real k3d 5.9 lists them, in each state the plans tell apart.
    fn seen_recorded(case: &str) -> (Seen, recorded::Case) {
        let rec = recorded::k3d(case);
        let seen = Seen::of(
            &parse_nodes(&rec.stdout).unwrap(),
            &rec.vars["CLUSTER"],
            &rec.vars["NAME"],
        );
        (seen, rec)
    }

    #[test]
    fn recorded_listings_of_the_real_k3d_read_as_their_states() {
        use ObjectState::*;
        for (case, want) in [
            ("node-list", (Running, Running, Running)),
            ("node-list-lb-stopped", (Running, Stopped, Running)),
            ("node-list-partial", (Partial, Running, Running)),
            ("node-list-stopped", (Stopped, Stopped, Running)),
            ("node-list-registry", (Missing, Missing, Running)),
            ("node-list-none", (Missing, Missing, Missing)),
        ] {
            let (s, rec) = seen_recorded(case);
            assert_eq!((s.nodes, s.load_balancer, s.registry), want, "{case}");
            assert!(s.foreign.is_empty(), "{case}: {:?}", s.foreign);
            let port = |var: &str| rec.vars[var].parse::<u16>().unwrap();
            if s.registry.exists() {
                assert_eq!(s.registry_port, Some(port("PORT")), "{case}");
            }
            if s.nodes.exists() {
                assert_eq!(s.api_port, Some(port("API_PORT")), "{case}");
                assert_eq!((s.servers.1, s.agents.1), (1, 1), "{case}");
            }
        }
    }

    #[test]
    fn an_engine_that_does_not_answer_is_named_not_taken_for_a_missing_cluster() {
        for (case, args) in [
            (
                "kubeconfig-get-no-engine",
                &["kubeconfig", "get", "rec-cluster"][..],
            ),
            (
                "cluster-list-no-engine",
                &["cluster", "list", "rec-cluster", "-o", "json"],
            ),
            ("node-list-no-engine", &["node", "list", "-o", "json"]),
        ] {
            let err = failure("k3d", args, &recorded::k3d(case).stderr);
            assert!(
                err.contains(
                    "Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock"
                ),
                "{case}: {err}"
            );
            assert!(!err.contains("No nodes found"), "{case}: {err}");
            assert!(
                err.ends_with("try: k8s-dev-helper engine --explain"),
                "{case}: {err}"
            );
        }
    }

    #[test]
    fn a_missing_cluster_is_named_as_missing() {
        let err = failure(
            "k3d",
            &["kubeconfig", "get", "rec-cluster"],
            &recorded::k3d("kubeconfig-get-missing").stderr,
        );
        assert_eq!(
            err,
            "k3d kubeconfig get rec-cluster: No nodes found for given cluster (k3d has no such \
             object); run up again: mise run k8s:dev:up"
        );
    }

    #[test]
    fn output_that_is_no_log_line_is_named_as_it_is() {
        let err = failure("k3d", &["version"], "segmentation fault\n");
        assert!(
            err.starts_with("k3d version: segmentation fault; "),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_an_error() {
        let err = parse_nodes("INFO[0000] hello").unwrap_err();
        assert!(format!("{err:#}").contains("k3d node list"));
    }
}
