// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

/// (not implemented yet)
#[derive(Debug, clap::Args)]
pub struct EngineArgs {}

impl EngineArgs {
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
