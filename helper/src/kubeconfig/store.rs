// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Reading and writing a kubeconfig file safely: which file, a lock so concurrent edits
//! serialize, a one-deep `.bak`, and an atomic 0600 write through symlinks.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, Result, bail};

use crate::env::Env;

/// Symlink hops followed before giving up, as the kernel's ELOOP limit.
const MAX_SYMLINKS: usize = 40;

/// The file kubectl would write new entries to: the first entry of `$KUBECONFIG`, else
/// `~/.kube/config`.
pub fn default_target(env: &Env) -> Result<PathBuf> {
    if let Some(list) = &env.kubeconfig
        && let Some(first) = std::env::split_paths(list).find(|p| !p.as_os_str().is_empty())
    {
        return Ok(first);
    }
    let Some(home) = &env.home else {
        bail!(
            "finding the default kubeconfig: no home directory; fix: set HOME or KUBECONFIG, or pass the file explicitly"
        );
    };
    Ok(home.join(".kube").join("config"))
}

/// Whether an edit may create a missing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Create the file (and its directory, 0700).
    Create,
    /// Leave it missing: the edit sees `None` and nothing is written or locked.
    Skip,
}

/// Where an edit landed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    /// The regular file behind the target path (symlinks resolved).
    pub path: PathBuf,
    /// The copy of the previous content, when there was one and it changed.
    pub backup: Option<PathBuf>,
    /// False when the edit left the content as it was (nothing was written).
    pub changed: bool,
}

/// Edit the kubeconfig at `target` under an exclusive lock.
///
/// `edit` receives the current text (`None` when the file does not exist) and returns the new
/// text, or `None` to leave the file alone. On error nothing is written. A changed file is
/// first copied to `<file>.bak`, then replaced atomically with mode 0600.
pub fn update<T>(
    target: &Path,
    missing: Missing,
    edit: impl FnOnce(Option<&str>) -> Result<(Option<String>, T)>,
) -> Result<(T, Written)> {
    let path = resolve(target)?;
    let unchanged = |path: PathBuf, value: T| {
        let written = Written {
            path,
            backup: None,
            changed: false,
        };
        (value, written)
    };
    if missing == Missing::Skip && !path.exists() {
        let (_, value) = edit(None)?;
        return Ok(unchanged(path, value));
    }
    let dir = parent_dir(&path);
    create_private_dir(&dir)?;
    let _lock = lock(&path, &dir)?;
    remove_orphaned_temps(&path);

    let old = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("reading {}", path.display())),
    };
    if old.is_none() && missing == Missing::Skip {
        // Removed between the check above and the lock: still nothing to edit.
        let (_, value) = edit(None)?;
        return Ok(unchanged(path, value));
    }
    let (new, value) = edit(old.as_deref())?;
    let Some(new) = new.filter(|new| old.as_deref() != Some(new.as_str())) else {
        return Ok(unchanged(path, value));
    };
    let backup = match &old {
        Some(old) => {
            let backup = sibling(&path, ".bak");
            write_atomic(&backup, old.as_bytes())?;
            Some(backup)
        }
        None => None,
    };
    write_atomic(&path, new.as_bytes())?;
    Ok((
        value,
        Written {
            path,
            backup,
            changed: true,
        },
    ))
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
            Ok(meta) if meta.is_dir() => bail!(
                "kubeconfig {} is a directory; fix: point KUBECONFIG or the flag at a file inside it",
                target.display()
            ),
            Ok(_) => return Ok(path),
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(path),
            Err(err) => return Err(err).with_context(|| format!("inspecting {}", path.display())),
        }
    }
    bail!(
        "resolving kubeconfig {}: too many levels of symlinks",
        target.display()
    )
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// `<dir>/<prefix><name><suffix>` next to `path`.
fn sibling_named(path: &Path, prefix: &str, suffix: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(Default::default, |n| n.to_string_lossy().into_owned());
    parent_dir(path).join(format!("{prefix}{name}{suffix}"))
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    sibling_named(path, "", suffix)
}

