// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The compute driver seam. Handlers talk to a [`Driver`]; production uses
//! `kube_driver::KubeDriver`, start-up without a cluster uses [`Unavailable`], and the
//! handler tests use a recording fake.

use std::future::Future;
use std::pin::Pin;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Toleration;
use serde::{Deserialize, Serialize};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A sandbox as the API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sandbox {
    pub name: String,
    pub namespace: String,
    /// Pod phase: Pending, Running, Succeeded, Failed or Unknown.
    pub phase: String,
    /// Every container of the pod is ready.
    pub ready: bool,
    /// Image of the sandbox container.
    pub image: String,
    /// RFC 3339 creation time; absent until the API server has stored the pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// A sandbox to create: its name (`None` lets the platform pick one) and where its pod may run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSandbox {
    pub name: Option<String>,
    pub placement: Placement,
}

/// The pod placement of OpenShell's per-sandbox Kubernetes driver config
/// (`--driver-config-json '{"kubernetes":{"pod":{"node_selector":{...},"tolerations":[...]}}}'`):
/// added to the sandbox pod's spec as they are.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Placement {
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
}

/// Why a driver call failed; each kind maps to one HTTP status in `api`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverError {
    /// The request itself is wrong (400).
    Invalid(String),
    NotFound(String),
    AlreadyExists(String),
    /// The driver cannot work at all right now: no cluster config, no image (503).
    Unavailable(String),
    /// The Kubernetes API refused or failed (502).
    Backend(String),
}

impl std::fmt::Display for DriverError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotFound(name) => write!(f, "sandbox {name:?} not found"),
            Self::AlreadyExists(name) => write!(f, "sandbox {name:?} already exists"),
            Self::Invalid(msg) | Self::Unavailable(msg) | Self::Backend(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for DriverError {}

pub type DriverResult<T> = Result<T, DriverError>;

/// Sandbox lifecycle on some compute platform. Boxed futures keep it object safe, so the
/// router holds an `Arc<dyn Driver>` chosen at start-up.
pub trait Driver: Send + Sync + 'static {
    /// `Ok` when the platform answers for the sandbox namespace (`/readyz`).
    fn ready(&self) -> BoxFuture<'_, DriverResult<()>>;
    fn create(&self, sandbox: NewSandbox) -> BoxFuture<'_, DriverResult<Sandbox>>;
    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<Sandbox>>>;
    fn get(&self, name: String) -> BoxFuture<'_, DriverResult<Sandbox>>;
    fn delete(&self, name: String) -> BoxFuture<'_, DriverResult<()>>;
}

/// The driver when no cluster configuration was found: the gateway still serves health and
/// version (so the process can be debugged), and every sandbox call says why it cannot work.
pub struct Unavailable {
    pub reason: String,
}

impl Unavailable {
    fn fail<T: Send + 'static>(&self) -> BoxFuture<'_, DriverResult<T>> {
        let err = DriverError::Unavailable(self.reason.clone());
        Box::pin(async move { Err(err) })
    }
}

impl Driver for Unavailable {
    fn ready(&self) -> BoxFuture<'_, DriverResult<()>> {
        self.fail()
    }
    fn create(&self, _sandbox: NewSandbox) -> BoxFuture<'_, DriverResult<Sandbox>> {
        self.fail()
    }
    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<Sandbox>>> {
        self.fail()
    }
    fn get(&self, _name: String) -> BoxFuture<'_, DriverResult<Sandbox>> {
        self.fail()
    }
    fn delete(&self, _name: String) -> BoxFuture<'_, DriverResult<()>> {
        self.fail()
    }
}
