// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The kind provider's pure parts: the cluster config kind receives, the containerd registry
//! host files written into its nodes, and what the node containers say about an existing
//! cluster (running, stopped, or not the kit's).
//!
//! kind expands no environment variables in its config (k3d does), so `deploy/kind/cluster.yaml`
//! holds the kit's defaults and [`render`] sets the values that follow settings on the parsed
//! document. Typed values set on a tree cannot inject YAML, and the template stays a config kind
//! reads as it is.

use std::net::IpAddr;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value, json};

use super::{ObjectState, Registry, emit_yaml, parse_yaml};
use crate::image::reference::Reference;
use crate::plan::{ClusterSeen, Foreign, Mirrors};

/// The kind release the kit is written and tested against (mise.toml pins the same).
pub const KIND_VERSION: &str = "v0.33.0";
/// Where the template lives in the kit.
pub const TEMPLATE: &str = "deploy/kind/cluster.yaml";
pub const API_VERSION: &str = "kind.x-k8s.io/v1alpha4";
/// The Docker labels kind puts on every node container (pkg/cluster/internal/providers/docker
/// and podman, constants.go).
pub const CLUSTER_LABEL: &str = "io.x-k8s.kind.cluster";
pub const ROLE_LABEL: &str = "io.x-k8s.kind.role";
/// The network kind creates and puts every cluster's nodes on (KIND_EXPERIMENTAL_DOCKER_NETWORK
/// overrides it, unsupported).
pub const NETWORK: &str = "kind";
/// Where the nodes' containerd looks for per-registry `hosts.toml` (the template's
/// `config_path`).
pub const CERTS_DIR: &str = "/etc/containerd/certs.d";
/// The API server's port inside the control-plane container (kind's common.APIServerInternalPort).
const API_SERVER_INTERNAL_PORT: u16 = 6443;
/// `<name>-control-plane` must stay a valid host name (63 characters); kind itself only warns
/// above 50.
pub const MAX_CLUSTER_NAME: usize = 63 - "-control-plane".len();

/// What the kit wants of its kind cluster, from validated settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindCluster {
    /// `K8S_DEV_CLUSTER`.
    pub name: String,
    /// `K8S_DEV_KIND_IMAGE`; `None` keeps the template's pinned image.
    pub image: Option<String>,
    /// `K8S_DEV_BIND_ADDRESS`: the host address of the API and the gateway port.
    pub bind_address: IpAddr,
    /// `K8S_DEV_API_PORT`.
    pub api_port: u16,
    /// `K8S_DEV_LB_PORT`: the host port of the gateway's NodePort.
    pub host_port: u16,
    /// `K8S_DEV_NODEPORT`.
    pub node_port: u16,
    /// `K8S_DEV_AGENTS`: worker nodes besides the control plane.
    pub workers: usize,
}

/// kind's node naming (pkg/cluster/internal/providers/common/namer.go): `<name>-<role>`, then
/// `<name>-<role>2`, `3`, … for further nodes of a role.
pub fn node_names(cluster: &str, workers: usize) -> Vec<String> {
    let mut names = vec![format!("{cluster}-control-plane")];
    names.extend((1..=workers).map(|i| match i {
        1 => format!("{cluster}-worker"),
        i => format!("{cluster}-worker{i}"),
    }));
    names
}

/// The context (and cluster and user) kind writes into a kubeconfig.
pub fn context_name(cluster: &str) -> String {
    format!("kind-{cluster}")
}

/// A cluster name kind accepts (`^[a-z0-9.-]+$`, pkg/internal/apis/config/validate.go) that also
/// makes valid node host names: RFC 1123 labels, at most [`MAX_CLUSTER_NAME`] characters.
pub fn check_name(name: &str) -> Result<()> {
    let fix = format!(
        "set K8S_DEV_CLUSTER to lower-case letters, digits and '-' (at most {MAX_CLUSTER_NAME})"
    );
    if name.is_empty() {
        bail!("cluster name is empty; {fix}");
    }
    if name.len() > MAX_CLUSTER_NAME {
        bail!(
            "cluster name '{name}' has {} characters, its kind node names would not be valid host names; {fix}",
            name.len()
        );
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        bail!("cluster name '{name}' is not a valid RFC 1123 host name; {fix}");
    }
    Ok(())
}

impl KindCluster {
    /// Check what settings cannot type: the name and the image reference. Ports and the
    /// address arrive typed; the NodePort must be in Kubernetes' default NodePort range.
    pub fn validate(&self) -> Result<()> {
        check_name(&self.name)?;
        if let Some(image) = &self.image {
            Reference::parse(image).map_err(|err| {
                anyhow::anyhow!(
                    "K8S_DEV_KIND_IMAGE {image:?} is not an image reference ({err:#}); set it to a kindest/node image, e.g. as kind's release notes list them"
                )
            })?;
        }
        if !(30000..=32767).contains(&self.node_port) {
            bail!(
                "K8S_DEV_NODEPORT {} is outside Kubernetes' NodePort range; set it to a port from 30000 to 32767",
                self.node_port
            );
        }
        for (var, port) in [
            ("K8S_DEV_API_PORT", self.api_port),
            ("K8S_DEV_LB_PORT", self.host_port),
        ] {
            if port == 0 {
                bail!("{var} is 0; set it to a port from 1024 to 65535");
            }
        }
        if self.api_port == self.host_port {
            bail!(
                "K8S_DEV_API_PORT and K8S_DEV_LB_PORT are both {}; give them different ports",
                self.api_port
            );
        }
        Ok(())
    }
}

