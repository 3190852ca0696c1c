// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `k8s-dev-helper image publish` against the real registry (`K8S_DEV_TEST_REGISTRY`) and real
//! engines: published images pull and run in Podman (zstd) and Docker (gzip), configs are what
//! was asked, digests are reproducible, base layers are never re-uploaded. A small fake registry
//! (tests/support/fake_registry.rs) covers what the real one cannot show: a failing blob
//! upload, the bearer-token flow, multi-arch indexes and copying base layers between
//! registries; image_hardening.rs makes it misbehave.

#[path = "support/checks.rs"]
mod checks;
mod common;
#[path = "support/fake_registry.rs"]
mod fake_registry;
#[path = "support/http_request.rs"]
mod http_request;

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;

use checks::assert_one_line_error;
use fake_registry::{Fake, respond};

use serde::Deserialize;
use serde_json::{Value, json};

use k8s_dev_helper::image::layer::{self, Compression, LayerFile};
use k8s_dev_helper::image::sha256_digest;

/// `--json` output, pinned: a renamed or missing field fails here.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Report {
    repo: String,
    tags: Vec<String>,
    digest: String,
    refs: Vec<String>,
    bytes_uploaded: u64,
    bytes_skipped: u64,
    layer_cached: bool,
    unchanged: bool,
    layer_digest: Option<String>,
    layer_size: Option<u64>,
    base_ms: u64,
    layer_ms: u64,
    upload_ms: u64,
    manifest_ms: u64,
    total_ms: u64,
    prefix: Option<Value>,
}

struct Env {
    registry: String,
    docker: String,
    podman: String,
}

fn engines() -> Option<Env> {
    Some(Env {
        registry: common::engine_var("K8S_DEV_TEST_REGISTRY")?,
        docker: common::engine_var("K8S_DEV_TEST_DOCKER_HOST")?,
        podman: common::engine_var("K8S_DEV_TEST_PODMAN_HOST")?,
    })
}

fn registry_only() -> Option<String> {
    common::engine_var("K8S_DEV_TEST_REGISTRY")
}

/// A name no other test run (or engineer) uses on the shared registry.
fn unique(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("k8s-dev-image-test/{name}-{}-{nanos}", std::process::id())
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("creating a tempdir")
}

/// The helper with HOME and the cache inside `home`.
fn helper(home: &Path) -> Command {
    let mut cmd = common::helper(home);
    cmd.env_remove("SOURCE_DATE_EPOCH")
        .env_remove("K8S_DEV_INSECURE_REGISTRIES")
        .env("K8S_DEV_CACHE_DIR", home.join("cache"));
    cmd
}

fn publish_json(cmd: &mut Command) -> Report {
    cmd.arg("--json");
    let out = common::run(cmd);
    assert_eq!(out.status.code(), Some(0), "publish failed");
    serde_json::from_str(common::stdout(&out).trim()).expect("--json prints one Report object")
}

fn docker(env: &Env, args: &[&str]) -> Output {
    common::docker(&env.docker, args)
}

/// One podman command at a time: concurrent pulls and `rmi -f` of images
/// sharing base layers race in Podman's storage ("layer not known").
static PODMAN: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn podman(env: &Env, args: &[&str]) -> Output {
    let _one_at_a_time = PODMAN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    common::podman(&env.podman, args)
}

/// A busybox root filesystem: `/bin/busybox` (static) and a few applet links.
fn busybox_rootfs(dir: &Path) {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy("/bin/busybox", bin.join("busybox")).expect("copying /bin/busybox");
    for applet in ["sh", "echo", "cat", "id", "ls", "env"] {
        std::os::unix::fs::symlink("busybox", bin.join(applet)).unwrap();
    }
}

/// The base image every test builds on: a busybox FROM-scratch image built and pushed with
/// Docker (so its manifest uses Docker media types), once per test binary.
fn base_image(env: &Env) -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let ctx = tempdir();
        busybox_rootfs(&ctx.path().join("rootfs"));
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nCOPY rootfs/ /\nENV PATH=/bin\nCMD [\"sh\"]\n",
        )
        .unwrap();
        let reference = format!("{}/{}:dev", env.registry, unique("base"));
        let ctx_path = ctx.path().to_str().unwrap();
        let out = docker(env, &["build", "-q", "-t", &reference, ctx_path]);
        assert!(out.status.success(), "docker build of the base failed");
        let out = docker(env, &["push", &reference]);
        assert!(out.status.success(), "docker push of the base failed");
        let _ = docker(env, &["rmi", &reference]);
        reference
    })
}

/// Size of an image's layers, from the registry.
fn registry_layer_bytes(reference: &str) -> u64 {
    let manifest = registry_get_manifest(reference);
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["size"].as_u64().unwrap())
        .sum()
}

