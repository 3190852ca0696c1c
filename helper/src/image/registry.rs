// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A small client for the OCI Distribution API: manifests, blob existence checks, cross-repo
//! mounts, monolithic uploads. Plain HTTP for loopback and listed insecure registries, HTTPS
//! otherwise (with a registry's own CA from `certs.d`); Basic auth, and the bearer-token flow
//! (401 with `WWW-Authenticate: Bearer realm=…` → token from the realm, with the registry's
//! credentials when it has some → retry; a token that expired is fetched again the same way).
//! One token per registry covers every scope asked of it so far, so a cross-repository mount
//! asks for pull on the source and push on the target in one token.
//!
//! Nothing a registry sends is trusted further than its digest: manifests fetched by digest and
//! every blob read are checked against it (blobs while they stream through), manifests and
//! configs are read up to a cap, and a token goes only to the origin (scheme, host, port) that
//! asked for it, never to another host an upload `Location` or a redirect names.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use reqwest::{Method, Request, RequestBuilder, Response, StatusCode, Url, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::auth::{Found, Locations, Secret, basic_header};
use super::manifest::ACCEPT_ANY;
use super::reference::is_insecure;

/// The largest manifest read. The distribution spec asks registries to take manifests of at
/// least 4 MiB; a real image's manifest is a few KiB.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// The largest image config read (a long build history makes tens of KiB).
pub const MAX_CONFIG_BYTES: u64 = 8 << 20;
/// Error bodies and token responses are read only this far.
const MAX_SMALL_BODY: u64 = 64 << 10;

/// A repository on a registry: the unit every call works on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Repo {
    pub registry: String,
    pub name: String,
}

impl std::fmt::Display for Repo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.registry, self.name)
    }
}

/// A manifest as served: bytes, `Content-Type`, and the digest of the bytes.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    pub media_type: String,
    pub digest: String,
}

/// Outcome of a cross-repository mount request.
pub enum Mount {
    /// 201: the blob is now in the target repository.
    Mounted,
    /// 202: the registry opened an upload session instead (at this URL).
    Upload(Url),
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: Vec<(String, String)>,
}

impl Challenge {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parse `Bearer realm="https://auth/token",service="reg",scope="repository:a:pull,push"`.
/// Values may be quoted (with `\"` escapes) and contain commas.
pub fn parse_challenge(value: &str) -> Option<Challenge> {
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    if scheme.is_empty() {
        return None;
    }
    let mut params = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            break;
        }
        let mut val = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => val.extend(chars.next()),
                    '"' => break,
                    c => val.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if *c == ',' {
                    break;
                }
                val.push(*c);
                chars.next();
            }
            val = val.trim().to_string();
        }
        params.push((key, val));
    }
    Some(Challenge {
        scheme: scheme.to_string(),
        params,
    })
}

#[derive(Deserialize)]
struct TokenResponse {
    token: Option<String>,
    access_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(Deserialize)]
struct ErrorItem {
    code: Option<String>,
    message: Option<String>,
}

/// `HTTP 404 MANIFEST_UNKNOWN: manifest unknown` from a failed response (the Distribution
/// API's JSON error body when there is one, else the first line of the body).
pub async fn describe_failure(resp: Response) -> String {
    let status = resp.status();
    let body = read_prefix(resp, MAX_SMALL_BODY).await;
    let body = String::from_utf8_lossy(&body);
    let detail = match serde_json::from_str::<ErrorBody>(&body) {
        Ok(parsed) if !parsed.errors.is_empty() => parsed
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code.as_deref().unwrap_or("UNKNOWN"),
                    e.message.as_deref().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("; "),
        _ => body
            .lines()
            .next()
            .unwrap_or("")
            .trim()
            .chars()
            .take(200)
            .collect(),
    };
    if detail.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {} {detail}", status.as_u16())
    }
}

/// At most `cap` bytes of a body (errors end it early): for messages, never for content.
async fn read_prefix(mut resp: Response, cap: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = usize::try_from(cap).unwrap_or(usize::MAX) - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() as u64 >= cap {
            break;
        }
    }
    out
}

