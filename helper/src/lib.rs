// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper`: the cross-platform logic of the k8s-dev loop. Decisions (which socket,
//! how to merge, when a wait is over) are pure functions over an [`env::Env`] snapshot and
//! injected probes, so they are unit-tested without engines; `cli` is the IO edge.

pub mod cli;
pub mod doctor;
pub mod engine;
pub mod env;
pub mod exit;
pub mod image;
pub mod k3d;
pub mod kubeapi;
pub mod kubeconfig;
pub mod kubectl;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod ports;
pub mod provider;
pub mod runtime;
pub mod settings;
pub mod status;
pub mod wait;
pub mod worktree;
