// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper settings` through the real binary: the docs generated from the table are the
//! ones in the repository, every K8S_DEV_* name the kit uses is in the table, values survive a
//! round trip through `sh`, empty variables are unset, and each injection the adversarial review
//! found is refused with one line before anything could use it.
//!
//! `K8S_DEV_BLESS=1 cargo test -p k8s-dev-helper --test settings` rewrites the generated blocks
//! in README.md and tasks/scripts/k8s-dev.sh.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{helper, run, stderr, stdout};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn helper_in(home: &Path) -> Command {
    let mut cmd = helper(home);
    for var in ["XDG_STATE_HOME", "XDG_CACHE_HOME", "CARGO_TARGET_DIR"] {
        cmd.env_remove(var);
    }
    cmd
}

fn generated(flag: &str) -> String {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper_in(home.path()).args(["settings", flag]));
    assert!(out.status.success());
    stdout(&out)
}

/// The text between the lines containing `begin` and `end` (exclusive).
fn block(text: &str, begin: &str, end: &str) -> Option<(usize, usize)> {
    let start = text.find(begin)?;
    let start = start + text[start..].find('\n')? + 1;
    let stop = start + text[start..].find(end)?;
    let stop = text[..stop].rfind('\n').map_or(start, |i| i + 1);
    Some((start, stop))
}

/// Check (or, with K8S_DEV_BLESS=1, rewrite) a generated block of `file`.
fn check_block(file: &str, begin: &str, end: &str, body: &str) {
    let path = repo().join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let (start, stop) = block(&text, begin, end)
        .unwrap_or_else(|| panic!("{file} has no block between {begin:?} and {end:?}"));
    if std::env::var("K8S_DEV_BLESS").is_ok_and(|v| v == "1") {
        let new = format!("{}{body}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    assert!(
        text[start..stop] == *body,
        "{file} is out of date with the settings table; regenerate it: \
         K8S_DEV_BLESS=1 cargo test -p k8s-dev-helper --test settings\n--- in {file} ---\n{}\n--- generated ---\n{body}",
        &text[start..stop]
    );
}

#[test]
fn readme_settings_table_is_generated_from_the_table() {
    check_block(
        "README.md",
        "<!-- BEGIN generated settings",
        "<!-- END generated settings",
        &generated("--markdown"),
    );
}

#[test]
fn script_usage_lists_the_settings_from_the_table() {
    let usage = generated("--usage");
    check_block(
        "tasks/scripts/k8s-dev.sh",
        "  cat <<'SETTINGS'",
        "SETTINGS\n}",
        &usage,
    );
}

/// Every `K8S_DEV_*` word in `text`.
fn names_in(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("K8S_DEV_") {
        let before = rest[..at].chars().last();
        let tail = &rest[at..];
        let len = tail
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .unwrap_or(tail.len());
        // `K8S_DEV_*` and `K8S_DEV_TEST_*` in prose are patterns, not names.
        let name = &tail[..len];
        if !before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') && !name.ends_with('_') {
            names.push(name.to_string());
        }
        rest = &tail[len..];
    }
    names
}

#[test]
fn every_setting_the_kit_reads_is_in_the_table() {
    let json: serde_json::Value = {
        let home = tempfile::tempdir().unwrap();
        let out = run(helper_in(home.path()).args(["settings", "--json"]));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    // Not settings: test, bench and fuzz knobs, the keys of sync's images.env, and the values
    // file bootstrap and watch write (K8S_DEV_KIT_VALUES, for Skaffold's templates).
    let not_settings = [
        "K8S_DEV_TEST_",
        "K8S_DEV_FAKE_",
        "K8S_DEV_BENCH_",
        "K8S_DEV_E2E",
        "K8S_DEV_FUZZ_",
        "K8S_DEV_ENGINES_",
        "K8S_DEV_GATEWAY_TAG",
        "K8S_DEV_SUPERVISOR_TAG",
        "K8S_DEV_KIT_VALUES",
        "K8S_DEV_BLESS",
    ];
    let mut files = vec![
        repo().join("deploy/k3d/cluster.yaml"),
        repo().join("skaffold.yaml"),
        repo().join("mise.toml"),
    ];
    for dir in ["tasks/scripts", "tasks"] {
        for entry in std::fs::read_dir(repo().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    let mut unknown = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for name in names_in(&text) {
            let known = json.get(&name).is_some()
                || not_settings.iter().any(|prefix| name.starts_with(prefix));
            if !known {
                unknown.push(format!("{name} in {}", file.display()));
            }
        }
    }
    assert!(
        unknown.is_empty(),
        "not in the settings table: {unknown:#?}"
    );
}

#[test]
fn mise_toml_sets_no_defaults_the_helper_owns() {
    let text = std::fs::read_to_string(repo().join("mise.toml")).unwrap();
    let defaults: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("K8S_DEV_"))
        .collect();
    assert!(defaults.is_empty(), "mise.toml [env] sets {defaults:?}");
}

#[test]
fn shell_form_round_trips_through_sh() {
    let home = tempfile::tempdir().unwrap();
    let tricky = "/work/it's a \"repo\"/$HOME/`id`/values.yaml";
    let out = run(helper_in(home.path())
        .args(["settings", "--shell", "--kit-dir", "/kit dir"])
        .env("K8S_DEV_VALUES", tricky));
    assert!(out.status.success());
    let script = format!(
        "{}\nprintf '%s\\n' \"$K8S_DEV_VALUES\" \"$K8S_DEV_K3D_CONFIG\" \"$K8S_DEV_REGISTRY\" \"$K8S_DEV_CLUSTER_CONTEXT\"",
        stdout(&out)
    );
    let sh = Command::new("sh").args(["-c", &script]).output().unwrap();
    assert!(
        sh.status.success(),
        "{}",
        String::from_utf8_lossy(&sh.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&sh.stdout),
        format!("{tricky}\n/kit dir/deploy/k3d/cluster.yaml\nlocalhost:5000\nk3d-openshell-dev\n")
    );
}

#[test]
fn empty_variables_mean_unset_never_a_usage_error() {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper_in(home.path())
        .args(["settings", "--json"])
        .env("K8S_DEV_CLUSTER", "")
        .env("K8S_DEV_REGISTRY_PORT", ""));
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["K8S_DEV_CLUSTER"]["value"], "openshell-dev");
    assert_eq!(json["K8S_DEV_CLUSTER"]["origin"], "derived");
    assert_eq!(json["K8S_DEV_REGISTRY"]["value"], "localhost:5000");
    // Variables clap reads: `XDG_CACHE_HOME=` was "a value is required" (exit 2).
    let out = run(helper_in(home.path())
        .args([
            "image",
            "publish",
            "--base",
            "x",
            "--file",
            "a:b",
            "--tag",
            "localhost:1/x:y",
        ])
        .env("XDG_CACHE_HOME", "")
        .env("SOURCE_DATE_EPOCH", "")
        .env("K8S_DEV_CACHE_DIR", "")
        .env("K8S_DEV_INSECURE_REGISTRIES", ""));
    assert_eq!(
        out.status.code(),
        Some(1),
        "a bad --file, not a usage error"
    );
    assert!(stderr(&out).contains("--file \"a:b\""), "{}", stderr(&out));
    // The wait timeout defaults to K8S_DEV_TIMEOUT's default when that is empty.
    let out = run(helper_in(home.path())
        .args(["wait", "tcp", "127.0.0.1:1", "--json"])
        .env("K8S_DEV_TIMEOUT", "1s"));
    assert_eq!(out.status.code(), Some(3));
    let out = run(helper_in(home.path())
        .args(["wait", "--help"])
        .env("K8S_DEV_TIMEOUT", ""));
    assert!(out.status.success());
}

