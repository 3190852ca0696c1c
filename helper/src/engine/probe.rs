// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The IO edge of resolution: asking an engine's API who it is, and asking `podman machine`
//! where its socket is.

use std::io;
use std::process::Command;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, BollardRequest, Docker};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::{Endpoint, Probe, Prober};
use crate::env::{Env, Os};

/// How long one candidate may take to answer. A local engine answers `/_ping` in about a
/// millisecond; a second is plenty and keeps a hung socket from stalling the search.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// A `/_ping` reply is a few hundred bytes; anything this long is not a Docker API.
const PING_REPLY_LIMIT: u64 = 64 * 1024;

/// Asks engines over their Docker-compatible API: `GET /_ping` (does it answer, and with which
/// headers), then, unless the ping said it is Podman, `GET /version` through bollard.
pub struct ApiProber {
    runtime: tokio::runtime::Runtime,
}

impl ApiProber {
    pub fn new() -> ApiProber {
        ApiProber {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("building a tokio runtime"),
        }
    }
}

impl Default for ApiProber {
    fn default() -> ApiProber {
        ApiProber::new()
    }
}

impl Prober for ApiProber {
    fn probe(&self, endpoint: &Endpoint) -> Result<Probe, String> {
        self.runtime.block_on(probe(endpoint))
    }
}

async fn probe(endpoint: &Endpoint) -> Result<Probe, String> {
    let libpod_api_version = tokio::time::timeout(PROBE_TIMEOUT, ping(endpoint))
        .await
        .map_err(|_| format!("no answer to /_ping within {}s", PROBE_TIMEOUT.as_secs()))??;
    // Podman answers /version slowly (about 0.4 s here: it runs conmon and the OCI runtime to
    // report their versions), and its ping already says who it is: the Libpod API version is
    // Podman's release version. Only an endpoint without that header is asked for /version.
    if let Some(version) = libpod_api_version {
        return Ok(Probe {
            version: version.clone(),
            components: Vec::new(),
            libpod_api_version: Some(version),
        });
    }
    let version = client(endpoint, PROBE_TIMEOUT)?
        .version()
        .await
        .map_err(|err| format!("GET /version: {err}"))?;
    Ok(Probe {
        version: version.version.unwrap_or_default(),
        components: version
            .components
            .unwrap_or_default()
            .into_iter()
            .map(|c| c.name)
            .collect(),
        libpod_api_version: None,
    })
}

/// `GET /_ping` by hand rather than through bollard: bollard returns only the body, and the
/// response header `Libpod-Api-Version` is one of the two ways to tell Podman apart; the
/// connect error also comes back as a plain `io::Error`, which says "stale socket" precisely.
/// Returns that header's value.
async fn ping(endpoint: &Endpoint) -> Result<Option<String>, String> {
    match endpoint {
        Endpoint::Unix { path, .. } => {
            let stream = UnixStream::connect(path)
                .await
                .map_err(|err| connect_error(&err, true))?;
            ping_over(stream).await
        }
        Endpoint::Tcp { addr } => {
            let stream = TcpStream::connect(addr.as_str())
                .await
                .map_err(|err| connect_error(&err, false))?;
            ping_over(stream).await
        }
    }
}

async fn ping_over<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
) -> Result<Option<String>, String> {
    // HTTP/1.0: the engine closes the connection after its reply, so reading to the end is
    // the whole response without a chunked or keep-alive reader.
    let request = b"GET /_ping HTTP/1.0\r\nHost: docker\r\nUser-Agent: k8s-dev-helper\r\n\r\n";
    stream
        .write_all(request)
        .await
        .map_err(|err| format!("sending /_ping: {err}"))?;
    let mut reply = Vec::new();
    (&mut stream)
        .take(PING_REPLY_LIMIT)
        .read_to_end(&mut reply)
        .await
        .map_err(|err| format!("reading the /_ping reply: {err}"))?;
    parse_ping_reply(&reply)
}

/// The `Libpod-Api-Version` header of a successful `/_ping` reply, or why the reply is not one.
pub(crate) fn parse_ping_reply(reply: &[u8]) -> Result<Option<String>, String> {
    let text = String::from_utf8_lossy(reply);
    let head = text.split("\r\n\r\n").next().unwrap_or_default();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .ok_or_else(|| "answered /_ping with something that is not HTTP".to_string())?;
    if code != "200" {
        return Err(format!(
            "answered /_ping with HTTP {code}, not a Docker-compatible API"
        ));
    }
    Ok(lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("Libpod-Api-Version")
            .then(|| value.trim().to_string())
    }))
}

fn connect_error(err: &io::Error, unix: bool) -> String {
    match err.kind() {
        io::ErrorKind::ConnectionRefused if unix => {
            "stale socket: connection refused (the file is there, nothing listens on it)".into()
        }
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::PermissionDenied => {
            "permission denied (your user may not open this socket)".into()
        }
        io::ErrorKind::NotFound => "no socket (it went away)".into(),
        _ => format!("connect: {err}"),
    }
}

