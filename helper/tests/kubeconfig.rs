// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper kubeconfig merge|remove` run as a binary against temp HOMEs.

mod common;

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt, symlink};
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
    target: String,
    written: Vec<PathBuf>,
    backups: Vec<PathBuf>,
    in_place: Vec<PathBuf>,
    warnings: Vec<String>,
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
    assert_eq!(report.target, link.display().to_string());
    assert_eq!(
        report.written,
        std::slice::from_ref(&target),
        "written through the symlink"
    );
    assert_eq!(report.backups, [home.path().join("real.bak")]);
    assert!(report.in_place.is_empty());
    assert!(report.warnings.is_empty());
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

// --- several files in KUBECONFIG: where kubectl writes ---------------------------------------

/// A user's kubeconfig with only its own context, current.
const PROD: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: prod\n  cluster: {server: 'https://prod.example:443'}\nusers:\n- name: prod-admin\n  user: {token: prod-token}\ncontexts:\n- name: prod\n  context: {cluster: prod, user: prod-admin}\ncurrent-context: prod\n";
/// The entries of an earlier k3d cluster `dev`, with stale credentials.
const STALE: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-dev\n  cluster: {server: 'https://0.0.0.0:6550'}\nusers:\n- name: admin@k3d-dev\n  user: {token: stale-token}\ncontexts:\n- name: k3d-dev\n  context: {cluster: k3d-dev, user: admin@k3d-dev}\n";
/// Only the context of cluster `dev` (its cluster and user live in another file).
const CONTEXT_ONLY: &str = "apiVersion: v1\nkind: Config\ncontexts:\n- name: k3d-dev\n  context: {cluster: k3d-dev, user: admin@k3d-dev}\ncurrent-context: prod\n";
/// Only the cluster and user of cluster `dev`.
const CREDENTIALS_ONLY: &str = "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-dev\n  cluster: {server: 'https://0.0.0.0:6550'}\nusers:\n- name: admin@k3d-dev\n  user: {token: stale-token}\n";

/// Which file holds which entries: one line per file, names sorted (content aside, kubectl
/// and the helper write different values; this compares *where* they write).
fn layout(dir: &Path, names: &[&str]) -> String {
    let mut out = String::new();
    for name in names {
        let path = dir.join(name);
        if !path.exists() {
            out.push_str(&format!("{name}: missing\n"));
            continue;
        }
        let doc: Value = serde_saphyr::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let list = |section: &str| {
            let mut names: Vec<&str> = doc[section]
                .as_array()
                .map(|list| list.iter().filter_map(|e| e["name"].as_str()).collect())
                .unwrap_or_default();
            names.sort();
            names.join(",")
        };
        out.push_str(&format!(
            "{name}: clusters [{}] users [{}] contexts [{}] current-context [{}]\n",
            list("clusters"),
            list("users"),
            list("contexts"),
            doc["current-context"].as_str().unwrap_or_default()
        ));
    }
    out
}

