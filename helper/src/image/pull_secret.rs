// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! An image pull secret from a registry login: a `kubernetes.io/dockerconfigjson` Secret per
//! namespace (optionally after the Namespace), as a stream of JSON documents, one a line, for
//! `kubectl apply -f -` (not a `v1` List: kubectl validates a List against the server's
//! OpenAPI v2 document, which not every API server serves; and not YAML's `---`, which
//! kubectl's JSON decoder, chosen by the leading `{`, does not take).
//!
//! The kubelet reads `.dockerconfigjson`'s `auths` only (`username`/`password`/`auth`; it has
//! no use for an identity token), keyed by the registry the pods pull from, which may differ
//! from the one the host pushes to (`localhost:5000` vs `openshell-registry:5000`). Pure
//! functions; the lookup, kubectl and files are the CLI's.

use anyhow::bail;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::auth::{Secret, basic_header};
use super::reference::{Address, DOCKER_HUB};

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub name: String,
    /// The `auths` key: the registry (and optional path) pods pull from.
    pub pull_registry: String,
    pub namespaces: Vec<String>,
    /// Put each Namespace before its Secret (server-side apply of a bare Namespace changes
    /// nothing that exists).
    pub create_namespaces: bool,
}

/// The names Docker Hub goes by, all meaning [`DOCKER_HUB`].
const HUB_ALIASES: [&str; 4] = [
    "docker.io",
    "index.docker.io",
    DOCKER_HUB,
    "https://index.docker.io/v1/",
];

/// `HOST[:PORT][/PATH]` → the `host[:port]` credentials are stored under (Docker Hub's
/// aliases as [`DOCKER_HUB`]), checked.
pub fn registry_host(registry: &str) -> anyhow::Result<String> {
    if HUB_ALIASES.contains(&registry) {
        return Ok(DOCKER_HUB.to_string());
    }
    let host = registry.split('/').next().unwrap_or("");
    Address::parse(host).map_err(|e| anyhow::anyhow!("--registry {registry:?}: {e:#}"))?;
    Ok(if HUB_ALIASES.contains(&host) {
        DOCKER_HUB.to_string()
    } else {
        host.to_string()
    })
}

/// The `auths` key for pods pulling from `registry` (`HOST[:PORT][/PATH]`): as given, but
/// Docker Hub under the v1 URL the kubelet (like Docker) files it under.
pub fn pull_key(registry: &str) -> anyhow::Result<String> {
    let host = registry_host(registry)?;
    Ok(if host == DOCKER_HUB {
        "https://index.docker.io/v1/".to_string()
    } else {
        registry.trim_end_matches('/').to_string()
    })
}

/// A DNS-1123 subdomain (Secret names) or label (namespaces, `max` 63).
fn dns_name(what: &str, value: &str, max: usize, dots: bool) -> anyhow::Result<()> {
    let ok = !value.is_empty()
        && value.len() <= max
        && value
            .split('.')
            .all(|l| !l.is_empty() && !l.starts_with('-') && !l.ends_with('-'))
        && value.chars().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || (dots && c == '.')
        });
    if !ok {
        let allowed = if dots {
            "lowercase letters, digits, '-' and '.'"
        } else {
            "lowercase letters, digits and '-'"
        };
        bail!(
            "{what} {value:?} is not a valid Kubernetes name ({allowed}, at most {max}, \
             starting and ending with a letter or digit)"
        );
    }
    Ok(())
}

impl Spec {
    pub fn check(&self) -> anyhow::Result<()> {
        dns_name("--name", &self.name, 253, true)?;
        if self.namespaces.is_empty() {
            bail!("no namespace to put the pull secret in; pass --namespace NS");
        }
        for ns in &self.namespaces {
            dns_name("--namespace", ns, 63, false)?;
        }
        Ok(())
    }
}

/// The `.dockerconfigjson` for `secret` under `key`; an identity token is refused (the
/// kubelet cannot use one).
fn docker_config_json(key: &str, secret: &Secret, source: &str) -> anyhow::Result<String> {
    let Secret::Basic { username, password } = secret else {
        bail!(
            "the credential for {key} in {source} is an identity token, which the kubelet cannot \
             pull with; log in with a user name and password (or a robot account's token as \
             the password): docker login {key}"
        );
    };
    let auth = basic_header(username, password)
        .trim_start_matches("Basic ")
        .to_string();
    Ok(
        json!({"auths": {key: {"username": username, "password": password, "auth": auth}}})
            .to_string(),
    )
}

/// What to apply: per namespace, its Namespace (when asked) and the Secret, one JSON document
/// each.
pub fn manifest(spec: &Spec, secret: &Secret, source: &str) -> anyhow::Result<String> {
    spec.check()?;
    let config = docker_config_json(&spec.pull_registry, secret, source)?;
    let labels = json!({"app.kubernetes.io/managed-by": "k8s-dev"});
    let mut items: Vec<Value> = Vec::new();
    for ns in &spec.namespaces {
        if spec.create_namespaces {
            items.push(json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns},
            }));
        }
        items.push(json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/dockerconfigjson",
            "metadata": {"name": spec.name, "namespace": ns, "labels": labels},
            "data": {".dockerconfigjson": STANDARD.encode(&config)},
        }));
    }
    Ok(items.iter().map(|i| format!("{i}\n")).collect())
}

