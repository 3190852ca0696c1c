// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper kubeconfig merge|remove` run as a binary against temp HOMEs.

mod common;

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{fixture, helper, run, stderr, stdout};
use serde::Deserialize;
use serde_json::Value;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A kubeconfig file's content as JSON (the helper's own YAML reader is tested elsewhere; here
/// serde-saphyr just reads what was written).
fn read_yaml(path: &Path) -> Value {
    serde_saphyr::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn names(doc: &Value, section: &str) -> Vec<String> {
    doc[section]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

fn entry<'a>(doc: &'a Value, section: &str, name: &str) -> &'a Value {
    doc[section]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no {section} entry {name}"))
}

/// A merge command with the umask cleared in the child, so that only the helper's explicit
/// modes stand between the file and the world.
fn merge_cmd(home: &Path) -> Command {
    let mut cmd = helper(home);
    // SAFETY: umask is async-signal-safe and touches only the child's own process state.
    unsafe {
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    cmd.args(["kubeconfig", "merge"]);
    cmd
}

#[test]
fn merge_into_default_kubeconfig_creates_private_dir_and_file() {
    let home = tempfile::tempdir().unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let out = run(merge_cmd(home.path()).arg("--from").arg(&new));
    assert_eq!(out.status.code(), Some(0));
    let target = home.path().join(".kube/config");
    assert_eq!(
        stderr(&out),
        format!(
            "merged 1 cluster, 1 user, 1 context from {} into {} (current-context: k3d-dev)\n",
            new.display(),
            target.display()
        )
    );
    assert_eq!(stdout(&out), "");
    assert_eq!(mode(&home.path().join(".kube")), 0o700);
    assert_eq!(mode(&target), 0o600);
    let doc = read_yaml(&target);
    assert_eq!(doc["current-context"], "k3d-dev");
    assert_eq!(names(&doc, "contexts"), ["k3d-dev"]);
    assert!(
        !home.path().join(".kube/config.bak").exists(),
        "nothing to back up"
    );
}

#[test]
fn merge_reads_the_new_kubeconfig_from_stdin() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    let mut child = merge_cmd(home.path())
        .args(["--from", "-", "--into"])
        .arg(&target)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let yaml = fs::read(fixture("kubeconfig-k3d-dev.yaml")).unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &yaml).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "merged 1 cluster, 1 user, 1 context from stdin into {} (current-context: k3d-dev)\n",
            target.display()
        )
    );
    assert_eq!(names(&read_yaml(&target), "users"), ["admin@k3d-dev"]);
}

#[test]
fn merge_writes_the_first_kubeconfig_entry() {
    let home = tempfile::tempdir().unwrap();
    let first = home.path().join("first/config");
    let second = home.path().join("second");
    fs::write(&second, "apiVersion: v1\nkind: Config\n").unwrap();
    let out = run(merge_cmd(home.path())
        .env(
            "KUBECONFIG",
            format!("{}:{}", first.display(), second.display()),
        )
        .arg("--from")
        .arg(fixture("kubeconfig-k3d-dev.yaml")));
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains(&format!("into {} (", first.display())));
    assert_eq!(names(&read_yaml(&first), "clusters"), ["k3d-dev"]);
    assert_eq!(
        fs::read_to_string(&second).unwrap(),
        "apiVersion: v1\nkind: Config\n"
    );
    assert!(!home.path().join(".kube").exists());
}