/// `kubectl` on PATH, or `None` after saying why the kubectl comparison is skipped.
fn kubectl_or_skip() -> Option<PathBuf> {
    match which::which("kubectl") {
        Ok(path) => Some(path),
        Err(_) => {
            let reason = "kubectl is not on PATH (.ci/run installs it)";
            assert!(!common::no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
            eprintln!("SKIP: {reason}");
            None
        }
    }
}

fn kubectl(kubectl: &Path, home: &Path, kubeconfig: &str, args: &[&str]) {
    let out = run(Command::new(kubectl)
        .env("HOME", home)
        .env("KUBECONFIG", kubeconfig)
        .args(["config"])
        .args(args));
    assert!(
        out.status.success(),
        "kubectl config {args:?}: {}",
        stderr(&out)
    );
}

/// The same edits, made by kubectl verb by verb: what `merge --set-current` and `remove` of
/// cluster `dev` amount to.
fn kubectl_merge_and_remove(bin: &Path, home: &Path, kubeconfig: &str) -> (String, String) {
    let dir = home.join("files");
    let names = ["a", "b", "c"];
    kubectl(
        bin,
        home,
        kubeconfig,
        &["set-cluster", "k3d-dev", "--server=https://127.0.0.1:6550"],
    );
    kubectl(
        bin,
        home,
        kubeconfig,
        &["set-credentials", "admin@k3d-dev", "--token=fresh"],
    );
    kubectl(
        bin,
        home,
        kubeconfig,
        &[
            "set-context",
            "k3d-dev",
            "--cluster=k3d-dev",
            "--user=admin@k3d-dev",
        ],
    );
    kubectl(bin, home, kubeconfig, &["use-context", "k3d-dev"]);
    let merged = layout(&dir, &names);
    kubectl(bin, home, kubeconfig, &["delete-context", "k3d-dev"]);
    kubectl(bin, home, kubeconfig, &["delete-cluster", "k3d-dev"]);
    kubectl(bin, home, kubeconfig, &["delete-user", "admin@k3d-dev"]);
    kubectl(bin, home, kubeconfig, &["unset", "current-context"]);
    (merged, layout(&dir, &names))
}

fn helper_merge_and_remove(home: &Path, kubeconfig: &str) -> (String, String) {
    let dir = home.join("files");
    let names = ["a", "b", "c"];
    let out = run(merge_cmd(home)
        .env("KUBECONFIG", kubeconfig)
        .args(["--set-current", "--from"])
        .arg(fixture("kubeconfig-k3d-dev.yaml")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let merged = layout(&dir, &names);
    let out = run(helper(home).env("KUBECONFIG", kubeconfig).args([
        "kubeconfig",
        "remove",
        "--context",
        "k3d-dev",
    ]));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The helper's backups are not kubectl's business: drop them before comparing.
    for name in names {
        let _ = fs::remove_file(dir.join(format!("{name}.bak")));
    }
    (merged, layout(&dir, &names))
}

#[test]
fn several_kubeconfig_files_are_written_where_kubectl_writes() {
    let kubectl_bin = kubectl_or_skip();
    // (what, files a/b/c before, layout after merge, layout after remove)
    let cases: [(&str, [Option<&str>; 3], &str, &str); 4] = [
        (
            "no file exists: kubectl's default is the last one",
            [None, None, None],
            "a: missing\nb: missing\nc: clusters [k3d-dev] users [admin@k3d-dev] contexts [k3d-dev] current-context [k3d-dev]\n",
            "a: missing\nb: missing\nc: clusters [] users [] contexts [] current-context []\n",
        ),
        (
            "new entries and current-context go to the first file that exists",
            [None, Some(PROD), Some(PROD)],
            "a: missing\nb: clusters [k3d-dev,prod] users [admin@k3d-dev,prod-admin] contexts [k3d-dev,prod] current-context [k3d-dev]\nc: clusters [prod] users [prod-admin] contexts [prod] current-context [prod]\n",
            "a: missing\nb: clusters [prod] users [prod-admin] contexts [prod] current-context []\nc: clusters [prod] users [prod-admin] contexts [prod] current-context [prod]\n",
        ),
        (
            "existing entries are replaced in the file that defines them",
            [Some(PROD), Some(STALE), None],
            "a: clusters [prod] users [prod-admin] contexts [prod] current-context [k3d-dev]\nb: clusters [k3d-dev] users [admin@k3d-dev] contexts [k3d-dev] current-context []\nc: missing\n",
            "a: clusters [prod] users [prod-admin] contexts [prod] current-context []\nb: clusters [] users [] contexts [] current-context []\nc: missing\n",
        ),
        (
            "a context and its credentials in different files stay apart",
            [Some(CONTEXT_ONLY), Some(CREDENTIALS_ONLY), Some(PROD)],
            "a: clusters [] users [] contexts [k3d-dev] current-context [k3d-dev]\nb: clusters [k3d-dev] users [admin@k3d-dev] contexts [] current-context []\nc: clusters [prod] users [prod-admin] contexts [prod] current-context [prod]\n",
            "a: clusters [] users [] contexts [] current-context []\nb: clusters [] users [] contexts [] current-context []\nc: clusters [prod] users [prod-admin] contexts [prod] current-context [prod]\n",
        ),
    ];
    for (what, before, merged, removed) in cases {
        let mut results = Vec::new();
        let runs: Vec<&str> = if kubectl_bin.is_some() {
            vec!["helper", "kubectl"]
        } else {
            vec!["helper"]
        };
        for who in runs {
            let home = tempfile::tempdir().unwrap();
            let dir = home.path().join("files");
            fs::create_dir(&dir).unwrap();
            for (name, text) in ["a", "b", "c"].iter().zip(before) {
                if let Some(text) = text {
                    fs::write(dir.join(name), text).unwrap();
                }
            }
            let list = ["a", "b", "c"]
                .map(|n| dir.join(n).display().to_string())
                .join(":");
            let result = match who {
                "helper" => helper_merge_and_remove(home.path(), &list),
                _ => kubectl_merge_and_remove(kubectl_bin.as_deref().unwrap(), home.path(), &list),
            };
            results.push((who, result));
        }
        for (who, (after_merge, after_remove)) in &results {
            assert_eq!(after_merge, merged, "{what}: {who} merge");
            assert_eq!(after_remove, removed, "{what}: {who} remove");
        }
    }
}

#[test]
fn merge_into_several_files_names_what_it_wrote() {
    let home = tempfile::tempdir().unwrap();
    let (a, b) = (home.path().join("a"), home.path().join("b"));
    fs::write(&a, CONTEXT_ONLY).unwrap();
    fs::write(&b, CREDENTIALS_ONLY).unwrap();
    let list = format!("{}:{}", a.display(), b.display());
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let out = run(merge_cmd(home.path())
        .env("KUBECONFIG", &list)
        .args(["--json", "--set-current", "--from"])
        .arg(&new));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stderr(&out),
        format!(
            "merged 1 cluster, 1 user, 1 context from {} into {list} (wrote {}, {}; 2 replaced; current-context: k3d-dev)\n",
            new.display(),
            b.display(),
            a.display()
        )
    );
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.target, list);
    // The credentials where they were; the context is unchanged, but current-context goes
    // to kubectl's default file (the first that exists), written last.
    assert_eq!(report.written, [b.clone(), a.clone()]);
    assert_eq!(
        report.backups,
        [home.path().join("b.bak"), home.path().join("a.bak")]
    );
    assert_eq!(report.contexts.unchanged, ["k3d-dev"]);
    assert_eq!(report.clusters.replaced, ["k3d-dev"]);

    // Nothing to change: nothing written.
    let out = run(merge_cmd(home.path())
        .env("KUBECONFIG", &list)
        .arg("--from")
        .arg(&new));
    assert_eq!(
        stderr(&out),
        format!(
            "{list} already has the entries of {} (current-context: k3d-dev)\n",
            new.display()
        )
    );
}

// --- kubectl's lock -----------------------------------------------------------------------------

/// A kubeconfig of `n` contexts with certificate-sized credentials: big enough that one
/// read-modify-write, kubectl's or the helper's, takes long enough to overlap the other's.
fn big_kubeconfig(n: usize) -> String {
    let mut text = String::from(PROD);
    text.push_str("extensions: []\n");
    let mut doc: Value = serde_saphyr::from_str(&text).unwrap();
    for i in 0..n {
        doc["clusters"].as_array_mut().unwrap().push(serde_json::json!({
            "name": format!("c{i}"),
            "cluster": {"server": format!("https://c{i}.example:6443"), "certificate-authority-data": "Q".repeat(1500)}
        }));
        doc["contexts"]
            .as_array_mut()
            .unwrap()
            .push(serde_json::json!({
                "name": format!("c{i}"),
                "context": {"cluster": format!("c{i}"), "user": "prod-admin"}
            }));
    }
    serde_saphyr::to_string(&doc).unwrap()
}

#[test]
fn merge_waits_while_kubectl_holds_its_lock() {
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    fs::write(&target, PROD).unwrap();
    // What kubectl leaves for the moment of its write: an empty `<file>.lock`, O_EXCL.
    let lock = home.path().join("config.lock");
    fs::write(&lock, "").unwrap();
    let mut child = merge_cmd(home.path())
        .arg("--from")
        .arg(fixture("kubeconfig-k3d-dev.yaml"))
        .arg("--into")
        .arg(&target)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let waiting = child.try_wait().unwrap().is_none();
    let untouched = fs::read_to_string(&target).unwrap() == PROD;
    fs::remove_file(&lock).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        waiting,
        "merge finished while kubectl's lock was held: {}",
        stderr(&out)
    );
    assert!(
        untouched,
        "the kubeconfig was written while kubectl's lock was held"
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).starts_with(&format!(
            "waiting up to 5s for {} (kubectl or another edit",
            lock.display()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&read_yaml(&target), "contexts"), ["prod", "k3d-dev"]);
    assert!(!lock.exists());
}

