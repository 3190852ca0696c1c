// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The kind and k3s providers' IO: the node containers and the kit's registry container through
//! the engine's API (Docker and Podman serve it alike), starting kind's nodes, the containerd
//! hosts files inside them, and the attached k3s's kubeconfig, API and registries.yaml. What it
//! all means is decided by the pure functions of [`kind`], [`k3s`] and [`crate::plan`].

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    DownloadFromContainerOptionsBuilder, ListContainersOptionsBuilder,
    UploadToContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::k3s::{self, Attached, Layout};
use super::kind::{self, HostsFile, KindCluster};
use super::{Provider, Registry, RegistryContainer, registry_seen};
use crate::engine::{self, Resolved};
use crate::env::Env;
use crate::plan::{ClusterSeen, Mirrors, RegistrySeen};
use crate::settings::Settings;

/// How long one engine API call may take.
const ENGINE_LIMIT: Duration = Duration::from_secs(10);
/// How long the attached k3s's API may take to answer `up`'s first question.
const API_LIMIT: Duration = Duration::from_secs(3);

/// What exists of a provider's cluster and of the kit's registry.
pub struct Seen {
    pub cluster: ClusterSeen,
    pub registry: RegistrySeen,
    /// kind: the registry is on kind's network.
    pub network: bool,
    pub mirrors: Mirrors,
}

fn client(engine: &Resolved) -> Result<Docker> {
    engine::client(&engine.endpoint(), ENGINE_LIMIT).map_err(|err| anyhow!(err))
}

