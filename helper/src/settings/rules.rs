// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What a setting may hold. Every value reaches k3d's config (which k3d expands from the
//! environment before parsing it as YAML), a command line or a shell, so each rule is a whitelist
//! of characters first: no newline, quote, `$` or leading `-` can get through any of them.

use std::net::Ipv4Addr;
use std::time::Duration;

/// A validation rule; [`Rule::check`] judges (and normalises) a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A cluster name: RFC 1123, lower case, at most 63 characters. The provider's own cap
    /// (k3d 32, kind 49) is checked with `K8S_DEV_PROVIDER` (`Settings::provider_problems`).
    ClusterName,
    /// `K8S_DEV_PROVIDER`: k3d, kind or k3s, exactly (see [`crate::provider::Provider`]).
    Provider,
    /// A registry name: a lower-case host name (k3d names its container `k3d-<name>`, and the
    /// cluster resolves that name), at most 59 characters.
    RegistryName,
    /// A container network name, as Docker and Podman accept it.
    Network,
    /// A Kubernetes name that must be a DNS label (namespace: 63, Helm release: 53).
    DnsLabel { max: usize },
    /// A TCP port on the host: 1024 to 65535 (lower ones need root for k3d's load balancer).
    Port,
    /// A Kubernetes NodePort: 30000 to 32767 (the apiserver's default range).
    NodePort,
    /// A whole number in a range.
    Count { min: u32, max: u32 },
    /// An IPv4 address (k3d's `HOST:PORT` port syntax takes no IPv6 literal).
    Ipv4,
    /// A duration such as `90s`, `3m` or `1m30s`, from 1 s to 24 h.
    Duration,
    /// `1`/`0` (also `true`/`false`, `yes`/`no`, `on`/`off`); normalised to `1` or `0`.
    Flag,
    /// One of the listed words (case-insensitive; normalised to lower case).
    OneOf(&'static [&'static str]),
    /// A registry as an image reference starts: `HOST[:PORT][/PATH]`.
    Registry,
    /// Comma-separated `HOST[:PORT]`s.
    RegistryList,
    /// A full image reference: `[HOST[:PORT]/]PATH[:TAG][@sha256:DIGEST]`.
    ImageRef,
    /// An image repository below the registry: lower-case path components.
    ImageName,
    /// A kubeconfig context name.
    Context,
    /// A file or directory path.
    Path,
    /// `KIND/NAME` of a Deployment, StatefulSet or DaemonSet.
    Rollout,
    /// A cargo package or binary name.
    CargoName,
    /// A Rust target triple (`x86_64-unknown-linux-musl`, zigbuild's `…-gnu.2.28`).
    TargetTriple,
    /// A command and plain arguments, split at spaces (`cargo zigbuild`).
    Command,
    /// A path relative to another directory and inside it: no leading `/`, no `..`; `{arch}`
    /// stands for BuildKit's TARGETARCH.
    RelativePath,
    /// Space-separated `NAME=VALUE` Dockerfile build args (values of plain characters).
    BuildArgs,
    /// Cargo feature names, comma- or space-separated; normalised to space-separated.
    Features,
    /// Space-separated manifest sources: `http(s)://` URLs, files or directories.
    Sources,
    /// A Service type the kit sets: `ClusterIP` or `NodePort` (any case; normalised).
    ServiceType,
}

/// Longest value any setting takes; a path beyond this is a mistake, not a path.
const MAX_LEN: usize = 4096;