#[test]
fn merge_never_drops_what_a_concurrent_kubectl_wrote() {
    let Some(kubectl_bin) = kubectl_or_skip() else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let target = home.path().join("config");
    fs::write(&target, big_kubeconfig(300)).unwrap();
    let template = fs::read_to_string(fixture("kubeconfig-k3d-dev.yaml")).unwrap();
    let rounds = 20;
    let (kubectl_ok, kubectl_refused) = std::thread::scope(|scope| {
        let kubectl_side = scope.spawn(|| {
            let (mut ok, mut refused) = (Vec::new(), 0);
            for i in 0..rounds {
                let out = Command::new(&kubectl_bin)
                    .env("HOME", home.path())
                    .env("KUBECONFIG", &target)
                    .args([
                        "config",
                        "set-context",
                        &format!("kc-{i}"),
                        "--cluster=prod",
                        "--user=prod-admin",
                    ])
                    .output()
                    .unwrap();
                if out.status.success() {
                    ok.push(format!("kc-{i}"));
                } else {
                    // kubectl does not wait for a lock: it fails, and changes nothing.
                    assert!(
                        stderr(&out).contains("config.lock: file exists"),
                        "{}",
                        stderr(&out)
                    );
                    refused += 1;
                }
            }
            (ok, refused)
        });
        for i in 0..rounds {
            let new = home.path().join(format!("new-{i}.yaml"));
            fs::write(&new, template.replace("k3d-dev", &format!("k3d-h{i}"))).unwrap();
            let out = run(merge_cmd(home.path())
                .arg("--from")
                .arg(&new)
                .arg("--into")
                .arg(&target));
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            // A gap between merges, so kubectl's writes get in as often as they are refused.
            std::thread::sleep(std::time::Duration::from_millis(60));
        }
        kubectl_side.join().unwrap()
    });
    assert!(
        !kubectl_ok.is_empty(),
        "kubectl never got a write in: the test proved nothing"
    );
    let contexts = names(&read_yaml(&target), "contexts");
    let lost = |names: &mut dyn Iterator<Item = String>| -> Vec<String> {
        names.filter(|name| !contexts.contains(name)).collect()
    };
    // The helper reads and writes under kubectl's lock, so it never writes back a file read
    // before a kubectl write: every context kubectl reported as set is there.
    let lost_kubectl = lost(&mut kubectl_ok.iter().cloned());
    assert!(
        lost_kubectl.is_empty(),
        "kubectl's contexts lost to an interleaved write: {lost_kubectl:?}"
    );
    // kubectl itself reads the file *before* taking its lock and deletes, under the lock,
    // whatever it did not see (client-go ModifyConfig diffs its stale copy against the file),
    // so a helper entry written in that gap can be dropped by kubectl; two kubectls lose each
    // other's entries the same way. Counted, not asserted: no lock of ours can prevent it.
    let lost_helper = lost(&mut (0..rounds).map(|i| format!("k3d-h{i}")));
    eprintln!(
        "kubectl: {} writes, {kubectl_refused} refused while the helper held the lock; helper entries dropped by kubectl's stale read: {lost_helper:?}",
        kubectl_ok.len()
    );
    assert!(!home.path().join("config.lock").exists());
}

