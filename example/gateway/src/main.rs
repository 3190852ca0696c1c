// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Stand-in for OpenShell's gateway, under its package and binary names (`openshell-server`,
//! `openshell-gateway`) and with the subset of its command line and config file the dev loop
//! uses: just enough of it for the loop to have something real to build, publish, deploy and
//! probe. An HTTP API creates sandbox pods through a Kubernetes driver; an optional second
//! port serves the kubelet's probes. See `--help` for flags, variables and config keys.

mod api;
mod driver;
mod kube_driver;
mod pod;
mod settings;
mod version;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::driver::{Driver, Unavailable};
use crate::settings::{Command, Settings};

fn main() -> ExitCode {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    let read = |path: &std::path::Path| std::fs::read_to_string(path);
    let settings = match settings::parse(std::env::args().skip(1), &env, read) {
        Ok(Command::Run(settings)) => settings,
        Ok(Command::Help) => {
            print!("{}", settings::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(Command::Version) => {
            println!("{}", version::BUILD);
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            let usage = err.downcast_ref::<settings::UsageError>().is_some();
            return ExitCode::from(if usage { 2 } else { 1 });
        }
    };
    // One thread is plenty for a demo API, and keeps the pod's footprint small.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match runtime.block_on(serve(*settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> Result<()> {
    eprintln!("{}", version::BUILD);
    // Installed first, so a SIGTERM during start-up is a clean stop rather than a kill.
    let signals = Signals::install()?;
    let driver: Arc<dyn Driver> =
        match kube_driver::KubeDriver::connect(settings.sandbox.clone()).await {
            Ok(driver) => {
                eprintln!(
                    "kubernetes driver: sandboxes in namespace {}",
                    settings.sandbox.namespace
                );
                Arc::new(driver)
            }
            Err(reason) => {
                // Keep serving health and version: a gateway that exits here is harder to debug
                // than one whose /readyz and sandbox endpoints say what is missing.
                eprintln!("warning: {reason}; sandbox endpoints answer 503");
                Arc::new(Unavailable { reason })
            }
        };
    if let Err(reason) = settings.sandbox.images() {
        eprintln!("warning: {reason}; creating sandboxes answers 503");
    }

    eprintln!(
        "TLS disabled — listening on plaintext HTTP; log level {}",
        settings.log_level
    );
    if settings.allow_unauthenticated_users {
        eprintln!(
            "warning: unauthenticated user access enabled — only use this for trusted local development"
        );
    }
    if let Some(scheme) = settings.db_scheme() {
        eprintln!("database: {scheme} URL accepted; the stand-in keeps no state of its own");
    }

    let api_addr = SocketAddr::new(settings.bind, settings.port);
    let api = TcpListener::bind(api_addr)
        .await
        .with_context(|| format!("listening on {api_addr}; pass another --port"))?;
    let health = match settings.health {
        Some(addr) => Some(
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr}; pass another --health-port"))?,
        ),
        None => None,
    };
    let mut listening = format!("listening: api http://{}", api.local_addr()?);
    if let Some(health) = &health {
        listening += &format!(" health http://{}", health.local_addr()?);
    }
    eprintln!("{listening}");

    let (stop_tx, stop_rx) = watch::channel(false);
    // The API port answers /healthz and /readyz too, as OpenShell's does; the dedicated
    // listener exists for probes that must not queue behind API traffic.
    let api_server = axum::serve(api, api::api_router(driver.clone()))
        .with_graceful_shutdown(stopped(stop_rx.clone()));
    let health_server = async move {
        match health {
            Some(health) => {
                axum::serve(health, api::health_router(driver))
                    .with_graceful_shutdown(stopped(stop_rx))
                    .await
            }
            None => Ok(()),
        }
    };
    tokio::spawn(async move {
        let signal = signals.recv().await;
        eprintln!("received {signal}, shutting down");
        let _ = stop_tx.send(true);
    });
    let (api_result, health_result) = tokio::join!(api_server, health_server);
    api_result.context("serving the API")?;
    health_result.context("serving health")?;
    Ok(())
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

/// SIGTERM is how the kubelet stops the pod; SIGINT is Ctrl-C out of the cluster.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
}

impl Signals {
    fn install() -> Result<Self> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Self {
            term: signal(SignalKind::terminate()).context("installing the SIGTERM handler")?,
            int: signal(SignalKind::interrupt()).context("installing the SIGINT handler")?,
        })
    }

    async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
