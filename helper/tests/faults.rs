// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Fault injection against the real binary: the helper killed while it rewrites a kubeconfig,
//! the container engine hanging and then dying while `wait engine` polls it, and the registry
//! killed part-way through `image publish`. Each test states the promise it checks; none needs
//! a test-only code path in the helper.
//!
//! Randomised parts print their seed; `K8S_DEV_FAULTS_SEED=N` replays a run.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{helper, run, stderr, stdout};
use k8s_dev_helper::kubeconfig::{self, Input, MergeOptions, doc};

// --- shared bits ------------------------------------------------------------------------------

/// xorshift64*: enough randomness to spread kill points, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn from_env(test: &str) -> Rng {
        let seed = std::env::var("K8S_DEV_FAULTS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            })
            | 1;
        eprintln!("{test}: seed {seed} (replay with K8S_DEV_FAULTS_SEED={seed})");
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
}

fn sigkill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Wait for `child`, killing it (and failing) if it is still running after `limit`: the bound
/// a hung helper would break. Not a speed assertion: the limit is many times the expected time.
fn wait_bounded(child: &mut Child, limit: Duration, what: &str) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            sigkill(child);
            panic!("{what} still running after {limit:?}: not bounded");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A gate like `common::engine_var` for a program the test runs itself.
fn program(name: &str) -> Option<PathBuf> {
    match which::which(name) {
        Ok(path) => Some(path),
        Err(_) => {
            let reason =
                format!("{name} is not on PATH (Debian package of tests/support/engines.sh)");
            assert!(!common::no_skip(), "K8S_DEV_TEST_NO_SKIP=1 but {reason}");
            eprintln!("SKIP: {reason}");
            None
        }
    }
}

// --- kubeconfig: SIGKILL while writing -------------------------------------------------------

/// A kubeconfig with `n` clusters, users and contexts, each user carrying certificate-sized
/// data, so a rewrite takes long enough (MBs written and fsynced) to be killed inside.
fn big_kubeconfig(n: usize) -> String {
    let mut text = String::from("apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- name: c{i}\n  cluster:\n    server: https://10.0.{}.{}:6443\n",
            i / 250,
            i % 250
        ));
    }
    text.push_str("users:\n");
    let blob: String = (0..1500)
        .map(|j| char::from(b'A' + (j % 26) as u8))
        .collect();
    for i in 0..n {
        text.push_str(&format!(
            "- name: u{i}\n  user:\n    client-certificate-data: {blob}{i}\n    client-key-data: {blob}{i}\n"
        ));
    }
    text.push_str("contexts:\n");
    for i in 0..n {
        text.push_str(&format!(
            "- name: ctx{i}\n  context: {{cluster: c{i}, user: u{i}}}\n"
        ));
    }
    text.push_str("current-context: ctx0\n");
    text
}

/// The k3d-shaped kubeconfig merged in round `round`: a recreated cluster replaces its entries
/// (new server, new credentials), so every round changes the target.
fn round_kubeconfig(round: u64) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: k3d-dev\n  cluster: {{server: 'https://127.0.0.1:{port}'}}\n\
         users:\n- name: admin@k3d-dev\n  user: {{client-certificate-data: Q0VSVC0{round}, client-key-data: S0VZLQ{round}}}\n\
         contexts:\n- name: k3d-dev\n  context: {{cluster: k3d-dev, user: admin@k3d-dev}}\ncurrent-context: k3d-dev\n",
        port = 6000 + round % 1000
    )
}

/// Hidden temp files the writer creates next to `target` (`.config.<pid>.<n>.tmp`), and the
/// backup's (`.config.bak.<pid>.<n>.tmp`); not those of kubectl's lock (`.config.lock.…`),
/// which hold no kubeconfig.
fn temp_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut main = Vec::new();
    let mut backup = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(".config.lock.") {
            continue;
        }
        if name.starts_with(".config.bak.") && name.ends_with(".tmp") {
            backup.push(entry.path());
        } else if name.starts_with(".config.") && name.ends_with(".tmp") {
            main.push(entry.path());
        }
    }
    (main, backup)
}

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// A random point of the whole run (parse, lock, backup, write, rename).
    Anywhere,
    /// As soon as the temp file of the new kubeconfig exists, plus a few random microseconds:
    /// inside the write/fsync/rename window.
    MainTemp,
    /// As soon as the backup's temp file exists.
    BackupTemp,
}

