// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `doctor`: check the machine for what the loop needs (engine, tools, free ports, kubeconfig
//! permissions, cgroup delegation for rootless engines, disk space, and the provider's wiring of
//! the registry) and say how to fix each problem.
//!
//! [`report`] is pure over an [`Env`] and a [`System`] (the probes of the host), so every check
//! is unit-tested with a fake; [`HostSystem`] is the real one. One [`Report`] value is rendered
//! both as text ([`Report::render`]) and as JSON (its `Serialize`).

mod checks;
pub mod credentials;
mod system;
pub mod versions;

use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::engine::{ResolveError, Resolved};
use crate::env::Env;

pub use checks::{K3D, TOOLS, ToolSpec, report};
pub use system::HostSystem;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Ok,
    /// Worth a look, but the loop can work.
    Warn,
    /// The loop cannot work until it is fixed; `doctor` exits 1.
    Fail,
    /// Does not apply here.
    Skip,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warn => "warn",
            CheckStatus::Fail => "fail",
            CheckStatus::Skip => "skip",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable identifier: `engine`, `k3d`, `api-port`, `kubeconfig`, …
    pub name: String,
    pub status: CheckStatus,
    pub detail: String,
    /// What to run or change; set for every `fail` and for `warn`s that have one.
    pub fix: Option<String>,
}

impl Check {
    pub fn new(name: &str, status: CheckStatus, detail: String, fix: Option<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            detail,
            fix,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// False when any check failed.
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn new(checks: Vec<Check>) -> Report {
        Report {
            ok: !checks.iter().any(|c| c.status == CheckStatus::Fail),
            checks,
        }
    }

    /// This report with `check` added: the CLI adds the checks whose inputs `Env` lacks.
    pub fn with(self, check: Check) -> Report {
        let mut checks = self.checks;
        checks.push(check);
        Report::new(checks)
    }

    pub fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// The human view: a heading, a blank line, one `  name: status, detail` line per check
    /// (with `    fix: …` under each failure and warning), a blank line and a summary.
    pub fn render(&self) -> String {
        let mut out = String::from("k8s-dev doctor\n\n");
        for check in &self.checks {
            out.push_str(&format!(
                "  {}: {}, {}\n",
                check.name,
                check.status.as_str(),
                check.detail
            ));
            if let (CheckStatus::Fail | CheckStatus::Warn, Some(fix)) = (check.status, &check.fix) {
                out.push_str(&format!("    fix: {fix}\n"));
            }
        }
        let (failed, warned) = (self.count(CheckStatus::Fail), self.count(CheckStatus::Warn));
        let summary = match (failed, warned) {
            (0, 0) => "all checks passed".to_string(),
            (0, w) => format!("no failures, {}", plural(w, "warning")),
            (f, w) => format!("{}, {}", plural(f, "failed check"), plural(w, "warning")),
        };
        out.push_str(&format!("\n{summary}\n"));
        out
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// A tool on `PATH`, with the first line of its version output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tool {
    Missing,
    Found {
        path: PathBuf,
        version: Result<String, String>,
    },
}

/// The host, as the checks see it. [`HostSystem`] asks the real one.
pub trait System {
    fn engine(&self, env: &Env) -> Result<Resolved, ResolveError>;
    /// Whether the engine runs rootless; asked only where it matters (Linux).
    fn rootless(&self, engine: &Resolved) -> Result<bool, String>;
    /// Find `name` on `env.path` and run it with `args` for its version.
    fn tool(&self, env: &Env, name: &str, args: &[&str]) -> Tool;
    /// Bind and release a TCP listener on `address:port`.
    fn bind(&self, address: &str, port: u16) -> io::Result<()>;
    /// Permission bits of `path` (following symlinks), `None` when it does not exist.
    fn mode(&self, path: &Path) -> Option<u32>;
    fn read(&self, path: &Path) -> Option<String>;
    /// Bytes available to an unprivileged user on the filesystem holding `path`.
    fn free_bytes(&self, path: &Path) -> io::Result<u64>;
    /// A file's text, or why it could not be read (the k3s provider's files).
    fn read_file(&self, path: &Path) -> io::Result<String>;
    /// The running node containers of kind cluster `cluster`.
    fn kind_nodes(&self, engine: &Resolved, cluster: &str) -> Result<Vec<String>, String>;
    /// Run `argv` in a running container.
    fn exec(
        &self,
        engine: &Resolved,
        container: &str,
        argv: &[String],
    ) -> Result<crate::provider::checks::ExecOutput, String>;
    /// Whether the registry at `url` (its `/v2/`) answers from the host: 200, or 401 asking for
    /// credentials.
    fn registry_answers(&self, url: &str) -> Result<(), String>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, status: CheckStatus, fix: Option<&str>) -> Check {
        Check {
            name: name.into(),
            status,
            detail: format!("{name} detail"),
            fix: fix.map(String::from),
        }
    }

    #[test]
    fn report_fails_when_any_check_fails() {
        let report = Report::new(vec![
            check("engine", CheckStatus::Ok, None),
            check("k3d", CheckStatus::Fail, Some("mise install")),
        ]);
        assert!(!report.ok);
        let report = Report::new(vec![check("api-port", CheckStatus::Warn, Some("x"))]);
        assert!(report.ok);
    }

    #[test]
    fn render_prints_heading_lines_fixes_and_summary() {
        let report = Report::new(vec![
            check("engine", CheckStatus::Ok, None),
            check("k3d", CheckStatus::Fail, Some("mise install")),
            check("api-port", CheckStatus::Warn, Some("set K8S_DEV_API_PORT")),
            check("cgroup-delegation", CheckStatus::Skip, None),
        ]);
        assert_eq!(
            report.render(),
            "k8s-dev doctor\n\
             \n  engine: ok, engine detail\
             \n  k3d: fail, k3d detail\
             \n    fix: mise install\
             \n  api-port: warn, api-port detail\
             \n    fix: set K8S_DEV_API_PORT\
             \n  cgroup-delegation: skip, cgroup-delegation detail\
             \n\n1 failed check, 1 warning\n"
        );
    }

    #[test]
    fn render_summary_when_all_pass() {
        let report = Report::new(vec![check("engine", CheckStatus::Ok, None)]);
        assert!(report.render().ends_with("\n\nall checks passed\n"));
    }

    #[test]
    fn json_has_name_status_detail_fix() {
        let report = Report::new(vec![check("k3d", CheckStatus::Fail, Some("mise install"))]);
        assert_eq!(
            serde_json::to_string(&report).unwrap(),
            r#"{"ok":false,"checks":[{"name":"k3d","status":"fail","detail":"k3d detail","fix":"mise install"}]}"#
        );
    }
}
