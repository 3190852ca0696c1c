// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What exists of the k3d cluster and registry, read from `k3d … list -o json`, and the
//! cluster-name rules. The `up` task compares this state with what it wants and acts only on
//! the difference, so a second `up` does nothing.

use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::Value;

/// k3d caps cluster names at 32 characters (pkg/types/defaults.go).
pub const MAX_CLUSTER_NAME: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Missing,
    Stopped,
    /// Some nodes run, others do not (a crashed agent, a half-finished start).
    Partial,
    Running,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Missing => "missing",
            State::Stopped => "stopped",
            State::Partial => "partial",
            State::Running => "running",
        }
    }

    fn from_counts(running: usize, total: usize) -> State {
        match (running, total) {
            (_, 0) => State::Missing,
            (0, _) => State::Stopped,
            (r, t) if r == t => State::Running,
            _ => State::Partial,
        }
    }
}

/// Node counts of one cluster as `k3d cluster list NAME -o json` reports them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterInfo {
    pub state: State,
    pub servers_running: usize,
    pub servers: usize,
    pub agents_running: usize,
    pub agents: usize,
}

impl ClusterInfo {
    pub fn missing() -> ClusterInfo {
        ClusterInfo {
            state: State::Missing,
            servers_running: 0,
            servers: 0,
            agents_running: 0,
            agents: 0,
        }
    }
}

fn count(entry: &Value, key: &str) -> usize {
    entry.get(key).and_then(Value::as_u64).unwrap_or(0) as usize
}

/// Parse `k3d cluster list [NAME] -o json` (a JSON array of clusters) and pick `name`.
pub fn parse_cluster_list(json: &str, name: &str) -> Result<ClusterInfo> {
    let list: Vec<Value> =
        serde_json::from_str(json).context("parsing `k3d cluster list -o json` output")?;
    let Some(cluster) = list
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
    else {
        return Ok(ClusterInfo::missing());
    };
    let (servers_running, servers) = (
        count(cluster, "serversRunning"),
        count(cluster, "serversCount"),
    );
    let (agents_running, agents) = (
        count(cluster, "agentsRunning"),
        count(cluster, "agentsCount"),
    );
    Ok(ClusterInfo {
        state: State::from_counts(servers_running + agents_running, servers + agents),
        servers_running,
        servers,
        agents_running,
        agents,
    })
}

/// Parse `k3d registry list [NAME] -o json` (registry node objects) for the registry `name`
/// (k3d names the container `k3d-<name>`).
pub fn parse_registry_list(json: &str, name: &str) -> Result<State> {
    let nodes: Vec<Value> =
        serde_json::from_str(json).context("parsing `k3d registry list -o json` output")?;
    let container = format!("k3d-{name}");
    let Some(node) = nodes.iter().find(|n| {
        let node_name = n.get("name").and_then(Value::as_str);
        node_name == Some(&container) || node_name == Some(name)
    }) else {
        return Ok(State::Missing);
    };
    let running = node
        .pointer("/State/Running")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    Ok(if running {
        State::Running
    } else {
        State::Stopped
    })
}

/// k3d's words for "that object does not exist" (exit 1 with this text on stderr). When the
/// engine does not answer, k3d 5.9 first logs the error and then says "No nodes found for given
/// cluster" all the same (recorded in tests/data/recorded/k3d/cluster-list-no-engine*.json), so
/// an error line besides the fatal one means the question went unanswered.
pub fn is_not_found(stderr: &str) -> bool {
    let says_missing =
        stderr.contains("No nodes found") || stderr.contains("Didn't find container");
    let logged_error = stderr
        .lines()
        .any(|l| l.contains("level=error") || l.contains("ERRO\x1b[0m") || l.starts_with("ERRO"));
    says_missing && !logged_error
}

/// The line of k3d's stderr that says what went wrong: its first error, else its last line.
pub fn k3d_error(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    lines
        .iter()
        .find(|l| l.contains("level=error") || l.contains("ERRO"))
        .or(lines.last())
        .copied()
        .unwrap_or("")
}

