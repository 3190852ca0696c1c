// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A real `docker-registry` (distribution) behind TLS and htpasswd, started by a test on a port
//! the OS picks: a CA and a certificate for 127.0.0.1 made with the openssl CLI, a bcrypt
//! htpasswd file, its storage in a temporary directory. The process is this test's child and is
//! killed (by its own handle) when the value drops. Without `docker-registry` or `openssl` the
//! test skips, saying why, unless K8S_DEV_TEST_NO_SKIP=1.

#![allow(dead_code)] // each test binary uses a different subset

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TlsRegistry {
    /// `127.0.0.1:<port>`.
    pub addr: String,
    /// A `certs.d`-style directory: `<certs_dir>/<addr>/ca.crt`.
    pub certs_dir: PathBuf,
    /// The CA's PEM.
    pub ca: PathBuf,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for TlsRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
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
}

/// A CA, and a server certificate for 127.0.0.1 signed by it, in `dir`.
pub fn make_ca_and_cert(dir: &Path, name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut args = vec!["req", "-x509"];
    args.extend(ec);
    args.extend(["-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj"]);
    let subject = format!("/CN={name} test CA");
    args.push(&subject);
    args.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
    ]);
    openssl(dir, &args);
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &args);
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
         keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.crt",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
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
        let dir = tempfile::tempdir().unwrap();
        make_ca_and_cert(dir.path(), "registry");
        let hash = bcrypt::hash(password, 4).unwrap();
        std::fs::write(dir.path().join("htpasswd"), format!("{user}:{hash}\n")).unwrap();
        // The port is free now; a race with another process for it only makes the wait below
        // fail, with the registry's log.
        let addr = format!("127.0.0.1:{}", free_port());
        let d = dir.path().display();
        std::fs::write(
            dir.path().join("config.yml"),
            format!(
                "version: 0.1\n\
                 log: {{level: warn}}\n\
                 storage: {{filesystem: {{rootdirectory: {d}/data}}, delete: {{enabled: true}}}}\n\
                 http:\n  addr: {addr}\n  tls: {{certificate: {d}/server.crt, key: {d}/server.key}}\n\
                 auth:\n  htpasswd: {{realm: k8s-dev-test, path: {d}/htpasswd}}\n"
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
        std::fs::create_dir_all(certs_dir.join(&addr)).unwrap();
        std::fs::copy(
            dir.path().join("ca.crt"),
            certs_dir.join(&addr).join("ca.crt"),
        )
        .unwrap();
        let registry = TlsRegistry {
            ca: dir.path().join("ca.crt"),
            addr,
            certs_dir,
            child,
            dir,
        };
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

    /// A GET of `path` (`/v2/…`) with these credentials, trusting the registry's CA: status.
    pub fn get(&self, path: &str, user: &str, password: &str) -> u16 {
        k8s_dev_helper::runtime::install_crypto_provider();
        let ca = reqwest::Certificate::from_pem(&std::fs::read(&self.ca).unwrap()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            reqwest::Client::builder()
                .tls_certs_merge([ca])
                .build()
                .unwrap()
                .get(format!("https://{}{path}", self.addr))
                .header("Accept", "application/vnd.oci.image.manifest.v1+json")
                .basic_auth(user, Some(password))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    }
}