fn split_ref(reference: &str) -> (&str, &str, &str) {
    let (host, rest) = reference.split_once('/').unwrap();
    let (repo, tag) = rest.rsplit_once(':').unwrap();
    (host, repo, tag)
}

fn http_get(url: &str, accept: &str) -> (u16, HashMap<String, String>, Vec<u8>) {
    k8s_dev_helper::runtime::install_crypto_provider();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = reqwest::Client::new()
            .get(url)
            .header("Accept", accept)
            .send()
            .await
            .expect("GET");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        (status, headers, resp.bytes().await.unwrap().to_vec())
    })
}

/// The manifest a pull of `reference` gets (a Docker or OCI image manifest), as served.
fn registry_manifest_bytes(reference: &str) -> Vec<u8> {
    let (host, repo, tag) = split_ref(reference);
    let (status, _, body) = http_get(
        &format!("http://{host}/v2/{repo}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json, \
         application/vnd.docker.distribution.manifest.v2+json",
    );
    assert_eq!(status, 200, "GET manifest {reference}");
    body
}

fn registry_get_manifest(reference: &str) -> Value {
    serde_json::from_slice(&registry_manifest_bytes(reference)).unwrap()
}

fn registry_get_config(reference: &str) -> Value {
    let manifest = registry_get_manifest(reference);
    let (host, repo, _) = split_ref(reference);
    let digest = manifest["config"]["digest"].as_str().unwrap();
    let (status, _, body) = http_get(&format!("http://{host}/v2/{repo}/blobs/{digest}"), "*/*");
    assert_eq!(status, 200);
    serde_json::from_slice(&body).unwrap()
}

fn served_digest(reference: &str) -> Option<String> {
    let (host, repo, tag) = split_ref(reference);
    let (status, headers, _) = http_get(
        &format!("http://{host}/v2/{repo}/manifests/{tag}"),
        "application/vnd.oci.image.manifest.v1+json",
    );
    (status == 200).then(|| headers["docker-content-digest"].clone())
}

/// The digest of the manifest a pull of `reference` gets.
fn manifest_digest(reference: &str) -> String {
    sha256_digest(&registry_manifest_bytes(reference))
}

/// What `image` prints under Podman, pulled afresh (a tag may have moved since the last pull).
fn podman_run_pulled(env: &Env, image: &str) -> String {
    let out = podman(
        env,
        &[
            "run",
            "--rm",
            "--pull",
            "always",
            "--network",
            "host",
            image,
        ],
    );
    stdout_of(&out).trim().to_string()
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn scratch_busybox_zstd_runs_in_podman_and_digest_is_reproducible() {
    let Some(env) = engines() else { return };
    let home = tempdir();
    let repo = format!("{}/{}", env.registry, unique("scratch"));
    let publish = |tag: &str| {
        let mut cmd = helper(home.path());
        cmd.args(["image", "publish", "--base", "scratch", "--no-cache"])
            .args(["--file", "/bin/busybox:/bin/busybox:755"])
            .args(["--entrypoint", r#"["/bin/busybox"]"#])
            .args(["--cmd", "echo hello-from-podman"])
            .args(["--tag", &format!("{repo}:{tag}")]);
        publish_json(&mut cmd)
    };
    let first = publish("one");
    let second = publish("two");
    assert_eq!(first.digest, second.digest, "same input, same digest");
    assert_eq!(first.layer_digest, second.layer_digest);
    assert!(!second.layer_cached);
    assert_eq!(first.refs, vec![format!("{repo}@{}", first.digest)]);
    let manifest = registry_get_manifest(&format!("{repo}:one"));
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );

    let image = format!("{repo}:one");
    let out = podman(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out).trim(), "hello-from-podman");
    let _ = podman(&env, &["rmi", "-f", &image]);

    // SOURCE_DATE_EPOCH moves every timestamp, so the digest changes with it.
    let mut cmd = helper(home.path());
    cmd.env("SOURCE_DATE_EPOCH", "1700000000")
        .args(["image", "publish", "--base", "scratch", "--no-cache"])
        .args(["--file", "/bin/busybox:/bin/busybox:755"])
        .args(["--tag", &format!("{repo}:epoch")]);
    let dated = publish_json(&mut cmd);
    assert_ne!(dated.layer_digest, first.layer_digest);
    let config = registry_get_config(&format!("{repo}:epoch"));
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
}

#[test]
fn gzip_on_docker_base_runs_in_docker_with_the_config_asked_for() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let home = tempdir();
    let script = home.path().join("app.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\necho \"app $GREETING as $(id -u):$(id -g) in $PWD\"\n",
    )
    .unwrap();
    let image = format!("{}/{}:dev", env.registry, unique("gzip"));
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", base, "--compression", "gzip"])
        .args(["--file", &format!("{}:/app/run:755", script.display())])
        .args(["--entrypoint", "/app/run"])
        .args(["--user", "65532:65532", "--workdir", "/tmp"])
        .args(["--env", "GREETING=hi", "--env", "GREETING=hello"])
        .args(["--label", "team=k8s-dev", "--expose", "8080"])
        .args(["--tag", &image]);
    let report = publish_json(&mut cmd);
    let manifest = registry_get_manifest(&image);
    assert_eq!(
        manifest["layers"][1]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);
    assert_eq!(report.layer_size, manifest["layers"][1]["size"].as_u64());

    let out = docker(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out).trim(), "app hello as 65532:65532 in /tmp");

    let out = docker(&env, &["image", "inspect", &image]);
    assert!(out.status.success());
    let inspect: Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["Entrypoint"], json!(["/app/run"]));
    assert_eq!(
        config["Cmd"],
        Value::Null,
        "a new entrypoint drops the base's CMD"
    );
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(config["Env"], json!(["PATH=/bin", "GREETING=hello"]));
    assert_eq!(config["Labels"], json!({"team": "k8s-dev"}));
    assert_eq!(config["ExposedPorts"], json!({"8080/tcp": {}}));
    let _ = docker(&env, &["rmi", &image]);
}