fn not_found(err: &bollard::errors::Error) -> bool {
    matches!(
        err,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A container, or `None` when there is none of that name.
async fn inspect(docker: &Docker, name: &str) -> Result<Option<ContainerInspectResponse>> {
    match docker.inspect_container(name, None).await {
        Ok(found) => Ok(Some(found)),
        Err(err) if not_found(&err) => Ok(None),
        Err(err) => Err(err).with_context(|| format!("inspecting container {name}")),
    }
}

/// The registry container's labels, state, published port and networks.
fn registry_container(c: &ContainerInspectResponse) -> RegistryContainer {
    let published = c
        .host_config
        .as_ref()
        .and_then(|h| h.port_bindings.as_ref())
        .and_then(|p| p.get("5000/tcp"))
        .and_then(|b| b.as_ref())
        .and_then(|b| b.first())
        .and_then(|b| b.host_port.as_deref())
        .and_then(|p| p.parse().ok());
    // On the host's network (k3s) it listens where REGISTRY_HTTP_ADDR says.
    let on_host = c
        .config
        .as_ref()
        .and_then(|c| c.env.as_ref())
        .into_iter()
        .flatten()
        .find_map(|e| e.strip_prefix("REGISTRY_HTTP_ADDR="))
        .and_then(|addr| addr.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok());
    let port = published.or(on_host);
    RegistryContainer {
        labels: c
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default()
            .into_iter()
            .collect(),
        running: c.state.as_ref().and_then(|s| s.running) == Some(true),
        port,
        networks: c
            .network_settings
            .as_ref()
            .and_then(|n| n.networks.as_ref())
            .map(|n| n.keys().cloned().collect())
            .unwrap_or_default(),
    }
}

/// Whether a container of that name exists, in any state.
pub fn exists(engine: &Resolved, name: &str) -> Result<bool> {
    let docker = client(engine)?;
    Ok(crate::runtime::block_on(inspect(&docker, name))?.is_some())
}

/// The kit's registry container (kind and k3s; k3d's is k3d's).
pub fn registry(
    s: &Settings,
    engine: &Resolved,
) -> Result<(RegistrySeen, Option<RegistryContainer>)> {
    let docker = client(engine)?;
    let name = s.get("K8S_DEV_REGISTRY_CONTAINER");
    let found = crate::runtime::block_on(inspect(&docker, name))?;
    let container = found.as_ref().map(registry_container);
    Ok((registry_seen(container.as_ref(), name), container))
}

/// Every container named like the cluster's nodes (`<cluster>-…`, any state), with labels.
async fn named_like(
    docker: &Docker,
    cluster: &str,
) -> Result<Vec<(String, BTreeMap<String, String>)>> {
    // The engine matches `name` as a substring; kind::stranger_names and the label pick.
    let filters = HashMap::from([("name", vec![format!("{cluster}-")])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(options))
        .await
        .context("listing containers")?;
    Ok(labelled(list))
}

/// Each name of the listed containers (without the engine's leading `/`), with its labels.
pub fn labelled(
    list: Vec<bollard::models::ContainerSummary>,
) -> Vec<(String, BTreeMap<String, String>)> {
    list.into_iter()
        .flat_map(|c| {
            let labels: BTreeMap<String, String> =
                c.labels.unwrap_or_default().into_iter().collect();
            c.names
                .unwrap_or_default()
                .into_iter()
                .map(move |name| (name.trim_start_matches('/').to_string(), labels.clone()))
        })
        .collect()
}

/// The cluster's node containers (kind's label), inspected.
async fn kind_nodes(docker: &Docker, cluster: &str) -> Result<(Vec<kind::Node>, Vec<String>)> {
    let containers = named_like(docker, cluster).await?;
    let strangers = kind::stranger_names(&containers, cluster);
    let names: Vec<&str> = containers
        .iter()
        .filter(|(_, labels)| labels.get(kind::CLUSTER_LABEL).map(String::as_str) == Some(cluster))
        .map(|(name, _)| name.as_str())
        .collect();
    let inspected = futures_util::future::join_all(names.iter().map(|n| inspect(docker, n))).await;
    let mut found = Vec::new();
    for result in inspected {
        found.extend(result?);
    }
    // parse_inspect reads `docker inspect`'s JSON, which is what bollard's types serialize to.
    let json = serde_json::to_string(&found).context("encoding the node containers")?;
    Ok((kind::parse_inspect(&json)?, strangers))
}

/// The kind cluster, the registry and the mirrors in its nodes.
pub fn kind(s: &Settings, engine: &Resolved) -> Result<Seen> {
    let cluster = s.get("K8S_DEV_CLUSTER");
    let want = KindCluster::of(s);
    let image = match &want.image {
        Some(image) => image.clone(),
        None => kind::node_image(&read_template(s)?, &want)?,
    };
    let registry = Registry::of(s);
    let files = kind::hosts_files(&registry)?;
    let docker = client(engine)?;
    let container = s.get("K8S_DEV_REGISTRY_CONTAINER");
    let ((nodes, strangers), found) = crate::runtime::block_on(async {
        let (nodes, found) =
            tokio::join!(kind_nodes(&docker, cluster), inspect(&docker, container));
        Ok::<_, anyhow::Error>((nodes?, found?))
    })?;
    let assessment = kind::assess(&nodes, &want, &image);
    let seen = kind::cluster_seen(&nodes, &assessment, &strangers, cluster);
    let container = found.as_ref().map(registry_container);
    let network = container
        .as_ref()
        .is_some_and(|c| c.networks.iter().any(|n| n == kind::NETWORK));
    let mirrors = if seen.state == crate::provider::ObjectState::Running {
        let names: Vec<String> = nodes
            .iter()
            .filter(|n| n.cluster == cluster)
            .map(|n| n.name.clone())
            .collect();
        let found = crate::runtime::block_on(read_hosts_files(&docker, &names, &files))?;
        kind::mirrors_state(&files, &found)
    } else {
        Mirrors::Unknown
    };
    Ok(Seen {
        registry: registry_seen(container.as_ref(), container_name(s)),
        cluster: seen,
        network,
        mirrors,
    })
}

fn container_name(s: &Settings) -> &str {
    s.get("K8S_DEV_REGISTRY_CONTAINER")
}

/// The kind config template (`K8S_DEV_KIND_CONFIG`).
pub fn read_template(s: &Settings) -> Result<String> {
    let path = s.get("K8S_DEV_KIND_CONFIG");
    std::fs::read_to_string(path).map_err(|err| {
        anyhow!("reading the kind config template {path}: {err}; set K8S_DEV_KIND_CONFIG to the kit's deploy/kind/cluster.yaml")
    })
}

/// What each node holds at the hosts files' paths: one archive download of
/// /etc/containerd/certs.d per node (a node without the directory holds none of them).
async fn read_hosts_files(
    docker: &Docker,
    nodes: &[String],
    files: &[HostsFile],
) -> Result<Vec<(String, Vec<Option<String>>)>> {
    let mut out = Vec::new();
    for node in nodes {
        let options = DownloadFromContainerOptionsBuilder::new()
            .path(kind::CERTS_DIR)
            .build();
        let mut stream = docker.download_from_container(node, Some(options));
        let mut bytes = Vec::new();
        let mut missing = false;
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(err) if not_found(&err) => {
                    missing = true;
                    break;
                }
                Err(err) => {
                    return Err(err)
                        .with_context(|| format!("reading {} in node {node}", kind::CERTS_DIR));
                }
            }
        }
        let in_archive = if missing {
            BTreeMap::new()
        } else {
            untar(&bytes)?
        };
        // The archive's paths start at the directory's own name: certs.d/<registry>/hosts.toml.
        let base = Path::new(kind::CERTS_DIR)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let contents = files
            .iter()
            .map(|f| {
                in_archive
                    .get(&format!("{base}/{}/hosts.toml", f.name))
                    .cloned()
            })
            .collect();
        out.push((node.clone(), contents));
    }
    Ok(out)
}

/// The regular files of a tar archive, by path.
fn untar(bytes: &[u8]) -> Result<BTreeMap<String, String>> {
    let mut archive = tar::Archive::new(bytes);
    let mut files = BTreeMap::new();
    for entry in archive
        .entries()
        .context("reading an archive from the engine")?
    {
        let mut entry = entry.context("reading an archive from the engine")?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry
            .path()?
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        let mut text = String::new();
        entry.read_to_string(&mut text)?;
        files.insert(path, text);
    }
    Ok(files)
}

/// A tar archive of the hosts files, to extract at `/` in a node. Files only: the engine makes
/// missing parent directories, and a directory entry would reset the mode and owner of
/// `/etc` and whatever else already exists.
fn hosts_archive(files: &[HostsFile]) -> Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for file in files {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(file.content.len() as u64);
        builder.append_data(
            &mut header,
            file.path().trim_start_matches('/'),
            file.content.as_bytes(),
        )?;
    }
    Ok(builder.into_inner()?)
}