// --- files that are not regular files ----------------------------------------------------------

/// True when running as root; else say why the calling test skips (or fail under
/// K8S_DEV_TEST_NO_SKIP=1: CI runs as root).
fn root_or_skip(what: &str) -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let reason = format!("{what} needs root (CI runs the tests as root)");
    assert!(!common::no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
    eprintln!("SKIP: {reason}");
    false
}

/// Run `cmd`, killing it and failing if it has not finished within 20 s (a read of a FIFO
/// blocks until a writer comes: forever).
fn run_bounded(cmd: &mut Command) -> std::process::Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} hung");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    eprintln!(
        "$ {cmd:?}\nexit: {:?}\nstderr:\n{}",
        out.status.code(),
        stderr(&out)
    );
    out
}

/// Every command that reads or writes the kubeconfig, with KUBECONFIG=`path`: each refuses it
/// in one line naming the fix, none hangs, and `status` and `doctor` report it.
fn assert_refused_everywhere(home: &Path, path: &Path, what: &str) {
    let refusal = format!(
        "kubeconfig {} is {what}, not a regular file; fix: point KUBECONFIG or the flag at a regular file, or at a path that does not exist yet\n",
        path.display()
    );
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let cases: [(&[&str], String); 3] = [
        (
            &["check"],
            format!("error: checking kubeconfig {}: ", path.display()),
        ),
        (
            &["merge", "--set-current", "--from", new.to_str().unwrap()],
            format!("error: merging {} into {}: ", new.display(), path.display()),
        ),
        (
            &["remove", "--context", "k3d-dev"],
            format!("error: removing context k3d-dev from {}: ", path.display()),
        ),
    ];
    for (args, prefix) in cases {
        let out = run_bounded(
            helper(home)
                .env("KUBECONFIG", path)
                .arg("kubeconfig")
                .args(args),
        );
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(stderr(&out), format!("{prefix}{refusal}"), "{args:?}");
    }
    let out = run_bounded(
        helper(home)
            .env("KUBECONFIG", path)
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no-engine.sock", home.display()),
            )
            .args(["status", "--json"]),
    );
    assert_eq!(out.status.code(), Some(0));
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(status["kubeconfig"]["error"], refusal.trim_end(), "status");
    let out = run_bounded(
        helper(home)
            .env("KUBECONFIG", path)
            .env(
                "DOCKER_HOST",
                format!("unix://{}/no-engine.sock", home.display()),
            )
            .args(["doctor", "--json"]),
    );
    let doctor: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let check = doctor["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "kubeconfig")
        .unwrap();
    assert_eq!(check["status"], "fail");
    assert_eq!(
        check["detail"],
        format!("{} is {what}, not a regular file", path.display())
    );
}