/// The whole body, refused as soon as it is known to exceed `cap` (from `Content-Length`, or
/// while reading), so a registry cannot make the helper hold a 1 GiB "manifest".
pub async fn read_capped(mut resp: Response, cap: u64, what: &str) -> anyhow::Result<Vec<u8>> {
    let limit = if cap >= 1 << 20 && cap.is_multiple_of(1 << 20) {
        format!("{} MiB", cap >> 20)
    } else {
        format!("{cap} bytes")
    };
    let too_big = || {
        anyhow::Error::new(Refused(format!(
            "{what} is larger than {limit}; refusing it (the registry is misbehaving, or the \
             reference names something that is not an image)"
        )))
    };
    if resp.content_length().is_some_and(|len| len > cap) {
        return Err(too_big());
    }
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .with_context(|| format!("reading {what}"))?
    {
        if (out.len() + chunk.len()) as u64 > cap {
            return Err(too_big());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// A registry that could not be reached at all (DNS, connection, TLS). A caller that knows a
/// better fix than [`Unreachable::fix`] (the build-arg that points a base at a mirror) uses
/// the cause with its own.
#[derive(Debug)]
pub struct Unreachable {
    pub registry: String,
    pub cause: String,
    pub fix: String,
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "reaching registry {}: {}; {}",
            self.registry, self.cause, self.fix
        )
    }
}

impl std::error::Error for Unreachable {}

/// An error kind callers branch on (found anywhere in an error's chain), carrying its
/// one-line message.
macro_rules! error_kind {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::error::Error for $name {}
    };
}

error_kind!(
    /// Content a registry sent and the helper refused (not its digest, too large): a fault of
    /// the registry, not a reason to look elsewhere.
    Refused
);

error_kind!(
    /// A registry's `401` that the client could not answer, or whose answer was refused.
    Unauthorized
);

/// The refusal when content does not hash to the digest it was asked for by.
fn digest_mismatch(what: &str, want: &str, got: &str) -> anyhow::Error {
    anyhow::Error::new(Refused(format!(
        "{what}: the registry sent content with digest {got}, not {want}; refusing it (the \
         registry, a mirror or a proxy on the way changed it)"
    )))
}

/// Why a verified blob stream stopped, for the error of the upload it fed.
type StreamFault = Arc<Mutex<Option<String>>>;

/// How to reach registries: which may be spoken to over plain HTTP, and where credentials
/// and CAs are.
#[derive(Debug, Clone, Default)]
pub struct Registries {
    pub insecure: Vec<String>,
    pub locations: Locations,
}

pub struct Client {
    /// The client for hosts with no CA of their own (the system's roots).
    http: reqwest::Client,
    /// Clients for hosts with a `certs.d` CA, by `host[:port]`.
    tls: Mutex<HashMap<String, reqwest::Client>>,
    registries: Registries,
    /// The plain-HTTP decision per registry (it may resolve `localhost` names).
    plain_http: Mutex<HashMap<String, bool>>,
    /// The `Authorization` value per origin (`scheme://host:port`) that asked for it
    /// (`Bearer …` from its token realm, or `Basic …`), and every scope asked for per
    /// registry so far: one token then covers the base's pull and the target's push when
    /// both are on one registry.
    auth: Mutex<HashMap<String, String>>,
    scopes: Mutex<HashMap<String, BTreeSet<String>>>,
    /// Credentials per registry, looked up on its first challenge.
    credentials: Mutex<HashMap<String, Option<Found>>>,
}

fn http_client(roots: Vec<reqwest::Certificate>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        // Per read, not per request: a big upload may take long, a silent registry may not.
        .read_timeout(Duration::from_secs(120))
        .user_agent(concat!("k8s-dev-helper/", env!("CARGO_PKG_VERSION")));
    if !roots.is_empty() {
        builder = builder.tls_certs_merge(roots);
    }
    builder.build().context("building the HTTP client")
}

