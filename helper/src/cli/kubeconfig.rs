// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::env::Env;
use crate::kubeconfig::{self, Changes, Files, MergeOptions, Summary, Written};

/// Merge a cluster's kubeconfig into yours, or remove it again
///
/// Both edits take kubectl's lock (`<file>.lock`), keep the previous content in `<file>.bak`,
/// and write atomically with mode 0600 (through a symlink to the file it points at; in place
/// for a bind-mounted file). Only regular files are written. Without a flag they edit the
/// files of $KUBECONFIG as `kubectl config` does (an entry where it is defined, a new one in
/// the first file that exists, else the last), else ~/.kube/config.
#[derive(Debug, clap::Subcommand)]
pub enum KubeconfigCommand {
    Merge(MergeArgs),
    Remove(RemoveArgs),
    Check(CheckArgs),
}

/// Exit 1 with the fix when the target could not be merged into (not a regular file, not a
/// kubeconfig, not writable, a read-only mount, or in a directory that cannot be written);
/// reads only
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The kubeconfig to check [default: the files of $KUBECONFIG, else ~/.kube/config]
    #[arg(long, visible_alias = "kubeconfig", value_name = "TARGET")]
    into: Option<PathBuf>,
}

impl CheckArgs {
    pub fn run(self) -> anyhow::Result<()> {
        kubeconfig::check_file(&files_or_default(self.into)?)
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
    /// The kubeconfig to edit [default: the files of $KUBECONFIG, else ~/.kube/config]
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
        let files = files_or_default(self.into)?;
        let options = MergeOptions {
            set_current: self.set_current,
        };
        let (summary, written) = kubeconfig::merge_file(&self.from, &files, options)?;
        let line = if written.is_empty() {
            format!(
                "{} already has the entries of {} ({})",
                files.display(),
                kubeconfig::source_name(&self.from),
                state(&summary, false)
            )
        } else {
            format!(
                "merged {} from {} into {} ({}{})",
                counts(&summary, Changes::merged),
                kubeconfig::source_name(&self.from),
                files.display(),
                wrote(&files, &written),
                state(&summary, true)
            )
        };
        report(
            "merge",
            Some(&self.from),
            &files,
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
    /// The kubeconfig to edit [default: the files of $KUBECONFIG, else ~/.kube/config]
    #[arg(long, visible_alias = "kubeconfig", value_name = "TARGET")]
    from: Option<PathBuf>,
    /// Print the result as JSON on stdout
    #[arg(long)]
    json: bool,
}

impl RemoveArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let files = files_or_default(self.from)?;
        let (summary, written) = kubeconfig::remove_from_file(&files, &self.context)?;
        let line = match &summary.note {
            Some(note) => format!("{note} ({})", files.display()),
            None => {
                let mut line = format!(
                    "removed {} from {} ({}{})",
                    counts(&summary, |c| c.removed.len()),
                    files.display(),
                    wrote(&files, &written),
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
        report("remove", None, &files, &written, summary, &line, self.json)
    }
}

fn files_or_default(flag: Option<PathBuf>) -> anyhow::Result<Files> {
    match flag {
        Some(path) => Ok(Files::one(path)),
        None => Files::from_env(&Env::from_process()),
    }
}

/// Which files an edit of several wrote (`wrote B; `); nothing for one file.
fn wrote(files: &Files, written: &[Written]) -> String {
    if files.paths().len() == 1 {
        return String::new();
    }
    let paths: Vec<String> = written
        .iter()
        .map(|w| w.path.display().to_string())
        .collect();
    format!("wrote {}; ", paths.join(", "))
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

/// The JSON view of an edit; the stderr lines render the same facts.
#[derive(Serialize)]
struct Report<'a> {
    action: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    from: Option<&'a Path>,
    /// The file edited, or the files of $KUBECONFIG joined with `:`.
    target: String,
    /// The files actually written (symlinks resolved); empty when nothing changed.
    written: Vec<&'a Path>,
    backups: Vec<&'a Path>,
    /// Files rewritten in place (a bind mount, …) rather than replaced.
    in_place: Vec<&'a Path>,
    warnings: Vec<&'a str>,
    #[serde(flatten)]
    summary: Summary,
}

fn report(
    action: &str,
    from: Option<&Path>,
    files: &Files,
    written: &[Written],
    summary: Summary,
    line: &str,
    json: bool,
) -> anyhow::Result<()> {
    crate::cli::up::tell(written);
    eprintln!("{line}");
    if json {
        let report = Report {
            action,
            from,
            target: files.display(),
            written: written.iter().map(|w| w.path.as_path()).collect(),
            backups: written.iter().filter_map(|w| w.backup.as_deref()).collect(),
            in_place: written
                .iter()
                .filter(|w| w.in_place.is_some())
                .map(|w| w.path.as_path())
                .collect(),
            warnings: written
                .iter()
                .flat_map(|w| w.warnings.iter().map(String::as_str))
                .collect(),
            summary,
        };
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(())
}
