// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::env::Env;
use crate::kubectl::{Kubectl, Rollout};
use crate::settings::Settings;
use crate::wait;
use crate::wait::net::{self, RegistryProbe};

/// Wait until something is ready
///
/// Probes once and, if ready, returns at once without output. Otherwise prints `waiting up to
/// 2m for <what>…` on stderr, polls (50 ms backoff doubling to 1 s), prints a line whenever the
/// reason changes, and ends with `<what> ready after 3.2s`. On timeout it exits 3 with
/// `timed out after 2m waiting for <what>: <last reason>`.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  k8s-dev-helper wait registry localhost:5000
  k8s-dev-helper wait apiserver --context k3d-openshell-dev --timeout 3m
  k8s-dev-helper wait nodes --count 2 --context k3d-openshell-dev
  k8s-dev-helper wait rollout deployment/openshell -n openshell --json

Exit codes: 0 ready, 3 timed out, 1 any other error (e.g. kubectl missing), 2 usage.")]
pub struct WaitArgs {
    #[command(subcommand)]
    what: What,
    /// How long to wait, e.g. 90s, 2m, 1m30s [default: K8S_DEV_TIMEOUT, else 180s]
    #[arg(long, global = true, value_parser = humantime::parse_duration)]
    timeout: Option<Duration>,
    /// Print {"what","ready","elapsed_ms","last_reason"} on stdout (also on timeout)
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// The container engine's API (the engine `k8s-dev-helper engine` resolves)
    Engine,
    /// An OCI registry: `GET /v2/` answers 200 or 401
    Registry {
        /// `host:port` (plain HTTP) or an http(s):// URL
        target: String,
    },
    /// A TCP port accepting connections
    Tcp {
        /// `host:port`
        address: String,
    },
    /// The Kubernetes API server's /readyz
    Apiserver(KubeArgs),
    /// At least --count nodes registered, all Ready
    Nodes {
        /// How many nodes must be registered
        #[arg(long, default_value_t = 1)]
        count: usize,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// A CustomResourceDefinition with condition Established=True
    Crd {
        /// The CRD's name, e.g. sandboxes.agents.x-k8s.io
        name: String,
        #[command(flatten)]
        kube: KubeArgs,
    },
    /// A deployment, statefulset or daemonset rolled out (kubectl's rollout status rule)
    Rollout {
        /// KIND/NAME, e.g. deployment/openshell or statefulset/openshell
        target: String,
        /// Namespace [default: the context's]
        #[arg(short = 'n', long)]
        namespace: Option<String>,
        /// StatefulSets: delete a pod that is not Ready and of an older revision, which the
        /// StatefulSet would wait for forever (kubernetes/kubernetes#67250)
        #[arg(long)]
        delete_stuck_pods: bool,
        #[command(flatten)]
        kube: KubeArgs,
    },
}

/// Passed through to kubectl.
#[derive(Debug, clap::Args)]
pub struct KubeArgs {
    /// Kubeconfig file for kubectl [default: kubectl's: $KUBECONFIG, else ~/.kube/config]
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Kubeconfig context [default: its current-context]
    #[arg(long)]
    context: Option<String>,
}

impl KubeArgs {
    pub fn kubectl(self) -> anyhow::Result<Kubectl> {
        Kubectl::find(self.kubeconfig, self.context)
    }
}

/// `apiserver (context k3d-x)`: names what a kube wait talks to.
fn kube_what(what: String, kubectl: &Kubectl) -> String {
    match kubectl.context() {
        Some(context) => format!("{what} (context {context})"),
        None => what,
    }
}

type Probe = Box<dyn FnMut(Duration) -> Result<(), String>>;

impl What {
    /// What is awaited (for humans) and its probe. Setup errors (no kubectl, bad target)
    /// fail here, before any waiting.
    fn into_probe(self) -> anyhow::Result<(String, Probe)> {
        Ok(match self {
            What::Engine => (
                "container engine".into(),
                Box::new(|_| {
                    crate::engine::resolve_from_process()
                        .map(drop)
                        .map_err(|err| format!("{err:#}"))
                }),
            ),
            What::Registry { target } => {
                let probe = RegistryProbe::new(&target)?;
                (
                    format!("registry {target}"),
                    Box::new(move |left| probe.probe(left)),
                )
            }
            What::Tcp { address } => (
                format!("tcp {address}"),
                Box::new(move |left| net::probe_tcp(&address, left)),
            ),
            What::Apiserver(kube) => {
                let kubectl = kube.kubectl()?;
                (
                    kube_what("apiserver".into(), &kubectl),
                    Box::new(move |left| kubectl.probe_apiserver(left)),
                )
            }
            What::Nodes { count, kube } => {
                let kubectl = kube.kubectl()?;
                let noun = if count == 1 { "node" } else { "nodes" };
                (
                    kube_what(format!("{count} ready {noun}"), &kubectl),
                    Box::new(move |left| kubectl.probe_nodes(count, left)),
                )
            }
            What::Crd { name, kube } => {
                let kubectl = kube.kubectl()?;
                (
                    kube_what(format!("crd {name}"), &kubectl),
                    Box::new(move |left| kubectl.probe_crd(&name, left)),
                )
            }
            What::Rollout {
                target,
                namespace,
                delete_stuck_pods,
                kube,
            } => {
                let rollout = Rollout {
                    delete_stuck: delete_stuck_pods,
                    ..Rollout::parse(&target, namespace)?
                };
                let kubectl = kube.kubectl()?;
                let mut what = format!("rollout of {target}");
                if let Some(namespace) = &rollout.namespace {
                    what.push_str(&format!(" in {namespace}"));
                }
                (
                    kube_what(what, &kubectl),
                    Box::new(move |left| kubectl.probe_rollout(&rollout, left)),
                )
            }
        })
    }
}

/// The `--json` view; the stderr lines say the same.
#[derive(Debug, Serialize)]
struct Report {
    what: String,
    ready: bool,
    elapsed_ms: u128,
    last_reason: Option<String>,
}

impl WaitArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let timeout = match self.timeout {
            Some(timeout) => timeout,
            None => Settings::resolve(&Env::from_process(), None)?.duration("K8S_DEV_TIMEOUT"),
        };
        let (what, probe) = self.what.into_probe()?;
        let outcome = wait::announced(&what, timeout, probe);
        if self.json {
            let report = Report {
                what: what.clone(),
                ready: outcome.ready,
                elapsed_ms: outcome.elapsed.as_millis(),
                last_reason: outcome.last_reason.clone(),
            };
            println!("{}", serde_json::to_string(&report)?);
        }
        if outcome.ready {
            return Ok(());
        }
        Err(wait::timed_out(&what, timeout, &outcome))
    }
}
