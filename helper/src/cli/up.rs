// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::io::Write;
use std::os::fd::RawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::engine::shell_quote;
use crate::env::Env;
use crate::kubeapi::{self, KubeApi};
use crate::kubeconfig::{self, Files, MergeOptions, Summary, Written};
use crate::kubectl::Kubectl;
use crate::lock::{self, Holder};
use crate::observe::{self, EngineInUse};
use crate::plan::{self, Blockers, Mirrors};
use crate::provider::kind::{self, KIND_VERSION, KindCluster};
use crate::provider::{Provider, Registry, k3s, live};
use crate::settings::Settings;
use crate::wait::{self, SystemClock, net::RegistryProbe};

/// The steps of `k8s:dev:up` that need more than glue, around what the task script does with
/// the provider's CLI
///
/// `plan` reads what exists and decides; the script creates or starts what the plan says (with
/// `config`, `start` and `mirrors` for the parts that go through the engine's API); `finish`
/// writes the kubeconfigs, waits until everything is ready and publishes the registry
/// ConfigMap. Settings come from the environment (`k8s-dev-helper settings`).
#[derive(Debug, clap::Subcommand)]
pub enum UpCommand {
    Plan(PlanArgs),
    Config,
    Start,
    Mirrors,
    Finish(FinishArgs),
}

impl UpCommand {
    pub fn run(self) -> Result<()> {
        match self {
            UpCommand::Plan(args) => args.run(),
            UpCommand::Config => kind_config(),
            UpCommand::Start => start_nodes(),
            UpCommand::Mirrors => mirrors(),
            UpCommand::Finish(args) => args.run(),
        }
    }
}

/// Decide what `up` creates or starts, from the provider's cluster (k3d's node list, kind's
/// node containers, the attached k3s's API), the registry container, the host ports and the
/// kubeconfigs; refuse, one `error:` line per reason, when it cannot go ahead
///
/// Prints the engine's exports (as `k8s-dev-helper engine`, and kind's own for Podman) and
/// PLAN_NETWORK (create|connect|none), PLAN_REGISTRY, PLAN_CLUSTER (create|start|none),
/// PLAN_MIRRORS (write|none), PLAN_KUBECONFIG (refresh|merge|none), PLAN_CONFIGMAP
/// (publish|none), PLAN_REGISTRY_WAS and PLAN_CLUSTER_WAS for `eval`. In remote mode
/// (K8S_DEV_CONTEXT) it only checks the context and the registry settings.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Example:
  exec 9<>\"$K8S_DEV_LOCK_FILE\"; eval \"$(k8s-dev-helper up plan --lock-fd 9 --lock-pid $$)\"")]
pub struct PlanArgs {
    /// Print {"engine", "observed", "plan"} as JSON instead
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    lock: LockArgs,
}

/// Taking the up/down lock before anything is read.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// Take the per-user up/down lock on this open descriptor of K8S_DEV_LOCK_FILE (held until
    /// the caller closes it or exits), waiting up to K8S_DEV_LOCK_TIMEOUT
    #[arg(long, value_name = "FD")]
    lock_fd: Option<RawFd>,
    /// The pid the lock names as its holder [default: the parent process]
    #[arg(long, value_name = "PID", requires = "lock_fd")]
    lock_pid: Option<u32>,
}

impl LockArgs {
    pub fn take(&self, s: &Settings, env: &Env, verb: &str) -> Result<()> {
        let Some(fd) = self.lock_fd else {
            return Ok(());
        };
        let holder = Holder {
            // SAFETY: getppid cannot fail.
            pid: self
                .lock_pid
                .unwrap_or_else(|| unsafe { libc::getppid() } as u32),
            user: lock::user_name(env.uid),
            what: format!("{verb} of cluster {}", s.get("K8S_DEV_CLUSTER")),
        };
        lock::acquire(
            fd,
            Path::new(s.get("K8S_DEV_LOCK_FILE")),
            env.uid,
            &holder,
            s.duration("K8S_DEV_LOCK_TIMEOUT"),
            &SystemClock::start(),
        )
    }
}

