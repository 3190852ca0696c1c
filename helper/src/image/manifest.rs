// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Manifests, indexes and image configs: the JSON the registry stores, the platform choice in a
//! multi-arch index, and the config edits a publish makes. Configs stay `serde_json::Value` so
//! fields this code does not know about pass through untouched.

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

/// Every manifest kind a base may be served as, for the `Accept` header.
pub const ACCEPT_ANY: &str = "application/vnd.oci.image.index.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.v2+json";

/// A content descriptor (`mediaType`, `digest`, `size`, optional `platform`/`annotations`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
}

/// A single-platform image manifest (OCI or Docker schema 2: same shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub schema_version: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    pub config: Descriptor,
    pub layers: Vec<Descriptor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Map<String, Value>>,
}

/// An OCI index or Docker manifest list.
#[derive(Debug, Clone, Deserialize)]
pub struct Index {
    pub manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parse `os/arch[/variant]`, e.g. `linux/arm64/v8`.
    pub fn parse(s: &str) -> anyhow::Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, variant] if !os.is_empty() && !arch.is_empty() && !variant.is_empty() => {
                Ok(Platform {
                    os: os.to_string(),
                    architecture: arch.to_string(),
                    variant: Some(variant.to_string()),
                })
            }
            _ => bail!("invalid platform {s:?} (want os/arch[/variant], e.g. linux/amd64)"),
        }
    }

    /// `linux/<host arch>` in Go's architecture names, as registries label images.
    pub fn host() -> Platform {
        let architecture = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            "arm" => "arm",
            other => other,
        };
        Platform {
            os: "linux".into(),
            architecture: architecture.into(),
            variant: None,
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// Pick `want` from an index. Without a wanted variant, an entry without one wins over one with
/// one (arm64 images are labelled both ways); attestation entries (`unknown/unknown`) never
/// match. The error lists what the index offers.
pub fn select_platform<'a>(index: &'a Index, want: &Platform) -> anyhow::Result<&'a Descriptor> {
    let candidates = index.manifests.iter().filter(|d| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == want.os
                && p.architecture == want.architecture
                && (want.variant.is_none() || p.variant == want.variant)
        })
    });
    let best = candidates.min_by_key(|d| {
        let variant = d.platform.as_ref().and_then(|p| p.variant.as_deref());
        match variant {
            None => 0,
            Some("v8") => 1,
            Some(_) => 2,
        }
    });
    if let Some(found) = best {
        return Ok(found);
    }
    let available: Vec<String> = index
        .manifests
        .iter()
        .filter_map(|d| d.platform.as_ref())
        .filter(|p| p.os != "unknown")
        .map(Platform::to_string)
        .collect();
    bail!(
        "platform {want} is not in the index (available: {}); pass --platform",
        if available.is_empty() {
            "none".to_string()
        } else {
            available.join(", ")
        }
    )
}

/// OCI media type for a Docker one, so that the published manifest is OCI throughout
/// (the blob bytes are the same; only the label changes).
pub fn oci_layer_media_type(media_type: &str) -> &str {
    match media_type {
        "application/vnd.docker.image.rootfs.diff.tar.gzip" => OCI_LAYER_GZIP,
        "application/vnd.docker.image.rootfs.diff.tar" => "application/vnd.oci.image.layer.v1.tar",
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" => {
            "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
        }
        other => other,
    }
}

/// The config of `FROM scratch` for a platform.
pub fn scratch_config(platform: &Platform) -> Value {
    let mut config = json!({
        "architecture": platform.architecture,
        "os": platform.os,
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": []},
        "history": [],
    });
    if let Some(variant) = &platform.variant {
        config["variant"] = json!(variant);
    }
    config
}

/// Changes a publish makes to the base's runtime config. `None` keeps the base's value.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigChanges {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    /// `K=V`, applied in order; a key replaces the base's (or an earlier) value.
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    /// `8080/tcp` form.
    pub expose: Vec<String>,
}

/// A layer added on top of the base, as the config records it.
#[derive(Debug, Clone)]
pub struct NewLayer {
    pub diff_id: String,
    pub created_by: String,
}

