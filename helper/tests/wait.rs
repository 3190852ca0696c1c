// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper wait …` run as a binary: against the test registry, closed ports, a dead
//! engine socket, and `tests/support/fake-kube-api.py` driven by the real kubectl.

mod common;
#[path = "support/fake_api.rs"]
mod fake_api;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, ChildStderr, Command, Stdio};

use common::{engine_var, helper, run, stderr, stdout};
use fake_api::{FakeApi, have_kube_tools};
use serde::Deserialize;

/// The `--json` report, pinned field by field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    what: String,
    ready: bool,
    elapsed_ms: u64,
    last_reason: Option<String>,
}

/// A port nothing listens on (bound, then released).
fn closed_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn wait_registry_is_quiet_when_ready() {
    let Some(registry) = engine_var("K8S_DEV_TEST_REGISTRY") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let out = run(helper(home.path()).args(["wait", "registry", &registry, "--json"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "", "ready at the first probe: no output");
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.what, format!("registry {registry}"));
    assert!(report.ready);
    assert_eq!(report.last_reason, None);

    let out = run(helper(home.path()).args(["wait", "registry", &format!("http://{registry}/")]));
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn wait_tcp_on_closed_port_times_out_with_the_reason() {
    let home = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", closed_port());
    let out = run(helper(home.path()).args(["wait", "tcp", &address, "--timeout", "1s"]));
    assert_eq!(out.status.code(), Some(3));
    let reason = format!("connecting to {address}: Connection refused (os error 111)");
    assert_eq!(
        stderr(&out),
        format!(
            "waiting up to 1s for tcp {address}… ({reason})\nerror: timed out after 1s waiting for tcp {address}: {reason}\n"
        )
    );

    let out =
        run(helper(home.path()).args(["wait", "--json", "--timeout", "300ms", "tcp", &address]));
    assert_eq!(out.status.code(), Some(3));
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.what, format!("tcp {address}"));
    assert!(!report.ready);
    assert!(report.elapsed_ms >= 300);
    assert_eq!(report.last_reason.as_deref(), Some(reason.as_str()));
}

#[test]
fn wait_registry_on_closed_port_times_out() {
    let home = tempfile::tempdir().unwrap();
    let address = format!("127.0.0.1:{}", closed_port());
    let out = run(helper(home.path()).args(["wait", "registry", &address, "--timeout", "500ms"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(&format!(
            "error: timed out after 500ms waiting for registry {address}: GET http://{address}/v2/: "
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wait_engine_on_dead_socket_times_out() {
    let home = tempfile::tempdir().unwrap();
    let sock = home.path().join("dead.sock");
    let out = run(helper(home.path())
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .args(["wait", "engine", "--timeout", "1s"]));
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.starts_with("waiting up to 1s for container engine… ("),
        "{err}"
    );
    assert!(
        err.contains("\nerror: timed out after 1s waiting for container engine: "),
        "{err}"
    );
}

#[test]
fn wait_rejects_bad_targets_before_waiting() {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper(home.path()).args(["wait", "rollout", "web"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: rollout target \"web\" is not KIND/NAME; fix: pass e.g. deployment/openshell\n"
    );
    let out = run(helper(home.path()).args(["wait", "tcp", "x:1", "--timeout", "soon"]));
    assert_eq!(out.status.code(), Some(2), "usage error");
}

#[test]
fn kube_waits_need_kubectl() {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper(home.path())
        .env("PATH", home.path())
        .args(["wait", "apiserver"]));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        "error: kubectl not found on PATH; fix: run `mise install` (or install kubectl)\n"
    );
}

// ---- against fake-kube-api.py with the real kubectl ------------------------------------------

impl FakeApi {
    /// `k8s-dev-helper wait <args> --kubeconfig <fake> …` as a command.
    fn wait_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = helper(&self.home);
        cmd.arg("wait")
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig);
        cmd
    }
}

/// A wait running in the background whose stderr is read line by line, so a test can change
/// the server's state exactly when the wait has reported the previous one.
struct Background {
    child: Child,
    lines: BufReader<ChildStderr>,
}

impl Background {
    fn spawn(mut cmd: Command) -> Background {
        let mut child = cmd
            .stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = BufReader::new(child.stderr.take().unwrap());
        Background { child, lines }
    }

    fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).unwrap();
        eprintln!("wait> {line}");
        line
    }

    /// Exit code and the rest of stderr.
    fn finish(mut self) -> (Option<i32>, String) {
        let mut rest = String::new();
        self.lines.read_to_string(&mut rest).unwrap();
        eprintln!("wait> {rest}");
        (self.child.wait().unwrap().code(), rest)
    }
}

#[test]
fn wait_apiserver_fast_path_prints_nothing() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &[]);
    let out = run(&mut api.wait_cmd(&["apiserver", "--context", "fake", "--json"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.what, "apiserver (context fake)");
    assert!(report.ready);
}

#[test]
fn wait_apiserver_sees_readyz_turn_ready() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &["--not-ready"]);
    let mut wait = Background::spawn(api.wait_cmd(&["apiserver", "--timeout", "60s"]));
    let first = wait.next_line();
    assert!(
        first.starts_with("waiting up to 1m for apiserver… (Error from server (InternalError): "),
        "{first}"
    );
    assert!(first.contains("not ready yet"), "{first}");
    api.control("/_fake/readyz?ready=true");
    let (code, rest) = wait.finish();
    assert_eq!(code, Some(0));
    assert!(rest.starts_with("apiserver ready after "), "{rest}");
    assert_eq!(rest.lines().count(), 1);
}

