// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `image publish` to registries that want credentials: a real `docker-registry` behind TLS
//! (a CA the test makes, trusted through a `certs.d` directory) with htpasswd, and the same
//! with token auth from the test's token issuer (real JWTs, ES256 with `kid` and RS256 with
//! `x5c`), with the credentials in each place Docker and Podman keep them; per-scope tokens
//! for a cross-repository mount; a real token that expires mid-publish; the published image
//! pulled by Docker and Podman with the same credentials. In this process, a registry whose
//! token service wants them (Basic or an identity token), and one whose token expires
//! mid-publish. A missing or wrong credential is one line naming the registry and the fix,
//! and the password appears nowhere in the output or in any file the helper leaves.

#[path = "support/checks.rs"]
mod checks;
mod common;
#[path = "support/fake_registry.rs"]
mod fake_registry;
#[path = "support/http_request.rs"]
mod http_request;
#[path = "support/tls_registry.rs"]
mod tls_registry;
#[path = "support/token_issuer.rs"]
mod token_issuer;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use checks::assert_one_line_error;
use fake_registry::{Registry, Request, Response, Store, respond};
use tls_registry::{Auth, Pki, Throttle, TlsRegistry};
use token_issuer::{Issuer, Signing, User};

const USER: &str = "tester";
const PASSWORD: &str = "pw-Zq9!never-printed";

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// `image publish` of a small file to `target`, HOME at `home`, CAs from `certs_dir`.
fn publish(home: &Path, target: &str, certs_dir: Option<&Path>) -> Command {
    publish_on(home, "scratch", target, certs_dir)
}

/// `image publish` of `home/app` on `base`.
fn publish_on(home: &Path, base: &str, target: &str, certs_dir: Option<&Path>) -> Command {
    let file = home.join("app");
    if !file.exists() {
        std::fs::write(&file, b"#!/bin/sh\necho app\n").unwrap();
    }
    let mut cmd = common::helper(home);
    // Temporary files land in HOME too, where the tests look for leaked secrets.
    std::fs::create_dir_all(home.join("tmp")).unwrap();
    cmd.env_remove("REGISTRY_AUTH_FILE")
        .env("TMPDIR", home.join("tmp"))
        .args(["image", "publish", "--no-cache", "--base", base])
        .arg("--file")
        .arg(format!("{}:/app:755", file.display()))
        .args(["--tag", target]);
    if let Some(dir) = certs_dir {
        cmd.arg("--certs-dir").arg(dir);
    }
    cmd
}

/// The secrets the tests hand out, as they could leak: plain, and as a Basic credential.
fn secrets() -> [String; 3] {
    [
        PASSWORD.to_string(),
        base64(&format!("{USER}:{PASSWORD}")),
        REFRESH_TOKEN.to_string(),
    ]
}

fn assert_secret_not_shown(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in secrets() {
            assert!(!text.contains(&secret), "a secret was printed: {text}");
        }
    }
}

/// Every file under `dir` with its bytes.
fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(path),
                Ok(t) if t.is_file() => {
                    out.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
                }
                _ => {}
            }
        }
    }
    out
}

