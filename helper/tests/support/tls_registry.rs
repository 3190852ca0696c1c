// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A real `docker-registry` (distribution) behind TLS, started by a test on a port the OS picks:
//! a CA and a certificate for 127.0.0.1 made with the openssl CLI, its storage in a temporary
//! directory, and either a bcrypt htpasswd file or token auth trusting a [`token_issuer`]
//! (whose HTTPS certificate comes from the same CA, as a registry and its token service
//! under one private CA have). The process is this test's child and is killed (by its own
//! handle) when the value drops. Without `docker-registry` or `openssl` the test skips, saying
//! why, unless K8S_DEV_TEST_NO_SKIP=1.
//!
//! [`token_issuer`]: super::token_issuer

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::token_issuer::Issuer;

/// A CA and a server certificate for 127.0.0.1 signed by it (`ca.crt`, `server.crt`,
/// `server.key` in `dir`).
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    pub fn new(name: &str) -> Arc<Pki> {
        let dir = tempfile::tempdir().unwrap();
        make_ca_and_cert(dir.path(), name);
        Arc::new(Pki { dir })
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    pub fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}

/// How the registry asks for credentials.
pub enum Auth<'a> {
    Htpasswd { user: &'a str, password: &'a str },
    Token(&'a Issuer),
}

pub struct TlsRegistry {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// A `certs.d`-style directory: `<certs_dir>/<addr>/ca.crt`.
    pub certs_dir: PathBuf,
    /// The CA's PEM.
    pub ca: PathBuf,
    /// Token realm and service, for token auth.
    token: Option<(String, String)>,
    child: Child,
    dir: tempfile::TempDir,
    _pki: Arc<Pki>,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `openssl ARGS` in `dir`; its stdout.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("running openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// In `dir`: a CA (`<ca>.crt`, `<ca>.key`, subject `ca_subject`) and a certificate it signs
/// (`<leaf>.crt`, `<leaf>.key`, subject `leaf_subject`, with the openssl `extensions` lines),
/// each with a new key made by `key` (`-newkey …` arguments).
pub fn ca_and_leaf(
    dir: &Path,
    key: &[&str],
    (ca, ca_subject): (&str, &str),
    (leaf, leaf_subject): (&str, &str),
    extensions: &str,
) {
    let (ca_crt, ca_key) = (format!("{ca}.crt"), format!("{ca}.key"));
    let (leaf_crt, leaf_key, leaf_csr, leaf_ext) = (
        format!("{leaf}.crt"),
        format!("{leaf}.key"),
        format!("{leaf}.csr"),
        format!("{leaf}.ext"),
    );
    let mut args = vec!["req", "-x509"];
    args.extend(key);
    args.extend(["-keyout", &ca_key, "-out", &ca_crt, "-days", "2"]);
    args.extend(["-subj", ca_subject]);
    args.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(key);
    args.extend([
        "-keyout",
        &leaf_key,
        "-out",
        &leaf_csr,
        "-subj",
        leaf_subject,
    ]);
    openssl(dir, &args);
    std::fs::write(dir.join(&leaf_ext), extensions).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &leaf_csr,
            "-CA",
            &ca_crt,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &leaf_crt,
            "-days",
            "2",
            "-extfile",
            &leaf_ext,
        ],
    );
}

