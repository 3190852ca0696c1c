// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Reading and writing kubeconfig files safely: this module decides which files and runs an
//! edit; [`super::lock`] holds the locks and [`super::write`] writes.
//!
//! - **Which files.** `--into FILE`, else the list in `$KUBECONFIG` as kubectl reads it, else
//!   `~/.kube/config` ([`Files`]). An edit writes where `kubectl config …` would: an entry back
//!   to the file that defines it, a new one to kubectl's default file ([`Files::default_index`]).
//! - **Only regular files.** A device (`KUBECONFIG=/dev/null`, a CI idiom), a FIFO, a socket or a
//!   directory is refused from its `lstat`, before anything opens it; symlinks are followed to
//!   the file they name, as kubectl does. Reads open non-blocking and check the type again.
//! - **Locks.** kubectl's own `<file>.lock` (client-go creates it with O_EXCL around every
//!   `kubectl config` write and fails when it exists), so kubectl's writes and the helper's
//!   never interleave; and a `flock` on a sidecar file, which queues helpers and makes taking
//!   over the lock of a killed helper safe.
//! - **Writes.** The previous content goes to `<file>.bak`, then the new content to a temp file
//!   that is fsynced and renamed over the file, and the directory is fsynced. A file a rename
//!   cannot replace faithfully (a bind mount, the devcontainer case; a file with other hard
//!   links; another user's file) is rewritten in place from that complete temp copy instead.
//!   An existing file keeps its owner and its owner's permission bits; group and other bits
//!   are dropped, since it now holds cluster credentials. A new file is 0600 in a 0700 directory.
//! - **Deletes** (a cluster's own kubeconfig, by `down`) take the same locks, remove only a
//!   regular file and its `.bak`, and empty a bind-mounted file in place instead ([`delete`]).

use std::ffi::CString;
use std::fs::{self, DirBuilder, OpenOptions};
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use super::lock::{KUBECTL_LOCK_WAIT, Locks};
use super::write::{is_mount_root, write};
use crate::env::Env;

/// Symlink hops followed before giving up, as the kernel's ELOOP limit.
const MAX_SYMLINKS: usize = 40;

/// The kubeconfig files an edit reads and writes, in kubectl's loading precedence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Files {
    paths: Vec<PathBuf>,
}

impl Files {
    /// One file, as `kubectl --kubeconfig FILE` uses it.
    pub fn one(path: impl Into<PathBuf>) -> Files {
        Files {
            paths: vec![path.into()],
        }
    }

    /// kubectl's files: the entries of `$KUBECONFIG` (empty ones skipped and repeats dropped,
    /// as client-go does), else `~/.kube/config`.
    pub fn from_env(env: &Env) -> Result<Files> {
        if let Some(files) = env.kubeconfig.as_deref().and_then(Files::from_list) {
            return Ok(files);
        }
        let Some(home) = &env.home else {
            bail!(
                "finding the default kubeconfig: no home directory; fix: set HOME or KUBECONFIG, or pass the file explicitly"
            );
        };
        Ok(Files::one(home.join(".kube").join("config")))
    }

    /// The files of a list as `$KUBECONFIG` holds them (`a:b`), empty entries skipped and
    /// repeats dropped; `None` when no entry is left.
    pub fn from_list(list: &str) -> Option<Files> {
        let mut paths: Vec<PathBuf> = Vec::new();
        for path in std::env::split_paths(list) {
            if !path.as_os_str().is_empty() && !paths.contains(&path) {
                paths.push(path);
            }
        }
        (!paths.is_empty()).then_some(Files { paths })
    }

    pub fn paths(&self) -> &[PathBuf] {
        &self.paths
    }

    /// Which file kubectl puts what no file defines yet (a new entry, `current-context`),
    /// given which files exist: the only one; else the first that exists; else the *last*
    /// (client-go's `PathOptions.GetDefaultFilename`, which every `kubectl config` verb uses).
    pub fn default_index(&self, exists: &[bool]) -> usize {
        if self.paths.len() == 1 {
            return 0;
        }
        exists
            .iter()
            .position(|&exists| exists)
            .unwrap_or(self.paths.len() - 1)
    }

    /// `FILE`, or `A:B` (as `$KUBECONFIG` lists them) for several files.
    pub fn display(&self) -> String {
        let names: Vec<String> = self.paths.iter().map(|p| p.display().to_string()).collect();
        names.join(":")
    }
}

/// A kubeconfig path as found on disk: a regular file, or nothing yet.
#[derive(Debug, Clone)]
pub struct Found {
    /// The path as given (`--into`, an entry of `$KUBECONFIG`); kubectl's lock is named after it.
    pub given: PathBuf,
    /// The file behind it, symlinks resolved: what is read, replaced and backed up.
    pub path: PathBuf,
    /// `None` when nothing is there yet.
    pub meta: Option<fs::Metadata>,
}

impl Found {
    pub fn exists(&self) -> bool {
        self.meta.is_some()
    }