fn template_error(problem: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{TEMPLATE}: {problem}; restore the kit's file or fix it")
}

fn role(node: &Value) -> &str {
    // kind defaults a missing role to control-plane (v1alpha4 SetDefaultsNode).
    node.get("role")
        .and_then(Value::as_str)
        .unwrap_or("control-plane")
}

/// The config kind receives: `template` (the text of [`TEMPLATE`]) with the settings-driven
/// values of `cluster` set, everything else as written. Comments do not survive; the output
/// starts with a line saying where it came from.
pub fn render(template: &str, cluster: &KindCluster) -> Result<String> {
    cluster.validate()?;
    let mut root = match parse_yaml(template).map_err(template_error)? {
        Value::Object(map) => map,
        _ => return Err(template_error("the document is not a mapping")),
    };
    for (key, want) in [("apiVersion", API_VERSION), ("kind", "Cluster")] {
        if root.get(key).and_then(Value::as_str) != Some(want) {
            return Err(template_error(format!("{key} is not {want}")));
        }
    }
    let address = cluster.bind_address.to_string();
    root.insert("name".into(), json!(cluster.name));
    let networking = root
        .entry("networking")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| template_error("networking is not a mapping"))?;
    networking.insert("apiServerAddress".into(), json!(address));
    networking.insert("apiServerPort".into(), json!(cluster.api_port));

    let nodes = root
        .get("nodes")
        .and_then(Value::as_array)
        .ok_or_else(|| template_error("nodes is not a list"))?;
    let (control_planes, workers): (Vec<&Value>, Vec<&Value>) =
        nodes.iter().partition(|n| role(n) == "control-plane");
    let [control_plane] = control_planes.as_slice() else {
        return Err(template_error(format!(
            "it has {} control-plane nodes, the kit expects one",
            control_planes.len()
        )));
    };
    if workers.len() != 1 || role(workers[0]) != "worker" {
        return Err(template_error(
            "it needs exactly one worker node, the one K8S_DEV_AGENTS repeats",
        ));
    }
    let mut control_plane = (*control_plane).clone();
    let mapping = control_plane
        .get_mut("extraPortMappings")
        .and_then(Value::as_array_mut)
        .and_then(|list| list.first_mut())
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            template_error("the control-plane node has no extraPortMappings entry for the gateway")
        })?;
    mapping.insert("containerPort".into(), json!(cluster.node_port));
    mapping.insert("hostPort".into(), json!(cluster.host_port));
    mapping.insert("listenAddress".into(), json!(address));

    let mut rendered = vec![control_plane];
    rendered.extend(std::iter::repeat_n(workers[0].clone(), cluster.workers));
    if let Some(image) = &cluster.image {
        for node in &mut rendered {
            if let Some(node) = node.as_object_mut() {
                node.insert("image".into(), json!(image));
            }
        }
    }
    root.insert("nodes".into(), Value::Array(rendered));

    let text = emit_yaml(&root).context("writing the kind config")?;
    Ok(format!(
        "# Rendered by k8s-dev-helper from {TEMPLATE} and the K8S_DEV settings; edit that file.\n{text}"
    ))
}

/// One `hosts.toml` the kit writes into every node (kind's local-registry recipe, step 3):
/// containerd then sends pulls of `name/…` to the registry container on the `kind` network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsFile {
    /// The registry name as images spell it (`localhost:5000`).
    pub name: String,
    /// `/etc/containerd/certs.d/<name>`.
    pub dir: String,
    pub content: String,
}

impl HostsFile {
    pub fn path(&self) -> String {
        format!("{}/hosts.toml", self.dir)
    }
}

/// A registry name fit to be a directory under [`CERTS_DIR`]: `host[:port]`, no path.
fn check_registry_name(name: &str, var: &str) -> Result<()> {
    let valid = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    if !valid {
        bail!("{var} {name:?} is not a registry host[:port]; set it like localhost:5000");
    }
    Ok(())
}

/// The `hosts.toml` files for the registry's pull and push names, both pointing at the
/// registry container by name on the `kind` network, over plain HTTP.
pub fn hosts_files(registry: &Registry) -> Result<Vec<HostsFile>> {
    check_registry_name(&registry.pull, "K8S_DEV_REGISTRY_PULL")?;
    check_registry_name(&registry.push, "K8S_DEV_REGISTRY")?;
    check_registry_name(&registry.name, "K8S_DEV_REGISTRY_NAME")?;
    let endpoint = format!("http://{}:5000", registry.name);
    Ok(registry
        .mirrored_names()
        .into_iter()
        .map(|name| HostsFile {
            name: name.to_string(),
            dir: format!("{CERTS_DIR}/{name}"),
            content: format!(
                "# Written by k8s-dev: pulls of {name}/… go to the kit's registry on the kind network.\n\
                 [host.\"{endpoint}\"]\n"
            ),
        })
        .collect())
}

/// One node container of a kind cluster, as `docker inspect` (or `podman inspect`) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub cluster: String,
    pub role: String,
    pub image: String,
    pub running: bool,
    /// Configured port bindings (`HostConfig.PortBindings`, kept while stopped):
    /// (container port with protocol, e.g. `6443/tcp`, host IP, host port).
    pub bindings: Vec<(String, String, String)>,
}

