// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Image references (`[registry/]repo[:tag][@digest]`) as the docker CLI reads them, and the
//! rule for which registries are spoken to over plain HTTP.

use std::fmt;
use std::net::IpAddr;

use anyhow::{Context, bail};

/// Where Docker Hub's short names (`alpine`, `user/app`) live.
pub const DOCKER_HUB: &str = "registry-1.docker.io";

/// A parsed image reference. `registry` is `host[:port]` as it goes into URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parse a reference, normalising Docker Hub names (`alpine` →
    /// `registry-1.docker.io/library/alpine`). A reference without tag or digest has neither;
    /// [`Reference::reference`] then falls back to `latest`.
    pub fn parse(input: &str) -> anyhow::Result<Reference> {
        parse(input).with_context(|| format!("parsing image reference {input:?}"))
    }

    /// The tag or digest to ask the registry for.
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `registry/repository`, without tag or digest.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// True when both name the same repository on the same registry.
    pub fn same_repository(&self, other: &Reference) -> bool {
        self.registry == other.registry && self.repository == other.repository
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn parse(input: &str) -> anyhow::Result<Reference> {
    if input.is_empty() {
        bail!("empty reference");
    }
    if input.chars().any(|c| c.is_whitespace()) {
        bail!("contains whitespace");
    }
    let (rest, digest) = match input.split_once('@') {
        Some((rest, digest)) => {
            check_digest(digest)?;
            (rest, Some(digest.to_string()))
        }
        None => (input, None),
    };
    // The tag is after the last ':' of the last path component, so `host:5000/app` has none.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(rest[last_slash + i + 1..].to_string()),
        ),
        None => (rest, None),
    };
    if let Some(tag) = &tag {
        let valid = !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
        if !valid {
            bail!("invalid tag {tag:?}");
        }
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if is_registry(first) => (first.to_string(), rest.to_string()),
        _ => (DOCKER_HUB.to_string(), name.to_string()),
    };
    let registry = match registry.as_str() {
        "docker.io" | "index.docker.io" => DOCKER_HUB.to_string(),
        _ => registry,
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    let valid_repo = !repository.is_empty()
        && repository.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
        });
    if !valid_repo {
        bail!("invalid repository name {repository:?} (lowercase letters, digits, '.', '_', '-')");
    }
    Ok(Reference {
        registry,
        repository,
        tag,
        digest,
    })
}

/// The docker CLI's rule: a first component is a registry when it has a '.' or ':' or is
/// `localhost`.
fn is_registry(first: &str) -> bool {
    first.contains(['.', ':']) || first == "localhost"
}

fn check_digest(digest: &str) -> anyhow::Result<()> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64 && hex.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) =>
        {
            Ok(())
        }
        _ => bail!("invalid digest {digest:?} (want sha256:<64 hex>)"),
    }
}

/// The host of `host[:port]` (IPv6 literals keep their brackets off).
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(host, _)| host);
    }
    match registry.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => registry,
    }
}

/// Whether to use plain HTTP: loopback registries always (what docker and the k3d registry
/// expect), plus every `insecure` entry, matched as `host:port` or as a bare host.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    let host = host_of(registry);
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    if host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()) {
        return true;
    }
    insecure
        .iter()
        .map(|entry| entry.trim())
        .any(|entry| entry == registry || entry == host)
}

/// The `K8S_DEV_INSECURE_REGISTRIES` comma list, trimmed, empties dropped.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    #[test]
    fn hub_short_name_gets_library_and_hub_host() {
        let got = r("alpine");
        assert_eq!(got.registry, DOCKER_HUB);
        assert_eq!(got.repository, "library/alpine");
        assert_eq!(got.tag, None);
        assert_eq!(got.reference(), "latest");
        assert_eq!(got.to_string(), "registry-1.docker.io/library/alpine");
    }

    #[test]
    fn hub_user_repo_and_docker_io_alias() {
        assert_eq!(r("user/app:1").repository, "user/app");
        assert_eq!(r("docker.io/alpine:3").registry, DOCKER_HUB);
        assert_eq!(r("docker.io/alpine:3").repository, "library/alpine");
        assert_eq!(r("index.docker.io/x/y").registry, DOCKER_HUB);
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        let got = r("localhost:5000/openshell-gateway");
        assert_eq!(got.registry, "localhost:5000");
        assert_eq!(got.repository, "openshell-gateway");
        assert_eq!(got.tag, None);
        let got = r("127.0.0.1:5000/a/b:dev");
        assert_eq!(got.registry, "127.0.0.1:5000");
        assert_eq!(got.repository, "a/b");
        assert_eq!(got.tag.as_deref(), Some("dev"));
    }

    #[test]
    fn digest_and_tag_together() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let got = r(&format!("ghcr.io/nvidia/openshell/gateway:1.0@{digest}"));
        assert_eq!(got.registry, "ghcr.io");
        assert_eq!(got.repository, "nvidia/openshell/gateway");
        assert_eq!(got.tag.as_deref(), Some("1.0"));
        assert_eq!(got.reference(), digest);
    }

    #[test]
    fn localhost_without_port_is_a_registry() {
        assert_eq!(r("localhost/app").registry, "localhost");
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "",
            "UPPER/case",
            "app:",
            "app@sha256:abc",
            "a b",
            "x//y",
            "app:-x",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let err = format!("{:#}", Reference::parse("Foo").unwrap_err());
        assert!(err.starts_with("parsing image reference \"Foo\": invalid repository name"));
    }

    #[test]
    fn insecure_for_loopback_and_listed_hosts() {
        let none: Vec<String> = vec![];
        assert!(is_insecure("localhost:5000", &none));
        assert!(is_insecure("127.0.0.1:5000", &none));
        assert!(is_insecure("127.1.2.3", &none));
        assert!(is_insecure("[::1]:5000", &none));
        assert!(!is_insecure("ghcr.io", &none));
        assert!(!is_insecure("10.0.0.1:5000", &none));
        let list = split_list(" registry.lan:5000 , other.lan,");
        assert_eq!(list, vec!["registry.lan:5000", "other.lan"]);
        assert!(is_insecure("registry.lan:5000", &list));
        assert!(!is_insecure("registry.lan:5001", &list));
        assert!(is_insecure("other.lan:443", &list));
    }
}
