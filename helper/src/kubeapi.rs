// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The kit's own cluster, asked directly: one HTTP request with the credentials of the cluster's
//! kubeconfig (k3d writes a CA and a client certificate) instead of a kubectl process, for the
//! readiness checks of `up`. A no-op `up` then costs one request, not two kubectl starts.
//!
//! Read-only, and only for what k3d writes: [`KubeApi::from_kubeconfig`] gives `None` for a
//! kubeconfig that needs anything else (exec plugins, auth providers, files by path, proxies,
//! skipped TLS verification), and the caller runs kubectl, which understands all of it.

use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::kubeconfig::{Input, doc};
use crate::kubectl::nodes_ready;

/// Longest single request; the wait loop retries after it.
const REQUEST_LIMIT: Duration = Duration::from_secs(5);

/// How to reach one context's API server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub server: String,
    /// PEM of the CA that signed the server's certificate (HTTPS only).
    pub ca: Option<Vec<u8>>,
    /// PEM of the client certificate followed by its key.
    pub identity: Option<Vec<u8>>,
    pub token: Option<String>,
}

/// The keys of a cluster and a user entry the direct path understands; any other key means
/// kubectl must do it.
const CLUSTER_KEYS: &[&str] = &["server", "certificate-authority-data"];
const USER_KEYS: &[&str] = &["client-certificate-data", "client-key-data", "token"];

/// Read `context` out of a kubeconfig's text; `Ok(None)` when it needs more than the direct path
/// understands.
pub fn access(text: &str, context: &str) -> Result<Option<Access>> {
    let root = doc::parse(text, Input::Target).map_err(|err| anyhow::anyhow!("{}", err.problem))?;
    let entry = |section, name: &str| -> Option<Map<String, Value>> {
        doc::entries(&root, section, Input::Target)
            .ok()?
            .into_iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_object().cloned())
    };
    let Some(ctx) = entry(doc::Section::Contexts, context) else {
        return Ok(None);
    };
    let field = |map: &Map<String, Value>, key: &str| {
        map.get(key).and_then(Value::as_str).map(str::to_string)
    };
    let inner = |map: Option<Map<String, Value>>, key: &str| {
        map.and_then(|m| m.get(key).and_then(Value::as_object).cloned())
    };
    let ctx = inner(Some(ctx), "context").unwrap_or_default();
    let (Some(cluster_name), Some(user_name)) = (field(&ctx, "cluster"), field(&ctx, "user"))
    else {
        return Ok(None);
    };
    let Some(cluster) = inner(entry(doc::Section::Clusters, &cluster_name), "cluster") else {
        return Ok(None);
    };
    let user = inner(entry(doc::Section::Users, &user_name), "user").unwrap_or_default();
    if cluster.keys().any(|k| !CLUSTER_KEYS.contains(&k.as_str()))
        || user.keys().any(|k| !USER_KEYS.contains(&k.as_str()))
    {
        return Ok(None);
    }
    let Some(server) = field(&cluster, "server") else {
        return Ok(None);
    };
    let token = field(&user, "token");
    if server.starts_with("http://") {
        // Plain HTTP (a test API): no TLS material to use.
        return Ok(Some(Access {
            server,
            ca: None,
            identity: None,
            token,
        }));
    }
    if !server.starts_with("https://") {
        return Ok(None);
    }
    let decode =
        |key: &str| -> Result<Option<Vec<u8>>> { field_bytes(&cluster, &user, key).transpose() };
    let Some(ca) = decode("certificate-authority-data")? else {
        return Ok(None);
    };
    let identity = match (
        decode("client-certificate-data")?,
        decode("client-key-data")?,
    ) {
        (Some(mut cert), Some(key)) => {
            cert.push(b'\n');
            cert.extend(key);
            Some(cert)
        }
        (None, None) => None,
        _ => return Ok(None),
    };
    if identity.is_none() && token.is_none() {
        return Ok(None);
    }
    Ok(Some(Access {
        server,
        ca: Some(ca),
        identity,
        token,
    }))
}

/// A base64 field of the cluster or the user entry, decoded.
fn field_bytes(
    cluster: &Map<String, Value>,
    user: &Map<String, Value>,
    key: &str,
) -> Option<Result<Vec<u8>>> {
    let value = cluster.get(key).or_else(|| user.get(key))?.as_str()?;
    Some(
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .with_context(|| format!("decoding {key} of the kubeconfig")),
    )
}