#[test]
fn a_fifo_as_kubeconfig_is_refused_and_hangs_nothing() {
    let home = tempfile::tempdir().unwrap();
    let fifo = home.path().join("kubeconfig");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c_path is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    assert_refused_everywhere(home.path(), &fifo, "a FIFO (named pipe)");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn a_device_as_kubeconfig_is_refused_and_left_a_device() {
    if !root_or_skip("a device node made with mknod") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    // Our own /dev/null (char 1:3) in a temp dir: what `KUBECONFIG=/dev/null` points at in CI,
    // where a merge as root used to replace the system's /dev/null with a regular file.
    let null = home.path().join("null");
    let c_path = std::ffi::CString::new(null.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c_path is a valid NUL-terminated path; makedev has no preconditions.
    assert_eq!(
        unsafe { libc::mknod(c_path.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) },
        0
    );
    assert_refused_everywhere(home.path(), &null, "a character device");
    let meta = fs::symlink_metadata(&null).unwrap();
    assert!(meta.file_type().is_char_device());
    assert_eq!(meta.rdev(), libc::makedev(1, 3));
    let mut left: Vec<_> = fs::read_dir(home.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["null"], "no backup, temp or lock file beside it");
}

// --- bind mounts ---------------------------------------------------------------------------------

/// The helper with `args`, run in a private mount namespace in which `source` is bind-mounted
/// over `target` (read-only if asked), as a devcontainer mounts the host's kubeconfig. The
/// mount dies with the namespace, so a failing test leaves none behind.
fn in_mount_namespace(
    home: &Path,
    source: &Path,
    target: &Path,
    read_only: bool,
    args: &[&std::ffi::OsStr],
) -> Command {
    let template = helper(home);
    let mut cmd = Command::new("unshare");
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => cmd.env(key, value),
            None => cmd.env_remove(key),
        };
    }
    cmd.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("set -e; mount --bind \"$1\" \"$2\"; if [ \"$3\" = ro ]; then mount -o remount,bind,ro \"$2\"; fi; shift 3; exec \"$@\"")
        .arg("sh")
        .arg(source)
        .arg(target)
        .arg(if read_only { "ro" } else { "rw" })
        .arg(template.get_program())
        .args(args);
    cmd
}

fn mount_or_skip() -> bool {
    root_or_skip("a bind mount (mount --bind in a private namespace)")
        && which::which("unshare").is_ok_and(|_| true)
}