/// Run `settings --shell` with one variable set; exit code and stderr lines.
fn refused(name: &str, value: &str) -> Vec<String> {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper_in(home.path())
        .args(["settings", "--shell"])
        .env(name, value));
    assert_eq!(out.status.code(), Some(1), "{name}={value:?} was accepted");
    assert_eq!(stdout(&out), "", "nothing to eval after a refusal");
    stderr(&out).lines().map(String::from).collect()
}

fn assert_one_line_naming(lines: &[String], name: &str) {
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].starts_with(&format!("error: {name}: ")),
        "{lines:?}"
    );
    assert!(lines[0].contains(&format!("; set {name} to ")), "{lines:?}");
}

#[test]
fn bash_arithmetic_through_agents_is_refused() {
    // `$((1 + K8S_DEV_AGENTS))` would have run the command substitution.
    let marker = tempfile::tempdir().unwrap().path().join("pwned");
    let value = format!("HOME[$(touch {})]", marker.display());
    assert_one_line_naming(&refused("K8S_DEV_AGENTS", &value), "K8S_DEV_AGENTS");
    assert_one_line_naming(&refused("K8S_DEV_AGENTS", "two"), "K8S_DEV_AGENTS");
    assert!(!marker.exists());
}

#[test]
fn yaml_through_k3d_env_expansion_is_refused() {
    // k3d expands ${VAR} over deploy/k3d/cluster.yaml before parsing it: a newline would add
    // keys (a host volume, a port on 0.0.0.0 past the validated bind address).
    for (name, value) in [
        ("K8S_DEV_NETWORK", "k3d\nvolumes:\n  - volume: /:/host"),
        ("K8S_DEV_REGISTRY_NAME", "reg:5000\n  - 0.0.0.0:80:80"),
        ("K8S_DEV_NODEPORT", "30051\n  - port: 0.0.0.0:2375:2375"),
        ("K8S_DEV_K3S_IMAGE", "rancher/k3s\nservers: 3"),
        ("K8S_DEV_TIMEOUT", "60s\"\n  k3s: {}"),
    ] {
        assert_one_line_naming(&refused(name, value), name);
    }
}

#[test]
fn quotes_in_registry_names_are_refused() {
    // The mirror config quotes the pull name: a `"` would close it.
    assert_one_line_naming(
        &refused("K8S_DEV_REGISTRY_PULL", "reg\":5000"),
        "K8S_DEV_REGISTRY_PULL",
    );
    assert_one_line_naming(
        &refused("K8S_DEV_REGISTRY", "localhost:5000\" x"),
        "K8S_DEV_REGISTRY",
    );
}

#[test]
fn values_starting_with_a_dash_are_refused_not_read_as_options() {
    for name in [
        "K8S_DEV_CLUSTER",
        "K8S_DEV_CONTEXT",
        "K8S_DEV_CRDS",
        "K8S_DEV_CHART",
        "K8S_DEV_RELEASE",
        "K8S_DEV_CARGO_BUILD",
    ] {
        let lines = refused(name, "--kubeconfig=/tmp/evil");
        assert_one_line_naming(&lines, name);
        assert!(lines[0].contains("starts with '-'"), "{lines:?}");
    }
}

#[test]
fn settings_names_the_values_in_effect() {
    let home = tempfile::tempdir().unwrap();
    let out = run(helper_in(home.path())
        .arg("settings")
        .env("K8S_DEV_REGISTRY_PORT", "5001"));
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("k8s-dev settings\n\n"), "{text}");
    assert!(
        text.contains("  K8S_DEV_REGISTRY_PORT: 5001 (set)\n"),
        "{text}"
    );
    assert!(
        text.contains("  K8S_DEV_REGISTRY: localhost:5001 (derived)\n"),
        "{text}"
    );
}
