// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Host files read under a root directory that a symlink cannot lead out of. A build context
//! is such a root: `COPY leak /key` with `leak -> ~/.ssh/id_rsa`, or `COPY dirlink/id_rsa`
//! through a linked directory, must not put the secret in the image, and Docker refuses both.
//!
//! Paths are resolved one component at a time with `openat(…, O_NOFOLLOW)` from a descriptor
//! of the root, and symlinks are followed by hand: a relative target from where the link is,
//! an absolute one only when it names a path under the root (taken from the root), and never
//! above the root. The result is a path under the root with no link in it; files are later
//! opened along that path, again with `O_NOFOLLOW` at every step, so a link swapped in after
//! the check fails to open instead of being followed, and the caller compares the inode it
//! opened with the one it checked. The filesystem root `/` as the root gives ordinary path
//! resolution with the same race-free opening (`--file` sources, which may be anywhere).

use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

/// As Linux's `MAXSYMLINKS`: more links than this in one path is a loop.
const MAX_LINKS: usize = 40;

/// What a path is, from `lstat` (links not followed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    pub kind: Kind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub size: u64,
    pub mtime_ns: i128,
    pub ino: u64,
    pub dev: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Meta {
    fn from_stat(st: &rustix::fs::Stat) -> Meta {
        let kind = match FileType::from_raw_mode(st.st_mode as _) {
            FileType::RegularFile => Kind::File,
            FileType::Directory => Kind::Dir,
            FileType::Symlink => Kind::Symlink,
            _ => Kind::Other,
        };
        #[allow(clippy::unnecessary_cast)] // the field types differ between platforms
        Meta {
            kind,
            mode: (st.st_mode as u32) & 0o7777,
            size: st.st_size as u64,
            mtime_ns: i128::from(st.st_mtime as i64) * 1_000_000_000
                + i128::from(st.st_mtime_nsec as i64),
            ino: st.st_ino as u64,
            dev: st.st_dev as u64,
        }
    }
}

/// Why a path could not be resolved under the root.
#[derive(Debug)]
pub enum ResolveError {
    /// A symlink (`link`, relative to the root) whose `target` leads out of the root.
    Escape { link: PathBuf, target: PathBuf },
    /// `..` in the path itself climbs above the root.
    Above,
    /// Too many links: a loop.
    Loop { link: PathBuf },
    /// The path (as far as it was resolved) could not be read.
    Io { path: PathBuf, err: std::io::Error },
}

impl ResolveError {
    /// One line for `what` (e.g. `COPY source leak (Dockerfile:5)`) under `root`; `fix` ends
    /// the message when the path is missing or unreadable.
    pub fn into_error(self, root: &Root, what: &str, fix: &str) -> anyhow::Error {
        match self {
            ResolveError::Escape { link, target } => anyhow::anyhow!(
                "{what}: {} links to {}, outside the build context {}; copy the file into the \
                 context instead of linking to it (docker build refuses it too)",
                root.display(&link).display(),
                target.display(),
                root.path.display()
            ),
            ResolveError::Above => anyhow::anyhow!(
                "{what} is outside the build context {}; a build reads only files inside its \
                 context: copy the file in, or pass a --context that contains it",
                root.path.display()
            ),
            ResolveError::Loop { link } => anyhow::anyhow!(
                "{what}: too many levels of symbolic links at {}; fix the link loop",
                root.display(&link).display()
            ),
            ResolveError::Io { err, .. } => anyhow::anyhow!("{what}: {err}; {fix}"),
        }
    }
}

/// A directory that paths are resolved under; see the module docs.
#[derive(Debug)]
pub struct Root {
    /// As given (links in it followed: it is the caller's choice of root).
    pub path: PathBuf,
    /// Canonical, to recognise absolute link targets inside the root.
    real: PathBuf,
    fd: OwnedFd,
}

fn io(err: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(err.raw_os_error())
}

/// `name` must be one plain path component.
fn plain(name: &OsStr) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.as_bytes().contains(&b'/')
}