/// Parse `docker inspect <node>…` output (a JSON array) into the kind node containers in it;
/// containers without kind's cluster label are left out.
pub fn parse_inspect(json: &str) -> Result<Vec<Node>> {
    let list: Vec<Value> =
        serde_json::from_str(json).context("parsing `docker inspect` output of kind nodes")?;
    let text = |v: &Value, p: &str| {
        v.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let mut nodes = Vec::new();
    for c in &list {
        let labels = c.pointer("/Config/Labels");
        let label = |k: &str| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let Some(cluster) = label(CLUSTER_LABEL) else {
            continue;
        };
        let mut bindings = Vec::new();
        if let Some(ports) = c
            .pointer("/HostConfig/PortBindings")
            .and_then(Value::as_object)
        {
            for (port, list) in ports {
                for b in list.as_array().into_iter().flatten() {
                    bindings.push((port.clone(), text(b, "/HostIp"), text(b, "/HostPort")));
                }
            }
        }
        nodes.push(Node {
            name: text(c, "/Name").trim_start_matches('/').to_string(),
            cluster,
            role: label(ROLE_LABEL).unwrap_or_default(),
            image: text(c, "/Config/Image"),
            running: c.pointer("/State/Running").and_then(Value::as_bool) == Some(true),
            bindings,
        });
    }
    Ok(nodes)
}

/// What exists of the kit's kind cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// The kit's cluster in this state (`Missing` when no node exists).
    Ours(ObjectState),
    /// Nodes of that name exist but do not match the kit's config: someone else made the
    /// cluster, or the kit made it with other settings. Each entry says what differs.
    Foreign(Vec<String>),
}

/// Compare a cluster's node containers with what the kit would create for `want`. kind puts no
/// mark of its own creator on a node, so "the kit's" means "shaped as the kit's config makes it":
/// node roles and count, the API and gateway bindings, and the image.
pub fn assess(nodes: &[Node], want: &KindCluster, image: &str) -> Assessment {
    let nodes: Vec<&Node> = nodes.iter().filter(|n| n.cluster == want.name).collect();
    if nodes.is_empty() {
        return Assessment::Ours(ObjectState::Missing);
    }
    let address = want.bind_address.to_string();
    let mut differences = Vec::new();
    let count = |role: &str| nodes.iter().filter(|n| n.role == role).count();
    let (control_planes, workers) = (count("control-plane"), count("worker"));
    if control_planes != 1 || workers != want.workers || control_planes + workers != nodes.len() {
        differences.push(format!(
            "it has {control_planes} control-plane and {workers} worker nodes{}, the kit makes 1 and {}",
            if control_planes + workers == nodes.len() {
                String::new()
            } else {
                format!(" and {} others", nodes.len() - control_planes - workers)
            },
            want.workers
        ));
    }
    if let Some(cp) = nodes.iter().find(|n| n.role == "control-plane") {
        let expect = [
            (
                "API",
                format!("{API_SERVER_INTERNAL_PORT}/tcp"),
                want.api_port,
            ),
            ("gateway", format!("{}/tcp", want.node_port), want.host_port),
        ];
        for (what, port, host_port) in expect {
            let found: Vec<String> = cp
                .bindings
                .iter()
                .filter(|(p, _, _)| *p == port)
                .map(|(_, ip, hp)| format!("{ip}:{hp}"))
                .collect();
            let wanted = format!("{address}:{host_port}");
            if found != [wanted.clone()] {
                let seen = if found.is_empty() {
                    "not published".to_string()
                } else {
                    format!("on {}", found.join(", "))
                };
                differences.push(format!("its {what} ({port}) is {seen}, not on {wanted}"));
            }
        }
    }
    let images: Vec<&str> = nodes.iter().map(|n| n.image.as_str()).collect();
    if images.iter().any(|i| !same_image(i, image)) {
        differences.push(format!("its nodes run {}, not {image}", images[0]));
    }
    if !differences.is_empty() {
        return Assessment::Foreign(differences);
    }
    let running = nodes.iter().filter(|n| n.running).count();
    Assessment::Ours(ObjectState::from_counts(running, nodes.len()))
}

/// A cluster [`assess`] found not to be the kit's: why, and the fix (nothing is deleted: that
/// is the user's choice). One line with `; ` between them.
pub fn foreign(name: &str, differences: &[String]) -> Foreign {
    Foreign {
        why: format!(
            "kind cluster '{name}' exists but is not the one k8s-dev makes ({}); it was made by someone else or with other settings",
            differences.join("; ")
        ),
        fix: format!(
            "delete it yourself with `kind delete cluster --name {name}` if it is not needed, or set K8S_DEV_CLUSTER to another name"
        ),
    }
}

/// Whether a node's image is the one wanted, as an engine may spell it: kind on Podman runs
/// images fully qualified (`docker.io/kindest/node@sha256:…` for `kindest/node:v1.34.11@sha256:…`).
/// Same repository, and the same digest when both name one, else the same tag.
fn same_image(found: &str, want: &str) -> bool {
    // Podman names an image it has only locally `localhost/<name>` (a tag-built stand-in, a
    // `kind build node-image` result).
    let local = |name: &'_ str| name.strip_prefix("localhost/").unwrap_or(name).to_string();
    let (found, want) = (local(found), local(want));
    let (found, want) = (found.as_str(), want.as_str());
    match (Reference::parse(found), Reference::parse(want)) {
        (Ok(f), Ok(w)) => {
            f.same_repository(&w)
                && match (&f.digest, &w.digest) {
                    (Some(a), Some(b)) => a == b,
                    _ => {
                        f.tag.as_deref().unwrap_or("latest") == w.tag.as_deref().unwrap_or("latest")
                    }
                }
        }
        _ => found == want,
    }
}

