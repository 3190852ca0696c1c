// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! What `/version` reports; fixed at build time by `build.rs`.

use serde::Serialize;

/// The binary's identity: the dev loop checks it to see which build a pod runs.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct BuildInfo {
    pub name: &'static str,
    pub version: &'static str,
    pub git_sha: &'static str,
    pub build_time: &'static str,
}

pub const BUILD: BuildInfo = BuildInfo {
    name: env!("CARGO_BIN_NAME"),
    version: env!("CARGO_PKG_VERSION"),
    git_sha: env!("BUILD_GIT_SHA"),
    build_time: env!("BUILD_TIME"),
};

impl std::fmt::Display for BuildInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} (git {}, built {})",
            self.name, self.version, self.git_sha, self.build_time
        )
    }
}

/// The shared build script logic (`example/build_info.rs`), tested here because build scripts
/// have no test harness of their own.
#[cfg(test)]
mod build_script_tests {
    #[allow(dead_code)]
    mod build_info {
        include!("../../build_info.rs");

        pub(super) fn rfc3339_(secs: u64) -> String {
            rfc3339(secs)
        }
        pub(super) fn git_head_(start: &Path) -> Option<(String, Vec<PathBuf>)> {
            git_head(start)
        }
    }

    use std::fs;
    use std::path::{Path, PathBuf};

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    fn scratch(test: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("example-build-info-{test}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("crate")).unwrap();
        dir
    }

    fn write(path: &Path, text: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    #[test]
    fn rfc3339_formats_utc_dates() {
        assert_eq!(build_info::rfc3339_(0), "1970-01-01T00:00:00Z");
        assert_eq!(build_info::rfc3339_(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(build_info::rfc3339_(1_700_000_000), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn loose_ref_is_read_and_watched() {
        let root = scratch("loose");
        write(&root.join(".git/HEAD"), "ref: refs/heads/main\n");
        write(&root.join(".git/refs/heads/main"), &format!("{SHA}\n"));
        write(&root.join(".git/logs/HEAD"), "reflog\n");
        let (sha, watched) = build_info::git_head_(&root.join("crate")).unwrap();
        assert_eq!(sha, SHA);
        assert_eq!(
            watched,
            [
                root.join(".git/HEAD"),
                root.join(".git/logs/HEAD"),
                root.join(".git/refs/heads/main")
            ]
        );
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn worktree_reads_head_there_and_packed_refs_in_the_common_dir() {
        let root = scratch("worktree");
        let main_git = root.join("main/.git");
        let wt_git = main_git.join("worktrees/wt");
        write(&root.join(".git"), "gitdir: main/.git/worktrees/wt\n");
        write(&wt_git.join("HEAD"), "ref: refs/heads/feature\n");
        write(&wt_git.join("commondir"), "../..\n");
        write(
            &main_git.join("packed-refs"),
            &format!("# pack-refs with: peeled\n{SHA} refs/heads/feature\n"),
        );
        let (sha, watched) = build_info::git_head_(&root.join("crate")).unwrap();
        assert_eq!(sha, SHA);
        // Only existing files: a missing watched path would rerun the script on every build.
        assert_eq!(watched, [wt_git.join("HEAD")]);
        fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn detached_head_and_no_git_at_all() {
        let root = scratch("detached");
        write(&root.join(".git/HEAD"), &format!("{SHA}\n"));
        assert_eq!(build_info::git_head_(&root.join("crate")).unwrap().0, SHA);
        fs::remove_dir_all(&root).unwrap();
        // The temp dir has no .git above it, so the build says "unknown".
        let lonely =
            std::env::temp_dir().join(format!("example-build-info-none-{}", std::process::id()));
        fs::create_dir_all(&lonely).unwrap();
        if !lonely.ancestors().any(|d| d.join(".git").exists()) {
            assert_eq!(build_info::git_head_(&lonely), None);
        }
        fs::remove_dir_all(&lonely).unwrap();
    }
}
