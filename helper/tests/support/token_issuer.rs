// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A token service for `docker-registry`'s `auth.token` (distribution 2.8,
//! registry/auth/token): it answers `GET /token?service=…&scope=…` (Basic credentials, as
//! Docker and Podman send them) and the OAuth2 `POST /token` grants (`password`,
//! `refresh_token`) over HTTPS, and signs real JWTs the registry verifies.
//!
//! What distribution 2.8 checks, and how the tokens here meet it:
//! - `iss` equals the registry's `issuer`, `aud` (a string, not a list: 2.8 unmarshals it as
//!   one) equals its `service`; `exp` and `nbf` hold with 60 s of leeway either side, so a
//!   token meant to live `n` seconds carries `exp = now + n - 60`.
//! - The signing key is found from the header: `x5c` (a chain whose leaf verifies up to a
//!   certificate of `rootcertbundle`), else `kid`, the libtrust fingerprint of a public key of
//!   a `rootcertbundle` certificate (base32 of the first 240 bits of the SHA-256 of its DER
//!   SubjectPublicKeyInfo, in groups of four joined by `:`).
//! - `alg` is the key's: ES256 (r‖s, 64 bytes) for a P-256 key, RS256 for RSA.
//! - `access` lists `{type, name, actions}`; a request needs every action its route implies
//!   (pull for GET/HEAD, pull and push for POST/PUT/PATCH, and pull on `from` for a
//!   cross-repository mount).
//!
//! Users and what they may do are given at start; a token grants the intersection of what was
//! asked and what the user may do, as a real token service does. Every request is recorded
//! (never the password). Keys and certificates are made with the openssl CLI.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use super::tls_registry::{ca_and_leaf, openssl};

use super::http_request::{self, Request};

/// distribution's `token.Leeway`, added to `exp` (and taken from `nbf`) when it checks them.
pub const LEEWAY_S: i64 = 60;
/// How long a token lives unless [`Issuer::short_lived`] says otherwise.
pub const DEFAULT_LIFETIME_S: i64 = 300;

/// How tokens are signed, and how the registry finds the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// A P-256 key whose self-signed certificate is the bundle; header `kid`.
    Es256Kid,
    /// An RSA key certified by a CA that is the bundle; header `x5c` with that certificate.
    Rs256X5c,
}

/// A user of the token service: a password, an optional identity (refresh) token, and the
/// actions allowed per repository (`*` for every repository).
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub password: String,
    pub refresh_token: Option<String>,
    pub grants: Vec<(String, Vec<String>)>,
}

impl User {
    /// A user who may pull and push everywhere.
    pub fn admin(name: &str, password: &str) -> User {
        User {
            name: name.into(),
            password: password.into(),
            refresh_token: None,
            grants: vec![("*".into(), vec!["pull".into(), "push".into()])],
        }
    }

    pub fn may(mut self, repo: &str, actions: &[&str]) -> User {
        self.grants
            .push((repo.into(), actions.iter().map(|a| a.to_string()).collect()));
        self
    }
}

/// One token request, as the issuer saw it.
#[derive(Debug, Clone)]
pub struct Issued {
    pub method: String,
    /// The authenticated user; `None` for an anonymous request or a refused one.
    pub account: Option<String>,
    /// `scope` values asked for, in order.
    pub scopes: Vec<String>,
    /// `(repository, actions)` the token grants.
    pub granted: Vec<(String, Vec<String>)>,
    /// Seconds the token lives (before the registry's leeway).
    pub lifetime_s: i64,
    pub user_agent: String,
    /// Why no token was given (a 401), when none was.
    pub refused: Option<String>,
    /// When, in seconds since 1970 (fractional).
    pub at: f64,
}

struct Key {
    signing: Signing,
    pkcs8: Vec<u8>,
    /// `kid` for [`Signing::Es256Kid`], the base64 DER leaf for [`Signing::Rs256X5c`].
    header_value: String,
}

struct State {
    users: Vec<User>,
    issued: Vec<Issued>,
    short: Vec<i64>,
}

pub struct Issuer {
    /// `https://127.0.0.1:<port>/token`.
    pub realm: String,
    pub service: String,
    pub issuer: String,
    /// The `rootcertbundle` the registry must be given.
    pub bundle: PathBuf,
    state: Arc<Mutex<State>>,
    _dir: tempfile::TempDir,
}

/// The libtrust key ID distribution matches `kid` against: base32 of the first 240 bits of the
/// SHA-256 of the DER SubjectPublicKeyInfo, in groups of four joined by `:`.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = Sha256::digest(spki_der);
    // 30 bytes are 240 bits: 48 base32 digits, no padding.
    let mut digits = String::new();
    let (mut acc, mut bits) = (0u32, 0);
    for byte in &hash[..30] {
        acc = (acc << 8) | u32::from(*byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            digits.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
    }
    digits
        .as_bytes()
        .chunks(4)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect::<Vec<_>>()
        .join(":")
}

