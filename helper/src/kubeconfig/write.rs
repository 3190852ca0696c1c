// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Writing one kubeconfig file: the backup, then a replacement by rename (atomic), or, for a
//! file a rename cannot replace faithfully, a careful rewrite in place; owner and mode kept.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::store::{
    Found, Written, check_file_writable, denied, not_a_file, not_writable, parent_dir, sibling,
    temp_path,
};

/// The owner and mode a written file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Perms {
    /// `(uid, gid)` to give it; `None`: whatever creating it gave (this process's).
    owner: Option<(u32, u32)>,
    mode: u32,
}

impl Perms {
    /// A new file: this process's, 0600.
    fn new_file() -> Perms {
        Perms {
            owner: None,
            mode: 0o600,
        }
    }

    /// The replacement of an existing file: its owner and group, its owner's permission bits;
    /// group and other bits dropped (it holds credentials).
    fn replacing(meta: &fs::Metadata) -> Perms {
        Perms {
            owner: Some((meta.uid(), meta.gid())),
            mode: meta.mode() & 0o700,
        }
    }

    /// The backup of an existing file: its owner, 0600.
    fn backup_of(meta: &fs::Metadata) -> Perms {
        Perms {
            mode: 0o600,
            ..Perms::replacing(meta)
        }
    }

    /// Give a file this process just created these owners and bits.
    fn apply(self, file: &File) -> io::Result<()> {
        let meta = file.metadata()?;
        if let Some((uid, gid)) = self.owner
            && (meta.uid(), meta.gid()) != (uid, gid)
        {
            // Root keeps a user's file the user's; a user can move a file only to one of its
            // own groups. Failing that the group is ours, which has no bits anyway.
            let _ = std::os::unix::fs::fchown(file, Some(uid), Some(gid));
        }
        // After the chown, which may clear bits. The umask only ever removes bits, but an odd
        // one (0277) could remove ours: set them.
        file.set_permissions(fs::Permissions::from_mode(self.mode))
    }
}

/// How an existing file is rewritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// A new file renamed over it: atomic.
    Replace,
    /// Its content overwritten through the existing inode, for the reason given.
    InPlace(&'static str),
}

/// The facts about an existing file that decide the [`Strategy`].
#[derive(Debug, Clone, Copy)]
struct Facts {
    uid: u32,
    nlink: u64,
    mount_root: bool,
}

pub(super) const BIND_MOUNT: &str =
    "it is a mount point (a bind-mounted file), which a rename cannot replace";

fn strategy(facts: Facts, euid: u32) -> Strategy {
    if facts.mount_root {
        Strategy::InPlace(BIND_MOUNT)
    } else if facts.nlink > 1 {
        Strategy::InPlace("it has other hard links, which a rename would split off")
    } else if facts.uid != euid && euid != 0 {
        Strategy::InPlace("it belongs to another user, and a replacement would belong to you")
    } else {
        Strategy::Replace
    }
}

/// Write `new` to `found` (whose content was `old`): back up, then replace or rewrite in place.
pub(super) fn write(found: &Found, old: Option<&str>, new: &str) -> Result<Written> {
    let path = &found.path;
    let mut warnings = Vec::new();
    // What `found` says may be older than the read under the lock; ask the file again.
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_file() => Some(meta),
        Ok(meta) => return Err(not_a_file(&found.given, path, meta.file_type())),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(err).with_context(|| format!("inspecting {}", path.display())),
    };
    let found = Found {
        meta: meta.clone(),
        ..found.clone()
    };
    if found.exists() {
        check_file_writable(&found)?;
    }
    let backup = match (old, &meta) {
        (Some(old), Some(meta)) => {
            let backup = sibling(path, ".bak");
            match replace(&backup, old.as_bytes(), Perms::backup_of(meta))? {
                Replaced::Done(warning) => warnings.extend(warning),
                Replaced::Refused(err) => {
                    return Err(err).with_context(|| format!("writing {}", backup.display()));
                }
            }
            Some(backup)
        }
        _ => None,
    };
    let (perms, strategy) = match &meta {
        None => (Perms::new_file(), Strategy::Replace),
        Some(meta) => {
            let facts = Facts {
                uid: meta.uid(),
                nlink: meta.nlink(),
                mount_root: is_mount_root(path),
            };
            // SAFETY: geteuid has no preconditions and cannot fail.
            (
                Perms::replacing(meta),
                strategy(facts, unsafe { libc::geteuid() }),
            )
        }
    };
    let in_place = match strategy {
        Strategy::Replace => match replace(path, new.as_bytes(), perms)? {
            Replaced::Done(warning) => {
                warnings.extend(warning);
                None
            }
            // A mount point the check above could not see (no statx attribute, no /proc).
            Replaced::Refused(_) => Some(BIND_MOUNT),
        },
        Strategy::InPlace(reason) => Some(reason),
    };
    if let Some(reason) = in_place {
        let Some(meta) = &meta else {
            bail!("writing {}: {reason}, and it vanished", found.shown());
        };
        warnings.extend(write_in_place(
            &found,
            meta,
            new.as_bytes(),
            backup.as_deref(),
        )?);
    }
    Ok(Written {
        path: path.clone(),
        backup,
        in_place,
        warnings,
    })
}

