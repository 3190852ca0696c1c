// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The locks of a kubeconfig edit: kubectl's own `<file>.lock`, and the helper's sidecar.
//!
//! client-go (`tools/clientcmd`, `ModifyConfig`) creates `<file>.lock` with O_EXCL for every
//! file of the loading precedence, sorted, around each `kubectl config` write, and fails
//! (never waits) when one exists. Holding the same files keeps a `kubectl config` command and
//! the helper from interleaving their writes. kubectl still reads the files once before it
//! takes its lock, and deletes what that stale copy lacks; no lock of ours can change that.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Result, anyhow};

use super::store::{Found, alive, denied, not_writable, parent_dir, sibling_named, temp_path};

/// How long an edit waits for kubectl's `<file>.lock` to go away. kubectl holds it for the
/// milliseconds of one read-modify-write and never waits for it itself, so a lock that stays
/// for seconds was left behind by a crash: then the error names the file to delete.
pub(super) const KUBECTL_LOCK_WAIT: Duration = Duration::from_secs(5);

/// A wait for kubectl's lock shorter than this is normal contention and says nothing.
const ANNOUNCE_WAIT_AFTER: Duration = Duration::from_millis(250);

/// What the helper writes into a kubectl lock it creates, so that a later helper can tell a
/// lock left by a killed helper (its pid is gone) from kubectl's own (empty).
pub(super) const LOCK_OWNER: &str = "k8s-dev-helper pid ";

/// The locks of one edit, released (in reverse) when dropped.
pub(super) struct Locks {
    /// Index into the edit's files, and the locks taken for that file.
    held: Vec<(usize, FileLock)>,
}

impl Locks {
    /// Lock the files `wanted` (indexes into `found`) in the order of their paths, as kubectl
    /// does, so two editors never wait on each other crosswise. A file whose directory refuses
    /// the lock file is skipped unless `must` says it will be written: kubectl, running as
    /// this user, could not lock it either, so it cannot be writing it.
    pub(super) fn acquire(
        found: &[Found],
        wanted: &[usize],
        must: impl Fn(usize) -> bool,
        wait: Duration,
    ) -> Result<Locks> {
        let mut order = wanted.to_vec();
        order.sort_by(|&a, &b| found[a].given.as_os_str().cmp(found[b].given.as_os_str()));
        let mut locks = Locks { held: Vec::new() };
        for i in order {
            match FileLock::acquire(&found[i], wait) {
                Ok(lock) => locks.held.push((i, lock)),
                Err(LockError::Denied(_, _)) if !must(i) => {}
                Err(LockError::Denied(dir, err)) => return Err(not_writable(&dir, err)),
                Err(LockError::Failed(err)) => return Err(err),
            }
        }
        Ok(locks)
    }

    pub(super) fn covers(&self, index: usize) -> bool {
        self.held.iter().any(|(i, _)| *i == index)
    }
}

impl Drop for Locks {
    fn drop(&mut self) {
        while let Some(lock) = self.held.pop() {
            drop(lock);
        }
    }
}

enum LockError {
    /// The directory refused the lock file: not writable by this user.
    Denied(PathBuf, io::Error),
    Failed(anyhow::Error),
}

/// The locks on one kubeconfig file. Fields drop in order: kubectl's lock files go first, then
/// the sidecar is unlocked.
struct FileLock {
    _kubectl: Vec<KubectlLock>,
    _sidecar: Sidecar,
}

impl FileLock {
    fn acquire(found: &Found, wait: Duration) -> Result<FileLock, LockError> {
        let sidecar = Sidecar::acquire(&found.path)?;
        // kubectl names its lock after the path it was given; another kubectl may have been
        // given the file behind the symlink. Both names are locked.
        let mut names = vec![lock_name(&found.given)];
        if found.path != found.given {
            names.push(lock_name(&found.path));
        }
        let mut kubectl = Vec::new();
        for name in names {
            kubectl.push(KubectlLock::acquire(name, wait)?);
        }
        Ok(FileLock {
            _kubectl: kubectl,
            _sidecar: sidecar,
        })
    }
}

/// client-go's lock file for `path`: `<path>.lock`.
fn lock_name(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// An exclusive `flock` on a sidecar file next to a kubeconfig (`.<name>.k8s-dev-helper.lock`),
/// held until dropped. It queues concurrent helpers (kubectl's lock cannot: it is a bare
/// O_EXCL file, polled), and it is what makes removing a dead helper's kubectl lock safe: only
/// the holder of the sidecar may. A `flock` dies with its process, so a crashed helper never
/// blocks the next one. The holder deletes the sidecar before unlocking (no litter next to a
/// repo's kubeconfig); a waiter that then wins the lock on the deleted inode sees the path
/// changed and retries.
struct Sidecar {
    path: PathBuf,
    _file: File,
}

impl Drop for Sidecar {
    fn drop(&mut self) {
        // Unlink while still locked; the lock itself goes when `_file` closes.
        let _ = fs::remove_file(&self.path);
    }
}

impl Sidecar {
    fn acquire(path: &Path) -> Result<Sidecar, LockError> {
        let lock_path = sibling_named(path, ".", ".k8s-dev-helper.lock");
        let failed = |err: io::Error, what: &str| {
            LockError::Failed(
                anyhow::Error::new(err).context(format!("{what} {}", lock_path.display())),
            )
        };
        loop {
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&lock_path)
            {
                Ok(file) => file,
                Err(err) if denied(&err) => return Err(LockError::Denied(parent_dir(path), err)),
                Err(err) => return Err(failed(err, "creating")),
            };
            file.lock().map_err(|err| failed(err, "locking"))?;
            let held = file
                .metadata()
                .map_err(|err| failed(err, "inspecting"))?
                .ino();
            match fs::metadata(&lock_path) {
                Ok(meta) if meta.ino() == held => {
                    return Ok(Sidecar {
                        path: lock_path,
                        _file: file,
                    });
                }
                // The previous holder removed it (or replaced it) while we waited: start over.
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(failed(err, "inspecting")),
            }
        }
    }
}