impl Rule {
    /// What a valid value looks like, for the fix of an error and for the docs.
    pub fn expects(self) -> String {
        match self {
            Rule::ClusterName => {
                "lower-case letters, digits and '-' (k3d: at most 32, kind: 49, k3s: 63)".into()
            }
            Rule::Provider => "k3d (the default), kind or k3s".into(),
            Rule::RegistryName => "lower-case letters, digits, '-' and '.' (at most 59)".into(),
            Rule::Network => "letters, digits, '_', '.' and '-' (at most 64)".into(),
            Rule::DnsLabel { max } => format!("lower-case letters, digits and '-' (at most {max})"),
            Rule::Port => "a port from 1024 to 65535".into(),
            Rule::NodePort => "a port from 30000 to 32767".into(),
            Rule::Count { min, max } => format!("a whole number from {min} to {max}"),
            Rule::Ipv4 => "an IPv4 address such as 127.0.0.1 (0.0.0.0: every address)".into(),
            Rule::Duration => "a duration such as 90s, 3m or 1m30s (1s to 24h)".into(),
            Rule::Flag => "1 or 0".into(),
            Rule::OneOf(words) => words.join(" or "),
            Rule::Registry => "HOST[:PORT][/PATH], e.g. localhost:5000".into(),
            Rule::RegistryList => "comma-separated HOST[:PORT]s".into(),
            Rule::ImageRef => {
                "an image reference such as docker.io/rancher/k3s:v1.32.5-k3s1".into()
            }
            Rule::ImageName => "lower-case path components such as openshell-gateway".into(),
            Rule::Context => "a context name of letters, digits and @:/._+-".into(),
            Rule::Path => "a path without control characters, not starting with '-'".into(),
            Rule::Rollout => "deployment/NAME, statefulset/NAME or daemonset/NAME".into(),
            Rule::CargoName => "letters, digits, '_' and '-'".into(),
            Rule::TargetTriple => "a target triple such as x86_64-unknown-linux-musl".into(),
            Rule::Command => "a command and plain arguments, e.g. 'cargo zigbuild'".into(),
            Rule::RelativePath => {
                "a relative path without '..', e.g. deploy/docker/.build/prebuilt-binaries/{arch}"
                    .into()
            }
            Rule::BuildArgs => {
                "space-separated NAME=VALUE pairs, e.g. GATEWAY_BASE_IMAGE=mirror.lan/cc:nonroot"
                    .into()
            }
            Rule::Features => "cargo feature names, comma- or space-separated".into(),
            Rule::Sources => "space-separated http(s):// URLs, files or directories".into(),
            Rule::ServiceType => "ClusterIP or NodePort".into(),
        }
    }

    /// Judge `value`: the value to use (normalised where the rule says so), or what is wrong
    /// with it in words that fit before `; set NAME to …`.
    pub fn check(self, value: &str) -> Result<String, String> {
        if value.len() > MAX_LEN {
            return Err(format!("{} characters is too long", value.len()));
        }
        if value.chars().any(char::is_control) {
            return Err(format!("{} has a control character", shown(value)));
        }
        if value.starts_with('-') {
            return Err(format!(
                "{} starts with '-' and would be read as an option",
                shown(value)
            ));
        }
        match self {
            Rule::ClusterName => cluster_name(value),
            Rule::Provider => value
                .parse::<crate::provider::Provider>()
                .map(|p| p.as_str().to_string())
                .map_err(|_| format!("unknown provider {}", shown(value))),
            Rule::RegistryName => host_name(value, 59, "registry name"),
            Rule::Network => network(value),
            Rule::DnsLabel { max } => dns_label(value, max),
            Rule::Port => port(value, 1024, 65535, "privileged"),
            Rule::NodePort => port(value, 30000, 32767, "outside the NodePort range"),
            Rule::Count { min, max } => count(value, min, max),
            Rule::Ipv4 => value
                .parse::<Ipv4Addr>()
                .map(|ip| ip.to_string())
                .map_err(|_| format!("bind address {} is not an IPv4 address", shown(value))),
            Rule::Duration => duration(value).map(|_| value.to_string()),
            Rule::Flag => flag(value),
            Rule::OneOf(words) => {
                let lower = value.to_ascii_lowercase();
                if words.contains(&lower.as_str()) {
                    Ok(lower)
                } else {
                    Err(format!("{} is not {}", shown(value), words.join(" or ")))
                }
            }
            Rule::Registry => registry(value, true),
            Rule::RegistryList => {
                for item in value.split(',') {
                    registry(item.trim(), false)?;
                }
                Ok(value.to_string())
            }
            Rule::ImageRef => image_ref(value),
            Rule::ImageName => image_path(value)
                .map(|()| value.to_string())
                .map_err(|why| format!("image name {}: {why}", shown(value))),
            Rule::Context => charset(value, "context name", |c| {
                c.is_ascii_alphanumeric() || "@:/._+-".contains(c)
            }),
            Rule::Path => non_empty(value, "path"),
            Rule::Rollout => rollout(value),
            Rule::CargoName => charset(value, "name", |c| {
                c.is_ascii_alphanumeric() || c == '_' || c == '-'
            }),
            Rule::TargetTriple => charset(value, "target triple", |c| {
                c.is_ascii_alphanumeric() || "_.-".contains(c)
            }),
            Rule::Command => command(value),
            Rule::RelativePath => relative_path(value),
            Rule::BuildArgs => build_args(value),
            Rule::Features => features(value),
            Rule::Sources => sources(value),
            Rule::ServiceType => match value.to_ascii_lowercase().as_str() {
                "clusterip" => Ok("ClusterIP".into()),
                "nodeport" => Ok("NodePort".into()),
                _ => Err(format!("{} is not ClusterIP or NodePort", shown(value))),
            },
        }
    }
}

