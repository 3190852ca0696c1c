// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Where the kit's cluster comes from (`K8S_DEV_PROVIDER`): k3s in k3d (the default), kind, or a
//! k3s already running on the host (attach). Each gives the same guarantees through the same
//! tasks; this module holds what differs between them as pure functions: the names a cluster's
//! kubeconfig entries get, how the cluster reaches the kit's registry, and (in [`kind`] and
//! [`k3s`]) each provider's own files and rules. [`checks`] has their doctor checks.
//!
//! docs/providers.md says how `up`, `down`, `status` and `doctor` use them.

pub mod checks;
pub mod k3d;
pub mod k3s;
pub mod kind;
pub mod live;

use std::fmt;
use std::str::FromStr;

use anyhow::{Result, bail};
use serde::Serialize;

/// The setting that picks the provider.
pub const SETTING: &str = "K8S_DEV_PROVIDER";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// k3s in containers, created and deleted by k3d (macOS and Linux).
    K3d,
    /// Upstream Kubernetes in containers, created and deleted by kind (OpenShell's Linux CI).
    Kind,
    /// The host's own k3s: attached to, never created, stopped or deleted.
    K3s,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::K3d, Provider::Kind, Provider::K3s];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::K3d => "k3d",
            Provider::Kind => "kind",
            Provider::K3s => "k3s",
        }
    }

    /// Read `K8S_DEV_PROVIDER`; unset or empty is k3d. Case matters, as for every other
    /// setting value: `Kind` is refused rather than guessed.
    pub fn from_setting(value: Option<&str>) -> Result<Provider> {
        match value.filter(|v| !v.is_empty()) {
            None => Ok(Provider::K3d),
            Some(value) => value.parse(),
        }
    }

    /// The longest cluster name the provider takes: k3d's own cap, kind's so that
    /// `<name>-control-plane` stays a host name, and for attached k3s (where the name only names
    /// kubeconfig entries) the settings rule's.
    pub fn max_cluster_name(self) -> usize {
        match self {
            Provider::K3d => 32,
            Provider::Kind => kind::MAX_CLUSTER_NAME,
            Provider::K3s => crate::settings::rules::MAX_CLUSTER_NAME,
        }
    }

    /// Whether `down` may delete the cluster. The host's k3s belongs to the host: `down` only
    /// forgets it (kubeconfig entry), and never stops the service.
    pub fn owns_cluster(self) -> bool {
        !matches!(self, Provider::K3s)
    }

    /// The names the cluster's kubeconfig entries have once merged: what each tool calls them
    /// (k3d `k3d-<name>` with user `admin@k3d-<name>`, kind `kind-<name>` for all three), and for
    /// attached k3s, whose file says `default` everywhere, the same shape under `k3s-`.
    pub fn kubeconfig_names(self, cluster: &str) -> KubeconfigNames {
        let prefixed = format!("{}-{cluster}", self.as_str());
        let user = match self {
            Provider::Kind => prefixed.clone(),
            Provider::K3d | Provider::K3s => format!("admin@{prefixed}"),
        };
        KubeconfigNames {
            context: prefixed.clone(),
            cluster: prefixed,
            user,
        }
    }

    /// How the kit's registry is reached: by the host (push), by the nodes on the cluster's
    /// network, and by the nodes' container runtime (what pods' images name).
    ///
    /// * k3d: the registry container is `k3d-<name>` on the cluster's network.
    /// * kind: the registry container keeps its name and is connected to the `kind` network.
    /// * k3s: the registry publishes on the host's loopback, where k3s's containerd runs.
    pub fn registry_hosting(self, registry: &Registry) -> RegistryHosting {
        let on_network = match self {
            Provider::K3d => format!("k3d-{}:5000", registry.name),
            Provider::Kind => format!("{}:5000", registry.name),
            Provider::K3s => format!("127.0.0.1:{}", registry.port),
        };
        RegistryHosting {
            host: registry.push.clone(),
            host_from_cluster_network: on_network,
            host_from_container_runtime: registry.pull.clone(),
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Provider {
    type Err = anyhow::Error;

    fn from_str(value: &str) -> Result<Provider> {
        match Provider::ALL.into_iter().find(|p| p.as_str() == value) {
            Some(provider) => Ok(provider),
            None => bail!(
                "unknown provider {value:?} in {SETTING}; set it to k3d (the default), kind or k3s"
            ),
        }
    }
}

/// What exists of one part of the kit (a cluster, a k3d load balancer, the registry), for every
/// provider: the plans decide on these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObjectState {
    Missing,
    Stopped,
    /// Some nodes run, others do not (a crashed agent, a half-finished start).
    Partial,
    Running,
    /// Something with the kit's name that the kit did not make (or made with other settings).
    Foreign,
}

impl ObjectState {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectState::Missing => "missing",
            ObjectState::Stopped => "stopped",
            ObjectState::Partial => "partial",
            ObjectState::Running => "running",
            ObjectState::Foreign => "foreign",
        }
    }

    /// The state of containers of which `running` of `total` run.
    pub fn from_counts(running: usize, total: usize) -> ObjectState {
        match (running, total) {
            (_, 0) => ObjectState::Missing,
            (0, _) => ObjectState::Stopped,
            (r, t) if r == t => ObjectState::Running,
            _ => ObjectState::Partial,
        }
    }

    pub fn exists(self) -> bool {
        !matches!(self, ObjectState::Missing)
    }
}

