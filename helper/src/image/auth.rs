// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Registry credentials, found where Docker and Podman keep them, and the registry's own CA.
//!
//! Credentials: Docker's `config.json` (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`), then Podman's `auth.json` (`$REGISTRY_AUTH_FILE`, else
//! `$XDG_RUNTIME_DIR/containers/auth.json`, else `~/.config/containers/auth.json`). In each,
//! as Docker reads it: a `credHelpers` entry for the registry (`docker-credential-<name> get`),
//! an `auths` entry (`auth`, `username`/`password` or `identitytoken`), then `credsStore`.
//! A secret is looked up only when a registry asks for one, is never printed (its `Debug`
//! says `<redacted>`), and goes only to the registry's own origin or the token realm that
//! origin named (see [`registry`](super::registry)).
//!
//! Crates weighed: `docker_credential` reads the entries and speaks the credential-helper
//! protocol, small (serde, base64) and kept: it is used here, with our own choice of files
//! (its Podman lookup misses `~/.config/containers/auth.json` on Linux) and our own error
//! messages (its helper error spans lines and carries the helper's output). `oci-client`, a
//! whole distribution client with auth, was not taken: its pushes take each layer as one
//! in-memory buffer, it has no digest-checked streaming copy between registries, and it would
//! replace the checks this client makes (capped reads, tokens bound to their origin); the
//! client here stays and gains the credentials.
//!
//! CA: a registry's extra roots are the `*.crt` files of `<certs dir>/<host[:port]>/`, the
//! `certs.d` convention Docker (`/etc/docker/certs.d`) and Podman (`/etc/containers/certs.d`,
//! `~/.config/containers/certs.d`) share; they are trusted for that registry only, on top of
//! the system's roots. A loopback registry with such a directory is spoken to over HTTPS.

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail};
use docker_credential::{CredentialRetrievalError, DockerCredential};

