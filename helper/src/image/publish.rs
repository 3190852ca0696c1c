// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! One publish, end to end: resolve the base (manifest + config, never its layers) while the
//! new layer is built, compute the config and manifest, stop if every tag already serves that
//! manifest, else make each blob present in the target (HEAD → mount → copy or upload) and push
//! the manifest last, so a failed publish never moves a tag.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use serde::Serialize;
use serde_json::Value;

use super::cache::{self, LayerCache};
use super::layer::{self, Built, Compression, Entry, LayerFile};
use super::manifest::{
    self, ConfigChanges, DOCKER_CONFIG, DOCKER_LIST, DOCKER_MANIFEST, Descriptor, Index, Manifest,
    NewLayer, OCI_CONFIG, OCI_INDEX, OCI_MANIFEST, Platform,
};
use super::prefix::PrefixReport;
use super::reference::Reference;
use super::registry::{
    Client, MAX_CONFIG_BYTES, Mount, Refused, Registries, Repo, Unauthorized, Unreachable,
};
use super::sha256_digest;

/// Everything a publish needs, already validated.
#[derive(Debug, Clone)]
pub struct Request {
    /// An image reference, or `scratch`.
    pub base: String,
    pub platform: Platform,
    /// Files for the one new layer; empty adds no layer.
    pub files: Vec<LayerFile>,
    /// The history line of the new layer.
    pub created_by: String,
    /// The fix named when the base cannot be read (from a Dockerfile: the build-arg that
    /// points it at a mirror); `None` keeps the generic one.
    pub base_hint: Option<String>,
    pub changes: ConfigChanges,
    pub tags: Vec<Reference>,
    pub compression: Compression,
    pub level: u32,
    /// Every timestamp in the layer and config (`SOURCE_DATE_EPOCH`, default 0).
    pub epoch: u64,
    /// Plain-HTTP registries, credentials and CAs.
    pub registries: Registries,
    /// Where the layer cache lives; `None` disables it.
    pub cache_dir: Option<PathBuf>,
}

/// What a publish did; `--json` prints it as is.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `registry/repository` of the first tag.
    pub repo: String,
    /// Every tag, as `registry/repository:tag`.
    pub tags: Vec<String>,
    pub digest: String,
    /// `registry/repository@digest`, one per repository.
    pub refs: Vec<String>,
    pub bytes_uploaded: u64,
    /// Bytes of blobs the target already had or got by mount.
    pub bytes_skipped: u64,
    /// The layer came from the cache (no tar, no compression).
    pub layer_cached: bool,
    /// Every tag already served this manifest; nothing was sent.
    pub unchanged: bool,
    pub layer_digest: Option<String>,
    pub layer_size: Option<u64>,
    pub base_ms: u64,
    pub layer_ms: u64,
    pub upload_ms: u64,
    pub manifest_ms: u64,
    pub total_ms: u64,
    /// Set when `--engine-prefix` built (or found) the part of the Dockerfile an engine needs.
    pub prefix: Option<PrefixReport>,
}

/// The base image as far as a publish needs it.
struct Base {
    repo: Option<Repo>,
    config: Value,
    layers: Vec<Descriptor>,
}

/// A layer blob on disk, removed on drop unless it belongs to the cache.
struct Prepared {
    built: Built,
    path: PathBuf,
    /// Taken from the cache (still true after its bytes were checked; false once rebuilt).
    cached: AtomicBool,
    temp: bool,
    /// For a blob from the cache: how to make it again, and whether its bytes were checked.
    rebuild: Option<Rebuild>,
    checked: AtomicBool,
}

/// What [`layer::build`] needs to make a cached blob again.
#[derive(Clone)]
struct Rebuild {
    entries: BTreeMap<String, Entry>,
    compression: Compression,
    level: u32,
    epoch: u64,
}