impl Root {
    pub fn open(path: &Path) -> std::io::Result<Root> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(io)?;
        let real = std::fs::canonicalize(path)?;
        Ok(Root {
            path: path.to_path_buf(),
            real,
            fd,
        })
    }

    /// The filesystem root, where every path resolves as usual.
    pub fn filesystem() -> std::io::Result<Root> {
        Root::open(Path::new("/"))
    }

    pub fn is_filesystem_root(&self) -> bool {
        self.real == Path::new("/")
    }

    /// `rel` (relative to the root) as a host path, for messages.
    pub fn display(&self, rel: &Path) -> PathBuf {
        if rel.as_os_str().is_empty() {
            self.path.clone()
        } else {
            self.path.join(rel)
        }
    }

    /// The directory `rel` (no links in it), opened without following any link.
    fn open_dir(&self, rel: &Path) -> std::io::Result<OwnedFd> {
        let mut fd = rustix::io::dup(&self.fd).map_err(io)?;
        for comp in rel.components() {
            let Component::Normal(name) = comp else {
                return Err(std::io::Error::other("not a resolved path"));
            };
            fd = rustix::fs::openat(
                &fd,
                name,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(io)?;
        }
        Ok(fd)
    }

    /// The parent directory of `rel` and its last component.
    fn parent_of<'a>(&self, rel: &'a Path) -> std::io::Result<(OwnedFd, &'a OsStr)> {
        let name = rel
            .file_name()
            .filter(|n| plain(n))
            .ok_or_else(|| std::io::Error::other("not a resolved path"))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        Ok((self.open_dir(parent)?, name))
    }

    /// `lstat` of `rel` (the root itself when empty), no link followed on the way.
    pub fn lstat(&self, rel: &Path) -> std::io::Result<Meta> {
        if rel.as_os_str().is_empty() {
            return Ok(Meta::from_stat(&rustix::fs::fstat(&self.fd).map_err(io)?));
        }
        let (dir, name) = self.parent_of(rel)?;
        let st = rustix::fs::statat(&dir, name, AtFlags::SYMLINK_NOFOLLOW).map_err(io)?;
        Ok(Meta::from_stat(&st))
    }

    /// The target of the symlink `rel`.
    pub fn read_link(&self, rel: &Path) -> std::io::Result<PathBuf> {
        let (dir, name) = self.parent_of(rel)?;
        let target = rustix::fs::readlinkat(&dir, name, Vec::new()).map_err(io)?;
        Ok(PathBuf::from(OsStr::from_bytes(target.as_bytes())))
    }

    /// The names in directory `rel`, sorted.
    pub fn read_dir(&self, rel: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
        let fd = self.open_dir(rel)?;
        let mut names = Vec::new();
        for entry in rustix::fs::Dir::new(fd).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = OsStr::from_bytes(entry.file_name().to_bytes());
            if name != "." && name != ".." {
                names.push(name.to_os_string());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The regular file `rel` opened for reading, no link followed on the way, with what it
    /// is now. A FIFO or device is opened without blocking and refused.
    pub fn open_file(&self, rel: &Path) -> std::io::Result<(File, Meta)> {
        let (dir, name) = self.parent_of(rel)?;
        let fd = rustix::fs::openat(
            &dir,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
        )
        .map_err(io)?;
        let meta = Meta::from_stat(&rustix::fs::fstat(&fd).map_err(io)?);
        if meta.kind != Kind::File {
            return Err(std::io::Error::other("not a regular file"));
        }
        Ok((File::from(fd), meta))
    }

    /// Resolve `path` (relative to the root; a leading `/` is the root) to a path under the
    /// root with no symlink in it, following links only while they stay inside. The last
    /// component is followed too when it is a link (as `COPY` does for its sources).
    pub fn resolve(&self, path: &Path) -> Result<PathBuf, ResolveError> {
        let mut done: Vec<std::ffi::OsString> = Vec::new();
        let mut todo: Vec<std::ffi::OsString> = Vec::new();
        push_components(&mut todo, path);
        let mut links = 0;
        while let Some(name) = todo.pop() {
            if name == ".." {
                if done.pop().is_none() && !self.is_filesystem_root() {
                    return Err(ResolveError::Above);
                }
                continue;
            }
            let here: PathBuf = done.iter().collect::<PathBuf>().join(&name);
            let meta = self.lstat(&here).map_err(|err| ResolveError::Io {
                path: here.clone(),
                err,
            })?;
            if meta.kind != Kind::Symlink {
                if meta.kind != Kind::Dir && !todo.is_empty() {
                    return Err(ResolveError::Io {
                        path: here,
                        err: std::io::Error::from_raw_os_error(libc::ENOTDIR),
                    });
                }
                done.push(name);
                continue;
            }
            links += 1;
            if links > MAX_LINKS {
                return Err(ResolveError::Loop { link: here });
            }
            let target = self.read_link(&here).map_err(|err| ResolveError::Io {
                path: here.clone(),
                err,
            })?;
            let escape = || ResolveError::Escape {
                link: here.clone(),
                target: target.clone(),
            };
            let rest = if target.is_absolute() {
                let inside = target.strip_prefix(&self.real).map_err(|_| escape())?;
                done.clear();
                inside
            } else {
                target.as_path()
            };
            // `..` in a link's target may not climb above the root either; check it here so
            // the error names the link.
            let mut depth = done.len();
            for comp in rest.components() {
                match comp {
                    Component::ParentDir if depth == 0 && !self.is_filesystem_root() => {
                        return Err(escape());
                    }
                    Component::ParentDir => depth = depth.saturating_sub(1),
                    Component::Normal(_) => depth += 1,
                    _ => {}
                }
            }
            push_components(&mut todo, rest);
        }
        Ok(done.iter().collect())
    }
}

/// Push `path`'s components onto `todo` so that they pop in order.
fn push_components(todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    let comps: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    todo.extend(comps.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let ctx = dir.path().join("ctx");
        std::fs::create_dir_all(ctx.join("bin/sub")).unwrap();
        std::fs::write(ctx.join("bin/gw"), b"gw").unwrap();
        std::fs::write(dir.path().join("secret"), b"key").unwrap();
        (dir, ctx)
    }

    #[test]
    fn links_inside_the_root_are_followed() {
        let (_dir, ctx) = setup();
        symlink("bin/gw", ctx.join("rel")).unwrap();
        symlink("../gw", ctx.join("bin/sub/up")).unwrap();
        symlink(ctx.join("bin"), ctx.join("abs")).unwrap();
        symlink("bin", ctx.join("dirlink")).unwrap();
        let root = Root::open(&ctx).unwrap();
        let gw = PathBuf::from("bin/gw");
        assert_eq!(root.resolve(Path::new("rel")).unwrap(), gw);
        assert_eq!(root.resolve(Path::new("/bin/sub/up")).unwrap(), gw);
        assert_eq!(root.resolve(Path::new("abs/gw")).unwrap(), gw);
        assert_eq!(root.resolve(Path::new("dirlink/./sub/../gw")).unwrap(), gw);
        assert_eq!(root.lstat(&gw).unwrap().size, 2);
    }

    #[test]
    fn links_out_of_the_root_are_refused() {
        let (dir, ctx) = setup();
        symlink(dir.path().join("secret"), ctx.join("leak")).unwrap();
        symlink("../secret", ctx.join("relleak")).unwrap();
        symlink(dir.path(), ctx.join("dirlink")).unwrap();
        symlink("../../..", ctx.join("bin/sub/up")).unwrap();
        let root = Root::open(&ctx).unwrap();
        for (path, link) in [
            ("leak", "leak"),
            ("relleak", "relleak"),
            ("dirlink/secret", "dirlink"),
            ("bin/sub/up/secret", "bin/sub/up"),
        ] {
            match root.resolve(Path::new(path)) {
                Err(ResolveError::Escape { link: got, .. }) => {
                    assert_eq!(got, PathBuf::from(link), "{path}")
                }
                other => panic!("{path}: {other:?}"),
            }
        }
        assert!(matches!(
            root.resolve(Path::new("../secret")),
            Err(ResolveError::Above)
        ));
        symlink("loop", ctx.join("loop")).unwrap();
        assert!(matches!(
            root.resolve(Path::new("loop")),
            Err(ResolveError::Loop { .. })
        ));
    }

    #[test]
    fn a_link_swapped_in_after_resolving_is_not_opened() {
        let (dir, ctx) = setup();
        let root = Root::open(&ctx).unwrap();
        let resolved = root.resolve(Path::new("bin/gw")).unwrap();
        // The race: the checked file becomes a link, or a directory on the way does.
        std::fs::remove_file(ctx.join("bin/gw")).unwrap();
        symlink(dir.path().join("secret"), ctx.join("bin/gw")).unwrap();
        let err = root.open_file(&resolved).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::ELOOP), "{err}");
        std::fs::rename(ctx.join("bin"), ctx.join("bin.old")).unwrap();
        std::fs::create_dir(dir.path().join("elsewhere")).unwrap();
        std::fs::write(dir.path().join("elsewhere/gw"), b"key").unwrap();
        symlink(dir.path().join("elsewhere"), ctx.join("bin")).unwrap();
        assert!(root.open_file(&resolved).is_err());
        assert!(root.read_dir(Path::new("bin")).is_err());
    }

    #[test]
    fn the_filesystem_root_resolves_as_usual_and_refuses_fifos() {
        let (dir, ctx) = setup();
        symlink(dir.path().join("secret"), ctx.join("leak")).unwrap();
        let root = Root::filesystem().unwrap();
        let rel = ctx.join("leak");
        let got = root.resolve(&rel).unwrap();
        let want = std::fs::canonicalize(dir.path().join("secret")).unwrap();
        assert_eq!(Path::new("/").join(&got), want);
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let rel = root.resolve(&fifo).unwrap();
        assert!(
            root.open_file(&rel).is_err(),
            "a FIFO is refused, not waited on"
        );
    }
}
