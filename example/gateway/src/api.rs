// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! HTTP routes. Two routers: the API (sandboxes, version, and health as on OpenShell's
//! gateway) and the health endpoints alone for the dedicated port the kubelet probes, so a
//! busy API port never fails a probe by accident. Every body is JSON; every error is `{"error": "..."}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::driver::{Driver, DriverError, NewSandbox, Placement};
use crate::pod;
use crate::version::BUILD;

type Shared = Arc<dyn Driver>;

/// `/sandboxes`, `/sandboxes/{name}`, `/healthz`, `/readyz` and `/version`.
pub fn api_router(driver: Shared) -> Router {
    Router::new()
        .route("/sandboxes", get(list).post(create))
        .route("/sandboxes/{name}", get(show).delete(remove))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .fallback(not_found)
        .with_state(driver)
}

/// `/healthz` (the process is up), `/readyz` (the driver works) and `/version`.
pub fn health_router(driver: Shared) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/version", get(version))
        .fallback(not_found)
        .with_state(driver)
}

struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<DriverError> for ApiError {
    fn from(err: DriverError) -> Self {
        let status = match err {
            DriverError::Invalid(_) => StatusCode::BAD_REQUEST,
            DriverError::NotFound(_) => StatusCode::NOT_FOUND,
            DriverError::AlreadyExists(_) => StatusCode::CONFLICT,
            DriverError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            DriverError::Backend(_) => StatusCode::BAD_GATEWAY,
        };
        Self(status, err.to_string())
    }
}

async fn version() -> impl IntoResponse {
    Json(BUILD)
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

async fn readyz(State(driver): State<Shared>) -> Response {
    match driver.ready().await {
        Ok(()) => Json(json!({ "status": "ready" })).into_response(),
        Err(err) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "not ready", "error": err.to_string() })),
        )
            .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        "no such endpoint; see /sandboxes and /version".into(),
    )
}

/// `POST /sandboxes` body; empty means a generated name. `driver_config` is OpenShell's
/// driver-keyed JSON for driver-specific settings; the stand-in reads the Kubernetes pod's
/// placement from it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: Option<String>,
    #[serde(default)]
    driver_config: DriverConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DriverConfig {
    kubernetes: KubernetesConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct KubernetesConfig {
    pod: Placement,
}

async fn create(State(driver): State<Shared>, body: Bytes) -> Result<Response, ApiError> {
    let request: CreateRequest = if body.iter().all(u8::is_ascii_whitespace) {
        CreateRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            ApiError(
                StatusCode::BAD_REQUEST,
                format!(
                    "request body: {err}; send {{}} or {{\"name\": \"my-sandbox\"}}, optionally \
                     with \"driver_config\": {{\"kubernetes\": {{\"pod\": {{\"node_selector\": \
                     {{...}}, \"tolerations\": [...]}}}}}}"
                ),
            )
        })?
    };
    if let Some(name) = &request.name {
        pod::validate_name(name).map_err(|msg| ApiError(StatusCode::BAD_REQUEST, msg))?;
    }
    let sandbox = driver
        .create(NewSandbox {
            name: request.name,
            placement: request.driver_config.kubernetes.pod,
        })
        .await?;
    eprintln!("created sandbox {}/{}", sandbox.namespace, sandbox.name);
    Ok((StatusCode::CREATED, Json(sandbox)).into_response())
}

async fn list(State(driver): State<Shared>) -> Result<Response, ApiError> {
    let sandboxes = driver.list().await?;
    Ok(Json(json!({ "sandboxes": sandboxes })).into_response())
}

async fn show(
    State(driver): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    pod::validate_name(&name).map_err(|msg| ApiError(StatusCode::BAD_REQUEST, msg))?;
    Ok(Json(driver.get(name).await?).into_response())
}

