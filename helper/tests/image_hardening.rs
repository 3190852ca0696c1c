// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `image publish` against registries that misbehave (tests/support/fake_registry.rs): content
//! that does not match its digest, manifests and configs too large to hold, upload `Location`s
//! and redirects on other hosts, challenges from hosts that are not the registry. Each is
//! refused with one line naming what was wrong, and no manifest is ever pushed after it. No
//! engine is needed: the source and the target registry are both in this process.

#[path = "support/checks.rs"]
mod checks;
mod common;
#[path = "support/fake_registry.rs"]
mod fake_registry;
#[path = "support/http_request.rs"]
mod http_request;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::json;

use checks::assert_one_line_error;
use fake_registry::{Body, Fake, Registry, Request, Response, Store, respond, sha256};

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A base image in `store` as `repo:tag`: one layer of filler bytes (the helper never reads
/// base layers, it only copies them), a config, a manifest and an index naming it.
struct Base {
    manifest: String,
    index: String,
    config: String,
    layer: String,
    layer_len: usize,
}

fn config_bytes(marker: &str, layer: &[u8]) -> Vec<u8> {
    // The diff_id is not checked by anything here; any digest will do.
    serde_json::to_vec(&json!({
        "architecture": k8s_dev_helper::image::manifest::Platform::host().architecture,
        "os": "linux",
        "config": {"Env": ["PATH=/bin", format!("MARKER={marker}")]},
        "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]},
    }))
    .unwrap()
}

fn manifest_bytes(config: &[u8], layer: &[u8], config_size: Option<u64>) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": sha256(config), "size": config_size.unwrap_or(config.len() as u64)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "digest": sha256(layer), "size": layer.len()}],
    }))
    .unwrap()
}

fn put_base(store: &mut Store, repo: &str, tag: &str) -> Base {
    let layer: Vec<u8> = (0..200_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let config = config_bytes("genuine", &layer);
    let manifest = manifest_bytes(&config, &layer, None);
    store.put_blob(&layer);
    let config_digest = store.put_blob(&config);
    let manifest_digest = store.put_manifest(repo, None, DOCKER_MANIFEST, &manifest);
    let arch = k8s_dev_helper::image::manifest::Platform::host().architecture;
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": DOCKER_MANIFEST, "digest": manifest_digest,
                       "size": manifest.len(), "platform": {"os": "linux", "architecture": arch}}],
    }))
    .unwrap();
    let index_digest = store.put_manifest(repo, Some(tag), OCI_INDEX, &index);
    Base {
        manifest: manifest_digest,
        index: index_digest,
        config: config_digest,
        layer: sha256(&layer),
        layer_len: layer.len(),
    }
}

/// A second image's manifest and config, as an attacker would serve in place of the base.
fn put_other_image(store: &mut Store) -> Vec<u8> {
    let layer = b"attacker layer".to_vec();
    let config = config_bytes("attacker", &layer);
    store.put_blob(&layer);
    store.put_blob(&config);
    manifest_bytes(&config, &layer, None)
}

/// Publish `image` of `source` (e.g. `library/base:1`) to `target`, from a fresh home.
fn publish_from(source: &Registry, image: &str, target: &Registry) -> Output {
    let home = tempdir();
    publish(
        home.path(),
        &format!("{}/{image}", source.addr()),
        target.addr(),
    )
}

fn honest_target() -> Registry {
    Registry::start(Store::default(), |_, _| None)
}