#[test]
fn a_bind_mounted_kubeconfig_is_checked_and_rewritten_in_place() {
    if !mount_or_skip() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let host = home.path().join("host-config");
    fs::write(&host, PROD).unwrap();
    let kube = home.path().join("kube");
    fs::create_dir(&kube).unwrap();
    let target = kube.join("config");
    fs::write(&target, "the file the mount covers\n").unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");

    let out = run(&mut in_mount_namespace(
        home.path(),
        &host,
        &target,
        false,
        &[
            "kubeconfig".as_ref(),
            "check".as_ref(),
            "--into".as_ref(),
            target.as_os_str(),
        ],
    ));
    assert_eq!(
        out.status.code(),
        Some(0),
        "check accepts a writable bind mount"
    );

    let out = run(&mut in_mount_namespace(
        home.path(),
        &host,
        &target,
        false,
        &[
            "kubeconfig".as_ref(),
            "merge".as_ref(),
            "--json".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--into".as_ref(),
            target.as_os_str(),
        ],
    ));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).starts_with(&format!(
            "note: rewrote {} in place: it is a mount point (a bind-mounted file)",
            target.display()
        )),
        "{}",
        stderr(&out)
    );
    let report: Report = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report.in_place, std::slice::from_ref(&target));
    // Written through the mount: the host's file has the merge, the covered file is untouched.
    let merged = read_yaml(&host);
    assert_eq!(names(&merged, "contexts"), ["prod", "k3d-dev"]);
    assert_eq!(
        fs::read_to_string(&target).unwrap(),
        "the file the mount covers\n"
    );
    assert_eq!(fs::read_to_string(kube.join("config.bak")).unwrap(), PROD);
    let mut left: Vec<_> = fs::read_dir(&kube)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["config", "config.bak"], "no temp or lock file left");
}

#[test]
fn a_read_only_bind_mounted_kubeconfig_fails_the_check_before_anything_is_created() {
    if !mount_or_skip() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let host = home.path().join("host-config");
    fs::write(&host, PROD).unwrap();
    let target = home.path().join("config");
    fs::write(&target, "covered\n").unwrap();
    let new = fixture("kubeconfig-k3d-dev.yaml");
    let expected = format!(
        "kubeconfig {} is a read-only mount; fix: mount it read-write, or point KUBECONFIG or the flag at another file\n",
        target.display()
    );
    let out = run(&mut in_mount_namespace(
        home.path(),
        &host,
        &target,
        true,
        &[
            "kubeconfig".as_ref(),
            "check".as_ref(),
            "--into".as_ref(),
            target.as_os_str(),
        ],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: checking kubeconfig {}: {expected}",
            target.display()
        )
    );
    let out = run(&mut in_mount_namespace(
        home.path(),
        &host,
        &target,
        true,
        &[
            "kubeconfig".as_ref(),
            "merge".as_ref(),
            "--from".as_ref(),
            new.as_os_str(),
            "--into".as_ref(),
            target.as_os_str(),
        ],
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).ends_with(&expected), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&host).unwrap(), PROD);
}

// --- owners, permissions, directories ---------------------------------------------------------

/// The helper as uid 65534 when running as root (root may write anything), else as the user.
fn as_other_user(cmd: &mut Command) -> &mut Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd
}

fn give_to_runner(path: &Path) {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
    }
}

#[test]
fn a_kubeconfig_the_user_cannot_write_is_an_error_not_a_replacement() {
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = home.path().join("kube");
    fs::create_dir(&dir).unwrap();
    give_to_runner(&dir);
    let target = dir.join("config");
    fs::write(&target, PROD).unwrap();
    // Not the runner's to write (root's 0644; or the user's own 0444), in a directory it can
    // write: a rename would replace it all the same.
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    fs::set_permissions(
        &target,
        fs::Permissions::from_mode(if root { 0o644 } else { 0o444 }),
    )
    .unwrap();
    let new = home.path().join("new.yaml");
    fs::copy(fixture("kubeconfig-k3d-dev.yaml"), &new).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(0o644)).unwrap();
    let meta = fs::metadata(&target).unwrap();
    let expected = format!(
        "kubeconfig {} is not writable by you (owner uid {}, mode {:04o}); fix: make it writable, or point KUBECONFIG or the flag at a file you own\n",
        target.display(),
        meta.uid(),
        meta.mode() & 0o7777
    );
    let out = run(as_other_user(
        helper(home.path())
            .args(["kubeconfig", "check", "--into"])
            .arg(&target),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr(&out),
        format!(
            "error: checking kubeconfig {}: {expected}",
            target.display()
        )
    );
    let out = run(as_other_user(
        merge_cmd(home.path())
            .arg("--from")
            .arg(&new)
            .arg("--into")
            .arg(&target),
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).ends_with(&expected), "{}", stderr(&out));
    assert_eq!(fs::read_to_string(&target).unwrap(), PROD);
    let after = fs::metadata(&target).unwrap();
    assert_eq!(
        (after.ino(), after.uid(), after.mode()),
        (meta.ino(), meta.uid(), meta.mode())
    );
    let mut left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, ["config"]);
}

