// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The process environment as a plain value. [`Env::from_process`] is the only reader of
//! `std::env` in the helper; everything else takes `&Env`, so tests build one by hand.

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
    pub colima_profile: Option<String>,
    pub kubeconfig: Option<String>,
    /// `PATH`, for finding tools (`which_in`) without another reader of the environment.
    pub path: Option<OsString>,
    /// `K8S_DEV_BIND_ADDRESS`: the host address every published port binds to.
    pub bind_address: Option<String>,
    /// `K8S_DEV_API_PORT`, `K8S_DEV_REGISTRY_PORT`, `K8S_DEV_LB_PORT`, unparsed: the checks that
    /// use them report a bad value by name.
    pub api_port: Option<String>,
    pub registry_port: Option<String>,
    pub lb_port: Option<String>,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Env {
    pub fn from_process() -> Env {
        Env {
            os: Os::current(),
            home: dirs::home_dir(),
            // SAFETY: getuid has no preconditions and cannot fail.
            uid: unsafe { libc::getuid() },
            engine: var("K8S_DEV_ENGINE").or_else(|| var("CONTAINER_ENGINE")),
            docker_host: var("DOCKER_HOST"),
            docker_context: var("DOCKER_CONTEXT"),
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            colima_profile: var("COLIMA_PROFILE"),
            kubeconfig: var("KUBECONFIG"),
            path: std::env::var_os("PATH").filter(|v| !v.is_empty()),
            bind_address: var("K8S_DEV_BIND_ADDRESS"),
            api_port: var("K8S_DEV_API_PORT"),
            registry_port: var("K8S_DEV_REGISTRY_PORT"),
            lb_port: var("K8S_DEV_LB_PORT"),
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
            colima_profile: None,
            kubeconfig: None,
            path: None,
            bind_address: None,
            api_port: None,
            registry_port: None,
            lb_port: None,
        }
    }
}
