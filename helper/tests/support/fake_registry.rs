// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A small HTTP/1.1 server for the publish tests, and an honest in-memory registry on top of
//! it that a test can make misbehave: answer some requests itself (wrong bytes for a digest,
//! a huge manifest, an upload `Location` on another host, a redirect) and leave the rest to
//! the registry. Every request is recorded with its headers and body, so a test can say what
//! the helper sent where. Threads end with the test process; nothing outlives it.

#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashMap;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::http_request;
pub use super::http_request::Request;

pub enum Body {
    Bytes(Vec<u8>),
    /// `len` bytes of `byte`, written in 64 KiB chunks until the client stops reading.
    /// `Content-Length` says `len` unless `close_delimited`, which sends no length and ends
    /// the body by closing the connection.
    Stream {
        byte: u8,
        len: u64,
        close_delimited: bool,
    },
}

pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

pub fn respond(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: Body::Bytes(body.to_vec()),
    }
}

pub type Handler = dyn Fn(&Request) -> Response + Send + Sync;

/// A minimal HTTP/1.1 server on 127.0.0.1 (a port from the OS) that records every request.
pub struct Fake {
    pub addr: String,
    log: Arc<Mutex<Vec<Request>>>,
    /// Body bytes written by [`Body::Stream`] responses, in total.
    streamed: Arc<AtomicU64>,
}

impl Fake {
    pub fn start(handler: Box<Handler>) -> Fake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let streamed = Arc::new(AtomicU64::new(0));
        let handler: Arc<Handler> = Arc::from(handler);
        let (thread_log, thread_streamed) = (log.clone(), streamed.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (log, streamed, handler) =
                    (thread_log.clone(), thread_streamed.clone(), handler.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &log, &streamed, &*handler);
                });
            }
        });
        Fake {
            addr,
            log,
            streamed,
        }
    }

    /// A server whose handler needs its own address (for absolute URLs in its answers).
    pub fn start_with_addr(
        handler: impl Fn(&str, &Request) -> Response + Send + Sync + 'static,
    ) -> Fake {
        let cell: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let inner = cell.clone();
        let fake = Fake::start(Box::new(move |req| {
            handler(inner.get().expect("address set"), req)
        }));
        cell.set(fake.addr.clone()).unwrap();
        fake
    }

    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    pub fn streamed_bytes(&self) -> u64 {
        self.streamed.load(Ordering::SeqCst)
    }
}

fn serve(
    stream: TcpStream,
    log: &Mutex<Vec<Request>>,
    streamed: &AtomicU64,
    handler: &Handler,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some(request) = http_request::read(&mut reader)? else {
            return Ok(());
        };
        let response = handler(&request);
        log.lock().unwrap().push(request.clone());
        let mut head = format!("HTTP/1.1 {} X\r\n", response.status);
        for (k, v) in &response.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        match &response.body {
            Body::Bytes(b) => head.push_str(&format!("Content-Length: {}\r\n\r\n", b.len())),
            Body::Stream {
                close_delimited: false,
                len,
                ..
            } => head.push_str(&format!("Content-Length: {len}\r\n\r\n")),
            Body::Stream { .. } => head.push_str("Connection: close\r\n\r\n"),
        }
        writer.write_all(head.as_bytes())?;
        if request.method == "HEAD" {
            continue;
        }
        match response.body {
            Body::Bytes(b) => writer.write_all(&b)?,
            Body::Stream {
                byte,
                len,
                close_delimited,
            } => {
                let chunk = vec![byte; 64 << 10];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    writer.write_all(&chunk[..n])?;
                    streamed.fetch_add(n as u64, Ordering::SeqCst);
                    left -= n as u64;
                }
                if close_delimited {
                    return Ok(());
                }
            }
        }
    }
}

pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What an honest registry holds: manifests by `repo` and reference (tag or digest), blobs
/// by digest (shared by every repository, as a mount would make them).
#[derive(Default)]
pub struct Store {
    pub manifests: HashMap<(String, String), (String, Vec<u8>)>,
    pub blobs: HashMap<String, Vec<u8>>,
    uploads: u64,
}