/// Apply `changes` and `layers` to a base config. `created` is the fixed timestamp that
/// keeps the digest reproducible.
pub fn edit_config(
    base: &Value,
    changes: &ConfigChanges,
    layers: &[NewLayer],
    created: &str,
) -> anyhow::Result<Value> {
    let mut config = base.clone();
    let root = config
        .as_object_mut()
        .context("base image config is not a JSON object")?;
    root.insert("created".into(), json!(created));
    // Engines keep the per-container fields of the build that made the base; they describe
    // nothing about this image.
    root.remove("container");
    root.remove("container_config");
    // `config` may be missing or null in minimal images; it becomes an object either way.
    let run = object_field(root, "config");
    if let Some(entrypoint) = &changes.entrypoint {
        run.insert("Entrypoint".into(), json!(entrypoint));
        // As `docker build` does: a new ENTRYPOINT drops the CMD inherited from the base.
        if changes.cmd.is_none() {
            run.remove("Cmd");
        }
    }
    if let Some(cmd) = &changes.cmd {
        run.insert("Cmd".into(), json!(cmd));
    }
    if let Some(user) = &changes.user {
        run.insert("User".into(), json!(user));
    }
    if let Some(workdir) = &changes.workdir {
        run.insert("WorkingDir".into(), json!(workdir));
    }
    if !changes.env.is_empty() {
        let mut env: Vec<String> = run
            .get("Env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        for (key, value) in &changes.env {
            let entry = format!("{key}={value}");
            match env
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) == key)
            {
                Some(existing) => *existing = entry,
                None => env.push(entry),
            }
        }
        run.insert("Env".into(), json!(env));
    }
    if !changes.labels.is_empty() {
        let labels = object_field(run, "Labels");
        for (key, value) in &changes.labels {
            labels.insert(key.clone(), json!(value));
        }
    }
    if !changes.expose.is_empty() {
        let ports = object_field(run, "ExposedPorts");
        for port in &changes.expose {
            ports.insert(port.clone(), json!({}));
        }
    }
    let rootfs = root
        .entry("rootfs")
        .or_insert_with(|| json!({"type": "layers", "diff_ids": []}));
    let diff_ids = rootfs
        .get_mut("diff_ids")
        .and_then(Value::as_array_mut)
        .context("base image config has no rootfs.diff_ids list")?;
    for layer in layers {
        diff_ids.push(json!(layer.diff_id));
    }
    let history = root.entry("history").or_insert_with(|| json!([]));
    if let Some(history) = history.as_array_mut() {
        for layer in layers {
            history.push(json!({
                "created": created,
                "created_by": layer.created_by,
                "comment": "k8s-dev-helper image publish",
            }));
        }
    }
    Ok(config)
}

/// The object at `key`, replacing a missing or `null` value with `{}`.
fn object_field<'a>(map: &'a mut Map<String, Value>, key: &str) -> &'a mut Map<String, Value> {
    if !map.get(key).is_some_and(Value::is_object) {
        map.insert(key.into(), json!({}));
    }
    map.get_mut(key)
        .and_then(Value::as_object_mut)
        .expect("inserted above")
}

/// `8080` → `8080/tcp`; `53/udp` stays. Rejects anything that is not a port.
pub fn normalize_port(spec: &str) -> anyhow::Result<String> {
    let (port, proto) = spec.split_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if port.parse::<u16>().is_err() || !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        bail!("invalid port {spec:?} (want PORT[/tcp|udp|sctp])");
    }
    Ok(format!("{port}/{proto}"))
}