    /// The path for messages: as given, and where it leads when that differs.
    pub fn shown(&self) -> String {
        shown(&self.given, &self.path)
    }

    fn same_file(&self, other: &Found) -> bool {
        match (&self.meta, &other.meta) {
            (Some(a), Some(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => self.path == other.path,
        }
    }
}

fn shown(given: &Path, path: &Path) -> String {
    if given == path {
        given.display().to_string()
    } else {
        format!("{} (a symlink to {})", given.display(), path.display())
    }
}

/// What `given` names, from `lstat` only: a regular file, nothing, or an error naming the fix
/// for anything else (nothing is opened, so a FIFO cannot hang and a device is not touched).
pub fn inspect(given: &Path) -> Result<Found> {
    let path = resolve(given)?;
    match fs::symlink_metadata(&path) {
        Ok(meta) if meta.file_type().is_file() => Ok(Found {
            given: given.to_path_buf(),
            path,
            meta: Some(meta),
        }),
        Ok(meta) => Err(not_a_file(given, &path, meta.file_type())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Found {
            given: given.to_path_buf(),
            path,
            meta: None,
        }),
        Err(err) => {
            Err(err).with_context(|| format!("inspecting kubeconfig {}", shown(given, &path)))
        }
    }
}

/// The error for a kubeconfig path that is not a regular file, by what it is.
pub(super) fn not_a_file(given: &Path, path: &Path, kind: fs::FileType) -> anyhow::Error {
    let shown = shown(given, path);
    if kind.is_dir() {
        return anyhow!(
            "kubeconfig {shown} is a directory; fix: point KUBECONFIG or the flag at a file inside it"
        );
    }
    let what = if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else if kind.is_fifo() {
        "a FIFO (named pipe)"
    } else if kind.is_socket() {
        "a socket"
    } else {
        "a special file"
    };
    anyhow!(
        "kubeconfig {shown} is {what}, not a regular file; fix: point KUBECONFIG or the flag at a regular file, or at a path that does not exist yet"
    )
}

/// Follow symlinks to the file a write must replace (renaming over the link itself would turn
/// a linked kubeconfig into a private copy). A dangling link resolves to its destination.
pub fn resolve(target: &Path) -> Result<PathBuf> {
    let mut path = target.to_path_buf();
    for _ in 0..MAX_SYMLINKS {
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&path)
                    .with_context(|| format!("reading symlink {}", path.display()))?;
                path = parent_dir(&path).join(link);
            }
            _ => return Ok(path),
        }
    }
    bail!(
        "resolving kubeconfig {}: too many levels of symlinks",
        target.display()
    )
}

/// The kubeconfig files as read, in kubectl's order, one entry per distinct file.
#[derive(Debug)]
pub struct View {
    pub files: Vec<Loaded>,
    /// The file new entries and `current-context` go to.
    pub default: usize,
}

/// One file of a [`View`].
#[derive(Debug)]
pub struct Loaded {
    pub found: Found,
    /// `None`: the file does not exist.
    pub text: Option<String>,
}

/// Every file of `files`, inspected (anything but a regular file is refused), one entry per
/// distinct file (a later path to the same file can never win over the first), and the index
/// of kubectl's default file among them.
fn inspect_all(files: &Files) -> Result<(Vec<Found>, usize)> {
    let all: Vec<Found> = files
        .paths()
        .iter()
        .map(|path| inspect(path))
        .collect::<Result<_>>()?;
    let exists: Vec<bool> = all.iter().map(Found::exists).collect();
    let default = all[files.default_index(&exists)].clone();
    let mut unique: Vec<Found> = Vec::new();
    for found in all {
        if !unique.iter().any(|seen| seen.same_file(&found)) {
            unique.push(found);
        }
    }
    let default = unique
        .iter()
        .position(|found| found.same_file(&default))
        .expect("the default file is one of the files");
    Ok((unique, default))
}

/// Read the kubeconfig files without locking them: a snapshot for `check` and `status`.
pub fn read_view(files: &Files) -> Result<View> {
    let (found, default) = inspect_all(files)?;
    let files = found
        .into_iter()
        .map(|found| {
            let text = read(&found)?;
            Ok(Loaded { found, text })
        })
        .collect::<Result<_>>()?;
    Ok(View { files, default })
}

/// Read a file [`inspect`] found, opened non-blocking and without following a symlink, and
/// its type checked again on the open file: a FIFO or link swapped in since cannot hang the
/// read or redirect it.
fn read(found: &Found) -> Result<Option<String>> {
    let context = || format!("reading kubeconfig {}", found.shown());
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(&found.path)
    {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(err) if err.raw_os_error() == Some(libc::ELOOP) => bail!(
            "kubeconfig {} became a symlink while it was read; fix: run the command again",
            found.shown()
        ),
        Err(err) => return Err(err).with_context(context),
    };
    let meta = file.metadata().with_context(context)?;
    if !meta.file_type().is_file() {
        return Err(not_a_file(&found.given, &found.path, meta.file_type()));
    }
    let mut text = String::new();
    (&file).read_to_string(&mut text).with_context(context)?;
    Ok(Some(text))
}