#[test]
fn wait_apiserver_times_out_with_kubectl_reason() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &["--not-ready"]);
    let out = run(&mut api.wait_cmd(&["apiserver", "--timeout", "1s"]));
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(
        err.contains("\nerror: timed out after 1s waiting for apiserver: Error from server (InternalError): an error on the server (\"[-]poststarthook/fake-kube-api failed: not ready yet"),
        "{err}"
    );
}

#[test]
fn wait_apiserver_reports_refused_connection() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let kubeconfig = home.path().join("kc");
    let port = closed_port();
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{}}\n"),
    )
    .unwrap();
    let out = run(helper(home.path())
        .args(["wait", "apiserver", "--timeout", "1s", "--kubeconfig"])
        .arg(&kubeconfig));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).ends_with(&format!(
            "waiting for apiserver: The connection to the server 127.0.0.1:{port} was refused - did you specify the right host or port?\n"
        )),
        "{}",
        stderr(&out)
    );
}

#[test]
fn wait_nodes_reports_each_state_change() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &["--nodes", "1", "--node-not-ready"]);
    let mut wait = Background::spawn(api.wait_cmd(&["nodes", "--count", "2", "--timeout", "60s"]));
    assert_eq!(
        wait.next_line(),
        "waiting up to 1m for 2 ready nodes… (1 node registered, want 2)\n"
    );
    api.control("/_fake/nodes?count=2");
    let second = wait.next_line();
    assert!(
        second.starts_with("still waiting for 2 ready nodes after "),
        "{second}"
    );
    assert!(
        second.ends_with("s: 1 of 2 nodes ready (not ready: fake-node-0)\n"),
        "{second}"
    );
    api.control("/_fake/nodes?ready=true");
    let (code, rest) = wait.finish();
    assert_eq!(code, Some(0));
    assert!(rest.starts_with("2 ready nodes ready after "), "{rest}");
}