impl Drop for Prepared {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Before a cached blob's bytes go anywhere: hash it against its digest, and when it fails,
/// build it again from the sources in its place. Returns whether it was rebuilt.
fn check_cached(path: &Path, built: &Built, rebuild: &Rebuild) -> anyhow::Result<bool> {
    if cache::verify_blob(path, &built.digest, built.size) {
        return Ok(false);
    }
    let temp = path.with_file_name(format!(".tmp-{}-rebuild", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let again = layer::build(
        &rebuild.entries,
        rebuild.compression,
        rebuild.level,
        rebuild.epoch,
        &temp,
    )
    .inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    if again != *built {
        let _ = std::fs::remove_file(&temp);
        let _ = std::fs::remove_file(path);
        bail!(
            "the cached layer {} changed on disk, and its sources now make {}; publish again",
            built.digest,
            again.digest
        );
    }
    std::fs::rename(&temp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(true)
}

fn ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

pub async fn publish(req: &Request) -> anyhow::Result<Report> {
    let start = Instant::now();
    if req.tags.is_empty() {
        bail!("nothing to publish to; pass --tag REGISTRY/REPO:TAG");
    }
    let client = Client::new(&req.registries)?;

    let layer_job = {
        let (files, compression, level, epoch, cache_dir) = (
            req.files.clone(),
            req.compression,
            req.level,
            req.epoch,
            req.cache_dir.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            prepare_layer(&files, compression, level, epoch, cache_dir).map(|p| (p, ms(t)))
        })
    };
    let base_start = Instant::now();
    let base = resolve_base(&client, &req.base, &req.platform, req.base_hint.as_deref()).await;
    let base_ms = ms(base_start);
    let (layer, layer_ms) = layer_job.await.context("building the layer")??;
    let base = base?;

    let created = manifest::timestamp(req.epoch);
    let new_layers: Vec<NewLayer> = layer
        .iter()
        .map(|l| NewLayer {
            diff_id: l.built.diff_id.clone(),
            created_by: req.created_by.clone(),
        })
        .collect();
    let config = manifest::edit_config(&base.config, &req.changes, &new_layers, &created)?;
    let config_bytes = serde_json::to_vec(&config)?;
    let config_digest = sha256_digest(&config_bytes);
    let mut layers: Vec<Descriptor> = base
        .layers
        .iter()
        .map(|d| Descriptor {
            media_type: manifest::oci_layer_media_type(&d.media_type).to_string(),
            digest: d.digest.clone(),
            size: d.size,
            platform: None,
            annotations: d.annotations.clone(),
        })
        .collect();
    if let Some(l) = &layer {
        layers.push(Descriptor {
            media_type: l.built.media_type.clone(),
            digest: l.built.digest.clone(),
            size: l.built.size,
            platform: None,
            annotations: None,
        });
    }
    let image_manifest = Manifest {
        schema_version: 2,
        media_type: Some(OCI_MANIFEST.into()),
        config: Descriptor {
            media_type: OCI_CONFIG.into(),
            digest: config_digest.clone(),
            size: config_bytes.len() as u64,
            platform: None,
            annotations: None,
        },
        layers,
        annotations: None,
    };
    let manifest_bytes = serde_json::to_vec(&image_manifest)?;
    let digest = sha256_digest(&manifest_bytes);

    // Group tags by repository: blobs go to each repository once.
    let mut targets: Vec<(Repo, Vec<String>)> = Vec::new();
    for tag in &req.tags {
        let repo = Repo {
            registry: tag.registry.clone(),
            name: tag.repository.clone(),
        };
        let name = tag.tag.clone().unwrap_or_else(|| "latest".into());
        match targets.iter_mut().find(|(r, _)| *r == repo) {
            Some((_, tags)) => tags.push(name),
            None => targets.push((repo, vec![name])),
        }
    }

    let manifest_start = Instant::now();
    let mut stale = Vec::new();
    for (repo, tags) in &targets {
        for tag in tags {
            let served = client.head_manifest(repo, tag).await?;
            if served.as_deref() != Some(digest.as_str()) {
                stale.push((repo.clone(), tag.clone()));
            }
        }
    }
    let mut manifest_ms = ms(manifest_start);

    let mut report = Report {
        repo: targets[0].0.to_string(),
        tags: targets
            .iter()
            .flat_map(|(r, tags)| tags.iter().map(move |t| format!("{r}:{t}")))
            .collect(),
        digest: digest.clone(),
        refs: targets
            .iter()
            .map(|(r, _)| format!("{r}@{digest}"))
            .collect(),
        bytes_uploaded: 0,
        bytes_skipped: 0,
        layer_cached: layer
            .as_ref()
            .is_some_and(|l| l.cached.load(Ordering::SeqCst)),
        unchanged: stale.is_empty(),
        layer_digest: layer.as_ref().map(|l| l.built.digest.clone()),
        layer_size: layer.as_ref().map(|l| l.built.size),
        base_ms,
        layer_ms,
        upload_ms: 0,
        manifest_ms,
        total_ms: 0,
        prefix: None,
    };
    if stale.is_empty() {
        report.total_ms = ms(start);
        return Ok(report);
    }

    let upload_start = Instant::now();
    for (repo, _) in &targets {
        if !stale.iter().any(|(r, _)| r == repo) {
            continue;
        }
        let (base_blobs, new_layer, config_blob) = tokio::join!(
            push_base_layers(&client, repo, &base),
            push_layer(&client, repo, layer.as_ref()),
            push_bytes(&client, repo, &config_digest, &config_bytes, "config"),
        );
        for (up, skip) in [base_blobs?, new_layer?, config_blob?] {
            report.bytes_uploaded += up;
            report.bytes_skipped += skip;
        }
    }
    report.upload_ms = ms(upload_start);
    report.layer_cached = layer
        .as_ref()
        .is_some_and(|l| l.cached.load(Ordering::SeqCst));

    // The manifest goes last: until here no tag has moved.
    let put_start = Instant::now();
    for (repo, tag) in &stale {
        let pushed = client
            .put_manifest(repo, tag, OCI_MANIFEST, manifest_bytes.clone())
            .await?;
        if pushed != digest {
            bail!(
                "pushing manifest {repo}:{tag}: the registry stored digest {pushed}, expected \
                 {digest}; the registry rewrote the manifest"
            );
        }
    }
    manifest_ms += ms(put_start);
    report.manifest_ms = manifest_ms;
    report.total_ms = ms(start);
    Ok(report)
}

/// The base image's `ENV` as pairs (none for `scratch`), for Dockerfile substitution.
pub async fn base_env(
    base: &str,
    platform: &Platform,
    registries: &Registries,
    hint: Option<&str>,
) -> anyhow::Result<Vec<(String, String)>> {
    let client = Client::new(registries)?;
    let resolved = resolve_base(&client, base, platform, hint).await?;
    Ok(resolved.config["config"]["Env"]
        .as_array()
        .map(|env| {
            env.iter()
                .filter_map(Value::as_str)
                .filter_map(|e| e.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default())
}

/// Build the layer, or take it from the cache when no input changed.
fn prepare_layer(
    files: &[LayerFile],
    compression: Compression,
    level: u32,
    epoch: u64,
    cache_dir: Option<PathBuf>,
) -> anyhow::Result<Option<Prepared>> {
    if files.is_empty() {
        return Ok(None);
    }
    let entries = layer::entries(files)?;
    let Some(dir) = cache_dir else {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let path =
            std::env::temp_dir().join(format!("k8s-dev-layer-{}-{nanos}", std::process::id()));
        let built = layer::build(&entries, compression, level, epoch, &path).inspect_err(|_| {
            let _ = std::fs::remove_file(&path);
        })?;
        return Ok(Some(Prepared {
            built,
            path,
            cached: AtomicBool::new(false),
            temp: true,
            rebuild: None,
            checked: AtomicBool::new(true),
        }));
    };
    let cache = LayerCache::open(dir)?;
    let slot = cache::slot_of(files, compression, level);
    let key = cache::key_of(&entries, epoch);
    if let Some(built) = cache.lookup(&slot, &key) {
        let path = cache.blob_path(&built.digest);
        return Ok(Some(Prepared {
            built,
            path,
            cached: AtomicBool::new(true),
            temp: false,
            rebuild: Some(Rebuild {
                entries,
                compression,
                level,
                epoch,
            }),
            checked: AtomicBool::new(false),
        }));
    }
    let temp = cache.temp_path()?;
    let built = layer::build(&entries, compression, level, epoch, &temp).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    let path = cache.store(&slot, &key, &built, &temp)?;
    Ok(Some(Prepared {
        built,
        path,
        cached: AtomicBool::new(false),
        temp: false,
        rebuild: None,
        checked: AtomicBool::new(true),
    }))
}

/// Whether `base` can be read, as [`resolve_base`] reads it (manifest and config, checked).
pub async fn check_base(
    base: &str,
    platform: &Platform,
    registries: &Registries,
    hint: Option<&str>,
) -> anyhow::Result<()> {
    let client = Client::new(registries)?;
    resolve_base(&client, base, platform, hint)
        .await
        .map(|_| ())
}

/// The base's manifest and config; when it cannot be reached or is not there, the error ends
/// with `hint` (if given). Content the registry sent and the checks refused keeps its own
/// message: a mirror is not the fix for a registry that lies.
async fn resolve_base(
    client: &Client,
    base: &str,
    platform: &Platform,
    hint: Option<&str>,
) -> anyhow::Result<Base> {
    let Some(hint) = hint else {
        return read_base(client, base, platform, None).await;
    };
    read_base(client, base, platform, Some(hint))
        .await
        .map_err(|err| {
            if err.chain().any(|e| e.is::<Refused>()) || base == "scratch" {
                return err;
            }
            match err.chain().find_map(|e| e.downcast_ref::<Unreachable>()) {
                Some(u) => anyhow!(
                    "reading base image {base}: reaching registry {}: {}; {hint}",
                    u.registry,
                    u.cause
                ),
                None if format!("{err:#}").ends_with(hint) => err,
                None => anyhow!("{err:#}; {hint}"),
            }
        })
}

async fn read_base(
    client: &Client,
    base: &str,
    platform: &Platform,
    hint: Option<&str>,
) -> anyhow::Result<Base> {
    if base == "scratch" {
        return Ok(Base {
            repo: None,
            config: manifest::scratch_config(platform),
            layers: Vec::new(),
        });
    }
    let reference = Reference::parse(base).context("reading --base")?;
    let repo = Repo {
        registry: reference.registry.clone(),
        name: reference.repository.clone(),
    };
    let not_found = || match hint {
        Some(hint) => anyhow!(
            "base image {reference} not found on {}; {hint}",
            reference.registry
        ),
        None => anyhow!(
            "base image {reference} not found on {}; check --base (or the Dockerfile's FROM) \
             and push the base first",
            reference.registry
        ),
    };
    let mut fetched = client
        .get_manifest(&repo, reference.reference())
        .await
        .with_context(|| format!("reading base image {reference}"))?
        .ok_or_else(not_found)?;
    if is_index(&fetched.media_type, &fetched.bytes) {
        let index: Index = serde_json::from_slice(&fetched.bytes)
            .with_context(|| format!("parsing the index of base image {reference}"))?;
        let chosen = manifest::select_platform(&index, platform)
            .with_context(|| format!("choosing a platform of base image {reference}"))?;
        fetched = client
            .get_manifest(&repo, &chosen.digest)
            .await
            .with_context(|| format!("reading base image {reference} for {platform}"))?
            .ok_or_else(not_found)?;
    }
    if !matches!(
        fetched.media_type.as_str(),
        OCI_MANIFEST | DOCKER_MANIFEST | ""
    ) {
        bail!(
            "base image {reference} is a {} manifest; only OCI and Docker schema 2 images can be \
             a base (re-push it with a current engine)",
            fetched.media_type
        );
    }
    let parsed: Manifest = serde_json::from_slice(&fetched.bytes)
        .with_context(|| format!("parsing the manifest of base image {reference}"))?;
    if !matches!(
        parsed.config.media_type.as_str(),
        OCI_CONFIG | DOCKER_CONFIG
    ) {
        bail!(
            "base image {reference} has config type {}; it is not a container image",
            parsed.config.media_type
        );
    }
    let config_bytes = client
        .get_blob_bytes(
            &repo,
            &parsed.config.digest,
            parsed.config.size,
            MAX_CONFIG_BYTES,
        )
        .await
        .with_context(|| format!("reading the config of base image {reference}"))?;
    let config: Value = serde_json::from_slice(&config_bytes)
        .with_context(|| format!("parsing the config of base image {reference}"))?;
    Ok(Base {
        repo: Some(repo),
        config,
        layers: parsed.layers,
    })
}

fn is_index(media_type: &str, bytes: &[u8]) -> bool {
    match media_type {
        OCI_INDEX | DOCKER_LIST => true,
        // Some registries omit Content-Type; an index is the JSON with `manifests`.
        "" => serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.get("manifests").is_some()),
        _ => false,
    }
}

/// Make every base layer present in `target`: already there, mounted from the base repository
/// (same registry), or streamed from the base registry. Never through this machine's disk.
async fn push_base_layers(
    client: &Client,
    target: &Repo,
    base: &Base,
) -> anyhow::Result<(u64, u64)> {
    let (mut uploaded, mut skipped) = (0, 0);
    let Some(from) = &base.repo else {
        return Ok((0, 0));
    };
    for blob in &base.layers {
        if client.blob_exists(target, &blob.digest).await? {
            skipped += blob.size;
            continue;
        }
        for attempt in 0.. {
            let location = if from.registry == target.registry {
                match client.mount_blob(target, &blob.digest, from).await? {
                    Mount::Mounted => {
                        skipped += blob.size;
                        break;
                    }
                    Mount::Upload(location) => location,
                }
            } else {
                client.start_upload(target).await?
            };
            let (source, fault) = client
                .get_blob_verified(from, &blob.digest, blob.size)
                .await?;
            let copied = client
                .finish_upload(target, location, &blob.digest, blob.size, source)
                .await;
            // A blob that failed its check aborts the upload; say why, not that the upload
            // broke.
            if let Some(fault) = fault.lock().expect("fault lock").take() {
                bail!("copying base layer {} from {from}: {fault}", blob.digest);
            }
            if attempt == 0 && unauthorized(&copied) {
                continue;
            }
            copied.with_context(|| format!("copying base layer {} from {from}", blob.digest))?;
            uploaded += blob.size;
            break;
        }
    }
    Ok((uploaded, skipped))
}

/// A streamed upload the registry answered with `401`: its token expired mid-publish (the
/// restart fetches another), or it refuses us (the restart says so).
fn unauthorized<T>(result: &anyhow::Result<T>) -> bool {
    result
        .as_ref()
        .is_err_and(|e| e.chain().any(|c| c.is::<Unauthorized>()))
}

async fn push_layer(
    client: &Client,
    target: &Repo,
    layer: Option<&Prepared>,
) -> anyhow::Result<(u64, u64)> {
    let Some(layer) = layer else {
        return Ok((0, 0));
    };
    let built = &layer.built;
    if client.blob_exists(target, &built.digest).await? {
        return Ok((0, built.size));
    }
    if let Some(rebuild) = &layer.rebuild
        && !layer.checked.load(Ordering::SeqCst)
    {
        let (path, blob, rebuild) = (layer.path.clone(), built.clone(), rebuild.clone());
        let rebuilt = tokio::task::spawn_blocking(move || check_cached(&path, &blob, &rebuild))
            .await
            .context("checking the cached layer")??;
        layer.checked.store(true, Ordering::SeqCst);
        if rebuilt {
            layer.cached.store(false, Ordering::SeqCst);
        }
    }
    for attempt in 0.. {
        let location = client.start_upload(target).await?;
        let body = file_body(&layer.path).await?;
        let sent = client
            .finish_upload(target, location, &built.digest, built.size, body)
            .await;
        if attempt == 0 && unauthorized(&sent) {
            continue;
        }
        sent?;
        break;
    }
    Ok((built.size, 0))
}

/// The blob file as a streamed body, read in 1 MiB chunks.
async fn file_body(path: &Path) -> anyhow::Result<reqwest::Body> {
    let file = tokio::fs::File::open(path)
        .await
        .with_context(|| format!("opening layer blob {}", path.display()))?;
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 1 << 20);
    Ok(reqwest::Body::wrap_stream(stream))
}

async fn push_bytes(
    client: &Client,
    target: &Repo,
    digest: &str,
    bytes: &[u8],
    what: &str,
) -> anyhow::Result<(u64, u64)> {
    let size = bytes.len() as u64;
    if client.blob_exists(target, digest).await? {
        return Ok((0, size));
    }
    let location = client.start_upload(target).await?;
    client
        .finish_upload(target, location, digest, size, bytes.to_vec().into())
        .await
        .with_context(|| format!("uploading the image {what}"))?;
    Ok((size, 0))
}
