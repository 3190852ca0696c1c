// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Checks the publish tests share.

#![allow(dead_code)] // each test binary uses a different subset

use std::process::Output;

/// Exit 1, one `error:` line on stderr containing every piece of `want`, nothing on stdout.
pub fn assert_one_line_error(out: &Output, want: &[&str]) {
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.starts_with("error: "), "{err}");
    for piece in want {
        assert!(err.contains(piece), "{err:?} lacks {piece:?}");
    }
    assert_eq!(String::from_utf8_lossy(&out.stdout), "");
}