/// A value as an error message shows it: in single quotes, or escaped when it has characters
/// that would break the line or the quoting.
pub fn shown(value: &str) -> String {
    if value
        .chars()
        .all(|c| c.is_ascii_graphic() && c != '\'' || c == ' ')
    {
        format!("'{value}'")
    } else {
        format!("{value:?}")
    }
}

/// A duration value, already checked by [`Rule::Duration`].
pub fn duration(value: &str) -> Result<Duration, String> {
    if !value.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("{} is not a duration", shown(value)));
    }
    let parsed = humantime::parse_duration(value)
        .map_err(|err| format!("{} is not a duration ({err})", shown(value)))?;
    if parsed < Duration::from_secs(1) || parsed > Duration::from_secs(24 * 3600) {
        return Err(format!("{} is outside 1s to 24h", shown(value)));
    }
    Ok(parsed)
}

fn non_empty(value: &str, what: &str) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("{what} is empty"))
    } else {
        Ok(value.to_string())
    }
}

fn charset(value: &str, what: &str, ok: impl Fn(char) -> bool) -> Result<String, String> {
    non_empty(value, what)?;
    match value.chars().find(|c| !ok(*c)) {
        Some(bad) => Err(format!("{what} {} has the character {bad:?}", shown(value))),
        None => Ok(value.to_string()),
    }
}

fn is_label(label: &str) -> bool {
    !label.is_empty()
        && label
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !label.starts_with('-')
        && !label.ends_with('-')
}

/// The longest cluster name any provider takes (attached k3s: a DNS label's length; the name
/// only names the kubeconfig entries). k3d's 32 and kind's 49 are checked with the provider.
pub const MAX_CLUSTER_NAME: usize = 63;

/// RFC 1123 plus lower case: the name becomes node host names, and Kubernetes node names must be
/// lower case.
fn cluster_name(value: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err("cluster name is empty".into());
    }
    if value.len() > MAX_CLUSTER_NAME {
        return Err(format!(
            "cluster name {} has {} characters, more than {MAX_CLUSTER_NAME}",
            shown(value),
            value.len()
        ));
    }
    if !value.split('.').all(is_label) {
        return Err(format!(
            "cluster name {} is not a valid RFC 1123 host name",
            shown(value)
        ));
    }
    Ok(value.to_string())
}

