// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The real binary as a process: signals, `install`, exit codes.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_openshell-sandbox");

#[test]
fn sigterm_ends_the_heartbeat_loop_cleanly() {
    let mut child = Command::new(BIN)
        .env("SUPERVISOR_HEARTBEAT_SECS", "3600")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("openshell-sandbox 0.1.0 (git "),
        "{first}"
    );

    // The version line is printed after the signals are blocked, so this cannot race.
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: plain kill(2) of our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(rest, "received SIGTERM, exiting\n");
}

#[test]
fn install_copies_a_working_binary() {
    let dir = std::env::temp_dir().join(format!("openshell-sandbox-it-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = Command::new(BIN).arg("install").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let copy = dir.join("openshell-sandbox");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("installed {}\n", copy.display())
    );
    let original = Command::new(BIN).arg("--version").output().unwrap();
    let copied = Command::new(&copy).arg("--version").output().unwrap();
    assert!(copied.status.success());
    assert_eq!(copied.stdout, original.stdout);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bad_usage_exits_2_with_a_message() {
    let out = Command::new(BIN).args(["install"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: unexpected arguments [\"install\"]; see --help\n"
    );
    let out = Command::new(BIN)
        .env("SUPERVISOR_HEARTBEAT_SECS", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .starts_with("error: SUPERVISOR_HEARTBEAT_SECS=0: not a whole number")
    );
}