/// A cluster's entries in a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KubeconfigNames {
    pub context: String,
    pub cluster: String,
    pub user: String,
}

/// The kit's registry, as the settings name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// `K8S_DEV_REGISTRY_NAME`: the container's name (k3d prefixes `k3d-`).
    pub name: String,
    /// `K8S_DEV_REGISTRY_PORT`: its port on the host's bind address.
    pub port: u16,
    /// `K8S_DEV_REGISTRY`: the name the host pushes to (`localhost:5000`).
    pub push: String,
    /// `K8S_DEV_REGISTRY_PULL`: the name pods pull from (`openshell-registry:5000`).
    pub pull: String,
}

impl Registry {
    /// The registry the settings describe.
    pub fn of(s: &crate::settings::Settings) -> Registry {
        Registry {
            name: s.get("K8S_DEV_REGISTRY_NAME").to_string(),
            port: s.port("K8S_DEV_REGISTRY_PORT"),
            push: s.get("K8S_DEV_REGISTRY").to_string(),
            pull: s.get("K8S_DEV_REGISTRY_PULL").to_string(),
        }
    }

    /// The names containerd in the cluster must resolve to the kit's registry: the pull name
    /// pods use, and the push name, so an image tagged on the host runs unchanged. One entry
    /// when both are the same.
    pub fn mirrored_names(&self) -> Vec<&str> {
        let mut names = vec![self.pull.as_str()];
        if self.push != self.pull {
            names.push(self.push.as_str());
        }
        names
    }
}

/// The label the kit puts on the registry container it runs for kind and k3s (k3d labels its
/// own): what tells it from a stranger's container of the same name.
pub const REGISTRY_LABEL: &str = "io.k8s-dev.role";
pub const REGISTRY_LABEL_VALUE: &str = "registry";

/// The registry container (kind, k3s) as the engine shows it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegistryContainer {
    pub labels: std::collections::BTreeMap<String, String>,
    pub running: bool,
    /// The host port its 5000/tcp is published on.
    pub port: Option<u16>,
    /// The networks it is connected to.
    pub networks: Vec<String>,
}

/// What the plans see of the registry container `name` (`None`: no such container).
pub fn registry_seen(
    container: Option<&RegistryContainer>,
    name: &str,
) -> crate::plan::RegistrySeen {
    use crate::plan::{Foreign, RegistrySeen};
    let Some(c) = container else {
        return RegistrySeen {
            state: ObjectState::Missing,
            port: None,
            foreign: Vec::new(),
        };
    };
    if c.labels.get(REGISTRY_LABEL).map(String::as_str) != Some(REGISTRY_LABEL_VALUE) {
        return RegistrySeen {
            state: ObjectState::Foreign,
            port: None,
            foreign: vec![Foreign {
                why: format!("container {name} exists but was not created by k8s-dev"),
                fix: "remove it, or set K8S_DEV_REGISTRY_NAME to another name".into(),
            }],
        };
    }
    RegistrySeen {
        state: if c.running {
            ObjectState::Running
        } else {
            ObjectState::Stopped
        },
        port: c.port,
        foreign: Vec::new(),
    }
}

