// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

/// Merge and remove kubeconfig entries (not implemented yet)
#[derive(Debug, clap::Subcommand)]
pub enum KubeconfigCommand {
    /// (not implemented yet)
    Merge,
}

impl KubeconfigCommand {
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