#[test]
fn merge_replaces_stale_credentials_keeps_user_entries_and_backs_up() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("kubeconfig");
    let original = fs::read_to_string(fixture("kubeconfig-user.yaml")).unwrap();
    fs::write(&target, &original).unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(&new)
        .arg("--into")
        .arg(&target));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "merged 1 cluster, 1 user, 1 context from {} into {} (2 replaced; current-context: prod)\n",
            new.display(),
            target.display()
        )
    );
    let before: Value = serde_saphyr::from_str(&original).unwrap();
    let after = read_yaml(&target);
    assert_eq!(names(&after, "clusters"), ["prod", "k3d-dev"]);
    assert_eq!(names(&after, "contexts"), ["prod", "k3d-dev"]);
    assert_eq!(names(&after, "users"), ["prod-admin", "admin@k3d-dev"]);
    let fresh = read_yaml(&new);
    assert_eq!(
        entry(&after, "clusters", "k3d-dev"),
        entry(&fresh, "clusters", "k3d-dev")
    );
    assert_eq!(
        entry(&after, "users", "admin@k3d-dev"),
        entry(&fresh, "users", "admin@k3d-dev")
    );
    for (section, name) in [
        ("clusters", "prod"),
        ("users", "prod-admin"),
        ("contexts", "prod"),
    ] {
        assert_eq!(entry(&after, section, name), entry(&before, section, name));
    }
    for key in [
        "preferences",
        "extensions",
        "x-vendor-setting",
        "current-context",
    ] {
        assert_eq!(after[key], before[key], "{key}");
    }
    assert_eq!(
        after["x-vendor-setting"], "6550",
        "a quoted number stays a string"
    );
    let backup = home.path().join("kubeconfig.bak");
    assert_eq!(fs::read_to_string(&backup).unwrap(), original);
    assert_eq!(mode(&backup), 0o600);
    assert_eq!(mode(&target), 0o600);

    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(&new)
        .arg("--kubeconfig")
        .arg(&target)
        .arg("--set-current"));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).ends_with("(current-context: k3d-dev)\n"),
        "{}",
        stderr(&out)
    );
    assert_eq!(read_yaml(&target)["current-context"], "k3d-dev");
}

#[test]
fn merge_of_same_file_twice_changes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    let new = fixture("kubeconfig-k3d-dev.yaml");
    run(merge_cmd(home.path())
        .arg("--from")
        .arg(&new)
        .arg("--into")
        .arg(&target));
    let written = fs::read_to_string(&target).unwrap();
    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(&new)
        .arg("--into")
        .arg(&target));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "{} already has the entries of {} (current-context: k3d-dev)\n",
            target.display(),
            new.display()
        )
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), written);
    assert!(!home.path().join("config.bak").exists());
}

/// The `--json` report, pinned field by field.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    action: String,
    from: Option<PathBuf>,
    target: PathBuf,
    written: Option<PathBuf>,
    backup: Option<PathBuf>,
    clusters: Changes,
    users: Changes,
    contexts: Changes,
    current_context: Option<String>,
    changed: bool,
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Changes {
    added: Vec<String>,
    replaced: Vec<String>,
    unchanged: Vec<String>,
    removed: Vec<String>,
    kept: Vec<String>,
}

#[test]
fn merge_and_remove_json_reports() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("real");
    fs::write(
        &target,
        fs::read_to_string(fixture("kubeconfig-user.yaml")).unwrap(),
    )
    .unwrap();
    let link = home.path().join("config");
    symlink("real", &link).unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let out = run(merge_cmd(home.path())
        .args(["--json", "--from"])
        .arg(&new)
        .arg("--into")
        .arg(&link));
    assert_eq!(out.status.code(), Some(0));
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.action, "merge");
    assert_eq!(report.from.as_deref(), Some(new.as_path()));
    assert_eq!(report.target, link);
    assert_eq!(
        report.written.as_deref(),
        Some(target.as_path()),
        "written through the symlink"
    );
    assert_eq!(report.backup, Some(home.path().join("real.bak")));
    assert_eq!(report.clusters.replaced, ["k3d-dev"]);
    assert_eq!(report.users.replaced, ["admin@k3d-dev"]);
    assert_eq!(report.contexts.unchanged, ["k3d-dev"]);
    assert!(report.clusters.added.is_empty());
    assert_eq!(report.current_context.as_deref(), Some("prod"));
    assert!(report.changed);
    assert_eq!(report.note, None);
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        !stdout(&out).contains("RlJFU0gt"),
        "no credentials in the report"
    );

    let out = run(helper(home.path())
        .args([
            "kubeconfig",
            "remove",
            "--json",
            "--context",
            "k3d-dev",
            "--from",
        ])
        .arg(&link));
    assert_eq!(out.status.code(), Some(0));
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.action, "remove");
    assert_eq!(report.from, None);
    assert_eq!(report.contexts.removed, ["k3d-dev"]);
    assert_eq!(report.clusters.removed, ["k3d-dev"]);
    assert_eq!(report.users.removed, ["admin@k3d-dev"]);
    assert!(report.contexts.kept.is_empty());
    let doc = read_yaml(&target);
    assert_eq!(names(&doc, "contexts"), ["prod"]);
    assert_eq!(doc["current-context"], "prod");
}