fn host_name(value: &str, max: usize, what: &str) -> Result<String, String> {
    if value.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if value.len() > max {
        return Err(format!(
            "{what} {} has {} characters, more than {max}",
            shown(value),
            value.len()
        ));
    }
    if !value.split('.').all(is_label) {
        return Err(format!(
            "{what} {} is not a lower-case host name",
            shown(value)
        ));
    }
    Ok(value.to_string())
}

fn network(value: &str) -> Result<String, String> {
    charset(value, "network name", |c| {
        c.is_ascii_alphanumeric() || "_.-".contains(c)
    })?;
    if value.len() > 64 || !value.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err(format!("network name {} is not valid", shown(value)));
    }
    Ok(value.to_string())
}

fn dns_label(value: &str, max: usize) -> Result<String, String> {
    if value.len() > max {
        return Err(format!(
            "{} has {} characters, more than {max}",
            shown(value),
            value.len()
        ));
    }
    if !is_label(value) {
        return Err(format!("{} is not a valid DNS label", shown(value)));
    }
    Ok(value.to_string())
}

/// The wording `ports::parse_wanted` has always used, so `up` and `doctor` say the same.
fn port(value: &str, min: u32, max: u32, below: &str) -> Result<String, String> {
    let Ok(number) = value.parse::<u32>() else {
        return Err(format!("port {} is not a number", shown(value)));
    };
    if number == 0 || number > 65535 {
        return Err(format!("port {number} is out of range"));
    }
    if number < min {
        return Err(format!("port {number} is {below}"));
    }
    if number > max {
        return Err(format!("port {number} is above {max}"));
    }
    Ok(number.to_string())
}

fn count(value: &str, min: u32, max: u32) -> Result<String, String> {
    // Digits only: bash arithmetic would evaluate `HOME[$(…)]`, and `+1`, ` 1` or `0x1` are
    // not what anyone means by a count.
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{} is not a whole number", shown(value)));
    }
    match value.parse::<u32>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n.to_string()),
        _ => Err(format!("{} is outside {min} to {max}", shown(value))),
    }
}

fn flag(value: &str) -> Result<String, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok("1".into()),
        "0" | "false" | "no" | "off" => Ok("0".into()),
        _ => Err(format!("{} is not 1 or 0", shown(value))),
    }
}

/// `HOST[:PORT]` (and a `/PATH` when `path` allows): a lower-case or mixed-case host name, an
/// IPv4 address or a bracketed IPv6 one, and a port from 1 to 65535.
fn registry(value: &str, path: bool) -> Result<String, String> {
    let bad = |why: &str| Err(format!("registry {}: {why}", shown(value)));
    let (host_port, rest) = match value.split_once('/') {
        Some((h, rest)) if path => (h, Some(rest)),
        Some(_) => return bad("has a path"),
        None => (value, None),
    };
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        match v6.split_once(']') {
            Some((ip, after)) if ip.parse::<std::net::Ipv6Addr>().is_ok() => {
                (ip, after.strip_prefix(':'))
            }
            _ => return bad("has an invalid IPv6 address"),
        }
    } else {
        match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && (host.contains(':')
            || host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            }));
    if !host_ok {
        return bad("has no valid host name");
    }
    if let Some(p) = port
        && !(p.bytes().all(|b| b.is_ascii_digit()) && matches!(p.parse::<u32>(), Ok(1..=65535)))
    {
        return bad("has an invalid port");
    }
    if let Some(rest) = rest
        && let Err(why) = image_path(rest)
    {
        return bad(&why);
    }
    Ok(value.to_string())
}

/// Lower-case repository path components (`[a-z0-9]+` joined by `.`, `_`, `__` or `-`s).
fn image_path(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("the path is empty".into());
    }
    for component in value.split('/') {
        let ok = !component.is_empty()
            && component
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!("path component {} is not valid", shown(component)));
        }
    }
    Ok(())
}

