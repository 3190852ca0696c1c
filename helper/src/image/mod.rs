// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Daemonless image publishing: a base image's manifest and config read over the Distribution
//! API, host files added as one deterministic layer, and the result pushed blob by blob with the
//! manifest last, the way ko and jib do. Moving an image through a container engine is the slow
//! part of the inner loop; this skips the engine entirely.
//!
//! - [`reference`]: image names, Docker Hub normalisation, which registries speak plain HTTP
//! - [`manifest`]: manifests, indexes, platform choice, config edits
//! - [`layer`]: the deterministic tar and its compression; [`cache`]: skip rebuilding it
//! - [`registry`]: the Distribution API client (bearer tokens, mounts, uploads); [`auth`]:
//!   credentials and CAs where Docker and Podman keep them
//! - [`dockerfile`]: the Dockerfile subset that needs no engine; [`prefix`]: an engine builds
//!   the part before it once (`--engine-prefix`)
//! - [`publish`]: the whole publish, end to end

pub mod auth;
pub mod cache;
pub mod dockerfile;
pub mod fsroot;
pub mod layer;
pub mod manifest;
pub mod prefix;
pub mod publish;
pub mod pull_secret;
pub mod reference;
pub mod registry;

use sha2::{Digest, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}
