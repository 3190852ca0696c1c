// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The kit's settings: every `K8S_DEV_*` value, its default or derivation, and its rule, from
//! one table ([`table::TABLE`]). [`Settings::resolve`] reads them from an [`Env`] (an empty
//! variable is unset), fills in defaults and derived values, and validates every one before any
//! is used; `k8s-dev-helper settings --shell` hands the result to the task scripts, and
//! `doctor`, `status` and the `up`/`down` plans read the same value.

mod docs;
pub mod rules;
pub mod table;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

use crate::engine::shell_quote;
use crate::env::Env;
use crate::provider::Provider;

pub use docs::{markdown, usage};
pub use rules::Rule;
pub use table::TABLE;

/// One setting: its name, where its value comes from when unset, and what it may hold.
#[derive(Debug)]
pub struct Spec {
    pub name: &'static str,
    pub default: Default,
    pub rule: Rule,
    /// One line: what the setting sets.
    pub help: &'static str,
    /// The value for the OpenShell tree, where it differs from the default.
    pub openshell: Option<&'static str>,
}

/// Where a setting's value comes from when the environment does not give one.
#[derive(Debug)]
pub enum Default {
    /// No value; `doc` says what that means.
    Unset { doc: &'static str },
    /// A fixed value.
    Value(&'static str),
    /// Computed from settings above it (and the environment); the environment may override it.
    Derived {
        doc: &'static str,
        derive: fn(&Ctx) -> Option<String>,
    },
    /// Always computed, never read from the environment (read-only: the scripts use it).
    Computed {
        doc: &'static str,
        derive: fn(&Ctx) -> Option<String>,
    },
}

impl Default {
    /// How the docs show it.
    pub fn doc(&self) -> &'static str {
        match self {
            Default::Unset { doc }
            | Default::Derived { doc, .. }
            | Default::Computed { doc, .. } => doc,
            Default::Value(value) => value,
        }
    }
}

/// What a derivation sees: the environment and the settings resolved so far.
pub struct Ctx<'a> {
    pub env: &'a Env,
    pub kit_dir: Option<&'a Path>,
    values: &'a [Setting],
}

impl Ctx<'_> {
    /// An earlier setting's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|s| s.spec.name == name)
            .and_then(|s| s.value.as_deref())
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The caller's environment.
    Env,
    /// The table's fixed default.
    Default,
    /// Derived from other settings.
    Derived,
    /// Read-only, always derived.
    Computed,
    /// No value.
    Unset,
}

#[derive(Debug, Clone)]
pub struct Setting {
    pub spec: &'static Spec,
    pub value: Option<String>,
    pub origin: Origin,
}

/// A setting whose value breaks its rule, or two settings that clash: one line naming the
/// setting, what is wrong and what to set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub setting: &'static str,
    /// What is wrong, without the setting's name or the fix (`port 80 is privileged`).
    pub why: String,
    /// The whole line: `K8S_DEV_LB_PORT: port 80 is privileged; set K8S_DEV_LB_PORT to …`.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Every problem found; displays as one line each (the caller adds the `error: ` of the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub Vec<Problem>);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|p| p.message.clone()).collect();
        f.write_str(&lines.join("\nerror: "))
    }
}

impl std::error::Error for Invalid {}

/// The validated settings, in table order.
#[derive(Debug, Clone)]
pub struct Settings {
    values: Vec<Setting>,
}

impl Settings {
    /// Read, default, derive and validate every setting; any problem is an error.
    pub fn resolve(env: &Env, kit_dir: Option<&Path>) -> Result<Settings, Invalid> {
        match Settings::lenient(env, kit_dir) {
            (settings, problems) if problems.is_empty() => Ok(settings),
            (_, problems) => Err(Invalid(problems)),
        }
    }

    /// Resolve like [`Settings::resolve`], but keep going: a value that breaks its rule is
    /// replaced by its default and reported. For `doctor`, whose job is to report.
    pub fn lenient(env: &Env, kit_dir: Option<&Path>) -> (Settings, Vec<Problem>) {
        let mut values: Vec<Setting> = Vec::with_capacity(TABLE.len());
        let mut problems = Vec::new();
        for spec in TABLE {
            let given = match spec.default {
                Default::Computed { .. } => None,
                _ => env.var(spec.name),
            };
            if env.non_utf8.iter().any(|n| n == spec.name) {
                problems.push(problem(spec, "the value is not UTF-8", &values));
            }
            let mut setting = None;
            let mut reported = false;
            if let Some(value) = given {
                match spec.rule.check(value) {
                    Ok(value) => setting = Some((Some(value), Origin::Env)),
                    Err(why) => {
                        problems.push(problem(spec, &why, &values));
                        reported = true;
                    }
                }
            }
            let (value, origin) = match setting {
                Some(found) => found,
                None => {
                    let ctx = Ctx {
                        env,
                        kit_dir,
                        values: &values,
                    };
                    let (value, origin) = default_of(spec, &ctx);
                    match value.map(|v| spec.rule.check(&v)) {
                        Some(Ok(v)) => (Some(v), origin),
                        Some(Err(why)) => {
                            // Once per setting: a bad value is not reported again for the
                            // default standing in for it.
                            if !reported {
                                problems.push(problem(spec, &why, &values));
                            }
                            (None, Origin::Unset)
                        }
                        None => (None, Origin::Unset),
                    }
                }
            };
            values.push(Setting {
                spec,
                value,
                origin,
            });
        }
        let settings = Settings { values };
        problems.extend(settings.clashes());
        problems.extend(settings.provider_problems(env));
        (settings, problems)
    }