#[test]
fn base_layers_are_mounted_and_an_unchanged_publish_sends_nothing() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let base_bytes = registry_layer_bytes(base);
    let home = tempdir();
    let binary = home.path().join("gw");
    std::fs::write(&binary, vec![0x5a; 200_000]).unwrap();
    let repo = format!("{}/{}", env.registry, unique("reuse"));
    let publish = || {
        let mut cmd = helper(home.path());
        cmd.args(["image", "publish", "--base", base])
            .args([
                "--file",
                &format!("{}:/usr/local/bin/gw:755", binary.display()),
            ])
            .args(["--tag", &format!("{repo}:dev")])
            .args(["--tag", &format!("{repo}:content-1")]);
        publish_json(&mut cmd)
    };
    let first = publish();
    let layer = first.layer_size.unwrap();
    assert!(!first.unchanged);
    assert!(!first.layer_cached);
    assert_eq!(
        first.bytes_skipped, base_bytes,
        "base layers mounted, not uploaded"
    );
    // The new layer plus the config (a few hundred bytes to a few KiB).
    assert!(
        first.bytes_uploaded > layer && first.bytes_uploaded < layer + 8192,
        "uploaded {} for a {layer}-byte layer",
        first.bytes_uploaded
    );
    assert_eq!(
        first.tags,
        vec![format!("{repo}:dev"), format!("{repo}:content-1")]
    );
    for tag in ["dev", "content-1"] {
        assert_eq!(
            served_digest(&format!("{repo}:{tag}")).as_deref(),
            Some(first.digest.as_str())
        );
    }

    let again = publish();
    assert_eq!(again.digest, first.digest);
    assert!(again.unchanged, "every tag already serves the manifest");
    assert!(
        again.layer_cached,
        "unchanged input skips tar and compression"
    );
    assert_eq!(again.bytes_uploaded, 0);

    // A new tag with the same content: only the manifest is sent.
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", base])
        .args([
            "--file",
            &format!("{}:/usr/local/bin/gw:755", binary.display()),
        ])
        .args(["--tag", &format!("{repo}:content-2")]);
    let retag = publish_json(&mut cmd);
    assert!(!retag.unchanged);
    assert_eq!(retag.bytes_uploaded, 0);
    assert_eq!(retag.bytes_skipped, base_bytes + first.bytes_uploaded);

    // Plain output: one `repo@digest` line.
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", base])
        .args([
            "--file",
            &format!("{}:/usr/local/bin/gw:755", binary.display()),
        ])
        .args(["--tag", &format!("{repo}:dev")]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(common::stdout(&out), format!("{repo}@{}\n", first.digest));
    assert!(common::stderr(&out).contains("already up to date"));
}

#[test]
fn dockerfile_of_gateway_shape_publishes_without_an_engine() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let context = tempdir();
    // The "binary" is a script run by the base's busybox sh; written 0644 so that only
    // COPY --chmod=755 makes it executable.
    std::fs::write(
        context.path().join("bin"),
        "#!/bin/sh\necho \"$GW_GREETING $* as $(id -u)\"\n",
    )
    .unwrap();
    let image = format!("{}/{}:dev", env.registry, unique("gateway"));
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish"])
        .arg("--dockerfile")
        .arg(common::fixture("image-gateway/Dockerfile"))
        .arg("--context")
        .arg(context.path())
        .args(["--build-arg", &format!("BASE={base}")])
        .args(["--build-arg", "VERSION=1.2.3"])
        .args(["--tag", &image]);
    let report = publish_json(&mut cmd);
    assert_eq!(report.bytes_skipped, registry_layer_bytes(base));

    let out = podman(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out).trim(), "gateway-up --port 8080 as 65532");
    let out = podman(&env, &["image", "inspect", &image]);
    let inspect: Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = &inspect[0]["Config"];
    assert_eq!(config["User"], "65532:65532");
    assert_eq!(config["Entrypoint"], json!(["/usr/local/bin/gw"]));
    assert_eq!(config["Cmd"], json!(["--port", "8080"]));
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(
        config["Env"],
        json!(["PATH=/usr/local/bin:/bin", "GW_GREETING=gateway-up"]),
        "$PATH expands to the base image's value"
    );
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        "1.2.3"
    );
    assert!(config["ExposedPorts"].get("8080/tcp").is_some());
    let history = registry_get_config(&image)["history"].clone();
    let last = history.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["created_by"], "COPY --chmod=755 bin /usr/local/bin/gw");
    let _ = podman(&env, &["rmi", "-f", &image]);
}