fn make_key(dir: &Path, signing: Signing) -> Key {
    match signing {
        Signing::Es256Kid => {
            openssl(
                dir,
                &[
                    "genpkey",
                    "-algorithm",
                    "EC",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-out",
                    "signer.key",
                ],
            );
            openssl(
                dir,
                &[
                    "req",
                    "-x509",
                    "-key",
                    "signer.key",
                    "-out",
                    "bundle.crt",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=k8s-dev test token signer",
                ],
            );
            let spki = openssl(
                dir,
                &["pkey", "-in", "signer.key", "-pubout", "-outform", "DER"],
            );
            Key {
                signing,
                pkcs8: pkcs8(dir),
                header_value: libtrust_key_id(&spki),
            }
        }
        Signing::Rs256X5c => {
            ca_and_leaf(
                dir,
                &["-newkey", "rsa:2048", "-nodes"],
                ("bundle", "/CN=k8s-dev test token CA"),
                ("signer", "/CN=k8s-dev test token signer"),
                "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n",
            );
            let leaf = openssl(dir, &["x509", "-in", "signer.crt", "-outform", "DER"]);
            Key {
                signing,
                pkcs8: pkcs8(dir),
                header_value: STANDARD.encode(leaf),
            }
        }
    }
}

fn pkcs8(dir: &Path) -> Vec<u8> {
    openssl(
        dir,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "signer.key",
            "-outform",
            "DER",
        ],
    )
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

impl Key {
    /// A compact JWS of `claims`.
    fn sign(&self, claims: &serde_json::Value) -> String {
        let rng = ring::rand::SystemRandom::new();
        let header = match self.signing {
            Signing::Es256Kid => {
                serde_json::json!({"typ": "JWT", "alg": "ES256", "kid": self.header_value})
            }
            Signing::Rs256X5c => {
                serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.header_value]})
            }
        };
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = match self.signing {
            Signing::Es256Kid => {
                let key = ring::signature::EcdsaKeyPair::from_pkcs8(
                    &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                    &self.pkcs8,
                    &rng,
                )
                .expect("the P-256 signing key");
                key.sign(&rng, input.as_bytes())
                    .expect("signing")
                    .as_ref()
                    .to_vec()
            }
            Signing::Rs256X5c => {
                let key = ring::signature::RsaKeyPair::from_pkcs8(&self.pkcs8)
                    .expect("the RSA signing key");
                let mut out = vec![0; key.public().modulus_len()];
                key.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &rng,
                    input.as_bytes(),
                    &mut out,
                )
                .expect("signing");
                out
            }
        };
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

/// `a=b&c=d` decoded, repeated keys kept in order.
fn form(query: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Issuer {
    /// An issuer serving HTTPS with `cert`/`key` (a certificate for 127.0.0.1) on a port the OS
    /// picks.
    pub fn start(cert: &Path, key: &Path, signing: Signing, users: Vec<User>) -> Issuer {
        k8s_dev_helper::runtime::install_crypto_provider();
        use rustls::pki_types::pem::PemObject;
        let chain: Vec<rustls::pki_types::CertificateDer<'static>> =
            rustls::pki_types::CertificateDer::pem_file_iter(cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
        let private = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let tls = Arc::new(
            rustls::ServerConfig::builder()
                .with_no_client_auth()
                .with_single_cert(chain, private)
                .unwrap(),
        );
        let dir = tempfile::tempdir().unwrap();
        let signer = Arc::new(make_key(dir.path(), signing));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            users,
            issued: Vec::new(),
            short: Vec::new(),
        }));
        let service = "k8s-dev-test-registry".to_string();
        let issuer = "k8s-dev-test-issuer".to_string();
        {
            let (state, service, issuer) = (state.clone(), service.clone(), issuer.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming().flatten() {
                    let (tls, state, signer, service, issuer) = (
                        tls.clone(),
                        state.clone(),
                        signer.clone(),
                        service.clone(),
                        issuer.clone(),
                    );
                    std::thread::spawn(move || {
                        let ctx = Ctx {
                            state: &state,
                            signer: &signer,
                            service: &service,
                            issuer: &issuer,
                        };
                        let _ = serve(stream, tls, &ctx);
                    });
                }
            });
        }
        Issuer {
            realm: format!("https://{addr}/token"),
            service,
            issuer,
            bundle: dir.path().join("bundle.crt"),
            state,
            _dir: dir,
        }
    }

    /// The next tokens live these many seconds each (in order), the rest the default.
    pub fn short_lived(&self, lifetimes: &[i64]) {
        self.state.lock().unwrap().short = lifetimes.to_vec();
    }

    pub fn issued(&self) -> Vec<Issued> {
        self.state.lock().unwrap().issued.clone()
    }

    /// The `auth.token` section of a registry config that trusts this issuer.
    pub fn registry_config(&self) -> String {
        format!(
            "  token: {{realm: \"{}\", service: {}, issuer: {}, rootcertbundle: {}}}\n",
            self.realm,
            self.service,
            self.issuer,
            self.bundle.display()
        )
    }
}

struct Ctx<'a> {
    state: &'a Mutex<State>,
    signer: &'a Key,
    service: &'a str,
    issuer: &'a str,
}

