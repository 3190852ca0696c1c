// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The Kubernetes driver: sandbox pods through the API server.
//!
//! Cluster access comes from `kube::Config::infer()`, as in OpenShell's driver: `KUBECONFIG`
//! (or `~/.kube/config`) on a host, the pod's service account in a cluster. So the same
//! binary serves both dev modes, out-of-cluster (`k8s:dev:gateway`) and in-cluster.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, Config};

use crate::driver::{BoxFuture, Driver, DriverError, DriverResult, NewSandbox, Sandbox};
use crate::pod;
use crate::settings::SandboxSettings;

/// A readiness probe must answer before the kubelet's probe timeout.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub struct KubeDriver {
    pods: Api<Pod>,
    settings: SandboxSettings,
}

impl KubeDriver {
    /// Build the client from the inferred config. Fails (and the gateway falls back to
    /// `driver::Unavailable`) when neither a kubeconfig nor a service account exists.
    pub async fn connect(settings: SandboxSettings) -> Result<Self, String> {
        let config = Config::infer().await.map_err(|err| {
            format!(
                "no Kubernetes configuration: {err}; set KUBECONFIG (e.g. mise run k8s:dev:up \
                 writes one) or run the gateway in a pod with a service account"
            )
        })?;
        let server = config.cluster_url.to_string();
        let client = Client::try_from(config)
            .map_err(|err| format!("building a Kubernetes client for {server}: {err}"))?;
        Ok(Self {
            pods: Api::namespaced(client, &settings.namespace),
            settings,
        })
    }

    fn namespace(&self) -> &str {
        &self.settings.namespace
    }
}

/// Map an API error to the driver's kinds; `what` names the operation for the message.
/// `sandbox` is the pod the call was about: only then is a 404 or 409 about the sandbox
/// (a 404 from a list means something else, e.g. a server without the pods API).
fn api_error(what: &str, sandbox: Option<&str>, err: kube::Error) -> DriverError {
    match (err, sandbox) {
        (kube::Error::Api(status), Some(name)) if status.is_not_found() => {
            DriverError::NotFound(name.into())
        }
        (kube::Error::Api(status), Some(name)) if status.is_already_exists() => {
            DriverError::AlreadyExists(name.into())
        }
        (kube::Error::Api(status), _) if status.is_forbidden() => DriverError::Backend(format!(
            "{what}: {}; check the gateway's Role in the sandbox namespace",
            status.message
        )),
        (kube::Error::Api(status), _) if status.is_invalid() => {
            DriverError::Invalid(status.message)
        }
        (other, _) => DriverError::Backend(format!("{what}: {other}")),
    }
}