/// The registry port is busy, and the k3d provider's registry exists: after a switch from k3d to
/// kind or k3s, that is what holds it. Its images stay unless the user deletes it.
pub fn registry_port_held_by_k3d(bind: &str, port: u16, container: &str) -> String {
    format!(
        "port {port} on {bind} is in use, most likely by {container}, the registry of K8S_DEV_PROVIDER=k3d; \
         delete it (K8S_DEV_PROVIDER=k3d mise run k8s:dev:down --registry; its images go with it), or set \
         K8S_DEV_REGISTRY_PORT to another port"
    )
}

/// KEP-1755's `LocalRegistryHostingV1` (sig-cluster-lifecycle/generic/1755), which Skaffold and
/// Tilt read from the `local-registry-hosting` ConfigMap in `kube-public`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegistryHosting {
    pub host: String,
    pub host_from_cluster_network: String,
    pub host_from_container_runtime: String,
}

/// Where the kit's settings are documented; the ConfigMap's `help`.
pub const HELP: &str = "https://github.com/k8s-dev/k8s-dev#settings";

impl RegistryHosting {
    /// The ConfigMap as YAML for `kubectl apply -f -`. Values are JSON-quoted: a double-quoted
    /// YAML scalar reads a JSON string back unchanged, whatever the setting holds.
    pub fn config_map(&self) -> String {
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-registry-hosting\n  namespace: kube-public\n\
             data:\n  localRegistryHosting.v1: |\n    host: {}\n    hostFromClusterNetwork: {}\n    \
             hostFromContainerRuntime: {}\n    help: {}\n",
            quote(&self.host),
            quote(&self.host_from_cluster_network),
            quote(&self.host_from_container_runtime),
            quote(HELP),
        )
    }
}

/// Parse YAML into an ordered JSON value; the error is one line.
fn parse_yaml(text: &str) -> Result<serde_json::Value> {
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options).map_err(|err| anyhow::anyhow!("{err}"))
}

/// Emit YAML: multi-line strings as literal blocks, long single-line ones (image digests)
/// kept on one line rather than folded.
fn emit_yaml(value: &impl Serialize) -> Result<String> {
    let options = serde_saphyr::ser_options! { folded_wrap_chars: 100_000 };
    serde_saphyr::to_string_with_options(value, options)
        .map_err(|err| anyhow::anyhow!("writing YAML: {err}"))
}