#[test]
fn remove_keeps_shared_entries_clears_current_context_and_is_idempotent() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join(".kube/config");
    fs::create_dir_all(target.parent().unwrap()).unwrap();
    fs::copy(fixture("kubeconfig-shared-cluster.yaml"), &target).unwrap();
    let remove = |home: &Path| {
        let mut cmd = helper(home);
        cmd.args(["kubeconfig", "remove", "--context", "k3d-dev"]);
        run(&mut cmd)
    };
    let out = remove(home.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "removed 0 clusters, 0 users, 1 context from {} (current-context: none); kept k3d-dev, admin@k3d-dev (used by other contexts)\n",
            target.display()
        )
    );
    let doc = read_yaml(&target);
    assert_eq!(names(&doc, "contexts"), ["k3d-dev-openshell"]);
    assert_eq!(names(&doc, "clusters"), ["k3d-dev"]);
    assert_eq!(names(&doc, "users"), ["admin@k3d-dev"]);
    assert_eq!(doc["current-context"], "");

    let before = fs::read_to_string(&target).unwrap();
    let out = remove(home.path());
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "context k3d-dev not found; nothing to remove ({})\n",
            target.display()
        )
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), before);

    let empty_home = tempfile::tempdir().unwrap();
    let out = remove(empty_home.path());
    assert_eq!(out.status.code(), Some(0));
    let missing = empty_home.path().join(".kube/config");
    assert_eq!(
        stderr(&out),
        format!(
            "the kubeconfig does not exist; nothing to remove ({})\n",
            missing.display()
        )
    );
    assert!(!empty_home.path().join(".kube").exists());
}

#[test]
fn malformed_new_fails_with_file_and_fix_and_leaves_target_byte_identical() {
    let cases = [
        ("kubeconfig-malformed-yaml.yaml", "invalid YAML: "),
        (
            "kubeconfig-clusters-not-a-list.yaml",
            "`clusters` is a mapping, not a list",
        ),
        (
            "kubeconfig-entry-without-name.yaml",
            "entry 1 of `users` has no name",
        ),
        (
            "kubeconfig-not-a-mapping.yaml",
            "the document is a list, not a mapping",
        ),
    ];
    for (name, problem) in cases {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("config");
        let original = fs::read(fixture("kubeconfig-user.yaml")).unwrap();
        fs::write(&target, &original).unwrap();
        let new = fixture(name);
        let out = run(merge_cmd(home.path())
            .arg("--from")
            .arg(&new)
            .arg("--into")
            .arg(&target));
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = stderr(&out);
        let prefix = format!(
            "error: merging {new} into {target}: {new} is not a valid kubeconfig: {problem}",
            new = new.display(),
            target = target.display()
        );
        assert!(err.starts_with(&prefix), "{name}: {err}");
        assert!(
            err.ends_with("; fix: regenerate it (k3d kubeconfig get CLUSTER)\n"),
            "{name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{name}: one line");
        assert!(!err.contains("c2VjcmV0"), "{name}: no credentials");
        assert_eq!(fs::read(&target).unwrap(), original, "{name}");
        assert!(!home.path().join("config.bak").exists(), "{name}");

        let out = run(merge_cmd(home.path()).arg("--from").arg(&new));
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(
            !home.path().join(".kube").exists(),
            "{name}: no directory for a bad merge"
        );
    }
}

