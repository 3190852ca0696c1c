// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The supervisor's identity, fixed at build time by `build.rs`: printed by `--version` and
//! once at start, so `kubectl logs` shows which build a sandbox runs.

pub const NAME: &str = env!("CARGO_BIN_NAME");

/// `openshell-sandbox 0.1.0 (git <sha>, built <RFC 3339 time>)`
pub fn line() -> String {
    format!(
        "{NAME} {} (git {}, built {})",
        env!("CARGO_PKG_VERSION"),
        env!("BUILD_GIT_SHA"),
        env!("BUILD_TIME")
    )
}