/// Write the kit's hosts files into every running node of the kind cluster that lacks them
/// (kind's local-registry recipe; containerd reads them per pull, no restart). Returns the nodes
/// written to.
pub fn write_hosts_files(s: &Settings, engine: &Resolved) -> Result<Vec<String>> {
    let cluster = s.get("K8S_DEV_CLUSTER");
    let files = kind::hosts_files(&Registry::of(s))?;
    let archive = bytes::Bytes::from(hosts_archive(&files)?);
    let docker = client(engine)?;
    crate::runtime::block_on(async {
        let (nodes, _) = kind_nodes(&docker, cluster).await?;
        let running: Vec<String> = nodes
            .iter()
            .filter(|n| n.running)
            .map(|n| n.name.clone())
            .collect();
        let found = read_hosts_files(&docker, &running, &files).await?;
        let mut written = Vec::new();
        for (node, contents) in found {
            if kind::mirrors_state(&files, &[(node.clone(), contents)]) == Mirrors::UpToDate {
                continue;
            }
            let options = UploadToContainerOptionsBuilder::new().path("/").build();
            docker
                .upload_to_container(&node, Some(options), bollard::body_full(archive.clone()))
                .await
                .with_context(|| format!("writing {} in node {node}", kind::CERTS_DIR))?;
            written.push(node);
        }
        Ok(written)
    })
}

/// The running node containers of kind cluster `cluster` (doctor probes the registry from them).
pub fn running_kind_nodes(engine: &Resolved, cluster: &str) -> Result<Vec<String>> {
    let docker = client(engine)?;
    let (nodes, _) = crate::runtime::block_on(kind_nodes(&docker, cluster))?;
    Ok(nodes
        .into_iter()
        .filter(|n| n.running)
        .map(|n| n.name)
        .collect())
}

