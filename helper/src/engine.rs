// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Container engine resolution (not implemented yet). The contract other modules rely on:
//! [`resolve_from_process`] returns the chosen engine after its API answered a ping, or an
//! error whose message names the fix.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Docker,
    Podman,
}

/// The engine chosen, as printed by `k8s-dev-helper engine --json`.
#[derive(Debug, Clone, Serialize)]
pub struct Resolved {
    pub engine: Engine,
    /// `unix:///…` or `tcp://…`, usable as `DOCKER_HOST`.
    pub host: String,
    /// Which rule found it, e.g. `DOCKER_HOST`, `docker-context:colima`, `xdg-runtime-dir`.
    pub source: String,
    /// The server version the API reported.
    pub version: String,
}

/// Resolve the engine from the process environment, pinging each candidate.
pub fn resolve_from_process() -> anyhow::Result<Resolved> {
    anyhow::bail!("engine resolution is not implemented yet")
}
