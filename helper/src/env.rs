// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The process environment as a plain value. [`Env::from_process`] is the only reader of
//! `std::env` in the helper; everything else takes `&Env`, so tests build one by hand.
//!
//! An empty variable counts as unset everywhere (the XDG rule): `XDG_CACHE_HOME=` and
//! `K8S_DEV_CLUSTER=` mean "use the default", never an empty value.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

/// Host operating system, as far as the helper's decisions care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    MacOs,
    Other,
}

impl Os {
    pub fn current() -> Os {
        if cfg!(target_os = "linux") {
            Os::Linux
        } else if cfg!(target_os = "macos") {
            Os::MacOs
        } else {
            Os::Other
        }
    }
}

/// Everything the helper reads from the environment. Unset and empty variables are `None`.
#[derive(Debug, Clone)]
pub struct Env {
    pub os: Os,
    pub home: Option<PathBuf>,
    pub uid: u32,
    /// `K8S_DEV_ENGINE`, else `CONTAINER_ENGINE` (OpenShell's name for the same choice).
    pub engine: Option<String>,
    pub docker_host: Option<String>,
    pub docker_context: Option<String>,
    /// `DOCKER_CONFIG`: the docker CLI's config directory (default `~/.docker`).
    pub docker_config: Option<PathBuf>,
    pub xdg_runtime_dir: Option<PathBuf>,
    pub xdg_state_home: Option<PathBuf>,
    pub colima_profile: Option<String>,
    pub kubeconfig: Option<String>,
    /// `PATH`, for finding tools (`which_in`) without another reader of the environment.
    pub path: Option<OsString>,
    /// `CARGO_TARGET_DIR`: where the state directory goes by default.
    pub cargo_target_dir: Option<PathBuf>,
    /// The working directory: relative settings (chart, values, Dockerfiles) are read from it.
    pub cwd: Option<PathBuf>,
    /// The git branch of the working directory (`git rev-parse --abbrev-ref HEAD`), read only
    /// when `K8S_DEV_CLUSTER_PER_WORKTREE` asks for per-worktree clusters: it names them.
    pub git_branch: Option<String>,
    /// Every non-empty `K8S_DEV_*` variable, unvalidated: [`crate::settings`] judges them.
    pub vars: BTreeMap<String, String>,
    /// `K8S_DEV_*` variables whose value is not UTF-8 (reported by the settings).
    pub non_utf8: Vec<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn path_var(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

impl Env {
    pub fn from_process() -> Env {
        let mut vars = BTreeMap::new();
        let mut non_utf8 = Vec::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str().filter(|n| n.starts_with("K8S_DEV_")) else {
                continue;
            };
            match value.into_string() {
                Ok(value) if value.is_empty() => {}
                Ok(value) => {
                    vars.insert(name.to_string(), value);
                }
                Err(_) => non_utf8.push(name.to_string()),
            }
        }
        let cwd = std::env::current_dir().ok();
        let per_worktree = vars
            .get("K8S_DEV_CLUSTER_PER_WORKTREE")
            .is_some_and(|v| crate::settings::Rule::Flag.check(v).as_deref() == Ok("1"));
        let git_branch = cwd
            .as_deref()
            .filter(|_| per_worktree)
            .and_then(crate::worktree::branch);
        Env {
            os: Os::current(),
            home: dirs::home_dir(),
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: unsafe { libc::getuid() },
            engine: var("K8S_DEV_ENGINE").or_else(|| var("CONTAINER_ENGINE")),
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: path_var("DOCKER_CONFIG"),
            xdg_runtime_dir: path_var("XDG_RUNTIME_DIR"),
            xdg_state_home: path_var("XDG_STATE_HOME"),
            colima_profile: var("COLIMA_PROFILE"),
            kubeconfig: var("KUBECONFIG"),
            path: std::env::var_os("PATH").filter(|v| !v.is_empty()),
            cargo_target_dir: path_var("CARGO_TARGET_DIR"),
            cwd,
            git_branch,
            vars,
            non_utf8,
        }
    }

    /// An environment with nothing set, for tests to fill in.
    pub fn empty(os: Os) -> Env {
        Env {
            os,
            home: None,
            uid: 1000,
            engine: None,
            docker_host: None,
            docker_context: None,
            docker_config: None,
            xdg_runtime_dir: None,
            xdg_state_home: None,
            colima_profile: None,
            kubeconfig: None,
            path: None,
            cargo_target_dir: None,
            cwd: None,
            git_branch: None,
            vars: BTreeMap::new(),
            non_utf8: Vec::new(),
        }
    }

    /// The `K8S_DEV_*` variable `name`, when set and not empty.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// A copy with `K8S_DEV_*` variables set, for tests: `env.with(&[("K8S_DEV_AGENTS", "2")])`.
    pub fn with(mut self, vars: &[(&str, &str)]) -> Env {
        for (name, value) in vars {
            if value.is_empty() {
                self.vars.remove(*name);
            } else {
                self.vars.insert((*name).to_string(), (*value).to_string());
            }
        }
        self
    }
}

/// Clear every variable clap reads (`#[arg(env = …)]`) that is set but empty, so that `X=` means
/// "unset" for those too instead of a usage error ("a value is required"). Call it first thing in
/// `main`, before any thread exists.
pub fn unset_empty(names: &[&str]) {
    for name in names {
        if std::env::var_os(name).is_some_and(|v| v.is_empty()) {
            // SAFETY: called from `main` before any other thread runs, so nothing reads the
            // environment concurrently.
            unsafe { std::env::remove_var(name) };
        }
    }
}