/// Start the cluster's stopped node containers, the control plane first (the workers join
/// it). kind has no start command; kind sets `--restart=on-failure:1`, so after a reboot the
/// engine usually did this already. Returns the nodes started.
pub fn start_kind_nodes(s: &Settings, engine: &Resolved) -> Result<Vec<String>> {
    let cluster = s.get("K8S_DEV_CLUSTER");
    let docker = client(engine)?;
    crate::runtime::block_on(async {
        let (mut nodes, _) = kind_nodes(&docker, cluster).await?;
        nodes.sort_by_key(|n| (n.role != "control-plane", n.name.clone()));
        let mut started = Vec::new();
        for node in nodes.iter().filter(|n| !n.running) {
            docker
                .start_container(&node.name, None)
                .await
                .with_context(|| format!("starting kind node {}", node.name))?;
            started.push(node.name.clone());
        }
        Ok(started)
    })
}

/// The attached k3s: its kubeconfig (read and renamed to the kit's names) and whether its API
/// answers. Needs no engine, so `up` reports a k3s it cannot use before it looks for one.
pub fn attached(s: &Settings) -> (Attached, Option<String>) {
    let path = Path::new(s.get("K8S_DEV_K3S_KUBECONFIG"));
    let names = Provider::K3s.kubeconfig_names(s.get("K8S_DEV_CLUSTER"));
    let text = match k3s::read_kubeconfig(path) {
        Ok(text) => text,
        Err(err) => return (Attached::NoKubeconfig(format!("{err:#}")), None),
    };
    let renamed = match k3s::rename_kubeconfig(&text, &names) {
        Ok(renamed) => renamed,
        Err(err) => return (Attached::NoKubeconfig(format!("{err:#}")), None),
    };
    let server = k3s::server_of(&text).unwrap_or_else(|| path.display().to_string());
    let probe = match crate::kubeapi::access(&renamed, &names.context) {
        Ok(Some(access)) => crate::kubeapi::KubeApi::new(access)
            .map_err(|err| format!("{err:#}"))
            .and_then(|api| api.probe_apiserver(API_LIMIT)),
        // Credentials only kubectl understands (exec plugins, files by path).
        Ok(None) | Err(_) => crate::kubectl::Kubectl::find(Some(path.into()), None)
            .map_err(|err| format!("{err:#}"))
            .and_then(|kubectl| kubectl.probe_apiserver(API_LIMIT)),
    };
    let state = match probe {
        Ok(()) => Attached::Up,
        Err(reason) => Attached::Down { server, reason },
    };
    (state, Some(renamed))
}

/// The attached k3s, the registry container and registries.yaml.
pub fn k3s(env: &Env, s: &Settings, engine: &Resolved) -> Result<Seen> {
    let layout = Layout::of(env);
    let (state, _) = attached(s);
    let start = k3s::start_command(layout.service(), env.uid);
    let (registry, _) = registry(s, engine)?;
    let mut cluster = k3s::cluster_seen(&state, &start);
    // A registries.yaml k3s cannot read stops up (a defect) but not down, which leaves it.
    let mirrors = match k3s::mirrors_seen(&layout, &Registry::of(s), env.uid) {
        Ok(mirrors) => mirrors,
        Err(err) => {
            cluster.defects.push(format!("{err:#}"));
            Mirrors::UpToDate
        }
    };
    Ok(Seen {
        cluster,
        registry,
        network: true,
        mirrors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::example_registry;

    #[test]
    fn the_hosts_archive_holds_only_the_files() {
        let files = kind::hosts_files(&example_registry()).unwrap();
        let archive = hosts_archive(&files).unwrap();
        let mut entries = Vec::new();
        for entry in tar::Archive::new(archive.as_slice()).entries().unwrap() {
            let entry = entry.unwrap();
            entries.push((
                entry.path().unwrap().display().to_string(),
                entry.header().entry_type().is_file(),
            ));
        }
        assert_eq!(
            entries,
            [
                (
                    "etc/containerd/certs.d/openshell-registry:5000/hosts.toml".to_string(),
                    true
                ),
                (
                    "etc/containerd/certs.d/localhost:5000/hosts.toml".to_string(),
                    true
                ),
            ]
        );
        // What a node's archive of certs.d gives back reads as the same files.
        let read = untar(&archive).unwrap();
        assert_eq!(
            read["etc/containerd/certs.d/localhost:5000/hosts.toml"],
            files[1].content
        );
    }
}
