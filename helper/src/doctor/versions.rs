// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Which versions of kubectl, helm and skaffold the kit works with. An adopter keeps its own
//! pins (OpenShell: kubectl 1.36, helm 4.2, skaffold 2.20), so doctor judges the tools it
//! finds rather than asking for the kit's: helm 3 or 4, kubectl from 1.32 and skaffold from
//! 2.20 are what the kit is tested with; skaffold before 2.17 cannot deploy with helm 4, whose
//! `--post-renderer` names a plugin (skaffold installs one itself from 2.17,
//! `pkg/skaffold/helm/bin.go`).

use super::{Check, CheckStatus};

/// `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version(pub u32, pub u32, pub u32);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

impl Version {
    /// The first `[v]MAJOR.MINOR[.PATCH]` in a tool's version line (`Client Version: v1.32.5`,
    /// `v3.21.4+g1234567`, `v2.24.0`, `k3d version v5.9.0`).
    pub fn find(line: &str) -> Option<Version> {
        line.split(|c: char| c.is_whitespace() || c == '"' || c == ',')
            .find_map(|word| {
                let word = word.strip_prefix('v').unwrap_or(word);
                let core = word.split(['+', '-']).next()?;
                let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
                let (major, minor) = (parts.next()??, parts.next()??);
                let patch = match parts.next() {
                    Some(p) => p?,
                    None => 0,
                };
                parts
                    .next()
                    .is_none()
                    .then_some(Version(major, minor, patch))
            })
    }
}

pub const KUBECTL_TESTED: Version = Version(1, 32, 0);
pub const SKAFFOLD_TESTED: Version = Version(2, 20, 0);
pub const SKAFFOLD_WITH_HELM_4: Version = Version(2, 17, 0);