/// `host[:port]` of a URL as `certs.d` names its directories (no port for the default one).
fn host_port(url: &Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

impl Client {
    pub fn new(registries: &Registries) -> anyhow::Result<Client> {
        crate::runtime::install_crypto_provider();
        Ok(Client {
            http: http_client(Vec::new())?,
            tls: Mutex::default(),
            registries: registries.clone(),
            plain_http: Mutex::default(),
            auth: Mutex::default(),
            scopes: Mutex::default(),
            credentials: Mutex::default(),
        })
    }

    /// The HTTP client for `url`'s host: one trusting its `certs.d` CA, if it has one.
    fn http_for(&self, url: &Url) -> anyhow::Result<reqwest::Client> {
        self.http_trusting(url, None)
    }

    /// The HTTP client for `url`'s host, trusting its `certs.d` CA and, for a token realm,
    /// `registry`'s too: Docker and Podman fetch a token with the TLS settings of the
    /// registry that named the realm, so one private CA in the registry's directory covers
    /// its token service on another host or port. It adds no trust the registry did not
    /// have: a party that can forge the registry's certificate could name any realm anyway.
    fn http_trusting(&self, url: &Url, registry: Option<&str>) -> anyhow::Result<reqwest::Client> {
        let host = host_port(url);
        let registry = registry.filter(|r| *r != host);
        let key = match registry {
            Some(registry) => format!("{host} (token realm of {registry})"),
            None => host.clone(),
        };
        if let Some(client) = self.tls.lock().expect("tls lock").get(&key) {
            return Ok(client.clone());
        }
        let mut roots = self.roots(&host)?;
        if let Some(registry) = registry {
            roots.extend(self.roots(registry)?);
        }
        if roots.is_empty() {
            return Ok(self.http.clone());
        }
        let client = http_client(roots)?;
        self.tls
            .lock()
            .expect("tls lock")
            .insert(key, client.clone());
        Ok(client)
    }

    /// The certificates of `registry`'s `certs.d` CA files.
    fn roots(&self, registry: &str) -> anyhow::Result<Vec<reqwest::Certificate>> {
        let mut roots = Vec::new();
        for file in &self.registries.locations.ca_files(registry) {
            let pem = std::fs::read(file)
                .with_context(|| format!("reading CA {} for {registry}", file.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .ok()
                .filter(|certs| !certs.is_empty())
                .ok_or_else(|| {
                    anyhow!(
                        "reading CA {} for {registry}: no PEM certificate in it; put the \
                         registry's CA certificate there (PEM), or remove the file",
                        file.display()
                    )
                })?;
            roots.extend(certs);
        }
        Ok(roots)
    }

    fn is_plain_http(&self, registry: &str) -> bool {
        *self
            .plain_http
            .lock()
            .expect("plain_http lock")
            .entry(registry.to_string())
            .or_insert_with(|| {
                // A CA configured for a loopback registry says it speaks TLS.
                is_insecure(registry, &self.registries.insecure)
                    && self.registries.locations.ca_files(registry).is_empty()
            })
    }

    fn base_url(&self, registry: &str) -> anyhow::Result<Url> {
        let scheme = if self.is_plain_http(registry) {
            "http"
        } else {
            "https"
        };
        Url::parse(&format!("{scheme}://{registry}/v2/"))
            .with_context(|| format!("registry address {registry:?} is not a valid host[:port]"))
    }

    fn url(&self, repo: &Repo, path: &str) -> anyhow::Result<Url> {
        let url = self.base_url(&repo.registry)?;
        url.join(&format!("{}/{path}", repo.name))
            .with_context(|| format!("building the URL for {repo}"))
    }

    async fn execute(&self, registry: &str, request: Request) -> anyhow::Result<Response> {
        let http = self.http_for(request.url())?;
        http.execute(self.authorize(request))
            .await
            .map_err(|e| self.unreachable(registry, &e))
    }

    /// Send a request with the authorization of its URL's origin, answering a challenge
    /// once: a bearer token from the realm (with the registry's credentials, if it has any),
    /// or its credentials as Basic. A request whose body cannot be replayed (a stream) is not
    /// retried: its `401` is returned, and the caller starts over (a token may expire
    /// mid-publish). A challenge from any origin but the registry's own is refused: the
    /// registry's token and login belong to it alone.
    async fn send(
        &self,
        repo: &Repo,
        actions: &str,
        extra_scopes: &[String],
        request: RequestBuilder,
    ) -> anyhow::Result<Response> {
        let request = request
            .build()
            .with_context(|| format!("building a request to {repo}"))?;
        {
            let mut scopes = self.scopes.lock().expect("scopes lock");
            let set = scopes.entry(repo.registry.clone()).or_default();
            set.insert(format!("repository:{}:{actions}", repo.name));
            set.extend(extra_scopes.iter().cloned());
        }
        let origin = request.url().origin().ascii_serialization();
        let retry = request.try_clone();
        let resp = self.execute(&repo.registry, request).await?;
        if resp.status() != StatusCode::UNAUTHORIZED {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let Some(challenge) = challenge else {
            return Ok(resp);
        };
        let own = self
            .base_url(&repo.registry)?
            .origin()
            .ascii_serialization();
        if origin != own {
            bail!(
                "registry {} sent the request on to {origin}, which asks for credentials; \
                 they are only ever sent to {own}: use a registry that serves its API from \
                 one origin",
                repo.registry
            );
        }
        let Some(retry) = retry else {
            return Ok(resp);
        };
        self.answer(&repo.registry, &origin, &challenge).await?;
        let resp = self.execute(&repo.registry, retry).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            // A token that lacks what the request needs: the registry says which scope.
            let lacking = resp
                .headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(parse_challenge)
                .filter(|c| c.param("error") == Some("insufficient_scope"))
                .and_then(|c| c.param("scope").map(String::from));
            let detail = describe_failure(resp).await;
            return Err(self.refused(&repo.registry, &detail, lacking.as_deref()));
        }
        Ok(resp)
    }

    /// The credential for `registry`, looked up once.
    fn credential(&self, registry: &str) -> anyhow::Result<Option<Found>> {
        if let Some(found) = self
            .credentials
            .lock()
            .expect("credentials lock")
            .get(registry)
        {
            return Ok(found.clone());
        }
        let found = self.registries.locations.find(registry)?;
        self.credentials
            .lock()
            .expect("credentials lock")
            .insert(registry.to_string(), found.clone());
        Ok(found)
    }

    /// The error for a registry that still says `401`: credentials refused, a token that
    /// does not grant `scope` (`insufficient_scope`), or no credentials.
    fn refused(&self, registry: &str, detail: &str, scope: Option<&str>) -> anyhow::Error {
        let message = match (self.credential(registry), scope) {
            (Ok(Some(found)), Some(scope)) => format!(
                "registry {registry} needs {scope} and its token service granted less to the \
                 credentials from {} ({detail}); ask the registry's admin for that access, or \
                 log in as a user who has it: docker login {registry} (or podman login \
                 {registry})",
                found.source
            ),
            (Ok(Some(found)), None) => format!(
                "registry {registry} refused the credentials from {} ({detail}); log in \
                 again: docker login {registry} (or podman login {registry})",
                found.source
            ),
            _ => self.no_credentials(registry),
        };
        anyhow::Error::new(Unauthorized(message))
    }

    fn no_credentials(&self, registry: &str) -> String {
        format!(
            "registry {registry} asks for credentials and none are configured for it (looked \
             in {}); log in: docker login {registry} (or podman login {registry}), or set \
             DOCKER_CONFIG or REGISTRY_AUTH_FILE",
            self.registries.locations.looked_in()
        )
    }

    /// Answer `challenge` from `origin` (the registry's own): store what authorizes the
    /// retry.
    async fn answer(
        &self,
        registry: &str,
        origin: &str,
        challenge: &Challenge,
    ) -> anyhow::Result<()> {
        let found = self.credential(registry)?;
        let value = if challenge.scheme.eq_ignore_ascii_case("bearer") {
            format!(
                "Bearer {}",
                self.fetch_token(registry, challenge, found.as_ref())
                    .await?
            )
        } else if challenge.scheme.eq_ignore_ascii_case("basic") {
            match found.map(|f| f.secret) {
                Some(Secret::Basic { username, password }) => basic_header(&username, &password),
                Some(Secret::IdentityToken(_)) => bail!(
                    "registry {registry} asks for a user name and password, and the \
                     credential configured for it is an identity token; log in again: docker \
                     login {registry}"
                ),
                None => {
                    return Err(anyhow::Error::new(Unauthorized(
                        self.no_credentials(registry),
                    )));
                }
            }
        } else {
            bail!(
                "registry {registry} asks for {} authentication, which k8s-dev-helper does not \
                 speak (Basic and Bearer only); use a registry that takes one of those",
                challenge.scheme
            );
        };
        self.auth
            .lock()
            .expect("auth lock")
            .insert(origin.to_string(), value);
        Ok(())
    }

    /// `request` with the authorization of its own origin, if that origin asked for one.
    fn authorize(&self, mut request: Request) -> Request {
        let origin = request.url().origin().ascii_serialization();
        if let Some(auth) = self.auth.lock().expect("auth lock").get(&origin)
            && let Ok(mut value) = header::HeaderValue::from_str(auth)
        {
            value.set_sensitive(true);
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        request
    }

    /// A token from the challenge's realm for every scope asked of `registry` so far: with
    /// Basic credentials as docker does (GET), with an identity token by OAuth2's refresh
    /// grant (POST), else anonymously. Credentials go to a plain-HTTP realm only when it is
    /// loopback or listed as insecure.
    async fn fetch_token(
        &self,
        registry: &str,
        challenge: &Challenge,
        found: Option<&Found>,
    ) -> anyhow::Result<String> {
        let realm = challenge.param("realm").with_context(|| {
            format!("registry {registry} sent a bearer challenge without realm")
        })?;
        let mut url = Url::parse(realm).with_context(|| {
            format!("registry {registry} sent an invalid token realm {realm:?}")
        })?;
        if found.is_some()
            && url.scheme() != "https"
            && !is_insecure(&host_port(&url), &self.registries.insecure)
        {
            bail!(
                "registry {registry} names the plain-HTTP token realm {realm}; refusing to send \
                 its credentials there (list the realm's host with --insecure-registry if it \
                 is meant)"
            );
        }
        let mut scopes = self
            .scopes
            .lock()
            .expect("scopes lock")
            .get(registry)
            .cloned()
            .unwrap_or_default();
        if let Some(scope) = challenge.param("scope") {
            scopes.extend(scope.split(' ').map(String::from));
        }
        let service = challenge.param("service");
        let http = self.http_trusting(&url, Some(registry))?;
        let request = match found.map(|f| &f.secret) {
            Some(Secret::IdentityToken(token)) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("grant_type", "refresh_token"),
                    ("client_id", "k8s-dev-helper"),
                    ("refresh_token", token),
                ];
                if let Some(service) = service {
                    form.push(("service", service));
                }
                let scope = scopes.iter().cloned().collect::<Vec<_>>().join(" ");
                form.push(("scope", &scope));
                // application/x-www-form-urlencoded is a query string: let Url encode it.
                let mut encoder = Url::parse("http://form.invalid/").expect("a valid URL");
                encoder.query_pairs_mut().extend_pairs(form);
                let body = encoder.query().unwrap_or("").to_string();
                http.post(url.clone())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
            }
            other => {
                {
                    let mut query = url.query_pairs_mut();
                    if let Some(service) = service {
                        query.append_pair("service", service);
                    }
                    if let Some(Secret::Basic { username, .. }) = other {
                        query.append_pair("account", username);
                    }
                    for scope in &scopes {
                        query.append_pair("scope", scope);
                    }
                }
                let request = http.get(url.clone());
                match other {
                    Some(Secret::Basic { username, password }) => {
                        let mut value =
                            header::HeaderValue::from_str(&basic_header(username, password))
                                .context("encoding credentials")?;
                        value.set_sensitive(true);
                        request.header(header::AUTHORIZATION, value)
                    }
                    _ => request,
                }
            }
        };
        let resp = request
            .send()
            .await
            .map_err(|e| self.unreachable(registry, &e))
            .with_context(|| format!("getting a token for {registry} from {realm}"))?;
        if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
            let detail = describe_failure(resp).await;
            return Err(match found {
                Some(found) => anyhow::Error::new(Unauthorized(format!(
                    "the token service {realm} of registry {registry} refused the credentials \
                     from {} ({detail}); log in again: docker login {registry} (or podman login \
                     {registry})",
                    found.source
                ))),
                None => anyhow::Error::new(Unauthorized(self.no_credentials(registry))),
            });
        }
        if !resp.status().is_success() {
            bail!(
                "getting a token for {registry} from {realm}: {}",
                describe_failure(resp).await
            );
        }
        let body = read_capped(
            resp,
            MAX_SMALL_BODY,
            &format!("the token response from {realm}"),
        )
        .await?;
        let body: TokenResponse = serde_json::from_slice(&body)
            .with_context(|| format!("reading the token for {registry} from {realm}"))?;
        body.token
            .or(body.access_token)
            .with_context(|| format!("token response from {realm} has no token"))
    }

    fn unreachable(&self, registry: &str, err: &reqwest::Error) -> anyhow::Error {
        let mut cause = err.to_string();
        let mut source = std::error::Error::source(err);
        while let Some(s) = source {
            cause = s.to_string();
            source = s.source();
        }
        let fix = if cause.contains("certificate") || cause.contains("UnknownIssuer") {
            let dir = self.registries.locations.certs_dirs.first().map_or_else(
                || "/etc/docker/certs.d".to_string(),
                |d| d.display().to_string(),
            );
            format!(
                "put the registry's CA in {dir}/{registry}/ca.crt (or pass --certs-dir), or \
                 fix its certificate"
            )
        } else if self.is_plain_http(registry) {
            "is the registry running? mise run k8s:dev:up".to_string()
        } else {
            "check the registry name and the network (plain-HTTP registries need \
             --insecure-registry)"
                .to_string()
        };
        anyhow::Error::new(Unreachable {
            registry: registry.to_string(),
            cause,
            fix,
        })
    }

    /// GET a manifest (any kind) by tag or digest. `None` when the registry says 404. A
    /// manifest asked for by digest must hash to it; one asked for by tag must hash to the
    /// `Docker-Content-Digest` the registry names, when it names one. Capped at
    /// [`MAX_MANIFEST_BYTES`].
    pub async fn get_manifest(
        &self,
        repo: &Repo,
        reference: &str,
    ) -> anyhow::Result<Option<Fetched>> {
        let url = self.url(repo, &format!("manifests/{reference}"))?;
        let req = self.http.get(url).header(header::ACCEPT, ACCEPT_ANY);
        let resp = self.send(repo, "pull", &[], req).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            bail!(
                "reading manifest {repo}:{reference}: {}",
                describe_failure(resp).await
            );
        }
        let media_type = resp
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_string();
        let named = resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let what = format!("manifest {repo}:{reference}");
        let bytes = read_capped(resp, MAX_MANIFEST_BYTES, &what).await?;
        let digest = super::sha256_digest(&bytes);
        let want = if reference.contains(':') {
            Some(reference.to_string())
        } else {
            named.filter(|d| d.starts_with("sha256:"))
        };
        if let Some(want) = want
            && want != digest
        {
            return Err(digest_mismatch(&format!("reading {what}"), &want, &digest));
        }
        Ok(Some(Fetched {
            bytes,
            media_type,
            digest,
        }))
    }

    /// The digest the registry serves for `tag`, or `None` when the tag does not exist.
    pub async fn head_manifest(&self, repo: &Repo, tag: &str) -> anyhow::Result<Option<String>> {
        let url = self.url(repo, &format!("manifests/{tag}"))?;
        let req = self.http.head(url).header(header::ACCEPT, ACCEPT_ANY);
        let resp = self.send(repo, "pull,push", &[], req).await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(None),
            s if s.is_success() => Ok(resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .map(String::from)),
            _ => bail!(
                "checking tag {repo}:{tag}: {}",
                describe_failure(resp).await
            ),
        }
    }

    /// Whether `repo` already has the blob. A registry that cannot tell (a 5xx) is taken not
    /// to: docker-registry killed while writing a repository's link to a blob answers HEAD for
    /// it with 500 ("invalid checksum digest format") ever after, and uploading the blob again
    /// rewrites the link. At worst that is one upload too many; a registry that is really
    /// broken fails the upload with its own error.
    pub async fn blob_exists(&self, repo: &Repo, digest: &str) -> anyhow::Result<bool> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self
            .send(repo, "pull,push", &[], self.http.head(url))
            .await?;
        match resp.status() {
            StatusCode::NOT_FOUND => Ok(false),
            s if s.is_server_error() => Ok(false),
            s if s.is_success() => Ok(true),
            _ => bail!(
                "checking blob {digest} in {repo}: {}",
                describe_failure(resp).await
            ),
        }
    }

    /// GET a blob; the response streams its body.
    async fn get_blob(&self, repo: &Repo, digest: &str) -> anyhow::Result<Response> {
        let url = self.url(repo, &format!("blobs/{digest}"))?;
        let resp = self.send(repo, "pull", &[], self.http.get(url)).await?;
        if !resp.status().is_success() {
            bail!(
                "reading blob {digest} from {repo}: {}",
                describe_failure(resp).await
            );
        }
        Ok(resp)
    }

    /// A small blob (an image config) read whole: `size` bytes at most `cap`, hashing to
    /// `digest`.
    pub async fn get_blob_bytes(
        &self,
        repo: &Repo,
        digest: &str,
        size: u64,
        cap: u64,
    ) -> anyhow::Result<Vec<u8>> {
        let what = format!("blob {digest} of {repo}");
        if size > cap {
            return Err(anyhow::Error::new(Refused(format!(
                "{what} is {size} bytes by its descriptor, over the {} MiB limit; refusing it",
                cap >> 20
            ))));
        }
        let resp = self.get_blob(repo, digest).await?;
        let bytes = read_capped(resp, size, &what).await?;
        let got = super::sha256_digest(&bytes);
        if got != digest {
            return Err(digest_mismatch(&format!("reading {what}"), digest, &got));
        }
        Ok(bytes)
    }

    /// A blob as a request body that checks it while it streams: more than `size` bytes, or
    /// bytes that do not hash to `digest`, end the stream with an error, so the upload it
    /// feeds is never completed. The fault is also left in the returned slot, for a message
    /// that names it rather than the aborted upload.
    pub async fn get_blob_verified(
        &self,
        repo: &Repo,
        digest: &str,
        size: u64,
    ) -> anyhow::Result<(reqwest::Body, StreamFault)> {
        struct State {
            resp: Response,
            hasher: Sha256,
            seen: u64,
            /// The last chunk read, sent only once the next read (or the end, verified) is
            /// in: with a `Content-Length` upload, the HTTP client stops polling when that
            /// many bytes are out, so a check at the end would come too late.
            held: Option<bytes::Bytes>,
            done: bool,
            fault: StreamFault,
            want: String,
            size: u64,
            what: String,
        }
        let resp = self.get_blob(repo, digest).await?;
        let fault = StreamFault::default();
        let state = State {
            resp,
            hasher: Sha256::new(),
            seen: 0,
            held: None,
            done: false,
            fault: fault.clone(),
            want: digest.to_string(),
            size,
            what: format!("reading blob {digest} of {repo}"),
        };
        let stream = futures_util::stream::try_unfold(state, |mut st| async move {
            let fail = |st: &State, message: String| {
                *st.fault.lock().expect("fault lock") = Some(message.clone());
                Err(std::io::Error::other(message))
            };
            loop {
                if st.done {
                    return Ok(st.held.take().map(|chunk| (chunk, st)));
                }
                match st.resp.chunk().await {
                    Ok(Some(chunk)) => {
                        st.seen += chunk.len() as u64;
                        if st.seen > st.size {
                            let message = format!(
                                "{}: the registry sent more than the {} bytes its descriptor \
                                 names; refusing it",
                                st.what, st.size
                            );
                            return fail(&st, message);
                        }
                        st.hasher.update(&chunk);
                        if let Some(previous) = st.held.replace(chunk) {
                            return Ok(Some((previous, st)));
                        }
                    }
                    Ok(None) => {
                        let got = format!("sha256:{}", hex::encode(st.hasher.clone().finalize()));
                        if st.seen != st.size || got != st.want {
                            let message =
                                format!("{:#}", digest_mismatch(&st.what, &st.want, &got));
                            return fail(&st, message);
                        }
                        st.done = true;
                    }
                    Err(e) => {
                        let message = format!("{}: {e}", st.what);
                        return fail(&st, message);
                    }
                }
            }
        });
        Ok((reqwest::Body::wrap_stream(stream), fault))
    }

    /// Ask the registry to link a blob from `from` (same registry) into `repo`.
    pub async fn mount_blob(
        &self,
        repo: &Repo,
        digest: &str,
        from: &Repo,
    ) -> anyhow::Result<Mount> {
        let mut url = self.url(repo, "blobs/uploads/")?;
        url.query_pairs_mut()
            .append_pair("mount", digest)
            .append_pair("from", &from.name);
        let extra = [format!("repository:{}:pull", from.name)];
        let resp = self
            .send(repo, "pull,push", &extra, self.http.post(url))
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(Mount::Mounted),
            StatusCode::ACCEPTED => Ok(Mount::Upload(self.location(repo, &resp)?)),
            _ => bail!(
                "mounting blob {digest} from {from} into {repo}: {}",
                describe_failure(resp).await
            ),
        }
    }

    /// Open an upload session (`POST /v2/<repo>/blobs/uploads/`); returns its URL.
    pub async fn start_upload(&self, repo: &Repo) -> anyhow::Result<Url> {
        let url = self.url(repo, "blobs/uploads/")?;
        let resp = self
            .send(repo, "pull,push", &[], self.http.post(url))
            .await?;
        if resp.status() != StatusCode::ACCEPTED {
            bail!(
                "starting a blob upload to {repo}: {}",
                describe_failure(resp).await
            );
        }
        self.location(repo, &resp)
    }

    fn location(&self, repo: &Repo, resp: &Response) -> anyhow::Result<Url> {
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .with_context(|| format!("registry answered an upload to {repo} without Location"))?;
        // Location may be absolute or relative to the registry root.
        self.base_url(&repo.registry)?
            .join(location)
            .with_context(|| format!("registry sent an invalid upload Location {location:?}"))
    }

    /// Finish an upload in one `PUT <location>&digest=…` carrying the whole blob.
    pub async fn finish_upload(
        &self,
        repo: &Repo,
        mut location: Url,
        digest: &str,
        size: u64,
        body: reqwest::Body,
    ) -> anyhow::Result<()> {
        location.query_pairs_mut().append_pair("digest", digest);
        let req = self
            .http
            .request(Method::PUT, location)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, size)
            .body(body);
        let resp = self.send(repo, "pull,push", &[], req).await?;
        if resp.status() == StatusCode::UNAUTHORIZED {
            // A streamed body is not replayed: the caller starts the upload over, which
            // fetches a fresh token (one expired mid-publish) or names the refusal.
            return Err(anyhow::Error::new(Unauthorized(format!(
                "uploading blob {digest} to {repo}: {}",
                describe_failure(resp).await
            ))));
        }
        if resp.status() != StatusCode::CREATED {
            bail!(
                "uploading blob {digest} to {repo}: {}",
                describe_failure(resp).await
            );
        }
        Ok(())
    }

    /// PUT a manifest under `tag`; returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        repo: &Repo,
        tag: &str,
        media_type: &str,
        bytes: Vec<u8>,
    ) -> anyhow::Result<String> {
        let digest = super::sha256_digest(&bytes);
        let url = self.url(repo, &format!("manifests/{tag}"))?;
        let req = self
            .http
            .put(url)
            .header(header::CONTENT_TYPE, media_type)
            .body(bytes);
        let resp = self.send(repo, "pull,push", &[], req).await?;
        if resp.status() != StatusCode::CREATED && !resp.status().is_success() {
            bail!(
                "pushing manifest {repo}:{tag}: {}",
                describe_failure(resp).await
            );
        }
        Ok(resp
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(String::from)
            .unwrap_or(digest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_hub_challenge() {
        let got = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#,
        )
        .unwrap();
        assert_eq!(got.scheme, "Bearer");
        assert_eq!(got.param("realm"), Some("https://auth.docker.io/token"));
        assert_eq!(got.param("service"), Some("registry.docker.io"));
        assert_eq!(got.param("scope"), Some("repository:library/alpine:pull"));
    }

    #[test]
    fn challenge_values_keep_commas_and_escapes() {
        let got = parse_challenge(
            r#"Bearer realm="http://127.0.0.1:1/t", scope="repository:a/b:pull,push",error="insufficient_scope",x="q\"y""#,
        )
        .unwrap();
        assert_eq!(got.param("scope"), Some("repository:a/b:pull,push"));
        assert_eq!(got.param("error"), Some("insufficient_scope"));
        assert_eq!(got.param("x"), Some("q\"y"));
        assert_eq!(got.params.len(), 4);
    }

    #[test]
    fn challenge_with_unquoted_values_and_basic() {
        let got = parse_challenge("Bearer realm=https://t/x , service=reg").unwrap();
        assert_eq!(got.param("realm"), Some("https://t/x"));
        assert_eq!(got.param("service"), Some("reg"));
        let basic = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(basic.scheme, "Basic");
        assert_eq!(basic.param("realm"), Some("Registry Realm"));
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn a_loopback_registry_with_a_ca_speaks_tls() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("127.0.0.1:5000")).unwrap();
        std::fs::write(dir.path().join("127.0.0.1:5000/ca.crt"), "x").unwrap();
        let client = Client::new(&Registries {
            insecure: vec![],
            locations: Locations {
                files: vec![],
                certs_dirs: vec![dir.path().to_path_buf()],
            },
        })
        .unwrap();
        assert_eq!(
            client.base_url("127.0.0.1:5000").unwrap().as_str(),
            "https://127.0.0.1:5000/v2/"
        );
        assert_eq!(
            client.base_url("127.0.0.1:5001").unwrap().as_str(),
            "http://127.0.0.1:5001/v2/"
        );
        // A CA that is not PEM is an error naming the file, not an untrusted registry.
        let url = Url::parse("https://127.0.0.1:5000/v2/").unwrap();
        let err = client.http_for(&url).unwrap_err().to_string();
        assert!(err.contains("ca.crt for 127.0.0.1:5000"), "{err}");
    }

    #[test]
    fn urls_follow_insecure_rule_and_relative_locations() {
        let client = Client::new(&Registries {
            insecure: vec!["reg.lan:5000".into()],
            locations: Locations::default(),
        })
        .unwrap();
        let repo = Repo {
            registry: "localhost:5000".into(),
            name: "a/b".into(),
        };
        assert_eq!(
            client.url(&repo, "blobs/uploads/").unwrap().as_str(),
            "http://localhost:5000/v2/a/b/blobs/uploads/"
        );
        assert_eq!(
            client.base_url("ghcr.io").unwrap().as_str(),
            "https://ghcr.io/v2/"
        );
        assert_eq!(
            client.base_url("reg.lan:5000").unwrap().as_str(),
            "http://reg.lan:5000/v2/"
        );
        let base = client.base_url("localhost:5000").unwrap();
        assert_eq!(
            base.join("/v2/a/b/blobs/uploads/u1?_state=s")
                .unwrap()
                .as_str(),
            "http://localhost:5000/v2/a/b/blobs/uploads/u1?_state=s"
        );
        assert_eq!(
            base.join("http://other:5000/up/1").unwrap().as_str(),
            "http://other:5000/up/1"
        );
    }
}
