// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Per-worktree clusters (`K8S_DEV_CLUSTER_PER_WORKTREE=1`): each git worktree gets its own
//! cluster, named from its branch exactly as OpenShell's `tasks/scripts/helm-k3s-local.sh` names
//! its k3d clusters, so `helm:k3s:*` and `k8s:dev:*` agree on a worktree's cluster; and host
//! ports derived from that name, so two worktrees' clusters do not ask for the same ports.
//!
//! [`cluster_name`], [`suggestion`] and [`port_slot`] are pure; [`branch`] asks git.

use std::path::Path;
use std::process::{Command, Stdio};

/// The cluster name every worktree's name starts with (the kit's default cluster).
pub const BASE: &str = "openshell-dev";

/// How many port slots a name can fall into: the API and gateway ports of per-worktree
/// clusters each come from a range this wide.
pub const SLOTS: u32 = 1000;
/// First API port of a per-worktree cluster (16550..=17549): below every OS's ephemeral range
/// (Linux 32768, macOS 49152), clear of the single-cluster defaults (6550, 8080, 5000, 18082).
pub const API_PORT_BASE: u32 = 16550;
/// First gateway (load balancer) port of a per-worktree cluster (18100..=19099): above the
/// out-of-cluster gateway's 18082 and OpenShell's own 18080/18081.
pub const LB_PORT_BASE: u32 = 18100;

/// The branch's DNS-safe suffix, as OpenShell derives it: the last `/` component, lower-cased,
/// every run of characters outside `a-z0-9` replaced by one `-`, trailing `-` removed (a leading
/// one stays, as in OpenShell).
pub fn suffix(branch: &str) -> String {
    let last = branch.rsplit('/').next().unwrap_or("");
    let mut out = String::new();
    // `tr '[:upper:]' '[:lower:]' | tr -cs 'a-z0-9' '-'` works on bytes: ASCII letters only,
    // and a run of anything else (a multi-byte character included) becomes one '-'.
    for c in last.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The worktree's cluster: `openshell-dev-<suffix>`, or `openshell-dev` when the branch gives
/// no suffix (no git, or a branch of symbols only).
pub fn cluster_name(branch: Option<&str>) -> String {
    match branch.map(suffix).filter(|s| !s.is_empty()) {
        Some(suffix) => format!("{BASE}-{suffix}"),
        None => BASE.to_string(),
    }
}

/// A name within `max` characters to suggest when the derived one is too long: OpenShell's
/// `openshell-dev-${suffix:0:N}` (without a trailing '-', which no cluster name may end in).
pub fn suggestion(branch: &str, max: usize) -> String {
    let suffix = suffix(branch);
    let room = max.saturating_sub(BASE.len() + 1);
    let cut: String = suffix.chars().take(room).collect();
    match cut.trim_end_matches('-') {
        "" => BASE.to_string(),
        cut => format!("{BASE}-{cut}"),
    }
}

/// The port slot of a cluster name: FNV-1a (32 bit) of its bytes, modulo [`SLOTS`]. Stable
/// across machines and releases, so a worktree's ports do not move; two names share a slot with
/// probability 1/1000 (then `up` stops on the busy port, naming the setting to change).
pub fn port_slot(name: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in name.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash % SLOTS
}

/// The current branch of the repository at `dir` as `git rev-parse --abbrev-ref HEAD` prints it
/// (`HEAD` when detached); `None` outside a repository, without commits, or without git.
pub fn branch(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .args(["rev-parse", "--abbrev-ref", "HEAD"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let branch = String::from_utf8(out.stdout).ok()?;
    Some(branch.trim().to_string()).filter(|b| !b.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/openshell-adoption.md's vectors, run through OpenShell's own pipeline.
    #[test]
    fn names_follow_openshells_derivation() {
        for (branch, want) in [
            ("kube-support/local-dev/tmutch", "openshell-dev-tmutch"),
            ("feature/adopt/K8s-Dev_Trial", "openshell-dev-k8s-dev-trial"),
            ("HEAD", "openshell-dev-head"),
            ("fix/_Leading", "openshell-dev--leading"),
            ("release/v1.2", "openshell-dev-v1-2"),
            (
                "feature/a-very-long-branch-name-for-testing",
                "openshell-dev-a-very-long-branch-name-for-testing",
            ),
            ("main", "openshell-dev-main"),
            ("feature/__", "openshell-dev"),
            ("trailing--", "openshell-dev-trailing"),
            ("x/Ünïcode", "openshell-dev--n-code"),
        ] {
            assert_eq!(cluster_name(Some(branch)), want, "{branch}");
        }
        assert_eq!(cluster_name(None), "openshell-dev");
        assert_eq!(
            cluster_name(Some("feature/a-very-long-branch-name-for-testing")).len(),
            49
        );
    }

    #[test]
    fn the_suggestion_is_openshells_truncation_within_the_cap() {
        let long = "feature/a-very-long-branch-name-for-testing";
        assert_eq!(suggestion(long, 32), "openshell-dev-a-very-long-branch");
        assert_eq!(suggestion(long, 32).len(), 32);
        // A cut that would end in '-' drops it.
        assert_eq!(
            suggestion("x/abcdefghijklmnopq-rest", 32),
            "openshell-dev-abcdefghijklmnopq"
        );
        assert_eq!(suggestion("___", 32), "openshell-dev");
    }

    #[test]
    fn port_slots_are_stable_and_in_range() {
        // FNV-1a's published 32-bit test vectors.
        assert_eq!(port_slot(""), 0x811c_9dc5 % SLOTS);
        assert_eq!(port_slot("a"), 0xe40c_292c % SLOTS);
        assert_eq!(port_slot("foobar"), 0xbf9c_f968 % SLOTS);
        for name in ["openshell-dev-main", "openshell-dev-tmutch", "x"] {
            assert!(port_slot(name) < SLOTS);
            assert_eq!(port_slot(name), port_slot(name));
        }
        assert_ne!(
            port_slot("openshell-dev-main"),
            port_slot("openshell-dev-tmutch")
        );
    }

    #[test]
    fn branch_of_a_repository_and_of_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(branch(dir.path()), None, "not a repository");
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q", "-b", "feature/Dev_One"]);
        assert_eq!(branch(dir.path()), None, "no commit yet: git says nothing");
        git(&["commit", "-q", "--allow-empty", "-m", "x"]);
        assert_eq!(branch(dir.path()).as_deref(), Some("feature/Dev_One"));
        git(&["checkout", "-q", "--detach"]);
        assert_eq!(branch(dir.path()).as_deref(), Some("HEAD"));
    }
}