/// kubectl's lock file (`<file>.lock`) created by this helper, removed when dropped if it is
/// still the one created.
struct KubectlLock {
    path: PathBuf,
    ino: u64,
}

impl Drop for KubectlLock {
    fn drop(&mut self) {
        if fs::symlink_metadata(&self.path).is_ok_and(|meta| meta.ino() == self.ino) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Who holds a kubectl lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Holder {
    /// It went away while we looked: try again.
    Gone,
    /// A helper whose process is gone (killed while it held the lock); the inode it left.
    DeadHelper(u64),
    /// A helper that is still running.
    Helper(i32),
    /// kubectl (its lock is empty) or a tool we do not know.
    Other,
}

impl KubectlLock {
    /// Create `name` exclusively, waiting up to `wait` while someone else holds it. Called with
    /// the sidecar held, so a lock left by a killed helper can be removed without racing
    /// another helper doing the same.
    fn acquire(name: PathBuf, wait: Duration) -> Result<KubectlLock, LockError> {
        let start = Instant::now();
        let mut announced = false;
        loop {
            match create_lock_file(&name) {
                Ok(ino) => return Ok(KubectlLock { path: name, ino }),
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
                Err(err) if denied(&err) => return Err(LockError::Denied(parent_dir(&name), err)),
                Err(err) => {
                    return Err(LockError::Failed(
                        anyhow::Error::new(err)
                            .context(format!("creating lock {}", name.display())),
                    ));
                }
            }
            match lock_holder(&name) {
                Holder::Gone => continue,
                Holder::DeadHelper(ino) => {
                    if fs::symlink_metadata(&name).is_ok_and(|meta| meta.ino() == ino) {
                        let _ = fs::remove_file(&name);
                    }
                    continue;
                }
                holder => {
                    let waited = start.elapsed();
                    if waited >= wait {
                        return Err(LockError::Failed(held_error(&name, &holder, wait)));
                    }
                    if !announced && waited >= ANNOUNCE_WAIT_AFTER {
                        eprintln!(
                            "waiting up to {} for {} (kubectl or another edit of this kubeconfig holds it)…",
                            humantime::format_duration(wait),
                            name.display()
                        );
                        announced = true;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
    }
}

/// Create kubectl's lock file holding this helper's pid, atomically: written to a temp file
/// and hard-linked into place, which fails with EEXIST as kubectl's O_EXCL does, so the lock
/// never exists without its owner line (a kill in between would leave an empty lock that
/// looks like kubectl's and blocks every edit until deleted). Where the filesystem has no hard
/// links, O_EXCL then the write, as kubectl. Returns the lock's inode.
fn create_lock_file(name: &Path) -> io::Result<u64> {
    let owner = format!("{LOCK_OWNER}{}\n", std::process::id());
    let tmp = temp_path(name);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    let ino = file.metadata()?.ino();
    let linked = file
        .write_all(owner.as_bytes())
        .and_then(|()| fs::hard_link(&tmp, name));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(ino),
        Err(err)
            if matches!(
                err.raw_os_error(),
                Some(libc::EPERM | libc::EOPNOTSUPP | libc::EXDEV | libc::EMLINK)
            ) =>
        {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(name)?;
            let ino = file.metadata()?.ino();
            if let Err(err) = file.write_all(owner.as_bytes()) {
                let _ = fs::remove_file(name);
                return Err(err);
            }
            Ok(ino)
        }
        Err(err) => Err(err),
    }
}

fn lock_holder(name: &Path) -> Holder {
    let mut file = match File::open(name) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Holder::Gone,
        Err(_) => return Holder::Other,
    };
    let Ok(ino) = file.metadata().map(|meta| meta.ino()) else {
        return Holder::Other;
    };
    let mut text = String::new();
    let _ = (&mut file).take(64).read_to_string(&mut text);
    match text
        .strip_prefix(LOCK_OWNER)
        .and_then(|rest| rest.trim().parse::<i32>().ok())
    {
        Some(pid) if !alive(pid) => Holder::DeadHelper(ino),
        Some(pid) => Holder::Helper(pid),
        None => Holder::Other,
    }
}

fn held_error(name: &Path, holder: &Holder, wait: Duration) -> anyhow::Error {
    let age = fs::symlink_metadata(name)
        .and_then(|meta| meta.modified())
        .ok()
        .and_then(|at| SystemTime::now().duration_since(at).ok())
        .map(|age| {
            format!(
                ", created {} ago",
                humantime::format_duration(Duration::from_secs(age.as_secs()))
            )
        })
        .unwrap_or_default();
    let who = match holder {
        Holder::Helper(pid) => format!("k8s-dev-helper pid {pid}, still running"),
        _ => "kubectl creates it for the moment of a write; one that stays was left by a crash"
            .to_owned(),
    };
    anyhow!(
        "kubeconfig is locked: {} still exists after {} ({who}{age}); fix: if no kubectl or k8s-dev-helper is editing this kubeconfig, delete {}",
        name.display(),
        humantime::format_duration(wait),
        name.display()
    )
}
