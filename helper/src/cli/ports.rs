// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use anyhow::Result;

use crate::env::Env;
use crate::ports;
use crate::settings::Settings;

/// Check host ports before something binds them
#[derive(Debug, clap::Subcommand)]
pub enum PortsCommand {
    /// Exit 1 naming the port and its setting when a port is invalid, privileged or in use
    #[command(
        after_long_help = "Example:\n  k8s-dev-helper ports check 18082=K8S_DEV_GATEWAY_PORT"
    )]
    Check {
        /// Address the ports will be bound on [default: K8S_DEV_BIND_ADDRESS, else 127.0.0.1]
        #[arg(long)]
        bind: Option<String>,
        /// PORT=SETTING pairs; the setting is named in the error
        #[arg(required = true, value_name = "PORT=SETTING")]
        ports: Vec<String>,
    },
}

impl PortsCommand {
    pub fn run(self) -> Result<()> {
        let PortsCommand::Check { bind, ports: specs } = self;
        let bind = match bind {
            Some(bind) => ports::parse_bind(&bind)?,
            None => ports::parse_bind(
                Settings::resolve(&Env::from_process(), None)?.get("K8S_DEV_BIND_ADDRESS"),
            )?,
        };
        let wanted = specs
            .iter()
            .map(|s| ports::parse_wanted(s))
            .collect::<Result<Vec<_>>>()?;
        ports::check(bind, &wanted, ports::bind_probe)
    }
}