/// Whether an edit of `path` could write its directory (or create it): the nearest existing
/// ancestor must be writable by this process.
pub fn check_writable(path: &Path) -> Result<()> {
    let mut dir = parent_dir(path);
    while !dir.exists() {
        match dir.parent() {
            Some(up) if !up.as_os_str().is_empty() => dir = up.to_path_buf(),
            _ => break,
        }
    }
    let c_dir = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
        .with_context(|| format!("directory {} has a NUL byte", dir.display()))?;
    // SAFETY: c_dir is a valid NUL-terminated path; access has no other preconditions.
    if unsafe { libc::access(c_dir.as_ptr(), libc::W_OK) } != 0 {
        return Err(not_writable(&dir, io::Error::last_os_error()));
    }
    Ok(())
}

/// Temp files of writers that were killed before their rename (`.<name>.<pid>.<n>.tmp`) hold a
/// full kubeconfig; remove those whose process is gone. Runs under the lock, so no live writer
/// of this file is mid-write unless its pid is still alive.
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
        let rest = rest.strip_prefix("bak.").unwrap_or(rest); // the backup's own temp file
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = fs::remove_file(entry.path());
        }
    }
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

/// An exclusive lock on a kubeconfig, held until dropped.
///
/// The lock is a sidecar file, not `<file>.lock`: that name is client-go's own lock, created
/// with O_EXCL, so a lock file left there would make every `kubectl config …` fail with "file
/// exists". A `flock` dies with its process, so a crashed helper never blocks the next one.
/// The holder deletes the sidecar before unlocking (no litter next to a repo's kubeconfig);
/// a waiter that then wins the lock on the deleted inode sees the path changed and retries.
struct Lock {
    path: PathBuf,
    _file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Unlink while still locked; the lock itself goes when `_file` closes.
        let _ = fs::remove_file(&self.path);
    }
}

fn lock(path: &Path, dir: &Path) -> Result<Lock> {
    let lock_path = sibling_named(path, ".", ".k8s-dev-helper.lock");
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|err| not_writable(dir, err))?;
        file.lock()
            .with_context(|| format!("locking {}", lock_path.display()))?;
        let held = file.metadata()?.ino();
        match fs::metadata(&lock_path) {
            Ok(meta) if meta.ino() == held => {
                return Ok(Lock {
                    path: lock_path,
                    _file: file,
                });
            }
            // The previous holder removed it (or replaced it) while we waited: start over.
            Ok(_) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => {
                return Err(err).with_context(|| format!("inspecting {}", lock_path.display()));
            }
        }
    }
}

fn not_writable(dir: &Path, err: io::Error) -> anyhow::Error {
    match err.kind() {
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => anyhow::anyhow!(
            "directory {} is not writable ({err}); fix: make it writable or choose another kubeconfig file",
            dir.display()
        ),
        _ => anyhow::Error::new(err).context(format!("preparing directory {}", dir.display())),
    }
}

