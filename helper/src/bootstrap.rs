// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What `bootstrap` does before `helm upgrade --install`, decided from what the cluster holds:
//! the sandbox namespace (create it, and mark it as the release's so a chart that renders it
//! adopts it) and a release an interrupted helm left pending (put it back). [`plan`] is pure;
//! `cli/bootstrap.rs` reads the namespace and the release's revisions through kubectl.

use serde::Serialize;
use serde_json::Value;

use crate::settings::Settings;

/// Helm's ownership marks: a resource with both annotations and the label is the named
/// release's, and Helm adopts it instead of refusing ("exists and cannot be imported into the
/// current release").
pub const RELEASE_NAME: &str = "meta.helm.sh/release-name";
pub const RELEASE_NAMESPACE: &str = "meta.helm.sh/release-namespace";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NamespaceStep {
    None,
    /// Create it, then adopt it.
    Create,
    /// Give it Helm's ownership marks for the release.
    Adopt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ReleaseStep {
    None,
    /// `helm uninstall`: it never deployed.
    Uninstall,
    /// `helm rollback` to the revision before the interrupted one.
    Rollback,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BootstrapPlan {
    /// The release's namespace: created when missing (never adopted: the chart does not render
    /// the namespace it is installed into).
    pub namespace: NamespaceStep,
    pub sandbox_namespace: NamespaceStep,
    pub release: ReleaseStep,
    /// The status of the release's newest revision (`none` without one).
    pub release_status: String,
}

/// Decide from the release's and the sandbox's namespaces (`None`: it does not exist) and the
/// release's revisions (`(version, status)` of each, in any order).
///
/// The sandbox namespace gets the release's marks unless it is the release's own namespace
/// (created before, never rendered by the chart) or already belongs to a release: to this one
/// (nothing to do) or to another (left alone: Helm's own error then names the owner). A chart
/// that does not render it leaves the marks unused and the namespace alone.
///
/// bootstrap is the only helm client of its release besides a running watch, so a newest
/// revision still pending-* was interrupted (Ctrl-C, a dropped connection), and every later
/// upgrade would refuse: "another operation (install/upgrade/rollback) is in progress".
pub fn plan(
    s: &Settings,
    release_ns: Option<&Value>,
    sandbox: Option<&Value>,
    revisions: &[(u32, String)],
) -> BootstrapPlan {
    let namespace = match release_ns {
        None => NamespaceStep::Create,
        Some(_) => NamespaceStep::None,
    };
    let sandbox_namespace = if s.get("K8S_DEV_SANDBOX_NAMESPACE") == s.get("K8S_DEV_NAMESPACE") {
        NamespaceStep::None
    } else {
        match sandbox {
            None => NamespaceStep::Create,
            Some(ns) if owner(ns).is_some() => NamespaceStep::None,
            Some(_) => NamespaceStep::Adopt,
        }
    };
    let release_status = revisions
        .iter()
        .max_by_key(|(version, _)| *version)
        .map_or("none", |(_, status)| status.as_str())
        .to_string();
    let release = match release_status.as_str() {
        "pending-install" => ReleaseStep::Uninstall,
        "pending-upgrade" | "pending-rollback" => ReleaseStep::Rollback,
        _ => ReleaseStep::None,
    };
    BootstrapPlan {
        namespace,
        sandbox_namespace,
        release,
        release_status,
    }
}

/// The release that owns a namespace object, by Helm's annotation.
pub fn owner(namespace: &Value) -> Option<&str> {
    namespace
        .pointer("/metadata/annotations")?
        .get(RELEASE_NAME)?
        .as_str()
        .filter(|name| !name.is_empty())
}

/// `VERSION STATUS` lines (from the labels of Helm's release Secrets) as pairs; lines that are
/// not such pairs are skipped.
pub fn parse_revisions(text: &str) -> Vec<(u32, String)> {
    text.lines()
        .filter_map(|line| {
            let (version, status) = line.trim().split_once(' ')?;
            Some((version.parse().ok()?, status.trim().to_string()))
        })
        .filter(|(_, status)| !status.is_empty())
        .collect()
}

impl NamespaceStep {
    pub fn as_str(self) -> &'static str {
        match self {
            NamespaceStep::None => "none",
            NamespaceStep::Create => "create",
            NamespaceStep::Adopt => "adopt",
        }
    }
}

impl ReleaseStep {
    pub fn as_str(self) -> &'static str {
        match self {
            ReleaseStep::None => "none",
            ReleaseStep::Uninstall => "uninstall",
            ReleaseStep::Rollback => "rollback",
        }
    }
}

