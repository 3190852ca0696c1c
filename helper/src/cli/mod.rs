// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Command-line parsing and dispatch. One module per subcommand; each owns its `clap::Args`
//! and a `run`. Results go to stdout, progress and errors to stderr.

pub(crate) mod cluster;
mod credentials;
mod doctor;
mod engine;
mod image;
mod kubeconfig;
mod ports;
mod registry;
mod status;
mod wait;

use clap::{Parser, Subcommand};

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
    Cluster(cluster::ClusterCommand),
    #[command(subcommand)]
    Ports(ports::PortsCommand),
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    Status(status::StatusArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Engine(args) => args.run(),
        Command::Kubeconfig(cmd) => cmd.run(),
        Command::Wait(args) => args.run(),
        Command::Doctor(args) => args.run(),
        Command::Image(cmd) => cmd.run(),
        Command::Cluster(cmd) => cmd.run(),
        Command::Ports(cmd) => cmd.run(),
        Command::Registry(cmd) => cmd.run(),
        Command::Status(args) => args.run(),
    }
}