    fn setting(&self, name: &str) -> &Setting {
        self.values
            .iter()
            .find(|s| s.spec.name == name)
            .unwrap_or_else(|| panic!("{name} is not in the settings table"))
    }

    /// The value, `None` when unset.
    pub fn opt(&self, name: &str) -> Option<&str> {
        self.setting(name).value.as_deref()
    }

    /// The value, empty when unset.
    pub fn get(&self, name: &str) -> &str {
        self.opt(name).unwrap_or("")
    }

    pub fn origin(&self, name: &str) -> Origin {
        self.setting(name).origin
    }

    /// A [`Rule::Port`] or [`Rule::NodePort`] setting.
    pub fn port(&self, name: &str) -> u16 {
        self.number(name) as u16
    }

    /// A numeric setting (validated, so it parses).
    pub fn number(&self, name: &str) -> u32 {
        self.get(name)
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not numeric"))
    }

    /// A [`Rule::Duration`] setting.
    pub fn duration(&self, name: &str) -> Duration {
        rules::duration(self.get(name)).unwrap_or_else(|err| panic!("{name}: {err}"))
    }

    /// A [`Rule::Flag`] setting.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == "1"
    }

    /// The kubeconfig files `up` merges into and `down` removes from
    /// (`K8S_DEV_DEFAULT_KUBECONFIG`, a `KUBECONFIG`-style list).
    pub fn kubeconfig_files(&self) -> anyhow::Result<crate::kubeconfig::Files> {
        crate::kubeconfig::Files::from_list(self.get("K8S_DEV_DEFAULT_KUBECONFIG")).ok_or_else(
            || {
                anyhow::anyhow!(
                    "finding the default kubeconfig: no home directory; fix: set HOME or KUBECONFIG"
                )
            },
        )
    }

    /// Remote mode: `K8S_DEV_CONTEXT` names a context other than the kit's cluster.
    pub fn remote(&self) -> bool {
        self.flag("K8S_DEV_REMOTE")
    }

    /// `K8S_DEV_PROVIDER` (validated; k3d where `lenient` replaced a bad value).
    pub fn provider(&self) -> Provider {
        self.get("K8S_DEV_PROVIDER")
            .parse()
            .unwrap_or(Provider::K3d)
    }

    /// What depends on the provider: the cluster name's length (k3d caps it at 32, kind's node
    /// names at 49) and per-worktree clusters, which the host's one k3s cannot give.
    fn provider_problems(&self, env: &Env) -> Vec<Problem> {
        let provider = self.provider();
        let mut problems = Vec::new();
        let per_worktree = self.flag("K8S_DEV_CLUSTER_PER_WORKTREE");
        if per_worktree && provider == Provider::K3s {
            problems.push(Problem {
                setting: "K8S_DEV_CLUSTER_PER_WORKTREE",
                why: "the host's one k3s cannot be a cluster per worktree".into(),
                message:
                    "K8S_DEV_CLUSTER_PER_WORKTREE: the host's one k3s cannot be a cluster per \
                          worktree (K8S_DEV_PROVIDER=k3s); set K8S_DEV_CLUSTER_PER_WORKTREE=0, or \
                          K8S_DEV_PROVIDER to k3d or kind"
                        .into(),
            });
        }
        let Some(name) = self.opt("K8S_DEV_CLUSTER") else {
            return problems;
        };
        let max = provider.max_cluster_name();
        if name.len() <= max {
            return problems;
        }
        let why = format!(
            "cluster name '{name}' has {} characters, {provider} allows at most {max}",
            name.len()
        );
        let message = match (&env.git_branch, self.origin("K8S_DEV_CLUSTER")) {
            (Some(branch), Origin::Derived) if per_worktree => format!(
                "K8S_DEV_CLUSTER: cluster name '{name}' derived from branch '{branch}' \
                 (K8S_DEV_CLUSTER_PER_WORKTREE=1) has {} characters, {provider} allows at most \
                 {max}; set K8S_DEV_CLUSTER={} to name this worktree's cluster (or use a shorter \
                 branch name)",
                name.len(),
                crate::worktree::suggestion(branch, max)
            ),
            _ => format!(
                "K8S_DEV_CLUSTER: {why}; set K8S_DEV_CLUSTER to {}",
                cluster_name_expects(provider)
            ),
        };
        problems.push(Problem {
            setting: "K8S_DEV_CLUSTER",
            why,
            message,
        });
        problems
    }

    fn spec_default(&self, name: &str) -> &'static str {
        self.setting(name).spec.default.doc()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Setting> {
        self.values.iter()
    }

    /// Two settings that cannot both hold: host ports the kit binds at once must differ, and
    /// the out-of-cluster gateway must not take the load balancer's port (where the in-cluster
    /// gateway answers). In remote mode the kit binds none of the cluster's ports.
    fn clashes(&self) -> Vec<Problem> {
        // The attached k3s publishes no API or gateway port of the kit's.
        let mut names = match self.provider() {
            Provider::K3d | Provider::Kind => vec![
                "K8S_DEV_REGISTRY_PORT",
                "K8S_DEV_API_PORT",
                "K8S_DEV_LB_PORT",
                "K8S_DEV_GATEWAY_PORT",
            ],
            Provider::K3s => vec!["K8S_DEV_REGISTRY_PORT", "K8S_DEV_GATEWAY_PORT"],
        };
        if self.remote() {
            names.truncate(0);
        }
        let mut problems = Vec::new();
        if self.remote() {
            for name in ["K8S_DEV_REGISTRY", "K8S_DEV_REGISTRY_PULL"] {
                if self.opt(name).is_none() {
                    problems.push(Problem {
                        setting: name,
                        why: "remote mode has no registry of the kit's to derive it from".into(),
                        message: format!(
                            "{name}: remote mode (K8S_DEV_CONTEXT={}) has no registry of the \
                             kit's to derive it from; set K8S_DEV_REGISTRY (push name) and \
                             K8S_DEV_REGISTRY_PULL (in-cluster pull name)",
                            self.get("K8S_DEV_CONTEXT")
                        ),
                    });
                }
            }
        }
        for (i, name) in names.iter().enumerate() {
            let Some(port) = self.opt(name) else { continue };
            let Some(other) = names[..i].iter().find(|o| self.opt(o) == Some(port)) else {
                continue;
            };
            let (why, fix) = if (*other, *name) == ("K8S_DEV_LB_PORT", "K8S_DEV_GATEWAY_PORT") {
                (
                    format!(
                        "port {port} is also K8S_DEV_LB_PORT, the cluster load balancer where \
                         the in-cluster gateway answers"
                    ),
                    format!(
                        "set K8S_DEV_GATEWAY_PORT to another port (default {})",
                        self.spec_default("K8S_DEV_GATEWAY_PORT")
                    ),
                )
            } else {
                (
                    format!("port {port} is wanted by both {other} and {name}"),
                    "set one of them to another port".to_string(),
                )
            };
            problems.push(Problem {
                setting: name,
                message: format!("{name}: {why}; {fix}"),
                why,
            });
        }
        problems
    }

    /// `sh`-evalable lines: `export NAME=value` for each setting (empty when unset), and plain
    /// `NAME=value` for the read-only ones, which no child process should take as given.
    pub fn shell(&self) -> String {
        let mut out = String::new();
        for s in &self.values {
            let value = shell_quote(s.value.as_deref().unwrap_or(""));
            match s.spec.default {
                Default::Computed { .. } => out.push_str(&format!("{}={value}\n", s.spec.name)),
                _ => out.push_str(&format!("export {}={value}\n", s.spec.name)),
            }
        }
        out
    }

    /// `{"NAME": {"value": …, "origin": …}, …}` in table order.
    pub fn json(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        for s in &self.values {
            map.insert(
                s.spec.name.to_string(),
                serde_json::json!({"value": s.value, "origin": s.origin}),
            );
        }
        serde_json::Value::Object(map)
    }
}