impl BootstrapPlan {
    /// Shell assignments for the task script.
    pub fn shell(&self) -> String {
        format!(
            "PLAN_NAMESPACE={}\nPLAN_SANDBOX_NAMESPACE={}\nPLAN_RELEASE={}\nPLAN_RELEASE_STATUS={}\n",
            self.namespace.as_str(),
            self.sandbox_namespace.as_str(),
            self.release.as_str(),
            crate::engine::shell_quote(&self.release_status),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::{Env, Os};

    fn settings(sandbox: &str) -> Settings {
        let env = Env::empty(Os::Linux).with(&[
            ("K8S_DEV_NAMESPACE", "openshell"),
            ("K8S_DEV_SANDBOX_NAMESPACE", sandbox),
        ]);
        Settings::resolve(&env, None).unwrap()
    }

    fn release() -> Value {
        serde_json::json!({"metadata": {"name": "openshell"}})
    }

    #[test]
    fn a_missing_release_namespace_is_created_and_an_existing_one_left() {
        let s = settings("openshell");
        assert_eq!(plan(&s, None, None, &[]).namespace, NamespaceStep::Create);
        assert_eq!(
            plan(&s, Some(&release()), None, &[]).namespace,
            NamespaceStep::None
        );
        assert!(
            plan(&s, None, None, &[])
                .shell()
                .starts_with("PLAN_NAMESPACE=create\n")
        );
    }

    fn namespace(annotations: Value) -> Value {
        serde_json::json!({"metadata": {"name": "sandboxes", "annotations": annotations}})
    }

    #[test]
    fn a_separate_sandbox_namespace_is_created_or_adopted_for_the_release() {
        let s = settings("sandboxes");
        assert_eq!(
            plan(&s, Some(&release()), None, &[]).sandbox_namespace,
            NamespaceStep::Create
        );
        let bare = namespace(serde_json::json!({"note": "made by hand"}));
        assert_eq!(
            plan(&s, Some(&release()), Some(&bare), &[]).sandbox_namespace,
            NamespaceStep::Adopt
        );
        let no_annotations = serde_json::json!({"metadata": {"name": "sandboxes"}});
        assert_eq!(
            plan(&s, Some(&release()), Some(&no_annotations), &[]).sandbox_namespace,
            NamespaceStep::Adopt
        );
    }

    #[test]
    fn a_sandbox_namespace_a_release_owns_is_left_alone() {
        let s = settings("sandboxes");
        for owner in ["openshell", "someone-else"] {
            let owned = namespace(serde_json::json!({RELEASE_NAME: owner}));
            assert_eq!(
                plan(&s, Some(&release()), Some(&owned), &[]).sandbox_namespace,
                NamespaceStep::None,
                "{owner}"
            );
        }
    }

    #[test]
    fn the_release_namespace_itself_is_not_marked() {
        let s = settings("openshell");
        assert_eq!(
            plan(&s, Some(&release()), None, &[]).sandbox_namespace,
            NamespaceStep::None
        );
    }

    #[test]
    fn a_pending_newest_revision_is_recovered() {
        let s = settings("openshell");
        let rev = |pairs: &[(u32, &str)]| {
            pairs
                .iter()
                .map(|(v, st)| (*v, st.to_string()))
                .collect::<Vec<_>>()
        };
        for (revisions, step, status) in [
            (rev(&[]), ReleaseStep::None, "none"),
            (rev(&[(1, "deployed")]), ReleaseStep::None, "deployed"),
            (
                rev(&[(1, "pending-install")]),
                ReleaseStep::Uninstall,
                "pending-install",
            ),
            (
                rev(&[(2, "pending-upgrade"), (1, "deployed")]),
                ReleaseStep::Rollback,
                "pending-upgrade",
            ),
            (
                rev(&[(1, "superseded"), (3, "pending-rollback"), (2, "failed")]),
                ReleaseStep::Rollback,
                "pending-rollback",
            ),
            // An older pending revision under a newer one is history, not an operation.
            (
                rev(&[(1, "pending-upgrade"), (2, "deployed")]),
                ReleaseStep::None,
                "deployed",
            ),
            (
                rev(&[(2, "failed"), (1, "deployed")]),
                ReleaseStep::None,
                "failed",
            ),
        ] {
            let p = plan(&s, Some(&release()), None, &revisions);
            assert_eq!(
                (p.release, p.release_status.as_str()),
                (step, status),
                "{revisions:?}"
            );
        }
    }

    #[test]
    fn revisions_are_read_from_version_status_lines() {
        assert_eq!(
            parse_revisions("1 superseded\n2 pending-upgrade\n\nx deployed\n3 \n"),
            [
                (1, "superseded".to_string()),
                (2, "pending-upgrade".to_string())
            ]
        );
    }

    #[test]
    fn shell_form_of_a_plan() {
        let p = BootstrapPlan {
            namespace: NamespaceStep::None,
            sandbox_namespace: NamespaceStep::Adopt,
            release: ReleaseStep::Rollback,
            release_status: "pending-upgrade".into(),
        };
        assert_eq!(
            p.shell(),
            "PLAN_NAMESPACE=none\nPLAN_SANDBOX_NAMESPACE=adopt\nPLAN_RELEASE=rollback\nPLAN_RELEASE_STATUS=pending-upgrade\n"
        );
    }
}