/// The `versions` check over the version lines of the tools found (`None`: missing, or its
/// version command failed; its own check says so).
pub fn check(kubectl: Option<&str>, helm: Option<&str>, skaffold: Option<&str>) -> Check {
    let kubectl = kubectl.and_then(Version::find);
    let helm = helm.and_then(Version::find);
    let skaffold = skaffold.and_then(Version::find);
    let found: Vec<String> = [("kubectl", kubectl), ("helm", helm), ("skaffold", skaffold)]
        .iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} {v}")))
        .collect();
    if found.is_empty() {
        return Check {
            name: "versions".into(),
            status: CheckStatus::Skip,
            detail: "no kubectl, helm or skaffold version to judge".into(),
            fix: None,
        };
    }
    let mut problems: Vec<(CheckStatus, String, String)> = Vec::new();
    if let Some(h) = helm
        && !matches!(h.0, 3 | 4)
    {
        problems.push((
            CheckStatus::Fail,
            format!("helm {h} is neither helm 3 nor helm 4"),
            "install helm 3 or 4 (pin it in your mise.toml and run mise install)".into(),
        ));
    }
    match (skaffold, helm) {
        (Some(s), Some(h)) if h.0 == 4 && s < SKAFFOLD_WITH_HELM_4 => problems.push((
            CheckStatus::Fail,
            format!(
                "skaffold {s} cannot deploy with helm {h}: helm 4's --post-renderer is a \
                 plugin, which skaffold installs itself only from {SKAFFOLD_WITH_HELM_4}"
            ),
            format!(
                "install skaffold >= {SKAFFOLD_WITH_HELM_4} ({SKAFFOLD_TESTED} or later is \
                 tested), or helm 3"
            ),
        )),
        (Some(s), _) if s < SKAFFOLD_TESTED => problems.push((
            CheckStatus::Warn,
            format!(
                "skaffold {s} is older than {SKAFFOLD_TESTED}, the oldest the kit is tested with"
            ),
            format!("install skaffold >= {SKAFFOLD_TESTED}"),
        )),
        _ => {}
    }
    if let Some(k) = kubectl
        && k < KUBECTL_TESTED
    {
        problems.push((
            CheckStatus::Warn,
            format!(
                "kubectl {k} is older than {KUBECTL_TESTED}, the oldest the kit is tested with"
            ),
            format!("install kubectl >= {KUBECTL_TESTED}"),
        ));
    }
    let status = problems
        .iter()
        .map(|(s, _, _)| *s)
        .max_by_key(|s| matches!(s, CheckStatus::Fail))
        .unwrap_or(CheckStatus::Ok);
    let detail = if problems.is_empty() {
        format!("{}: supported", found.join(", "))
    } else {
        let what: Vec<&str> = problems.iter().map(|(_, w, _)| w.as_str()).collect();
        format!("{}: {}", found.join(", "), what.join("; "))
    };
    let fixes: Vec<&str> = problems.iter().map(|(_, _, f)| f.as_str()).collect();
    Check {
        name: "versions".into(),
        status,
        detail,
        fix: (!fixes.is_empty()).then(|| fixes.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPENSHELL: (&str, &str, &str) = ("Client Version: v1.36.1", "v4.2.0+g2f5a4f1", "v2.20.0");

    #[test]
    fn versions_are_found_in_each_tools_own_words() {
        assert_eq!(
            Version::find("Client Version: v1.32.5"),
            Some(Version(1, 32, 5))
        );
        assert_eq!(Version::find("v3.21.4+g1234567"), Some(Version(3, 21, 4)));
        assert_eq!(
            Version::find(r#"version.BuildInfo{Version:"v4.2.0", GitCommit:"x""#),
            Some(Version(4, 2, 0))
        );
        assert_eq!(Version::find("v2.24.0"), Some(Version(2, 24, 0)));
        assert_eq!(Version::find("k3d version v5.9.0"), Some(Version(5, 9, 0)));
        assert_eq!(
            Version::find("skaffold v2.20.0-rc.1"),
            Some(Version(2, 20, 0))
        );
        assert_eq!(Version::find("v1.36"), Some(Version(1, 36, 0)));
        assert_eq!(Version::find("no version here"), None);
    }

    #[test]
    fn openshells_pins_and_the_kits_are_supported() {
        let (k, h, s) = OPENSHELL;
        let c = check(Some(k), Some(h), Some(s));
        assert_eq!(c.status, CheckStatus::Ok, "{c:?}");
        assert_eq!(
            c.detail,
            "kubectl 1.36.1, helm 4.2.0, skaffold 2.20.0: supported"
        );
        let kit = check(
            Some("Client Version: v1.32.5"),
            Some("v3.21.4+g1"),
            Some("v2.24.0"),
        );
        assert_eq!(kit.status, CheckStatus::Ok, "{kit:?}");
    }

    #[test]
    fn skaffold_before_2_17_with_helm_4_fails_naming_the_version_that_works() {
        let c = check(None, Some("v4.2.0"), Some("v2.16.1"));
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.detail
                .contains("skaffold 2.16.1 cannot deploy with helm 4.2.0"),
            "{c:?}"
        );
        assert_eq!(
            c.fix.as_deref(),
            Some("install skaffold >= 2.17.0 (2.20.0 or later is tested), or helm 3")
        );
        // With helm 3 the same skaffold only predates the tested range.
        let c = check(None, Some("v3.21.4"), Some("v2.16.1"));
        assert_eq!(c.status, CheckStatus::Warn, "{c:?}");
    }

    #[test]
    fn older_kubectl_and_skaffold_warn_and_other_helm_majors_fail() {
        let c = check(
            Some("Client Version: v1.31.2"),
            Some("v3.16.0"),
            Some("v2.19.0"),
        );
        assert_eq!(c.status, CheckStatus::Warn);
        assert_eq!(
            c.fix.as_deref(),
            Some("install skaffold >= 2.20.0; install kubectl >= 1.32.0")
        );
        let c = check(None, Some("v2.17.0"), None);
        assert_eq!(c.status, CheckStatus::Fail);
        assert!(
            c.detail
                .contains("helm 2.17.0 is neither helm 3 nor helm 4")
        );
    }

    #[test]
    fn nothing_found_is_skipped() {
        assert_eq!(check(None, None, None).status, CheckStatus::Skip);
    }
}
