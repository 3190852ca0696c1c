// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::kubeconfig::{self, Changes, MergeOptions, Summary, Written};

/// Merge a cluster's kubeconfig into yours, or remove it again
///
/// Both edits lock the file, keep the previous content in `<file>.bak`, and write atomically
/// with mode 0600 (through a symlink to the file it points at). The target defaults to the
/// first entry of $KUBECONFIG, else ~/.kube/config.
#[derive(Debug, clap::Subcommand)]
pub enum KubeconfigCommand {
    Merge(MergeArgs),
    Remove(RemoveArgs),
    Check(CheckArgs),
}

/// Exit 1 with the fix when the target could not be merged into (a directory, not a
/// kubeconfig, or in a directory that cannot be written); reads only
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The kubeconfig to check [default: first entry of $KUBECONFIG, else ~/.kube/config]
    #[arg(long, visible_alias = "kubeconfig", value_name = "TARGET")]
    into: Option<PathBuf>,
}

impl CheckArgs {
    pub fn run(self) -> anyhow::Result<()> {
        kubeconfig::check_file(&target_or_default(self.into)?)
    }
}

impl KubeconfigCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            Self::Merge(args) => args.run(),
            Self::Remove(args) => args.run(),
            Self::Check(args) => args.run(),
        }
    }
}

/// Merge the clusters, users and contexts of a kubeconfig into the target
///
/// Entries of the new file replace same-named ones (stale credentials of a recreated cluster)
/// in place, or are appended; everything else in the target is kept. current-context becomes
/// the new file's with --set-current, or when the target has none.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  k3d kubeconfig get openshell-dev | k8s-dev-helper kubeconfig merge --from - --set-current
  k8s-dev-helper kubeconfig merge --from /tmp/kc.yaml --into ./kubeconfig --json")]
pub struct MergeArgs {
    /// The kubeconfig to merge in (e.g. `k3d kubeconfig get CLUSTER` output); `-` reads stdin
    #[arg(long, value_name = "NEW")]
    from: PathBuf,
    /// The kubeconfig to edit [default: first entry of $KUBECONFIG, else ~/.kube/config]
    #[arg(long, visible_alias = "kubeconfig", value_name = "TARGET")]
    into: Option<PathBuf>,
    /// Make the new file's current-context current even if the target has one
    #[arg(long)]
    set_current: bool,
    /// Print the result as JSON on stdout
    #[arg(long)]
    json: bool,
}

impl MergeArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let target = target_or_default(self.into)?;
        let options = MergeOptions {
            set_current: self.set_current,
        };
        let (summary, written) = kubeconfig::merge_file(&self.from, &target, options)?;
        let line = if written.changed {
            format!(
                "merged {} from {} into {} ({})",
                counts(&summary, Changes::merged),
                kubeconfig::source_name(&self.from),
                target.display(),
                state(&summary, true)
            )
        } else {
            format!(
                "{} already has the entries of {} ({})",
                target.display(),
                kubeconfig::source_name(&self.from),
                state(&summary, false)
            )
        };
        report(
            "merge",
            Some(&self.from),
            &target,
            &written,
            summary,
            &line,
            self.json,
        )
    }
}

/// Remove a context, and its cluster and user unless another context uses them
///
/// Clears current-context if it named the context. A missing context or file is not an error
/// (prints a note), so teardown can run twice.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  k8s-dev-helper kubeconfig remove --context k3d-openshell-dev
  k8s-dev-helper kubeconfig remove --context k3d-openshell-dev --from ./kubeconfig")]
pub struct RemoveArgs {
    /// The context to remove
    #[arg(long, value_name = "NAME")]
    context: String,
    /// The kubeconfig to edit [default: first entry of $KUBECONFIG, else ~/.kube/config]
    #[arg(long, visible_alias = "kubeconfig", value_name = "TARGET")]
    from: Option<PathBuf>,
    /// Print the result as JSON on stdout
    #[arg(long)]
    json: bool,
}

impl RemoveArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let target = target_or_default(self.from)?;
        let (summary, written) = kubeconfig::remove_from_file(&target, &self.context)?;
        let line = match &summary.note {
            Some(note) => format!("{note} ({})", target.display()),
            None => {
                let mut line = format!(
                    "removed {} from {} ({})",
                    counts(&summary, |c| c.removed.len()),
                    target.display(),
                    state(&summary, true)
                );
                let kept: Vec<&String> = summary
                    .clusters
                    .kept
                    .iter()
                    .chain(&summary.users.kept)
                    .collect();
                if !kept.is_empty() {
                    let kept: Vec<&str> = kept.iter().map(|s| s.as_str()).collect();
                    line.push_str(&format!(
                        "; kept {} (used by other contexts)",
                        kept.join(", ")
                    ));
                }
                line
            }
        };
        report("remove", None, &target, &written, summary, &line, self.json)
    }
}

fn target_or_default(flag: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match flag {
        Some(path) => Ok(path),
        None => kubeconfig::store::default_target(&Env::from_process()),
    }
}

/// `1 cluster, 1 user, 1 context`, counting entries with `count`.
fn counts(summary: &Summary, count: impl Fn(&Changes) -> usize) -> String {
    let part = |n: usize, noun: &str| format!("{n} {noun}{}", if n == 1 { "" } else { "s" });
    [
        part(count(&summary.clusters), "cluster"),
        part(count(&summary.users), "user"),
        part(count(&summary.contexts), "context"),
    ]
    .join(", ")
}

fn state(summary: &Summary, mention_replaced: bool) -> String {
    let replaced = summary.clusters.replaced.len()
        + summary.users.replaced.len()
        + summary.contexts.replaced.len();
    let current = summary.current_context.as_deref().unwrap_or("none");
    if mention_replaced && replaced > 0 {
        format!("{replaced} replaced; current-context: {current}")
    } else {
        format!("current-context: {current}")
    }
}

/// The JSON view of an edit; the stderr line renders the same facts.
#[derive(Serialize)]
struct Report<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a Path>,
    target: &'a Path,
    /// The file actually written (symlinks resolved), or null when nothing changed.
    written: Option<&'a Path>,
    backup: Option<&'a Path>,
    #[serde(flatten)]
    summary: Summary,
}

fn report(
    action: &str,
    from: Option<&Path>,
    target: &Path,
    written: &Written,
    summary: Summary,
    line: &str,
    json: bool,
) -> anyhow::Result<()> {
    eprintln!("{line}");
    if json {
        let report = Report {
            action,
            from,
            target,
            written: written.changed.then_some(written.path.as_path()),
            backup: written.backup.as_deref(),
            summary,
        };
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}