fn image_ref(value: &str) -> Result<String, String> {
    let bad = |why: String| Err(format!("image {}: {why}", shown(value)));
    let (name, digest) = match value.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (value, None),
    };
    if let Some(d) = digest {
        let hex = d.strip_prefix("sha256:").unwrap_or("");
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return bad("the digest is not sha256:<64 hex digits>".into());
        }
    }
    // The tag follows the last ':' after the last '/' (a ':' before it is the registry port).
    let last = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[last..].rfind(':') {
        Some(i) => (&name[..last + i], Some(&name[last + i + 1..])),
        None => (name, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && !tag.starts_with(['.', '-']);
        if !ok {
            return bad(format!("tag {} is not valid", shown(tag)));
        }
    }
    let (registry_part, path) = match repo.split_once('/') {
        Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => {
            (Some(first), rest)
        }
        _ => (None, repo),
    };
    if let Some(host) = registry_part
        && let Err(why) = registry(host, false)
    {
        return bad(why);
    }
    if let Err(why) = image_path(path) {
        return bad(why);
    }
    Ok(value.to_string())
}

fn rollout(value: &str) -> Result<String, String> {
    let parsed = crate::kubectl::Rollout::parse(value, None)
        .map_err(|_| format!("{} is not KIND/NAME", shown(value)))?;
    let name_ok = parsed.name.split('.').all(is_label) && parsed.name.len() <= 253;
    if !name_ok {
        return Err(format!("{} names no valid Kubernetes object", shown(value)));
    }
    Ok(value.to_string())
}

fn command(value: &str) -> Result<String, String> {
    let words: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    if words.is_empty() {
        return Err("the command is empty".into());
    }
    for word in &words {
        // Word-split by bash, so nothing it would expand (globs, `$`, quotes) may appear.
        if let Some(bad) = word
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_./=:+,@%-".contains(*c)))
        {
            return Err(format!(
                "command {} has the character {bad:?}",
                shown(value)
            ));
        }
    }
    Ok(words.join(" "))
}

fn relative_path(value: &str) -> Result<String, String> {
    non_empty(value, "path")?;
    if value.starts_with('/') {
        return Err(format!("{} is absolute", shown(value)));
    }
    if value.split('/').any(|c| c == "..") {
        return Err(format!(
            "{} leaves its directory through '..'",
            shown(value)
        ));
    }
    Ok(value.trim_end_matches('/').to_string())
}

/// A word bash splits off a setting and hands on as one argument: nothing it would expand or
/// re-split (globs, `$`, quotes, backslashes).
fn plain_word(word: &str) -> bool {
    word.chars()
        .all(|c| c.is_ascii_alphanumeric() || "_./:@+=,%~-".contains(c))
}

fn build_args(value: &str) -> Result<String, String> {
    let mut pairs = Vec::new();
    for pair in value.split(' ').filter(|w| !w.is_empty()) {
        let Some((name, _)) = pair.split_once('=') else {
            return Err(format!("build arg {} is not NAME=VALUE", shown(pair)));
        };
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !name_ok {
            return Err(format!("build arg name {} is not valid", shown(name)));
        }
        if !plain_word(pair) {
            return Err(format!(
                "build arg {} has a character other than letters, digits and _./:@+=,%~-",
                shown(pair)
            ));
        }
        pairs.push(pair);
    }
    if pairs.is_empty() {
        return Err("no NAME=VALUE pair".into());
    }
    Ok(pairs.join(" "))
}

fn features(value: &str) -> Result<String, String> {
    let names: Vec<&str> = value.split([',', ' ']).filter(|w| !w.is_empty()).collect();
    if names.is_empty() {
        return Err("no feature name".into());
    }
    for name in &names {
        // The tasks prefix each with its package (`pkg/feature`), so a `dep/feature` here
        // would name a package's dependency's feature twice over.
        if !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-+.".contains(c))
        {
            return Err(format!("feature {} is not a feature name", shown(name)));
        }
    }
    Ok(names.join(" "))
}