/// What a cluster name may be with `provider`.
fn cluster_name_expects(provider: Provider) -> String {
    format!(
        "lower-case letters, digits and '-' (at most {})",
        provider.max_cluster_name()
    )
}

fn default_of(spec: &Spec, ctx: &Ctx) -> (Option<String>, Origin) {
    match spec.default {
        Default::Unset { .. } => (None, Origin::Unset),
        Default::Value(value) => (Some(value.to_string()), Origin::Default),
        Default::Derived { derive, .. } => (derive(ctx), Origin::Derived),
        Default::Computed { derive, .. } => (derive(ctx), Origin::Computed),
    }
}

/// A setting's problem, one line with its fix. The fix for a cluster name names the cap of the
/// provider in effect (resolved first: the table's first setting), not all three.
fn problem(spec: &'static Spec, why: &str, resolved: &[Setting]) -> Problem {
    let expects = match spec.rule {
        Rule::ClusterName => {
            let provider = resolved
                .iter()
                .find(|s| s.spec.name == "K8S_DEV_PROVIDER")
                .and_then(|s| s.value.as_deref()?.parse().ok())
                .unwrap_or(Provider::K3d);
            cluster_name_expects(provider)
        }
        rule => rule.expects(),
    };
    let message = match spec.default {
        Default::Computed { doc, .. } => {
            format!(
                "{}: {why} (it is {doc}); change what it is derived from",
                spec.name
            )
        }
        _ => format!("{0}: {why}; set {0} to {expects}", spec.name),
    };
    Problem {
        setting: spec.name,
        why: why.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::env::Os;

    fn env() -> Env {
        Env {
            home: Some(PathBuf::from("/home/dev")),
            cwd: Some(PathBuf::from("/work/repo")),
            ..Env::empty(Os::Linux)
        }
    }

    fn resolve(vars: &[(&str, &str)]) -> Settings {
        Settings::resolve(&env().with(vars), Some(Path::new("/kit")))
            .unwrap_or_else(|err| panic!("{err}"))
    }

    fn problems(vars: &[(&str, &str)]) -> Vec<String> {
        match Settings::resolve(&env().with(vars), None) {
            Ok(_) => panic!("{vars:?} resolved"),
            Err(Invalid(problems)) => problems.into_iter().map(|p| p.message).collect(),
        }
    }

    #[test]
    fn defaults_resolve_and_derive_from_each_other() {
        let s = resolve(&[]);
        assert_eq!(s.get("K8S_DEV_CLUSTER"), "openshell-dev");
        assert_eq!(s.get("K8S_DEV_REGISTRY"), "localhost:5000");
        assert_eq!(s.origin("K8S_DEV_REGISTRY"), Origin::Derived);
        assert_eq!(s.get("K8S_DEV_REGISTRY_PULL"), "openshell-registry:5000");
        assert_eq!(s.get("K8S_DEV_CLUSTER_CONTEXT"), "k3d-openshell-dev");
        assert_eq!(
            s.get("K8S_DEV_CLUSTER_KUBECONFIG"),
            "/home/dev/.kube/k3d-openshell-dev.yaml"
        );
        assert_eq!(
            s.get("K8S_DEV_DEFAULT_KUBECONFIG"),
            "/home/dev/.kube/config"
        );
        assert_eq!(s.get("K8S_DEV_K3D_CONFIG"), "/kit/deploy/k3d/cluster.yaml");
        assert_eq!(
            s.get("K8S_DEV_KIND_CONFIG"),
            "/kit/deploy/kind/cluster.yaml"
        );
        assert_eq!(s.get("K8S_DEV_PROVIDER"), "k3d");
        assert_eq!(
            s.get("K8S_DEV_REGISTRY_CONTAINER"),
            "k3d-openshell-registry"
        );
        assert_eq!(s.get("K8S_DEV_STATE_DIR"), "/work/repo/target/k8s-dev");
        assert_eq!(s.get("K8S_DEV_NODES"), "2");
        assert!(!s.remote());
        assert_eq!(s.opt("K8S_DEV_CONTEXT"), None);
        assert_eq!(s.duration("K8S_DEV_TIMEOUT"), Duration::from_secs(180));
    }

    #[test]
    fn the_provider_names_the_context_the_kubeconfig_file_and_the_registry_container() {
        for (provider, context, container) in [
            ("", "k3d-dev", "k3d-reg"),
            ("k3d", "k3d-dev", "k3d-reg"),
            ("kind", "kind-dev", "reg"),
            ("k3s", "k3s-dev", "reg"),
        ] {
            let s = resolve(&[
                ("K8S_DEV_PROVIDER", provider),
                ("K8S_DEV_CLUSTER", "dev"),
                ("K8S_DEV_REGISTRY_NAME", "reg"),
            ]);
            assert_eq!(s.get("K8S_DEV_CLUSTER_CONTEXT"), context, "{provider}");
            assert_eq!(
                s.get("K8S_DEV_CLUSTER_KUBECONFIG"),
                format!("/home/dev/.kube/{context}.yaml"),
                "{provider}"
            );
            assert_eq!(s.get("K8S_DEV_REGISTRY_CONTAINER"), container, "{provider}");
            // The pull name is the registry's name on every provider.
            assert_eq!(s.get("K8S_DEV_REGISTRY_PULL"), "reg:5000", "{provider}");
        }
        assert_eq!(resolve(&[]).provider(), Provider::K3d);
        assert_eq!(
            resolve(&[("K8S_DEV_PROVIDER", "k3s")]).get("K8S_DEV_NODES"),
            "1"
        );
        assert_eq!(
            resolve(&[("K8S_DEV_PROVIDER", "kind")]).get("K8S_DEV_NODES"),
            "2"
        );
    }

    #[test]
    fn an_unknown_provider_is_one_line_naming_the_three() {
        assert_eq!(
            problems(&[("K8S_DEV_PROVIDER", "minikube")]),
            [
                "K8S_DEV_PROVIDER: unknown provider 'minikube'; set K8S_DEV_PROVIDER to k3d (the default), kind or k3s"
            ]
        );
    }

    #[test]
    fn the_cluster_name_cap_is_the_providers() {
        let name = "a".repeat(40);
        assert_eq!(
            problems(&[("K8S_DEV_CLUSTER", &name)]),
            [format!(
                "K8S_DEV_CLUSTER: cluster name '{name}' has 40 characters, k3d allows at most 32; set K8S_DEV_CLUSTER to lower-case letters, digits and '-' (at most 32)"
            )]
        );
        resolve(&[("K8S_DEV_CLUSTER", &name), ("K8S_DEV_PROVIDER", "kind")]);
        let long = "a".repeat(50);
        let lines = problems(&[("K8S_DEV_CLUSTER", &long), ("K8S_DEV_PROVIDER", "kind")]);
        assert!(lines[0].contains("kind allows at most 49"), "{lines:?}");
        assert!(lines[0].ends_with("(at most 49)"), "{lines:?}");
        let bad = problems(&[("K8S_DEV_CLUSTER", "Dev"), ("K8S_DEV_PROVIDER", "kind")]);
        assert!(
            bad[0].ends_with(
                "set K8S_DEV_CLUSTER to lower-case letters, digits and '-' (at most 49)"
            ),
            "the fix names the provider's cap: {bad:?}"
        );
        resolve(&[("K8S_DEV_CLUSTER", &long), ("K8S_DEV_PROVIDER", "k3s")]);
    }

    fn worktree(branch: Option<&str>, vars: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
        let env = Env {
            git_branch: branch.map(String::from),
            ..env()
        }
        .with(&[("K8S_DEV_CLUSTER_PER_WORKTREE", "1")])
        .with(vars);
        Settings::resolve(&env, None)
            .map_err(|Invalid(problems)| problems.into_iter().map(|p| p.message).collect())
    }

    #[test]
    fn per_worktree_clusters_are_named_from_the_branch_with_ports_from_the_name() {
        let s = worktree(Some("kube-support/local-dev/tmutch"), &[]).unwrap();
        assert_eq!(s.get("K8S_DEV_CLUSTER"), "openshell-dev-tmutch");
        assert_eq!(s.origin("K8S_DEV_CLUSTER"), Origin::Derived);
        assert_eq!(s.get("K8S_DEV_CLUSTER_CONTEXT"), "k3d-openshell-dev-tmutch");
        let slot = crate::worktree::port_slot("openshell-dev-tmutch");
        assert_eq!(u32::from(s.port("K8S_DEV_API_PORT")), 16550 + slot);
        assert_eq!(u32::from(s.port("K8S_DEV_LB_PORT")), 18100 + slot);
        // One registry serves every worktree.
        assert_eq!(s.port("K8S_DEV_REGISTRY_PORT"), 5000);

        let other = worktree(Some("main"), &[]).unwrap();
        assert_eq!(other.get("K8S_DEV_CLUSTER"), "openshell-dev-main");
        assert_ne!(other.port("K8S_DEV_API_PORT"), s.port("K8S_DEV_API_PORT"));
        assert_ne!(other.port("K8S_DEV_LB_PORT"), s.port("K8S_DEV_LB_PORT"));

        // Outside git: the kit's one cluster name, its ports still derived from it.
        let none = worktree(None, &[]).unwrap();
        assert_eq!(none.get("K8S_DEV_CLUSTER"), "openshell-dev");
        assert_ne!(none.port("K8S_DEV_API_PORT"), 6550);
    }

    #[test]
    fn a_given_cluster_name_or_port_overrides_the_worktree_ones() {
        // As HELM_K3S_CLUSTER_NAME overrides OpenShell's; the ports then follow that name.
        let s = worktree(Some("main"), &[("K8S_DEV_CLUSTER", "shared")]).unwrap();
        assert_eq!(s.get("K8S_DEV_CLUSTER"), "shared");
        let slot = crate::worktree::port_slot("shared");
        assert_eq!(u32::from(s.port("K8S_DEV_API_PORT")), 16550 + slot);
        let s = worktree(Some("main"), &[("K8S_DEV_LB_PORT", "9090")]).unwrap();
        assert_eq!(s.port("K8S_DEV_LB_PORT"), 9090);
        // The tasks export what they resolved; resolving it again gives the same.
        let again = worktree(
            Some("main"),
            &[
                ("K8S_DEV_CLUSTER", "openshell-dev-main"),
                ("K8S_DEV_LB_PORT", s.get("K8S_DEV_LB_PORT")),
            ],
        )
        .unwrap();
        assert_eq!(again.get("K8S_DEV_API_PORT"), s.get("K8S_DEV_API_PORT"));
    }

    #[test]
    fn a_worktree_name_too_long_for_k3d_is_one_line_with_openshells_fix() {
        let lines = worktree(Some("feature/a-very-long-branch-name-for-testing"), &[]).unwrap_err();
        assert_eq!(
            lines,
            [
                "K8S_DEV_CLUSTER: cluster name 'openshell-dev-a-very-long-branch-name-for-testing' derived from branch 'feature/a-very-long-branch-name-for-testing' (K8S_DEV_CLUSTER_PER_WORKTREE=1) has 49 characters, k3d allows at most 32; set K8S_DEV_CLUSTER=openshell-dev-a-very-long-branch to name this worktree's cluster (or use a shorter branch name)"
            ]
        );
        // kind takes 49.
        worktree(
            Some("feature/a-very-long-branch-name-for-testing"),
            &[("K8S_DEV_PROVIDER", "kind")],
        )
        .unwrap();
    }

    #[test]
    fn the_hosts_one_k3s_is_no_cluster_per_worktree() {
        let lines = worktree(Some("main"), &[("K8S_DEV_PROVIDER", "k3s")]).unwrap_err();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("K8S_DEV_CLUSTER_PER_WORKTREE: the host's one k3s"),
            "{lines:?}"
        );
        assert!(
            lines[0].contains("set K8S_DEV_CLUSTER_PER_WORKTREE=0"),
            "{lines:?}"
        );
    }

    #[test]
    fn k3s_settings_read_the_hosts_files_or_the_test_root() {
        let s = resolve(&[("K8S_DEV_PROVIDER", "k3s")]);
        assert_eq!(s.get("K8S_DEV_K3S_KUBECONFIG"), "/etc/rancher/k3s/k3s.yaml");
        let s = resolve(&[("K8S_DEV_TEST_HOST_ROOT", "/tmp/host")]);
        assert_eq!(
            s.get("K8S_DEV_K3S_KUBECONFIG"),
            "/tmp/host/etc/rancher/k3s/k3s.yaml"
        );
        // k3s publishes no API or gateway port of the kit's: no clash with the gateway.
        resolve(&[
            ("K8S_DEV_PROVIDER", "k3s"),
            ("K8S_DEV_GATEWAY_PORT", "8080"),
        ]);
    }

    #[test]
    fn remote_mode_is_any_context_but_the_providers() {
        let s = resolve(&[
            ("K8S_DEV_PROVIDER", "kind"),
            ("K8S_DEV_CONTEXT", "kind-openshell-dev"),
        ]);
        assert!(!s.remote());
        let mut vars = vec![
            ("K8S_DEV_PROVIDER", "kind"),
            ("K8S_DEV_CONTEXT", "k3d-openshell-dev"),
        ];
        vars.extend(REMOTE_REGISTRY);
        assert!(resolve(&vars).remote());
    }

    #[test]
    fn the_registry_port_alone_moves_the_push_name() {
        let s = resolve(&[("K8S_DEV_REGISTRY_PORT", "5001")]);
        assert_eq!(s.get("K8S_DEV_REGISTRY"), "localhost:5001");
        assert_eq!(s.get("K8S_DEV_REGISTRY_PULL"), "openshell-registry:5000");
    }

    #[test]
    fn the_bind_address_alone_moves_the_api_host() {
        assert_eq!(resolve(&[]).get("K8S_DEV_API_HOST"), "127.0.0.1");
        let s = resolve(&[("K8S_DEV_BIND_ADDRESS", "127.0.0.2")]);
        assert_eq!(s.get("K8S_DEV_API_HOST"), "127.0.0.2");
        assert_eq!(s.origin("K8S_DEV_API_HOST"), Origin::Derived);
        // Every address: the kubeconfig names loopback, where the API is bound too.
        let s = resolve(&[("K8S_DEV_BIND_ADDRESS", "0.0.0.0")]);
        assert_eq!(s.get("K8S_DEV_API_HOST"), "127.0.0.1");
        let s = resolve(&[
            ("K8S_DEV_BIND_ADDRESS", "0.0.0.0"),
            ("K8S_DEV_API_HOST", "192.168.1.20"),
        ]);
        assert_eq!(s.get("K8S_DEV_API_HOST"), "192.168.1.20");
    }

    #[test]
    fn the_registry_name_alone_moves_the_pull_name() {
        let s = resolve(&[("K8S_DEV_REGISTRY_NAME", "reg")]);
        assert_eq!(s.get("K8S_DEV_REGISTRY_PULL"), "reg:5000");
        assert_eq!(s.get("K8S_DEV_REGISTRY"), "localhost:5000");
    }

    #[test]
    fn the_cluster_name_alone_moves_context_and_kubeconfig() {
        let s = resolve(&[("K8S_DEV_CLUSTER", "mine"), ("K8S_DEV_AGENTS", "3")]);
        assert_eq!(s.get("K8S_DEV_CLUSTER_CONTEXT"), "k3d-mine");
        assert_eq!(
            s.get("K8S_DEV_CLUSTER_KUBECONFIG"),
            "/home/dev/.kube/k3d-mine.yaml"
        );
        assert_eq!(s.get("K8S_DEV_NODES"), "4");
    }

    #[test]
    fn given_values_win_over_derived_ones() {
        let s = resolve(&[("K8S_DEV_REGISTRY", "127.0.0.1:5001")]);
        assert_eq!(s.get("K8S_DEV_REGISTRY"), "127.0.0.1:5001");
        assert_eq!(s.origin("K8S_DEV_REGISTRY"), Origin::Env);
    }

    #[test]
    fn computed_values_ignore_the_environment() {
        let s = resolve(&[("K8S_DEV_CLUSTER_CONTEXT", "evil"), ("K8S_DEV_REMOTE", "1")]);
        assert_eq!(s.get("K8S_DEV_CLUSTER_CONTEXT"), "k3d-openshell-dev");
        assert!(!s.remote());
    }

    const REMOTE_REGISTRY: [(&str, &str); 2] = [
        ("K8S_DEV_REGISTRY", "registry.example:5000"),
        ("K8S_DEV_REGISTRY_PULL", "registry.example:5000"),
    ];

    #[test]
    fn remote_mode_is_another_context_than_the_kits() {
        let mut vars = vec![("K8S_DEV_CONTEXT", "shared")];
        vars.extend(REMOTE_REGISTRY);
        assert!(resolve(&vars).remote());
        assert!(!resolve(&[("K8S_DEV_CONTEXT", "k3d-openshell-dev")]).remote());
    }

    #[test]
    fn remote_mode_derives_no_registry_and_needs_both_names() {
        let lines = problems(&[("K8S_DEV_CONTEXT", "shared")]);
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(
            lines[0].starts_with("K8S_DEV_REGISTRY: remote mode (K8S_DEV_CONTEXT=shared)"),
            "{lines:?}"
        );
        assert!(lines[1].starts_with("K8S_DEV_REGISTRY_PULL: "), "{lines:?}");
        let lines = problems(&[("K8S_DEV_CONTEXT", "shared"), REMOTE_REGISTRY[0]]);
        assert_eq!(lines.len(), 1, "{lines:?}");
    }

    #[test]
    fn remote_mode_gives_the_gateway_a_cluster_ip_service_not_a_shared_node_port() {
        assert_eq!(resolve(&[]).get("K8S_DEV_SERVICE_TYPE"), "NodePort");
        let mut vars = vec![("K8S_DEV_CONTEXT", "shared")];
        vars.extend(REMOTE_REGISTRY);
        assert_eq!(resolve(&vars).get("K8S_DEV_SERVICE_TYPE"), "ClusterIP");
        vars.push(("K8S_DEV_SERVICE_TYPE", "nodeport"));
        assert_eq!(resolve(&vars).get("K8S_DEV_SERVICE_TYPE"), "NodePort");
    }

    #[test]
    fn each_component_builds_for_the_common_target_unless_given_its_own() {
        let s = resolve(&[]);
        assert_eq!(s.opt("K8S_DEV_GATEWAY_RUST_TARGET"), None);
        let s = resolve(&[
            ("K8S_DEV_RUST_TARGET", "aarch64-unknown-linux-musl"),
            (
                "K8S_DEV_GATEWAY_RUST_TARGET",
                "aarch64-unknown-linux-gnu.2.28",
            ),
        ]);
        assert_eq!(
            s.get("K8S_DEV_GATEWAY_RUST_TARGET"),
            "aarch64-unknown-linux-gnu.2.28"
        );
        assert_eq!(
            s.get("K8S_DEV_SUPERVISOR_RUST_TARGET"),
            "aarch64-unknown-linux-musl"
        );
    }

    #[test]
    fn the_kits_own_files_are_found_in_the_kit_and_the_adopters_in_its_tree() {
        let s = resolve(&[]);
        assert_eq!(s.get("K8S_DEV_KIT_DIR"), "/kit");
        assert_eq!(s.get("K8S_DEV_SKAFFOLD_FILE"), "/kit/skaffold.yaml");
        assert_eq!(s.get("K8S_DEV_VALUES"), "/kit/deploy/values/dev.yaml");
        assert_eq!(
            s.get("K8S_DEV_GATEWAY_DOCKERFILE"),
            "deploy/docker/Dockerfile.gateway"
        );
        assert_eq!(
            s.get("K8S_DEV_IMAGE_STAGING_DIR"),
            "deploy/docker/.build/prebuilt-binaries/{arch}"
        );
    }

    #[test]
    fn a_kubeconfig_naming_one_file_is_the_default_kubeconfig() {
        let env = Env {
            kubeconfig: Some("/repo/kubeconfig".into()),
            ..env()
        };
        let s = Settings::resolve(&env, None).unwrap();
        assert_eq!(s.get("K8S_DEV_DEFAULT_KUBECONFIG"), "/repo/kubeconfig");
    }

    #[test]
    fn a_kubeconfig_naming_several_files_is_all_of_them_as_kubectl_reads_them() {
        let env = Env {
            kubeconfig: Some(":/a/one::/b/two:/a/one".into()),
            ..env()
        };
        let s = Settings::resolve(&env, None).unwrap();
        assert_eq!(s.get("K8S_DEV_DEFAULT_KUBECONFIG"), "/a/one:/b/two");
        assert_eq!(
            s.kubeconfig_files().unwrap().paths(),
            [Path::new("/a/one"), Path::new("/b/two")]
        );
    }

    #[test]
    fn the_lock_lives_in_a_per_user_directory() {
        assert_eq!(
            resolve(&[]).get("K8S_DEV_LOCK_FILE"),
            "/home/dev/.local/state/k8s-dev/up.lock"
        );
        let env = Env {
            xdg_runtime_dir: Some("/run/user/1000".into()),
            ..env()
        };
        let s = Settings::resolve(&env, None).unwrap();
        assert_eq!(s.get("K8S_DEV_LOCK_FILE"), "/run/user/1000/k8s-dev/up.lock");
    }

    #[test]
    fn each_problem_is_one_line_naming_the_setting_and_the_rule() {
        assert_eq!(
            problems(&[("K8S_DEV_AGENTS", "HOME[$(touch /tmp/x)]")]),
            [
                "K8S_DEV_AGENTS: 'HOME[$(touch /tmp/x)]' is not a whole number; set K8S_DEV_AGENTS to a whole number from 0 to 9"
            ]
        );
        assert_eq!(
            problems(&[("K8S_DEV_API_PORT", "abc")]),
            [
                "K8S_DEV_API_PORT: port 'abc' is not a number; set K8S_DEV_API_PORT to a port from 1024 to 65535"
            ]
        );
        let lines = problems(&[("K8S_DEV_NETWORK", "k3d\nvolumes: [/:/host]")]);
        assert_eq!(lines.len(), 1);
        assert!(!lines[0].contains('\n'), "{lines:?}");
    }

    #[test]
    fn a_bad_independent_setting_is_reported_once_not_again_in_what_derives_from_it() {
        let lines = problems(&[("K8S_DEV_REGISTRY_NAME", "Bad_Name")]);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].starts_with("K8S_DEV_REGISTRY_NAME: "), "{lines:?}");
    }

    #[test]
    fn every_bad_setting_is_reported() {
        let lines = problems(&[("K8S_DEV_AGENTS", "two"), ("K8S_DEV_TIMEOUT", "soon")]);
        assert_eq!(lines.len(), 2, "{lines:?}");
    }

    #[test]
    fn host_ports_must_differ() {
        assert_eq!(
            problems(&[("K8S_DEV_REGISTRY_PORT", "6550")]),
            [
                "K8S_DEV_API_PORT: port 6550 is wanted by both K8S_DEV_REGISTRY_PORT and K8S_DEV_API_PORT; set one of them to another port"
            ]
        );
        let gateway = problems(&[("K8S_DEV_GATEWAY_PORT", "8080")]);
        assert!(gateway[0].contains("in-cluster gateway"), "{gateway:?}");
        assert!(
            gateway[0].contains("set K8S_DEV_GATEWAY_PORT"),
            "{gateway:?}"
        );
        // Remote mode binds none of the cluster's ports.
        let mut vars = vec![
            ("K8S_DEV_CONTEXT", "shared"),
            ("K8S_DEV_GATEWAY_PORT", "8080"),
        ];
        vars.extend(REMOTE_REGISTRY);
        resolve(&vars);
    }

    #[test]
    fn default_ports_never_clash() {
        let s = resolve(&[]);
        let mut ports: Vec<u16> = [
            "K8S_DEV_API_PORT",
            "K8S_DEV_LB_PORT",
            "K8S_DEV_REGISTRY_PORT",
            "K8S_DEV_GATEWAY_PORT",
        ]
        .iter()
        .map(|p| s.port(p))
        .collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), 4);
    }

    #[test]
    fn lenient_resolution_falls_back_to_defaults_and_reports() {
        let (s, problems) = Settings::lenient(&env().with(&[("K8S_DEV_LB_PORT", "80a")]), None);
        assert_eq!(s.port("K8S_DEV_LB_PORT"), 8080);
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].setting, "K8S_DEV_LB_PORT");
    }

    #[test]
    fn values_are_normalised() {
        let s = resolve(&[
            ("K8S_DEV_SWITCH_CONTEXT", "false"),
            ("K8S_DEV_IMAGE_COMPRESSION", "GZIP"),
        ]);
        assert!(!s.flag("K8S_DEV_SWITCH_CONTEXT"));
        assert_eq!(s.get("K8S_DEV_IMAGE_COMPRESSION"), "gzip");
    }

    #[test]
    fn container_engine_is_the_engine_settings_fallback() {
        let podman = Env {
            engine: Some("podman".into()),
            ..env()
        };
        let s = Settings::resolve(&podman, None).unwrap();
        assert_eq!(s.get("K8S_DEV_ENGINE"), "podman");
        let nerdctl = Env {
            engine: Some("nerdctl".into()),
            ..env()
        };
        let err = Settings::resolve(&nerdctl, None).unwrap_err().to_string();
        assert!(
            err.contains("K8S_DEV_ENGINE: 'nerdctl' is not docker or podman"),
            "{err}"
        );
        let both = nerdctl.with(&[("K8S_DEV_ENGINE", "nerdctl")]);
        assert_eq!(Settings::resolve(&both, None).unwrap_err().0.len(), 1);
    }

    #[test]
    fn shell_output_quotes_every_value_and_exports_only_settable_ones() {
        let s = resolve(&[("K8S_DEV_CHART", "/my repo/it's")]);
        let shell = s.shell();
        assert!(
            shell.contains("export K8S_DEV_CHART='/my repo/it'\\''s'\n"),
            "{shell}"
        );
        assert!(shell.contains("export K8S_DEV_CONTEXT=''\n"), "{shell}");
        assert!(
            shell.contains("\nK8S_DEV_CLUSTER_CONTEXT=k3d-openshell-dev\n"),
            "{shell}"
        );
        assert_eq!(shell.lines().count(), TABLE.len());
    }

    #[test]
    fn table_names_are_unique_settings_and_derivations_read_only_earlier_entries() {
        let mut seen: Vec<&str> = Vec::new();
        for spec in TABLE {
            assert!(spec.name.starts_with("K8S_DEV_"), "{}", spec.name);
            assert!(!seen.contains(&spec.name), "{} twice", spec.name);
            assert!(!spec.help.is_empty(), "{} has no help", spec.name);
            seen.push(spec.name);
            if let Default::Value(value) = spec.default {
                spec.rule
                    .check(value)
                    .unwrap_or_else(|err| panic!("default of {}: {err}", spec.name));
            }
            // A doc that names another setting names one defined above.
            for word in spec
                .default
                .doc()
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            {
                if word.starts_with("K8S_DEV_") {
                    assert!(
                        seen.contains(&word),
                        "{} derives from {word}, defined below it",
                        spec.name
                    );
                }
            }
        }
    }
}
