// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper engine` against the real engines: each discovery rule is pointed at the
//! running dockerd or Podman through a temp HOME, XDG dir or docker context, and every error
//! path is checked for its exit code and message.

mod common;

use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{engine_var, helper, run, stderr, stdout};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The `--json` contract: exactly these four fields.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EngineJson {
    engine: String,
    host: String,
    source: String,
    version: String,
}

/// The socket path of a `unix://` engine variable, or `None` (after saying why) to skip.
fn engine_socket(var: &str) -> Option<PathBuf> {
    let host = engine_var(var)?;
    let path = host
        .strip_prefix("unix://")
        .unwrap_or_else(|| panic!("{var}={host} is not a unix:// socket"));
    Some(PathBuf::from(path))
}

fn podman_socket() -> Option<PathBuf> {
    engine_socket("K8S_DEV_TEST_PODMAN_HOST")
}

fn docker_socket() -> Option<PathBuf> {
    engine_socket("K8S_DEV_TEST_DOCKER_HOST")
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a tempdir")
}

fn engine_json(cmd: &mut Command) -> EngineJson {
    let out = run(cmd.args(["engine", "--json"]));
    assert_eq!(out.status.code(), Some(0), "engine --json must succeed");
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "exactly one JSON line: {text}");
    serde_json::from_str(&text).expect("engine --json parses")
}

/// Evaluate `engine`'s stdout in `sh` and return the three variables it exports.
fn eval_exports(exports: &str) -> (String, String, String) {
    let out = Command::new("sh")
        .args([
            "-c",
            r#"eval "$1" && printf '%s\n%s\n%s\n' "$DOCKER_HOST" "$K8S_DEV_ENGINE" "$DOCKER_SOCK""#,
            "sh",
            exports,
        ])
        .env_remove("DOCKER_HOST")
        .env_remove("K8S_DEV_ENGINE")
        .env_remove("DOCKER_SOCK")
        .output()
        .expect("running sh");
    assert!(out.status.success(), "sh could not eval: {exports}");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines().map(String::from);
    (
        lines.next().unwrap(),
        lines.next().unwrap(),
        lines.next().unwrap_or_default(),
    )
}

/// A temp XDG_RUNTIME_DIR whose `podman/podman.sock` links to `target`.
fn xdg_linking_to(target: &Path) -> tempfile::TempDir {
    let xdg = tempdir();
    std::fs::create_dir(xdg.path().join("podman")).unwrap();
    symlink(target, xdg.path().join("podman/podman.sock")).unwrap();
    xdg
}

/// Write a docker context named `name` whose endpoint is `host` under `config_dir`.
fn write_context(config_dir: &Path, name: &str, host: &str) {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    let dir = config_dir.join("contexts/meta").join(digest);
    std::fs::create_dir_all(&dir).unwrap();
    let meta = serde_json::json!({
        "Name": name,
        "Metadata": {"Description": "k8s-dev test"},
        "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": false}},
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).unwrap();
}

#[test]
fn podman_found_via_xdg_runtime_dir_exports_for_sh() {
    let Some(podman) = podman_socket() else {
        return;
    };
    let (home, xdg) = (tempdir(), xdg_linking_to(&podman));
    let out = run(helper(home.path())
        .env("XDG_RUNTIME_DIR", xdg.path())
        .env("K8S_DEV_ENGINE", "podman")
        .arg("engine"));
    assert_eq!(out.status.code(), Some(0));
    let (host, engine, sock) = eval_exports(&stdout(&out));
    let link = xdg.path().join("podman/podman.sock");
    assert_eq!(host, format!("unix://{}", link.display()));
    assert_eq!(engine, "podman");
    // k3d mounts DOCKER_SOCK into its tools container: the real socket, not the link.
    assert_eq!(PathBuf::from(sock), std::fs::canonicalize(&podman).unwrap());
}

#[test]
fn podman_found_via_xdg_runtime_dir_json_names_the_rule() {
    let Some(podman) = podman_socket() else {
        return;
    };
    let (home, xdg) = (tempdir(), xdg_linking_to(&podman));
    let json = engine_json(
        helper(home.path())
            .env("XDG_RUNTIME_DIR", xdg.path())
            .env("CONTAINER_ENGINE", "podman"),
    );
    assert_eq!(json.engine, "podman");
    assert_eq!(json.source, "xdg-runtime-dir");
    assert_eq!(
        json.host,
        format!("unix://{}/podman/podman.sock", xdg.path().display())
    );
    assert!(!json.version.is_empty());
}

