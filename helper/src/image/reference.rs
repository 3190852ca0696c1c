// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Image references (`[registry/]repo[:tag][@digest]`) as the docker CLI reads them, and the
//! rule for which registries are spoken to over plain HTTP.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, ToSocketAddrs};

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
        Some((first, rest)) if is_registry(first) => {
            check_registry(first)?;
            (first.to_string(), rest.to_string())
        }
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

/// A registry address split into its host and port, validated by the reference grammar the
/// docker CLI uses: DNS labels (letters, digits, inner '-') joined by '.', or a bracketed IPv6
/// literal, then an optional decimal port. Anything else (`host:port#.localhost`, `a/b@c`) is
/// refused before it can reach a URL or the plain-HTTP rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub host: Host,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl Address {
    pub fn parse(registry: &str) -> anyhow::Result<Address> {
        let invalid = || {
            anyhow::anyhow!(
                "invalid registry address {registry:?} (want HOST[:PORT]: a DNS name, an IPv4 \
                 address or a bracketed IPv6 address, and a port number)"
            )
        };
        let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
            let (ip, after) = rest.split_once(']').ok_or_else(invalid)?;
            let ip: Ipv6Addr = ip.parse().map_err(|_| invalid())?;
            let port = match after {
                "" => None,
                _ => Some(after.strip_prefix(':').ok_or_else(invalid)?),
            };
            (Host::Ip(IpAddr::V6(ip)), port)
        } else {
            let (name, port) = match registry.split_once(':') {
                Some((name, port)) => (name, Some(port)),
                None => (registry, None),
            };
            let label_ok = |l: &str| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            if name.len() > 253 || !name.split('.').all(label_ok) {
                return Err(invalid());
            }
            let host = match name.parse::<IpAddr>() {
                Ok(ip) => Host::Ip(ip),
                Err(_) => Host::Name(name.to_ascii_lowercase()),
            };
            (host, port)
        };
        let port = match port {
            None => None,
            Some(p) if !p.is_empty() && p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()) => {
                Some(
                    p.parse::<u16>()
                        .ok()
                        .filter(|p| *p != 0)
                        .ok_or_else(invalid)?,
                )
            }
            Some(_) => return Err(invalid()),
        };
        Ok(Address { host, port })
    }

    /// The host as written in a URL (IPv6 in brackets).
    pub fn host_str(&self) -> String {
        match &self.host {
            Host::Name(n) => n.clone(),
            Host::Ip(IpAddr::V6(ip)) => format!("[{ip}]"),
            Host::Ip(ip) => ip.to_string(),
        }
    }
}

fn check_registry(first: &str) -> anyhow::Result<()> {
    Address::parse(first).map(|_| ())
}

fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// Whether to use plain HTTP: a loopback IP literal, `localhost` or a `*.localhost` name when
/// every address it resolves to is loopback (what docker and the k3d registry expect), plus
/// every `insecure` entry, matched as `host:port` or as a bare host. `resolve` looks a name up
/// (the system resolver in [`is_insecure`]); an address that does not parse is never insecure.
pub fn is_insecure_with(
    registry: &str,
    insecure: &[String],
    resolve: &dyn Fn(&str) -> Option<Vec<IpAddr>>,
) -> bool {
    let Ok(address) = Address::parse(registry) else {
        return false;
    };
    match &address.host {
        Host::Ip(ip) if is_loopback(*ip) => return true,
        // `*.localhost` is loopback by RFC 6761 only where the resolver says so; a name that
        // reaches another machine must be listed to lose TLS.
        Host::Name(name)
            if (name == "localhost" || name.ends_with(".localhost"))
                && resolve(name)
                    .is_some_and(|ips| !ips.is_empty() && ips.into_iter().all(is_loopback)) =>
        {
            return true;
        }
        _ => {}
    }
    // A listed bare host covers every port; a listed host:port only that port.
    insecure
        .iter()
        .filter_map(|entry| Address::parse(entry.trim()).ok())
        .any(|entry| {
            entry.host == address.host && (entry.port.is_none() || entry.port == address.port)
        })
}

/// [`is_insecure_with`] with the system resolver.
pub fn is_insecure(registry: &str, insecure: &[String]) -> bool {
    is_insecure_with(registry, insecure, &|name| {
        (name, 0)
            .to_socket_addrs()
            .ok()
            .map(|addrs| addrs.map(|a| a.ip()).collect())
    })
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
    fn registry_addresses_follow_the_reference_grammar() {
        for good in [
            "localhost:5000",
            "reg.lan",
            "Reg-1.example.com:443",
            "127.0.0.1:5000",
            "[::1]:5000",
            "[fe80::1]",
        ] {
            assert!(Address::parse(good).is_ok(), "{good:?} should parse");
        }
        for bad in [
            "host:port#.localhost",
            "host:5000#x",
            "-a.lan",
            "a-.lan",
            "a..lan",
            "a_b.lan:5000",
            "reg.lan:",
            "reg.lan:0",
            "reg.lan:65536",
            "reg.lan:5000:1",
            "[::1",
            "[::1]5000",
            "[nonsense]:1",
            "127.0.0.1:5000@evil",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad:?} should not parse");
        }
        let err = format!(
            "{:#}",
            Reference::parse("host:port#.localhost/app").unwrap_err()
        );
        assert!(
            err.starts_with(
                "parsing image reference \"host:port#.localhost/app\": invalid registry address"
            ),
            "{err}"
        );
        let got = Address::parse("[::1]:5000").unwrap();
        assert_eq!(got.host_str(), "[::1]");
        assert_eq!(got.port, Some(5000));
    }

    #[test]
    fn localhost_names_are_plain_http_only_when_they_resolve_to_loopback() {
        let none: Vec<String> = vec![];
        let loopback = |_: &str| Some(vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()]);
        let remote = |_: &str| {
            Some(vec![
                "127.0.0.1".parse().unwrap(),
                "10.0.0.9".parse().unwrap(),
            ])
        };
        let unresolved = |_: &str| None;
        assert!(is_insecure_with("localhost:5000", &none, &loopback));
        assert!(is_insecure_with("k3d-reg.localhost:5000", &none, &loopback));
        assert!(!is_insecure_with("k3d-reg.localhost:5000", &none, &remote));
        assert!(!is_insecure_with("localhost:5000", &none, &unresolved));
        // The name is not looked up at all unless it is a localhost name.
        let never = |name: &str| -> Option<Vec<IpAddr>> { panic!("looked up {name}") };
        assert!(!is_insecure_with("reg.lan:5000", &none, &never));
        assert!(!is_insecure_with("localhost.evil.com", &none, &never));
        // A malformed address is never plain HTTP, whatever it ends with.
        assert!(!is_insecure_with("host:port#.localhost", &none, &loopback));
        assert!(!is_insecure_with("x#.localhost", &none, &loopback));
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
        assert!(
            is_insecure("Other.LAN:443", &list),
            "host names compare case-insensitively"
        );
        assert!(!is_insecure("127.0.0.2.nip.io", &none));
    }
}