/// Whether an edit may create a missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create kubectl's default file (and its directory, 0700) when it is missing.
    Create,
    /// Create nothing: when no file exists the edit sees only missing files and nothing is
    /// written or locked.
    Skip,
}

/// One file an edit wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The regular file behind the path (symlinks resolved).
    pub path: PathBuf,
    /// The copy of the previous content, when there was one.
    pub backup: Option<PathBuf>,
    /// Why the file was rewritten in place rather than replaced (a bind mount, …), if it was.
    pub in_place: Option<&'static str>,
    /// What went wrong after the new content was in place (a directory that could not be
    /// synced): worth saying, not a failure.
    pub warnings: Vec<String>,
}

impl Written {
    /// What is worth telling the user about this write, one line each: a rewrite in place
    /// (`note: …`) and what went wrong after the content was in place (`warning: …`).
    pub fn notes(&self) -> Vec<String> {
        let in_place = self
            .in_place
            .map(|reason| format!("note: rewrote {} in place: {reason}", self.path.display()));
        in_place
            .into_iter()
            .chain(self.warnings.iter().map(|w| format!("warning: {w}")))
            .collect()
    }
}

/// Edit the kubeconfig `files` under kubectl's lock and the helper's.
///
/// `edit` receives the files as read and returns each one's new text (`None`: leave it); on
/// error nothing is written. Each changed file is first copied to `<file>.bak`, then written
/// (see the module doc). kubectl's default file is written last, so an interrupted edit of
/// several files leaves `current-context` on the old context rather than on a half-made one.
/// Returns the files written, in that order.
pub fn update<T>(
    files: &Files,
    missing: Missing,
    edit: impl FnOnce(&View) -> Result<(Vec<Option<String>>, T)>,
) -> Result<(T, Vec<Written>)> {
    update_waiting(files, missing, KUBECTL_LOCK_WAIT, edit)
}

fn update_waiting<T>(
    files: &Files,
    missing: Missing,
    wait: Duration,
    edit: impl FnOnce(&View) -> Result<(Vec<Option<String>>, T)>,
) -> Result<(T, Vec<Written>)> {
    let (mut found, mut default) = inspect_all(files)?;
    if missing == Missing::Skip && !found.iter().any(Found::exists) {
        let files = found
            .into_iter()
            .map(|found| Loaded { found, text: None })
            .collect();
        let (_, value) = edit(&View { files, default })?;
        return Ok((value, Vec::new()));
    }
    // The files to lock are known only from what exists; if that changes before every lock
    // is held (a file created meanwhile), start over with the new set.
    let mut attempts = 0;
    let locks = loop {
        if missing == Missing::Create && !found[default].exists() {
            create_private_dir(&parent_dir(&found[default].path))?;
        }
        let wanted: Vec<usize> = (0..found.len())
            .filter(|&i| found[i].exists() || (missing == Missing::Create && i == default))
            .collect();
        let must = |i: usize| missing == Missing::Create && i == default;
        let locks = Locks::acquire(&found, &wanted, must, wait)?;
        let (again, again_default) = inspect_all(files)?;
        let same = again.len() == found.len()
            && again_default == default
            && again
                .iter()
                .zip(&found)
                .all(|(a, b)| a.path == b.path && a.exists() == b.exists());
        found = again;
        default = again_default;
        if same {
            break locks;
        }
        drop(locks);
        attempts += 1;
        if attempts == 10 {
            bail!(
                "the kubeconfig files {} keep appearing and disappearing; fix: run the command again when nothing else edits them",
                files.display()
            );
        }
    };
    for (i, found) in found.iter().enumerate() {
        if locks.covers(i) {
            remove_orphaned_temps(&found.path);
            remove_orphaned_temps(&found.given);
        }
    }
    let loaded = found
        .into_iter()
        .map(|found| {
            let text = read(&found)?;
            Ok(Loaded { found, text })
        })
        .collect::<Result<Vec<_>>>()?;
    let view = View {
        files: loaded,
        default,
    };
    let (texts, value) = edit(&view)?;
    assert_eq!(texts.len(), view.files.len(), "one new text per file");
    let order = (0..view.files.len())
        .filter(|&i| i != view.default)
        .chain([view.default]);
    let mut written = Vec::new();
    for i in order {
        let file = &view.files[i];
        let Some(new) = texts[i]
            .as_deref()
            .filter(|new| file.text.as_deref() != Some(*new))
        else {
            continue;
        };
        if !locks.covers(i) {
            // Its directory refused the lock file, so it would refuse the backup and temp too.
            let err = io::Error::from(io::ErrorKind::PermissionDenied);
            return Err(not_writable(&parent_dir(&file.found.given), err));
        }
        written.push(write(&file.found, file.text.as_deref(), new)?);
    }
    drop(locks);
    Ok((value, written))
}

