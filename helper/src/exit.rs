// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Process exit codes. Scripts branch on these, so they are part of the interface and listed in
//! the README. Anything not listed exits 1; clap's usage errors exit 2.

use std::fmt;

/// A wait ran out of time; the message carries the last observed reason.
pub const TIMEOUT: u8 = 3;
/// `image publish --dockerfile` met an instruction that needs a container engine.
pub const NEEDS_ENGINE: u8 = 4;

/// An error that exits with a specific code. Build one with [`Coded::error`];
/// `main` finds it anywhere in the chain.
#[derive(Debug)]
pub struct Coded {
    pub code: u8,
    pub message: String,
}

impl Coded {
    /// A coded error, ready to return: `return Err(Coded::error(TIMEOUT, msg))`.
    pub fn error(code: u8, message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Coded {
            code,
            message: message.into(),
        })
    }
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// The exit code for an error: the first [`Coded`] in its chain, else 1.
pub fn code_of(err: &anyhow::Error) -> u8 {
    err.chain()
        .find_map(|e| e.downcast_ref::<Coded>())
        .map_or(1, |c| c.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn code_of_finds_coded_error_under_context() {
        let err = Err::<(), _>(Coded::error(TIMEOUT, "timed out"))
            .context("waiting for registry")
            .unwrap_err();
        assert_eq!(code_of(&err), TIMEOUT);
        assert_eq!(format!("{err:#}"), "waiting for registry: timed out");
    }

    #[test]
    fn code_of_plain_error_is_one() {
        assert_eq!(code_of(&anyhow::anyhow!("boom")), 1);
    }
}