/// `NAME not found. Run: mise install` for a tool the task runs.
pub fn require_tool(env: &Env, name: &str) -> Result<()> {
    if !on_path(env, name) {
        bail!("{name} not found. Run: mise install");
    }
    Ok(())
}

fn on_path(env: &Env, name: &str) -> bool {
    let cwd = env.cwd.clone().unwrap_or_else(|| "/".into());
    which::which_in(name, env.path.as_ref(), cwd).is_ok()
}

/// The provider's own CLI, before anything is read: k3d or kind. The attached k3s needs none,
/// but its kubeconfig: one that cannot be read stops here, before the engine is looked for.
pub fn require_provider(env: &Env, s: &Settings) -> Result<()> {
    match s.provider() {
        Provider::K3d => require_tool(env, "k3d"),
        Provider::Kind if !on_path(env, "kind") => bail!(
            "kind not found on PATH (K8S_DEV_PROVIDER=kind); install it: mise install (mise.toml pins kind {}), or go install sigs.k8s.io/kind@{KIND_VERSION}",
            &KIND_VERSION[1..]
        ),
        Provider::Kind => Ok(()),
        Provider::K3s => k3s::read_kubeconfig(Path::new(s.get("K8S_DEV_K3S_KUBECONFIG"))).map(drop),
    }
}

/// What kind needs besides `DOCKER_HOST` to drive the engine the kit found: kind runs the
/// podman CLI only when told (KIND_EXPERIMENTAL_PROVIDER), and that CLI finds the service by
/// CONTAINER_HOST. For Docker, a provider variable left in the environment is dropped.
pub fn provider_exports(s: &Settings, engine: &EngineInUse) -> String {
    if s.provider() != Provider::Kind {
        return String::new();
    }
    match kind::provider_env(engine.resolved.engine) {
        Some((var, value)) => format!(
            "export {var}={value}\nexport CONTAINER_HOST={}\n",
            shell_quote(&engine.resolved.host)
        ),
        None => "unset KIND_EXPERIMENTAL_PROVIDER\n".into(),
    }
}

impl PlanArgs {
    fn run(self) -> Result<()> {
        let env = Env::from_process();
        let s = Settings::resolve(&env, None)?;
        if s.remote() {
            return remote_checks(&env, &s);
        }
        require_provider(&env, &s)?;
        require_tool(&env, "kubectl")?;
        let engine = EngineInUse::resolve(&env)?;
        self.lock.take(&s, &env, "up")?;
        let observed = observe::observe(&env, &s, &engine)?;
        let decided = plan::up(&observed, &s);
        if let (Err(_), Mirrors::NotWritable { steps, .. }) = (&decided, &observed.mirrors) {
            eprint!("{steps}");
        }
        print_plan(self.json, &s, &engine, &observed, decided)
    }
}

/// Print a plan for the task script to `eval` (the engine's and kind's exports, then the
/// `PLAN_*=` lines), or with `--json` what it was decided from; blockers are the error, one
/// `error:` line each, and nothing is printed to act on.
pub fn print_plan<P: serde::Serialize + plan::Shell>(
    json: bool,
    s: &Settings,
    engine: &EngineInUse,
    observed: &plan::Observed,
    decided: Result<P, Vec<String>>,
) -> Result<()> {
    let out = if json {
        let json = serde_json::json!({
            "engine": engine.resolved,
            "observed": observed,
            "plan": decided.as_ref().ok(),
            "blockers": decided.as_ref().err(),
        });
        format!("{json}\n")
    } else {
        match &decided {
            Ok(plan) => format!(
                "{}{}{}",
                engine.shell(),
                provider_exports(s, engine),
                plan.shell()
            ),
            Err(_) => String::new(),
        }
    };
    std::io::stdout().write_all(out.as_bytes())?;
    decided.map(drop).map_err(|b| Blockers(b).into())
}

