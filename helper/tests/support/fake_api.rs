// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `tests/support/fake-kube-api.py` for the helper's tests, driven by the real kubectl.

#![allow(dead_code)] // each test binary uses a different subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use super::common::no_skip;

/// True when python3 and kubectl are on PATH; otherwise says why the test skips (or fails the
/// test under K8S_DEV_TEST_NO_SKIP=1).
pub fn have_kube_tools() -> bool {
    for tool in ["python3", "kubectl"] {
        if which::which(tool).is_err() {
            let reason = format!("{tool} is not on PATH (CI installs it)");
            assert!(!no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
            eprintln!("SKIP: {reason}");
            return false;
        }
    }
    true
}

/// A running fake API server, stopped (by its PID) on drop.
pub struct FakeApi {
    child: Child,
    pub port: u16,
    /// Its cluster, user and context are all named `fake`.
    pub kubeconfig: PathBuf,
    /// The HOME kubectl runs with (its own discovery cache).
    pub home: PathBuf,
}

impl FakeApi {
    pub fn start(home: &Path, args: &[&str]) -> FakeApi {
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/support/fake-kube-api.py");
        let kubeconfig = home.join("fake-kubeconfig");
        let mut child = Command::new("python3")
            .arg(script)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting fake-kube-api.py");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("listening on http://127.0.0.1:")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .parse()
            .unwrap();
        FakeApi {
            child,
            port,
            kubeconfig,
            home: home.to_path_buf(),
        }
    }

    /// POST a control request (`/_fake/...`), returning the JSON state it answers.
    pub fn control(&self, path_and_query: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            stream,
            "POST {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        response
            .split("\r\n\r\n")
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    /// Run the real kubectl against this server with its own HOME (discovery cache); it must
    /// succeed.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) {
        let out = self.kubectl_output(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Run the real kubectl against this server, whatever it answers.
    pub fn kubectl_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut child = Command::new("kubectl")
            .env("HOME", &self.home)
            .env_remove("KUBECONFIG")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.unwrap_or("").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