/// Validate a cluster name before anything runs: k3d's RFC 1123 rule and 32-character cap,
/// plus lower case, because the name becomes node host names and Kubernetes node names must
/// be lower case.
pub fn check_cluster_name(name: &str) -> Result<()> {
    const FIX: &str = "set K8S_DEV_CLUSTER to lower-case letters, digits and '-' (at most 32)";
    if name.is_empty() {
        bail!("cluster name is empty; {FIX}");
    }
    if name.len() > MAX_CLUSTER_NAME {
        bail!(
            "cluster name '{name}' has {} characters, k3d allows at most {MAX_CLUSTER_NAME}; {FIX}",
            name.len()
        );
    }
    for label in name.split('.') {
        let valid = !label.is_empty()
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            bail!("cluster name '{name}' is not a valid RFC 1123 host name; {FIX}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TWO_NODE_CLUSTER: &str = r#"[{"name":"dev","network":{"name":"k3d-dev"},"nodes":[],
        "serversRunning":1,"serversCount":1,"agentsRunning":1,"agentsCount":1,"hasLoadbalancer":true}]"#;

    #[test]
    fn cluster_with_all_nodes_running_is_running() {
        let info = parse_cluster_list(TWO_NODE_CLUSTER, "dev").unwrap();
        assert_eq!(info.state, State::Running);
        assert_eq!((info.servers, info.agents), (1, 1));
    }

    #[test]
    fn cluster_with_no_node_running_is_stopped() {
        let json = TWO_NODE_CLUSTER
            .replace("\"serversRunning\":1", "\"serversRunning\":0")
            .replace("\"agentsRunning\":1", "\"agentsRunning\":0");
        assert_eq!(
            parse_cluster_list(&json, "dev").unwrap().state,
            State::Stopped
        );
    }

    #[test]
    fn cluster_with_some_nodes_running_is_partial() {
        let json = TWO_NODE_CLUSTER.replace("\"agentsRunning\":1", "\"agentsRunning\":0");
        assert_eq!(
            parse_cluster_list(&json, "dev").unwrap().state,
            State::Partial
        );
    }

    #[test]
    fn other_or_no_cluster_is_missing() {
        assert_eq!(
            parse_cluster_list(TWO_NODE_CLUSTER, "prod").unwrap().state,
            State::Missing
        );
        assert_eq!(
            parse_cluster_list("[]", "dev").unwrap().state,
            State::Missing
        );
    }

    #[test]
    fn cluster_list_garbage_is_an_error() {
        let err = parse_cluster_list("INFO[0000] hello", "dev").unwrap_err();
        assert!(format!("{err:#}").contains("k3d cluster list"));
    }

    #[test]
    fn registry_state_follows_container_state() {
        let running = r#"[{"name":"k3d-openshell-registry","role":"registry","State":{"Running":true,"Status":"running"}}]"#;
        assert_eq!(
            parse_registry_list(running, "openshell-registry").unwrap(),
            State::Running
        );
        let stopped = running.replace("true", "false");
        assert_eq!(
            parse_registry_list(&stopped, "openshell-registry").unwrap(),
            State::Stopped
        );
        assert_eq!(
            parse_registry_list("[]", "openshell-registry").unwrap(),
            State::Missing
        );
    }

    #[test]
    fn k3d_not_found_messages_are_recognised() {
        assert!(is_not_found(
            "\x1b[31mFATA\x1b[0m[0000] No nodes found for given cluster"
        ));
        assert!(is_not_found(
            "FATA[0000] failed to get node 'x': failed to get container for node 'x': Didn't find container for node 'x'"
        ));
        assert!(!is_not_found("Cannot connect to the Docker daemon"));
    }

    /// stderr of a call recorded from the real k3d 5.9.0 (tests/data/recorded/record.sh).
    fn recorded_stderr(json: &str) -> String {
        let case: serde_json::Value = serde_json::from_str(json).unwrap();
        case["stderr"].as_str().unwrap().to_string()
    }

    #[test]
    fn recorded_missing_objects_are_recognised_in_both_log_formats() {
        for json in [
            include_str!("../../tests/data/recorded/k3d/cluster-list-missing.json"),
            include_str!("../../tests/data/recorded/k3d/cluster-list-missing-colors.json"),
            include_str!("../../tests/data/recorded/k3d/registry-list-missing.json"),
            include_str!("../../tests/data/recorded/k3d/registry-list-missing-colors.json"),
        ] {
            assert!(is_not_found(&recorded_stderr(json)), "{json}");
        }
    }

    #[test]
    fn an_engine_that_does_not_answer_is_not_a_missing_cluster() {
        for json in [
            include_str!("../../tests/data/recorded/k3d/cluster-list-no-engine.json"),
            include_str!("../../tests/data/recorded/k3d/cluster-list-no-engine-colors.json"),
            include_str!("../../tests/data/recorded/k3d/registry-list-no-engine.json"),
        ] {
            let stderr = recorded_stderr(json);
            assert!(!is_not_found(&stderr), "{stderr}");
            assert!(
                k3d_error(&stderr).contains("Cannot connect to the Docker daemon"),
                "{stderr}"
            );
        }
    }

    #[test]
    fn good_cluster_names_pass() {
        for name in ["openshell-dev", "a", "dev-2", "a.b", &"x".repeat(32)] {
            check_cluster_name(name).unwrap();
        }
    }

    #[test]
    fn bad_cluster_names_name_the_fix() {
        for (name, says) in [
            ("Dev", "not a valid RFC 1123"),
            ("a_b", "not a valid RFC 1123"),
            ("-dev", "not a valid RFC 1123"),
            ("dev-", "not a valid RFC 1123"),
            ("a..b", "not a valid RFC 1123"),
            ("", "empty"),
            (&"x".repeat(33), "has 33 characters"),
        ] {
            let err = check_cluster_name(name).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
            assert!(err.contains("set K8S_DEV_CLUSTER"), "{name}: {err}");
        }
    }
}