#[test]
fn docker_found_via_current_context_in_config_json() {
    let Some(docker) = docker_socket() else {
        return;
    };
    let home = tempdir();
    let config_dir = home.path().join(".docker");
    let host = format!("unix://{}", docker.display());
    write_context(&config_dir, "k8s-dev-test", &host);
    std::fs::write(
        config_dir.join("config.json"),
        r#"{"auths":{},"currentContext":"k8s-dev-test"}"#,
    )
    .unwrap();
    let json = engine_json(&mut helper(home.path()));
    assert_eq!(json.engine, "docker");
    assert_eq!(json.source, "docker-context:k8s-dev-test");
    assert_eq!(json.host, host);
}

#[test]
fn docker_found_via_docker_context_and_docker_config() {
    let Some(docker) = docker_socket() else {
        return;
    };
    let (home, config_dir) = (tempdir(), tempdir());
    let host = format!("unix://{}", docker.display());
    write_context(config_dir.path(), "ci engine", &host);
    let json = engine_json(
        helper(home.path())
            .env("DOCKER_CONFIG", config_dir.path())
            .env("DOCKER_CONTEXT", "ci engine"),
    );
    assert_eq!(
        (json.engine.as_str(), json.source.as_str()),
        ("docker", "docker-context:ci engine")
    );
}

#[test]
fn docker_sock_symlink_to_podman_is_reported_as_podman() {
    let Some(podman) = podman_socket() else {
        return;
    };
    let (home, dir) = (tempdir(), tempdir());
    let docker_sock = dir.path().join("docker.sock");
    symlink(&podman, &docker_sock).unwrap();
    let host = format!("unix://{}", docker_sock.display());

    let json = engine_json(helper(home.path()).env("DOCKER_HOST", &host));
    assert_eq!(
        (json.engine.as_str(), json.host.as_str()),
        ("podman", host.as_str())
    );

    // The same link found by a rule about Docker's places is still Podman.
    write_context(&home.path().join(".docker"), "looks-like-docker", &host);
    let json = engine_json(helper(home.path()).env("DOCKER_CONTEXT", "looks-like-docker"));
    assert_eq!(json.engine, "podman");
    assert_eq!(json.source, "docker-context:looks-like-docker");
}

#[test]
fn docker_host_is_used_as_is_for_both_engines() {
    let (Some(docker_host), Some(podman_host)) = (
        engine_var("K8S_DEV_TEST_DOCKER_HOST"),
        engine_var("K8S_DEV_TEST_PODMAN_HOST"),
    ) else {
        return;
    };
    let home = tempdir();
    for (host, engine) in [(&docker_host, "docker"), (&podman_host, "podman")] {
        let json = engine_json(helper(home.path()).env("DOCKER_HOST", host));
        assert_eq!(&json.host, host);
        assert_eq!(json.engine, engine);
        assert_eq!(json.source, "DOCKER_HOST");
        assert!(
            json.version
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit()),
            "{json:?}"
        );
    }
}

#[test]
fn explain_lists_candidates_on_stderr_and_keeps_stdout_evalable() {
    let Some(podman) = podman_socket() else {
        return;
    };
    let (home, xdg) = (tempdir(), xdg_linking_to(&podman));
    let out = run(helper(home.path())
        .env("XDG_RUNTIME_DIR", xdg.path())
        .env("K8S_DEV_ENGINE", "podman")
        .args(["engine", "--explain"]));
    assert_eq!(out.status.code(), Some(0));
    let (_, engine, _) = eval_exports(&stdout(&out));
    assert_eq!(engine, "podman");
    let explain = stderr(&out);
    assert!(
        explain.starts_with("Engine candidates (K8S_DEV_ENGINE=podman"),
        "{explain}"
    );
    let chosen = format!(
        "  xdg-runtime-dir: unix://{}/podman/podman.sock: chosen, podman ",
        xdg.path().display()
    );
    assert!(explain.contains(&chosen), "{explain}");
    assert!(
        explain.contains("  podman-rootful: unix:///run/podman/podman.sock: not tried"),
        "{explain}"
    );
    let docker_desktop = format!(
        "  docker-desktop: unix://{}/.docker/run/docker.sock: not tried",
        home.path().display()
    );
    assert!(explain.contains(&docker_desktop), "{explain}");
}

