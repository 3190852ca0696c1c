// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Wall time of `k8s-dev-helper engine` (process start to exit) against the engine in
//! `DOCKER_HOST`, over N runs: prints min, median and max. A measurement, not a test.
//!
//!     cargo build -p k8s-dev-helper --bins --examples [--release]
//!     DOCKER_HOST=unix:///run/user/1000/podman/podman.sock \
//!         target/debug/examples/bench_engine [runs (default 50)] [--json [--name NAME]]
//!
//! It runs the `k8s-dev-helper` built next to it (same profile). `--json` prints one line,
//! `{"name":NAME (default "engine"),"unit":"ms","samples":[…]}`, for bench/tasks.sh.

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut runs = 50;
    let mut json = false;
    let mut name = "engine".to_owned();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), arg.parse::<usize>()) {
            ("--json", _) => json = true,
            ("--name", _) if args.len() > 0 => name = args.next().expect("checked"),
            (_, Ok(n)) if n > 0 => runs = n,
            _ => {
                eprintln!("usage: bench_engine [runs] [--json [--name NAME]]");
                return ExitCode::from(2);
            }
        }
    }
    let Ok(host) = std::env::var("DOCKER_HOST") else {
        eprintln!("error: set DOCKER_HOST to the engine to measure against");
        return ExitCode::from(2);
    };
    let bin = std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.join("k8s-dev-helper")))
        .filter(|bin| bin.exists());
    let Some(bin) = bin else {
        eprintln!(
            "error: no k8s-dev-helper next to this example; cargo build -p k8s-dev-helper --bins"
        );
        return ExitCode::FAILURE;
    };

    let once = || -> Result<Duration, String> {
        let start = Instant::now();
        let out = Command::new(&bin)
            .arg("engine")
            .env("DOCKER_HOST", &host)
            .output()
            .map_err(|err| format!("running {}: {err}", bin.display()))?;
        let elapsed = start.elapsed();
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(elapsed)
    };
    // One unmeasured run so page cache and the engine's first-connection work are not counted.
    if let Err(err) = once() {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        match once() {
            Ok(elapsed) => times.push(elapsed),
            Err(err) => {
                eprintln!("{err}");
                return ExitCode::FAILURE;
            }
        }
    }
    let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
    if json {
        // Microsecond resolution is plenty for figures in milliseconds.
        let samples: Vec<f64> = times
            .iter()
            .map(|d| (d.as_secs_f64() * 1e6).round() / 1e3)
            .collect();
        println!(
            "{}",
            serde_json::json!({"name": name, "unit": "ms", "samples": samples})
        );
        return ExitCode::SUCCESS;
    }
    times.sort();
    println!(
        "k8s-dev-helper engine, DOCKER_HOST={host}, {runs} runs: min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms(&times[0]),
        ms(&times[runs / 2]),
        ms(&times[runs - 1])
    );
    ExitCode::SUCCESS
}