#[test]
fn sigkill_during_merge_leaves_the_old_or_the_new_kubeconfig() {
    let mut rng = Rng::from_env("sigkill_during_merge");
    let home = tempfile::tempdir().unwrap();
    let kube = home.path().join(".kube");
    fs::create_dir(&kube).unwrap();
    fs::set_permissions(&kube, fs::Permissions::from_mode(0o700)).unwrap();
    let target = kube.join("config");
    fs::write(&target, big_kubeconfig(350)).unwrap();
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).unwrap();
    let new = home.path().join("new.yaml");
    let merge = |new: &Path| {
        let mut cmd = helper(home.path());
        cmd.args(["kubeconfig", "merge", "--set-current", "--from"])
            .arg(new)
            .arg("--into")
            .arg(&target)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };

    // How long one uninterrupted merge takes, to spread the `Anywhere` kills over it.
    fs::write(&new, round_kubeconfig(0)).unwrap();
    let start = Instant::now();
    assert!(merge(&new).status().unwrap().success());
    let full = start.elapsed();
    eprintln!(
        "one merge into a {} KiB kubeconfig takes {full:?} (measured, not asserted)",
        fs::metadata(&target).unwrap().len() / 1024
    );

    let rounds: u64 = 60;
    let (mut kept_old, mut got_new, mut in_window) = (0, 0, 0);
    for round in 1..=rounds {
        let old = fs::read_to_string(&target).unwrap();
        let incoming = round_kubeconfig(round);
        let (expected_new, _) =
            kubeconfig::merge(&old, &incoming, MergeOptions { set_current: true }).unwrap();
        fs::write(&new, &incoming).unwrap();
        let kill_at = match round % 3 {
            0 => KillAt::Anywhere,
            1 => KillAt::MainTemp,
            _ => KillAt::BackupTemp,
        };
        let (old_temps, old_bak_temps) = temp_files(&kube);
        let mut child = merge(&new).spawn().unwrap();
        match kill_at {
            KillAt::Anywhere => {
                std::thread::sleep(Duration::from_micros(
                    rng.below(full.as_micros() as u64 + 1),
                ));
            }
            KillAt::MainTemp | KillAt::BackupTemp => loop {
                let (temps, bak_temps) = temp_files(&kube);
                let appeared = match kill_at {
                    KillAt::MainTemp => temps.len() > old_temps.len(),
                    _ => bak_temps.len() > old_bak_temps.len(),
                };
                if appeared {
                    let spin = Instant::now();
                    let micros = rng.below(3000);
                    while spin.elapsed() < Duration::from_micros(micros) {}
                    break;
                }
                if child.try_wait().unwrap().is_some() {
                    break;
                }
            },
        }
        sigkill(&mut child);

        let now = fs::read_to_string(&target).unwrap();
        doc::parse(&now, Input::Target).unwrap_or_else(|err| {
            panic!("round {round} ({kill_at:?}): target no longer parses: {err}")
        });
        if now == old {
            kept_old += 1;
            if matches!(kill_at, KillAt::MainTemp) && temp_files(&kube).0.len() > old_temps.len() {
                in_window += 1;
            }
        } else if now == expected_new {
            got_new += 1;
        } else {
            panic!(
                "round {round} ({kill_at:?}): target is neither the old nor the new content ({} bytes, old {}, new {})",
                now.len(),
                old.len(),
                expected_new.len()
            );
        }
        assert_eq!(
            fs::metadata(&target).unwrap().permissions().mode() & 0o777,
            0o600,
            "round {round}: target mode"
        );
        let backup = kube.join("config.bak");
        if backup.exists() {
            let text = fs::read_to_string(&backup).unwrap();
            doc::parse(&text, Input::Target)
                .unwrap_or_else(|err| panic!("round {round}: config.bak does not parse: {err}"));
        }
        for temp in temp_files(&kube).0.iter().chain(&temp_files(&kube).1) {
            assert_eq!(
                fs::metadata(temp).unwrap().permissions().mode() & 0o777,
                0o600,
                "a temp file left by a kill holds credentials: it must be private"
            );
        }
    }
    eprintln!(
        "{rounds} kills: {kept_old} left the old kubeconfig ({in_window} inside the write of the temp file), {got_new} the new one"
    );
    assert!(
        in_window > 0,
        "no kill landed between creating the temp file and the rename; the test proved nothing"
    );

    // After all that (kills while kubectl's lock was held included: the next merge takes over
    // a dead helper's lock), a clean merge still works and leaves no lock behind, neither its
    // own nor kubectl's, which would make every `kubectl config` fail.
    fs::write(&new, round_kubeconfig(rounds + 1)).unwrap();
    let out = run(merge(&new).stderr(Stdio::piped()));
    assert_eq!(out.status.code(), Some(0));
    assert!(!kube.join(".config.k8s-dev-helper.lock").exists());
    assert!(!kube.join("config.lock").exists());
    let text = fs::read_to_string(&target).unwrap();
    let root = doc::parse(&text, Input::Target).unwrap();
    assert_eq!(root["current-context"], "k3d-dev");
    assert_eq!(root["contexts"].as_array().unwrap().len(), 351);
}

