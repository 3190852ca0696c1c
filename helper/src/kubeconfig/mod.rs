// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Kubeconfig edits: merge a cluster's kubeconfig into the user's, and remove it again.
//!
//! [`edit`] holds the rules as pure functions, [`doc`] the YAML model, and [`store`] the file
//! handling (which files, kubectl's lock, `.bak`, atomic 0600 write). The functions here join
//! them and turn a malformed input into one line that names the file and the fix.
//!
//! A rewrite re-emits the YAML: values, unknown keys and key order survive, comments and
//! quoting style do not (kubectl's own writes behave the same).

pub mod doc;
pub mod edit;
mod lock;
pub mod store;
mod write;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde_json::{Map, Value};

pub use doc::{Input, Invalid};
pub use edit::{Changes, MergeOptions, Summary, merge, merge_view, remove_context, remove_view};
pub use store::{Deleted, Files, Missing, Written, delete};

/// Merge the kubeconfig file `new` (`-`: stdin) into `files`: each entry into the file that
/// already defines it, new ones and `current-context` into kubectl's default file (created
/// when missing). Returns the files written.
pub fn merge_file(
    new: &Path,
    files: &Files,
    options: MergeOptions,
) -> Result<(Summary, Vec<Written>)> {
    let new_text = if new == Path::new("-") {
        std::io::read_to_string(std::io::stdin())
            .map_err(|err| anyhow::anyhow!("reading new kubeconfig from stdin: {err}"))?
    } else {
        fs::read_to_string(new).map_err(|err| {
            anyhow::anyhow!(
                "reading new kubeconfig {}: {err}; fix: check the --from path",
                new.display()
            )
        })?
    };
    merge_text(&new_text, new, files, options)
}

/// Merge kubeconfig text (`new` names where it came from, e.g. `k3d kubeconfig get dev`) into
/// `files`, as [`merge_file`] does; no temporary file holds the credentials on the way.
pub fn merge_text(
    new_text: &str,
    new: &Path,
    files: &Files,
    options: MergeOptions,
) -> Result<(Summary, Vec<Written>)> {
    let context = || format!("merging {} into {}", source_name(new), files.display());
    // Judge the new file before touching anything, so a bad one creates no directory either.
    let incoming = doc::parse(new_text, Input::New)
        .and_then(|incoming| {
            edit::merge_view(&[Map::new()], 0, &incoming, options)?;
            Ok(incoming)
        })
        .map_err(|err| explain(err, new, Path::new("")))
        .with_context(context)?;
    store::update(files, Missing::Create, |view| {
        let roots = parse_view(view)?;
        let (out, summary) = edit::merge_view(&roots, view.default, &incoming, options)
            .map_err(|err| explain(err, new, &view.files[view.default].found.given))?;
        Ok((rewritten(&roots, out), summary))
    })
    .with_context(context)
}

/// Remove context `name` (and its unshared cluster and user) from `files`, from the files
/// kubectl reads them from. A missing file or context is a successful no-op whose summary
/// carries a note.
pub fn remove_from_file(files: &Files, name: &str) -> Result<(Summary, Vec<Written>)> {
    store::update(files, Missing::Skip, |view| {
        if view.files.iter().all(|file| file.text.is_none()) {
            let summary = Summary {
                note: Some("the kubeconfig does not exist; nothing to remove".into()),
                ..Summary::default()
            };
            return Ok((vec![None; view.files.len()], summary));
        }
        let roots = parse_view(view)?;
        let (out, summary) = edit::remove_view(&roots, name)
            .map_err(|err| explain(err, Path::new(""), &view.files[view.default].found.given))?;
        Ok((rewritten(&roots, out), summary))
    })
    .with_context(|| format!("removing context {name} from {}", files.display()))
}