/// No file the helper wrote or changed under `dir` (its HOME, TMPDIR and cache) holds a
/// secret: only the credential stores the test wrote (`before`) may.
fn assert_no_new_file_holds_a_secret(
    before: &std::collections::BTreeMap<PathBuf, Vec<u8>>,
    dir: &Path,
) {
    for (path, bytes) in files_under(dir) {
        if before.get(&path) == Some(&bytes) {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        for secret in secrets() {
            assert!(!text.contains(&secret), "{} holds a secret", path.display());
        }
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A `docker-credential-<name>` on a PATH of its own that knows `registry`, and says so for
/// nothing else (as a real helper does).
fn credential_helper(dir: &Path, name: &str, registry: &str) -> std::path::PathBuf {
    let bin = dir.join("helper-bin");
    let script = bin.join(format!("docker-credential-{name}"));
    write(
        &script,
        &format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\n\
             if [ \"$server\" = \"{registry}\" ]; then\n\
             printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\n\
             else echo 'credentials not found in native keychain'; exit 1; fi\n"
        ),
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    bin
}

fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Puts the credentials in one place, given the home directory and the command.
type Setup<'a> = Box<dyn Fn(&Path, &mut Command) + 'a>;

/// `USER`/`PASSWORD` for `addr` in each place Docker and Podman keep credentials.
fn credential_stores(addr: &str) -> Vec<(&'static str, Setup<'_>)> {
    let auths = format!(
        r#"{{"auths": {{"{addr}": {{"auth": "{}"}}}}}}"#,
        base64(&format!("{USER}:{PASSWORD}"))
    );
    let podman_auths = auths.clone();
    vec![
        (
            "docker-auths",
            Box::new(move |home, _| write(&home.join(".docker/config.json"), &auths)),
        ),
        (
            "docker-config-helper",
            Box::new(move |home, cmd| {
                let bin = credential_helper(home, "k8sdevtest", addr);
                write(
                    &home.join("elsewhere/config.json"),
                    &format!(r#"{{"credHelpers": {{"{addr}": "k8sdevtest"}}}}"#),
                );
                cmd.env("DOCKER_CONFIG", home.join("elsewhere"))
                    .env("PATH", path_with(&bin));
            }),
        ),
        (
            "docker-creds-store",
            Box::new(move |home, cmd| {
                let bin = credential_helper(home, "k8sdevstore", addr);
                write(
                    &home.join(".docker/config.json"),
                    r#"{"auths": {}, "credsStore": "k8sdevstore"}"#,
                );
                cmd.env("PATH", path_with(&bin));
            }),
        ),
        (
            "podman-registry-auth-file",
            Box::new({
                let auths = podman_auths.clone();
                move |home, cmd| {
                    write(&home.join("podman-auth.json"), &auths);
                    cmd.env("REGISTRY_AUTH_FILE", home.join("podman-auth.json"));
                }
            }),
        ),
        (
            "podman-xdg-runtime-dir",
            Box::new(move |home, cmd| {
                write(&home.join("run/containers/auth.json"), &podman_auths);
                cmd.env("XDG_RUNTIME_DIR", home.join("run"));
            }),
        ),
    ]
}

/// Publish `<addr>/<case>:dev` once per case, each with the credentials only where `setup`
/// puts them; each must succeed, print no secret, leave none in a file, and be readable.
fn publish_each(registry: &TlsRegistry, cases: Vec<(&str, Setup)>) {
    for (case, setup) in cases {
        let home = tempdir();
        let mut cmd = publish(
            home.path(),
            &format!("{}/{case}:dev", registry.addr),
            Some(&registry.certs_dir),
        );
        setup(home.path(), &mut cmd);
        let before = files_under(home.path());
        let out = common::run(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{case}");
        assert_secret_not_shown(&out);
        assert_no_new_file_holds_a_secret(&before, home.path());
        assert_eq!(
            registry.get(&format!("/v2/{case}/manifests/dev"), USER, PASSWORD),
            200,
            "{case}: the image is there"
        );
    }
}

#[test]
fn a_tls_htpasswd_registry_takes_credentials_from_every_store() {
    if !tls_registry::available() {
        return;
    }
    let registry = TlsRegistry::start(USER, PASSWORD);
    publish_each(&registry, credential_stores(&registry.addr));
}

/// A TLS registry with token auth, its issuer on another port with a certificate from the
/// registry's CA (trusted only through the registry's `certs.d` directory, as Docker and
/// Podman trust it), `users` known to the issuer.
fn token_registry(signing: Signing, users: Vec<User>, level: &str) -> (TlsRegistry, Issuer) {
    let pki = Pki::new("registry");
    let issuer = Issuer::start(&pki.cert(), &pki.key(), signing, users);
    let registry = TlsRegistry::start_with(pki, Auth::Token(&issuer), level);
    (registry, issuer)
}

fn tester() -> User {
    let mut user = User::admin(USER, PASSWORD);
    user.refresh_token = Some(REFRESH_TOKEN.into());
    user
}

const REFRESH_TOKEN: &str = "refresh-Qx7-never-printed";

#[test]
fn a_token_registry_takes_credentials_from_every_store_and_an_identity_token() {
    if !tls_registry::available() {
        return;
    }
    let (registry, issuer) = token_registry(Signing::Es256Kid, vec![tester()], "warn");
    let addr = registry.addr.clone();
    assert!(
        !registry
            .certs_dir
            .join(issuer.realm[8..].split('/').next().unwrap())
            .exists(),
        "the realm's own host:port has no CA directory: the registry's covers it"
    );
    let mut cases = credential_stores(&addr);
    cases.push((
        "identity-token",
        Box::new(|home: &Path, _: &mut Command| {
            write(
                &home.join(".docker/config.json"),
                &format!(r#"{{"auths": {{"{addr}": {{"identitytoken": "{REFRESH_TOKEN}"}}}}}}"#),
            )
        }),
    ));
    publish_each(&registry, cases);
    let issued = issuer.issued();
    assert!(
        issued.iter().all(|t| t.refused.is_none()),
        "every request had good credentials: {issued:?}"
    );
    let by = |method: &str| {
        issued
            .iter()
            .filter(|t| t.method == method && t.account.as_deref() == Some(USER))
            .count()
    };
    assert!(by("GET") >= 5, "Basic on GET for the stores: {issued:?}");
    assert!(
        by("POST") >= 1,
        "the refresh grant for the identity token: {issued:?}"
    );
}

#[test]
fn missing_or_wrong_credentials_and_an_unknown_ca_are_one_line_errors() {
    if !tls_registry::available() {
        return;
    }
    let registry = TlsRegistry::start(USER, PASSWORD);
    let addr = &registry.addr;
    let home = tempdir();
    let target = format!("{addr}/app:dev");
    let attempt = || {
        common::run(&mut publish(
            home.path(),
            &target,
            Some(&registry.certs_dir),
        ))
    };

    let out = attempt();
    assert_one_line_error(
        &out,
        &[
            &format!("registry {addr} asks for credentials and none are configured for it"),
            &format!("{}/.docker/config.json", home.path().display()),
            &format!("log in: docker login {addr} (or podman login {addr})"),
        ],
    );

    write(
        &home.path().join(".docker/config.json"),
        &format!(
            r#"{{"auths": {{"{addr}": {{"username": "{USER}", "password": "wrong-{PASSWORD}"}}}}}}"#
        ),
    );
    let out = attempt();
    assert_one_line_error(
        &out,
        &[
            &format!(
                "registry {addr} refused the credentials from {}/.docker/config.json (HTTP 401",
                home.path().display()
            ),
            &format!("log in again: docker login {addr}"),
        ],
    );
    assert_secret_not_shown(&out);

    // A CA that did not sign the registry's certificate: the fix names where its CA goes.
    let other = tempdir();
    tls_registry::make_ca_and_cert(other.path(), "other");
    write(
        &other.path().join(format!("certs.d/{addr}/ca.crt")),
        &std::fs::read_to_string(other.path().join("ca.crt")).unwrap(),
    );
    let out = common::run(&mut publish(
        home.path(),
        &target,
        Some(&other.path().join("certs.d")),
    ));
    assert_one_line_error(
        &out,
        &[
            &format!("reaching registry {addr}: "),
            "UnknownIssuer",
            &format!(
                "put the registry's CA in {}/{addr}/ca.crt (or pass --certs-dir)",
                other.path().join("certs.d").display()
            ),
        ],
    );
    assert_eq!(
        registry.get("/v2/app/manifests/dev", USER, PASSWORD),
        404,
        "nothing pushed"
    );
}

/// A registry behind a token service that wants `USER`/`PASSWORD` (Basic) or the identity
/// token `refresh-1` (OAuth2 refresh grant); every token request is recorded.
fn token_service_registry(tokens: Arc<Mutex<Vec<Request>>>) -> Registry {
    Registry::start(Store::default(), move |addr, req| {
        if req.path.starts_with("/token") {
            tokens.lock().unwrap().push(req.clone());
            let basic = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
            let by_password = req.method == "GET"
                && req.headers.get("authorization") == Some(&basic)
                && req.path.contains(&format!("account={USER}"));
            let body = String::from_utf8_lossy(&req.body);
            let by_refresh = req.method == "POST"
                && body.contains("grant_type=refresh_token")
                && body.contains("refresh_token=refresh-1");
            if by_password || by_refresh {
                return Some(respond(200, &[], br#"{"access_token":"granted"}"#));
            }
            return Some(respond(
                401,
                &[],
                br#"{"errors":[{"code":"UNAUTHORIZED","message":"bad login"}]}"#,
            ));
        }
        if req.headers.get("authorization").map(String::as_str) == Some("Bearer granted") {
            return None;
        }
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="fake""#);
        Some(respond(401, &[("WWW-Authenticate", &challenge)], b"{}"))
    })
}

#[test]
fn a_token_service_gets_the_credentials_and_only_it_does() {
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let registry = token_service_registry(tokens.clone());
    let addr = registry.addr().to_string();
    let target = format!("{addr}/app:dev");
    for (case, entry, ok) in [
        (
            "password",
            format!(r#"{{"auth": "{}"}}"#, base64(&format!("{USER}:{PASSWORD}"))),
            true,
        ),
        (
            "identity token",
            r#"{"identitytoken": "refresh-1"}"#.to_string(),
            true,
        ),
        (
            "wrong password",
            format!(
                r#"{{"auth": "{}"}}"#,
                base64(&format!("{USER}:x{PASSWORD}"))
            ),
            false,
        ),
    ] {
        let home = tempdir();
        write(
            &home.path().join(".docker/config.json"),
            &format!(r#"{{"auths": {{"{addr}": {entry}}}}}"#),
        );
        let out = common::run(&mut publish(home.path(), &target, None));
        assert_secret_not_shown(&out);
        if ok {
            assert_eq!(out.status.code(), Some(0), "{case}");
        } else {
            assert_one_line_error(
                &out,
                &[
                    &format!(
                        "the token service http://{addr}/token of registry {addr} refused the credentials from"
                    ),
                    "HTTP 401 UNAUTHORIZED: bad login",
                    &format!("log in again: docker login {addr}"),
                ],
            );
        }
    }
    // Credentials went to the token service, never to the registry's API itself.
    let basic = format!("Basic {}", base64(&format!("{USER}:{PASSWORD}")));
    assert!(
        tokens
            .lock()
            .unwrap()
            .iter()
            .any(|r| r.headers.get("authorization") == Some(&basic))
    );
    assert!(
        registry
            .requests()
            .iter()
            .filter(|r| !r.path.starts_with("/token"))
            .all(|r| r
                .headers
                .get("authorization")
                .is_none_or(|a| a == "Bearer granted")),
        "the API saw only the token"
    );
    let home = tempdir();
    let out = common::run(&mut publish(home.path(), &target, None));
    assert_one_line_error(
        &out,
        &[&format!(
            "registry {addr} asks for credentials and none are configured"
        )],
    );
}

#[test]
fn a_token_that_expires_mid_publish_is_fetched_again() {
    // Tokens t1, t2, … in turn; the upload of the layer (a streamed body, which cannot be
    // replayed: the upload starts over) finds t1 expired.
    let state = Arc::new(Mutex::new((0u32, String::new(), false)));
    let registry = Registry::start(Store::default(), move |addr, req| -> Option<Response> {
        let mut st = state.lock().unwrap();
        if req.path.starts_with("/token") {
            st.0 += 1;
            st.1 = format!("t{}", st.0);
            return Some(respond(
                200,
                &[],
                format!(r#"{{"token":"{}"}}"#, st.1).as_bytes(),
            ));
        }
        let challenge = format!(r#"Bearer realm="http://{addr}/token",service="fake""#);
        let expire_now = req.method == "PUT"
            && req.path.contains("/blobs/uploads/")
            && req.body_len() > 100_000
            && !st.2;
        if expire_now {
            st.2 = true;
            st.1.clear();
        }
        let valid = !st.1.is_empty()
            && req.headers.get("authorization") == Some(&format!("Bearer {}", st.1));
        (!valid).then(|| respond(401, &[("WWW-Authenticate", &challenge)], b"{}"))
    });
    let home = tempdir();
    let mut cmd = publish(home.path(), &format!("{}/app:dev", registry.addr()), None);
    // Incompressible, so the layer is the large upload.
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(home.path().join("app"), noise).unwrap();
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(0));
    assert!(registry.manifest_pushed());
    assert!(
        registry
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.body_len() > 100_000)
            .count()
            == 2,
        "the layer went up twice: refused with t1, taken with t2"
    );
    let token_requests = registry
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/token"))
        .count();
    assert_eq!(
        token_requests, 2,
        "one token, then another after it expired"
    );
}

/// Random bytes (they do not compress, so a layer of them is as large as they are).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ seed;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn docker_config_for(home: &Path, addr: &str, user: &str, password: &str) {
    write(
        &home.join(".docker/config.json"),
        &format!(
            r#"{{"auths": {{"{addr}": {{"auth": "{}"}}}}}}"#,
            base64(&format!("{user}:{password}"))
        ),
    );
}

#[derive(serde::Deserialize)]
struct Published {
    bytes_uploaded: u64,
    bytes_skipped: u64,
}

#[test]
fn a_cross_repository_mount_takes_pull_on_the_source_and_push_on_the_target() {
    if !tls_registry::available() {
        return;
    }
    // RS256 with an x5c chain to the bundle's CA, the other way distribution finds the key.
    let limited = User {
        name: "limited".into(),
        password: "limited-pw".into(),
        refresh_token: None,
        grants: Vec::new(),
    }
    .may("base", &["pull"])
    .may("app", &["pull", "push"]);
    let outsider = User {
        name: "outsider".into(),
        password: "outsider-pw".into(),
        refresh_token: None,
        grants: Vec::new(),
    }
    .may("app", &["pull", "push"]);
    let (registry, issuer) =
        token_registry(Signing::Rs256X5c, vec![tester(), limited, outsider], "warn");
    let addr = registry.addr.clone();

    // The base, with a 200 KB layer, pushed by a user who may push anywhere.
    let admin = tempdir();
    docker_config_for(admin.path(), &addr, USER, PASSWORD);
    std::fs::write(admin.path().join("app"), noise(200_000, 1)).unwrap();
    let mut cmd = publish(
        admin.path(),
        &format!("{addr}/base:1"),
        Some(&registry.certs_dir),
    );
    assert_eq!(common::run(&mut cmd).status.code(), Some(0));

    let home = tempdir();
    docker_config_for(home.path(), &addr, "limited", "limited-pw");
    let app = |home: &Path| {
        let mut cmd = publish_on(
            home,
            &format!("{addr}/base:1"),
            &format!("{addr}/app:dev"),
            Some(&registry.certs_dir),
        );
        cmd.arg("--json");
        cmd
    };
    let out = common::run(&mut app(home.path()));
    assert_eq!(out.status.code(), Some(0));
    let report: Published = serde_json::from_str(common::stdout(&out).trim()).unwrap();
    assert!(
        report.bytes_skipped >= 200_000,
        "the base layer was mounted, not uploaded: {} skipped",
        report.bytes_skipped
    );
    assert!(report.bytes_uploaded < 200_000, "{}", report.bytes_uploaded);
    let issued: Vec<_> = issuer
        .issued()
        .into_iter()
        .filter(|t| t.account.as_deref() == Some("limited"))
        .collect();
    // The mount (POST …/app/blobs/uploads/?mount=…&from=base) needs pull on base and push on
    // app in one token: the token asked for both.
    let both = |t: &&token_issuer::Issued| {
        t.scopes.iter().any(|s| s == "repository:base:pull")
            && t.scopes.iter().any(|s| s == "repository:app:pull,push")
    };
    let mount = issued
        .iter()
        .find(both)
        .unwrap_or_else(|| panic!("no token asked for pull on base and push on app: {issued:?}"));
    let granted: std::collections::BTreeMap<_, _> = mount.granted.iter().cloned().collect();
    assert_eq!(granted["base"], vec!["pull"], "only pull on the source");
    assert_eq!(granted["app"], vec!["pull", "push"]);

    // A user who may not read the base: one line naming the registry, the scope and the fix.
    let home = tempdir();
    docker_config_for(home.path(), &addr, "outsider", "outsider-pw");
    let out = common::run(&mut app(home.path()));
    assert_one_line_error(
        &out,
        &[
            &format!("registry {addr} needs repository:base:pull"),
            "its token service granted less to the credentials from",
            "ask the registry's admin for that access",
        ],
    );
}

#[test]
fn a_real_token_that_expires_mid_publish_is_fetched_again() {
    if !tls_registry::available() {
        return;
    }
    let (registry, issuer) = token_registry(Signing::Es256Kid, vec![tester()], "info");
    // 12 MiB through a 4 MiB/s link take 3 s or more; the first token lives 2 s at most, so
    // the registry itself finds it expired before the manifest goes up.
    let throttle = Throttle::start(&registry.addr, 4 << 20);
    registry.trust_as(&throttle.addr);
    issuer.short_lived(&[2]);
    let home = tempdir();
    docker_config_for(home.path(), &throttle.addr, USER, PASSWORD);
    std::fs::write(home.path().join("app"), noise(12 << 20, 2)).unwrap();
    let mut cmd = publish(
        home.path(),
        &format!("{}/app:dev", throttle.addr),
        Some(&registry.certs_dir),
    );
    let out = common::run(&mut cmd);
    assert_eq!(out.status.code(), Some(0));
    let log = registry.log();
    assert!(
        log.contains("token not to be used after"),
        "the registry refused the expired token itself: {log}"
    );
    let issued = issuer.issued();
    assert!(
        issued.len() >= 2,
        "a second token after the first expired: {issued:?}"
    );
    assert_eq!(issued[0].lifetime_s, 2);
    assert!(
        issued[1].at - issued[0].at >= 2.0,
        "the second token came once the first had expired: {issued:?}"
    );
    assert_eq!(
        registry.get("/v2/app/manifests/dev", USER, PASSWORD),
        200,
        "published"
    );
}

#[test]
fn a_wrong_password_at_the_token_service_is_one_line_and_secret_free() {
    if !tls_registry::available() {
        return;
    }
    let (registry, issuer) = token_registry(Signing::Es256Kid, vec![tester()], "warn");
    let addr = registry.addr.clone();
    let home = tempdir();
    write(
        &home.path().join(".docker/config.json"),
        &format!(
            r#"{{"auths": {{"{addr}": {{"username": "{USER}", "password": "wrong-{PASSWORD}"}}}}}}"#
        ),
    );
    let before = files_under(home.path());
    let mut cmd = publish(
        home.path(),
        &format!("{addr}/app:dev"),
        Some(&registry.certs_dir),
    );
    let argv: Vec<String> = cmd.get_args().map(|a| a.to_string_lossy().into()).collect();
    let out = common::run(&mut cmd);
    assert_one_line_error(
        &out,
        &[
            &format!(
                "the token service {} of registry {addr} refused the credentials from {}",
                issuer.realm,
                home.path().join(".docker/config.json").display()
            ),
            "HTTP 401 UNAUTHORIZED: authentication required",
            &format!("log in again: docker login {addr} (or podman login {addr})"),
        ],
    );
    assert_secret_not_shown(&out);
    assert!(
        !argv.iter().any(|a| a.contains(PASSWORD)),
        "never on the command line: {argv:?}"
    );
    assert_no_new_file_holds_a_secret(&before, home.path());
    assert_eq!(
        issuer.issued()[0].refused.as_deref(),
        Some("bad credentials")
    );
}

/// A CA file an engine reads from a `certs.d` directory of its own, removed on drop.
struct TrustedBy(PathBuf);

impl TrustedBy {
    fn new(certs_d: &str, addr: &str, ca: &Path) -> TrustedBy {
        let dir = Path::new(certs_d).join(addr);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(ca, dir.join("ca.crt")).unwrap();
        TrustedBy(dir)
    }
}

impl Drop for TrustedBy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn docker_and_podman_pull_the_published_image_with_the_same_credentials() {
    if !tls_registry::available() {
        return;
    }
    let (Some(docker), Some(podman), Some(docker_certs), Some(podman_certs)) = (
        common::engine_var("K8S_DEV_TEST_DOCKER_HOST"),
        common::engine_var("K8S_DEV_TEST_PODMAN_HOST"),
        common::engine_var("K8S_DEV_TEST_DOCKER_CERTS_D"),
        common::engine_var("K8S_DEV_TEST_PODMAN_CERTS_D"),
    ) else {
        return;
    };
    let (registry, issuer) = token_registry(Signing::Es256Kid, vec![tester()], "warn");
    let addr = registry.addr.clone();
    let image = format!("{addr}/pulled:dev");
    let home = tempdir();
    // gzip: dockerd 20.10 cannot unpack zstd layers.
    let mut cmd = publish(home.path(), &image, Some(&registry.certs_dir));
    cmd.args([
        "--compression",
        "gzip",
        "--file",
        "/bin/busybox:/bin/busybox:755",
    ])
    .args([
        "--entrypoint",
        r#"["/bin/busybox","echo","pulled-with-credentials"]"#,
    ]);
    docker_config_for(home.path(), &addr, USER, PASSWORD);
    assert_eq!(common::run(&mut cmd).status.code(), Some(0));
    let config_dir = home.path().join(".docker");
    let config_dir = config_dir.to_str().unwrap();
    let auth_file = home.path().join(".docker/config.json");
    let auth_file = auth_file.to_str().unwrap();

    let _docker_trusts = TrustedBy::new(&docker_certs, &addr, &registry.ca);
    let empty = tempdir();
    let out = common::docker(
        &docker,
        &["--config", empty.path().to_str().unwrap(), "pull", &image],
    );
    assert!(!out.status.success(), "no credentials, no pull");
    let out = common::docker(&docker, &["--config", config_dir, "pull", &image]);
    assert!(
        out.status.success(),
        "docker pull with the helper's credentials"
    );
    let out = common::docker(&docker, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pulled-with-credentials"
    );
    let _ = common::docker(&docker, &["rmi", "-f", &image]);

    let _podman_trusts = TrustedBy::new(&podman_certs, &addr, &registry.ca);
    let out = common::podman(&podman, &["pull", "--authfile", auth_file, &image]);
    assert!(
        out.status.success(),
        "podman pull with the helper's credentials"
    );
    let out = common::podman(&podman, &["run", "--rm", "--network", "host", &image]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "pulled-with-credentials"
    );
    let _ = common::podman(&podman, &["rmi", "-f", &image]);

    // Both engines went through the token service with the user's credentials, for pull only.
    let issued = issuer.issued();
    for agent in ["docker/", "containers/"] {
        let token = issued
            .iter()
            .find(|t| t.user_agent.contains(agent) && t.account.as_deref() == Some(USER))
            .unwrap_or_else(|| panic!("no token for {agent}: {issued:?}"));
        assert_eq!(
            token.granted,
            vec![("pulled".to_string(), vec!["pull".to_string()])]
        );
    }
}
