// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Kubeconfig edits: merge a cluster's kubeconfig into the user's, and remove it again.
//!
//! [`edit`] holds the rules as pure text-to-text functions, [`doc`] the YAML model, and
//! [`store`] the file handling (lock, `.bak`, atomic 0600 write). The functions here join
//! them and turn a malformed input into one line that names the file and the fix.
//!
//! A rewrite re-emits the YAML: values, unknown keys and key order survive, comments and
//! quoting style do not (kubectl's own writes behave the same).

pub mod doc;
pub mod edit;
pub mod store;

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};

pub use doc::{Input, Invalid};
pub use edit::{Changes, MergeOptions, Summary, merge, remove_context};
pub use store::{Missing, Written};

/// Merge the kubeconfig file `new` (`-`: stdin) into `target` (created when missing).
pub fn merge_file(new: &Path, target: &Path, options: MergeOptions) -> Result<(Summary, Written)> {
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
    merge_text(&new_text, new, target, options)
}

/// Merge kubeconfig text (`new` names where it came from, e.g. `k3d kubeconfig get dev`) into
/// `target`, as [`merge_file`] does; no temporary file holds the credentials on the way.
pub fn merge_text(
    new_text: &str,
    new: &Path,
    target: &Path,
    options: MergeOptions,
) -> Result<(Summary, Written)> {
    let context = || format!("merging {} into {}", source_name(new), target.display());
    // Judge the new file before touching anything, so a bad one creates no directory either.
    merge("", new_text, options)
        .map_err(|err| explain(err, new, target))
        .with_context(context)?;
    store::update(target, Missing::Create, |old| {
        let (text, summary) =
            merge(old.unwrap_or(""), new_text, options).map_err(|err| explain(err, new, target))?;
        Ok((summary.changed.then_some(text), summary))
    })
    .with_context(context)
}

/// Remove context `name` (and its unshared cluster and user) from `target`. A missing file or
/// context is a successful no-op whose summary carries a note.
pub fn remove_from_file(target: &Path, name: &str) -> Result<(Summary, Written)> {
    store::update(target, Missing::Skip, |old| {
        let Some(old) = old else {
            let summary = Summary {
                note: Some("the kubeconfig does not exist; nothing to remove".into()),
                ..Summary::default()
            };
            return Ok((None, summary));
        };
        let (text, summary) =
            remove_context(old, name).map_err(|err| explain(err, target, target))?;
        Ok((summary.changed.then_some(text), summary))
    })
    .with_context(|| format!("removing context {name} from {}", target.display()))
}

/// Fail now, with the error a merge into `target` would give later, when `target` could not be
/// edited: a directory, a file that is not a kubeconfig, or a directory that cannot be written.
/// Reads only; `up` calls it before creating anything.
pub fn check_file(target: &Path) -> Result<()> {
    let context = || format!("checking kubeconfig {}", target.display());
    let path = store::resolve(target).with_context(context)?;
    match fs::read_to_string(&path) {
        Ok(text) => {
            doc::parse(&text, Input::Target)
                .map_err(|err| explain(err, target, target))
                .with_context(context)?;
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("reading {}", path.display()));
        }
    }
    store::check_writable(&path).with_context(context)
}

/// Delete a kubeconfig file the kit owns (a cluster's own `~/.kube/k3d-<cluster>.yaml`) and its
/// backup; a missing file is fine, so `down` can run twice.
pub fn delete_file(target: &Path) -> Result<()> {
    let path = store::resolve(target)?;
    for file in [backup_of(&path), path] {
        match fs::remove_file(&file) {
            Ok(()) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err).with_context(|| format!("removing {}", file.display())),
        }
    }
    Ok(())
}

/// The one-deep backup an edit leaves next to the file: `<file>.bak`.
fn backup_of(path: &Path) -> std::path::PathBuf {
    path.with_file_name(format!(
        "{}.bak",
        path.file_name().unwrap_or_default().to_string_lossy()
    ))
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
                .map(|path| backup_of(&path))
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
        let err = merge_file(&new, &target, MergeOptions::default()).unwrap_err();
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
        merge_file(&new, &target, MergeOptions::default()).unwrap();
        fs::write(&target, "clusters: [\n").unwrap();
        let err = format!(
            "{:#}",
            merge_file(&new, &target, MergeOptions::default()).unwrap_err()
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
    fn delete_file_removes_the_file_and_its_backup_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("k3d-a.yaml");
        let new = tmp.path().join("new.yaml");
        fs::write(&new, NEW).unwrap();
        merge_file(&new, &target, MergeOptions::default()).unwrap();
        fs::write(&new, NEW.replace("secret-token", "other-token")).unwrap();
        merge_file(&new, &target, MergeOptions::default()).unwrap();
        assert!(tmp.path().join("k3d-a.yaml.bak").is_file());
        delete_file(&target).unwrap();
        assert!(!target.exists() && !tmp.path().join("k3d-a.yaml.bak").exists());
        delete_file(&target).unwrap();
    }

    #[test]
    fn merge_text_names_its_source() {
        let tmp = tempfile::tempdir().unwrap();
        let target = tmp.path().join("config");
        let err = merge_text(
            "clusters: [{}]",
            Path::new("k3d kubeconfig get a"),
            &target,
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
            &target,
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
        let (summary, written) = remove_from_file(&target, "k3d-a").unwrap();
        assert!(!written.changed);
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
        let (summary, written) = merge_file(&new, &target, MergeOptions::default()).unwrap();
        assert!(written.changed);
        assert_eq!(summary.current_context.as_deref(), Some("k3d-a"));
        let (_, again) = merge_file(&new, &target, MergeOptions::default()).unwrap();
        assert!(
            !again.changed,
            "merging the same file twice changes nothing"
        );
        let (summary, written) = remove_from_file(&target, "k3d-a").unwrap();
        assert!(written.changed);
        assert_eq!(summary.contexts.removed, ["k3d-a"]);
        let left = doc::parse(&fs::read_to_string(&target).unwrap(), Input::Target).unwrap();
        assert_eq!(left["clusters"], serde_json::json!([]));
        assert_eq!(left["users"], serde_json::json!([]));
        assert_eq!(left["current-context"], "");
    }
}
