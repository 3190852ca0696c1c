// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The real binary without a cluster: it starts, serves health and version, reports why it
//! is not ready, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_openshell-gateway");

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

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Start the gateway with `args` and no way to find a cluster; returns the child, its stderr
/// after the `listening:` line, that line's addresses, and everything it printed until then.
fn start(
    home: &std::path::Path,
    args: &[&str],
) -> (Child, BufReader<ChildStderr>, Vec<String>, String) {
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("OPENSHELL_GATEWAY_CONFIG")
        .env("HOME", home)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let mut seen = String::new();
    while !line.starts_with("listening: ") {
        line.clear();
        assert_ne!(
            stderr.read_line(&mut line).unwrap(),
            0,
            "gateway exited early: {seen}"
        );
        seen += &line;
    }
    // "listening: api http://127.0.0.1:P[ health http://127.0.0.1:Q]"
    let addrs = line
        .split_whitespace()
        .filter_map(|w| w.strip_prefix("http://"))
        .map(str::to_string)
        .collect();
    (child, stderr, addrs, seen)
}

fn temp_home(test: &str) -> std::path::PathBuf {
    let home =
        std::env::temp_dir().join(format!("openshell-gateway-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    home
}

fn stop(mut child: Child, mut stderr: BufReader<ChildStderr>) -> String {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status:?}: {rest}");
    rest
}

#[test]
fn serves_health_without_a_cluster_and_stops_on_sigterm() {
    let home = temp_home("health");
    let health_port = free_port().to_string();
    let (child, stderr, addrs, _) = start(
        &home,
        &[
            "--disable-tls",
            "--port",
            "0",
            "--health-port",
            &health_port,
        ],
    );
    let [api, health] = &addrs[..] else {
        panic!("{addrs:?}")
    };
    assert!(health.ends_with(&format!(":{health_port}")), "{health}");

    for addr in [api, health] {
        assert_eq!(get(addr, "/healthz"), (200, r#"{"status":"ok"}"#.into()));
        let (status, body) = get(addr, "/readyz");
        assert_eq!(status, 503);
        assert!(body.contains("no Kubernetes configuration"), "{body}");
        let (status, body) = get(addr, "/version");
        assert_eq!(status, 200);
        assert!(
            body.starts_with(r#"{"name":"openshell-gateway","version":"0.1.0","git_sha":""#),
            "{body}"
        );
    }
    let (status, body) = get(api, "/sandboxes");
    assert_eq!(status, 503);
    assert!(body.contains("set KUBECONFIG"), "{body}");

    assert_eq!(stop(child, stderr), "received SIGTERM, shutting down\n");
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn a_config_file_like_the_charts_is_read() {
    let home = temp_home("config");
    let config = home.join("gateway.toml");
    std::fs::write(
        &config,
        "[openshell]\nversion = 1\n\n[openshell.gateway]\nbind_address = \"127.0.0.1:0\"\n\
         disable_tls = true\nsupervisor_image = \"reg:5000/openshell-supervisor:dev\"\n\n\
         [openshell.gateway.auth]\nallow_unauthenticated_users = true\n\n\
         [openshell.drivers.kubernetes]\nnamespace = \"sandboxes\"\n\
         supervisor_sideload_method = \"init-container\"\n",
    )
    .unwrap();
    let (child, stderr, addrs, seen) = start(&home, &["--config", config.to_str().unwrap()]);
    assert!(
        seen.contains("unauthenticated user access enabled"),
        "{seen}"
    );
    // One listener: the file names no health address.
    assert_eq!(addrs.len(), 1, "{addrs:?}");
    stop(child, stderr);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn tls_without_a_certificate_stops_as_openshells_gateway_does() {
    let out = Command::new(BIN)
        .args(["--bind-address", "127.0.0.1", "--port", "0"])
        .env_remove("OPENSHELL_DISABLE_TLS")
        .env_remove("OPENSHELL_GATEWAY_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --tls-cert is required when TLS is enabled (use --disable-tls to skip)\n"
    );
}

#[test]
fn bad_settings_exit_1_and_bad_flags_exit_2_before_listening() {
    let out = Command::new(BIN)
        .arg("--disable-tls")
        .env("OPENSHELL_DRIVERS", "podman")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: OPENSHELL_DRIVERS=podman: unsupported compute driver \"podman\"; \
         this gateway only has `kubernetes`\n"
    );
    let out = Command::new(BIN).arg("--nope").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn help_lists_openshells_flags_and_config_keys() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for name in [
        "--config",
        "--bind-address",
        "--port",
        "--health-port",
        "--drivers",
        "--disable-tls",
        "--db-url",
        "--log-level",
        "OPENSHELL_SERVER_PORT",
        "[openshell.drivers.kubernetes]",
        "supervisor_image",
    ] {
        assert!(help.contains(name), "{name} missing from --help");
    }
}