impl Store {
    /// Store a manifest under its digest and, when given, a tag.
    pub fn put_manifest(
        &mut self,
        repo: &str,
        tag: Option<&str>,
        media_type: &str,
        bytes: &[u8],
    ) -> String {
        let digest = sha256(bytes);
        let value = (media_type.to_string(), bytes.to_vec());
        self.manifests
            .insert((repo.to_string(), digest.clone()), value.clone());
        if let Some(tag) = tag {
            self.manifests
                .insert((repo.to_string(), tag.to_string()), value);
        }
        digest
    }

    pub fn put_blob(&mut self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        self.blobs.insert(digest.clone(), bytes.to_vec());
        digest
    }

    /// Answer `req` as a registry that takes any upload and checks nothing: the helper must do
    /// its own checking.
    pub fn handle(&mut self, req: &Request) -> Response {
        let not_found = || {
            respond(
                404,
                &[("Content-Type", "application/json")],
                br#"{"errors":[{"code":"NOT_FOUND","message":"not here"}]}"#,
            )
        };
        let path = req.path.split('?').next().unwrap_or("");
        if path == "/v2/" {
            return respond(200, &[], b"{}");
        }
        let Some(rest) = path.strip_prefix("/v2/") else {
            return not_found();
        };
        if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
            let key = (repo.to_string(), reference.to_string());
            return match req.method.as_str() {
                "PUT" => {
                    let media_type = req.headers.get("content-type").cloned().unwrap_or_default();
                    let digest = sha256(&req.body);
                    let value = (media_type, req.body.clone());
                    self.manifests
                        .insert((repo.to_string(), digest.clone()), value.clone());
                    self.manifests.insert(key, value);
                    respond(201, &[("Docker-Content-Digest", &digest)], b"")
                }
                _ => match self.manifests.get(&key) {
                    Some((media_type, bytes)) => respond(
                        200,
                        &[
                            ("Content-Type", media_type),
                            ("Docker-Content-Digest", &sha256(bytes)),
                        ],
                        bytes,
                    ),
                    None => not_found(),
                },
            };
        }
        if let Some((_, digest)) = rest.rsplit_once("/blobs/")
            && digest.starts_with("sha256:")
        {
            return match self.blobs.get(digest) {
                Some(bytes) => respond(200, &[("Content-Type", "application/octet-stream")], bytes),
                None => not_found(),
            };
        }
        if let Some(repo) = rest.strip_suffix("/blobs/uploads/")
            && req.method == "POST"
        {
            self.uploads += 1;
            let location = format!("/v2/{repo}/blobs/uploads/session-{}", self.uploads);
            return respond(202, &[("Location", &location)], b"");
        }
        if rest.contains("/blobs/uploads/session-") && req.method == "PUT" {
            let digest = req
                .path
                .split_once("digest=")
                .map(|(_, d)| d.split('&').next().unwrap_or("").replace("%3A", ":"))
                .unwrap_or_default();
            self.blobs.insert(digest, req.body.clone());
            return respond(201, &[], b"");
        }
        not_found()
    }
}

/// A [`Store`] served by a [`Fake`]; `misbehave` answers first when it returns `Some`.
pub struct Registry {
    pub fake: Fake,
    pub store: Arc<Mutex<Store>>,
}

impl Registry {
    pub fn start(
        store: Store,
        misbehave: impl Fn(&str, &Request) -> Option<Response> + Send + Sync + 'static,
    ) -> Registry {
        let store = Arc::new(Mutex::new(store));
        let inner = store.clone();
        let fake = Fake::start_with_addr(move |addr, req| {
            misbehave(addr, req).unwrap_or_else(|| inner.lock().unwrap().handle(req))
        });
        Registry { fake, store }
    }

    pub fn addr(&self) -> &str {
        &self.fake.addr
    }

    pub fn requests(&self) -> Vec<Request> {
        self.fake.requests()
    }

    /// Whether any manifest was pushed (the last step of a publish).
    pub fn manifest_pushed(&self) -> bool {
        self.requests()
            .iter()
            .any(|r| r.method == "PUT" && r.path.contains("/manifests/"))
    }
}
