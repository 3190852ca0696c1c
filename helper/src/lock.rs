// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The up/down lock: one per user, so two `up`s (or an `up` and a `down`) never act on the same
//! containers at once.
//!
//! The task script opens the lock file on a descriptor it keeps (`exec 9<>"$K8S_DEV_LOCK_FILE"`)
//! and the helper takes a `flock(2)` on that descriptor. The lock belongs to the open file, which
//! the script holds until it exits, so the kernel releases it however the script ends (exit,
//! Ctrl-C, SIGKILL): a stale lock cannot exist, and there is nothing to take over. The file lives
//! in a per-user directory (mode 0700, see `K8S_DEV_LOCK_FILE`), never in a shared one where
//! another user could plant or hold it. Waiting is bounded (`K8S_DEV_LOCK_TIMEOUT`) and names
//! the holder (pid, user, what it runs), which it writes into the file.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use crate::exit::{self, Coded};
use crate::wait::{self, Clock, Progress};

/// Who holds the lock, as written into the lock file: `pid=… user=… what=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    /// `up of cluster openshell-dev`.
    pub what: String,
}

impl Holder {
    pub fn line(&self) -> String {
        format!("pid={} user={} what={}\n", self.pid, self.user, self.what)
    }

    /// Read back a [`Holder::line`]; `None` for anything else (an empty file, a holder that
    /// died before writing).
    pub fn parse(text: &str) -> Option<Holder> {
        let line = text.lines().next()?;
        let pid = line.strip_prefix("pid=")?.split(' ').next()?.parse().ok()?;
        let user = line.split(" user=").nth(1)?.split(' ').next()?.to_string();
        let what = line.split(" what=").nth(1)?.to_string();
        Some(Holder { pid, user, what })
    }

    /// `pid 123, user alice, up of cluster dev`.
    pub fn describe(holder: Option<&Holder>) -> String {
        match holder {
            Some(h) => format!("pid {}, user {}, {}", h.pid, h.user, h.what),
            None => "holder unknown".into(),
        }
    }
}