/// The one-line error for a cluster [`assess`] found not to be the kit's.
pub fn foreign_error(name: &str, differences: &[String]) -> anyhow::Error {
    anyhow::anyhow!("{}", foreign(name, differences).line())
}

/// Whether `name` is one kind would give a node of `cluster` ([`node_names`], any count).
fn is_node_name(name: &str, cluster: &str) -> bool {
    let Some(rest) = name.strip_prefix(cluster).and_then(|r| r.strip_prefix('-')) else {
        return false;
    };
    rest == "control-plane"
        || rest == "external-load-balancer"
        || ["control-plane", "worker"].iter().any(|role| {
            rest.strip_prefix(role)
                .is_some_and(|n| n.is_empty() || n.bytes().all(|b| b.is_ascii_digit()))
        })
}

/// Containers (name as the engine lists it, `/x`, and labels) with the names kind gives the
/// nodes of `cluster` but without kind's label for that cluster: `kind create cluster` would
/// fail on them, and they are not the kit's to start or delete.
pub fn stranger_names(
    containers: &[(String, std::collections::BTreeMap<String, String>)],
    cluster: &str,
) -> Vec<String> {
    containers
        .iter()
        .filter_map(|(name, labels)| {
            let name = name.trim_start_matches('/');
            let labelled = labels.get(CLUSTER_LABEL).map(String::as_str) == Some(cluster);
            (is_node_name(name, cluster) && !labelled).then(|| name.to_string())
        })
        .collect()
}

/// What the plans see of the kind cluster: its state from [`assess`], with roles counted, and
/// whatever makes it not the kit's.
pub fn cluster_seen(
    nodes: &[Node],
    assessment: &Assessment,
    strangers: &[String],
    cluster: &str,
) -> ClusterSeen {
    let ours: Vec<&Node> = nodes.iter().filter(|n| n.cluster == cluster).collect();
    let count = |role: &str| {
        let of_role: Vec<&&Node> = ours.iter().filter(|n| n.role == role).collect();
        (of_role.iter().filter(|n| n.running).count(), of_role.len())
    };
    let mut foreign: Vec<Foreign> = strangers
        .iter()
        .map(|name| Foreign {
            why: format!("container {name} exists but was not created by kind for this cluster"),
            fix: "remove it, or set K8S_DEV_CLUSTER to another name".into(),
        })
        .collect();
    let state = match assessment {
        Assessment::Foreign(differences) => {
            foreign.push(self::foreign(cluster, differences));
            ObjectState::Foreign
        }
        Assessment::Ours(_) if !foreign.is_empty() => ObjectState::Foreign,
        Assessment::Ours(state) => *state,
    };
    ClusterSeen {
        state,
        servers: count("control-plane"),
        agents: count("worker"),
        // assess compares the API binding with the settings: a difference is foreign.
        api_port: None,
        holds_ports: ours.iter().any(|n| n.role == "control-plane" && n.running),
        foreign,
        defects: Vec::new(),
    }
}