fn publish(home: &Path, base: &str, target: &str) -> Output {
    let file = home.join("app");
    std::fs::write(&file, b"#!/bin/sh\necho app\n").unwrap();
    let mut cmd = common::helper(home);
    cmd.args(["image", "publish", "--no-cache", "--base", base])
        .arg("--file")
        .arg(format!("{}:/app:755", file.display()))
        .args(["--tag", &format!("{target}/app:dev")]);
    common::run(&mut cmd)
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// A registry holding a base image as `library/base:1` (an index of one manifest) that serves
/// another image's manifest when asked for the base's manifest by its digest.
fn forging_source() -> (Registry, Base) {
    let mut store = Store::default();
    let base = put_base(&mut store, "library/base", "1");
    let forged = put_other_image(&mut store);
    let digest = base.manifest.clone();
    let source = Registry::start(store, move |_, req| {
        req.path
            .ends_with(&format!("/manifests/{digest}"))
            .then(|| respond(200, &[("Content-Type", DOCKER_MANIFEST)], &forged))
    });
    (source, base)
}

#[test]
fn a_digest_pinned_base_served_with_other_bytes_is_refused_and_nothing_is_pushed() {
    let (source, base) = forging_source();
    let target = honest_target();
    let home = tempdir();
    let reference = format!("{}/library/base:1@{}", source.addr(), base.manifest);
    let out = publish(home.path(), &reference, target.addr());
    assert_one_line_error(
        &out,
        &[
            &format!("reading base image {reference}"),
            &format!("not {}; refusing it", base.manifest),
        ],
    );
    assert!(!target.manifest_pushed(), "nothing may be tagged");
    assert!(target.requests().iter().all(|r| r.method != "PUT"));
}

#[test]
fn an_index_entry_served_with_other_bytes_is_refused() {
    // By tag: the index is genuine, the manifest it names is not.
    let (source, base) = forging_source();
    let target = honest_target();
    let out = publish_from(&source, "library/base:1", &target);
    assert_one_line_error(&out, &[&format!("not {}; refusing it", base.manifest)]);
    assert!(!target.manifest_pushed());
    // Asked for by tag, a manifest must still match the digest the registry names for it.
    let mut store = Store::default();
    put_base(&mut store, "library/base", "1");
    let (_, index) = store.manifests[&("library/base".to_string(), "1".to_string())].clone();
    let named = sha256(b"something else");
    let header = named.clone();
    let source = Registry::start(store, move |_, req| {
        req.path.ends_with("/manifests/1").then(|| {
            respond(
                200,
                &[
                    ("Content-Type", OCI_INDEX),
                    ("Docker-Content-Digest", &header),
                ],
                &index,
            )
        })
    });
    let out = publish_from(&source, "library/base:1", &target);
    assert_one_line_error(&out, &[&format!("not {named}; refusing it")]);
    assert!(!target.manifest_pushed());
    assert!(base.index.starts_with("sha256:"));
}

#[test]
fn a_base_layer_streamed_with_other_bytes_or_too_many_is_refused_mid_copy() {
    for (case, body) in [
        (
            "other bytes of the same length",
            Body::Stream {
                byte: 0x41,
                len: 200_000,
                close_delimited: false,
            },
        ),
        (
            "an endless stream",
            Body::Stream {
                byte: 0x41,
                len: 256 << 20,
                close_delimited: true,
            },
        ),
    ] {
        let mut store = Store::default();
        let base = put_base(&mut store, "library/base", "1");
        let layer = base.layer.clone();
        let body = std::sync::Mutex::new(Some(body));
        let source = Registry::start(store, move |_, req| {
            if req.method == "GET" && req.path.ends_with(&format!("/blobs/{layer}")) {
                let body = body.lock().unwrap().take()?;
                return Some(Response {
                    status: 200,
                    headers: vec![],
                    body,
                });
            }
            None
        });
        let target = honest_target();
        let out = publish_from(&source, "library/base:1", &target);
        let what = format!(
            "copying base layer {} from {}/library/base",
            base.layer,
            source.addr()
        );
        assert_one_line_error(&out, &[&what, "refusing it"]);
        assert!(!target.manifest_pushed(), "{case}: nothing may be tagged");
        assert!(
            source.fake.streamed_bytes() < 64 << 20,
            "{case}: the helper stops reading once the blob is too long ({} bytes sent)",
            source.fake.streamed_bytes()
        );
        assert!(base.layer_len > 0);
    }
}

#[test]
fn huge_manifests_and_configs_are_refused_without_reading_them_whole() {
    // A manifest of 64 MiB, announced by Content-Length or only by closing the connection.
    for close_delimited in [false, true] {
        let source = Registry::start(Store::default(), move |_, req| {
            req.path.ends_with("/manifests/1").then(|| Response {
                status: 200,
                headers: vec![("Content-Type".into(), DOCKER_MANIFEST.into())],
                body: Body::Stream {
                    byte: b' ',
                    len: 64 << 20,
                    close_delimited,
                },
            })
        });
        let target = honest_target();
        let out = publish_from(&source, "library/base:1", &target);
        assert_one_line_error(&out, &["larger than 4 MiB", "refusing it"]);
        assert!(
            source.fake.streamed_bytes() < 32 << 20,
            "read {} bytes of a 64 MiB manifest",
            source.fake.streamed_bytes()
        );
        assert!(!target.manifest_pushed());
    }

    // A config whose descriptor claims 100 MiB, and one that streams past its stated size.
    let mut store = Store::default();
    let layer = b"layer".to_vec();
    let config = config_bytes("genuine", &layer);
    store.put_blob(&layer);
    store.put_blob(&config);
    let huge = manifest_bytes(&config, &layer, Some(100 << 20));
    store.put_manifest("library/huge", Some("1"), DOCKER_MANIFEST, &huge);
    let manifest = manifest_bytes(&config, &layer, None);
    store.put_manifest("library/long", Some("1"), DOCKER_MANIFEST, &manifest);
    let config_digest = sha256(&config);
    let source = Registry::start(store, move |_, req| {
        (req.path.starts_with("/v2/library/long/blobs/") && req.path.ends_with(&config_digest))
            .then(|| Response {
                status: 200,
                headers: vec![],
                body: Body::Stream {
                    byte: b'{',
                    len: 64 << 20,
                    close_delimited: true,
                },
            })
    });
    let target = honest_target();
    let out = publish_from(&source, "library/huge:1", &target);
    assert_one_line_error(&out, &["over the 8 MiB limit", "refusing it"]);
    let out = publish_from(&source, "library/long:1", &target);
    assert_one_line_error(
        &out,
        &[
            &format!("larger than {} bytes", config.len()),
            "refusing it",
        ],
    );
    assert!(source.fake.streamed_bytes() < 32 << 20);
    assert!(!target.manifest_pushed());
}

/// Bearer-token auth in front of a [`Store`]: `/token` hands out `t0k`; every other request
/// without it gets a challenge naming this registry's own realm.
fn token_gate(addr: &str, req: &Request) -> Option<Response> {
    if req.path.starts_with("/token") {
        return Some(respond(
            200,
            &[("Content-Type", "application/json")],
            br#"{"token":"t0k"}"#,
        ));
    }
    if req.headers.get("authorization").map(String::as_str) == Some("Bearer t0k") {
        return None;
    }
    let challenge = format!(r#"Bearer realm="http://{addr}/token",service="fake""#);
    Some(respond(401, &[("WWW-Authenticate", &challenge)], b"{}"))
}

/// A server on another port that takes uploads and blob reads, recording what it was sent.
fn elsewhere() -> Fake {
    Fake::start(Box::new(|req| match req.method.as_str() {
        "PUT" => respond(201, &[], b""),
        _ => respond(200, &[], b""),
    }))
}

/// A token-gated registry that sends every upload to `other` (another host:port).
fn registry_uploading_to(other: &str) -> Registry {
    let other = other.to_string();
    Registry::start(Store::default(), move |addr, req| {
        if let Some(resp) = token_gate(addr, req) {
            return Some(resp);
        }
        (req.method == "POST" && req.path.ends_with("/blobs/uploads/")).then(|| {
            let location = format!("http://{other}/upload/1?state=x");
            respond(202, &[("Location", &location)], b"")
        })
    })
}

#[test]
fn the_token_never_goes_to_an_upload_location_on_another_host() {
    let other = elsewhere();
    let target = registry_uploading_to(&other.addr);
    let home = tempdir();
    let out = publish(home.path(), "scratch", target.addr());
    assert_eq!(
        out.status.code(),
        Some(0),
        "the uploads themselves may go there"
    );
    let uploads = other.requests();
    assert!(!uploads.is_empty(), "the blobs went to the Location");
    for r in &uploads {
        assert_eq!(
            r.headers.get("authorization"),
            None,
            "{} {} carried the registry's token",
            r.method,
            r.path
        );
    }
    assert!(
        target
            .requests()
            .iter()
            .any(|r| r.headers.get("authorization").map(String::as_str) == Some("Bearer t0k")),
        "the registry itself gets its token"
    );
}

#[test]
fn a_challenge_from_another_host_is_not_answered() {
    // The other host asks for a token from its own realm: answering it would hand the
    // registry's credentials (or a token fetched for it) to whoever the Location names.
    let other = Fake::start_with_addr(|addr, req| {
        if req.path.starts_with("/token") {
            return respond(200, &[], br#"{"token":"stolen"}"#);
        }
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="other""#);
        respond(401, &[("WWW-Authenticate", &challenge)], b"{}")
    });
    let target = registry_uploading_to(&other.addr);
    let home = tempdir();
    let out = publish(home.path(), "scratch", target.addr());
    assert_one_line_error(
        &out,
        &[
            &format!(
                "registry {} sent the request on to http://{}",
                target.addr(),
                other.addr
            ),
            "only ever sent to",
        ],
    );
    assert!(
        !other
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/token")),
        "no token was asked of the other host"
    );
    assert!(!target.manifest_pushed());
}

#[test]
fn a_blob_redirected_to_another_host_is_fetched_without_the_token() {
    // Registries send blob reads to storage elsewhere; the token must stay behind. (reqwest
    // strips Authorization on a cross-origin redirect; this pins that it stays so.)
    let mut store = Store::default();
    let base = put_base(&mut store, "library/base", "1");
    let layer_bytes = store.blobs[&base.layer].clone();
    let storage = Fake::start(Box::new(move |_| respond(200, &[], &layer_bytes)));
    let storage_addr = storage.addr.clone();
    let layer = base.layer.clone();
    let source = Registry::start(store, move |addr, req| {
        if let Some(resp) = token_gate(addr, req) {
            return Some(resp);
        }
        req.path.ends_with(&format!("/blobs/{layer}")).then(|| {
            let location = format!("http://{storage_addr}/storage/layer");
            respond(307, &[("Location", &location)], b"")
        })
    });
    let target = honest_target();
    let out = publish_from(&source, "library/base:1", &target);
    assert_eq!(out.status.code(), Some(0));
    let reads = storage.requests();
    assert_eq!(reads.len(), 1, "the layer was read from storage");
    assert_eq!(reads[0].headers.get("authorization"), None);
    assert!(target.manifest_pushed());
    assert!(base.config.starts_with("sha256:"));
}

#[test]
fn a_blob_the_registry_cannot_vouch_for_is_uploaded_again() {
    // docker-registry killed while it linked a blob into the repository answers HEAD for that
    // blob with 500 from then on (seen in faults.rs); a new upload rewrites the link.
    let target = Registry::start(Store::default(), |_, req| {
        (req.method == "HEAD" && req.path.contains("/blobs/sha256:")).then(|| {
            respond(
                500,
                &[("Content-Type", "application/json")],
                br#"{"errors":[{"code":"UNKNOWN","message":"unknown error","detail":"invalid checksum digest format"}]}"#,
            )
        })
    });
    let home = tempdir();
    let out = publish(home.path(), "scratch", target.addr());
    assert_eq!(out.status.code(), Some(0), "{}", common::stderr(&out));
    assert!(target.manifest_pushed());
    let uploads = target
        .requests()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/blobs/uploads/"))
        .count();
    assert_eq!(uploads, 2, "the layer and the config are uploaded");
}

#[test]
fn a_registry_address_that_is_not_a_host_is_refused_before_any_request() {
    let home = tempdir();
    for tag in [
        "127.0.0.1:1#.localhost/app:dev",
        "host:port#.localhost/app:dev",
    ] {
        let mut cmd: Command = common::helper(home.path());
        cmd.args(["image", "publish", "--base", "scratch", "--tag", tag]);
        let out = common::run(&mut cmd);
        assert_one_line_error(&out, &["invalid registry address", "want HOST[:PORT]"]);
    }
    let mut cmd = common::helper(home.path());
    cmd.args(["image", "publish", "--base", "scratch"]).args([
        "--tag",
        "127.0.0.1:1/app:dev",
        "--insecure-registry",
        "reg#lan",
    ]);
    let out = common::run(&mut cmd);
    assert_one_line_error(
        &out,
        &[
            "--insecure-registry \"reg#lan\"",
            "invalid registry address",
        ],
    );
}

/// A build context with a Dockerfile, next to a secret outside it.
fn context_with(dockerfile: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempdir();
    let ctx = dir.path().join("ctx");
    std::fs::create_dir_all(ctx.join("tree")).unwrap();
    std::fs::create_dir_all(dir.path().join("ssh")).unwrap();
    std::fs::write(dir.path().join("ssh/id_rsa"), b"PRIVATE KEY").unwrap();
    std::fs::write(ctx.join("tree/app"), b"app").unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    (dir, ctx)
}

fn publish_dockerfile(home: &Path, ctx: &Path, target: &str) -> Output {
    let mut cmd = common::helper(home);
    cmd.args(["image", "publish", "--no-cache", "--dockerfile"])
        .arg(ctx.join("Dockerfile"))
        .args(["--tag", &format!("{target}/app:dev")]);
    common::run(&mut cmd)
}

#[test]
fn a_copy_source_linking_out_of_the_context_is_refused_naming_it() {
    let target = honest_target();
    let (dir, ctx) = context_with("FROM scratch\nCOPY leak /key\n");
    std::os::unix::fs::symlink(dir.path().join("ssh/id_rsa"), ctx.join("leak")).unwrap();
    let out = publish_dockerfile(dir.path(), &ctx, target.addr());
    let dockerfile = ctx.join("Dockerfile");
    assert_one_line_error(
        &out,
        &[
            &format!(
                "COPY source leak ({}:2): {}/leak links to {}/ssh/id_rsa, outside the build context {}",
                dockerfile.display(),
                ctx.display(),
                dir.path().display(),
                ctx.display()
            ),
            "copy the file into the context",
        ],
    );
    assert!(target.requests().is_empty(), "refused before any request");

    // Through a linked directory, and through `..` in a relative link.
    let (dir, ctx) = context_with("FROM scratch\nCOPY dirlink/id_rsa /key\n");
    std::os::unix::fs::symlink(dir.path().join("ssh"), ctx.join("dirlink")).unwrap();
    let out = publish_dockerfile(dir.path(), &ctx, target.addr());
    assert_one_line_error(
        &out,
        &[
            &format!("{}/dirlink links to", ctx.display()),
            "outside the build context",
        ],
    );
    let (dir, ctx) = context_with("FROM scratch\nCOPY tree/up/ssh/id_rsa /key\n");
    std::os::unix::fs::symlink("../..", ctx.join("tree/up")).unwrap();
    let out = publish_dockerfile(dir.path(), &ctx, target.addr());
    assert_one_line_error(
        &out,
        &[&format!("{}/tree/up links to ../..", ctx.display())],
    );
    let (dir, ctx) = context_with("FROM scratch\nCOPY ../ssh/id_rsa /key\n");
    let out = publish_dockerfile(dir.path(), &ctx, target.addr());
    assert_one_line_error(
        &out,
        &["COPY source ../ssh/id_rsa", "is outside the build context"],
    );
    assert!(!target.manifest_pushed());
}

#[test]
fn links_inside_the_context_are_followed_or_kept_and_never_leak() {
    let target = honest_target();
    let (dir, ctx) = context_with("FROM scratch\nCOPY applink /bin/app\nCOPY tree /tree\n");
    // A top-level link inside the context is followed, as COPY does; a link inside a copied
    // tree stays a link, even one pointing out: its target's bytes never enter the layer.
    std::os::unix::fs::symlink("tree/app", ctx.join("applink")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("ssh/id_rsa"), ctx.join("tree/key")).unwrap();
    let out = publish_dockerfile(dir.path(), &ctx, target.addr());
    assert_eq!(out.status.code(), Some(0));
    let store = target.store.lock().unwrap();
    let layer = store
        .blobs
        .values()
        .find(|b| b.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]))
        .expect("a zstd layer was uploaded");
    let tar_bytes = zstd::decode_all(&layer[..]).unwrap();
    let mut archive = tar::Archive::new(&tar_bytes[..]);
    let mut seen = Vec::new();
    for entry in archive.entries().unwrap() {
        let entry = entry.unwrap();
        let kind = entry.header().entry_type();
        seen.push(format!("{} {kind:?}", entry.path().unwrap().display()));
    }
    assert!(seen.contains(&"bin/app Regular".to_string()), "{seen:?}");
    assert!(seen.contains(&"tree/key Symlink".to_string()), "{seen:?}");
    assert!(!tar_bytes.windows(11).any(|w| w == b"PRIVATE KEY"));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Whether a test that acts as a second local user can run: it needs root to switch users.
/// CI runs as root; elsewhere the test skips, saying why, unless K8S_DEV_TEST_NO_SKIP=1.
fn second_user_available() -> bool {
    if is_root() {
        return true;
    }
    let reason = "acting as a second local user needs root (CI runs as root)";
    assert!(!common::no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
    eprintln!("SKIP: {reason}");
    false
}

/// The uid of `nobody`: a user that owns nothing here.
const OTHER_UID: u32 = 65534;

/// Publish `--file` with the layer cache at `cache`, under `umask`.
fn publish_cached(home: &Path, cache: &Path, target: &str, umask: u32) -> Output {
    use std::os::unix::process::CommandExt;
    let file = home.join("app");
    // Written once: a rewrite would change the cache key, and the test wants a cache hit.
    if !file.exists() {
        std::fs::write(&file, b"#!/bin/sh\necho app\n").unwrap();
    }
    let mut cmd = common::helper(home);
    cmd.args(["image", "publish", "--base", "scratch", "--json"])
        .arg("--cache-dir")
        .arg(cache)
        .arg("--file")
        .arg(format!("{}:/app:755", file.display()))
        .args(["--tag", &format!("{target}/app:dev")]);
    // SAFETY: umask is async-signal-safe and touches nothing but the child's mask.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(umask as libc::mode_t);
            Ok(())
        });
    }
    common::run(&mut cmd)
}