/// Render the kind config from `K8S_DEV_KIND_CONFIG` and the settings into
/// `$K8S_DEV_STATE_DIR/kind/<cluster>.yaml` (a private directory, where kind's own kubeconfig
/// goes too) and print its path, for `kind create cluster --config`
fn kind_config() -> Result<()> {
    let s = Settings::resolve(&Env::from_process(), None)?;
    let text = kind::render(&live::read_template(&s)?, &KindCluster::of(&s))?;
    let kubeconfig = Path::new(s.get("K8S_DEV_KIND_KUBECONFIG"));
    let dir = kubeconfig.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| {
            format!(
                "creating {}; set K8S_DEV_STATE_DIR to a writable directory",
                dir.display()
            )
        })?;
    let path = dir.join(format!("{}.yaml", s.get("K8S_DEV_CLUSTER")));
    let tmp = dir.join(format!(
        ".{}.yaml.{}",
        s.get("K8S_DEV_CLUSTER"),
        std::process::id()
    ));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .with_context(|| {
            format!(
                "writing {}; set K8S_DEV_STATE_DIR to a writable directory",
                path.display()
            )
        })?;
    println!("{}", path.display());
    Ok(())
}

/// Start the kind cluster's stopped node containers, the control plane first
fn start_nodes() -> Result<()> {
    let env = Env::from_process();
    let s = Settings::resolve(&env, None)?;
    let engine = EngineInUse::resolve(&env)?;
    let started = live::start_kind_nodes(&s, &engine.resolved)?;
    if !started.is_empty() {
        eprintln!("[k8s-dev] started {}", started.join(", "));
    }
    Ok(())
}

/// Make the cluster's containerd send pulls of the registry's push and pull names to it: kind,
/// hosts.toml files in every node; k3s, its registries.yaml (the kit never restarts k3s: it
/// prints the command)
fn mirrors() -> Result<()> {
    let env = Env::from_process();
    let s = Settings::resolve(&env, None)?;
    let registry = Registry::of(&s);
    match s.provider() {
        Provider::K3d => Ok(()),
        Provider::Kind => {
            let engine = EngineInUse::resolve(&env)?;
            let written = live::write_hosts_files(&s, &engine.resolved)?;
            if !written.is_empty() {
                eprintln!(
                    "[k8s-dev] {} now send pulls of {} to the registry",
                    written.join(", "),
                    registry.mirrored_names().join(" and ")
                );
            }
            Ok(())
        }
        Provider::K3s => {
            let layout = k3s::Layout::of(&env);
            match k3s::apply_registries(&layout, &registry, env.uid)? {
                k3s::Applied::UpToDate => Ok(()),
                k3s::Applied::Written { restart } => {
                    eprintln!(
                        "[k8s-dev] wrote {}: k3s reads it when it starts; until `{restart}`, pods cannot pull {}",
                        layout.registries().display(),
                        registry.mirrored_names().join(" or ")
                    );
                    Ok(())
                }
                k3s::Applied::NotWritable { steps } => {
                    eprint!("{steps}");
                    bail!(
                        "{} is not writable by you; run the commands printed above, then run up again",
                        layout.registries().display()
                    )
                }
            }
        }
    }
}

/// Remote mode creates nothing: the context must exist. (The settings already demand the
/// registry names there: none is derived for a cluster that is not the kit's.)
fn remote_checks(env: &Env, s: &Settings) -> Result<()> {
    require_tool(env, "kubectl")?;
    let context = s.get("K8S_DEV_CONTEXT");
    if !Kubectl::find(None, None)?.has_context(context) {
        bail!(
            "context {context} (K8S_DEV_CONTEXT) is not in your kubeconfig; unset K8S_DEV_CONTEXT \
             to use the kit's own cluster"
        );
    }
    Ok(())
}