/// The node image the kit's cluster runs: `K8S_DEV_KIND_IMAGE`, else the one the template pins
/// for its control plane.
pub fn node_image(template: &str, cluster: &KindCluster) -> Result<String> {
    if let Some(image) = &cluster.image {
        return Ok(image.clone());
    }
    let root = parse_yaml(template).map_err(template_error)?;
    root.get("nodes")
        .and_then(Value::as_array)
        .and_then(|nodes| nodes.iter().find(|n| role(n) == "control-plane"))
        .and_then(|n| n.get("image"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| template_error("the control-plane node names no image"))
}

/// Whether every node holds the kit's hosts files (`found`: per node, what each of `want`'s
/// paths read back, `None` when absent).
pub fn mirrors_state(want: &[HostsFile], found: &[(String, Vec<Option<String>>)]) -> Mirrors {
    let all = !found.is_empty()
        && found.iter().all(|(_, contents)| {
            contents.len() == want.len()
                && want
                    .iter()
                    .zip(contents)
                    .all(|(w, c)| c.as_deref() == Some(w.content.as_str()))
        });
    if all {
        Mirrors::UpToDate
    } else {
        Mirrors::Stale
    }
}

impl KindCluster {
    /// The cluster the settings describe.
    pub fn of(s: &crate::settings::Settings) -> KindCluster {
        KindCluster {
            name: s.get("K8S_DEV_CLUSTER").to_string(),
            image: s.opt("K8S_DEV_KIND_IMAGE").map(str::to_string),
            bind_address: s
                .get("K8S_DEV_BIND_ADDRESS")
                .parse()
                .expect("K8S_DEV_BIND_ADDRESS is validated"),
            api_port: s.port("K8S_DEV_API_PORT"),
            host_port: s.port("K8S_DEV_LB_PORT"),
            node_port: s.port("K8S_DEV_NODEPORT"),
            workers: s.number("K8S_DEV_AGENTS") as usize,
        }
    }
}

/// Cluster names from `kind get clusters` (stdout, one per line; "No kind clusters found." goes
/// to stderr).
pub fn parse_get_clusters(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// The environment kind needs to drive the engine the kit resolved: kind runs the `docker` CLI
/// unless told (KIND_EXPERIMENTAL_PROVIDER, pkg/internal/runtime) to run `podman`.
pub fn provider_env(engine: crate::engine::Engine) -> Option<(&'static str, &'static str)> {
    match engine {
        crate::engine::Engine::Podman => Some(("KIND_EXPERIMENTAL_PROVIDER", "podman")),
        crate::engine::Engine::Docker => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE_TEXT: &str = include_str!("../../../deploy/kind/cluster.yaml");
    const PINNED_IMAGE: &str = "kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d";

    /// The cluster at the settings' defaults, from the settings table itself.
    fn defaults() -> KindCluster {
        let env = crate::env::Env::empty(crate::env::Os::Linux);
        KindCluster::of(&crate::settings::Settings::resolve(&env, None).unwrap())
    }

    #[test]
    fn the_settings_defaults_are_the_kits_cluster() {
        assert_eq!(
            defaults(),
            KindCluster {
                name: "openshell-dev".into(),
                image: None,
                bind_address: "127.0.0.1".parse().unwrap(),
                api_port: 6550,
                host_port: 8080,
                node_port: 30051,
                workers: 1,
            }
        );
    }

    fn rendered(cluster: &KindCluster) -> Value {
        parse_yaml(&render(TEMPLATE_TEXT, cluster).unwrap()).unwrap()
    }

    #[test]
    fn template_holds_the_settings_defaults() {
        let template = parse_yaml(TEMPLATE_TEXT).unwrap();
        let mut from_defaults = rendered(&defaults());
        assert_eq!(from_defaults, template);
        from_defaults["name"] = json!("x");
        assert_ne!(from_defaults, template);
    }

    /// The renderings kept under tests/data/kind/rendered/, which the Python suite validates
    /// against kind's v1alpha4 schema and, where it is built, the real kind CLI.
    fn golden_cases() -> Vec<(&'static str, KindCluster)> {
        vec![
            ("defaults", defaults()),
            (
                "exposed-three-workers",
                KindCluster {
                    name: "team.dev-2".into(),
                    bind_address: "0.0.0.0".parse().unwrap(),
                    api_port: 7443,
                    host_port: 9080,
                    node_port: 32000,
                    workers: 3,
                    ..defaults()
                },
            ),
            (
                "single-node-own-image",
                KindCluster {
                    name: "solo".into(),
                    image: Some("localhost:5000/kindest/node:v1.33.7".into()),
                    workers: 0,
                    ..defaults()
                },
            ),
            (
                "ipv6-loopback",
                KindCluster {
                    name: "v6".into(),
                    bind_address: "::1".parse().unwrap(),
                    ..defaults()
                },
            ),
        ]
    }

    /// Each golden file equals what [`render`] gives for its case. `K8S_DEV_UPDATE_GOLDEN=1`
    /// rewrites them (review the diff).
    #[test]
    fn renderings_match_the_golden_files() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/kind/rendered");
        let update = std::env::var("K8S_DEV_UPDATE_GOLDEN").is_ok_and(|v| v == "1");
        let mut expected: Vec<String> = Vec::new();
        for (case, cluster) in golden_cases() {
            let text = render(TEMPLATE_TEXT, &cluster).unwrap();
            let path = dir.join(format!("{case}.yaml"));
            expected.push(format!("{case}.yaml"));
            if update {
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(&path, &text).unwrap();
            }
            let golden = std::fs::read_to_string(&path).unwrap_or_else(|err| {
                panic!(
                    "{}: {err}; run with K8S_DEV_UPDATE_GOLDEN=1",
                    path.display()
                )
            });
            assert_eq!(
                golden, text,
                "{case}: rerun with K8S_DEV_UPDATE_GOLDEN=1 and review"
            );
        }
        let mut present: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        present.sort();
        expected.sort();
        assert_eq!(present, expected, "a golden file without a case");
    }

    #[test]
    fn render_sets_name_api_and_gateway_mapping_from_settings() {
        let cluster = KindCluster {
            name: "dev-2".into(),
            bind_address: "0.0.0.0".parse().unwrap(),
            api_port: 7443,
            host_port: 9090,
            node_port: 31000,
            ..defaults()
        };
        let out = rendered(&cluster);
        assert_eq!(out["name"], "dev-2");
        assert_eq!(out["networking"]["apiServerAddress"], "0.0.0.0");
        assert_eq!(out["networking"]["apiServerPort"], 7443);
        let mapping = &out["nodes"][0]["extraPortMappings"][0];
        assert_eq!(mapping["containerPort"], 31000);
        assert_eq!(mapping["hostPort"], 9090);
        assert_eq!(mapping["listenAddress"], "0.0.0.0");
        assert_eq!(mapping["protocol"], "TCP");
        // kind decodes ports as int32: a quoted port would be a decode error.
        assert!(mapping["hostPort"].is_u64());
    }

    #[test]
    fn render_repeats_the_worker_per_agent() {
        for workers in [0, 1, 3] {
            let out = rendered(&KindCluster {
                workers,
                ..defaults()
            });
            let roles: Vec<&str> = out["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["role"].as_str().unwrap())
                .collect();
            let mut want = vec!["control-plane"];
            want.extend(std::iter::repeat_n("worker", workers));
            assert_eq!(roles, want);
        }
    }

    #[test]
    fn render_keeps_the_pinned_image_unless_set() {
        let images = |out: &Value| -> Vec<String> {
            out["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["image"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(images(&rendered(&defaults())), [PINNED_IMAGE; 2]);
        let own = "localhost:5000/kindest/node:v1.34.11";
        let out = rendered(&KindCluster {
            image: Some(own.into()),
            workers: 2,
            ..defaults()
        });
        assert_eq!(images(&out), [own; 3]);
    }

    #[test]
    fn render_keeps_everything_else_including_the_containerd_patch() {
        let out = rendered(&defaults());
        let patch = out["containerdConfigPatches"][0].as_str().unwrap();
        assert_eq!(
            patch,
            "[plugins.\"io.containerd.grpc.v1.cri\".registry]\n  config_path = \"/etc/containerd/certs.d\""
        );
        let extra = TEMPLATE_TEXT.replace(
            "kind: Cluster\n",
            "kind: Cluster\nfeatureGates:\n  SomeGate: true\n",
        );
        let out = parse_yaml(&render(&extra, &defaults()).unwrap()).unwrap();
        assert_eq!(out["featureGates"], json!({"SomeGate": true}));
    }

    #[test]
    fn render_output_says_where_it_came_from() {
        let text = render(TEMPLATE_TEXT, &defaults()).unwrap();
        assert!(text.starts_with("# Rendered by k8s-dev-helper from deploy/kind/cluster.yaml"));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_name_that_is_yaml_cannot_inject() {
        // Refused by validation; and were it not, a value set on the tree is quoted as needed.
        let err = render(
            TEMPLATE_TEXT,
            &KindCluster {
                name: "x\nnodes: []".into(),
                ..defaults()
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a valid RFC 1123"), "{err}");
    }

    #[test]
    fn bad_settings_are_one_line_errors_naming_the_setting() {
        for (cluster, says) in [
            (
                KindCluster {
                    name: "Dev".into(),
                    ..defaults()
                },
                "set K8S_DEV_CLUSTER",
            ),
            (
                KindCluster {
                    name: "a".repeat(MAX_CLUSTER_NAME + 1),
                    ..defaults()
                },
                "would not be valid host names",
            ),
            (
                KindCluster {
                    node_port: 8080,
                    ..defaults()
                },
                "set it to a port from 30000 to 32767",
            ),
            (
                KindCluster {
                    host_port: 6550,
                    ..defaults()
                },
                "give them different ports",
            ),
            (
                KindCluster {
                    api_port: 0,
                    ..defaults()
                },
                "K8S_DEV_API_PORT is 0",
            ),
            (
                KindCluster {
                    image: Some("kindest/node:v1 34".into()),
                    ..defaults()
                },
                "K8S_DEV_KIND_IMAGE",
            ),
        ] {
            let err = format!("{:#}", render(TEMPLATE_TEXT, &cluster).unwrap_err());
            assert!(err.contains(says), "{err}");
            assert!(!err.contains('\n'), "{err}");
        }
    }

    #[test]
    fn a_template_without_the_kits_shape_is_refused_naming_the_file() {
        for (edit, says) in [
            (
                TEMPLATE_TEXT.replace("kind.x-k8s.io/v1alpha4", "kind.x-k8s.io/v1alpha3"),
                "apiVersion is not kind.x-k8s.io/v1alpha4",
            ),
            (
                TEMPLATE_TEXT.replace("  - role: worker\n", "  - role: control-plane\n"),
                "it has 2 control-plane nodes",
            ),
            (
                TEMPLATE_TEXT.replace("    extraPortMappings:", "    extraPortMappingz:"),
                "no extraPortMappings entry",
            ),
            ("nodes: [\n".to_string(), "deploy/kind/cluster.yaml: "),
            ("- a\n".to_string(), "not a mapping"),
        ] {
            let err = render(&edit, &defaults()).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
            assert!(err.starts_with("deploy/kind/cluster.yaml: "), "{err}");
            assert!(err.ends_with("restore the kit's file or fix it"), "{err}");
        }
    }

    #[test]
    fn node_names_follow_kinds_namer() {
        assert_eq!(
            node_names("dev", 3),
            [
                "dev-control-plane",
                "dev-worker",
                "dev-worker2",
                "dev-worker3"
            ]
        );
        assert_eq!(node_names("dev", 0), ["dev-control-plane"]);
        assert_eq!(context_name("dev"), "kind-dev");
    }

    use crate::provider::example_registry as registry;

    #[test]
    fn hosts_files_send_both_names_to_the_registry_container() {
        let files = hosts_files(&registry()).unwrap();
        let paths: Vec<String> = files.iter().map(HostsFile::path).collect();
        assert_eq!(
            paths,
            [
                "/etc/containerd/certs.d/openshell-registry:5000/hosts.toml",
                "/etc/containerd/certs.d/localhost:5000/hosts.toml"
            ]
        );
        for file in &files {
            assert!(
                file.content
                    .ends_with("\n[host.\"http://openshell-registry:5000\"]\n"),
                "{}",
                file.content
            );
        }
    }

    #[test]
    fn registry_names_that_would_escape_the_certs_dir_are_refused() {
        for (bad, var) in [
            (
                Registry {
                    push: "../../etc".into(),
                    ..registry()
                },
                "K8S_DEV_REGISTRY",
            ),
            (
                Registry {
                    pull: "reg:5000/path".into(),
                    ..registry()
                },
                "K8S_DEV_REGISTRY_PULL",
            ),
            (
                Registry {
                    name: "a b".into(),
                    ..registry()
                },
                "K8S_DEV_REGISTRY_NAME",
            ),
        ] {
            let err = hosts_files(&bad).unwrap_err().to_string();
            assert!(err.starts_with(var), "{err}");
        }
    }

    const INSPECT_RUNNING: &str =
        include_str!("../../../tests/data/recorded/kind/inspect-running.json");
    const INSPECT_STOPPED: &str =
        include_str!("../../../tests/data/recorded/kind/inspect-stopped.json");

    const RECORDED_CASE: &str = include_str!("../../../tests/data/recorded/kind/get-nodes.json");
    const STAND_IN_IMAGE: &str = "k8s-dev-kind-stand-in-node:1";

    /// The recorded nodes (tests/data/recorded/kind/README.md): cluster `rec`, the API and the
    /// gateway (→ 30051) on the loopback ports the recording's `vars` name, one worker.
    fn recorded() -> KindCluster {
        let case: Value = serde_json::from_str(RECORDED_CASE).unwrap();
        let port = |var: &str| case["vars"][var].as_str().unwrap().parse().unwrap();
        KindCluster {
            name: "rec".into(),
            api_port: port("API_PORT"),
            host_port: port("HOST_PORT"),
            ..defaults()
        }
    }

    #[test]
    fn inspect_output_gives_nodes_roles_state_and_bindings() {
        let nodes = parse_inspect(INSPECT_RUNNING).unwrap();
        let names: Vec<(&str, &str, bool)> = nodes
            .iter()
            .map(|n| (n.name.as_str(), n.role.as_str(), n.running))
            .collect();
        assert_eq!(
            names,
            [
                ("rec-control-plane", "control-plane", true),
                ("rec-worker", "worker", true)
            ]
        );
        let mut bindings = nodes[0].bindings.clone();
        bindings.sort();
        let want = recorded();
        assert_eq!(
            bindings,
            [
                (
                    "30051/tcp".into(),
                    "127.0.0.1".into(),
                    want.host_port.to_string()
                ),
                (
                    "6443/tcp".into(),
                    "127.0.0.1".into(),
                    want.api_port.to_string()
                )
            ]
        );
        let stopped = parse_inspect(INSPECT_STOPPED).unwrap();
        assert!(stopped.iter().all(|n| !n.running));
        assert_eq!(stopped[0].bindings.len(), 2, "bindings survive a stop");
    }

    #[test]
    fn assess_tells_running_stopped_partial_and_missing() {
        let want = recorded();
        let image = STAND_IN_IMAGE;
        let running = parse_inspect(INSPECT_RUNNING).unwrap();
        assert_eq!(
            assess(&running, &want, image),
            Assessment::Ours(ObjectState::Running)
        );
        let stopped = parse_inspect(INSPECT_STOPPED).unwrap();
        assert_eq!(
            assess(&stopped, &want, image),
            Assessment::Ours(ObjectState::Stopped)
        );
        let mut partial = running.clone();
        partial[1].running = false;
        assert_eq!(
            assess(&partial, &want, image),
            Assessment::Ours(ObjectState::Partial)
        );
        let other = KindCluster {
            name: "other".into(),
            ..recorded()
        };
        assert_eq!(
            assess(&running, &other, image),
            Assessment::Ours(ObjectState::Missing)
        );
    }

    #[test]
    fn a_cluster_of_the_same_name_not_shaped_by_the_kit_is_foreign() {
        let running = parse_inspect(INSPECT_RUNNING).unwrap();
        // `kind create cluster --name rec` alone: API on a random port, no gateway mapping,
        // kind's default image.
        let Assessment::Foreign(diffs) = assess(&running, &defaults_named("rec"), PINNED_IMAGE)
        else {
            panic!("expected foreign");
        };
        let rec = recorded();
        assert_eq!(
            diffs,
            [
                format!(
                    "its API (6443/tcp) is on 127.0.0.1:{}, not on 127.0.0.1:6550",
                    rec.api_port
                ),
                format!(
                    "its gateway (30051/tcp) is on 127.0.0.1:{}, not on 127.0.0.1:8080",
                    rec.host_port
                ),
                format!("its nodes run {STAND_IN_IMAGE}, not {PINNED_IMAGE}"),
            ]
        );
        let Assessment::Foreign(diffs) = assess(
            &running,
            &KindCluster {
                workers: 2,
                ..recorded()
            },
            STAND_IN_IMAGE,
        ) else {
            panic!("expected foreign");
        };
        assert_eq!(
            diffs,
            ["it has 1 control-plane and 1 worker nodes, the kit makes 1 and 2"]
        );
        let err = foreign_error("rec", &diffs).to_string();
        assert!(
            err.starts_with(
                "kind cluster 'rec' exists but is not the one k8s-dev makes (it has 1 control-plane"
            ),
            "{err}"
        );
        assert!(err.contains("kind delete cluster --name rec"), "{err}");
        assert!(!err.contains('\n'));
    }

    fn defaults_named(name: &str) -> KindCluster {
        KindCluster {
            name: name.into(),
            ..defaults()
        }
    }

    #[test]
    fn inspect_of_non_kind_containers_is_empty_and_garbage_is_an_error() {
        assert!(
            parse_inspect(r#"[{"Name":"/registry","Config":{"Labels":{}}}]"#)
                .unwrap()
                .is_empty()
        );
        let err = parse_inspect("Error: no such object").unwrap_err();
        assert!(format!("{err:#}").contains("docker inspect"));
    }

    #[test]
    fn get_clusters_lists_stdout_lines() {
        assert_eq!(parse_get_clusters("rec\nother\n"), ["rec", "other"]);
        assert!(parse_get_clusters("").is_empty());
    }

    #[test]
    fn podman_is_chosen_for_kind_by_its_experimental_variable() {
        use crate::engine::Engine;
        assert_eq!(
            provider_env(Engine::Podman),
            Some(("KIND_EXPERIMENTAL_PROVIDER", "podman"))
        );
        assert_eq!(provider_env(Engine::Docker), None);
    }

    fn labels(cluster: Option<&str>) -> std::collections::BTreeMap<String, String> {
        cluster
            .map(|c| (CLUSTER_LABEL.to_string(), c.to_string()))
            .into_iter()
            .collect()
    }

    #[test]
    fn containers_with_node_names_but_not_the_clusters_label_are_strangers() {
        let containers = vec![
            ("/rec-control-plane".to_string(), labels(Some("rec"))),
            ("/rec-worker".to_string(), labels(None)),
            ("/rec-worker7".to_string(), labels(Some("other"))),
            ("/rec-workerx".to_string(), labels(None)),
            ("/rec-registry".to_string(), labels(None)),
            ("/recorder-control-plane".to_string(), labels(None)),
        ];
        assert_eq!(
            stranger_names(&containers, "rec"),
            ["rec-worker", "rec-worker7"]
        );
    }

    #[test]
    fn the_plans_see_kinds_nodes_by_role_and_a_foreign_cluster_with_both_fixes() {
        let nodes = parse_inspect(INSPECT_RUNNING).unwrap();
        let want = recorded();
        let ours = cluster_seen(&nodes, &assess(&nodes, &want, STAND_IN_IMAGE), &[], "rec");
        assert_eq!(ours.state, ObjectState::Running);
        assert_eq!((ours.servers, ours.agents), ((1, 1), (1, 1)));
        assert!(
            ours.holds_ports,
            "the running control plane holds the ports"
        );
        assert!(ours.foreign.is_empty() && ours.defects.is_empty());

        let mut stopped = nodes.clone();
        stopped[0].running = false;
        let partial = cluster_seen(
            &stopped,
            &assess(&stopped, &want, STAND_IN_IMAGE),
            &[],
            "rec",
        );
        assert_eq!(partial.state, ObjectState::Partial);
        assert!(
            !partial.holds_ports,
            "a stopped control plane holds nothing"
        );

        let theirs = cluster_seen(
            &nodes,
            &assess(&nodes, &defaults_named("rec"), PINNED_IMAGE),
            &[],
            "rec",
        );
        assert_eq!(theirs.state, ObjectState::Foreign);
        assert_eq!(theirs.foreign.len(), 1);
        assert!(
            theirs.foreign[0]
                .why
                .starts_with("kind cluster 'rec' exists but is not the one k8s-dev makes (")
        );
        assert_eq!(
            theirs.foreign[0].fix,
            "delete it yourself with `kind delete cluster --name rec` if it is not needed, or set K8S_DEV_CLUSTER to another name"
        );

        let missing = cluster_seen(
            &[],
            &Assessment::Ours(ObjectState::Missing),
            &["rec-control-plane".into()],
            "rec",
        );
        assert_eq!(
            missing.state,
            ObjectState::Foreign,
            "a stranger holds a node's name"
        );
        assert_eq!(
            missing.foreign[0].line(),
            "container rec-control-plane exists but was not created by kind for this cluster; remove it, or set K8S_DEV_CLUSTER to another name"
        );
    }

    #[test]
    fn node_images_compare_as_engines_spell_them() {
        let pinned = PINNED_IMAGE;
        let digest = &pinned[pinned.find('@').unwrap()..];
        // kind on Podman runs the fully qualified name, without the tag.
        assert!(same_image(
            &format!("docker.io/kindest/node{digest}"),
            pinned
        ));
        assert!(!same_image(
            "docker.io/kindest/node@sha256:0000000000000000000000000000000000000000000000000000000000000000",
            pinned
        ));
        // Podman's name for an image it has only locally.
        assert!(same_image(
            "localhost/k8s-dev-kind-stand-in-node:1",
            "k8s-dev-kind-stand-in-node:1"
        ));
        assert!(same_image("docker.io/library/x:1", "x:1"));
        assert!(!same_image("x:2", "x:1"));
        assert!(!same_image("registry.example/x:1", "x:1"));
    }

    #[test]
    fn the_expected_image_is_the_setting_else_the_templates_pin() {
        assert_eq!(
            node_image(TEMPLATE_TEXT, &defaults()).unwrap(),
            PINNED_IMAGE
        );
        let own = KindCluster {
            image: Some("own:1".into()),
            ..defaults()
        };
        assert_eq!(node_image(TEMPLATE_TEXT, &own).unwrap(), "own:1");
        let err = node_image("nodes: [{role: control-plane}]\n", &defaults()).unwrap_err();
        assert!(err.to_string().contains("names no image"), "{err}");
    }

    #[test]
    fn mirrors_are_up_to_date_only_when_every_node_has_every_file() {
        let files = hosts_files(&registry()).unwrap();
        let all: Vec<Option<String>> = files.iter().map(|f| Some(f.content.clone())).collect();
        let node = |contents: Vec<Option<String>>| ("n".to_string(), contents);
        assert_eq!(
            mirrors_state(&files, &[node(all.clone()), node(all.clone())]),
            Mirrors::UpToDate
        );
        let mut one_missing = all.clone();
        one_missing[1] = None;
        assert_eq!(
            mirrors_state(&files, &[node(all.clone()), node(one_missing)]),
            Mirrors::Stale
        );
        let mut changed = all.clone();
        changed[0] = Some("[host.\"http://elsewhere:5000\"]\n".into());
        assert_eq!(mirrors_state(&files, &[node(changed)]), Mirrors::Stale);
        assert_eq!(
            mirrors_state(&files, &[]),
            Mirrors::Stale,
            "no node read: not up to date"
        );
    }

    #[test]
    fn kind_version_matches_the_mise_pin() {
        let mise = include_str!("../../../mise.toml");
        let pin = format!("\"aqua:kubernetes-sigs/kind\" = \"{}\"", &KIND_VERSION[1..]);
        assert!(mise.contains(&pin), "mise.toml lacks {pin}");
    }
}