// --- engine: hangs, then dies, during `wait engine` ------------------------------------------

/// Spawn `wait engine` against `socket` with stderr piped; lines arrive on the receiver.
fn spawn_wait_engine(
    home: &Path,
    socket: &Path,
    timeout: &str,
) -> (Child, std::sync::mpsc::Receiver<String>) {
    let mut child = helper(home)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args(["wait", "engine", "--timeout", timeout])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

fn collect(rx: &std::sync::mpsc::Receiver<String>) -> String {
    let mut text = String::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[test]
fn wait_engine_on_a_hung_engine_is_bounded_and_names_the_wait() {
    // An engine that accepts connections and never answers (a stopped dockerd looks so).
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("hung.sock");
    let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            keep.lock().unwrap().push(stream);
        }
    });
    let (mut child, rx) = spawn_wait_engine(dir.path(), &socket, "2s");
    let status = wait_bounded(&mut child, Duration::from_secs(30), "wait engine");
    let err = collect(&rx);
    eprintln!("{err}");
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.starts_with("waiting up to 2s for container engine… ("),
        "{err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: timed out after 2s waiting for container engine: "),
        "{err}"
    );
    assert!(last.contains("no answer to /_ping within 1s"), "{err}");
}

/// A private Podman API service on `socket`, with its own storage so nothing it does touches
/// the shared test engines.
fn podman_service(podman: &Path, dir: &Path, socket: &Path) -> Child {
    Command::new(podman)
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("runroot"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        // vfs mounts nothing (overlay would leave a mount under the tempdir).
        .args(["--storage-driver", "vfs"])
        .args(["system", "service", "--time=0"])
        .arg(format!("unix://{}", socket.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting podman system service")
}

#[test]
fn wait_engine_sees_a_real_engine_hang_then_die_and_names_the_last_reason() {
    // Podman's service is one process we own by PID: SIGSTOP makes it hang with its socket
    // still accepting, SIGKILL then leaves a stale socket file, as a crashed engine does.
    if common::engine_var("K8S_DEV_TEST_PODMAN_HOST").is_none() {
        return;
    }
    let Some(podman) = program("podman") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("podman.sock");
    let mut service = podman_service(&podman, dir.path(), &socket);
    let out = run(helper(dir.path())
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .args(["wait", "engine", "--timeout", "60s"]));
    if out.status.code() != Some(0) {
        sigkill(&mut service);
        panic!("the private podman service never answered");
    }

    let pid = service.id() as libc::pid_t;
    // SAFETY: signalling our own child by its PID.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let (mut child, rx) = spawn_wait_engine(dir.path(), &socket, "6s");
    let first = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("wait engine said nothing");
    let mut err = format!("{first}\n");
    assert!(
        first.starts_with("waiting up to 6s for container engine… (")
            && first.contains("no answer to /_ping within 1s"),
        "{first}"
    );
    sigkill(&mut service);
    let status = wait_bounded(&mut child, Duration::from_secs(60), "wait engine");
    err.push_str(&collect(&rx));
    eprintln!("{err}");
    assert_eq!(status.code(), Some(3), "{err}");
    assert!(
        err.contains("still waiting for container engine after "),
        "the change of reason is reported: {err}"
    );
    let last = err.lines().last().unwrap();
    assert!(
        last.starts_with("error: timed out after 6s waiting for container engine: ")
            && last.contains("stale socket"),
        "{err}"
    );
}

// --- registry: killed part-way through a publish ---------------------------------------------

/// A Distribution registry process on 127.0.0.1:`port` storing into `data`.
struct Registry {
    child: Child,
    port: u16,
}

impl Registry {
    fn start(bin: &Path, dir: &Path, data: &Path, port: u16) -> Registry {
        let conf = dir.join(format!("registry-{port}.yml"));
        fs::write(
            &conf,
            format!(
                "version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\nhttp: {{addr: '127.0.0.1:{port}'}}\n",
                data.display()
            ),
        )
        .unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting docker-registry");
        let mut registry = Registry { child, port };
        for _ in 0..200 {
            if http("HEAD", port, "/v2/", "").0 != 0 {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        sigkill(&mut registry.child);
        panic!("docker-registry on port {port} never answered");
    }

    fn kill(&mut self) {
        sigkill(&mut self.child);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One plain HTTP/1.0 request; (status, Docker-Content-Digest, body). Status 0: no answer.
fn http(method: &str, port: u16, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return (0, String::new(), Vec::new());
    };
    let request =
        format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: {accept}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return (0, String::new(), Vec::new());
    }
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let split = reply
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(reply.len(), |at| at + 4);
    let head = String::from_utf8_lossy(&reply[..split]).into_owned();
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let digest = head
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("docker-content-digest")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default();
    (status, digest, reply[split..].to_vec())
}

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// What `repo:tag` resolves to on the registry at `port`, after checking that every blob the
/// manifest names is there: a tag must never point at a half-pushed image.
fn resolve_complete(port: u16, repo: &str, tag: &str) -> Option<String> {
    let (status, digest, body) = http(
        "GET",
        port,
        &format!("/v2/{repo}/manifests/{tag}"),
        MANIFEST_TYPES,
    );
    if status == 404 {
        return None;
    }
    assert_eq!(status, 200, "GET manifest {repo}:{tag}");
    let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let mut blobs = vec![manifest["config"]["digest"].as_str().unwrap().to_owned()];
    for layer in manifest["layers"].as_array().unwrap() {
        blobs.push(layer["digest"].as_str().unwrap().to_owned());
    }
    for blob in blobs {
        let (status, _, _) = http("HEAD", port, &format!("/v2/{repo}/blobs/{blob}"), "*/*");
        assert_eq!(
            status, 200,
            "{repo}:{tag} names blob {blob}, which the registry does not have"
        );
    }
    Some(digest)
}

/// A TCP proxy in front of a registry that, once `cut_after` request bytes went through,
/// forwards no more, kills the registry, drops every connection and stops listening: the
/// registry stopped in the middle of whatever request carried that byte.
struct CuttingProxy {
    sent: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
    port: u16,
}

impl CuttingProxy {
    fn start(
        listener: TcpListener,
        upstream: u16,
        cut_after: u64,
        victim: Arc<Mutex<Registry>>,
    ) -> CuttingProxy {
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let cut = Arc::new(AtomicBool::new(false));
        let streams: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (sent2, cut2) = (sent.clone(), cut.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if cut2.load(Ordering::SeqCst) {
                    break; // the listener is dropped: new connections are refused
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                {
                    let mut all = streams.lock().unwrap();
                    all.push(client.try_clone().unwrap());
                    all.push(server.try_clone().unwrap());
                }
                // Server to client: plain copy.
                let (mut from, mut to) = (server.try_clone().unwrap(), client.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(Shutdown::Write);
                });
                // Client to server: counted, and cut at the limit.
                let (mut from, mut to) = (client, server);
                let (sent, cut, streams, victim) =
                    (sent2.clone(), cut2.clone(), streams.clone(), victim.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 16 * 1024];
                    loop {
                        let n = match from.read(&mut buf) {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        let before = sent.fetch_add(n as u64, Ordering::SeqCst);
                        let allowed = cut_after.saturating_sub(before).min(n as u64) as usize;
                        if to.write_all(&buf[..allowed]).is_err() {
                            break;
                        }
                        if allowed < n || before + n as u64 == cut_after {
                            if !cut.swap(true, Ordering::SeqCst) {
                                victim.lock().unwrap().kill();
                                for stream in streams.lock().unwrap().iter() {
                                    let _ = stream.shutdown(Shutdown::Both);
                                }
                                // Wake the accept loop so it drops the listener.
                                let _ = TcpStream::connect(("127.0.0.1", port));
                            }
                            break;
                        }
                    }
                    let _ = to.shutdown(Shutdown::Write);
                });
            }
        });
        CuttingProxy { sent, cut, port }
    }
}

fn publish(home: &Path, file: &Path, tags: &[String]) -> std::process::Output {
    let mut cmd = helper(home);
    cmd.env("K8S_DEV_CACHE_DIR", home.join("cache"))
        .args(["image", "publish", "--base", "scratch", "--file"])
        .arg(format!("{}:/data/blob:644", file.display()));
    for tag in tags {
        cmd.args(["--tag", tag]);
    }
    run(&mut cmd)
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

fn free_listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

#[test]
fn registry_killed_mid_publish_never_leaves_a_tag_on_a_half_pushed_image() {
    let Some(bin) = program("docker-registry") else {
        return;
    };
    let mut rng = Rng::from_env("registry_killed_mid_publish");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    fs::create_dir(&home).unwrap();
    // Incompressible content, so the layer upload is most of the bytes.
    let payload = |seed: u64| -> Vec<u8> {
        let mut r = Rng(seed | 1);
        (0..512 * 1024)
            .flat_map(|_| r.next().to_le_bytes())
            .take(2 << 20)
            .collect()
    };
    let (file_a, file_b) = (dir.path().join("a.bin"), dir.path().join("b.bin"));
    fs::write(&file_a, payload(rng.next())).unwrap();
    fs::write(&file_b, payload(rng.next())).unwrap();
    let repo = "faults/publish";

    // The starting point of every trial: a registry holding image A under both tags.
    let snapshot = dir.path().join("snapshot");
    let port_of = |l: &TcpListener| l.local_addr().unwrap().port();
    let tags_on = |port: u16| {
        [
            format!("127.0.0.1:{port}/{repo}:dev"),
            format!("127.0.0.1:{port}/{repo}:dev-content"),
        ]
    };
    let digest_a = {
        let probe = free_listener();
        let port = port_of(&probe);
        drop(probe);
        let _registry = Registry::start(&bin, dir.path(), &snapshot, port);
        let out = publish(&home, &file_a, &tags_on(port));
        assert_eq!(out.status.code(), Some(0));
        resolve_complete(port, repo, "dev").unwrap()
    };

    // One trial: a fresh copy of the snapshot behind a proxy that cuts after `cut` bytes.
    let trial = |name: &str, cut: u64| -> (std::process::Output, u64, u16, Registry, PathBuf) {
        let data = dir.path().join(name);
        copy_dir(&snapshot, &data);
        let upstream = {
            let l = free_listener();
            port_of(&l)
        };
        let registry = Arc::new(Mutex::new(Registry::start(
            &bin,
            dir.path(),
            &data,
            upstream,
        )));
        let listener = free_listener();
        let proxy = CuttingProxy::start(listener, upstream, cut, registry.clone());
        let out = publish(&home, &file_b, &tags_on(proxy.port));
        let sent = proxy.sent.load(Ordering::SeqCst);
        assert!(
            out.status.success() || proxy.cut.load(Ordering::SeqCst),
            "the publish failed without a cut: {}",
            stderr(&out)
        );
        // Restart the (possibly killed) registry on the same storage to inspect it.
        registry.lock().unwrap().kill();
        let inspect = Registry::start(&bin, dir.path(), &data, upstream);
        (out, sent, proxy.port, inspect, data)
    };

    // Every trial uses a fresh layer cache, so the bytes sent are the same each time.
    let fresh_cache = || {
        let _ = fs::remove_dir_all(home.join("cache"));
    };
    fresh_cache();
    let (out, total, _, inspect, _) = trial("full", u64::MAX);
    assert_eq!(out.status.code(), Some(0));
    let digest_b = resolve_complete(inspect.port, repo, "dev").unwrap();
    assert_ne!(digest_a, digest_b);
    drop(inspect);
    eprintln!("a full publish of image B sends {total} request bytes");

    // Cut points: spread over the whole publish, plus the last few hundred bytes, where the
    // manifests are sent.
    let mut cuts: BTreeSet<u64> = (1..8).map(|i| total * i / 8).collect();
    cuts.extend([1, 300, total - 1, total - 50, total - 400, total - 900]);
    cuts.extend((0..4).map(|_| 1 + rng.below(total - 1)));
    let (mut failed, mut moved) = (0, 0);
    for (i, cut) in cuts.into_iter().enumerate() {
        fresh_cache();
        let (out, _, proxy_port, inspect, _) = trial(&format!("cut-{i}"), cut);
        let err = stderr(&out);
        if out.status.code() == Some(0) {
            // The cut fell after the last byte the registry needed to answer.
            assert!(
                cut >= total - 900,
                "cut at {cut}/{total} and yet published: {err}"
            );
        } else {
            failed += 1;
            assert_eq!(out.status.code(), Some(1), "cut at {cut}/{total}: {err}");
            assert_eq!(
                err.lines().count(),
                1,
                "cut at {cut}/{total}: one line: {err}"
            );
            assert!(
                err.starts_with("error: ") && err.contains(&format!("127.0.0.1:{proxy_port}")),
                "cut at {cut}/{total}: the error names the registry: {err}"
            );
            assert_eq!(stdout(&out), "", "cut at {cut}/{total}: no digest printed");
        }
        for tag in ["dev", "dev-content"] {
            let now = resolve_complete(inspect.port, repo, tag);
            assert!(
                now.as_deref() == Some(digest_a.as_str())
                    || now.as_deref() == Some(digest_b.as_str()),
                "cut at {cut}/{total}: {tag} resolves to {now:?}, neither A ({digest_a}) nor B ({digest_b})"
            );
            if now.as_deref() == Some(digest_b.as_str()) {
                moved += 1;
            }
        }
        // With the registry back, the same publish completes (tags name the repository; the
        // registry's address in them is only where to connect).
        let out = publish(&home, &file_b, &tags_on(inspect.port));
        assert_eq!(
            out.status.code(),
            Some(0),
            "cut at {cut}/{total}: the rerun publishes"
        );
        for tag in ["dev", "dev-content"] {
            assert_eq!(
                resolve_complete(inspect.port, repo, tag).as_deref(),
                Some(digest_b.as_str()),
                "cut at {cut}/{total}: after the rerun {tag} is B"
            );
        }
    }
    eprintln!("{failed} publishes failed at their cut; {moved} tags had moved to B before it");
    assert!(failed >= 8, "most cuts must interrupt the publish");
}
