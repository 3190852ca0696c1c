// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

/// Build and push images without a container engine (not implemented yet)
#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    /// (not implemented yet)
    Publish,
}

impl ImageCommand {
    pub fn run(self) -> anyhow::Result<()> {
        anyhow::bail!("not implemented yet")
    }
}