#[test]
fn wait_nodes_times_out_when_too_few() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &["--nodes", "2"]);
    let out = run(&mut api.wait_cmd(&["nodes", "--count", "3", "--timeout", "1s", "--json"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).ends_with(
            "error: timed out after 1s waiting for 3 ready nodes: 2 nodes registered, want 3\n"
        ),
        "{}",
        stderr(&out)
    );
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        report.last_reason.as_deref(),
        Some("2 nodes registered, want 3")
    );
    let out = run(&mut api.wait_cmd(&["nodes", "--count", "2"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: sandboxes.agents.example.com
  annotations: {fake-kube-api/hold: \"true\"}
spec:
  group: agents.example.com
  names: {kind: Sandbox, plural: sandboxes, singular: sandbox}
  scope: Namespaced
  versions:
  - name: v1alpha1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
";

#[test]
fn wait_crd_until_established() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &[]);
    let out = run(&mut api.wait_cmd(&["crd", "sandboxes.agents.example.com", "--timeout", "1s"]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).ends_with("error: timed out after 1s waiting for crd sandboxes.agents.example.com: Error from server (NotFound): customresourcedefinitions.apiextensions.k8s.io \"sandboxes.agents.example.com\" not found\n"),
        "{}",
        stderr(&out)
    );

    api.kubectl(&["apply", "-f", "-"], Some(CRD));
    let mut wait = Background::spawn(api.wait_cmd(&["crd", "sandboxes.agents.example.com"]));
    assert_eq!(
        wait.next_line(),
        "waiting up to 3m for crd sandboxes.agents.example.com… (Established is False: Installing)\n"
    );
    api.control("/_fake/hold?path=/apis/apiextensions.k8s.io/v1/customresourcedefinitions/sandboxes.agents.example.com&hold=false");
    let (code, rest) = wait.finish();
    assert_eq!(code, Some(0));
    assert!(
        rest.starts_with("crd sandboxes.agents.example.com ready after "),
        "{rest}"
    );
}

const WORKLOADS: &str = "apiVersion: v1
kind: Namespace
metadata: {name: openshell}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: openshell
  annotations: {fake-kube-api/hold: \"true\"}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: 'localhost:5000/web:dev'}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: openshell
  namespace: openshell
  annotations: {fake-kube-api/hold: \"true\"}
spec:
  replicas: 1
  serviceName: openshell
  selector: {matchLabels: {app: openshell}}
  template:
    metadata: {labels: {app: openshell}}
    spec:
      containers: [{name: gateway, image: 'localhost:5000/gateway:dev'}]
";

#[test]
fn wait_rollout_of_deployment_and_statefulset() {
    if !have_kube_tools() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let api = FakeApi::start(home.path(), &[]);
    api.kubectl(&["apply", "-f", "-"], Some(WORKLOADS));

    let out = run(&mut api.wait_cmd(&[
        "rollout",
        "deployment/web",
        "-n",
        "openshell",
        "--timeout",
        "1s",
    ]));
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).ends_with("error: timed out after 1s waiting for rollout of deployment/web in openshell: 0 of 2 new replicas updated\n"),
        "{}",
        stderr(&out)
    );

    let mut wait = Background::spawn(api.wait_cmd(&[
        "rollout",
        "deployment/web",
        "--namespace",
        "openshell",
        "--context",
        "fake",
    ]));
    assert_eq!(
        wait.next_line(),
        "waiting up to 3m for rollout of deployment/web in openshell (context fake)… (0 of 2 new replicas updated)\n"
    );
    api.kubectl(
        &[
            "annotate",
            "-n",
            "openshell",
            "deployment/web",
            "fake-kube-api/hold-",
        ],
        None,
    );
    let (code, rest) = wait.finish();
    assert_eq!(code, Some(0));
    assert!(
        rest.starts_with("rollout of deployment/web in openshell (context fake) ready after "),
        "{rest}"
    );

    let mut wait =
        Background::spawn(api.wait_cmd(&["rollout", "statefulset/openshell", "-n", "openshell"]));
    assert_eq!(
        wait.next_line(),
        "waiting up to 3m for rollout of statefulset/openshell in openshell… (0 of 1 pods ready)\n"
    );
    api.control(
        "/_fake/hold?path=/apis/apps/v1/namespaces/openshell/statefulsets/openshell&hold=false",
    );
    let (code, rest) = wait.finish();
    assert_eq!(code, Some(0));
    assert!(
        rest.starts_with("rollout of statefulset/openshell in openshell ready after "),
        "{rest}"
    );

    let out = run(&mut api.wait_cmd(&["rollout", "sts/openshell", "-n", "openshell", "--json"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stderr(&out), "");
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(report.ready);
}