#[test]
fn malformed_target_fails_and_is_left_alone() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    let original = fs::read(fixture("kubeconfig-clusters-not-a-list.yaml")).unwrap();
    fs::write(&target, &original).unwrap();
    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(fixture("kubeconfig-k3d-dev.yaml"))
        .arg("--into")
        .arg(&target));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).ends_with(&format!(
            ": {} is not a valid kubeconfig: `clusters` is a mapping, not a list; fix: repair it or move it aside\n",
            target.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(fs::read(&target).unwrap(), original);

    let out = run(helper(home.path())
        .args(["kubeconfig", "remove", "--context", "x", "--from"])
        .arg(&target));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with(&format!(
        "error: removing context x from {}: ",
        target.display()
    )));
    assert_eq!(fs::read(&target).unwrap(), original);
}

#[test]
fn missing_new_file_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let new = home.path().join("nope.yaml");
    let out = run(merge_cmd(home.path()).arg("--from").arg(&new));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: reading new kubeconfig {}: No such file or directory (os error 2); fix: check the --from path\n",
            new.display()
        )
    );
    assert!(!home.path().join(".kube").exists());
}

#[test]
fn directory_target_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("kube");
    fs::create_dir(&dir).unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(&new)
        .arg("--into")
        .arg(&dir));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: merging {} into {d}: kubeconfig {d} is a directory; fix: point KUBECONFIG or the flag at a file inside it\n",
            new.display(),
            d = dir.display()
        )
    );
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 0);
}

#[test]
fn read_only_directory_is_an_error_naming_it() {
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = home.path().join("ro");
    fs::create_dir(&dir).unwrap();
    let target = dir.join("config");
    let original = fs::read(fixture("kubeconfig-user.yaml")).unwrap();
    fs::write(&target, &original).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o644)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
    let new = home.path().join("new.yaml");
    fs::copy(fixture("kubeconfig-k3d-dev.yaml"), &new).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(0o644)).unwrap();

    let mut cmd = merge_cmd(home.path());
    cmd.arg("--from").arg(&new).arg("--into").arg(&target);
    // Root writes into 0555 directories anyway; run the helper as `nobody` then.
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: merging {} into {}: directory {} is not writable (",
            new.display(),
            target.display(),
            dir.display()
        )),
        "{err}"
    );
    assert!(
        err.ends_with("); fix: make it writable or choose another kubeconfig file\n"),
        "{err}"
    );
    assert_eq!(fs::read(&target).unwrap(), original);
    let mut left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["config"]);
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn concurrent_merges_from_separate_processes_keep_every_entry() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    let template = fs::read_to_string(fixture("kubeconfig-k3d-dev.yaml")).unwrap();
    let children: Vec<_> = (0..6)
        .map(|i| {
            let new = home.path().join(format!("new-{i}.yaml"));
            fs::write(&new, template.replace("k3d-dev", &format!("k3d-c{i}"))).unwrap();
            merge_cmd(home.path())
                .arg("--from")
                .arg(&new)
                .arg("--into")
                .arg(&target)
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(stderr(&out).starts_with("merged 1 cluster, 1 user, 1 context from "));
    }
    let doc = read_yaml(&target);
    let mut contexts = names(&doc, "contexts");
    contexts.sort();
    assert_eq!(
        contexts,
        ["k3d-c0", "k3d-c1", "k3d-c2", "k3d-c3", "k3d-c4", "k3d-c5"]
    );
    assert_eq!(names(&doc, "clusters").len(), 6);
    assert_eq!(names(&doc, "users").len(), 6);
}