/// The outcome of [`replace`].
enum Replaced {
    /// Renamed into place; a warning when the directory could not be synced afterwards.
    Done(Option<String>),
    /// The rename was refused because the target is a mount point (EBUSY) or on another
    /// filesystem (EXDEV); nothing changed and the temp file is gone.
    Refused(io::Error),
}

/// Replace `path` with `bytes`: a temp file in the same directory with `perms`, fsync, rename
/// over the target, fsync the directory. Readers see the old or the new file, never half of
/// one. Once the rename is done the file *is* written: a directory that cannot be synced then
/// (no read permission on it, an odd filesystem) is a warning, not a failure.
fn replace(path: &Path, bytes: &[u8], perms: Perms) -> Result<Replaced> {
    let dir = parent_dir(path);
    let tmp = temp_path(path);
    if let Err(err) = write_temp(&tmp, bytes, perms).and_then(|()| fs::rename(&tmp, path)) {
        let _ = fs::remove_file(&tmp);
        if matches!(err.raw_os_error(), Some(libc::EBUSY | libc::EXDEV)) {
            return Ok(Replaced::Refused(err));
        }
        return Err(if denied(&err) {
            not_writable(&dir, err)
        } else {
            anyhow::Error::new(err).context(format!("writing {}", path.display()))
        });
    }
    let warning = sync_dir(&dir).err().map(|err| {
        format!(
            "wrote {}, but syncing its directory {} failed ({err}); the change may not survive a crash of the machine",
            path.display(),
            dir.display()
        )
    });
    Ok(Replaced::Done(warning))
}

