// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! For bench/publish.sh: the authenticated TLS registries of the publish tests, started the
//! same way (tests/support/tls_registry.rs and token_issuer.rs): `docker-registry` behind TLS
//! with token auth (ES256 JWTs from the test issuer over HTTPS), and one with htpasswd
//! (bcrypt), under one CA. Prints shell assignments, then `ready`, and serves until its stdin
//! closes; then stops both registries (its children) and exits.
//!
//! Output:
//!   TOKEN_REGISTRY=127.0.0.1:<port>     HTPASSWD_REGISTRY=127.0.0.1:<port>
//!   TOKEN_CERTS_DIR=<dir>               HTPASSWD_CERTS_DIR=<dir>   (certs.d-style, for --certs-dir)
//!   DOCKER_CONFIG=<dir>                 (a config.json with the login for both)
//!   ready

#[path = "../tests/support/http_request.rs"]
mod http_request;
#[path = "../tests/support/tls_registry.rs"]
mod tls_registry;
#[path = "../tests/support/token_issuer.rs"]
mod token_issuer;

use std::io::Read;

use base64::Engine;
use tls_registry::{Auth, Pki, TlsRegistry};
use token_issuer::{Issuer, Signing, User};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

fn main() {
    if !tls_registry::available() {
        std::process::exit(3);
    }
    let pki = Pki::new("bench registry");
    let issuer = Issuer::start(
        &pki.cert(),
        &pki.key(),
        Signing::Es256Kid,
        vec![User::admin(USER, PASSWORD)],
    );
    let token = TlsRegistry::start_with(pki.clone(), Auth::Token(&issuer), "warn");
    let htpasswd = TlsRegistry::start_with(
        pki,
        Auth::Htpasswd {
            user: USER,
            password: PASSWORD,
        },
        "warn",
    );
    let config = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        config.path().join("config.json"),
        format!(
            r#"{{"auths": {{"{}": {{"auth": "{auth}"}}, "{}": {{"auth": "{auth}"}}}}}}"#,
            token.addr, htpasswd.addr
        ),
    )
    .unwrap();
    println!("TOKEN_REGISTRY={}", token.addr);
    println!("TOKEN_CERTS_DIR={}", token.certs_dir.display());
    println!("HTPASSWD_REGISTRY={}", htpasswd.addr);
    println!("HTPASSWD_CERTS_DIR={}", htpasswd.certs_dir.display());
    println!("DOCKER_CONFIG={}", config.path().display());
    println!("ready");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}
