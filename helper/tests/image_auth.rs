// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `image publish` to registries that want credentials: a real `docker-registry` behind TLS
//! (a CA the test makes, trusted through a `certs.d` directory) and htpasswd, with the
//! credentials in each place Docker and Podman keep them; and, in this process, a registry
//! whose token service wants them (Basic or an identity token), and one whose token expires
//! mid-publish. A missing or wrong credential is one line naming the registry and the fix,
//! and the password appears nowhere in the output.

#[path = "support/checks.rs"]
mod checks;
mod common;
#[path = "support/fake_registry.rs"]
mod fake_registry;
#[path = "support/tls_registry.rs"]
mod tls_registry;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use checks::assert_one_line_error;
use fake_registry::{Registry, Request, Response, Store, respond};
use tls_registry::TlsRegistry;

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
    let file = home.join("app");
    std::fs::write(&file, b"#!/bin/sh\necho app\n").unwrap();
    let mut cmd = common::helper(home);
    cmd.env_remove("REGISTRY_AUTH_FILE")
        .args(["image", "publish", "--no-cache", "--base", "scratch"])
        .arg("--file")
        .arg(format!("{}:/app:755", file.display()))
        .args(["--tag", target]);
    if let Some(dir) = certs_dir {
        cmd.arg("--certs-dir").arg(dir);
    }
    cmd
}

fn assert_secret_not_shown(out: &Output) {
    for stream in [&out.stdout, &out.stderr] {
        let text = String::from_utf8_lossy(stream);
        assert!(!text.contains(PASSWORD), "the password was printed: {text}");
        assert!(!text.contains(&base64(&format!("{USER}:{PASSWORD}"))));
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

#[test]
fn a_tls_htpasswd_registry_takes_credentials_from_every_store() {
    if !tls_registry::available() {
        return;
    }
    let registry = TlsRegistry::start(USER, PASSWORD);
    let addr = registry.addr.clone();
    let auths = format!(
        r#"{{"auths": {{"{addr}": {{"auth": "{}"}}}}}}"#,
        base64(&format!("{USER}:{PASSWORD}"))
    );
    /// Puts the credentials in one place, given the home directory and the command.
    type Setup<'a> = Box<dyn Fn(&Path, &mut Command) + 'a>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "docker-auths",
            Box::new(|home, _| write(&home.join(".docker/config.json"), &auths)),
        ),
        (
            "docker-config-helper",
            Box::new(|home, cmd| {
                let bin = credential_helper(home, "k8sdevtest", &addr);
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
            Box::new(|home, cmd| {
                let bin = credential_helper(home, "k8sdevstore", &addr);
                write(
                    &home.join(".docker/config.json"),
                    r#"{"auths": {}, "credsStore": "k8sdevstore"}"#,
                );
                cmd.env("PATH", path_with(&bin));
            }),
        ),
        (
            "podman-registry-auth-file",
            Box::new(|home, cmd| {
                write(&home.join("podman-auth.json"), &auths);
                cmd.env("REGISTRY_AUTH_FILE", home.join("podman-auth.json"));
            }),
        ),
        (
            "podman-xdg-runtime-dir",
            Box::new(|home, cmd| {
                write(&home.join("run/containers/auth.json"), &auths);
                cmd.env("XDG_RUNTIME_DIR", home.join("run"));
            }),
        ),
    ];
    for (case, setup) in cases {
        let home = tempdir();
        let mut cmd = publish(
            home.path(),
            &format!("{addr}/{case}:dev"),
            Some(&registry.certs_dir),
        );
        setup(home.path(), &mut cmd);
        let out = common::run(&mut cmd);
        assert_eq!(out.status.code(), Some(0), "{case}");
        assert_secret_not_shown(&out);
        assert_eq!(
            registry.get(&format!("/v2/{case}/manifests/dev"), USER, PASSWORD),
            200,
            "{case}: the image is there"
        );
    }
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
