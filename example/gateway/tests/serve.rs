// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The real binary without a cluster: it starts, serves health and version, reports why it
//! is not ready, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_example-gateway");

/// `GET path` over HTTP/1.1; returns (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").unwrap().1.to_string();
    (status, body)
}

/// Start the gateway on free loopback ports with no way to find a cluster.
fn start(home: &std::path::Path) -> (Child, BufReader<ChildStderr>, String, String) {
    let mut child = Command::new(BIN)
        .args(["--port", "0", "--health-port", "0"])
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("OPENSHELL_SANDBOX_IMAGE")
        .env("HOME", home)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    while !line.starts_with("listening: ") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "gateway exited early"
        );
    }
    // "listening: api http://127.0.0.1:P health http://127.0.0.1:Q"
    let words: Vec<&str> = line.split_whitespace().collect();
    let api = words[2].trim_start_matches("http://").to_string();
    let health = words[4].trim_start_matches("http://").to_string();
    (child, stderr, api, health)
}

#[test]
fn serves_health_without_a_cluster_and_stops_on_sigterm() {
    let home = std::env::temp_dir().join(format!("example-gateway-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let (mut child, mut stderr, api, health) = start(&home);

    assert_eq!(get(&health, "/healthz"), (200, r#"{"status":"ok"}"#.into()));
    let (status, body) = get(&health, "/readyz");
    assert_eq!(status, 503);
    assert!(body.contains("no Kubernetes configuration"), "{body}");
    for addr in [&api, &health] {
        let (status, body) = get(addr, "/version");
        assert_eq!(status, 200);
        assert!(
            body.starts_with(r#"{"name":"example-gateway","version":"0.1.0","git_sha":""#),
            "{body}"
        );
    }
    let (status, body) = get(&api, "/sandboxes");
    assert_eq!(status, 503);
    assert!(body.contains("set KUBECONFIG"), "{body}");

    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status:?}: {rest}");
    assert_eq!(rest, "received SIGTERM, shutting down\n");
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn bad_configuration_exits_2_before_listening() {
    let out = Command::new(BIN)
        .env("OPENSHELL_DRIVERS", "podman")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: OPENSHELL_DRIVERS=podman: unsupported compute driver \"podman\"; \
         this gateway only has `kubernetes`\n"
    );
}

#[test]
fn help_lists_the_environment() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for name in [
        "--bind-address",
        "--port",
        "--health-port",
        "--drivers",
        "OPENSHELL_SANDBOX_NAMESPACE",
        "OPENSHELL_SANDBOX_IMAGE",
        "OPENSHELL_SANDBOX_IMAGE_PULL_POLICY",
    ] {
        assert!(help.contains(name), "{name} missing from --help");
    }
}