impl Driver for KubeDriver {
    /// One cheap list call proves connectivity, credentials and RBAC for the sandbox
    /// namespace: the things sandbox requests need.
    fn ready(&self) -> BoxFuture<'_, DriverResult<()>> {
        Box::pin(async move {
            let what = format!("listing pods in namespace {}", self.namespace());
            let params = ListParams::default().limit(1);
            match tokio::time::timeout(READY_TIMEOUT, self.pods.list(&params)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(err)) => Err(api_error(&what, None, err)),
                Err(_) => Err(DriverError::Backend(format!(
                    "{what}: no answer within {READY_TIMEOUT:?}"
                ))),
            }
        })
    }

    fn create(&self, sandbox: NewSandbox) -> BoxFuture<'_, DriverResult<Sandbox>> {
        Box::pin(async move {
            let name = sandbox.name.as_deref();
            let spec = pod::sandbox_pod(&self.settings, name, &sandbox.placement)
                .map_err(DriverError::Unavailable)?;
            let label = name.unwrap_or(pod::GENERATE_NAME);
            let what = format!("creating pod {label} in namespace {}", self.namespace());
            let created = self
                .pods
                .create(&PostParams::default(), &spec)
                .await
                .map_err(|err| api_error(&what, Some(label), err))?;
            Ok(pod::sandbox_from_pod(&created))
        })
    }

    fn list(&self) -> BoxFuture<'_, DriverResult<Vec<Sandbox>>> {
        Box::pin(async move {
            let what = format!("listing sandbox pods in namespace {}", self.namespace());
            let pods = self
                .pods
                .list(&ListParams::default().labels(&pod::selector()))
                .await
                .map_err(|err| api_error(&what, None, err))?;
            Ok(pods.items.iter().map(pod::sandbox_from_pod).collect())
        })
    }

    fn get(&self, name: String) -> BoxFuture<'_, DriverResult<Sandbox>> {
        Box::pin(async move {
            let what = format!("reading pod {name} in namespace {}", self.namespace());
            let found = self
                .pods
                .get(&name)
                .await
                .map_err(|err| api_error(&what, Some(&name), err))?;
            if !is_sandbox(&found) {
                return Err(DriverError::NotFound(name));
            }
            Ok(pod::sandbox_from_pod(&found))
        })
    }

    fn delete(&self, name: String) -> BoxFuture<'_, DriverResult<()>> {
        Box::pin(async move {
            // Only our own pods: the namespace may be shared with other workloads.
            self.get(name.clone()).await?;
            let what = format!("deleting pod {name} in namespace {}", self.namespace());
            self.pods
                .delete(&name, &DeleteParams::default())
                .await
                .map_err(|err| api_error(&what, Some(&name), err))?;
            Ok(())
        })
    }
}

fn is_sandbox(pod: &Pod) -> bool {
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    pod::selector().split(',').all(|pair| {
        pair.split_once('=')
            .is_some_and(|(k, v)| labels.get(k).is_some_and(|l| l == v))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str, message: &str) -> kube::Error {
        kube::Error::Api(Box::new(Status {
            code,
            reason: reason.into(),
            message: message.into(),
            ..Status::default()
        }))
    }

    #[test]
    fn api_errors_map_to_driver_kinds() {
        let err = api_error(
            "reading pod x",
            Some("x"),
            api(404, "NotFound", "pods \"x\" not found"),
        );
        assert_eq!(err, DriverError::NotFound("x".into()));
        let err = api_error(
            "creating pod x",
            Some("x"),
            api(409, "AlreadyExists", "exists"),
        );
        assert_eq!(err, DriverError::AlreadyExists("x".into()));
        let err = api_error(
            "creating pod x",
            Some("x"),
            api(422, "Invalid", "spec: bad"),
        );
        assert_eq!(err, DriverError::Invalid("spec: bad".into()));
    }

    #[test]
    fn a_404_without_a_sandbox_is_a_backend_error() {
        let err = api_error(
            "listing pods",
            None,
            api(
                404,
                "NotFound",
                "the server could not find the requested resource",
            ),
        );
        assert!(matches!(err, DriverError::Backend(_)), "{err:?}");
        assert!(err.to_string().starts_with("listing pods: "), "{err}");
    }

    #[test]
    fn forbidden_points_at_the_role() {
        let err = api_error(
            "creating pod x in namespace openshell",
            Some("x"),
            api(403, "Forbidden", "pods is forbidden: User cannot create"),
        );
        assert_eq!(
            err.to_string(),
            "creating pod x in namespace openshell: pods is forbidden: User cannot create; \
             check the gateway's Role in the sandbox namespace"
        );
    }

    #[test]
    fn only_labelled_pods_are_sandboxes() {
        let settings = SandboxSettings {
            namespace: "openshell".into(),
            image: None,
            supervisor_image: Some("sup:dev".into()),
            pull_policy: None,
            supervisor_pull_policy: None,
            pull_secrets: Vec::new(),
        };
        let mut pod = pod::sandbox_pod(&settings, Some("demo"), &Default::default()).unwrap();
        assert!(is_sandbox(&pod));
        pod.metadata
            .labels
            .as_mut()
            .unwrap()
            .remove("app.kubernetes.io/managed-by");
        assert!(!is_sandbox(&pod));
    }
}
