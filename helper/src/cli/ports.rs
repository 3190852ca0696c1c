// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use anyhow::Result;

use crate::ports;

/// Check host ports before anything is created
#[derive(Debug, clap::Subcommand)]
pub enum PortsCommand {
    /// Exit 1 naming the port and its setting when a port is invalid, privileged or in use
    #[command(
        after_long_help = "Example:\n  k8s-dev-helper ports check 6550=K8S_DEV_API_PORT 8080=K8S_DEV_LB_PORT"
    )]
    Check {
        /// Address the ports will be bound on
        #[arg(long, env = "K8S_DEV_BIND_ADDRESS", default_value = "127.0.0.1")]
        bind: String,
        /// Only validate the numbers (1024..=65535, no duplicates); do not try to bind
        #[arg(long)]
        no_bind: bool,
        /// PORT=SETTING pairs; the setting is named in the error
        #[arg(required = true, value_name = "PORT=SETTING")]
        ports: Vec<String>,
    },
}

impl PortsCommand {
    pub fn run(self) -> Result<()> {
        let PortsCommand::Check {
            bind,
            no_bind,
            ports: specs,
        } = self;
        let bind = ports::parse_bind(&bind)?;
        let wanted = specs
            .iter()
            .map(|s| ports::parse_wanted(s))
            .collect::<Result<Vec<_>>>()?;
        if no_bind {
            ports::check(bind, &wanted, |_| Ok(()))
        } else {
            ports::check(bind, &wanted, ports::bind_probe)
        }
    }
}