/// Deletion is asynchronous (the pod gets its grace period), hence 202.
async fn remove(
    State(driver): State<Shared>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    pod::validate_name(&name).map_err(|msg| ApiError(StatusCode::BAD_REQUEST, msg))?;
    driver.delete(name.clone()).await?;
    eprintln!("deleting sandbox {name}");
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "name": name, "status": "deleting" })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::driver::{BoxFuture, DriverResult, Sandbox, Unavailable};
    use axum::body::Body;
    use axum::http::{Method, Request};
    use serde_json::Value;
    use std::sync::Mutex;
    use tower::ServiceExt;

    /// Records calls and answers from a fixed set of sandboxes.
    #[derive(Default)]
    struct Fake {
        calls: Mutex<Vec<String>>,
        sandboxes: Vec<Sandbox>,
        not_ready: Option<String>,
    }

    fn sandbox(name: &str) -> Sandbox {
        Sandbox {
            name: name.into(),
            namespace: "openshell".into(),
            phase: "Running".into(),
            ready: true,
            image: "sup:dev".into(),
            created: Some("2026-01-01T00:00:00Z".into()),
        }
    }

    impl Fake {
        fn with(names: &[&str]) -> Arc<Self> {
            Arc::new(Self {
                sandboxes: names.iter().map(|n| sandbox(n)).collect(),
                ..Self::default()
            })
        }
        fn record(&self, call: String) {
            self.calls.lock().unwrap().push(call);
        }
        fn find(&self, name: &str) -> DriverResult<Sandbox> {
            self.sandboxes
                .iter()
                .find(|s| s.name == name)
                .cloned()
                .ok_or_else(|| DriverError::NotFound(name.into()))
        }
    }

    impl Driver for Fake {
        fn ready(&self) -> BoxFuture<'_, DriverResult<()>> {
            let result = match &self.not_ready {
                Some(msg) => Err(DriverError::Backend(msg.clone())),
                None => Ok(()),
            };
            Box::pin(async move { result })
        }
        fn create(&self, new: NewSandbox) -> BoxFuture<'_, DriverResult<Sandbox>> {
            if new.placement == Placement::default() {
                self.record(format!("create {:?}", new.name));
            } else {
                self.record(format!("create {:?} {:?}", new.name, new.placement));
            }
            let result = match new.name {
                Some(n) if self.find(&n).is_ok() => Err(DriverError::AlreadyExists(n)),
                Some(n) => Ok(sandbox(&n)),
                None => Ok(sandbox("sandbox-x7k2p")),
            };
            Box::pin(async move { result })
        }
        fn list(&self) -> BoxFuture<'_, DriverResult<Vec<Sandbox>>> {
            self.record("list".into());
            let all = self.sandboxes.clone();
            Box::pin(async move { Ok(all) })
        }
        fn get(&self, name: String) -> BoxFuture<'_, DriverResult<Sandbox>> {
            self.record(format!("get {name}"));
            let result = self.find(&name);
            Box::pin(async move { result })
        }
        fn delete(&self, name: String) -> BoxFuture<'_, DriverResult<()>> {
            self.record(format!("delete {name}"));
            let result = self.find(&name).map(|_| ());
            Box::pin(async move { result })
        }
    }

    async fn call(router: Router, method: Method, uri: &str, body: &str) -> (StatusCode, Value) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, value)
    }

    #[tokio::test]
    async fn version_is_served_on_both_ports() {
        for router in [api_router(Fake::with(&[])), health_router(Fake::with(&[]))] {
            let (status, body) = call(router, Method::GET, "/version", "").await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(body["name"], "openshell-gateway");
            assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
            assert_eq!(body["git_sha"], env!("BUILD_GIT_SHA"));
            assert_eq!(body["build_time"], env!("BUILD_TIME"));
        }
    }

    #[tokio::test]
    async fn healthz_is_ok_even_without_a_cluster() {
        let driver = Arc::new(Unavailable {
            reason: "no Kubernetes configuration".into(),
        });
        let (status, body) = call(health_router(driver), Method::GET, "/healthz", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"status": "ok"}));
    }

    #[tokio::test]
    async fn readyz_follows_the_driver() {
        let (status, body) = call(health_router(Fake::with(&[])), Method::GET, "/readyz", "").await;
        assert_eq!((status, body), (StatusCode::OK, json!({"status": "ready"})));

        let fake = Arc::new(Fake {
            not_ready: Some("listing pods: connection refused".into()),
            ..Fake::default()
        });
        let (status, body) = call(health_router(fake), Method::GET, "/readyz", "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            json!({"status": "not ready", "error": "listing pods: connection refused"})
        );
    }

    #[tokio::test]
    async fn health_endpoints_are_on_the_api_port_too() {
        // As on OpenShell's gateway, whose dedicated health listener is off by default.
        let (status, body) = call(api_router(Fake::with(&[])), Method::GET, "/healthz", "").await;
        assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
        let (status, body) = call(api_router(Fake::with(&[])), Method::GET, "/nope", "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(
            body["error"],
            "no such endpoint; see /sandboxes and /version"
        );
    }

    #[tokio::test]
    async fn create_with_a_name() {
        let fake = Fake::with(&[]);
        let (status, body) = call(
            api_router(fake.clone()),
            Method::POST,
            "/sandboxes",
            r#"{"name": "demo"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body, serde_json::to_value(sandbox("demo")).unwrap());
        assert_eq!(*fake.calls.lock().unwrap(), ["create Some(\"demo\")"]);
    }

    #[tokio::test]
    async fn create_without_a_body_generates_a_name() {
        let fake = Fake::with(&[]);
        let (status, body) = call(api_router(fake.clone()), Method::POST, "/sandboxes", "").await;
        assert_eq!(status, StatusCode::CREATED);
        assert_eq!(body["name"], "sandbox-x7k2p");
        assert_eq!(*fake.calls.lock().unwrap(), ["create None"]);
    }

    #[tokio::test]
    async fn create_rejects_bad_bodies_and_names_before_the_driver() {
        let fake = Fake::with(&[]);
        let (status, body) = call(
            api_router(fake.clone()),
            Method::POST,
            "/sandboxes",
            r#"{"nmae": "x"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let msg = body["error"].as_str().unwrap();
        assert!(
            msg.starts_with("request body: unknown field `nmae`"),
            "{msg}"
        );

        let (status, body) = call(
            api_router(fake.clone()),
            Method::POST,
            "/sandboxes",
            r#"{"name": "Bad_Name"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .starts_with("invalid sandbox name \"Bad_Name\"")
        );
        assert!(fake.calls.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn create_takes_the_pods_placement_from_openshells_driver_config() {
        let fake = Fake::with(&[]);
        let body = r#"{"name": "demo", "driver_config": {"kubernetes": {"pod": {
            "node_selector": {"kubernetes.io/hostname": "node-1"},
            "tolerations": [{"key": "dedicated", "operator": "Exists", "effect": "NoSchedule"}]}}}}"#;
        let (status, _) = call(api_router(fake.clone()), Method::POST, "/sandboxes", body).await;
        assert_eq!(status, StatusCode::CREATED);
        let calls = fake.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 1);
        for part in [
            r#"Some("demo")"#,
            r#""kubernetes.io/hostname": "node-1""#,
            r#"key: Some("dedicated")"#,
            r#"effect: Some("NoSchedule")"#,
        ] {
            assert!(calls[0].contains(part), "{part} in {}", calls[0]);
        }

        let (status, body) = call(
            api_router(fake.clone()),
            Method::POST,
            "/sandboxes",
            r#"{"driver_config": {"kubernetes": {"pod": {"nodeSelector": {}}}}}"#,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let msg = body["error"].as_str().unwrap();
        assert!(msg.contains("unknown field `nodeSelector`"), "{msg}");
        assert!(
            msg.contains("\"node_selector\""),
            "the error shows the shape: {msg}"
        );
        assert_eq!(fake.calls.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn create_of_an_existing_name_conflicts() {
        let (status, body) = call(
            api_router(Fake::with(&["demo"])),
            Method::POST,
            "/sandboxes",
            r#"{"name": "demo"}"#,
        )
        .await;
        assert_eq!(status, StatusCode::CONFLICT);
        assert_eq!(body, json!({"error": "sandbox \"demo\" already exists"}));
    }

    #[tokio::test]
    async fn list_wraps_sandboxes() {
        let (status, body) = call(
            api_router(Fake::with(&["a", "b"])),
            Method::GET,
            "/sandboxes",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let names: Vec<&str> = body["sandboxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a", "b"]);
    }

    #[tokio::test]
    async fn get_and_delete_by_name() {
        let fake = Fake::with(&["demo"]);
        let (status, body) =
            call(api_router(fake.clone()), Method::GET, "/sandboxes/demo", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["phase"], "Running");

        let (status, body) = call(
            api_router(fake.clone()),
            Method::DELETE,
            "/sandboxes/demo",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(body, json!({"name": "demo", "status": "deleting"}));

        let (status, body) = call(
            api_router(fake.clone()),
            Method::DELETE,
            "/sandboxes/gone",
            "",
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body, json!({"error": "sandbox \"gone\" not found"}));
        assert_eq!(
            *fake.calls.lock().unwrap(),
            ["get demo", "delete demo", "delete gone"]
        );
    }

    #[tokio::test]
    async fn without_a_cluster_sandbox_calls_are_503_with_the_reason() {
        let driver: Shared = Arc::new(Unavailable {
            reason: "no Kubernetes configuration: ...; set KUBECONFIG".into(),
        });
        for (method, uri) in [
            (Method::GET, "/sandboxes"),
            (Method::POST, "/sandboxes"),
            (Method::GET, "/sandboxes/demo"),
            (Method::DELETE, "/sandboxes/demo"),
        ] {
            let (status, body) = call(api_router(driver.clone()), method, uri, "").await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert_eq!(
                body,
                json!({"error": "no Kubernetes configuration: ...; set KUBECONFIG"})
            );
        }
        let (status, _) = call(health_router(driver), Method::GET, "/readyz", "").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn backend_errors_are_502() {
        let err: ApiError = DriverError::Backend("creating pod: forbidden".into()).into();
        let response = err.into_response();
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    }
}
