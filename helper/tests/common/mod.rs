// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Shared support for the helper's integration tests: run the real binary in an isolated
//! environment, and gate engine-backed tests on the variables `tests/support/engines.sh` prints.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Variables that steer the helper; cleared so the developer's own setup never leaks in.
const STEERING_VARS: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_SOCK",
    "K8S_DEV_ENGINE",
    "CONTAINER_ENGINE",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "COLIMA_PROFILE",
    "KUBECONFIG",
];

pub fn helper_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_k8s-dev-helper"))
}

/// A `k8s-dev-helper` command with `HOME` at `home`, every steering variable and every
/// `K8S_DEV_*` setting unset.
pub fn helper(home: &Path) -> Command {
    let mut cmd = Command::new(helper_bin());
    for var in STEERING_VARS {
        cmd.env_remove(var);
    }
    // Settings such as K8S_DEV_TIMEOUT are clap defaults; `mise run test` exports them all.
    for (var, _) in std::env::vars() {
        if var.starts_with("K8S_DEV_") && !var.starts_with("K8S_DEV_TEST_") {
            cmd.env_remove(var);
        }
    }
    cmd.env("HOME", home);
    cmd
}

/// Run and return the output, with stdout/stderr shown when a test fails.
pub fn run(cmd: &mut Command) -> Output {
    let program = cmd.get_program().to_string_lossy().into_owned();
    let out = cmd
        .output()
        .unwrap_or_else(|err| panic!("spawning {program}: {err}"));
    eprintln!(
        "$ {:?}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The docker CLI against the engine at `host` (`DOCKER_HOST`), logged as [`run`] logs.
pub fn docker(host: &str, args: &[&str]) -> Output {
    run(Command::new("docker").env("DOCKER_HOST", host).args(args))
}

/// The podman CLI against the service at `url` (`--url`), logged as [`run`] logs.
pub fn podman(url: &str, args: &[&str]) -> Output {
    run(Command::new("podman").arg("--url").arg(url).args(args))
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// True when `.ci/run` asked for every engine-backed test to run (`K8S_DEV_TEST_NO_SKIP=1`).
pub fn no_skip() -> bool {
    std::env::var("K8S_DEV_TEST_NO_SKIP").is_ok_and(|v| v == "1")
}

/// The value of an engine variable (`K8S_DEV_TEST_DOCKER_HOST`, `K8S_DEV_TEST_PODMAN_HOST`,
/// `K8S_DEV_TEST_REGISTRY`), or `None` after printing why the calling test skips. Under
/// `K8S_DEV_TEST_NO_SKIP=1` a missing variable fails the test instead.
pub fn engine_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            let reason = format!(
                "{name} is not set; start engines with `eval \"$(tests/support/engines.sh up)\"`"
            );
            assert!(!no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
            eprintln!("SKIP: {reason}");
            None
        }
    }
}

/// Path of a file under `helper/tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}
