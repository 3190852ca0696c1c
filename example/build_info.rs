// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

// Build metadata shared by the example crates' build scripts through `include!`: each
// `build.rs` calls `emit_build_info()`, which sets `BUILD_GIT_SHA` and `BUILD_TIME` for
// `env!`. The dev loop rebuilds these binaries on every change, so the script is careful
// about when it reruns: it names exactly the files it reads (`rerun-if-changed`), which
// stops cargo from rerunning it, and recompiling and relinking the crate, for unrelated
// edits. Unchanged sources therefore give a byte-identical binary and an unchanged image.

use std::path::{Path, PathBuf};
use std::{env, fs};

fn emit_build_info() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../build_info.rs");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");

    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let (sha, watched) = git_head(&manifest_dir).unwrap_or_else(|| ("unknown".into(), Vec::new()));
    for path in watched {
        println!("cargo:rerun-if-changed={}", path.display());
    }
    let time = build_time(&sha);
    println!("cargo:rustc-env=BUILD_GIT_SHA={sha}");
    println!("cargo:rustc-env=BUILD_TIME={time}");
}

/// `SOURCE_DATE_EPOCH` (reproducible builds) when set. Otherwise the time this commit was
/// first built here, kept in `OUT_DIR`: a rerun caused by a moved-but-identical HEAD (e.g.
/// `git checkout -b`) must not change the binary.
fn build_time(sha: &str) -> String {
    if let Some(epoch) = env::var("SOURCE_DATE_EPOCH").ok().and_then(|s| s.trim().parse().ok()) {
        return rfc3339(epoch);
    }
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let stamp = out_dir.join("build-time");
    if let Ok(text) = fs::read_to_string(&stamp)
        && let Some((old_sha, time)) = text.trim().split_once(' ')
        && old_sha == sha
    {
        return time.to_string();
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let time = rfc3339(now);
    let _ = fs::write(&stamp, format!("{sha} {time}\n"));
    time
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch (Howard Hinnant's civil-from-days).
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

/// The commit HEAD points at, read from the files git keeps (no `git` process, so builds
/// outside a checkout or without git just say "unknown"), and the files to watch for it.
/// Handles worktrees (`.git` is a file naming the per-worktree dir, whose `commondir`
/// holds the shared refs) and packed refs.
fn git_head(start: &Path) -> Option<(String, Vec<PathBuf>)> {
    let dot_git = start.ancestors().map(|d| d.join(".git")).find(|p| p.exists())?;
    let git_dir = if dot_git.is_file() {
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.trim().strip_prefix("gitdir:")?.trim();
        dot_git.parent()?.join(target)
    } else {
        dot_git
    };
    let common_dir = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.clone(),
    };

    // HEAD changes on checkout; logs/HEAD (this worktree's reflog) on every commit, reset and
    // rebase, even when the branch ref itself is packed. Only existing files are watched:
    // cargo reruns a script on every build while a watched path is missing.
    let head = git_dir.join("HEAD");
    let mut watched = vec![head.clone()];
    let reflog = git_dir.join("logs").join("HEAD");
    if reflog.exists() {
        watched.push(reflog);
    }
    let content = fs::read_to_string(&head).ok()?;
    let content = content.trim();
    let Some(reference) = content.strip_prefix("ref:").map(str::trim) else {
        return is_sha(content).then(|| (content.to_string(), watched));
    };
    let loose = common_dir.join(reference);
    if let Ok(sha) = fs::read_to_string(&loose) {
        watched.push(loose);
        let sha = sha.trim();
        return is_sha(sha).then(|| (sha.to_string(), watched));
    }
    let packed = fs::read_to_string(common_dir.join("packed-refs")).ok()?;
    let sha = packed.lines().find_map(|line| {
        let (sha, name) = line.split_once(' ')?;
        (name == reference && is_sha(sha)).then(|| sha.to_string())
    })?;
    Some((sha, watched))
}

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}