/// An RFC 3339 UTC timestamp for seconds since the epoch (`SOURCE_DATE_EPOCH` or 0).
pub fn timestamp(epoch: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch);
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[&str]) -> Index {
        Index {
            manifests: platforms
                .iter()
                .enumerate()
                .map(|(i, p)| Descriptor {
                    media_type: OCI_MANIFEST.into(),
                    digest: format!("sha256:{i}"),
                    size: 1,
                    platform: Some(Platform::parse(p).unwrap()),
                    annotations: None,
                })
                .collect(),
        }
    }

    #[test]
    fn platform_parse_and_display() {
        assert_eq!(
            Platform::parse("linux/arm64/v8").unwrap().to_string(),
            "linux/arm64/v8"
        );
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//").is_err());
    }

    #[test]
    fn selects_matching_platform() {
        let idx = index(&["linux/arm64/v8", "linux/amd64", "unknown/unknown"]);
        let got = select_platform(&idx, &Platform::parse("linux/amd64").unwrap()).unwrap();
        assert_eq!(got.digest, "sha256:1");
        let got = select_platform(&idx, &Platform::parse("linux/arm64").unwrap()).unwrap();
        assert_eq!(got.digest, "sha256:0");
    }

    #[test]
    fn prefers_entry_without_variant_then_v8() {
        let idx = index(&["linux/arm/v7", "linux/arm64/v8", "linux/arm64"]);
        let got = select_platform(&idx, &Platform::parse("linux/arm64").unwrap()).unwrap();
        assert_eq!(got.digest, "sha256:2");
        let got = select_platform(&idx, &Platform::parse("linux/arm/v7").unwrap()).unwrap();
        assert_eq!(got.digest, "sha256:0");
    }

    #[test]
    fn missing_platform_lists_available_ones() {
        let idx = index(&["linux/arm64/v8", "linux/s390x", "unknown/unknown"]);
        let err = select_platform(&idx, &Platform::parse("linux/amd64").unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "platform linux/amd64 is not in the index (available: linux/arm64/v8, linux/s390x); \
             pass --platform"
        );
    }

    #[test]
    fn edit_config_overrides_and_appends() {
        let base = json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "Labels": null},
            "rootfs": {"type": "layers", "diff_ids": ["sha256:base"]},
            "history": [{"created_by": "base"}],
            "container_config": {"Cmd": ["x"]},
        });
        let changes = ConfigChanges {
            entrypoint: Some(vec!["/gw".into()]),
            user: Some("65532:65532".into()),
            env: vec![("A".into(), "2".into()), ("B".into(), "x=y".into())],
            labels: vec![("k".into(), "v".into())],
            expose: vec!["8080/tcp".into()],
            ..Default::default()
        };
        let layer = NewLayer {
            diff_id: "sha256:new".into(),
            created_by: "COPY gw".into(),
        };
        let got = edit_config(&base, &changes, &[layer], "1970-01-01T00:00:00Z").unwrap();
        assert_eq!(got["config"]["Entrypoint"], json!(["/gw"]));
        assert!(got["config"].get("Cmd").is_none(), "ENTRYPOINT resets CMD");
        assert_eq!(got["config"]["User"], "65532:65532");
        assert_eq!(got["config"]["Env"], json!(["PATH=/bin", "A=2", "B=x=y"]));
        assert_eq!(got["config"]["Labels"], json!({"k": "v"}));
        assert_eq!(got["config"]["ExposedPorts"], json!({"8080/tcp": {}}));
        assert_eq!(
            got["rootfs"]["diff_ids"],
            json!(["sha256:base", "sha256:new"])
        );
        assert_eq!(got["history"][1]["created_by"], "COPY gw");
        assert_eq!(got["created"], "1970-01-01T00:00:00Z");
        assert!(got.get("container_config").is_none());
    }

    #[test]
    fn edit_config_fills_a_null_runtime_config_and_scratch() {
        let base = json!({"architecture": "arm64", "os": "linux", "config": null,
                          "rootfs": {"type": "layers", "diff_ids": []}});
        let changes = ConfigChanges {
            cmd: Some(vec!["x".into()]),
            ..Default::default()
        };
        let got = edit_config(&base, &changes, &[], "1970-01-01T00:00:00Z").unwrap();
        assert_eq!(got["config"], json!({"Cmd": ["x"]}));
        let scratch = scratch_config(&Platform::parse("linux/arm64/v8").unwrap());
        assert_eq!(scratch["variant"], "v8");
        assert_eq!(scratch["rootfs"]["diff_ids"], json!([]));
    }

    #[test]
    fn ports_and_timestamps() {
        assert_eq!(normalize_port("8080").unwrap(), "8080/tcp");
        assert_eq!(normalize_port("53/UDP").unwrap(), "53/udp");
        assert!(normalize_port("http").is_err());
        assert_eq!(timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(timestamp(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