/// What [`delete`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// The files removed: the kubeconfig (symlinks resolved) and its `.bak`, those that existed.
    pub removed: Vec<PathBuf>,
    /// A file that could not be removed and was emptied in place instead (a bind mount), with
    /// why; it then holds a kubeconfig without entries.
    pub emptied: Option<(PathBuf, &'static str)>,
    /// What went wrong after the files were gone (a directory that could not be synced).
    pub warnings: Vec<String>,
}

/// Delete a kubeconfig file the kit owns (a cluster's own `~/.kube/k3d-<cluster>.yaml`) and its
/// `.bak`, under the same locks as an edit. Only a regular file is deleted (a device, FIFO or
/// directory there is refused, as for a write; a symlink leads to the file deleted). A
/// bind-mounted file, which cannot be unlinked, is emptied in place instead, so it holds no
/// credentials. Nothing there is a successful no-op, so `down` can run twice.
pub fn delete(given: &Path) -> Result<Deleted> {
    delete_waiting(given, KUBECTL_LOCK_WAIT)
}

fn delete_waiting(given: &Path, wait: Duration) -> Result<Deleted> {
    let context = || format!("deleting kubeconfig {}", given.display());
    let found = inspect(given).with_context(context)?;
    let backup = sibling(&found.path, ".bak");
    let mut deleted = Deleted::default();
    if !found.exists() && fs::symlink_metadata(&backup).is_err() {
        return Ok(deleted);
    }
    let locks =
        Locks::acquire(std::slice::from_ref(&found), &[0], |_| true, wait).with_context(context)?;
    // Under the lock, the file may be another one, or none.
    let found = inspect(given).with_context(context)?;
    remove_orphaned_temps(&found.path);
    if found.exists() {
        if is_mount_root(&found.path) {
            let old = read(&found).with_context(context)?;
            let empty = super::doc::emit(&super::doc::skeleton());
            let written = write(&found, old.as_deref(), &empty).with_context(context)?;
            deleted.emptied = Some((found.path.clone(), super::write::BIND_MOUNT));
            deleted.warnings.extend(written.warnings);
        } else {
            remove_file(&found.path).with_context(context)?;
            deleted.removed.push(found.path.clone());
        }
    }
    // After the file: its previous content goes last.
    match fs::remove_file(&backup) {
        Ok(()) => deleted.removed.push(backup),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => {
            return Err(err).with_context(|| format!("removing {}", backup.display()));
        }
    }
    drop(locks);
    if !deleted.removed.is_empty() {
        let dir = parent_dir(&found.path);
        if let Err(err) = super::write::sync_dir(&dir) {
            deleted.warnings.push(format!(
                "deleted {}, but syncing its directory {} failed ({err}); the files may be back after a crash of the machine",
                found.path.display(),
                dir.display()
            ));
        }
    }
    Ok(deleted)
}

/// Remove `path`, which [`inspect`] found to be a regular file: checked once more on the name
/// itself, so a directory or device swapped in since is refused rather than removed.
fn remove_file(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => {}
        Ok(meta) => return Err(not_a_file(path, path, meta.file_type())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(err) => return Err(err).with_context(|| format!("inspecting {}", path.display())),
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(err) if denied(&err) => Err(not_writable(&parent_dir(path), err)),
        Err(err) => Err(err).with_context(|| format!("removing {}", path.display())),
    }
}

/// Whether an edit could write `found`: the file itself (a file the user cannot write is an
/// error, never replaced behind its owner's back; a read-only mount is named as one), and the
/// directories of the file and of its lock (or the nearest existing ancestor of a directory
/// still to be created).
pub fn check_writable(found: &Found) -> Result<()> {
    if found.exists() {
        check_file_writable(found)?;
    }
    check_dir_writable(&found.path)?;
    if found.given != found.path {
        check_dir_writable(&found.given)?;
    }
    Ok(())
}

pub(super) fn check_file_writable(found: &Found) -> Result<()> {
    let Err(err) = access_writable(&found.path) else {
        return Ok(());
    };
    let shown = found.shown();
    match err.raw_os_error() {
        Some(libc::EROFS) if is_mount_root(&found.path) => bail!(
            "kubeconfig {shown} is a read-only mount; fix: mount it read-write, or point KUBECONFIG or the flag at another file"
        ),
        Some(libc::EROFS) => bail!(
            "kubeconfig {shown} is on a read-only file system; fix: point KUBECONFIG or the flag at a file on a writable one"
        ),
        Some(libc::EACCES | libc::EPERM) => {
            let (uid, mode) = found
                .meta
                .as_ref()
                .map_or((0, 0), |meta| (meta.uid(), meta.mode()));
            bail!(
                "kubeconfig {shown} is not writable by you (owner uid {uid}, mode {:04o}); fix: make it writable, or point KUBECONFIG or the flag at a file you own",
                mode & 0o7777
            )
        }
        _ => Err(err).with_context(|| format!("checking kubeconfig {shown}")),
    }
}