/// One request per connection (`Connection: close`): clients reconnect, and the issuer stays
/// simple.
fn serve(tcp: TcpStream, tls: Arc<rustls::ServerConfig>, ctx: &Ctx) -> std::io::Result<()> {
    let conn = rustls::ServerConnection::new(tls).map_err(std::io::Error::other)?;
    let mut stream = rustls::StreamOwned::new(conn, tcp);
    let Some(request) = http_request::read(&mut BufReader::new(&mut stream))? else {
        return Ok(());
    };
    let (status, text) = answer(ctx, &request);
    let reason = if status == 200 { "OK" } else { "Error" };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        text.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(text.as_bytes())?;
    stream.flush()?;
    stream.conn.send_close_notify();
    let _ = stream.flush();
    Ok(())
}

fn error(status: u16, code: &str, message: &str) -> (u16, String) {
    (
        status,
        serde_json::json!({"errors": [{"code": code, "message": message}]}).to_string(),
    )
}

fn answer(ctx: &Ctx, request: &Request) -> (u16, String) {
    let (method, headers) = (request.method.as_str(), &request.headers);
    let (path, query) = request.path.split_once('?').unwrap_or((&request.path, ""));
    if path != "/token" {
        return error(404, "NOT_FOUND", "no such endpoint");
    }
    let params = if method == "POST" {
        form(&String::from_utf8_lossy(&request.body))
    } else {
        form(query)
    };
    let param = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let scopes: Vec<String> = params
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(String::from).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let mut record = Issued {
        method: method.to_string(),
        account: None,
        scopes: scopes.clone(),
        granted: Vec::new(),
        lifetime_s: 0,
        user_agent: headers.get("user-agent").cloned().unwrap_or_default(),
        refused: None,
        at: now(),
    };
    let mut state = ctx.state.lock().unwrap();
    if param("service").as_deref() != Some(ctx.service) {
        record.refused = Some(format!("service {:?}", param("service")));
        state.issued.push(record);
        return error(400, "DENIED", "unknown service");
    }
    // Who asks: Basic on GET (docker login's flow), or an OAuth2 grant on POST.
    let presented: Option<(String, Option<String>, Option<String>)> = if method == "POST" {
        match param("grant_type").as_deref() {
            Some("password") => param("username").map(|u| (u, param("password"), None)),
            Some("refresh_token") => Some((String::new(), None, param("refresh_token"))),
            _ => None,
        }
    } else {
        headers
            .get("authorization")
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|raw| {
                let raw = String::from_utf8(raw).ok()?;
                let (u, p) = raw.split_once(':')?;
                Some((u.to_string(), Some(p.to_string()), None))
            })
    };
    let user = match &presented {
        None => None,
        Some((name, password, refresh)) => {
            let found = state.users.iter().find(|u| match refresh {
                Some(token) => u.refresh_token.as_ref() == Some(token),
                None => &u.name == name && password.as_ref() == Some(&u.password),
            });
            match found {
                Some(user) => Some(user.clone()),
                None => {
                    record.refused = Some("bad credentials".into());
                    state.issued.push(record);
                    return error(401, "UNAUTHORIZED", "authentication required");
                }
            }
        }
    };
    // Anonymous requests get a token that grants nothing, as Docker Hub's do for a private
    // repository.
    let mut granted: Vec<(String, Vec<String>)> = Vec::new();
    if let Some(user) = &user {
        for scope in &scopes {
            let mut parts = scope.splitn(3, ':');
            let (Some("repository"), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let allowed: Vec<String> = actions
                .split(',')
                .filter(|a| {
                    user.grants.iter().any(|(repo, may)| {
                        (repo == "*" || repo == name) && may.iter().any(|m| m == a)
                    })
                })
                .map(String::from)
                .collect();
            if allowed.is_empty() {
                continue;
            }
            match granted.iter_mut().find(|(r, _)| r == name) {
                Some((_, have)) => {
                    for a in allowed {
                        if !have.contains(&a) {
                            have.push(a);
                        }
                    }
                }
                None => granted.push((name.to_string(), allowed)),
            }
        }
    }
    let lifetime = if state.short.is_empty() {
        DEFAULT_LIFETIME_S
    } else {
        state.short.remove(0)
    };
    let issued_at = now().floor() as i64;
    let account = user.as_ref().map(|u| u.name.clone());
    let claims = serde_json::json!({
        "iss": ctx.issuer,
        "sub": account.clone().unwrap_or_default(),
        "aud": ctx.service,
        "exp": issued_at + lifetime - LEEWAY_S,
        "nbf": issued_at,
        "iat": issued_at,
        "jti": format!("{issued_at}-{}", state.issued.len()),
        "access": granted
            .iter()
            .map(|(name, actions)| serde_json::json!({
                "type": "repository", "name": name, "actions": actions,
            }))
            .collect::<Vec<_>>(),
    });
    let token = ctx.signer.sign(&claims);
    record.account = account;
    record.granted = granted;
    record.lifetime_s = lifetime;
    state.issued.push(record);
    (
        200,
        serde_json::json!({
            "token": token,
            "access_token": token,
            "expires_in": lifetime,
        })
        .to_string(),
    )
}