#[test]
fn engine_prefix_is_built_once_and_the_tail_published_daemonless() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let context = tempdir();
    let bin = context.path().join("bin");
    let image = format!("{}/{}:dev", env.registry, unique("prefix"));
    let home = tempdir();
    let publish = || {
        let mut cmd = helper(home.path());
        cmd.env("DOCKER_HOST", &env.docker)
            .args(["image", "publish", "--engine-prefix"])
            .arg("--dockerfile")
            .arg(common::fixture("image-prefix/Dockerfile"))
            .arg("--context")
            .arg(context.path())
            .args(["--build-arg", &format!("BASE={base}")])
            .args(["--tag", &image]);
        publish_json(&mut cmd)
    };
    std::fs::write(&bin, "#!/bin/sh\necho \"$(cat /built.txt) v1\"\n").unwrap();
    let first = publish();
    let prefix = first.prefix.clone().expect("--json reports the prefix");
    assert_eq!(
        prefix["built"], true,
        "first run builds the prefix with the engine"
    );
    let prefix_image = prefix["image"].as_str().unwrap().to_string();
    assert!(prefix_image.starts_with(&image.replace(":dev", ":prefix-")));
    let out = podman(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(stdout_of(&out).trim(), "prefix-built v1");
    let _ = podman(&env, &["rmi", "-f", &image]);

    std::fs::write(&bin, "#!/bin/sh\necho \"$(cat /built.txt) v2\"\n").unwrap();
    let second = publish();
    let prefix = second.prefix.clone().unwrap();
    assert_eq!(prefix["built"], false, "an unchanged prefix is not rebuilt");
    assert_eq!(prefix["image"], prefix_image.as_str());
    assert_ne!(second.digest, first.digest);
    assert_eq!(second.bytes_skipped, registry_layer_bytes(&prefix_image));
    // The same tag with new content: pull again.
    assert_eq!(podman_run_pulled(&env, &image), "prefix-built v2");
    let _ = podman(&env, &["rmi", "-f", &image]);
    // The engine pulled the base to build the prefix.
    let _ = docker(&env, &["rmi", &prefix_image, base]);
}

#[test]
fn dockerfile_with_run_exits_4_naming_the_line() {
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.current_dir(common::fixture("image-run"))
        .args(["image", "publish", "--dockerfile", "Dockerfile.supervisor"])
        .args(["--tag", "127.0.0.1:1/never:dev"]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(4));
    assert_eq!(
        common::stderr(&out),
        "error: Dockerfile.supervisor:5: RUN needs a container engine; set \
         K8S_DEV_IMAGE_BUILDER=engine or let sync fall back\n"
    );
    assert_eq!(common::stdout(&out), "");
}