#[test]
fn merge_through_a_symlink_keeps_the_owner_of_the_file_it_names() {
    if !root_or_skip("writing a file another user owns") {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let real = home.path().join("users-config");
    fs::write(&real, PROD).unwrap();
    std::os::unix::fs::chown(&real, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o600)).unwrap();
    let link = home.path().join("config");
    symlink("users-config", &link).unwrap();
    let out = run(merge_cmd(home.path())
        .arg("--from")
        .arg(fixture("kubeconfig-k3d-dev.yaml"))
        .arg("--into")
        .arg(&link));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(names(&read_yaml(&real), "contexts"), ["prod", "k3d-dev"]);
    for file in [&real, &home.path().join("users-config.bak")] {
        let meta = fs::metadata(file).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o777),
            (65534, 65534, 0o600),
            "{}",
            file.display()
        );
    }
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_directory_that_cannot_be_synced_after_the_rename_is_a_warning_not_a_failure() {
    let home = tempfile::tempdir().unwrap();
    fs::set_permissions(home.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let dir = home.path().join("kube");
    fs::create_dir(&dir).unwrap();
    let target = dir.join("config");
    fs::write(&target, PROD).unwrap();
    give_to_runner(&target);
    give_to_runner(&dir);
    // Writable and searchable but not readable: the rename works, opening the directory to
    // fsync it does not.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o300)).unwrap();
    let new = home.path().join("new.yaml");
    fs::copy(fixture("kubeconfig-k3d-dev.yaml"), &new).unwrap();
    fs::set_permissions(&new, fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(as_other_user(
        merge_cmd(home.path())
            .arg("--from")
            .arg(&new)
            .arg("--into")
            .arg(&target),
    ));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "the kubeconfig was written: not a failure"
    );
    let err = stderr(&out);
    let warning = |file: &Path| {
        format!(
            "warning: wrote {}, but syncing its directory {} failed (Permission denied (os error 13)); the change may not survive a crash of the machine\n",
            file.display(),
            dir.display()
        )
    };
    assert!(
        err.starts_with(&(warning(&dir.join("config.bak")) + &warning(&target))),
        "{err}"
    );
    assert!(
        err.ends_with(&format!(
            "into {} (2 replaced; current-context: prod)\n",
            target.display()
        )) || err.contains("merged 1 cluster"),
        "{err}"
    );
    assert_eq!(names(&read_yaml(&target), "contexts"), ["prod", "k3d-dev"]);
}

#[test]
fn status_reports_every_kubeconfig_file_and_where_the_context_is() {
    let home = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        home.path().join("a"),
        home.path().join("b"),
        home.path().join("c"),
    );
    fs::write(&a, PROD).unwrap();
    fs::copy(fixture("kubeconfig-k3d-dev.yaml"), &b).unwrap();
    let list = format!("{}:{}:{}", a.display(), b.display(), c.display());
    let out = run(helper(home.path())
        .env("KUBECONFIG", &list)
        .env(
            "DOCKER_HOST",
            format!("unix://{}/no-engine.sock", home.path().display()),
        )
        .env("K8S_DEV_CLUSTER", "dev")
        .args(["status", "--json"]));
    assert_eq!(out.status.code(), Some(0));
    let status: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let k = &status["kubeconfig"];
    assert_eq!(
        k["files"],
        serde_json::json!([
            a.display().to_string(),
            b.display().to_string(),
            c.display().to_string()
        ])
    );
    assert_eq!(
        k["default_file"],
        a.display().to_string(),
        "the first that exists"
    );
    assert_eq!(k["context_in_default"], true);
    assert_eq!(k["context_file"], b.display().to_string());
    assert_eq!(k["current_context"], "prod", "the first file's wins");
    assert_eq!(k["error"], Value::Null);
}

