// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Benchmark (not a test): merge one new cluster into a 200-context kubeconfig, through the
//! library and through the real binary, and print min/median/max. Target: 20 ms or less.
//!
//!   cargo build -p k8s-dev-helper --bins --examples && target/debug/examples/bench_merge
//!   (add --release to both for release figures; pass a helper path to override the binary;
//!   `--json` prints one `{"name":…,"unit":"ms","samples":[…]}` line per measurement instead)

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_dev_helper::kubeconfig::{self, Files, MergeOptions};

const CONTEXTS: usize = 200;
const LIBRARY_RUNS: usize = 50;
const BINARY_RUNS: usize = 20;

/// Base64-looking filler the size of a k3d certificate (~800 bytes each).
fn blob(seed: usize) -> String {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    (0..800)
        .map(|i| alphabet[(i * 7 + seed * 13) % alphabet.len()] as char)
        .collect()
}

fn kubeconfig(names: impl Iterator<Item = String>, current: &str) -> String {
    let (mut clusters, mut contexts, mut users) = (String::new(), String::new(), String::new());
    for (i, name) in names.enumerate() {
        clusters.push_str(&format!(
            "- cluster:\n    certificate-authority-data: {}\n    server: https://127.0.0.1:{}\n  name: {name}\n",
            blob(i),
            6000 + i
        ));
        contexts.push_str(&format!(
            "- context:\n    cluster: {name}\n    namespace: ns-{i}\n    user: admin@{name}\n  name: {name}\n"
        ));
        users.push_str(&format!(
            "- name: admin@{name}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
            blob(i + 1),
            blob(i + 2)
        ));
    }
    format!(
        "apiVersion: v1\nclusters:\n{clusters}contexts:\n{contexts}current-context: {current}\nkind: Config\npreferences: {{}}\nusers:\n{users}"
    )
}

/// Prints one measurement: a human line, or with `--json` a JSON line named `name`.
fn report(json: bool, name: &str, label: &str, mut samples: Vec<Duration>) {
    if json {
        // Microsecond resolution is plenty for figures in milliseconds.
        let ms: Vec<f64> = samples
            .iter()
            .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
            .collect();
        println!(
            "{}",
            serde_json::json!({"name": name, "unit": "ms", "samples": ms})
        );
        return;
    }
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label:<34} n={:<3} min {:7.2} ms  median {:7.2} ms  max {:7.2} ms",
        samples.len(),
        ms(samples[0]),
        ms(samples[samples.len() / 2]),
        ms(samples[samples.len() - 1])
    );
}

fn main() -> anyhow::Result<()> {
    let (flags, paths): (Vec<_>, Vec<_>) = std::env::args_os()
        .skip(1)
        .partition(|arg| arg.to_str().is_some_and(|a| a.starts_with("--")));
    let json = match flags.as_slice() {
        [] => false,
        [flag] if flag == "--json" => true,
        _ => anyhow::bail!("usage: bench_merge [helper-binary] [--json]"),
    };
    let binary = match paths.into_iter().next() {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()?
            .parent()
            .and_then(|examples| examples.parent())
            .expect("examples live in target/<profile>/examples")
            .join("k8s-dev-helper"),
    };
    anyhow::ensure!(
        binary.is_file(),
        "helper binary {} not found; fix: cargo build -p k8s-dev-helper --bins (same profile)",
        binary.display()
    );

    let target = kubeconfig((0..CONTEXTS).map(|i| format!("k3d-c{i}")), "k3d-c0");
    let new = kubeconfig(std::iter::once("k3d-new".to_owned()), "k3d-new");
    eprintln!(
        "target: {CONTEXTS} contexts, {} KiB; new: 1 context, {} KiB; binary: {}",
        target.len() / 1024,
        new.len() / 1024,
        binary.display()
    );

    let mut samples = Vec::new();
    for _ in 0..LIBRARY_RUNS {
        let start = Instant::now();
        let (text, summary) = kubeconfig::merge(&target, &new, MergeOptions::default())?;
        samples.push(start.elapsed());
        assert!(summary.changed && text.len() > target.len());
    }
    report(json, "library", "library merge (text to text)", samples);

    let dir = tempfile::tempdir()?;
    let target_path = dir.path().join("config");
    let new_path = dir.path().join("new.yaml");
    std::fs::write(&new_path, &new)?;

    let mut samples = Vec::new();
    for _ in 0..LIBRARY_RUNS {
        std::fs::write(&target_path, &target)?;
        let start = Instant::now();
        let (_, written) = kubeconfig::merge_file(
            &new_path,
            &Files::one(&target_path),
            MergeOptions::default(),
        )?;
        samples.push(start.elapsed());
        assert!(!written.is_empty());
    }
    report(
        json,
        "library_file",
        "library merge_file (lock+bak+fsync)",
        samples,
    );

    let mut samples = Vec::new();
    for _ in 0..BINARY_RUNS {
        std::fs::write(&target_path, &target)?;
        let start = Instant::now();
        let out = Command::new(&binary)
            .args(["kubeconfig", "merge", "--from"])
            .arg(&new_path)
            .arg("--into")
            .arg(&target_path)
            .output()?;
        samples.push(start.elapsed());
        anyhow::ensure!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    report(json, "binary", "binary kubeconfig merge", samples);
    Ok(())
}