#[test]
fn unreachable_registry_names_the_fix() {
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", "scratch", "--file"])
        .arg("/bin/busybox:/bin/busybox")
        .args(["--tag", "127.0.0.1:1/nothing-listens:dev"]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(
        err.starts_with("error: reaching registry 127.0.0.1:1: "),
        "{err}"
    );
    assert!(
        err.trim_end()
            .ends_with("; is the registry running? mise run k8s:dev:up"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn missing_source_file_and_missing_base_are_one_line_errors() {
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", "scratch"])
        .args(["--file", "/nonexistent/gw:/gw"])
        .args(["--tag", "127.0.0.1:1/x:dev"]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        common::stderr(&out),
        "error: reading source file /nonexistent/gw: No such file or directory (os error 2); \
         check the --file SRC path or the COPY source\n"
    );

    let Some(registry) = registry_only() else {
        return;
    };
    let base = format!("{registry}/{}:dev", unique("no-such-base"));
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", &base])
        .args(["--tag", &format!("{registry}/{}:dev", unique("never"))]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        common::stderr(&out),
        format!(
            "error: base image {base} not found on {registry}; check --base (or the \
             Dockerfile's FROM) and push the base first\n"
        )
    );
}

#[test]
fn failed_blob_upload_never_moves_the_tag() {
    let fake = Fake::start(Box::new(|req| {
        match (req.method.as_str(), req.path.as_str()) {
            ("HEAD", _) => respond(404, &[], b""),
            ("POST", "/v2/app/blobs/uploads/") => respond(
                202,
                &[("Location", "/v2/app/blobs/uploads/session-1?_state=abc")],
                b"",
            ),
            ("PUT", p) if p.starts_with("/v2/app/blobs/uploads/session-1?") => respond(
                500,
                &[("Content-Type", "application/json")],
                br#"{"errors":[{"code":"BLOB_UPLOAD_INVALID","message":"disk full"}]}"#,
            ),
            _ => respond(500, &[], b"unexpected"),
        }
    }));
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--base", "scratch", "--no-cache"])
        .args(["--file", "/bin/busybox:/bin/busybox"])
        .args(["--tag", &format!("{}/app:dev", fake.addr)]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    assert!(err.starts_with("error: uploading blob sha256:"), "{err}");
    assert!(
        err.trim_end().ends_with(&format!(
            " to {}/app: HTTP 500 BLOB_UPLOAD_INVALID: disk full",
            fake.addr
        )),
        "{err}"
    );
    let requests = fake.requests();
    assert!(
        !requests
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/")),
        "no manifest may be pushed after a failed upload: {requests:?}"
    );
    // The blob went up in one PUT carrying Content-Length and the digest.
    let put = requests
        .iter()
        .find(|r| {
            r.method == "PUT" && r.headers.contains_key("content-length") && r.body_len() > 1000
        })
        .expect("a blob PUT with a body");
    assert!(
        put.path.contains("_state=abc&digest=sha256%3A"),
        "{}",
        put.path
    );
}

/// A busybox layer, and the manifest/index/config of an image made of it.
struct BaseBlobs {
    blobs: HashMap<String, Vec<u8>>,
    index: Vec<u8>,
    manifest_digest: String,
    layer_size: u64,
}

fn base_blobs(dir: &Path) -> BaseBlobs {
    let rootfs = dir.join("rootfs");
    busybox_rootfs(&rootfs);
    let files = [LayerFile {
        source: rootfs,
        context: None,
        dest: "/".into(),
        mode: None,
        uid: 0,
        gid: 0,
    }];
    let entries = layer::entries(&files).unwrap();
    let blob_path = dir.join("layer");
    let built = layer::build(&entries, Compression::Gzip, 1, 0, &blob_path).unwrap();
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    let config = serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [built.diff_id]},
    }))
    .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": built.digest, "size": built.size}],
    }))
    .unwrap();
    let manifest_digest = sha256_digest(&manifest);
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", "0".repeat(64)), "size": 10,
             "platform": {"os": "linux", "architecture": "s390x"}},
            {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
             "digest": manifest_digest, "size": manifest.len(),
             "platform": {"os": "linux", "architecture": arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": format!("sha256:{}", "1".repeat(64)), "size": 10,
             "platform": {"os": "unknown", "architecture": "unknown"}},
        ],
    }))
    .unwrap();
    let mut blobs = HashMap::new();
    blobs.insert(sha256_digest(&config), config);
    blobs.insert(built.digest.clone(), std::fs::read(&blob_path).unwrap());
    blobs.insert(manifest_digest.clone(), manifest);
    BaseBlobs {
        blobs,
        index,
        manifest_digest,
        layer_size: built.size,
    }
}

/// A registry that only answers with a bearer token from its own token endpoint.
fn token_registry(base: BaseBlobs) -> Fake {
    Fake::start_with_addr(move |addr, req| {
        if req.path.starts_with("/token?") {
            assert!(req.path.contains("service=fake-registry"), "{}", req.path);
            assert!(
                req.path
                    .contains("scope=repository%3Alibrary%2Fbase%3Apull"),
                "{}",
                req.path
            );
            return respond(
                200,
                &[("Content-Type", "application/json")],
                br#"{"token":"t0k"}"#,
            );
        }
        if req.headers.get("authorization").map(String::as_str) != Some("Bearer t0k") {
            let challenge = format!(
                r#"Bearer realm="http://{addr}/token",service="fake-registry",scope="repository:library/base:pull""#
            );
            return respond(401, &[("WWW-Authenticate", challenge.as_str())], b"{}");
        }
        let path = req.path.as_str();
        if path == "/v2/library/base/manifests/latest" {
            return respond(
                200,
                &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
                &base.index,
            );
        }
        if let Some(digest) = path
            .strip_prefix("/v2/library/base/manifests/")
            .or_else(|| path.strip_prefix("/v2/library/base/blobs/"))
            && let Some(bytes) = base.blobs.get(digest)
        {
            let kind = if digest == base.manifest_digest {
                "application/vnd.docker.distribution.manifest.v2+json"
            } else {
                "application/octet-stream"
            };
            return respond(200, &[("Content-Type", kind)], bytes);
        }
        respond(
            404,
            &[],
            br#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#,
        )
    })
}

