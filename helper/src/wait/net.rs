// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Network probes: a TCP port accepting connections, and an OCI registry answering `/v2/`.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Longest single connect or request; the wait loop retries after it.
const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
/// `connect_timeout` rejects zero; the last probe at the deadline still gets this long.
const MIN_ATTEMPT: Duration = Duration::from_millis(100);

fn attempt_budget(left: Duration) -> Duration {
    left.clamp(MIN_ATTEMPT, ATTEMPT_LIMIT)
}

/// Ready when any address of `address` (`host:port`) accepts a TCP connection.
pub fn probe_tcp(address: &str, left: Duration) -> Result<(), String> {
    let addrs = address
        .to_socket_addrs()
        .map_err(|err| format!("resolving {address}: {err}"))?;
    let mut last = format!("resolving {address}: no addresses");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, attempt_budget(left)) {
            Ok(_) => return Ok(()),
            Err(err) => last = format!("connecting to {addr}: {err}"),
        }
    }
    Err(last)
}

/// The `/v2/` URL of a registry given as `host:port` (plain HTTP, as a local registry is) or as
/// an `http://` / `https://` URL.
pub fn registry_url(target: &str) -> Result<String> {
    let base = if target.starts_with("http://") || target.starts_with("https://") {
        target.trim_end_matches('/').to_owned()
    } else if target.contains("://") {
        bail!(
            "registry {target}: only http:// and https:// URLs are supported; fix: pass host:port or an http(s) URL"
        );
    } else {
        format!("http://{}", target.trim_end_matches('/'))
    };
    let base = base.strip_suffix("/v2").unwrap_or(&base);
    Ok(format!("{base}/v2/"))
}

/// A registry probe with one HTTP client (and runtime) for the whole wait, so connections are
/// reused between attempts.
pub struct RegistryProbe {
    url: String,
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

impl RegistryProbe {
    pub fn new(target: &str) -> Result<RegistryProbe> {
        crate::runtime::install_crypto_provider();
        let url = registry_url(target)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building a tokio runtime")?;
        // A dev registry is local: a corporate HTTP(S)_PROXY must not swallow 127.0.0.1:5000.
        let mut builder = reqwest::Client::builder().no_proxy();
        if url.starts_with("http://") {
            // Plain HTTP needs no trust roots; loading the system's costs a no-op `up` ~25 ms.
            builder = builder.tls_certs_only(Vec::<reqwest::Certificate>::new());
        }
        let client = builder.build().context("building an HTTP client")?;
        Ok(RegistryProbe {
            url,
            runtime,
            client,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Ready on 200 (open registry) or 401 (registry asking for credentials): either way the
    /// Distribution API is up. Anything else is a reason to keep waiting.
    pub fn probe(&self, left: Duration) -> Result<(), String> {
        // Built inside the runtime: reqwest arms its timeout timer when the request is sent.
        let sent = self.runtime.block_on(async {
            self.client
                .get(&self.url)
                .timeout(attempt_budget(left))
                .send()
                .await
        });
        match sent {
            Ok(response) => match response.status().as_u16() {
                200 | 401 => Ok(()),
                code => Err(format!("GET {}: HTTP {code}", self.url)),
            },
            // reqwest's own message only repeats the URL; its causes say what went wrong.
            Err(err) => Err(match std::error::Error::source(&err) {
                Some(cause) => format!("GET {}: {}", self.url, error_chain(cause)),
                None => format!("GET {}: {err}", self.url),
            }),
        }
    }
}

/// `outer: inner: cause`, without repeating a cause its parent already quotes.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn registry_url_defaults_to_plain_http() {
        assert_eq!(
            registry_url("localhost:5000").unwrap(),
            "http://localhost:5000/v2/"
        );
        assert_eq!(
            registry_url("http://127.0.0.1:5000/").unwrap(),
            "http://127.0.0.1:5000/v2/"
        );
        assert_eq!(
            registry_url("https://r.example/v2/").unwrap(),
            "https://r.example/v2/"
        );
        let err = registry_url("ftp://x").unwrap_err().to_string();
        assert!(err.contains("fix: pass host:port"), "{err}");
    }

    #[test]
    fn tcp_probe_sees_listener_and_refusal() {
        // A freed port can be taken again at once (tests run side by side) or, rarely, connect
        // to itself (Linux's simultaneous open when the source port equals it): a few ports, one
        // refusal needed.
        let mut refusals = Vec::new();
        for _ in 0..5 {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap().to_string();
            assert_eq!(probe_tcp(&addr, Duration::from_secs(1)), Ok(()));
            drop(listener);
            if let Err(reason) = probe_tcp(&addr, Duration::from_secs(1)) {
                assert!(
                    reason.starts_with(&format!("connecting to {addr}: ")),
                    "{reason}"
                );
                refusals.push(reason);
            }
        }
        assert!(!refusals.is_empty(), "no freed port was refused");
    }

    #[test]
    fn tcp_probe_reports_bad_address() {
        let reason = probe_tcp("no-port-here", Duration::from_secs(1)).unwrap_err();
        assert!(reason.starts_with("resolving no-port-here: "), "{reason}");
    }
}
