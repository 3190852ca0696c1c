// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `registry-credentials`: the files `image publish` and `registry pull-secret` read registry
//! logins from (Docker's `config.json`, Podman's `auth.json`) must be private to their owner.
//! Docker and Podman write them 0600; one open to group or others gives its passwords to every
//! local user, and lets a writer name the credential helper the next login runs. Only the
//! modes are read, never the contents, so nothing secret can reach the report.

use std::path::{Path, PathBuf};

use super::{Check, CheckStatus};
use crate::engine::shell_quote;

/// The check over `files` (in lookup order), with `mode` giving a file's permission bits
/// (`None` when it does not exist).
pub fn check(files: &[PathBuf], mode: &dyn Fn(&Path) -> Option<u32>) -> Check {
    let name = "registry-credentials".to_string();
    let present: Vec<(&PathBuf, u32)> = files
        .iter()
        .filter_map(|f| mode(f).map(|m| (f, m)))
        .collect();
    if present.is_empty() {
        let looked: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Check {
            name,
            status: CheckStatus::Skip,
            detail: format!("no credential file ({} do not exist)", looked.join(", ")),
            fix: None,
        };
    }
    let open: Vec<&(&PathBuf, u32)> = present.iter().filter(|(_, m)| m & 0o077 != 0).collect();
    if !open.is_empty() {
        let details: Vec<String> = open
            .iter()
            .map(|(f, m)| {
                format!(
                    "{} is open to group or others (mode {:04o}) and holds registry logins",
                    f.display(),
                    m & 0o7777
                )
            })
            .collect();
        let quoted: Vec<String> = open
            .iter()
            .map(|(f, _)| shell_quote(&f.to_string_lossy()))
            .collect();
        return Check {
            name,
            status: CheckStatus::Warn,
            detail: details.join("; "),
            fix: Some(format!("chmod 600 {}", quoted.join(" "))),
        };
    }
    let listed: Vec<String> = present
        .iter()
        .map(|(f, m)| format!("{} (mode {:04o})", f.display(), m & 0o7777))
        .collect();
    Check {
        name,
        status: CheckStatus::Ok,
        detail: listed.join(", "),
        fix: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> Vec<PathBuf> {
        vec![
            PathBuf::from("/home/dev/.docker/config.json"),
            PathBuf::from("/run/user/1000/containers/auth.json"),
        ]
    }

    #[test]
    fn private_files_pass_and_are_listed() {
        let got = check(&files(), &|p| {
            p.ends_with("config.json").then_some(0o100600)
        });
        assert_eq!(got.status, CheckStatus::Ok);
        assert_eq!(got.detail, "/home/dev/.docker/config.json (mode 0600)");
    }

    #[test]
    fn a_file_open_to_others_warns_naming_it_and_chmod_600() {
        let got = check(&files(), &|p| {
            Some(if p.ends_with("auth.json") {
                0o100644
            } else {
                0o100600
            })
        });
        assert_eq!(got.status, CheckStatus::Warn);
        assert_eq!(
            got.detail,
            "/run/user/1000/containers/auth.json is open to group or others (mode 0644) and \
             holds registry logins"
        );
        assert_eq!(
            got.fix.as_deref(),
            Some("chmod 600 /run/user/1000/containers/auth.json")
        );
        let both = check(
            &[PathBuf::from("/my dir/config.json"), files()[1].clone()],
            &|_| Some(0o100640),
        );
        assert_eq!(
            both.fix.as_deref(),
            Some("chmod 600 '/my dir/config.json' /run/user/1000/containers/auth.json")
        );
    }

    #[test]
    fn no_credential_file_is_a_skip() {
        let got = check(&files(), &|_| None);
        assert_eq!(got.status, CheckStatus::Skip);
        assert!(
            got.detail.starts_with("no credential file ("),
            "{}",
            got.detail
        );
    }
}