/// Replace `path` with `bytes`: a 0600 temp file in the same directory, fsync, rename over the
/// target, fsync the directory. Readers see the old or the new file, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = parent_dir(path);
    let tmp = sibling_named(
        path,
        ".",
        &format!(
            ".{}.{}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ),
    );
    let result = (|| -> io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        // The umask only ever removes bits, but an odd one (0277) could remove ours: set it.
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(err) = result {
        let _ = fs::remove_file(&tmp);
        return Err(match err.kind() {
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                not_writable(&dir, err)
            }
            _ => anyhow::Error::new(err).context(format!("writing {}", path.display())),
        });
    }
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Os;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn replace_with(
        text: &'static str,
    ) -> impl FnOnce(Option<&str>) -> Result<(Option<String>, ())> {
        move |_| Ok((Some(text.to_owned()), ()))
    }

    #[test]
    fn default_target_is_first_kubeconfig_entry_else_home() {
        let mut env = Env::empty(Os::Linux);
        env.home = Some("/home/u".into());
        assert_eq!(
            default_target(&env).unwrap(),
            Path::new("/home/u/.kube/config")
        );
        env.kubeconfig = Some(":/a/one:/b/two".into());
        assert_eq!(default_target(&env).unwrap(), Path::new("/a/one"));
        env.kubeconfig = None;
        env.home = None;
        let err = default_target(&env).unwrap_err().to_string();
        assert!(err.contains("fix: set HOME or KUBECONFIG"), "{err}");
    }

    #[test]
    fn update_creates_private_dir_and_file_whatever_the_umask() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("a/b/config");
        // Creation with explicit modes: the process umask (022 here) must not widen them,
        // and the writer sets 0600 even if a umask stripped bits.
        let ((), written) = update(&path, Missing::Create, replace_with("x: 1\n")).unwrap();
        assert!(written.changed);
        assert_eq!(written.backup, None);
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
        let ((), written) = update(&path, Missing::Create, replace_with("new: 1\n")).unwrap();
        assert_eq!(mode(&path), 0o600);
        let backup = written.backup.unwrap();
        assert_eq!(backup, tmp.path().join("config.bak"));
        assert_eq!(fs::read_to_string(&backup).unwrap(), "old: 1\n");
        assert_eq!(mode(&backup), 0o600);
        // One deep: the next write's backup is this write's result.
        update(&path, Missing::Create, replace_with("newer: 1\n")).unwrap();
        assert_eq!(fs::read_to_string(&backup).unwrap(), "new: 1\n");
    }

    #[test]
    fn update_leaves_no_temp_or_lock_files() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        update(&path, Missing::Create, replace_with("a: 1\n")).unwrap();
        let mut names: Vec<String> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["config"]);
    }

    #[test]
    fn update_error_or_no_change_writes_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        fs::write(&path, "keep: 1\n").unwrap();
        let err = update(
            &path,
            Missing::Create,
            |_| -> Result<(Option<String>, ())> { bail!("bad input") },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "bad input");
        let ((), written) = update(&path, Missing::Create, |old| {
            Ok((old.map(str::to_owned), ()))
        })
        .unwrap();
        assert!(!written.changed);
        assert_eq!(fs::read_to_string(&path).unwrap(), "keep: 1\n");
        assert!(!tmp.path().join("config.bak").exists());
    }

    #[test]
    fn update_skip_does_not_create_anything() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kube/config");
        let (seen, written) =
            update(&path, Missing::Skip, |old| Ok((None, old.is_none()))).unwrap();
        assert!(seen);
        assert!(!written.changed);
        assert!(!tmp.path().join("kube").exists());
    }

    #[test]
    fn update_writes_through_symlinks() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real-config");
        fs::write(&real, "old: 1\n").unwrap();
        let link = tmp.path().join("config");
        symlink("real-config", &link).unwrap();
        let ((), written) = update(&link, Missing::Create, replace_with("new: 1\n")).unwrap();
        assert_eq!(written.path, real);
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
    }

    #[test]
    fn update_refuses_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let err = update(tmp.path(), Missing::Create, replace_with("a: 1\n")).unwrap_err();
        assert!(
            err.to_string()
                .ends_with("is a directory; fix: point KUBECONFIG or the flag at a file inside it"),
            "{err}"
        );
    }

    #[test]
    fn concurrent_updates_lose_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("config");
        std::thread::scope(|scope| {
            for i in 0..8 {
                let path = &path;
                scope.spawn(move || {
                    update(path, Missing::Create, |old| {
                        // Widen the race window (not a timing assertion): without the lock,
                        // threads would read the same old text and drop each other's line.
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        let mut text = old.unwrap_or_default().to_owned();
                        text.push_str(&format!("line{i}: {i}\n"));
                        Ok((Some(text), ()))
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
        let live = tmp
            .path()
            .join(format!(".config.{}.7.tmp", std::process::id()));
        let unrelated = tmp.path().join(".other.999999999.0.tmp");
        for file in [&dead, &dead_bak, &live, &unrelated] {
            fs::write(file, "secret").unwrap();
        }
        update(&path, Missing::Create, |_| {
            Ok((Some("a: 1\n".to_string()), ()))
        })
        .unwrap();
        assert!(!dead.exists() && !dead_bak.exists());
        assert!(live.exists() && unrelated.exists());
    }

    #[test]
    fn check_writable_accepts_a_missing_dir_under_a_writable_one() {
        let tmp = tempfile::tempdir().unwrap();
        check_writable(&tmp.path().join("new/dir/config")).unwrap();
    }
}
