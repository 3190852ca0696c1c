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
/// headers), then, unless those headers already said who it is, `GET /version` through bollard.
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
    let reply = tokio::time::timeout(PROBE_TIMEOUT, ping(endpoint))
        .await
        .map_err(|_| format!("no answer to /_ping within {}s", PROBE_TIMEOUT.as_secs()))??;
    // The ping's headers usually say who answered, and /version is slow on both engines: Podman
    // runs conmon and the OCI runtime to report their versions (about 0.4 s here), dockerd asks
    // containerd (5-10 ms). The Libpod API version is Podman's release version; dockerd's
    // `Server: Docker/<version> (<os>)` is the version /version reports.
    if let Some(version) = reply.libpod_api_version {
        return Ok(Probe {
            version: version.clone(),
            components: Vec::new(),
            libpod_api_version: Some(version),
        });
    }
    if let Some(version) = reply.docker_version {
        return Ok(Probe {
            version,
            components: Vec::new(),
            libpod_api_version: None,
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
async fn ping(endpoint: &Endpoint) -> Result<PingReply, String> {
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

async fn ping_over<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> Result<PingReply, String> {
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

/// What a successful `/_ping` reply's headers say about the engine.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct PingReply {
    /// `Libpod-Api-Version`, sent only by Podman.
    pub(crate) libpod_api_version: Option<String>,
    /// `<version>` from dockerd's `Server: Docker/<version> (<os>)`.
    pub(crate) docker_version: Option<String>,
}

/// Parse a `/_ping` reply, or say why it is not a Docker API's.
pub(crate) fn parse_ping_reply(reply: &[u8]) -> Result<PingReply, String> {
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
    let mut reply = PingReply::default();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.eq_ignore_ascii_case("Libpod-Api-Version") && !value.is_empty() {
            reply.libpod_api_version = Some(value.to_string());
        } else if name.eq_ignore_ascii_case("Server") {
            reply.docker_version = value
                .strip_prefix("Docker/")
                .and_then(|rest| rest.split_whitespace().next())
                .map(String::from);
        }
    }
    Ok(reply)
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
    let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
    let podman = which::which_in("podman", env.path.as_ref(), cwd).ok()?;
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
        assert_eq!(
            parse_ping_reply(reply),
            Ok(PingReply {
                libpod_api_version: Some("4.3.1".into()),
                docker_version: None
            })
        );
    }

    #[test]
    fn ping_reply_from_dockerd_has_its_version_in_server() {
        let reply =
            b"HTTP/1.0 200 OK\r\nApi-Version: 1.41\r\nServer: Docker/20.10.24+dfsg1 (linux)\r\n\r\nOK";
        assert_eq!(
            parse_ping_reply(reply),
            Ok(PingReply {
                libpod_api_version: None,
                docker_version: Some("20.10.24+dfsg1".into())
            })
        );
    }

    #[test]
    fn ping_reply_without_telling_headers_leaves_both_unknown() {
        let reply = b"HTTP/1.1 200 OK\r\nlibpod-api-version: \r\nServer: nginx\r\n\r\nOK";
        assert_eq!(parse_ping_reply(reply), Ok(PingReply::default()));
    }

    #[test]
    fn ping_reply_header_name_is_case_insensitive() {
        let reply = b"HTTP/1.1 200 OK\r\nlibpod-api-version:  5.0.0 \r\n\r\nOK";
        let parsed = parse_ping_reply(reply).unwrap();
        assert_eq!(parsed.libpod_api_version.as_deref(), Some("5.0.0"));
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

    /// Serve `/_ping` with no telling headers and `/version` with `version_json` on a unix
    /// socket; returns the socket's endpoint and the request lines seen.
    fn plain_api(
        dir: &std::path::Path,
        version_json: &'static str,
    ) -> (Endpoint, std::sync::mpsc::Receiver<String>) {
        use std::io::{BufRead, BufReader, Write};
        let path = dir.join("api.sock");
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        let (seen, requests) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let mut stream = stream.unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut request_line = String::new();
                reader.read_line(&mut request_line).unwrap();
                let mut header = String::new();
                while reader.read_line(&mut header).unwrap() > 2 {
                    header.clear();
                }
                let body = if request_line.contains("/_ping") {
                    "OK"
                } else {
                    version_json
                };
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                // Recorded before replying, so the client cannot finish first.
                let _ = seen.send(request_line.trim().to_string());
                stream.write_all(reply.as_bytes()).unwrap();
            }
        });
        let endpoint = Endpoint::Unix { path, exists: true };
        (endpoint, requests)
    }

    #[test]
    fn probe_asks_version_when_the_ping_does_not_say_who_answered() {
        let dir = tempfile::tempdir().unwrap();
        let (endpoint, requests) = plain_api(
            dir.path(),
            r#"{"Version":"5.4.0","ApiVersion":"1.41","Components":[{"Name":"Podman Engine","Version":"5.4.0"}]}"#,
        );
        let probe = ApiProber::new().probe(&endpoint).unwrap();
        assert_eq!(
            probe,
            Probe {
                version: "5.4.0".into(),
                components: vec!["Podman Engine".into()],
                libpod_api_version: None,
            }
        );
        assert_eq!(
            super::super::engine_of(&probe),
            crate::engine::Engine::Podman
        );
        let seen: Vec<String> = requests.try_iter().collect();
        assert_eq!(seen, ["GET /_ping HTTP/1.0", "GET /version HTTP/1.1"]);
    }

    #[test]
    fn no_podman_machine_lookup_off_macos() {
        assert_eq!(podman_machine_socket(&Env::empty(Os::Linux)), None);
    }
}
