// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Command-line parsing and dispatch. One module per subcommand; each owns its `clap::Args`
//! and a `run`. Results go to stdout, progress and errors to stderr.

mod bootstrap;
mod credentials;
mod doctor;
mod down;
mod engine;
mod image;
mod kubeconfig;
mod ports;
mod registry;
mod settings;
mod status;
pub(crate) mod up;
pub(crate) mod wait;

use clap::{CommandFactory, Parser, Subcommand};

/// Helper for the k8s-dev local Kubernetes loop: finds the container engine, merges
/// kubeconfigs safely, waits for readiness, checks the machine and publishes images
/// without a container engine.
#[derive(Debug, Parser)]
#[command(name = "k8s-dev-helper", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Engine(engine::EngineArgs),
    #[command(subcommand)]
    Kubeconfig(kubeconfig::KubeconfigCommand),
    Wait(wait::WaitArgs),
    Doctor(doctor::DoctorArgs),
    #[command(subcommand)]
    Image(image::ImageCommand),
    #[command(subcommand)]
    Up(up::UpCommand),
    #[command(subcommand)]
    Down(down::DownCommand),
    #[command(subcommand)]
    Bootstrap(bootstrap::BootstrapCommand),
    #[command(subcommand)]
    Ports(ports::PortsCommand),
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    Status(status::StatusArgs),
    Settings(settings::SettingsArgs),
}

/// Parse the command line. A variable clap reads (`--cache-dir` from `K8S_DEV_CACHE_DIR`, …)
/// that is set but empty counts as unset, as everywhere in the helper, instead of being a
/// usage error.
pub fn parse() -> Cli {
    let mut names = Vec::new();
    env_names(&Cli::command(), &mut names);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    crate::env::unset_empty(&names);
    Cli::parse()
}

fn env_names(command: &clap::Command, out: &mut Vec<String>) {
    for arg in command.get_arguments() {
        if let Some(name) = arg.get_env() {
            out.push(name.to_string_lossy().into_owned());
        }
    }
    for sub in command.get_subcommands() {
        env_names(sub, out);
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Engine(args) => args.run(),
        Command::Kubeconfig(cmd) => cmd.run(),
        Command::Wait(args) => args.run(),
        Command::Doctor(args) => args.run(),
        Command::Image(cmd) => cmd.run(),
        Command::Up(cmd) => cmd.run(),
        Command::Down(cmd) => cmd.run(),
        Command::Bootstrap(cmd) => cmd.run(),
        Command::Ports(cmd) => cmd.run(),
        Command::Registry(cmd) => cmd.run(),
        Command::Status(args) => args.run(),
        Command::Settings(args) => args.run(),
    }
}