#[test]
fn docker_host_without_socket_is_an_error_naming_it() {
    let home = tempdir();
    let host = format!("unix://{}/gone.sock", home.path().display());
    let out = run(helper(home.path()).env("DOCKER_HOST", &host).arg("engine"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert_eq!(
        stderr(&out),
        format!(
            "error: DOCKER_HOST={host}: no socket at {}/gone.sock; start the engine it names, \
             or unset DOCKER_HOST to detect one\n",
            home.path().display()
        )
    );
}

#[test]
fn docker_host_tcp_refused_is_an_error_naming_it() {
    // Port 1 (tcpmux) is reserved and nothing here listens on it.
    let home = tempdir();
    let out = run(helper(home.path())
        .env("DOCKER_HOST", "tcp://127.0.0.1:1")
        .args(["engine", "--json"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: DOCKER_HOST=tcp://127.0.0.1:1: connection refused; start the engine it names, \
         or unset DOCKER_HOST to detect one\n"
    );
}

#[test]
fn stale_docker_host_socket_is_reported_as_stale() {
    let home = tempdir();
    let path = home.path().join("stale.sock");
    drop(UnixListener::bind(&path).unwrap());
    assert!(path.exists(), "dropping a listener leaves its socket file");
    let host = format!("unix://{}", path.display());
    let out = run(helper(home.path()).env("DOCKER_HOST", &host).arg("engine"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: DOCKER_HOST={host}: stale socket: connection refused (the file is there, \
             nothing listens on it); start the engine it names, or unset DOCKER_HOST to detect one\n"
        )
    );
}

#[test]
fn docker_host_ssh_is_a_one_line_error_naming_a_local_socket() {
    let home = tempdir();
    let out = run(helper(home.path())
        .env("DOCKER_HOST", "ssh://core@localhost:53685")
        .arg("engine"));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: DOCKER_HOST=ssh://core@localhost:53685: ssh:// is not supported: the kit \
             needs a local socket it can ping; use a local unix:// socket instead"
        ),
        "{err}"
    );
    assert!(err.contains("podman machine inspect --format"), "{err}");
}

#[test]
fn docker_host_answering_as_the_wrong_engine_names_both() {
    let Some(docker_host) = engine_var("K8S_DEV_TEST_DOCKER_HOST") else {
        return;
    };
    let home = tempdir();
    let out = run(helper(home.path())
        .env("DOCKER_HOST", &docker_host)
        .env("K8S_DEV_ENGINE", "podman")
        .arg("engine"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: DOCKER_HOST={docker_host}: answers as docker, but K8S_DEV_ENGINE=podman; \
             point DOCKER_HOST at a podman socket, or unset DOCKER_HOST or K8S_DEV_ENGINE\n"
        )
    );
}

#[test]
fn bad_engine_value_names_the_valid_values() {
    let home = tempdir();
    let out = run(helper(home.path())
        .env("K8S_DEV_ENGINE", "nerdctl")
        .arg("engine"));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: K8S_DEV_ENGINE (or CONTAINER_ENGINE) is \"nerdctl\", which is not a container \
         engine; set it to docker or podman, or unset it to detect the engine\n"
    );
}

/// Sockets outside HOME and XDG_RUNTIME_DIR that the search also looks at; a machine that has
/// one answering cannot show "nothing found".
fn system_sockets_present() -> Vec<&'static str> {
    ["/var/run/docker.sock", "/run/podman/podman.sock"]
        .into_iter()
        .filter(|p| Path::new(p).exists())
        .collect()
}

#[test]
fn nothing_found_exits_1_with_the_linux_fix_and_names_a_stale_socket() {
    let present = system_sockets_present();
    if !present.is_empty() {
        eprintln!("SKIP: this machine has {present:?}, so a search cannot come up empty");
        return;
    }
    let (home, xdg) = (tempdir(), tempdir());
    std::fs::create_dir(xdg.path().join("podman")).unwrap();
    let stale = xdg.path().join("podman/podman.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let out = run(helper(home.path())
        .env("XDG_RUNTIME_DIR", xdg.path())
        .args(["engine", "--explain"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    let err = stderr(&out);
    let error_line = err.lines().last().unwrap();
    assert_eq!(
        error_line,
        format!(
            "error: no container engine answered (unix://{}: stale socket: connection refused \
             (the file is there, nothing listens on it)); start one: `systemctl --user start \
             podman.socket` (rootless Podman), `sudo systemctl start docker` or `sudo systemctl \
             start podman.socket`; run `k8s-dev-helper engine --explain` to see every candidate",
            stale.display()
        )
    );
    assert!(
        err.contains("  docker-socket: unix:///var/run/docker.sock: rejected, no socket at /var/run/docker.sock"),
        "{err}"
    );
}