/// The kit's default registry settings, for tests.
#[cfg(test)]
pub(crate) fn example_registry() -> Registry {
    Registry {
        name: "openshell-registry".into(),
        port: 5000,
        push: "localhost:5000".into(),
        pull: "openshell-registry:5000".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::example_registry as registry;

    #[test]
    fn unset_or_empty_provider_is_k3d() {
        assert_eq!(Provider::from_setting(None).unwrap(), Provider::K3d);
        assert_eq!(Provider::from_setting(Some("")).unwrap(), Provider::K3d);
        for p in Provider::ALL {
            assert_eq!(Provider::from_setting(Some(p.as_str())).unwrap(), p);
        }
    }

    #[test]
    fn unknown_provider_is_one_line_naming_the_values() {
        for bad in ["minikube", "Kind", "k3d ", "kind,k3s"] {
            let err = Provider::from_setting(Some(bad)).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "unknown provider {bad:?} in K8S_DEV_PROVIDER; set it to k3d (the default), kind or k3s"
                )
            );
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn only_the_attached_k3s_is_not_the_kits_to_delete() {
        assert!(Provider::K3d.owns_cluster());
        assert!(Provider::Kind.owns_cluster());
        assert!(!Provider::K3s.owns_cluster());
    }

    #[test]
    fn kubeconfig_names_follow_each_tool() {
        let names = |p: Provider| {
            let n = p.kubeconfig_names("openshell-dev");
            (n.context, n.cluster, n.user)
        };
        assert_eq!(
            names(Provider::K3d),
            (
                "k3d-openshell-dev".into(),
                "k3d-openshell-dev".into(),
                "admin@k3d-openshell-dev".into()
            )
        );
        assert_eq!(
            names(Provider::Kind),
            (
                "kind-openshell-dev".into(),
                "kind-openshell-dev".into(),
                "kind-openshell-dev".into()
            )
        );
        assert_eq!(
            names(Provider::K3s),
            (
                "k3s-openshell-dev".into(),
                "k3s-openshell-dev".into(),
                "admin@k3s-openshell-dev".into()
            )
        );
    }

    #[test]
    fn registry_hosting_names_the_registry_as_each_cluster_reaches_it() {
        let on_network = |p: Provider| {
            p.registry_hosting(&registry())
                .host_from_cluster_network
                .clone()
        };
        assert_eq!(on_network(Provider::K3d), "k3d-openshell-registry:5000");
        assert_eq!(on_network(Provider::Kind), "openshell-registry:5000");
        assert_eq!(on_network(Provider::K3s), "127.0.0.1:5000");
        let hosting = Provider::Kind.registry_hosting(&registry());
        assert_eq!(hosting.host, "localhost:5000");
        assert_eq!(
            hosting.host_from_container_runtime,
            "openshell-registry:5000"
        );
    }

    #[test]
    fn registry_hosting_config_map_is_kep_1755_yaml() {
        let cm = Provider::Kind.registry_hosting(&registry()).config_map();
        assert_eq!(
            cm,
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: local-registry-hosting\n  namespace: kube-public\n\
             data:\n  localRegistryHosting.v1: |\n    host: \"localhost:5000\"\n    \
             hostFromClusterNetwork: \"openshell-registry:5000\"\n    \
             hostFromContainerRuntime: \"openshell-registry:5000\"\n    \
             help: \"https://github.com/k8s-dev/k8s-dev#settings\"\n"
        );
        let parsed: serde_json::Value = serde_saphyr::from_str(&cm).unwrap();
        let inner: serde_json::Value =
            serde_saphyr::from_str(parsed["data"]["localRegistryHosting.v1"].as_str().unwrap())
                .unwrap();
        assert_eq!(inner["hostFromClusterNetwork"], "openshell-registry:5000");
    }

    #[test]
    fn the_registry_container_is_the_kits_by_its_label() {
        assert_eq!(registry_seen(None, "reg").state, ObjectState::Missing);
        let ours = RegistryContainer {
            labels: [(REGISTRY_LABEL.to_string(), REGISTRY_LABEL_VALUE.to_string())]
                .into_iter()
                .collect(),
            running: true,
            port: Some(5001),
            networks: vec!["kind".into()],
        };
        let seen = registry_seen(Some(&ours), "reg");
        assert_eq!((seen.state, seen.port), (ObjectState::Running, Some(5001)));
        let stopped = RegistryContainer {
            running: false,
            ..ours.clone()
        };
        assert_eq!(
            registry_seen(Some(&stopped), "reg").state,
            ObjectState::Stopped
        );
        let theirs = RegistryContainer::default();
        let seen = registry_seen(Some(&theirs), "reg");
        assert_eq!(seen.state, ObjectState::Foreign);
        assert_eq!(
            seen.foreign[0].line(),
            "container reg exists but was not created by k8s-dev; remove it, or set K8S_DEV_REGISTRY_NAME to another name"
        );
    }

    #[test]
    fn each_provider_caps_the_cluster_name_its_own_way() {
        assert_eq!(Provider::K3d.max_cluster_name(), 32);
        assert_eq!(Provider::Kind.max_cluster_name(), 49);
        assert_eq!(Provider::K3s.max_cluster_name(), 63);
    }

    #[test]
    fn mirrored_names_are_pull_then_push_without_repeats() {
        assert_eq!(
            registry().mirrored_names(),
            ["openshell-registry:5000", "localhost:5000"]
        );
        let same = Registry {
            push: "openshell-registry:5000".into(),
            ..registry()
        };
        assert_eq!(same.mirrored_names(), ["openshell-registry:5000"]);
    }
}
