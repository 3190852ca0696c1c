// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The providers' engine probe against real engines: running a command in a container through
//! the Docker API (what the "registry reachable from the nodes" check does in each kind node),
//! on dockerd and on Podman. Gated on the variables `tests/support/engines.sh up` prints.

mod common;

use std::time::Duration;

use common::engine_var;
use k8s_dev_helper::engine::Endpoint;
use k8s_dev_helper::provider::checks::{self, ExecOutput};

/// A busybox container on the host's network (so it reaches the test registry on loopback),
/// removed when dropped.
struct Node {
    host: String,
    name: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = common::docker(&self.host, &["rm", "-f", &self.name]);
    }
}

fn node(host: &str) -> Node {
    let image = "k8s-dev-provider-test-node:1";
    let ctx = tempfile::tempdir().unwrap();
    let bin = ctx.path().join("rootfs/bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copying /bin/busybox");
    for applet in ["sh", "sleep", "wget", "echo"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
    std::fs::write(
        ctx.path().join("Dockerfile"),
        "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\n",
    )
    .unwrap();
    let built = common::docker(
        host,
        // --no-cache: dockerd 20.10's legacy builder reused an earlier `COPY rootfs/ /` layer
        // whose symlinks differed (seen here), leaving wget out.
        &[
            "build",
            "--no-cache",
            "-q",
            "-t",
            image,
            ctx.path().to_str().unwrap(),
        ],
    );
    assert!(built.status.success(), "building the stand-in node failed");
    static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("k8s-dev-provider-test-{}-{n}", std::process::id());
    let _ = common::docker(host, &["rm", "-f", &name]);
    let run = common::docker(
        host,
        &[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "host",
            image,
            "sleep",
            "300",
        ],
    );
    assert!(run.status.success(), "starting the stand-in node failed");
    Node {
        host: host.to_string(),
        name,
    }
}

fn endpoint(host: &str) -> Endpoint {
    let path = host.strip_prefix("unix://").expect("a unix:// socket");
    Endpoint::Unix {
        path: path.into(),
        exists: true,
    }
}

fn exec(host: &str, node: &Node, argv: &[&str]) -> ExecOutput {
    let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
    checks::exec(&endpoint(host), &node.name, &argv, Duration::from_secs(20))
        .expect("exec through the engine API")
}

fn exec_reports_output_and_exit_code(host: &str) {
    let node = node(host);
    let out = exec(host, &node, &["sh", "-c", "echo out; echo err >&2; exit 3"]);
    assert_eq!(out.exit_code, 3);
    assert!(out.output.contains("out\n"), "{:?}", out.output);
    assert!(out.output.contains("err\n"), "{:?}", out.output);
}

fn registry_probe_tells_reachable_from_not(host: &str, registry: &str) {
    let node = node(host);
    let url = format!("http://{registry}/v2/");
    let ok = exec(host, &node, &["wget", "-q", "-O", "/dev/null", &url]);
    // Port 1: nothing listens there; the connection is refused.
    let closed = exec(
        host,
        &node,
        &["wget", "-q", "-O", "/dev/null", "http://127.0.0.1:1/v2/"],
    );
    let check = checks::registry_from_nodes(
        &url,
        &[
            ("reachable".into(), Ok(ok)),
            ("unreachable".into(), Ok(closed)),
        ],
    );
    assert_eq!(check.status, k8s_dev_helper::doctor::CheckStatus::Fail);
    assert!(
        check
            .detail
            .starts_with(&format!("{url} does not answer from unreachable: exit 1")),
        "{}",
        check.detail
    );
    assert!(!check.detail.contains("from reachable"), "{}", check.detail);
}

fn missing_container_is_an_error_naming_it(host: &str) {
    let err = checks::exec(
        &endpoint(host),
        "k8s-dev-no-such-node",
        &["true".to_string()],
        Duration::from_secs(5),
    )
    .unwrap_err();
    let text = format!("{err:#}");
    assert!(
        text.starts_with("running true in k8s-dev-no-such-node: "),
        "{text}"
    );
}

#[test]
fn exec_on_dockerd_reports_output_and_exit_code() {
    let Some(host) = engine_var("K8S_DEV_TEST_DOCKER_HOST") else {
        return;
    };
    exec_reports_output_and_exit_code(&host);
    missing_container_is_an_error_naming_it(&host);
}

#[test]
fn exec_on_podman_reports_output_and_exit_code() {
    let Some(host) = engine_var("K8S_DEV_TEST_PODMAN_HOST") else {
        return;
    };
    exec_reports_output_and_exit_code(&host);
    missing_container_is_an_error_naming_it(&host);
}

#[test]
fn registry_check_from_a_node_on_dockerd() {
    let (Some(host), Some(registry)) = (
        engine_var("K8S_DEV_TEST_DOCKER_HOST"),
        engine_var("K8S_DEV_TEST_REGISTRY"),
    ) else {
        return;
    };
    registry_probe_tells_reachable_from_not(&host, &registry);
}

#[test]
fn registry_check_from_a_node_on_podman() {
    let (Some(host), Some(registry)) = (
        engine_var("K8S_DEV_TEST_PODMAN_HOST"),
        engine_var("K8S_DEV_TEST_REGISTRY"),
    ) else {
        return;
    };
    registry_probe_tells_reachable_from_not(&host, &registry);
}