pub(super) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// A new file at `tmp` holding `bytes` with `perms`, on disk (fsynced) when this returns.
fn write_temp(tmp: &Path, bytes: &[u8], perms: Perms) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    perms.apply(&file)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Rewrite the existing file `found` (described by `meta`) with `bytes` through its own inode,
/// for a file a rename cannot replace (a bind mount, the devcontainer case; a hard link;
/// another user's file). The new content is first written complete and fsynced to a temp file
/// beside it, then copied over the file, truncated to length and fsynced.
///
/// Crash window: between the first byte copied and the fsync, a crash of the machine or a kill
/// can leave the file torn. Its previous content is then in `<file>.bak` (written before) and
/// the new content in the temp file (`.<file>.<pid>.<n>.tmp`, removed by the next edit); the
/// next edit refuses the torn file and names the backup.
fn write_in_place(
    found: &Found,
    meta: &fs::Metadata,
    bytes: &[u8],
    backup: Option<&Path>,
) -> Result<Vec<String>> {
    let path = &found.path;
    let mut warnings = Vec::new();
    let tmp = temp_path(path);
    write_temp(&tmp, bytes, Perms::backup_of(meta)).map_err(|err| {
        let _ = fs::remove_file(&tmp);
        if denied(&err) {
            not_writable(&parent_dir(path), err)
        } else {
            anyhow::Error::new(err).context(format!("writing {}", tmp.display()))
        }
    })?;
    let copied = (|| -> io::Result<()> {
        let file = OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(path)?;
        let now = file.metadata()?;
        if !now.file_type().is_file() || now.dev() != meta.dev() || now.ino() != meta.ino() {
            return Err(io::Error::other("it was replaced while being written"));
        }
        file.write_all_at(bytes, 0)?;
        file.set_len(bytes.len() as u64)?;
        file.sync_all()
    })();
    let _ = fs::remove_file(&tmp);
    if let Err(err) = copied {
        let previous = backup
            .map(|b| format!("; its previous content is in {}", b.display()))
            .unwrap_or_default();
        bail!("writing {} in place: {err}{previous}", found.shown());
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let ours = meta.uid() == unsafe { libc::geteuid() };
    let open = meta.mode() & 0o077;
    if open != 0 {
        let private = fs::Permissions::from_mode(meta.mode() & 0o700);
        if !ours || fs::set_permissions(path, private).is_err() {
            warnings.push(format!(
                "{} is open to group or others (mode {:04o}) and now holds cluster credentials; fix: chmod 600 {}",
                path.display(),
                meta.mode() & 0o7777,
                path.display()
            ));
        }
    }
    Ok(warnings)
}

/// Whether `path` is the root of a mount: a file bind-mounted over another (Docker's and
/// devcontainers' `-v ~/.kube/config:…`), which `rename` refuses with EBUSY.
#[cfg(target_os = "linux")]
pub fn is_mount_root(path: &Path) -> bool {
    let Ok(c_path) = CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: statx only writes into the zeroed struct we own; c_path is NUL-terminated.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let rc = unsafe {
        libc::statx(
            libc::AT_FDCWD,
            c_path.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
            libc::STATX_BASIC_STATS,
            &mut stx,
        )
    };
    let flag = libc::STATX_ATTR_MOUNT_ROOT as u64;
    if rc == 0 && stx.stx_attributes_mask & flag != 0 {
        return stx.stx_attributes & flag != 0;
    }
    // Kernels before 5.8 do not report the attribute: look the path up among the mounts.
    let (Ok(canonical), Ok(mounts)) = (
        fs::canonicalize(path),
        fs::read_to_string("/proc/self/mountinfo"),
    ) else {
        return false;
    };
    mount_points(&mounts).any(|point| point == canonical)
}

#[cfg(not(target_os = "linux"))]
pub fn is_mount_root(_path: &Path) -> bool {
    false
}

/// The mount points listed in `/proc/self/mountinfo` text (field 5, octal escapes decoded).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn mount_points(mountinfo: &str) -> impl Iterator<Item = PathBuf> + '_ {
    mountinfo.lines().filter_map(|line| {
        let field = line.split(' ').nth(4)?;
        let mut bytes = Vec::with_capacity(field.len());
        let raw = field.as_bytes();
        let mut i = 0;
        while i < raw.len() {
            let octal = raw
                .get(i + 1..i + 4)
                .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)));
            match (raw[i], octal) {
                (b'\\', Some(digits)) => {
                    bytes.push(
                        digits
                            .iter()
                            .fold(0u8, |n, d| n.wrapping_mul(8) + (d - b'0')),
                    );
                    i += 4;
                }
                (byte, _) => {
                    bytes.push(byte);
                    i += 1;
                }
            }
        }
        Some(PathBuf::from(std::ffi::OsString::from_vec(bytes)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_strategy_replaces_unless_a_rename_would_lose_something() {
        let plain = Facts {
            uid: 1000,
            nlink: 1,
            mount_root: false,
        };
        assert_eq!(strategy(plain, 1000), Strategy::Replace);
        assert_eq!(strategy(Facts { uid: 1001, ..plain }, 0), Strategy::Replace);
        assert!(
            matches!(strategy(Facts { uid: 1001, ..plain }, 1000), Strategy::InPlace(r) if r.contains("another user"))
        );
        assert!(
            matches!(strategy(Facts { nlink: 2, ..plain }, 1000), Strategy::InPlace(r) if r.contains("hard links"))
        );
        assert!(
            matches!(strategy(Facts { mount_root: true, ..plain }, 0), Strategy::InPlace(r) if r.contains("mount point"))
        );
    }

    #[test]
    fn mount_points_are_read_from_mountinfo_with_escapes() {
        let text = "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw\n\
                    48 27 254:0 /home/u/.kube/config /home/dev\\040user/.kube/config rw - ext4 /dev/vda rw\n";
        let points: Vec<PathBuf> = mount_points(text).collect();
        assert_eq!(
            points,
            [
                PathBuf::from("/mnt/parent"),
                PathBuf::from("/home/dev user/.kube/config")
            ]
        );
    }
}