/// Fail now, with the error a merge into `files` would give later, when they could not be
/// edited: a path that is not a regular file (a directory, `/dev/null`, a FIFO), a file that
/// is not a kubeconfig, or a default file (where new entries go) that cannot be written: not
/// writable by the user, a read-only mount, or in a directory that cannot be written. Reads
/// only, without blocking; `up` calls it before creating anything.
pub fn check_file(files: &Files) -> Result<()> {
    let context = || format!("checking kubeconfig {}", files.display());
    let view = store::read_view(files).with_context(context)?;
    parse_view(&view).with_context(context)?;
    store::check_writable(&view.files[view.default].found).with_context(context)
}

/// Each file of `view` parsed; a missing one is empty.
fn parse_view(view: &store::View) -> Result<Vec<Map<String, Value>>> {
    view.files
        .iter()
        .map(|file| match &file.text {
            None => Ok(Map::new()),
            Some(text) => doc::parse(text, Input::Target)
                .map_err(|err| explain(err, Path::new(""), &file.found.given)),
        })
        .collect()
}

/// The new text of each file whose content changed, `None` for the others.
fn rewritten(before: &[Map<String, Value>], after: Vec<Map<String, Value>>) -> Vec<Option<String>> {
    before
        .iter()
        .zip(after)
        .map(|(old, new)| (*old != new).then(|| doc::emit(&new)))
        .collect()
}

/// Whether `files` already hold what merging the kubeconfig text `new_text` would write (its
/// entries where kubectl sees them, and its current-context if `options` asks), so a merge
/// would change nothing. Reads only, without blocking; a file that cannot be read or parsed,
/// or a `new_text` that is no kubeconfig, counts as not merged.
pub fn merged_already(files: &Files, new_text: &str, options: MergeOptions) -> bool {
    let Ok(incoming) = doc::parse(new_text, Input::New) else {
        return false;
    };
    let Ok(view) = store::read_view(files) else {
        return false;
    };
    let Ok(roots) = parse_view(&view) else {
        return false;
    };
    matches!(edit::merge_view(&roots, view.default, &incoming, options), Ok((_, summary)) if !summary.changed)
}

/// The text of the one kubeconfig file `path` (`None`: missing), read as an edit reads it:
/// anything but a regular file is an error, never opened (a FIFO cannot hang the read).
pub fn read_file(path: &Path) -> Result<Option<String>> {
    let view = store::read_view(&Files::one(path))?;
    Ok(view.files.into_iter().next().and_then(|file| file.text))
}

/// How the new file is named in messages: its path, or `stdin` for `-`.
pub fn source_name(new: &Path) -> String {
    if new == Path::new("-") {
        "stdin".to_owned()
    } else {
        new.display().to_string()
    }
}

