// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper registry pull-secret` run as a binary: the Secret applied through the real
//! kubectl to `tests/support/fake-kube-api.py` (and to the real control plane of
//! tests/support/cluster.sh too, when K8S_DEV_TEST_KUBECONFIG names one) and read back from
//! the API; kubectl's command line recorded to show the secret never is on it; the 0600 file;
//! one-line errors.

mod common;
#[path = "support/fake_api.rs"]
mod fake_api;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::{helper, run, stderr, stdout};
use fake_api::{FakeApi, have_kube_tools};
use serde_json::Value;

const REGISTRY: &str = "reg.example.com:5443";
const PULL: &str = "openshell-registry:5000";
const USER: &str = "robot$dev";
const PASSWORD: &str = "pw-Pull9!never-printed";

fn base64(text: &str) -> String {
    STANDARD.encode(text)
}

fn login(home: &Path, password: &str) {
    let file = home.join(".docker/config.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(
        &file,
        format!(
            r#"{{"auths": {{"{REGISTRY}": {{"auth": "{}"}}}}}}"#,
            base64(&format!("{USER}:{password}"))
        ),
    )
    .unwrap();
}

/// A `kubectl` first on PATH that appends its arguments to `<dir>/argv` and runs the real one.
fn recording_kubectl(dir: &Path) -> String {
    let real = which::which("kubectl").expect("kubectl on PATH");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("kubectl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            dir.join("argv").display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn pull_secret(home: &Path, args: &[&str]) -> Command {
    let mut cmd = helper(home);
    cmd.args(["registry", "pull-secret", "--registry", REGISTRY])
        .args(args);
    cmd
}

fn assert_secret_not_shown(out: &Output) {
    for text in [stdout(out), stderr(out)] {
        assert!(!text.contains(PASSWORD), "the password was shown: {text}");
        assert!(!text.contains(&base64(&format!("{USER}:{PASSWORD}"))));
    }
}

/// The `auths` entry the Secret `name` in `ns` holds for `key`, read back through kubectl.
fn read_back(kubectl: &dyn Fn(&[&str]) -> Output, ns: &str, key: &str) -> (Value, Value) {
    let out = kubectl(&["get", "secret", "k8s-dev-pull", "-n", ns, "-o", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let secret: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let config: Value = serde_json::from_slice(
        &STANDARD
            .decode(secret["data"][".dockerconfigjson"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    (secret.clone(), config["auths"][key].clone())
}

/// Apply for two namespaces (creating them), read both back, apply again after a new login:
/// the Secret follows it. `kubectl` runs the real kubectl against the cluster; `env` points
/// the helper's kubectl there.
fn apply_and_read_back(
    home: &Path,
    context: &str,
    env: &[(&str, &Path)],
    kubectl: &dyn Fn(&[&str]) -> Output,
) {
    let record = tempfile::tempdir().unwrap();
    let path = recording_kubectl(record.path());
    let args = [
        "--pull-registry",
        PULL,
        "--namespace",
        "k8s-dev-auth-a",
        "-n",
        "k8s-dev-auth-b",
        "-n",
        "k8s-dev-auth-a",
        "--create-namespace",
        "--context",
        context,
    ];
    let apply = |password: &str| {
        login(home, password);
        let mut cmd = pull_secret(home, &args);
        cmd.env("PATH", &path);
        for (k, v) in env {
            cmd.env(k, v);
        }
        run(&mut cmd)
    };
    let out = apply(PASSWORD);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "k8s-dev-pull\n", "the Secret's name, alone");
    assert!(
        stderr(&out).contains(&format!(
            "applied pull secret k8s-dev-pull for {PULL} in k8s-dev-auth-a, k8s-dev-auth-b \
             (login from {})",
            home.join(".docker/config.json").display()
        )),
        "{}",
        stderr(&out)
    );
    assert_secret_not_shown(&out);
    for ns in ["k8s-dev-auth-a", "k8s-dev-auth-b"] {
        let (secret, entry) = read_back(kubectl, ns, PULL);
        assert_eq!(entry["username"], USER);
        assert_eq!(entry["password"], PASSWORD);
        assert_eq!(entry["auth"], base64(&format!("{USER}:{PASSWORD}")));
        assert_eq!(
            secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "k8s-dev"
        );
        assert!(
            secret["metadata"]["annotations"]
                .get("kubectl.kubernetes.io/last-applied-configuration")
                .is_none(),
            "server-side apply: no second copy of the data in an annotation"
        );
    }
    let argv = std::fs::read_to_string(record.path().join("argv")).unwrap();
    assert!(argv.contains("apply --server-side --force-conflicts --field-manager=k8s-dev -f -"));
    assert!(
        !argv.contains(PASSWORD) && !argv.contains("dockerconfigjson"),
        "{argv}"
    );

    let rotated = format!("{PASSWORD}-rotated");
    let out = apply(&rotated);
    assert_eq!(out.status.code(), Some(0), "applying again updates it");
    let (_, entry) = read_back(kubectl, "k8s-dev-auth-b", PULL);
    assert_eq!(entry["password"], rotated.as_str());
}

#[test]
fn the_pull_secret_is_applied_through_kubectl_stdin_and_read_back_from_the_api() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &[]);
    let kubeconfig = api.kubeconfig.clone();
    apply_and_read_back(
        home.path(),
        "fake",
        &[("KUBECONFIG", kubeconfig.as_path())],
        &|args| api.kubectl_output(args, None),
    );

    // A real API server too, when the control-plane harness runs one.
    match std::env::var("K8S_DEV_TEST_KUBECONFIG") {
        Ok(real) if !real.is_empty() => {
            let context = std::env::var("K8S_DEV_TEST_CONTEXT").unwrap_or_default();
            let real = PathBuf::from(real);
            let kubectl_home = tempfile::tempdir().unwrap();
            let kubectl = |args: &[&str]| {
                Command::new("kubectl")
                    .env("HOME", kubectl_home.path())
                    .arg("--kubeconfig")
                    .arg(&real)
                    .args(["--context", &context])
                    .args(args)
                    .output()
                    .unwrap()
            };
            let home = tempfile::tempdir().unwrap();
            apply_and_read_back(home.path(), &context, &[("KUBECONFIG", &real)], &kubectl);
            for ns in ["k8s-dev-auth-a", "k8s-dev-auth-b"] {
                let _ = kubectl(&["delete", "namespace", ns, "--wait=false"]);
            }
        }
        _ => eprintln!(
            "note: K8S_DEV_TEST_KUBECONFIG is not set (tests/support/cluster.sh); checked \
             against the fake API only"
        ),
    }
}

#[test]
fn a_missing_login_namespace_or_kubectl_is_one_line_and_optional_does_nothing() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &[]);
    let with_api = |args: &[&str]| {
        let mut cmd = pull_secret(home.path(), args);
        cmd.env("KUBECONFIG", &api.kubeconfig);
        cmd
    };
    let assert_one_line = |out: &Output, pieces: &[&str]| {
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(out);
        assert_eq!(err.lines().count(), 1, "{err}");
        for piece in pieces {
            assert!(err.contains(piece), "{err:?} lacks {piece:?}");
        }
        assert_eq!(stdout(out), "");
        assert_secret_not_shown(out);
    };

    let out = run(&mut with_api(&["-n", "openshell"]));
    assert_one_line(
        &out,
        &[
            &format!("error: no login for registry {REGISTRY} (looked in "),
            &format!("log in: docker login {REGISTRY} (or podman login {REGISTRY})"),
        ],
    );
    let out = run(&mut with_api(&["-n", "openshell", "--optional"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "", "nothing made, nothing named");

    login(home.path(), PASSWORD);
    let out = run(&mut with_api(&["-n", "nowhere"]));
    assert_one_line(
        &out,
        &[
            "error: applying pull secret k8s-dev-pull with kubectl",
            "namespaces \"nowhere\" not found; create the namespace first, or pass --create-namespace",
        ],
    );
    let out = run(&mut with_api(&["-n", "Bad_NS"]));
    assert_one_line(
        &out,
        &["--namespace \"Bad_NS\" is not a valid Kubernetes name"],
    );

    // No kubectl: the error names --output, which needs none.
    let empty = tempfile::tempdir().unwrap();
    let out = run(with_api(&["-n", "openshell"]).env("PATH", empty.path()));
    assert_one_line(&out, &["kubectl not found on PATH", "--output FILE"]);
    let file = home.path().join("out/pull-secret.json");
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    let out = run(
        with_api(&["-n", "openshell", "--output", file.to_str().unwrap()])
            .env("PATH", empty.path()),
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout(&out), "k8s-dev-pull\n");
    assert_secret_not_shown(&out);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let manifest = std::fs::read_to_string(&file).unwrap();
    let secret: Value = serde_json::from_str(manifest.trim()).unwrap();
    assert_eq!(secret["kind"], "Secret");
    assert_eq!(secret["metadata"]["namespace"], "openshell");
    api.kubectl(&["create", "namespace", "openshell"], None);
    api.kubectl(
        &["apply", "--server-side", "-f", file.to_str().unwrap()],
        None,
    );
    let (_, entry) = read_back(
        &|args| api.kubectl_output(args, None),
        "openshell",
        REGISTRY,
    );
    assert_eq!(entry["password"], PASSWORD, "the file applies as it is");
    assert_eq!(
        std::fs::read_dir(file.parent().unwrap()).unwrap().count(),
        1,
        "no temporary file left beside it"
    );

    // An identity token is no use to the kubelet.
    std::fs::write(
        home.path().join(".docker/config.json"),
        format!(r#"{{"auths": {{"{REGISTRY}": {{"identitytoken": "tok-{PASSWORD}"}}}}}}"#),
    )
    .unwrap();
    let out = run(&mut with_api(&["-n", "openshell"]));
    assert_one_line(
        &out,
        &[&format!(
            "the credential for {REGISTRY} in {} is an identity token",
            home.path().join(".docker/config.json").display()
        )],
    );
}