/// A CA (`ca.crt`), and a server certificate for 127.0.0.1 signed by it (`server.crt`,
/// `server.key`), in `dir`.
pub fn make_ca_and_cert(dir: &Path, name: &str) {
    ca_and_leaf(
        dir,
        &[
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ],
        ("ca", &format!("/CN={name} test CA")),
        ("server", "/CN=127.0.0.1"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
}

fn tool(name: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `docker-registry` and `openssl` are installed; a skip (with its reason) otherwise.
pub fn available() -> bool {
    for name in ["docker-registry", "openssl"] {
        if !tool(name) {
            let reason =
                format!("{name} is not installed (apt-get install docker-registry openssl)");
            assert!(
                std::env::var("K8S_DEV_TEST_NO_SKIP").as_deref() != Ok("1"),
                "K8S_DEV_TEST_NO_SKIP=1 but {reason}"
            );
            eprintln!("SKIP: {reason}");
            return false;
        }
    }
    true
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl TlsRegistry {
    /// A registry that lets `user` in with `password`, and nobody else.
    pub fn start(user: &str, password: &str) -> TlsRegistry {
        TlsRegistry::start_with(
            Pki::new("registry"),
            Auth::Htpasswd { user, password },
            "warn",
        )
    }

    /// A registry with `pki`'s certificate, asking for credentials as `auth` says, logging at
    /// `level` (`info` shows why a token was refused).
    pub fn start_with(pki: Arc<Pki>, auth: Auth, level: &str) -> TlsRegistry {
        let dir = tempfile::tempdir().unwrap();
        let (auth_config, token) = match auth {
            Auth::Htpasswd { user, password } => {
                let hash = bcrypt::hash(password, 4).unwrap();
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{user}:{hash}\n")).unwrap();
                (
                    format!(
                        "  htpasswd: {{realm: k8s-dev-test, path: {}}}\n",
                        file.display()
                    ),
                    None,
                )
            }
            Auth::Token(issuer) => (
                issuer.registry_config(),
                Some((issuer.realm.clone(), issuer.service.clone())),
            ),
        };
        // The port is free now; a race with another process for it only makes the wait below
        // fail, with the registry's log.
        let addr = format!("127.0.0.1:{}", free_port());
        let (d, cert, key) = (
            dir.path().display(),
            pki.cert().display().to_string(),
            pki.key().display().to_string(),
        );
        std::fs::write(
            dir.path().join("config.yml"),
            format!(
                "version: 0.1\n\
                 log: {{level: {level}}}\n\
                 storage: {{filesystem: {{rootdirectory: {d}/data}}, delete: {{enabled: true}}}}\n\
                 http:\n  addr: {addr}\n  tls: {{certificate: {cert}, key: {key}}}\n\
                 auth:\n{auth_config}"
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        let certs_dir = dir.path().join("certs.d");
        let registry = TlsRegistry {
            ca: pki.ca(),
            addr,
            certs_dir,
            token,
            child,
            dir,
            _pki: pki,
        };
        registry.trust_as(&registry.addr);
        let deadline = Instant::now() + Duration::from_secs(15);
        while TcpStream::connect(&registry.addr).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {}: {}",
                registry.addr,
                std::fs::read_to_string(registry.dir.path().join("registry.log"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    /// Trust the registry's CA for `addr` too (a proxy in front of it): `<certs_dir>/<addr>/`.
    pub fn trust_as(&self, addr: &str) {
        std::fs::create_dir_all(self.certs_dir.join(addr)).unwrap();
        std::fs::copy(&self.ca, self.certs_dir.join(addr).join("ca.crt")).unwrap();
    }

    /// What the registry logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// A GET of `path` (`/v2/<repo>/…`) with these credentials, trusting the registry's CA
    /// (with token auth, through a pull token for `<repo>`): status.
    pub fn get(&self, path: &str, user: &str, password: &str) -> u16 {
        k8s_dev_helper::runtime::install_crypto_provider();
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&self.ca).unwrap()).unwrap();
        let http = reqwest::Client::builder()
            .tls_certs_merge([ca])
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let request = http
                .get(format!("https://{}{path}", self.addr))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json");
            let request = match &self.token {
                None => request.basic_auth(user, Some(password)),
                Some((realm, service)) => {
                    let repo = path
                        .strip_prefix("/v2/")
                        .and_then(|p| p.rsplit_once("/manifests/").or(p.rsplit_once("/blobs/")))
                        .map(|(repo, _)| repo)
                        .expect("a /v2/<repo>/manifests|blobs/… path");
                    let mut url = reqwest::Url::parse(realm).unwrap();
                    url.query_pairs_mut()
                        .append_pair("service", service)
                        .append_pair("scope", &format!("repository:{repo}:pull"));
                    let answer: serde_json::Value = http
                        .get(url)
                        .basic_auth(user, Some(password))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    request.bearer_auth(answer["token"].as_str().expect("a token"))
                }
            };
            request.send().await.unwrap().status().as_u16()
        })
    }
}

/// A TCP proxy to `target` (TLS passes through it) that forwards what the client sends at no
/// more than `rate` bytes a second, and the answers as they come: an upload of `n` bytes
/// through it takes at least `n / rate` seconds on any machine. Its threads end with the test
/// process.
pub struct Throttle {
    /// `127.0.0.1:<port>`.
    pub addr: String,
}

impl Throttle {
    pub fn start(target: &str, rate: u64) -> Throttle {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let target = target.to_string();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(upstream) = TcpStream::connect(&target) else {
                    continue;
                };
                let (mut client_read, mut upstream_write) =
                    (client.try_clone().unwrap(), upstream.try_clone().unwrap());
                std::thread::spawn(move || {
                    use std::io::{Read, Write};
                    // Idle time earns no credit: each chunk waits its share after the last.
                    let (mut free_at, mut buf) = (Instant::now(), vec![0; 16 << 10]);
                    while let Ok(n) = client_read.read(&mut buf) {
                        if n == 0 || upstream_write.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        free_at = free_at.max(Instant::now())
                            + Duration::from_secs_f64(n as f64 / rate as f64);
                        std::thread::sleep(free_at.saturating_duration_since(Instant::now()));
                    }
                    let _ = upstream_write.shutdown(std::net::Shutdown::Write);
                });
                let (mut upstream_read, mut client_write) = (upstream, client);
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut upstream_read, &mut client_write);
                    let _ = client_write.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        Throttle { addr }
    }
}