#[test]
fn base_from_token_registry_index_is_copied_across_registries() {
    let Some(env) = engines() else { return };
    let dir = tempdir();
    let base = base_blobs(dir.path());
    let layer_size = base.layer_size;
    let fake = token_registry(base);
    // `library/base` on a registry with a port: Docker Hub's naming, a local address.
    let base_ref = format!("{}/library/base", fake.addr);
    let image = format!("{}/{}:dev", env.registry, unique("cross"));
    let mut cmd = helper(dir.path());
    cmd.args(["image", "publish", "--base", &base_ref])
        .args(["--cmd", "echo copied-base"])
        .args(["--tag", &image]);
    let report = publish_json(&mut cmd);
    assert!(report.bytes_uploaded > layer_size, "base layer streamed");
    assert_eq!(report.layer_digest, None, "no --file: no new layer");
    let requests = fake.requests();
    assert!(requests.iter().any(|r| r.path.starts_with("/token?")));
    assert!(
        !requests.iter().any(|r| r.method != "GET"),
        "the base registry is only read"
    );
    let out = podman(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(stdout_of(&out).trim(), "copied-base");
    let _ = podman(&env, &["rmi", "-f", &image]);

    // A platform the index lacks: the error lists the ones it has.
    let mut cmd = helper(dir.path());
    cmd.args([
        "image",
        "publish",
        "--base",
        &base_ref,
        "--platform",
        "linux/riscv64",
    ])
    .args(["--tag", &image]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    assert_eq!(
        common::stderr(&out),
        format!(
            "error: choosing a platform of base image {base_ref}: platform linux/riscv64 is \
             not in the index (available: linux/s390x, linux/{arch}); pass --platform\n"
        )
    );
}

// --- OpenShell's shapes ------------------------------------------------------------------------
//
// Dockerfiles written here from the facts in /work/shared/upstream/openshell.md (no OpenShell
// file is copied): the repository root is the build context, host-built binaries are staged at
// deploy/docker/.build/prebuilt-binaries/${TARGETARCH}/<bin>, the gateway's base comes from a
// digest-pinned ARG, and the supervisor runs a RUN step before COPY --chmod of its binary.

const STAGING: &str = "deploy/docker/.build/prebuilt-binaries";

/// A repository root holding `deploy/docker/<name>` with `dockerfile`, and `script` staged as
/// `bin` for the host's architecture.
fn openshell_repo(name: &str, dockerfile: &str, bin: &str, script: &str) -> tempfile::TempDir {
    let repo = tempdir();
    let docker_dir = repo.path().join("deploy/docker");
    std::fs::create_dir_all(&docker_dir).unwrap();
    std::fs::write(docker_dir.join(name), dockerfile).unwrap();
    stage(repo.path(), bin, script);
    repo
}

/// Stage `script` as the host-built `bin`, 0644 as an artifact download leaves it: only
/// COPY --chmod makes it executable.
fn stage(repo: &Path, bin: &str, script: &str) {
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    let dir = repo.join(STAGING).join(arch);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(bin), script).unwrap();
}

fn gateway_dockerfile(default_base: &str) -> String {
    format!(
        "# syntax=docker/dockerfile:1.4\n\n\
         # SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors\n\
         # SPDX-License-Identifier: Apache-2.0\n\n\
         # OpenShell's gateway shape: a digest-pinned base from an ARG, the staged binary.\n\n\
         ARG GATEWAY_BASE_IMAGE={default_base}\n\
         FROM ${{GATEWAY_BASE_IMAGE}} AS gateway\n\n\
         ARG TARGETARCH\n\n\
         WORKDIR /app\n\n\
         COPY {STAGING}/${{TARGETARCH}}/openshell-gateway /usr/local/bin/openshell-gateway\n\n\
         USER 1000:1000\n\
         EXPOSE 8080\n\n\
         ENTRYPOINT [\"/bin/sh\", \"/usr/local/bin/openshell-gateway\"]\n\
         CMD [\"--bind-address\", \"0.0.0.0\", \"--port\", \"8080\"]\n"
    )
}

#[test]
fn openshell_gateway_publishes_from_the_repo_root_on_a_digest_pinned_base() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let digest = manifest_digest(base);
    // The default names a registry that never resolves (RFC 2606), as gcr.io does not here.
    let unreachable = format!("registry.invalid/distroless/cc-debian13:nonroot@{digest}");
    let repo = openshell_repo(
        "Dockerfile.gateway",
        &gateway_dockerfile(&unreachable),
        "openshell-gateway",
        "echo \"gateway $* as $(id -u):$(id -g) in $PWD\"\n",
    );
    let dockerfile = repo.path().join("deploy/docker/Dockerfile.gateway");
    let image = format!("{}/{}:dev", env.registry, unique("openshell-gateway"));
    let home = tempdir();
    let publish = |build_args: &[String]| {
        let mut cmd = helper(home.path());
        cmd.args(["image", "publish", "--compression", "gzip", "--dockerfile"])
            .arg(&dockerfile)
            .arg("--context")
            .arg(repo.path())
            .args(["--tag", &image]);
        for arg in build_args {
            cmd.args(["--build-arg", arg]);
        }
        cmd
    };

    // The default base cannot be reached: the error names the build-arg for a mirror.
    let out = common::run(&mut publish(&[]));
    assert_one_line_error(
        &out,
        &[
            &format!("reading base image {unreachable}: reaching registry registry.invalid: "),
            &format!(
                "; set --build-arg GATEWAY_BASE_IMAGE=<mirror>/distroless/cc-debian13:nonroot@{digest} \
                 to pull it from a mirror you can reach"
            ),
        ],
    );
    assert_eq!(served_digest(&image), None, "nothing pushed");

    // The mirror: the local registry, the same digest.
    let pinned = format!("{base}@{digest}");
    let report = publish_json(&mut publish(&[format!("GATEWAY_BASE_IMAGE={pinned}")]));
    assert_eq!(report.bytes_skipped, registry_layer_bytes(base));
    let out = docker(&env, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(
        stdout_of(&out).trim(),
        "gateway --bind-address 0.0.0.0 --port 8080 as 1000:1000 in /app"
    );
    let _ = docker(&env, &["rmi", &image]);

    // A pin the mirror does not have, and a binary not staged: each one line, nothing pushed.
    let other = format!("sha256:{}", "0".repeat(64));
    let out = common::run(&mut publish(&[format!(
        "GATEWAY_BASE_IMAGE={base}@{other}"
    )]));
    assert_one_line_error(
        &out,
        &[
            &format!("not found on {}", env.registry),
            "set --build-arg GATEWAY_BASE_IMAGE=<mirror>/",
        ],
    );
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    std::fs::remove_file(
        repo.path()
            .join(STAGING)
            .join(&arch)
            .join("openshell-gateway"),
    )
    .unwrap();
    let moved = format!(
        "{}/{}:dev",
        env.registry,
        unique("openshell-gateway-unstaged")
    );
    let mut cmd = publish(&[format!("GATEWAY_BASE_IMAGE={pinned}")]);
    cmd.args(["--tag", &moved]);
    let out = common::run(&mut cmd);
    let staged = format!("{STAGING}/{arch}/openshell-gateway");
    assert_one_line_error(
        &out,
        &[
            &format!("COPY source {staged} ({}:15)", dockerfile.display()),
            "No such file or directory",
            &format!("stage it at {}/{staged}", repo.path().display()),
        ],
    );
    assert_eq!(served_digest(&moved), None, "nothing pushed");
}

/// OpenShell's supervisor shape: a literal FROM, a RUN step, then COPY --chmod of the binary.
/// The RUN records what the engine saw of TARGETARCH: the legacy builder sets no platform ARG
/// itself, so the helper must pass it.
fn supervisor_dockerfile(base: &str) -> String {
    format!(
        "# syntax=docker/dockerfile:1.4\n\n\
         # SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors\n\
         # SPDX-License-Identifier: Apache-2.0\n\n\
         FROM {base} AS supervisor\n\n\
         ARG TARGETARCH\n\n\
         RUN mkdir -p /etc/supervisor && echo \"nftables for $TARGETARCH\" > /etc/supervisor/tools\n\n\
         # --chmod: the staged binary has no execute bit.\n\
         COPY --chmod=0555 {STAGING}/${{TARGETARCH}}/openshell-sandbox /openshell-sandbox\n\n\
         ENTRYPOINT [\"/openshell-sandbox\"]\n"
    )
}

fn sandbox_script(version: &str) -> String {
    format!(
        "#!/bin/sh\necho \"sandbox {version}: $(cat /etc/supervisor/tools), mode \
         $(busybox stat -c %a /openshell-sandbox)\"\n"
    )
}

#[test]
fn openshell_supervisor_builds_its_prefix_once_per_engine_and_publishes_edits_daemonless() {
    let Some(env) = engines() else { return };
    let base = base_image(&env);
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    // Docker and Podman each behind the docker CLI, and Podman through its own CLI alone.
    let podman_only = tempdir();
    std::os::unix::fs::symlink(
        which::which("podman").expect("podman on PATH"),
        podman_only.path().join("podman"),
    )
    .unwrap();
    for (engine, host, path) in [
        ("docker", &env.docker, None),
        ("podman", &env.podman, None),
        ("podman-cli", &env.podman, Some(podman_only.path())),
    ] {
        let repo = openshell_repo(
            "Dockerfile.supervisor",
            &supervisor_dockerfile(base),
            "openshell-sandbox",
            &sandbox_script("v1"),
        );
        let dockerfile = repo.path().join("deploy/docker/Dockerfile.supervisor");
        let image = format!(
            "{}/{}:dev",
            env.registry,
            unique(&format!("supervisor-{engine}"))
        );
        let home = tempdir();
        let publish = || {
            let mut cmd = helper(home.path());
            cmd.env("DOCKER_HOST", host)
                .args(["image", "publish", "--engine-prefix", "--dockerfile"])
                .arg(&dockerfile)
                .arg("--context")
                .arg(repo.path())
                .args(["--tag", &image]);
            if let Some(path) = path {
                cmd.env("PATH", path);
            }
            publish_json(&mut cmd)
        };
        let first = publish();
        let prefix = first.prefix.clone().expect("--json reports the prefix");
        assert_eq!(
            prefix["built"], true,
            "{engine}: the first run builds the prefix"
        );
        let prefix_image = prefix["image"].as_str().unwrap().to_string();
        let run = |version: &str| {
            assert_eq!(
                podman_run_pulled(&env, &image),
                format!("sandbox {version}: nftables for {arch}, mode 555"),
                "{engine}"
            );
        };
        run("v1");

        // An edit of the binary: the prefix is reused, no engine runs, only the tail goes up.
        stage(repo.path(), "openshell-sandbox", &sandbox_script("v2"));
        let second = publish();
        let prefix = second.prefix.clone().unwrap();
        assert_eq!(
            prefix["built"], false,
            "{engine}: an unchanged prefix is not rebuilt"
        );
        assert_eq!(prefix["image"], prefix_image.as_str());
        assert_ne!(second.digest, first.digest);
        assert_eq!(second.bytes_skipped, registry_layer_bytes(&prefix_image));
        run("v2");
        let _ = podman(&env, &["rmi", "-f", &image, &prefix_image]);
        let _ = docker(&env, &["rmi", &prefix_image]);
    }
}

#[test]
fn a_run_step_with_no_engine_is_one_line_naming_the_fix_and_pushes_nothing() {
    let target = fake_registry::Registry::start(fake_registry::Store::default(), |_, _| None);
    let repo = openshell_repo(
        "Dockerfile.supervisor",
        &supervisor_dockerfile("127.0.0.1:1/base:dev"),
        "openshell-sandbox",
        &sandbox_script("v1"),
    );
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.env(
        "DOCKER_HOST",
        format!("unix://{}/no-engine.sock", home.path().display()),
    )
    .args(["image", "publish", "--engine-prefix", "--dockerfile"])
    .arg(repo.path().join("deploy/docker/Dockerfile.supervisor"))
    .arg("--context")
    .arg(repo.path())
    .args(["--tag", &format!("{}/supervisor:dev", target.addr())]);
    let out = common::run(&mut cmd);
    assert_one_line_error(
        &out,
        &[
            "lines 1-12 need a container engine (--engine-prefix builds them once",
            "none answers",
        ],
    );
    assert!(!target.manifest_pushed());
    assert!(
        target
            .requests()
            .iter()
            .all(|r| r.method != "PUT" && r.method != "POST")
    );
    // Without --engine-prefix the same file exits 4, naming the RUN line.
    let mut cmd = helper(home.path());
    cmd.args(["image", "publish", "--dockerfile"])
        .arg(repo.path().join("deploy/docker/Dockerfile.supervisor"))
        .arg("--context")
        .arg(repo.path())
        .args(["--tag", &format!("{}/supervisor:dev", target.addr())]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        common::stderr(&out).contains("Dockerfile.supervisor:10: RUN needs a container engine")
    );
}

#[test]
fn an_unreachable_base_of_an_engine_built_prefix_names_the_fix() {
    let Some(env) = engines() else { return };
    let repo = openshell_repo(
        "Dockerfile.supervisor",
        &supervisor_dockerfile("registry.invalid/alpine:3.22"),
        "openshell-sandbox",
        &sandbox_script("v1"),
    );
    let dockerfile = repo.path().join("deploy/docker/Dockerfile.supervisor");
    let image = format!("{}/{}:dev", env.registry, unique("supervisor-unreachable"));
    let home = tempdir();
    let mut cmd = helper(home.path());
    cmd.env("DOCKER_HOST", &env.docker)
        .args(["image", "publish", "--engine-prefix", "--dockerfile"])
        .arg(&dockerfile)
        .arg("--context")
        .arg(repo.path())
        .args(["--tag", &image]);
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(1));
    let err = common::stderr(&out);
    let last = err.lines().last().unwrap_or("");
    assert!(
        last.starts_with("error: reading base image registry.invalid/alpine:3.22: reaching registry registry.invalid:"),
        "{err}"
    );
    assert!(
        last.ends_with(&format!(
            "{}:6 names it directly; make its registry reachable, or take it from an ARG \
             (ARG BASE=registry.invalid/alpine:3.22, FROM ${{BASE}}) and set --build-arg \
             BASE=<mirror>/alpine:3.22",
            dockerfile.display()
        )),
        "{err}"
    );
    assert_eq!(served_digest(&image), None, "nothing pushed");
}