fn check_dir_writable(path: &Path) -> Result<()> {
    let mut dir = parent_dir(path);
    while !dir.exists() {
        match dir.parent() {
            Some(up) if !up.as_os_str().is_empty() => dir = up.to_path_buf(),
            _ => break,
        }
    }
    access_writable(&dir).map_err(|err| not_writable(&dir, err))
}

fn access_writable(path: &Path) -> io::Result<()> {
    let c_path = CString::new(path.as_os_str().as_bytes())
        .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
    // SAFETY: c_path is a valid NUL-terminated path; access has no other preconditions.
    if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

pub(super) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `<dir>/<prefix><name><suffix>` next to `path`.
pub(super) fn sibling_named(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    parent_dir(path).join(format!("{prefix}{name}{suffix}"))
}

pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    sibling_named(path, "", suffix)
}

/// A fresh hidden name next to `path`: `.<name>.<pid>.<n>.tmp`.
pub(super) fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    sibling_named(
        path,
        ".",
        &format!(
            ".{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    )
}

/// Temp files of writers that were killed before they finished (`.<name>.<pid>.<n>.tmp`, and
/// the backup's and kubectl lock's `.<name>.bak.…`, `.<name>.lock.…`) can hold a full
/// kubeconfig; remove those whose process is gone. Runs under the lock, so no live writer of
/// this file is mid-write unless its pid is still alive.
fn remove_orphaned_temps(path: &Path) {
    let dir = parent_dir(path);
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(&dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = file
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let rest = ["bak.", "lock."]
            .iter()
            .find_map(|kind| rest.strip_prefix(kind))
            .unwrap_or(rest);
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if !alive(pid) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether process `pid` exists (EPERM: it does, as another user's).
pub(super) fn alive(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks whether the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|err| not_writable(dir, err))
}

pub(super) fn not_writable(dir: &Path, err: io::Error) -> anyhow::Error {
    match err.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => anyhow!(
            "directory {} is not writable ({err}); fix: make it writable or choose another kubeconfig file",
            dir.display()
        ),
        _ => anyhow::Error::new(err).context(format!("preparing directory {}", dir.display())),
    }
}

pub(super) fn denied(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

#[cfg(test)]
mod tests {
    use super::super::lock::LOCK_OWNER;
    use super::*;
    use crate::env::Os;
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::time::Instant;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn root() -> bool {
        // SAFETY: geteuid has no preconditions.
        unsafe { libc::geteuid() == 0 }
    }

    /// An edit that sets every file of the view to `text`.
    fn replace_with(text: &'static str) -> impl FnOnce(&View) -> Result<(Vec<Option<String>>, ())> {
        move |view| Ok((vec![Some(text.to_owned()); view.files.len()], ()))
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn files_are_kubeconfig_entries_deduplicated_else_home() {
        let mut env = Env::empty(Os::Linux);
        env.home = Some("/home/u".into());
        assert_eq!(
            Files::from_env(&env).unwrap().paths(),
            [Path::new("/home/u/.kube/config")]
        );
        env.kubeconfig = Some(":/a/one::/b/two:/a/one".into());
        let files = Files::from_env(&env).unwrap();
        assert_eq!(files.paths(), [Path::new("/a/one"), Path::new("/b/two")]);
        assert_eq!(files.display(), "/a/one:/b/two");
        env.kubeconfig = None;
        env.home = None;
        let err = Files::from_env(&env).unwrap_err().to_string();
        assert!(err.contains("fix: set HOME or KUBECONFIG"), "{err}");
    }

    #[test]
    fn default_file_is_the_only_one_else_first_existing_else_last() {
        let one = Files::one("/a");
        assert_eq!(one.default_index(&[false]), 0);
        let three = Files {
            paths: vec!["/a".into(), "/b".into(), "/c".into()],
        };
        assert_eq!(three.default_index(&[false, true, true]), 1);
        assert_eq!(three.default_index(&[true, true, false]), 0);
        // kubectl's PathOptions: none exists, the *last* (not the first, as k3d assumes).
        assert_eq!(three.default_index(&[false, false, false]), 2);
    }

    #[test]
    fn update_creates_private_dir_and_file_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/config");
        // Creation with explicit modes: the process umask (022 here) must not widen them,
        // and the writer sets 0600 even if a umask stripped bits.
        let ((), written) =
            update(&Files::one(&path), Missing::Create, replace_with("x: 1\n")).unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].backup, None);
        assert_eq!(written[0].in_place, None);
        assert_eq!(fs::read_to_string(&path).unwrap(), "x: 1\n");
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&tmp.path().join("a")), 0o700);
        assert_eq!(mode(&tmp.path().join("a/b")), 0o700);
    }

    #[test]
    fn update_tightens_an_existing_world_readable_file_and_keeps_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "old: 1\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let ((), written) = update(
            &Files::one(&path),
            Missing::Create,
            replace_with("new: 1\n"),
        )
        .unwrap();
        assert_eq!(mode(&path), 0o600);
        let backup = written[0].backup.clone().unwrap();
        assert_eq!(backup, tmp.path().join("config.bak"));
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old: 1\n");
        assert_eq!(mode(&backup), 0o600);
        // One deep: the next write's backup is this write's result.
        update(
            &Files::one(&path),
            Missing::Create,
            replace_with("newer: 1\n"),
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&backup).unwrap(), "new: 1\n");
    }

    #[test]
    fn update_leaves_no_temp_or_lock_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        update(&Files::one(&path), Missing::Create, replace_with("a: 1\n")).unwrap();
        assert_eq!(names_in(tmp.path()), ["config"]);
    }

    #[test]
    fn update_error_or_no_change_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "keep: 1\n").unwrap();
        let err = update(
            &Files::one(&path),
            Missing::Create,
            |_| -> Result<(Vec<Option<String>>, ())> { bail!("bad input") },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "bad input");
        let ((), written) = update(&Files::one(&path), Missing::Create, |view| {
            Ok((vec![view.files[0].text.clone()], ()))
        })
        .unwrap();
        assert!(written.is_empty());
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep: 1\n");
        assert_eq!(names_in(tmp.path()), ["config"]);
    }

    #[test]
    fn update_skip_does_not_create_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kube/config");
        let (seen, written) = update(&Files::one(&path), Missing::Skip, |view| {
            Ok((vec![None], view.files[0].text.is_none()))
        })
        .unwrap();
        assert!(seen);
        assert!(written.is_empty());
        assert!(!tmp.path().join("kube").exists());
    }

    #[test]
    fn update_writes_through_symlinks_and_locks_both_names() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real-config");
        fs::write(&real, "old: 1\n").unwrap();
        let link = tmp.path().join("config");
        symlink("real-config", &link).unwrap();
        let ((), written) = update(&Files::one(&link), Missing::Create, |_| {
            // kubectl given either name must find its lock taken.
            assert!(tmp.path().join("config.lock").exists());
            assert!(tmp.path().join("real-config.lock").exists());
            Ok((vec![Some("new: 1\n".to_owned())], ()))
        })
        .unwrap();
        assert_eq!(written[0].path, real);
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read_to_string(&real).unwrap(), "new: 1\n");
        assert_eq!(
            fs::read_to_string(tmp.path().join("real-config.bak")).unwrap(),
            "old: 1\n"
        );
        assert_eq!(
            names_in(tmp.path()),
            ["config", "real-config", "real-config.bak"]
        );
    }

    #[test]
    fn update_keeps_the_owner_of_a_file_root_rewrites() {
        if !root() {
            eprintln!("SKIP: only root can write a file another user owns by replacing it");
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "old: 1\n").unwrap();
        std::os::unix::fs::chown(&path, Some(65534), Some(65534)).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        let ((), written) = update(
            &Files::one(&path),
            Missing::Create,
            replace_with("new: 1\n"),
        )
        .unwrap();
        assert_eq!(
            written[0].in_place, None,
            "root replaces, then gives it back"
        );
        for file in [&path, &tmp.path().join("config.bak")] {
            let meta = fs::metadata(file).unwrap();
            assert_eq!(
                (meta.uid(), meta.gid()),
                (65534, 65534),
                "{}",
                file.display()
            );
            assert_eq!(meta.mode() & 0o777, 0o600, "{}", file.display());
        }
    }

    #[test]
    fn update_rewrites_a_hard_linked_file_in_place_so_every_link_sees_it() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        let other = tmp.path().join("other-name");
        fs::write(&path, "old: 1\n").unwrap();
        fs::hard_link(&path, &other).unwrap();
        let ((), written) = update(
            &Files::one(&path),
            Missing::Create,
            replace_with("new: 1\n"),
        )
        .unwrap();
        assert!(written[0].in_place.unwrap().contains("hard links"));
        assert_eq!(fs::read_to_string(&other).unwrap(), "new: 1\n");
        assert_eq!(
            fs::read_to_string(tmp.path().join("config.bak")).unwrap(),
            "old: 1\n"
        );
        assert_eq!(names_in(tmp.path()), ["config", "config.bak", "other-name"]);
    }

    #[test]
    fn update_refuses_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let err = update(
            &Files::one(tmp.path()),
            Missing::Create,
            replace_with("a: 1\n"),
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a directory; fix: point KUBECONFIG or the flag at a file inside it"),
            "{err}"
        );
    }

    /// Run `f` on another thread and fail if it has not returned within 10 s: a FIFO opened
    /// for reading blocks until a writer comes, which is the hang these tests guard against.
    fn bounded<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(f()).unwrap());
        rx.recv_timeout(Duration::from_secs(10))
            .expect("blocked on a special file")
    }

    #[test]
    fn fifo_and_socket_are_refused_without_opening_them() {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("fifo");
        let c_fifo = CString::new(fifo.as_os_str().as_bytes()).unwrap();
        // SAFETY: c_fifo is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
        let socket = tmp.path().join("socket");
        let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let link = tmp.path().join("link");
        symlink("fifo", &link).unwrap();
        for (path, what) in [
            (&fifo, "a FIFO (named pipe)"),
            (&socket, "a socket"),
            (&link, "a FIFO (named pipe)"),
        ] {
            let files = Files::one(path);
            let read_err = bounded({
                let files = files.clone();
                move || read_view(&files).unwrap_err().to_string()
            });
            let update_err = bounded(move || {
                update(&files, Missing::Create, replace_with("a: 1\n"))
                    .unwrap_err()
                    .to_string()
            });
            for err in [read_err, update_err] {
                assert!(
                    err.contains(&format!("is {what}, not a regular file; fix: point KUBECONFIG or the flag at a regular file")),
                    "{err}"
                );
            }
            assert!(fs::symlink_metadata(path).is_ok());
        }
        let err = read_view(&Files::one(&link)).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!(
                "kubeconfig {} (a symlink to {}) is a FIFO",
                link.display(),
                tmp.path().join("fifo").display()
            )),
            "{err}"
        );
        assert_eq!(names_in(tmp.path()), ["fifo", "link", "socket"]);
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        std::thread::scope(|scope| {
            for i in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    update(&Files::one(path), Missing::Create, |view| {
                        // Widen the race window (not a timing assertion): without the lock,
                        // threads would read the same old text and drop each other's line.
                        std::thread::sleep(Duration::from_millis(5));
                        let mut text = view.files[0].text.clone().unwrap_or_default();
                        text.push_str(&format!("line{i}: {i}\n"));
                        Ok((vec![Some(text)], ()))
                    })
                    .unwrap();
                });
            }
        });
        let text = fs::read_to_string(&path).unwrap();
        for i in 0..8 {
            assert!(text.contains(&format!("line{i}: {i}\n")), "{text}");
        }
    }

    #[test]
    fn orphaned_temp_files_of_dead_writers_are_removed_on_the_next_edit() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        // A pid far above pid_max cannot be alive; our own pid is.
        let dead = tmp.path().join(".config.999999999.0.tmp");
        let dead_bak = tmp.path().join(".config.bak.999999999.1.tmp");
        let dead_lock = tmp.path().join(".config.lock.999999999.2.tmp");
        let live = tmp
            .path()
            .join(format!(".config.{}.7.tmp", std::process::id()));
        let unrelated = tmp.path().join(".other.999999999.0.tmp");
        for file in [&dead, &dead_bak, &dead_lock, &live, &unrelated] {
            fs::write(file, "secret").unwrap();
        }
        update(&Files::one(&path), Missing::Create, replace_with("a: 1\n")).unwrap();
        assert!(!dead.exists() && !dead_bak.exists() && !dead_lock.exists());
        assert!(live.exists() && unrelated.exists());
    }

    #[test]
    fn an_edit_waits_for_kubectls_lock_and_then_proceeds() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "old: 1\n").unwrap();
        // kubectl's lock: empty, created with O_EXCL while it writes the file.
        let lock = tmp.path().join("config.lock");
        fs::write(&lock, "").unwrap();
        let released = std::thread::spawn({
            let lock = lock.clone();
            move || {
                std::thread::sleep(Duration::from_millis(300));
                assert_eq!(
                    fs::read_to_string(&path).unwrap(),
                    "old: 1\n",
                    "written while kubectl held the lock"
                );
                fs::remove_file(&lock).unwrap();
            }
        });
        let start = Instant::now();
        update(
            &Files::one(tmp.path().join("config")),
            Missing::Create,
            replace_with("new: 1\n"),
        )
        .unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
        released.join().unwrap();
        assert_eq!(
            fs::read_to_string(tmp.path().join("config")).unwrap(),
            "new: 1\n"
        );
        assert!(!lock.exists());
    }

    #[test]
    fn a_lock_that_stays_is_an_error_naming_it_and_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "old: 1\n").unwrap();
        let lock = tmp.path().join("config.lock");
        fs::write(&lock, "").unwrap();
        let err = update_waiting(
            &Files::one(&path),
            Missing::Create,
            Duration::from_millis(100),
            replace_with("new: 1\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with(&format!(
                "kubeconfig is locked: {} still exists after 100ms (kubectl creates it",
                lock.display()
            )),
            "{err}"
        );
        assert!(
            err.ends_with(&format!(
                "fix: if no kubectl or k8s-dev-helper is editing this kubeconfig, delete {}",
                lock.display()
            )),
            "{err}"
        );
        assert!(lock.exists(), "someone else's lock is never removed");
        assert_eq!(fs::read_to_string(&path).unwrap(), "old: 1\n");
        assert_eq!(names_in(tmp.path()), ["config", "config.lock"]);
    }

    #[test]
    fn delete_waits_for_kubectls_lock_and_a_lock_that_stays_deletes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("k3d-a.yaml");
        fs::write(&path, "a: 1\n").unwrap();
        fs::write(tmp.path().join("k3d-a.yaml.bak"), "a: 0\n").unwrap();
        let lock = tmp.path().join("k3d-a.yaml.lock");
        fs::write(&lock, "").unwrap();
        let err = format!(
            "{:#}",
            delete_waiting(&path, Duration::from_millis(100)).unwrap_err()
        );
        assert!(err.contains("kubeconfig is locked"), "{err}");
        assert_eq!(
            names_in(tmp.path()),
            ["k3d-a.yaml", "k3d-a.yaml.bak", "k3d-a.yaml.lock"]
        );
        let released = std::thread::spawn({
            let lock = lock.clone();
            move || {
                std::thread::sleep(Duration::from_millis(300));
                fs::remove_file(&lock).unwrap();
            }
        });
        let start = Instant::now();
        let deleted = delete(&path).unwrap();
        assert!(start.elapsed() >= Duration::from_millis(300));
        released.join().unwrap();
        assert_eq!(deleted.removed.len(), 2);
        assert_eq!(names_in(tmp.path()), Vec::<String>::new());
    }

    #[test]
    fn delete_follows_a_symlink_and_refuses_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real.yaml");
        fs::write(&real, "a: 1\n").unwrap();
        let link = tmp.path().join("k3d-a.yaml");
        symlink(&real, &link).unwrap();
        let deleted = delete(&link).unwrap();
        assert_eq!(deleted.removed, std::slice::from_ref(&real));
        assert!(!real.exists());
        let dir = tmp.path().join("dir.yaml");
        fs::create_dir(&dir).unwrap();
        let err = format!("{:#}", delete(&dir).unwrap_err());
        assert!(err.contains("is a directory"), "{err}");
        assert!(dir.is_dir());
    }

    #[test]
    fn the_lock_of_a_killed_helper_is_taken_over_and_a_live_ones_is_not() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        let lock = tmp.path().join("config.lock");
        fs::write(&lock, format!("{LOCK_OWNER}999999999\n")).unwrap();
        update(&Files::one(&path), Missing::Create, replace_with("a: 1\n")).unwrap();
        assert_eq!(names_in(tmp.path()), ["config"]);

        fs::write(&lock, format!("{LOCK_OWNER}{}\n", std::process::id())).unwrap();
        let err = update_waiting(
            &Files::one(&path),
            Missing::Create,
            Duration::from_millis(50),
            replace_with("b: 1\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(&format!(
                "(k8s-dev-helper pid {}, still running",
                std::process::id()
            )),
            "{err}"
        );
        assert!(lock.exists());
    }

    #[test]
    fn every_existing_file_of_a_view_is_locked_and_only_changed_ones_written() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b, c) = (
            tmp.path().join("a"),
            tmp.path().join("b"),
            tmp.path().join("c"),
        );
        fs::write(&b, "b: 1\n").unwrap();
        fs::write(&c, "c: 1\n").unwrap();
        let files = Files {
            paths: vec![a.clone(), b.clone(), c.clone()],
        };
        let ((), written) = update(&files, Missing::Create, |view| {
            assert_eq!(view.default, 1, "the first file that exists");
            assert_eq!(view.files[0].text, None);
            assert!(
                !tmp.path().join("a.lock").exists(),
                "a missing file that is not written is not locked"
            );
            assert!(tmp.path().join("b.lock").exists() && tmp.path().join("c.lock").exists());
            Ok((
                vec![None, view.files[1].text.clone(), Some("c: 2\n".into())],
                (),
            ))
        })
        .unwrap();
        assert_eq!(written.len(), 1);
        assert_eq!(written[0].path, c);
        assert!(!a.exists());
        assert_eq!(fs::read_to_string(&c).unwrap(), "c: 2\n");
        assert_eq!(names_in(tmp.path()), ["b", "c", "c.bak"]);
    }

    #[test]
    fn two_paths_to_one_file_are_one_file() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("config");
        fs::write(&real, "a: 1\n").unwrap();
        let link = tmp.path().join("link");
        symlink("config", &link).unwrap();
        let view = read_view(&Files {
            paths: vec![link.clone(), real.clone()],
        })
        .unwrap();
        assert_eq!(view.files.len(), 1);
        assert_eq!(view.files[0].found.given, link);
        assert_eq!(view.default, 0);
    }

    #[test]
    fn check_writable_accepts_a_missing_dir_under_a_writable_one() {
        let tmp = tempfile::tempdir().unwrap();
        check_writable(&inspect(&tmp.path().join("new/dir/config")).unwrap()).unwrap();
    }
}