/// The lock file must sit in a directory only its owner can enter, owned by us: then no one
/// else can hold, replace or read it. A directory of ours that is too open is closed.
pub fn check_place(path: &Path, uid: u32) -> Result<()> {
    let Some(dir) = path.parent() else {
        bail!("lock file {} has no directory", path.display());
    };
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if meta.uid() != uid {
        bail!(
            "lock directory {} belongs to uid {}, not to you (uid {uid}); fix: unset \
             XDG_RUNTIME_DIR/XDG_STATE_HOME if they are another user's, or remove the directory",
            dir.display(),
            meta.uid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private (chmod 700)", dir.display()))?;
    }
    Ok(())
}

/// The lock file as a `File` that does not close `fd` when dropped: the script owns it.
fn borrowed(fd: RawFd) -> ManuallyDrop<File> {
    // SAFETY: the caller passes a descriptor open for the whole process; ManuallyDrop keeps us
    // from closing it, so the script's descriptor (and the lock on it) stays valid.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd) })
}

/// Try the lock once: `Ok(true)` when taken, `Ok(false)` when another open file holds it.
fn try_lock(fd: RawFd) -> Result<bool> {
    // SAFETY: flock only reads the descriptor number; a bad descriptor is an error return.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let err = std::io::Error::last_os_error();
    if err.raw_os_error() == Some(libc::EWOULDBLOCK) {
        return Ok(false);
    }
    Err(err).context("locking the up/down lock file (flock)")
}

fn read_holder(fd: RawFd) -> Option<Holder> {
    let mut file = borrowed(fd);
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    Holder::parse(&text)
}

fn write_holder(fd: RawFd, holder: &Holder) -> Result<()> {
    let mut file = borrowed(fd);
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(holder.line().as_bytes())?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Take the lock on `fd` (the script's descriptor of `path`, open for reading and writing),
/// waiting up to `timeout` for the current holder, whom the progress line and the error name.
pub fn acquire(
    fd: RawFd,
    path: &Path,
    uid: u32,
    holder: &Holder,
    timeout: Duration,
    clock: &dyn Clock,
) -> Result<()> {
    check_place(path, uid)?;
    let meta = borrowed(fd)
        .metadata()
        .context("reading the lock file descriptor")?;
    if !meta.is_file() || meta.uid() != uid {
        bail!(
            "lock file {} is not a regular file of yours; fix: remove it",
            path.display()
        );
    }
    let shown = wait::format_timeout(timeout);
    let mut last: Option<Holder> = None;
    let outcome = wait::wait_until(
        clock,
        timeout,
        |_| match try_lock(fd) {
            Ok(true) => Ok(()),
            Ok(false) => {
                last = read_holder(fd);
                Err(Holder::describe(last.as_ref()))
            }
            Err(err) => Err(format!("{err:#}")),
        },
        |progress| match progress {
            Progress::Waiting { reason } => eprintln!(
                "[k8s-dev] waiting up to {shown} for another k8s-dev up/down ({reason}) to finish"
            ),
            Progress::Changed { reason, .. } => {
                eprintln!("[k8s-dev] still waiting for the up/down lock ({reason})")
            }
        },
    );
    if !outcome.ready {
        return Err(Coded::error(
            exit::TIMEOUT,
            format!(
                "timed out after {shown} waiting for the up/down lock {}: held by {}; let it \
                 finish or stop it, or raise K8S_DEV_LOCK_TIMEOUT",
                path.display(),
                outcome.last_reason.as_deref().unwrap_or("another process")
            ),
        ));
    }
    write_holder(fd, holder)
}

/// The name of user `uid`, or `uid N` when it has none.
pub fn user_name(uid: u32) -> String {
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: getpwuid_r writes only into pwd and buf, whose sizes we pass; result points at
    // pwd on success, and the name is copied out before buf goes away.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc == 0 && !result.is_null() && !pwd.pw_name.is_null() {
        // SAFETY: pw_name is a NUL-terminated string inside buf.
        let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
        if let Ok(name) = name.to_str() {
            return name.to_string();
        }
    }
    format!("uid-{uid}")
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::DirBuilderExt;

    use super::*;
    use crate::wait::SystemClock;

    fn me() -> u32 {
        // SAFETY: getuid cannot fail.
        unsafe { libc::getuid() }
    }

    fn lock_dir() -> (tempfile::TempDir, std::path::PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("k8s-dev");
        fs::DirBuilder::new().mode(0o700).create(&dir).unwrap();
        (tmp, dir.join("up.lock"))
    }

    fn open(path: &Path) -> File {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .unwrap()
    }

    fn holder(pid: u32) -> Holder {
        Holder {
            pid,
            user: "alice".into(),
            what: "up of cluster dev".into(),
        }
    }

    #[test]
    fn holder_line_round_trips() {
        let h = holder(42);
        assert_eq!(h.line(), "pid=42 user=alice what=up of cluster dev\n");
        assert_eq!(Holder::parse(&h.line()), Some(h));
        assert_eq!(Holder::parse(""), None);
        assert_eq!(Holder::parse("garbage"), None);
    }

    /// Take the lock on `file` as `holder(pid)`, waiting at most 200 ms.
    fn take(file: &File, path: &Path, pid: u32) -> Result<()> {
        let clock = SystemClock::start();
        let limit = Duration::from_millis(200);
        acquire(file.as_raw_fd(), path, me(), &holder(pid), limit, &clock)
    }

    #[test]
    fn a_held_lock_times_out_naming_its_holder_then_frees_when_the_holder_closes() {
        let (_tmp, path) = lock_dir();
        let first = open(&path);
        take(&first, &path, 1).unwrap();
        let second = open(&path);
        let err = take(&second, &path, 2).unwrap_err();
        assert_eq!(exit::code_of(&err), exit::TIMEOUT);
        let msg = format!("{err:#}");
        assert!(
            msg.contains("held by pid 1, user alice, up of cluster dev"),
            "{msg}"
        );
        assert!(msg.contains("K8S_DEV_LOCK_TIMEOUT"), "{msg}");
        // The holder exits (its descriptor closes, even on SIGKILL): the lock is free at once.
        drop(first);
        take(&second, &path, 2).unwrap();
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "pid=2 user=alice what=up of cluster dev\n"
        );
        assert_eq!(fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn an_open_lock_directory_of_ours_is_closed() {
        let (_tmp, path) = lock_dir();
        let dir = path.parent().unwrap();
        fs::set_permissions(dir, fs::Permissions::from_mode(0o777)).unwrap();
        check_place(&path, me()).unwrap();
        assert_eq!(fs::metadata(dir).unwrap().mode() & 0o777, 0o700);
    }

    #[test]
    fn a_lock_directory_of_another_user_is_refused() {
        let (_tmp, path) = lock_dir();
        let err = check_place(&path, me() + 1).unwrap_err().to_string();
        assert!(err.contains("not to you"), "{err}");
    }

    #[test]
    fn user_name_of_root_and_of_nobody_known() {
        assert_eq!(user_name(0), "root");
        assert_eq!(user_name(4_000_000_000), "uid-4000000000");
    }
}
