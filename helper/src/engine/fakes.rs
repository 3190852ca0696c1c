// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Test doubles for the resolver's two seams: a filesystem of named files and sockets, and
//! engines that answer (or fail) by host.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::{Endpoint, FileProbe, Probe, Prober};
use crate::env::{Env, Os};

/// A Linux user `dev` with nothing else set.
pub(crate) fn linux_env() -> Env {
    Env {
        home: Some(PathBuf::from("/home/dev")),
        ..Env::empty(Os::Linux)
    }
}

#[derive(Default)]
pub(crate) struct FakeFs {
    sockets: HashSet<PathBuf>,
    files: HashMap<PathBuf, String>,
}

impl FakeFs {
    pub(crate) fn with_socket(mut self, path: impl Into<PathBuf>) -> FakeFs {
        self.sockets.insert(path.into());
        self
    }

    pub(crate) fn with_file(mut self, path: impl Into<PathBuf>, text: &str) -> FakeFs {
        self.files.insert(path.into(), text.to_string());
        self
    }
}

impl FileProbe for FakeFs {
    fn exists(&self, path: &Path) -> bool {
        self.sockets.contains(path) || self.files.contains_key(path)
    }

    fn read_to_string(&self, path: &Path) -> Option<String> {
        self.files.get(path).cloned()
    }
}

/// Engines by host (`unix:///…`, `tcp://…`); any other host fails as a dead socket would.
/// Records every host it was asked about.
#[derive(Default)]
pub(crate) struct FakeProber {
    answers: HashMap<String, Result<Probe, String>>,
    pub(crate) asked: RefCell<Vec<String>>,
}

impl FakeProber {
    pub(crate) fn docker(self, host: &str, version: &str) -> FakeProber {
        self.answer(
            host,
            Ok(Probe {
                version: version.into(),
                components: vec!["Engine".into(), "containerd".into()],
                libpod_api_version: None,
            }),
        )
    }

    pub(crate) fn podman(self, host: &str, version: &str) -> FakeProber {
        self.answer(
            host,
            Ok(Probe {
                version: version.into(),
                components: vec!["Podman Engine".into(), "Conmon".into()],
                libpod_api_version: Some(version.into()),
            }),
        )
    }

    pub(crate) fn answer(mut self, host: &str, answer: Result<Probe, String>) -> FakeProber {
        self.answers.insert(host.to_string(), answer);
        self
    }
}

impl Prober for FakeProber {
    fn probe(&self, endpoint: &Endpoint) -> Result<Probe, String> {
        let host = endpoint.host();
        self.asked.borrow_mut().push(host.clone());
        self.answers
            .get(&host)
            .cloned()
            .unwrap_or_else(|| Err("stale socket: connection refused".to_string()))
    }
}