/// A client for one context's API server, with one runtime for all its requests.
pub struct KubeApi {
    access: Access,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl KubeApi {
    /// A client for `access`; an error when its TLS material is unusable.
    pub fn new(access: Access) -> Result<KubeApi> {
        crate::runtime::install_crypto_provider();
        // The API of a local cluster: a corporate HTTP(S)_PROXY must not swallow 127.0.0.1.
        let mut builder = reqwest::Client::builder().no_proxy();
        // Only the cluster's CA, never the system's roots (plain HTTP: none at all, and no
        // time spent loading them).
        let roots = match &access.ca {
            Some(ca) => {
                vec![reqwest::Certificate::from_pem(ca).context("reading the cluster's CA")?]
            }
            None => Vec::new(),
        };
        builder = builder.tls_certs_only(roots);
        if let Some(identity) = &access.identity {
            let identity = reqwest::Identity::from_pem(identity)
                .context("reading the kubeconfig's client certificate and key")?;
            builder = builder.identity(identity);
        }
        let client = builder.build().context("building an HTTP client")?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building a tokio runtime")?;
        Ok(KubeApi {
            access,
            runtime,
            client,
        })
    }

    /// GET `path`; the body on 200, else why not (the words kubectl uses for credentials it
    /// cannot use, so `up` recognises a stale kubeconfig either way).
    pub fn get(&self, path: &str, left: Duration) -> Result<String, String> {
        let url = format!("{}{path}", self.access.server.trim_end_matches('/'));
        let mut request = self
            .client
            .get(&url)
            .timeout(left.clamp(Duration::from_millis(100), REQUEST_LIMIT));
        if let Some(token) = &self.access.token {
            request = request.bearer_auth(token);
        }
        self.runtime.block_on(async {
            let response = request.send().await.map_err(|err| describe(&err))?;
            let status = response.status();
            let body = response.text().await.map_err(|err| describe(&err))?;
            match status.as_u16() {
                200 => Ok(body),
                401 => Err("Unauthorized: the server does not accept these credentials".into()),
                code => Err(format!("GET {path}: HTTP {code}: {}", first_line(&body))),
            }
        })
    }

    /// The apiserver's own readiness endpoint, as `kubectl get --raw=/readyz`.
    pub fn probe_apiserver(&self, left: Duration) -> Result<(), String> {
        self.get("/readyz", left).map(drop)
    }

    /// At least `count` nodes, all Ready, as `kubectl get nodes` judged by [`nodes_ready`].
    pub fn probe_nodes(&self, count: usize, left: Duration) -> Result<(), String> {
        let body = self.get("/api/v1/nodes", left)?;
        let list: Value =
            serde_json::from_str(&body).map_err(|err| format!("reading the node list: {err}"))?;
        nodes_ready(&list, count)
    }
}

/// An error and its causes on one line (reqwest puts the TLS verdict in a cause).
fn describe(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

fn first_line(body: &str) -> &str {
    body.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kubeconfig(cluster: &str, user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-a\n  cluster: {cluster}\n\
             users:\n- name: admin@k3d-a\n  user: {user}\ncontexts:\n- name: k3d-a\n  context: \
             {{cluster: k3d-a, user: admin@k3d-a}}\ncurrent-context: k3d-a\n"
        )
    }

    #[test]
    fn what_k3d_writes_is_read_directly() {
        let text = kubeconfig(
            "{server: 'https://127.0.0.1:6550', certificate-authority-data: Q0E=}",
            "{client-certificate-data: Q0VSVA==, client-key-data: S0VZ}",
        );
        let access = access(&text, "k3d-a").unwrap().unwrap();
        assert_eq!(access.server, "https://127.0.0.1:6550");
        assert_eq!(access.ca.as_deref(), Some(&b"CA"[..]));
        assert_eq!(access.identity.as_deref(), Some(&b"CERT\nKEY"[..]));
        assert_eq!(access.token, None);
    }

    #[test]
    fn plain_http_needs_no_tls_material() {
        let text = kubeconfig(
            "{server: 'http://127.0.0.1:1234'}",
            "{client-certificate-data: RkFLRQ==, client-key-data: RkFLRQ==}",
        );
        let access = access(&text, "k3d-a").unwrap().unwrap();
        assert_eq!((access.ca, access.identity), (None, None));
    }

    #[test]
    fn anything_else_is_left_to_kubectl() {
        for (cluster, user) in [
            (
                "{server: 'https://h:1', certificate-authority-data: Q0E=}",
                "{exec: {command: aws}}",
            ),
            (
                "{server: 'https://h:1', certificate-authority: /ca.pem}",
                "{token: t}",
            ),
            (
                "{server: 'https://h:1', certificate-authority-data: Q0E=, proxy-url: 'http://p'}",
                "{token: t}",
            ),
            (
                "{server: 'https://h:1', insecure-skip-tls-verify: true}",
                "{token: t}",
            ),
            ("{server: 'https://h:1'}", "{token: t}"),
            (
                "{server: 'https://h:1', certificate-authority-data: Q0E=}",
                "{}",
            ),
            (
                "{server: 'https://h:1', certificate-authority-data: Q0E=}",
                "{client-key-data: S0VZ}",
            ),
        ] {
            let text = kubeconfig(cluster, user);
            assert_eq!(access(&text, "k3d-a").unwrap(), None, "{cluster} {user}");
        }
        let text = kubeconfig(
            "{server: 'https://h:1', certificate-authority-data: Q0E=}",
            "{token: t}",
        );
        assert_eq!(access(&text, "other").unwrap(), None);
    }

    #[test]
    fn bad_base64_is_an_error() {
        let text = kubeconfig(
            "{server: 'https://h:1', certificate-authority-data: '%%%'}",
            "{token: t}",
        );
        assert!(access(&text, "k3d-a").is_err());
    }
}