/// The one blob in the layer cache at `cache`.
fn only_blob(cache: &Path) -> std::path::PathBuf {
    let blobs: Vec<_> = std::fs::read_dir(cache.join("blobs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    blobs.into_iter().next().unwrap()
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).unwrap().mode() & 0o777
}

#[test]
fn the_layer_cache_is_private_whatever_the_umask() {
    let target = honest_target();
    let home = tempdir();
    let cache = home.path().join("cache");
    let out = publish_cached(home.path(), &cache, target.addr(), 0o000);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(mode(&cache), 0o700);
    assert_eq!(mode(&cache.join("blobs")), 0o700);
    assert_eq!(mode(&cache.join("layers.json")), 0o600);
    let blobs: Vec<_> = std::fs::read_dir(cache.join("blobs"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    for blob in blobs {
        assert_eq!(mode(&blob.path()), 0o600, "{}", blob.path().display());
    }
}

#[test]
fn a_cached_blob_changed_on_disk_is_rebuilt_not_pushed() {
    let home = tempdir();
    let cache = home.path().join("cache");
    let first = honest_target();
    let out = publish_cached(home.path(), &cache, first.addr(), 0o022);
    assert_eq!(out.status.code(), Some(0));
    let out = publish_cached(home.path(), &cache, first.addr(), 0o022);
    let report: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(report["layer_cached"], true, "an unchanged blob is reused");
    // Same size, other bytes: what a stray writer (or a failing disk) leaves.
    let blob = only_blob(&cache);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, &bytes).unwrap();
    let second = honest_target();
    let out = publish_cached(home.path(), &cache, second.addr(), 0o022);
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert_eq!(
        report["layer_cached"], false,
        "the changed blob is not reused"
    );
    for (digest, bytes) in &second.store.lock().unwrap().blobs {
        assert_eq!(
            &sha256(bytes),
            digest,
            "every pushed blob matches its digest"
        );
    }
}

#[test]
fn a_second_user_can_neither_plant_a_blob_nor_lend_a_cache_directory() {
    if !second_user_available() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let target = honest_target();
    let home = tempdir();
    // A home directory others can traverse, as most are: only the cache's own modes protect it.
    std::fs::set_permissions(
        home.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let cache = home.path().join("cache");
    let out = publish_cached(home.path(), &cache, target.addr(), 0o000);
    assert_eq!(out.status.code(), Some(0));
    let blob = only_blob(&cache);
    for victim in [
        blob.clone(),
        cache.join("blobs/planted"),
        cache.join("layers.json"),
    ] {
        let out = Command::new("sh")
            .arg("-c")
            .arg("printf evil > \"$1\"")
            .arg("sh")
            .arg(&victim)
            .uid(OTHER_UID)
            .gid(OTHER_UID)
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "uid {OTHER_UID} wrote {}",
            victim.display()
        );
    }

    // A cache directory another user made (world-writable, as one in /tmp would be): refused.
    let lent = home.path().join("lent");
    std::fs::create_dir(&lent).unwrap();
    std::fs::set_permissions(&lent, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    std::os::unix::fs::chown(&lent, Some(OTHER_UID), Some(OTHER_UID)).unwrap();
    let out = publish_cached(home.path(), &lent, target.addr(), 0o022);
    assert_one_line_error(
        &out,
        &[
            &format!(
                "layer cache {} belongs to uid {OTHER_UID}, not to you",
                lent.display()
            ),
            "set K8S_DEV_CACHE_DIR to a directory of your own, or pass --no-cache",
        ],
    );
}