/// One line naming the faulty file and what to do about it.
fn explain(err: Invalid, new: &Path, target: &Path) -> anyhow::Error {
    match err.input {
        Input::New => anyhow::anyhow!(
            "{} is not a valid kubeconfig: {}; fix: regenerate it (k3d kubeconfig get CLUSTER)",
            source_name(new),
            err.problem
        ),
        Input::Target => {
            let backup = store::resolve(target)
                .ok()
                .map(|path| store::sibling(&path, ".bak"))
                .filter(|backup| backup.is_file());
            let hint = match backup {
                Some(backup) => format!(" (the previous version is {})", backup.display()),
                None => String::new(),
            };
            anyhow::anyhow!(
                "{} is not a valid kubeconfig: {}; fix: repair it or move it aside{hint}",
                target.display(),
                err.problem
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    const NEW: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-a\n  cluster: {server: 'https://127.0.0.1:6550'}\nusers:\n- name: admin@k3d-a\n  user: {token: secret-token}\ncontexts:\n- name: k3d-a\n  context: {cluster: k3d-a, user: admin@k3d-a}\ncurrent-context: k3d-a\n";

    #[test]
    fn malformed_new_leaves_target_byte_identical_and_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("config");
        let original = "# my config\napiVersion: v1\nkind: Config\nclusters: []\n";
        fs::write(&target, original).unwrap();
        fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
        let new = tmp.path().join("new.yaml");
        fs::write(&new, "clusters:\n- cluster: {}\n").unwrap();
        let err = merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            format!(
                "merging {new} into {target}: {new} is not a valid kubeconfig: entry 1 of `clusters` has no name; fix: regenerate it (k3d kubeconfig get CLUSTER)",
                new = new.display(),
                target = target.display()
            )
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), original);
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o644
        );
        assert!(!tmp.path().join("config.bak").exists());
    }

    #[test]
    fn malformed_target_points_at_the_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("config");
        let new = tmp.path().join("new.yaml");
        fs::write(&new, NEW).unwrap();
        fs::write(&target, "apiVersion: v1\n").unwrap();
        merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap();
        fs::write(&target, "clusters: [\n").unwrap();
        let err = format!(
            "{:#}",
            merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap_err()
        );
        assert!(
            err.contains(&format!(
                "{} is not a valid kubeconfig: invalid YAML",
                target.display()
            )),
            "{err}"
        );
        assert!(
            err.ends_with(&format!(
                "fix: repair it or move it aside (the previous version is {}.bak)",
                target.display()
            )),
            "{err}"
        );
        assert_eq!(fs::read_to_string(&target).unwrap(), "clusters: [\n");
        assert!(!err.contains("secret-token"));
    }

    #[test]
    fn delete_removes_the_file_and_its_backup_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("k3d-a.yaml");
        let new = tmp.path().join("new.yaml");
        fs::write(&new, NEW).unwrap();
        merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap();
        fs::write(&new, NEW.replace("secret-token", "other-token")).unwrap();
        merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap();
        assert!(tmp.path().join("k3d-a.yaml.bak").is_file());
        let deleted = delete(&target).unwrap();
        assert_eq!(
            deleted.removed,
            [target.clone(), tmp.path().join("k3d-a.yaml.bak")]
        );
        assert!(!target.exists() && !tmp.path().join("k3d-a.yaml.bak").exists());
        assert_eq!(delete(&target).unwrap(), Deleted::default());
    }

    #[test]
    fn merge_text_names_its_source() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("config");
        let err = merge_text(
            "clusters: [{}]",
            Path::new("k3d kubeconfig get a"),
            &Files::one(&target),
            MergeOptions::default(),
        )
        .unwrap_err();
        assert!(
            format!("{err:#}").starts_with("merging k3d kubeconfig get a into "),
            "{err:#}"
        );
        merge_text(
            NEW,
            Path::new("k3d kubeconfig get a"),
            &Files::one(&target),
            MergeOptions::default(),
        )
        .unwrap();
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn remove_from_missing_file_is_a_no_op() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("nope/config");
        let (summary, written) = remove_from_file(&Files::one(&target), "k3d-a").unwrap();
        assert!(written.is_empty());
        assert!(
            summary
                .note
                .unwrap()
                .ends_with("does not exist; nothing to remove")
        );
        assert!(!tmp.path().join("nope").exists());
    }

    #[test]
    fn merge_then_remove_round_trip_through_files() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("config");
        let new = tmp.path().join("new.yaml");
        fs::write(&new, NEW).unwrap();
        let (summary, written) =
            merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap();
        assert!(!written.is_empty());
        assert_eq!(summary.current_context.as_deref(), Some("k3d-a"));
        let (_, again) = merge_file(&new, &Files::one(&target), MergeOptions::default()).unwrap();
        assert!(
            again.is_empty(),
            "merging the same file twice changes nothing"
        );
        let (summary, written) = remove_from_file(&Files::one(&target), "k3d-a").unwrap();
        assert!(!written.is_empty());
        assert_eq!(summary.contexts.removed, ["k3d-a"]);
        let left = doc::parse(&fs::read_to_string(&target).unwrap(), Input::Target).unwrap();
        assert_eq!(left["clusters"], serde_json::json!([]));
        assert_eq!(left["users"], serde_json::json!([]));
        assert_eq!(left["current-context"], "");
    }
}
