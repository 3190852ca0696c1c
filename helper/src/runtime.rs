// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The CLI is synchronous; bollard and reqwest are async. One small runtime per call keeps the
//! async parts contained.

use std::future::Future;

/// Run a future to completion on a fresh current-thread runtime.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building a tokio runtime")
        .block_on(future)
}

/// Install ring as rustls' process-wide crypto provider (reqwest is built without one so the
/// helper shares kube's provider and needs no C toolchain beyond what ring needs). Idempotent.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