fn sources(value: &str) -> Result<String, String> {
    let items: Vec<&str> = value.split(' ').filter(|w| !w.is_empty()).collect();
    if items.is_empty() {
        return Err("no source".into());
    }
    for item in &items {
        if item.starts_with('-') {
            return Err(format!("{} starts with '-'", shown(item)));
        }
        let lower = item.to_ascii_lowercase();
        if lower.contains("://") {
            let scheme_ok = lower.starts_with("https://") || lower.starts_with("http://");
            let chars_ok = item
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_./:@+=,%~-?&#".contains(c));
            if !(scheme_ok && chars_ok) {
                return Err(format!("{} is not an http(s):// URL", shown(item)));
            }
        }
    }
    Ok(items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(rule: Rule, value: &str) -> String {
        rule.check(value)
            .unwrap_or_else(|err| panic!("{rule:?} rejects {value:?}: {err}"))
    }

    fn err(rule: Rule, value: &str) -> String {
        match rule.check(value) {
            Ok(v) => panic!("{rule:?} accepts {value:?} as {v:?}"),
            Err(err) => err,
        }
    }

    #[test]
    fn every_rule_refuses_newlines_leading_dashes_and_control_characters() {
        let rules = [
            Rule::ClusterName,
            Rule::Provider,
            Rule::RegistryName,
            Rule::Network,
            Rule::DnsLabel { max: 63 },
            Rule::Port,
            Rule::NodePort,
            Rule::Count { min: 0, max: 9 },
            Rule::Ipv4,
            Rule::Duration,
            Rule::Flag,
            Rule::OneOf(&["zstd", "gzip"]),
            Rule::Registry,
            Rule::RegistryList,
            Rule::ImageRef,
            Rule::ImageName,
            Rule::Context,
            Rule::Path,
            Rule::Rollout,
            Rule::CargoName,
            Rule::TargetTriple,
            Rule::Command,
            Rule::RelativePath,
            Rule::BuildArgs,
            Rule::Features,
            Rule::Sources,
            Rule::ServiceType,
        ];
        for rule in rules {
            assert!(err(rule, "a\nb").contains("control character"), "{rule:?}");
            assert!(err(rule, "-rf").contains("starts with '-'"), "{rule:?}");
            assert!(
                err(rule, "x\u{1b}[31m").contains("control character"),
                "{rule:?}"
            );
        }
    }

    #[test]
    fn cluster_names_follow_kubernetes_up_to_the_longest_any_provider_takes() {
        for name in ["openshell-dev", "a", "dev-2", "a.b", &"x".repeat(63)] {
            ok(Rule::ClusterName, name);
        }
        for (name, says) in [
            ("Dev", "not a valid RFC 1123"),
            ("a_b", "not a valid RFC 1123"),
            ("dev-", "not a valid RFC 1123"),
            ("a..b", "not a valid RFC 1123"),
            ("", "empty"),
            (&"x".repeat(64), "has 64 characters, more than 63"),
        ] {
            assert!(err(Rule::ClusterName, name).contains(says), "{name}");
        }
    }

    #[test]
    fn providers_are_named_exactly() {
        for name in ["k3d", "kind", "k3s"] {
            assert_eq!(ok(Rule::Provider, name), name);
        }
        assert_eq!(
            err(Rule::Provider, "minikube"),
            "unknown provider 'minikube'"
        );
        assert_eq!(err(Rule::Provider, "Kind"), "unknown provider 'Kind'");
    }

    #[test]
    fn ports_keep_the_wording_up_has_always_used() {
        assert_eq!(ok(Rule::Port, "6550"), "6550");
        assert_eq!(err(Rule::Port, "abc"), "port 'abc' is not a number");
        assert_eq!(err(Rule::Port, "0"), "port 0 is out of range");
        assert_eq!(err(Rule::Port, "65536"), "port 65536 is out of range");
        assert_eq!(err(Rule::Port, "443"), "port 443 is privileged");
        assert_eq!(err(Rule::Port, " 80"), "port ' 80' is not a number");
        assert_eq!(ok(Rule::NodePort, "30051"), "30051");
        assert_eq!(
            err(Rule::NodePort, "8080"),
            "port 8080 is outside the NodePort range"
        );
        assert_eq!(err(Rule::NodePort, "40000"), "port 40000 is above 32767");
    }

    #[test]
    fn counts_are_plain_digits_so_bash_arithmetic_never_sees_code() {
        assert_eq!(ok(Rule::Count { min: 0, max: 9 }, "2"), "2");
        for value in ["HOME[$(touch /tmp/x)]", "two", "+1", "0x1", "1 ", "", "1e1"] {
            assert!(
                err(Rule::Count { min: 0, max: 9 }, value).contains("not a whole number"),
                "{value}"
            );
        }
        assert!(err(Rule::Count { min: 0, max: 9 }, "10").contains("outside 0 to 9"));
    }

    #[test]
    fn bind_address_is_an_ipv4_literal() {
        assert_eq!(ok(Rule::Ipv4, "0.0.0.0"), "0.0.0.0");
        for value in ["localhost", "::1", "127.0.0.1:80", "127.0.0.1\n- 0.0.0.0"] {
            err(Rule::Ipv4, value);
        }
    }

    #[test]
    fn durations_need_a_unit_and_a_sane_range() {
        ok(Rule::Duration, "180s");
        ok(Rule::Duration, "1m30s");
        for value in ["", "soon", "0s", "500ms", "25h", "180"] {
            err(Rule::Duration, value);
        }
    }

    #[test]
    fn flags_and_words_are_normalised() {
        assert_eq!(ok(Rule::Flag, "true"), "1");
        assert_eq!(ok(Rule::Flag, "OFF"), "0");
        err(Rule::Flag, "2");
        assert_eq!(ok(Rule::OneOf(&["zstd", "gzip"]), "GZIP"), "gzip");
        assert_eq!(
            err(Rule::OneOf(&["zstd", "gzip"]), "xz"),
            "'xz' is not zstd or gzip"
        );
    }

    #[test]
    fn registries_are_host_port_and_a_path_at_most() {
        for value in [
            "localhost:5000",
            "openshell-registry:5000",
            "127.0.0.1:5101",
            "registry.example.com/team",
            "[::1]:5000",
            "Registry.Example:443",
        ] {
            ok(Rule::Registry, value);
        }
        for value in [
            "reg\":5000",
            "reg:5000\"\n  x",
            "reg:port",
            "reg:70000",
            ":5000",
            "reg/Team",
            "a b:5000",
            "reg#.localhost:5000",
        ] {
            err(Rule::Registry, value);
        }
        ok(Rule::RegistryList, "a:5000, b.example");
        err(Rule::RegistryList, "a:5000,b/c");
    }

    #[test]
    fn image_references_parse_registry_path_tag_and_digest() {
        for value in [
            "docker.io/rancher/k3s:v1.32.5-k3s1",
            "rancher/k3s",
            "localhost:5000/k3s:dev",
            &format!("k3s@sha256:{}", "a".repeat(64)),
        ] {
            ok(Rule::ImageRef, value);
        }
        for value in [
            "Rancher/k3s",
            "k3s:",
            "k3s@sha256:abc",
            "k3s:v1 x",
            "r/k3s:$V",
        ] {
            err(Rule::ImageRef, value);
        }
    }

    #[test]
    fn names_paths_rollouts_and_commands() {
        ok(Rule::ImageName, "k8s-dev-bench/x");
        err(Rule::ImageName, "Gateway");
        ok(Rule::Context, "arn:aws:eks:us-west-2:1:cluster/dev");
        ok(Rule::Context, "admin@k3d-dev");
        err(Rule::Context, "a'b");
        ok(Rule::Path, "/work/my repo/values.yaml");
        err(Rule::Path, "");
        ok(Rule::Rollout, "statefulset/openshell");
        err(Rule::Rollout, "pod/openshell");
        err(Rule::Rollout, "deployment/Open");
        ok(Rule::TargetTriple, "x86_64-unknown-linux-gnu.2.28");
        assert_eq!(ok(Rule::Command, "cargo  zigbuild"), "cargo zigbuild");
        for value in [
            "cargo build; rm -rf ~",
            "cargo $(id)",
            "cargo *",
            "cargo 'build'",
        ] {
            err(Rule::Command, value);
        }
        ok(Rule::DnsLabel { max: 53 }, "openshell");
        err(Rule::DnsLabel { max: 53 }, "Openshell");
        ok(Rule::Network, "k3d");
        err(Rule::Network, "k3d net");
        ok(Rule::RegistryName, "openshell-registry");
        err(Rule::RegistryName, "openshell_registry");
    }

    #[test]
    fn staging_paths_stay_inside_the_context() {
        assert_eq!(
            ok(
                Rule::RelativePath,
                "deploy/docker/.build/prebuilt-binaries/{arch}/"
            ),
            "deploy/docker/.build/prebuilt-binaries/{arch}"
        );
        assert!(err(Rule::RelativePath, "/tmp/x").contains("absolute"));
        assert!(err(Rule::RelativePath, "a/../../x").contains("'..'"));
        err(Rule::RelativePath, "");
    }

    #[test]
    fn build_args_are_plain_name_value_pairs() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let mirror = format!("GATEWAY_BASE_IMAGE=mirror.lan:5000/cc:nonroot@{digest}");
        assert_eq!(
            ok(Rule::BuildArgs, &format!(" {mirror}  X=1 ")),
            format!("{mirror} X=1")
        );
        ok(Rule::BuildArgs, "EMPTY=");
        for (value, says) in [
            ("BASE", "not NAME=VALUE"),
            ("1BASE=x", "name '1BASE'"),
            ("B-ASE=x", "name 'B-ASE'"),
            ("BASE=$(id)", "has a character"),
            ("BASE=a*", "has a character"),
            ("BASE='a'", "has a character"),
            ("   ", "no NAME=VALUE"),
        ] {
            assert!(err(Rule::BuildArgs, value).contains(says), "{value}");
        }
    }

    #[test]
    fn features_are_names_normalised_to_spaces() {
        assert_eq!(
            ok(Rule::Features, "bundled-z3,tls  x_y"),
            "bundled-z3 tls x_y"
        );
        assert!(err(Rule::Features, "dep/feat").contains("not a feature name"));
        assert!(err(Rule::Features, "a;b").contains("not a feature name"));
        err(Rule::Features, " , ");
    }

    #[test]
    fn sources_are_urls_files_or_directories() {
        let url = "https://github.com/kubernetes-sigs/agent-sandbox/releases/download/v0.5.0/manifest.yaml";
        assert_eq!(
            ok(Rule::Sources, &format!("{url}  deploy/crds ./x.yaml")),
            format!("{url} deploy/crds ./x.yaml")
        );
        assert!(err(Rule::Sources, "ftp://x/y").contains("not an http(s):// URL"));
        assert!(err(Rule::Sources, "https://x/$(id)").contains("not an http(s):// URL"));
        assert!(err(Rule::Sources, "a.yaml -f").contains("starts with '-'"));
    }

    #[test]
    fn service_types_take_kubernetes_spelling() {
        assert_eq!(ok(Rule::ServiceType, "nodeport"), "NodePort");
        assert_eq!(ok(Rule::ServiceType, "ClusterIP"), "ClusterIP");
        assert!(err(Rule::ServiceType, "LoadBalancer").contains("not ClusterIP or NodePort"));
    }

    #[test]
    fn shown_values_stay_on_one_line() {
        assert_eq!(shown("abc"), "'abc'");
        assert_eq!(shown("a\nb"), "\"a\\nb\"");
        assert_eq!(shown("it's"), "\"it's\"");
    }
}