/// A bollard client for `endpoint` that speaks the engine's own API version.
///
/// Bollard puts its API version in every path (`/v1.53/…`). Engines refuse versions newer than
/// theirs (dockerd 20.10: "client version 1.53 is too new. Maximum supported API version is
/// 1.41") and Docker 29 refuses ones older than 1.44, so no fixed version fits every engine
/// the kit meets. An unversioned path is served at the engine's own version, so the prefix is
/// removed from each request.
pub fn client(endpoint: &Endpoint, timeout: Duration) -> Result<Docker, String> {
    let secs = timeout.as_secs().max(1);
    let docker = match endpoint {
        Endpoint::Unix { path, .. } => {
            Docker::connect_with_unix(&path.to_string_lossy(), secs, API_DEFAULT_VERSION)
        }
        Endpoint::Tcp { addr } => Docker::connect_with_http(addr, secs, API_DEFAULT_VERSION),
    }
    .map_err(|err| format!("connecting to {}: {err}", endpoint.host()))?;
    Ok(docker.with_request_modifier(unversioned))
}

fn unversioned(mut request: BollardRequest) -> BollardRequest {
    let prefix = format!(
        "/v{}.{}/",
        API_DEFAULT_VERSION.major_version, API_DEFAULT_VERSION.minor_version
    );
    let uri = request.uri().to_string();
    if let Some(at) = uri.find(&prefix)
        && let Ok(stripped) = format!("{}/{}", &uri[..at], &uri[at + prefix.len()..]).parse()
    {
        *request.uri_mut() = stripped;
    }
    request
}

/// Whether the engine runs rootless, from `GET /info` (`SecurityOptions` has `name=rootless`
/// for rootless Docker and rootless Podman alike).
pub fn rootless(endpoint: &Endpoint) -> Result<bool, String> {
    let docker = client(endpoint, PROBE_TIMEOUT)?;
    let info =
        crate::runtime::block_on(docker.info()).map_err(|err| format!("GET /info: {err}"))?;
    Ok(info
        .security_options
        .unwrap_or_default()
        .iter()
        .any(|opt| opt.split(',').any(|field| field == "name=rootless")))
}

/// Where the running Podman machine forwards its API on macOS, from
/// `podman machine inspect --format '{{.ConnectionInfo.PodmanSocket.Path}}'`. `None` off
/// macOS, when `DOCKER_HOST` decides anyway, under `K8S_DEV_ENGINE=docker`, without `podman`
/// on `PATH`, or when the command gives nothing.
pub fn podman_machine_socket(env: &Env) -> Option<String> {
    let wanted = env.os == Os::MacOs
        && env.docker_host.is_none()
        && !env
            .engine
            .as_deref()
            .is_some_and(|e| e.eq_ignore_ascii_case("docker"));
    if !wanted {
        return None;
    }
    let podman = which::which_in("podman", env.path.as_ref(), "/").ok()?;
    let out = Command::new(podman)
        .args([
            "machine",
            "inspect",
            "--format",
            "{{.ConnectionInfo.PodmanSocket.Path}}",
        ])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    // One line per machine; the first is the default machine.
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && *line != "<no value>")
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_reply_from_podman_has_the_libpod_header() {
        let reply = b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nLibpod-Api-Version: 4.3.1\r\n\
                      Server: Libpod/4.3.1 (linux)\r\n\r\nOK";
        assert_eq!(parse_ping_reply(reply), Ok(Some("4.3.1".to_string())));
    }

    #[test]
    fn ping_reply_from_docker_has_none() {
        let reply =
            b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10.24 (linux)\r\n\r\nOK";
        assert_eq!(parse_ping_reply(reply), Ok(None));
    }

    #[test]
    fn ping_reply_header_name_is_case_insensitive() {
        let reply = b"HTTP/1.1 200 OK\r\nlibpod-api-version:  5.0.0 \r\n\r\nOK";
        assert_eq!(parse_ping_reply(reply), Ok(Some("5.0.0".to_string())));
    }

    #[test]
    fn ping_reply_not_200_is_not_a_docker_api() {
        let reply = b"HTTP/1.1 404 Not Found\r\n\r\n";
        assert_eq!(
            parse_ping_reply(reply),
            Err("answered /_ping with HTTP 404, not a Docker-compatible API".to_string())
        );
    }

    #[test]
    fn ping_reply_garbage_is_not_http() {
        assert!(parse_ping_reply(b"SSH-2.0-OpenSSH_9.6\r\n").is_err());
        assert!(parse_ping_reply(b"").is_err());
    }

    #[test]
    fn connect_refused_on_a_unix_socket_is_a_stale_socket() {
        let err = io::Error::from(io::ErrorKind::ConnectionRefused);
        assert!(connect_error(&err, true).starts_with("stale socket: connection refused"));
        assert_eq!(connect_error(&err, false), "connection refused");
    }

    #[test]
    fn unversioned_strips_bollards_api_prefix() {
        let uri = format!(
            "unix://2f746d70/v{}.{}/version",
            API_DEFAULT_VERSION.major_version, API_DEFAULT_VERSION.minor_version
        );
        let mut request = BollardRequest::new(bollard::body_full(Default::default()));
        *request.uri_mut() = uri.parse().unwrap();
        assert_eq!(
            unversioned(request).uri().to_string(),
            "unix://2f746d70/version"
        );
    }

    #[test]
    fn no_podman_machine_lookup_off_macos() {
        assert_eq!(podman_machine_socket(&Env::empty(Os::Linux)), None);
    }
}