// --- up and down write through the store -------------------------------------------------------

/// `k8s-dev-helper down finish` for cluster `dev`, with `KUBECONFIG` set to `kubeconfig`.
fn down_finish(home: &Path, kubeconfig: &str) -> Command {
    let mut cmd = helper(home);
    cmd.env("K8S_DEV_CLUSTER", "dev")
        .env("KUBECONFIG", kubeconfig)
        .args(["down", "finish"]);
    cmd
}

#[test]
fn down_removes_the_cluster_from_the_kubeconfig_file_kubectl_reads_it_from() {
    let home = tempfile::tempdir().unwrap();
    let (missing, user) = (home.path().join("missing"), home.path().join("user"));
    // The user's file with the cluster merged into it, as `up` leaves it.
    fs::write(&user, PROD).unwrap();
    let out = run(helper(home.path())
        .env("KUBECONFIG", &user)
        .args(["kubeconfig", "merge", "--from"])
        .arg(fixture("kubeconfig-k3d-dev.yaml")));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(names(&read_yaml(&user), "contexts"), ["prod", "k3d-dev"]);
    // KUBECONFIG=missing:user: the context is in the second file, which kubectl reads it from;
    // the first entry (the old rule's target) does not exist and must not be created.
    let list = format!("{}:{}", missing.display(), user.display());
    let out = run(&mut down_finish(home.path(), &list));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(names(&read_yaml(&user), "contexts"), ["prod"]);
    assert_eq!(names(&read_yaml(&user), "users"), ["prod-admin"]);
    assert!(
        !missing.exists(),
        "down created the first entry of KUBECONFIG"
    );
    assert!(
        stderr(&out).contains(&format!("removed context k3d-dev from {list}")),
        "{}",
        stderr(&out)
    );
}

#[test]
fn down_refuses_a_cluster_kubeconfig_that_is_not_a_regular_file_and_deletes_nothing() {
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join(".kube");
    fs::create_dir(&kube).unwrap();
    // The cluster's own file a symlink to a FIFO: following it used to delete the FIFO (as
    // root, a link to /dev/null deleted the system's /dev/null).
    let fifo = home.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: c_path is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    symlink(&fifo, kube.join("k3d-dev.yaml")).unwrap();
    let user = home.path().join("user");
    fs::write(&user, PROD).unwrap();
    let out = run_bounded(&mut down_finish(home.path(), &user.display().to_string()));
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!(
            "error: deleting kubeconfig {}: kubeconfig {} (a symlink to {}) is a FIFO (named pipe), not a regular file; fix:",
            kube.join("k3d-dev.yaml").display(),
            kube.join("k3d-dev.yaml").display(),
            fifo.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
}

#[test]
fn down_empties_a_bind_mounted_cluster_kubeconfig_it_cannot_delete() {
    if !mount_or_skip() {
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join(".kube");
    fs::create_dir(&kube).unwrap();
    let host = home.path().join("host-k3d-dev.yaml");
    fs::copy(fixture("kubeconfig-k3d-dev.yaml"), &host).unwrap();
    let target = kube.join("k3d-dev.yaml");
    fs::write(&target, "covered\n").unwrap();
    let user = home.path().join("user");
    fs::write(&user, PROD).unwrap();
    let finish = down_finish(home.path(), &user.display().to_string());
    let args: Vec<&std::ffi::OsStr> = finish.get_args().collect();
    let mut cmd = in_mount_namespace(home.path(), &host, &target, false, &args);
    cmd.env("K8S_DEV_CLUSTER", "dev").env("KUBECONFIG", &user);
    let out = run(&mut cmd);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!(
            "note: emptied {} instead of deleting it: it is a mount point",
            target.display()
        )),
        "{}",
        stderr(&out)
    );
    // The host's file behind the mount holds no credentials any more; no backup keeps them.
    let left = read_yaml(&host);
    assert_eq!(names(&left, "users"), Vec::<String>::new());
    assert!(
        !fs::read_to_string(&host)
            .unwrap()
            .contains("client-key-data")
    );
    assert!(!kube.join("k3d-dev.yaml.bak").exists());
    assert_eq!(fs::read_to_string(&target).unwrap(), "covered\n");
}
