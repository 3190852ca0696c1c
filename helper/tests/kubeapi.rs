// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The direct API probe of `up` against a real TLS server that demands a client certificate,
//! with certificates shaped like k3s's (EC P-256, the key in SEC1 PEM, the server's name an IP
//! SAN 127.0.0.1), made by the `openssl` CLI: the probe reads the kubeconfig's CA and client
//! certificate, and a kubeconfig from a re-created cluster (another CA) reads as stale
//! credentials, which `up` answers by fetching the kubeconfig from k3d again.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use k8s_dev_helper::kubeapi::{KubeApi, access};
use k8s_dev_helper::plan::stale_credentials;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("running openssl (Debian: apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 key in SEC1 PEM (`EC PRIVATE KEY`), as k3s writes its keys.
fn ec_key(dir: &Path, key: &str) {
    openssl(
        dir,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            key,
        ],
    );
}

/// A CA named `name` (ca-NAME.pem / ca-NAME.key).
fn ca(dir: &Path, name: &str) {
    let (key, cert) = (format!("ca-{name}.key"), format!("ca-{name}.pem"));
    ec_key(dir, &key);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-subj",
            &format!("/CN={name}-ca"),
            "-days",
            "1",
            "-out",
            &cert,
        ],
    );
}

/// A certificate `name` signed by CA `by`; `ext` is an extensions line for openssl.
fn signed(dir: &Path, name: &str, by: &str, subject: &str, ext: &str) {
    let (key, csr, cert) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
    );
    ec_key(dir, &key);
    openssl(
        dir,
        &["req", "-new", "-key", &key, "-subj", subject, "-out", &csr],
    );
    std::fs::write(dir.join(format!("{name}.ext")), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("ca-{by}.pem"),
            "-CAkey",
            &format!("ca-{by}.key"),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &cert,
        ],
    );
}

/// An API server on 127.0.0.1 that accepts only clients of `client_ca` and answers /readyz
/// and a one-node list; returns its port.
fn serve(dir: &Path, client_ca: &str) -> u16 {
    k8s_dev_helper::runtime::install_crypto_provider();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(dir.join(format!("ca-{client_ca}.pem"))).unwrap())
        .unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let chain = vec![CertificateDer::from_pem_file(dir.join("server.pem")).unwrap()];
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let config = Arc::new(
        rustls::ServerConfig::builder()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, stream);
                let mut reader = BufReader::new(&mut tls);
                let mut request = String::new();
                if reader.read_line(&mut request).is_err() {
                    return; // a rejected handshake
                }
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let body = if request.starts_with("GET /readyz ") {
                    "ok".to_string()
                } else {
                    r#"{"items":[{"metadata":{"name":"k3d-a-server-0"},"status":{"conditions":[{"type":"Ready","status":"True"}]}}]}"#.to_string()
                };
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.flush();
            });
        }
    });
    port
}

fn b64(dir: &Path, file: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(std::fs::read(dir.join(file)).unwrap())
}

/// A kubeconfig as k3d writes it, trusting CA `ca`.
fn kubeconfig(dir: &Path, port: u16, ca: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-a\n  cluster:\n    certificate-authority-data: {}\n    server: https://127.0.0.1:{port}\n\
         users:\n- name: admin@k3d-a\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n\
         contexts:\n- name: k3d-a\n  context: {{cluster: k3d-a, user: admin@k3d-a}}\ncurrent-context: k3d-a\n",
        b64(dir, &format!("ca-{ca}.pem")),
        b64(dir, "client.pem"),
        b64(dir, "client.key")
    )
}

fn certificates() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ca(dir, "cluster");
    ca(dir, "old");
    signed(
        dir,
        "server",
        "cluster",
        "/CN=k3s",
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    );
    signed(
        dir,
        "client",
        "cluster",
        "/O=system:masters/CN=system:admin",
        "extendedKeyUsage=clientAuth\n",
    );
    tmp
}

#[test]
fn the_direct_probe_speaks_tls_with_the_kubeconfigs_client_certificate() {
    let tmp = certificates();
    let port = serve(tmp.path(), "cluster");
    let access = access(&kubeconfig(tmp.path(), port, "cluster"), "k3d-a")
        .unwrap()
        .expect("k3d's kubeconfig is read directly");
    let api = KubeApi::new(access).unwrap();
    api.probe_apiserver(Duration::from_secs(5)).unwrap();
    api.probe_nodes(1, Duration::from_secs(5)).unwrap();
    assert_eq!(
        api.probe_nodes(2, Duration::from_secs(5)).unwrap_err(),
        "1 node registered, want 2"
    );
}

#[test]
fn a_kubeconfig_of_a_recreated_cluster_reads_as_stale_credentials() {
    let tmp = certificates();
    let port = serve(tmp.path(), "cluster");
    // The cluster was re-created outside the kit: its new CA is not the one the file trusts.
    let access = access(&kubeconfig(tmp.path(), port, "old"), "k3d-a")
        .unwrap()
        .unwrap();
    let err = KubeApi::new(access)
        .unwrap()
        .probe_nodes(1, Duration::from_secs(5))
        .unwrap_err();
    assert!(stale_credentials(&err), "not recognised as stale: {err}");
}