/// Finish `up` after the script acted on the plan: write the kubeconfigs, wait for the
/// registry, the API server and every node, and publish the registry ConfigMap
///
/// A cluster that was already running is only checked (its node list answering, every node
/// Ready). Kubeconfig credentials the cluster no longer accepts (a cluster re-created outside
/// the kit) are fetched again.
#[derive(Debug, clap::Args)]
pub struct FinishArgs {
    /// What the plan did to the cluster
    #[arg(long, default_value = "create", value_parser = ["none", "create", "start"])]
    cluster: String,
    /// The plan's kubeconfig step
    #[arg(long, default_value = "refresh", value_parser = ["none", "merge", "refresh"])]
    kubeconfig: String,
    /// The plan's ConfigMap step
    #[arg(long, default_value = "publish", value_parser = ["none", "publish"])]
    configmap: String,
}

/// Longest single kubectl call of `finish` outside the waits.
const KUBECTL_LIMIT: Duration = Duration::from_secs(30);

impl FinishArgs {
    fn run(self) -> Result<()> {
        let env = Env::from_process();
        let s = Settings::resolve(&env, None)?;
        let timeout = s.duration("K8S_DEV_TIMEOUT");
        if s.remote() {
            let kubectl = Kubectl::find(None, Some(s.get("K8S_DEV_CONTEXT").to_string()))?;
            let what = format!("apiserver (context {})", s.get("K8S_DEV_CONTEXT"));
            return wait::wait_for(&what, timeout, |left| kubectl.probe_apiserver(left));
        }
        match self.kubeconfig.as_str() {
            "refresh" => refresh_kubeconfig(&s)?,
            "merge" => merge_into_default(&s)?,
            _ => {}
        }
        let registry = s.get("K8S_DEV_REGISTRY");
        let probe = RegistryProbe::new(registry)?;
        wait::wait_for(&format!("registry {registry}"), timeout, |left| {
            probe.probe(left)
        })?;
        let context = s.get("K8S_DEV_CLUSTER_CONTEXT");
        let mut api = ClusterApi::of(&s)?;
        let provider = s.provider();
        if self.cluster != "none" {
            let what = format!("apiserver (context {context})");
            wait::wait_for(&what, timeout, |left| api.probe_apiserver(left))?;
        }
        // A cluster that was running already: its node list answering (every node Ready) is
        // the whole check, one request.
        let nodes = s.number("K8S_DEV_NODES") as usize;
        let mut refreshed = self.kubeconfig == "refresh";
        let what = format!("{nodes} ready nodes (context {context})");
        wait::wait_for(&what, timeout, |left| match api.probe_nodes(nodes, left) {
            Err(reason) if !refreshed && plan::stale_credentials(&reason) => {
                refreshed = true;
                eprintln!(
                    "[k8s-dev] the kubeconfig of {context} is stale ({reason}); fetching it from {provider} again"
                );
                refresh_kubeconfig(&s).map_err(|err| format!("{err:#}"))?;
                api = ClusterApi::of(&s).map_err(|err| format!("{err:#}"))?;
                Err(reason)
            }
            other => other,
        })?;
        eprintln!("[k8s-dev] ready: registry {registry}, {nodes} nodes of {context}");
        if self.configmap == "publish" {
            Kubectl::find(
                Some(s.get("K8S_DEV_CLUSTER_KUBECONFIG").into()),
                Some(context.to_string()),
            )?
            .apply(
                &provider.registry_hosting(&Registry::of(&s)).config_map(),
                KUBECTL_LIMIT,
            )
            .map_err(|reason| {
                anyhow::anyhow!(
                    "publishing the local-registry-hosting ConfigMap: {reason}; run up again"
                )
            })?;
        }
        Ok(())
    }
}

/// The kit's cluster as the readiness checks reach it: directly with the kubeconfig's
/// credentials when k3d wrote them (one request), else through kubectl.
enum ClusterApi {
    Direct(KubeApi),
    Kubectl(Kubectl),
}

