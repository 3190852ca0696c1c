// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper doctor` on this machine, with PATH, HOME and the engine pointed at temp
//! directories and the test engines.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{engine_var, helper, run, stderr, stdout};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    ok: bool,
    checks: Vec<Check>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    name: String,
    status: String,
    detail: String,
    fix: Option<String>,
}

impl Report {
    fn check(&self, name: &str) -> &Check {
        self.checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no check {name} in {self:?}"))
    }
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a tempdir")
}

/// An engine that cannot be there, so a test that is not about the engine needs none.
fn no_engine(home: &Path) -> String {
    format!("unix://{}/no-engine.sock", home.display())
}

fn doctor_json(cmd: &mut Command) -> (Option<i32>, Report, String) {
    let out = run(cmd.args(["doctor", "--json"]));
    let text = stdout(&out);
    assert_eq!(text.lines().count(), 1, "one JSON line: {text}");
    let report = serde_json::from_str(&text).expect("doctor --json parses");
    (out.status.code(), report, stderr(&out))
}

/// A directory with stand-ins for the pinned tools, each printing what the real one prints
/// for its version command.
fn fake_tools() -> tempfile::TempDir {
    fake_tools_with("v3.21.4+g1234567", "v2.24.0")
}

/// The same with the given helm and skaffold versions (an adopter's pins).
fn fake_tools_with(helm: &str, skaffold: &str) -> tempfile::TempDir {
    let dir = tempdir();
    let tools = [
        (
            "k3d",
            "k3d version v5.9.0\nk3s version v1.33.4-k3s1 (default)",
        ),
        (
            "kubectl",
            "Client Version: v1.32.5\nKustomize Version: v5.5.0",
        ),
        ("skaffold", skaffold),
        ("helm", helm),
    ];
    for (name, version) in tools {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\nprintf '%s\\n' '{version}'\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

#[test]
fn json_parses_and_missing_tools_fail_naming_mise_install() {
    let Some(docker_host) = engine_var("K8S_DEV_TEST_DOCKER_HOST") else {
        return;
    };
    let (home, empty_path) = (tempdir(), tempdir());
    let (code, report, err) = doctor_json(
        helper(home.path())
            .env("PATH", empty_path.path())
            .env("DOCKER_HOST", &docker_host),
    );
    assert_eq!(code, Some(1));
    assert!(!report.ok);
    assert_eq!(err, "error: 4 checks failed; see their fixes above\n");
    let engine = report.check("engine");
    assert_eq!(engine.status, "ok");
    assert!(
        engine.detail.starts_with("docker ") && engine.detail.ends_with("(from DOCKER_HOST)"),
        "{engine:?}"
    );
    for tool in ["k3d", "kubectl", "skaffold", "helm"] {
        let check = report.check(tool);
        assert_eq!(check.status, "fail", "{check:?}");
        assert_eq!(check.detail, "not found on PATH");
        // k3d: a repository may pin it for another system only (OpenShell: macOS), where
        // `mise install` installs nothing.
        let fix = check.fix.as_deref().unwrap_or_default();
        if tool == "k3d" {
            assert!(
                fix.starts_with("install k3d: mise use -g aqua:k3d-io/k3d@5.9.0"),
                "{fix}"
            );
        } else {
            assert_eq!(fix, "mise install");
        }
    }
    assert_eq!(report.check("versions").status, "skip");
    assert_eq!(report.check("cargo").status, "warn");
    assert_eq!(report.check("kubeconfig").status, "skip");
}

#[test]
fn human_report_prints_each_failure_with_its_fix() {
    let (home, empty_path) = (tempdir(), tempdir());
    let out = run(helper(home.path())
        .env("PATH", empty_path.path())
        .env("DOCKER_HOST", no_engine(home.path()))
        .arg("doctor"));
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.starts_with("k8s-dev doctor\n\n  engine: fail, DOCKER_HOST="),
        "{text}"
    );
    assert!(
        text.contains("  helm: fail, not found on PATH\n    fix: mise install\n"),
        "{text}"
    );
    assert!(
        text.contains("  k3d: fail, not found on PATH\n    fix: install k3d: mise use -g "),
        "{text}"
    );
    assert!(
        text.contains("    fix: start the engine it names, or unset DOCKER_HOST to detect one\n"),
        "{text}"
    );
    // Warnings vary with the machine (a port held by another program), failures do not.
    assert!(text.contains("\n\n5 failed checks, "), "{text}");
    assert_eq!(
        stderr(&out),
        "error: 5 checks failed; see their fixes above\n"
    );
}

#[test]
fn helm_4_with_a_skaffold_before_2_17_fails_naming_the_skaffold_that_works() {
    let (home, tools) = (tempdir(), fake_tools_with("v4.2.0+g2f5a4f1", "v2.16.1"));
    let out = run(helper(home.path())
        .env("PATH", tools.path())
        .env("DOCKER_HOST", no_engine(home.path()))
        .arg("doctor"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text.contains(
            "  versions: fail, kubectl 1.32.5, helm 4.2.0, skaffold 2.16.1: skaffold 2.16.1 \
             cannot deploy with helm 4.2.0"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "    fix: install skaffold >= 2.17.0 (2.20.0 or later is tested), or helm 3\n"
        ),
        "{text}"
    );
    // OpenShell's pins pass.
    let (home, tools) = (tempdir(), fake_tools_with("v4.2.0+g2f5a4f1", "v2.20.0"));
    let out = run(helper(home.path())
        .env("PATH", tools.path())
        .env("DOCKER_HOST", no_engine(home.path()))
        .arg("doctor"));
    assert!(
        stdout(&out)
            .contains("  versions: ok, kubectl 1.32.5, helm 4.2.0, skaffold 2.20.0: supported\n"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn pinned_tools_on_path_pass_with_their_versions() {
    let Some(docker_host) = engine_var("K8S_DEV_TEST_DOCKER_HOST") else {
        return;
    };
    let (home, tools) = (tempdir(), fake_tools());
    let (code, report, _) = doctor_json(
        helper(home.path())
            .env("PATH", tools.path())
            .env("DOCKER_HOST", &docker_host),
    );
    let failed: Vec<_> = report
        .checks
        .iter()
        .filter(|c| c.status == "fail")
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(code, Some(0));
    assert!(report.ok);
    assert_eq!(
        report.check("k3d").detail,
        format!(
            "k3d version v5.9.0 ({})",
            tools.path().join("k3d").display()
        )
    );
    assert!(
        report
            .check("kubectl")
            .detail
            .starts_with("Client Version: v1.32.5 (")
    );
    // The test engines run as root: nothing to delegate.
    let cgroup = report.check("cgroup-delegation");
    assert_eq!(
        (cgroup.status.as_str(), cgroup.detail.as_str()),
        ("skip", "docker runs rootful")
    );
}

#[test]
fn group_readable_kubeconfig_fails_with_chmod_fix() {
    let home = tempdir();
    let kube = home.path().join(".kube");
    std::fs::create_dir(&kube).unwrap();
    std::fs::set_permissions(&kube, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = kube.join("config");
    std::fs::write(&config, "apiVersion: v1\nkind: Config\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();

    let (code, report, _) =
        doctor_json(helper(home.path()).env("DOCKER_HOST", no_engine(home.path())));
    assert_eq!(code, Some(1));
    let kc = report.check("kubeconfig");
    assert_eq!(kc.status, "fail");
    assert_eq!(
        kc.detail,
        format!(
            "{} is open to group or others (mode 0644) and holds cluster credentials",
            config.display()
        )
    );
    assert_eq!(
        kc.fix.as_deref(),
        Some(format!("chmod 600 {}", config.display()).as_str())
    );
    let dir = report.check("kube-dir");
    assert_eq!(dir.status, "warn");
    assert_eq!(
        dir.fix.as_deref(),
        Some(format!("chmod 700 {}", kube.display()).as_str())
    );
}

#[test]
fn private_kubeconfig_from_kubeconfig_var_passes() {
    let home = tempdir();
    let config = home.path().join("kubeconfig");
    std::fs::write(&config, "apiVersion: v1\nkind: Config\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (_, report, _) = doctor_json(
        helper(home.path())
            .env("DOCKER_HOST", no_engine(home.path()))
            .env(
                "KUBECONFIG",
                format!("{}:/elsewhere/config", config.display()),
            ),
    );
    let kc = report.check("kubeconfig");
    assert_eq!(kc.status, "ok");
    assert_eq!(
        kc.detail,
        format!(
            "{c} (mode 0600), /elsewhere/config (missing); new entries go to {c}",
            c = config.display()
        )
    );
    assert_eq!(kc.fix, None);
}

#[test]
fn bad_port_setting_fails_naming_the_variable() {
    let home = tempdir();
    let (code, report, _) = doctor_json(
        helper(home.path())
            .env("DOCKER_HOST", no_engine(home.path()))
            .env("K8S_DEV_API_PORT", "65536"),
    );
    assert_eq!(code, Some(1));
    let api = report.check("api-port");
    assert_eq!(api.status, "fail");
    assert_eq!(
        api.detail,
        "K8S_DEV_API_PORT=\"65536\": port 65536 is out of range"
    );
}

#[test]
fn open_registry_credential_files_warn_with_chmod_and_no_secret_is_shown() {
    let home = tempdir();
    let password = "pw-Doctor-never-printed";
    let docker = home.path().join(".docker/config.json");
    let podman = home.path().join("podman auth.json");
    std::fs::create_dir_all(docker.parent().unwrap()).unwrap();
    for (file, mode) in [(&docker, 0o644), (&podman, 0o640)] {
        std::fs::write(
            file,
            format!(r#"{{"auths": {{"reg.lan": {{"username": "u", "password": "{password}"}}}}}}"#),
        )
        .unwrap();
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let doctor = || {
        let mut cmd = helper(home.path());
        cmd.env("DOCKER_HOST", no_engine(home.path()))
            .env("REGISTRY_AUTH_FILE", &podman);
        cmd
    };
    let (_, report, err) = doctor_json(&mut doctor());
    let check = report.check("registry-credentials");
    assert_eq!(check.status, "warn");
    assert_eq!(
        check.detail,
        format!(
            "{} is open to group or others (mode 0644) and holds registry logins; {} is open \
             to group or others (mode 0640) and holds registry logins",
            docker.display(),
            podman.display()
        )
    );
    assert_eq!(
        check.fix.as_deref(),
        Some(format!("chmod 600 {} '{}'", docker.display(), podman.display()).as_str())
    );
    let out = run(doctor().arg("doctor"));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("    fix: chmod 600 {} '", docker.display())),
        "{text}"
    );
    for shown in [&text, &stderr(&out), &err, &format!("{report:?}")] {
        assert!(!shown.contains(password), "a password was shown: {shown}");
    }

    for file in [&docker, &podman] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let (_, report, _) = doctor_json(&mut doctor());
    let check = report.check("registry-credentials");
    assert_eq!(check.status, "ok");
    assert_eq!(
        check.detail,
        format!(
            "{} (mode 0600), {} (mode 0600)",
            docker.display(),
            podman.display()
        )
    );
}