use super::reference::DOCKER_HUB;

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Secret {
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`), exchanged at the token realm.
    IdentityToken(String),
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Secret::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Secret::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
        }
    }
}

/// A credential and where it came from (a file, or a helper), for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub secret: Secret,
    pub source: String,
}

/// The credential files to read, in order, and the `certs.d` directories to search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Locations {
    pub files: Vec<PathBuf>,
    pub certs_dirs: Vec<PathBuf>,
}

/// The environment the locations come from (read at the edge, by the CLI).
#[derive(Debug, Clone, Default)]
pub struct AuthEnv {
    pub home: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub registry_auth_file: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
}

impl Locations {
    /// Where Docker and Podman keep credentials and CAs, for `env`; `certs_dirs` replaces
    /// the default CA directories when not empty.
    pub fn of(env: &AuthEnv, certs_dirs: &[PathBuf]) -> Locations {
        let mut files = Vec::new();
        match (&env.docker_config, &env.home) {
            (Some(dir), _) => files.push(dir.join("config.json")),
            (None, Some(home)) => files.push(home.join(".docker/config.json")),
            (None, None) => {}
        }
        if let Some(file) = &env.registry_auth_file {
            files.push(file.clone());
        } else {
            if let Some(dir) = &env.xdg_runtime_dir {
                files.push(dir.join("containers/auth.json"));
            }
            if let Some(home) = &env.home {
                files.push(home.join(".config/containers/auth.json"));
            }
        }
        let certs_dirs = if certs_dirs.is_empty() {
            let mut dirs = Vec::new();
            if let Some(home) = &env.home {
                dirs.push(home.join(".config/containers/certs.d"));
            }
            dirs.push(PathBuf::from("/etc/containers/certs.d"));
            dirs.push(PathBuf::from("/etc/docker/certs.d"));
            dirs
        } else {
            certs_dirs.to_vec()
        };
        Locations { files, certs_dirs }
    }

    /// The `*.crt` files under `<certs dir>/<registry>/` (the first directory that has any).
    pub fn ca_files(&self, registry: &str) -> Vec<PathBuf> {
        for dir in &self.certs_dirs {
            let Ok(entries) = std::fs::read_dir(dir.join(registry)) else {
                continue;
            };
            let mut found: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "crt"))
                .collect();
            if !found.is_empty() {
                found.sort();
                return found;
            }
        }
        Vec::new()
    }

    /// The credential files, for a message saying where none was found.
    pub fn looked_in(&self) -> String {
        if self.files.is_empty() {
            return "no credential file".to_string();
        }
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        files.join(", ")
    }

    /// The credential for `registry` (`host[:port]`, Docker Hub as [`DOCKER_HUB`]), from the
    /// first file that has one.
    pub fn find(&self, registry: &str) -> anyhow::Result<Option<Found>> {
        for file in &self.files {
            if let Some(found) = find_in(file, registry)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }
}

/// The key Docker uses for a registry in `config.json` (Docker Hub's is its old v1 URL).
fn server_key(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        "https://index.docker.io/v1/"
    } else {
        registry
    }
}

/// The credential `file` holds for `registry`, if it exists and has one.
pub fn find_in(file: &Path, registry: &str) -> anyhow::Result<Option<Found>> {
    let bytes = match std::fs::read(file) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => bail!(
            "reading credentials from {}: {e}; fix its permissions or remove it",
            file.display()
        ),
    };
    let helper = helper_of(&bytes, server_key(registry));
    let source = match &helper {
        Some(name) => format!("docker-credential-{name} (named in {})", file.display()),
        None => file.display().to_string(),
    };
    let got = docker_credential::get_credential_from_reader(&bytes[..], server_key(registry));
    let secret = match got {
        Ok(DockerCredential::UsernamePassword(username, password)) => {
            Secret::Basic { username, password }
        }
        Ok(DockerCredential::IdentityToken(token)) => Secret::IdentityToken(token),
        Err(CredentialRetrievalError::NoCredentialConfigured) => return Ok(None),
        Err(CredentialRetrievalError::HelperFailure { stdout, stderr, .. })
            if format!("{stdout}{stderr}").contains("credentials not found") =>
        {
            // What a helper says for a registry it holds nothing for.
            return Ok(None);
        }
        Err(err) => return Err(describe(err, file, registry, helper.as_deref())),
    };
    Ok(Some(Found { secret, source }))
}

/// The helper `config.json` names for `server` (`credHelpers`, else `credsStore`).
fn helper_of(bytes: &[u8], server: &str) -> Option<String> {
    let config: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    config["credHelpers"][server]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let has_auth = config["auths"].get(server).is_some();
            config["credsStore"]
                .as_str()
                .filter(|s| !s.is_empty() && !has_auth)
        })
        .map(String::from)
}

/// One line for a credential lookup that failed; never the helper's output (it may echo
/// what it was given), only its first line of stderr when it failed.
fn describe(
    err: CredentialRetrievalError,
    file: &Path,
    registry: &str,
    helper: Option<&str>,
) -> anyhow::Error {
    let file = file.display();
    let helper = format!("docker-credential-{}", helper.unwrap_or("?"));
    match err {
        CredentialRetrievalError::ConfigReadError => anyhow!(
            "reading credentials from {file}: not a valid credential file; fix it, or log in \
             again (docker login {registry})"
        ),
        CredentialRetrievalError::HelperCommunicationError => anyhow!(
            "running {helper} (named in {file}) for {registry}: not found or failed to start; \
             install it, or remove it from {file}"
        ),
        CredentialRetrievalError::HelperFailure { stderr, .. } => {
            let first = stderr.lines().next().unwrap_or("").trim().to_string();
            anyhow!(
                "{helper} get (named in {file}) failed for {registry}: {first}; log in again \
                 (docker login {registry})"
            )
        }
        CredentialRetrievalError::MalformedHelperResponse => anyhow!(
            "{helper} (named in {file}) answered for {registry} with something other than \
             credentials; check the helper"
        ),
        CredentialRetrievalError::CredentialDecodingError
        | CredentialRetrievalError::CredentialMismatchError => anyhow!(
            "the entry for {registry} in {file} cannot be read (its auth field is not \
             base64 user:password, or disagrees with username/password); log in again \
             (docker login {registry})"
        ),
        other => anyhow!("reading credentials for {registry} from {file}: {other}"),
    }
}

/// A `Basic` header value.
pub fn basic_header(username: &str, password: &str) -> String {
    use base64::Engine;
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn locations_follow_docker_then_podman() {
        let env = AuthEnv {
            home: Some("/home/u".into()),
            docker_config: None,
            registry_auth_file: None,
            xdg_runtime_dir: Some("/run/user/1".into()),
        };
        let got = Locations::of(&env, &[]);
        assert_eq!(
            got.files,
            vec![
                PathBuf::from("/home/u/.docker/config.json"),
                PathBuf::from("/run/user/1/containers/auth.json"),
                PathBuf::from("/home/u/.config/containers/auth.json"),
            ]
        );
        assert_eq!(
            got.certs_dirs[0],
            PathBuf::from("/home/u/.config/containers/certs.d")
        );
        let env = AuthEnv {
            docker_config: Some("/cfg".into()),
            registry_auth_file: Some("/a.json".into()),
            ..env
        };
        let got = Locations::of(&env, &[PathBuf::from("/certs")]);
        assert_eq!(
            got.files,
            vec![PathBuf::from("/cfg/config.json"), PathBuf::from("/a.json")]
        );
        assert_eq!(got.certs_dirs, vec![PathBuf::from("/certs")]);
    }

    #[test]
    fn auths_entries_and_docker_hub_key() {
        let dir = tempfile::tempdir().unwrap();
        // "u:p@ss" in base64; Docker Hub under its v1 URL.
        let file = write(
            dir.path(),
            "config.json",
            r#"{"auths": {"reg.lan:5000": {"auth": "dTpwQHNz"},
                          "https://index.docker.io/v1/": {"username": "hub", "password": "pw"},
                          "tok.lan": {"identitytoken": "refresh"}}}"#,
        );
        let basic = |u: &str, p: &str| Secret::Basic {
            username: u.into(),
            password: p.into(),
        };
        assert_eq!(
            find_in(&file, "reg.lan:5000").unwrap().unwrap().secret,
            basic("u", "p@ss")
        );
        assert_eq!(
            find_in(&file, DOCKER_HUB).unwrap().unwrap().secret,
            basic("hub", "pw")
        );
        assert_eq!(
            find_in(&file, "tok.lan").unwrap().unwrap().secret,
            Secret::IdentityToken("refresh".into())
        );
        assert_eq!(find_in(&file, "other.lan").unwrap(), None);
        assert_eq!(
            find_in(&dir.path().join("missing.json"), "x").unwrap(),
            None
        );
        let found = find_in(&file, "reg.lan:5000").unwrap().unwrap();
        assert!(
            !format!("{found:?}").contains("p@ss"),
            "Debug never shows the secret"
        );
    }

    #[test]
    fn bad_files_and_helpers_are_one_line_errors_without_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "config.json", "{not json");
        let err = find_in(&file, "reg.lan").unwrap_err().to_string();
        assert!(err.contains("not a valid credential file"), "{err}");
        let file = write(
            dir.path(),
            "helper.json",
            r#"{"credHelpers": {"reg.lan": "k8s-dev-no-such-helper"}}"#,
        );
        let err = find_in(&file, "reg.lan").unwrap_err().to_string();
        assert!(
            err.starts_with("running docker-credential-k8s-dev-no-such-helper (named in"),
            "{err}"
        );
        assert_eq!(err.lines().count(), 1);
        let file = write(
            dir.path(),
            "mismatch.json",
            r#"{"auths": {"r": {"auth": "!!"}}}"#,
        );
        let err = find_in(&file, "r").unwrap_err().to_string();
        assert!(err.contains("cannot be read"), "{err}");
    }

    #[test]
    fn ca_files_come_from_the_registry_directory() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a/reg.lan:5000/ca.crt", "x");
        write(dir.path(), "a/reg.lan:5000/client.cert", "x");
        write(dir.path(), "b/other.lan/extra.crt", "x");
        let loc = Locations {
            files: vec![],
            certs_dirs: vec![dir.path().join("a"), dir.path().join("b")],
        };
        assert_eq!(
            loc.ca_files("reg.lan:5000"),
            vec![dir.path().join("a/reg.lan:5000/ca.crt")]
        );
        assert_eq!(
            loc.ca_files("other.lan"),
            vec![dir.path().join("b/other.lan/extra.crt")]
        );
        assert!(loc.ca_files("nope").is_empty());
        assert_eq!(basic_header("u", "p"), "Basic dTpw");
    }
}