/// The documents of a [`manifest`].
pub fn documents(manifest: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(manifest)
        .into_iter::<Value>()
        .map_while(Result::ok)
        .collect()
}

/// `text` with every form of `secret` the manifest carries replaced by `<redacted>`: for
/// messages from kubectl, which could quote what it was given.
pub fn redact(text: &str, secret: &Secret, manifest: &str) -> String {
    let mut forms: Vec<String> = Vec::new();
    match secret {
        Secret::Basic { username, password } => {
            forms.push(password.clone());
            forms.push(
                basic_header(username, password)
                    .trim_start_matches("Basic ")
                    .to_string(),
            );
        }
        Secret::IdentityToken(token) => forms.push(token.clone()),
    }
    for doc in documents(manifest) {
        if let Some(data) = doc["data"][".dockerconfigjson"].as_str() {
            forms.push(data.to_string());
        }
    }
    // Longest first, so a form that contains another goes whole.
    forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
    let mut out = text.to_string();
    for form in forms.iter().filter(|f| !f.is_empty()) {
        out = out.replace(form.as_str(), "<redacted>");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic() -> Secret {
        Secret::Basic {
            username: "robot$ci".into(),
            password: "pw-Zq9!secret".into(),
        }
    }

    fn spec(namespaces: &[&str], create: bool) -> Spec {
        Spec {
            name: "k8s-dev-pull".into(),
            pull_registry: "openshell-registry:5000".into(),
            namespaces: namespaces.iter().map(|n| n.to_string()).collect(),
            create_namespaces: create,
        }
    }

    #[test]
    fn one_dockerconfigjson_secret_per_namespace_keyed_by_the_pull_registry() {
        let text = manifest(&spec(&["openshell", "sandboxes"], true), &basic(), "f").unwrap();
        let items = documents(&text);
        assert_eq!(text.lines().count(), 4, "one document a line");
        let kinds: Vec<_> = items
            .iter()
            .map(|i| {
                format!(
                    "{}/{}",
                    i["kind"].as_str().unwrap(),
                    i["metadata"]["namespace"]
                        .as_str()
                        .or(i["metadata"]["name"].as_str())
                        .unwrap()
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                "Namespace/openshell",
                "Secret/openshell",
                "Namespace/sandboxes",
                "Secret/sandboxes"
            ]
        );
        let secret = &items[1];
        assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
        assert_eq!(secret["metadata"]["name"], "k8s-dev-pull");
        let config: Value = serde_json::from_slice(
            &STANDARD
                .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
                .unwrap(),
        )
        .unwrap();
        let entry = &config["auths"]["openshell-registry:5000"];
        assert_eq!(entry["username"], "robot$ci");
        assert_eq!(entry["password"], "pw-Zq9!secret");
        assert_eq!(
            STANDARD.decode(entry["auth"].as_str().unwrap()).unwrap(),
            b"robot$ci:pw-Zq9!secret"
        );
        let without = manifest(&spec(&["openshell"], false), &basic(), "f").unwrap();
        assert_eq!(documents(&without).len(), 1);
    }

    #[test]
    fn an_identity_token_and_bad_names_are_refused() {
        let err = manifest(
            &spec(&["a"], false),
            &Secret::IdentityToken("tok-secret".into()),
            "/h/.docker/config.json",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(
                "the credential for openshell-registry:5000 in /h/.docker/config.json is an \
                 identity token"
            ),
            "{err}"
        );
        assert!(!err.contains("tok-secret"));
        let mut bad = spec(&["Open_Shell"], false);
        let err = manifest(&bad, &basic(), "f").unwrap_err().to_string();
        assert!(
            err.starts_with("--namespace \"Open_Shell\" is not a valid"),
            "{err}"
        );
        bad.namespaces = vec!["ok".into()];
        bad.name = "-x".into();
        assert!(manifest(&bad, &basic(), "f").is_err());
        bad.namespaces.clear();
        bad.name = "x".into();
        let err = manifest(&bad, &basic(), "f").unwrap_err().to_string();
        assert_eq!(
            err,
            "no namespace to put the pull secret in; pass --namespace NS"
        );
    }

    #[test]
    fn registries_and_keys_with_docker_hub_aliases() {
        assert_eq!(registry_host("reg.lan:5000/team").unwrap(), "reg.lan:5000");
        assert_eq!(registry_host("docker.io").unwrap(), DOCKER_HUB);
        assert_eq!(registry_host("docker.io/library").unwrap(), DOCKER_HUB);
        assert!(registry_host("http://reg.lan").is_err());
        assert_eq!(
            pull_key("docker.io").unwrap(),
            "https://index.docker.io/v1/"
        );
        assert_eq!(pull_key("ghcr.io/nvidia/").unwrap(), "ghcr.io/nvidia");
    }

    #[test]
    fn redact_removes_every_form_of_the_secret() {
        let text = manifest(&spec(&["a"], false), &basic(), "f").unwrap();
        let data = documents(&text)[0]["data"][".dockerconfigjson"]
            .as_str()
            .unwrap()
            .to_string();
        let auth = basic_header("robot$ci", "pw-Zq9!secret");
        let message = format!("bad {data} and pw-Zq9!secret and {auth}");
        let got = redact(&message, &basic(), &text);
        assert_eq!(got, "bad <redacted> and <redacted> and Basic <redacted>");
    }
}