impl ClusterApi {
    fn of(s: &Settings) -> Result<ClusterApi> {
        let file = s.get("K8S_DEV_CLUSTER_KUBECONFIG");
        let context = s.get("K8S_DEV_CLUSTER_CONTEXT");
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the cluster's kubeconfig {file}"))?;
        Ok(match kubeapi::access(&text, context)? {
            Some(access) => ClusterApi::Direct(KubeApi::new(access)?),
            None => {
                ClusterApi::Kubectl(Kubectl::find(Some(file.into()), Some(context.to_string()))?)
            }
        })
    }

    fn probe_apiserver(&self, left: Duration) -> Result<(), String> {
        match self {
            ClusterApi::Direct(api) => api.probe_apiserver(left),
            ClusterApi::Kubectl(kubectl) => kubectl.probe_apiserver(left),
        }
    }

    fn probe_nodes(&self, count: usize, left: Duration) -> Result<(), String> {
        match self {
            ClusterApi::Direct(api) => api.probe_nodes(count, left),
            ClusterApi::Kubectl(kubectl) => kubectl.probe_nodes(count, left),
        }
    }
}

/// The provider's kubeconfig of the cluster (k3d's and kind's from their CLI, k3s's file renamed
/// to the kit's names), straight into both: the cluster's own file (its context current) and
/// the user's kubeconfig files. No temporary file holds the credentials on the way.
fn refresh_kubeconfig(s: &Settings) -> Result<()> {
    let cluster = s.get("K8S_DEV_CLUSTER");
    let (text, source) = match s.provider() {
        Provider::K3d => (
            crate::k3d::run(&["kubeconfig", "get", cluster], None, None)?,
            format!("k3d kubeconfig get {cluster}"),
        ),
        Provider::Kind => (
            run_kind(&["get", "kubeconfig", "--name", cluster])?,
            format!("kind get kubeconfig --name {cluster}"),
        ),
        Provider::K3s => {
            let path = s.get("K8S_DEV_K3S_KUBECONFIG");
            let text = k3s::read_kubeconfig(Path::new(path))?;
            let names = Provider::K3s.kubeconfig_names(cluster);
            (k3s::rename_kubeconfig(&text, &names)?, path.to_string())
        }
    };
    let merge =
        |files: &Files, options| kubeconfig::merge_text(&text, Path::new(&source), files, options);
    let (_, written) = merge(
        &Files::one(s.get("K8S_DEV_CLUSTER_KUBECONFIG")),
        MergeOptions { set_current: true },
    )?;
    tell(&written);
    into_user_files(s, merge)
}

/// Run kind (the engine variables come from `up plan`'s exports); stdout on success, else an
/// error naming the command and kind's last line.
fn run_kind(args: &[&str]) -> Result<String> {
    let out = std::process::Command::new("kind")
        .args(args)
        .output()
        .context("running kind; install it: mise install")?;
    crate::k3d::stdout_of("kind", args, &out)
}

/// The cluster's own file (still valid: the cluster was not re-created) into the user's
/// kubeconfig files.
fn merge_into_default(s: &Settings) -> Result<()> {
    into_user_files(s, |files, options| {
        kubeconfig::merge_file(
            Path::new(s.get("K8S_DEV_CLUSTER_KUBECONFIG")),
            files,
            options,
        )
    })
}

/// Merge the cluster into the user's kubeconfig files, where `kubectl config` would write it,
/// its context current when K8S_DEV_SWITCH_CONTEXT=1.
fn into_user_files(
    s: &Settings,
    merge: impl FnOnce(&Files, MergeOptions) -> Result<(Summary, Vec<Written>)>,
) -> Result<()> {
    let options = MergeOptions {
        set_current: s.flag("K8S_DEV_SWITCH_CONTEXT"),
    };
    let (_, written) = merge(&s.kubeconfig_files()?, options)?;
    tell(&written);
    Ok(())
}

/// The store's notes on kubeconfig writes (rewritten in place, a directory not synced), on
/// stderr as `kubeconfig merge` prints them.
pub fn tell(written: &[Written]) {
    for line in written.iter().flat_map(Written::notes) {
        eprintln!("{line}");
    }
}
