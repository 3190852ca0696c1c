// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! One image layer from host files: a deterministic tar (sorted entries, parent directories as
//! entries, fixed mtime, uid/gid from the request, no user names), compressed with zstd or gzip
//! in one pass that also computes both digests, so the same input always gives the same blob.
//! Sources are read through [`fsroot`](super::fsroot): a build context's files never through
//! a link out of it, and no file through a link swapped in after it was checked.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::fsroot::{Kind, Meta, Root};
use super::manifest::{OCI_LAYER_GZIP, OCI_LAYER_ZSTD};

/// A host path to put at `dest` (absolute, in the image). A directory copies its tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    pub source: PathBuf,
    /// The build context `source` must stay inside (it starts with this path), links
    /// included; `None`: anywhere on the host (`--file`).
    pub context: Option<PathBuf>,
    pub dest: String,
    /// Permission bits for everything copied from `source`; `None` keeps the source's.
    pub mode: Option<u32>,
    pub uid: u64,
    pub gid: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    Zstd,
    Gzip,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Zstd => OCI_LAYER_ZSTD,
            Compression::Gzip => OCI_LAYER_GZIP,
        }
    }

    /// Level 1 for both: the inner loop pushes to a local registry, where the time saved
    /// compressing harder is never won back on the wire.
    pub fn default_level(self) -> u32 {
        1
    }
}

/// What goes into the tar, keyed and sorted by path (relative, no leading '/').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File {
        /// The host path, for messages and the cache key.
        source: PathBuf,
        /// Read as `rel` under `root`, with no link followed.
        root: PathBuf,
        rel: PathBuf,
        size: u64,
        /// mtime (ns) of the source, for the cache key; device and inode, also to check that
        /// the file read is the one listed.
        mtime_ns: i128,
        ino: u64,
        dev: u64,
    },
    Symlink {
        target: PathBuf,
    },
}

/// The fix named when a source cannot be read.
const SOURCE_FIX: &str = "check the --file SRC path or the COPY source";

/// Where `file` is read from: its context (or the filesystem root) and the path under it.
fn root_of<'a>(
    roots: &'a mut HashMap<Option<PathBuf>, Root>,
    file: &LayerFile,
) -> anyhow::Result<(&'a Root, PathBuf)> {
    let rel = match &file.context {
        Some(ctx) => file.source.strip_prefix(ctx).with_context(|| {
            format!(
                "source {} is not under its build context {}",
                file.source.display(),
                ctx.display()
            )
        })?,
        None => file.source.strip_prefix("/").unwrap_or(&file.source),
    }
    .to_path_buf();
    if !roots.contains_key(&file.context) {
        let root = match &file.context {
            Some(ctx) => Root::open(ctx).map_err(|e| {
                anyhow::anyhow!(
                    "opening build context {}: {e}; check --context",
                    ctx.display()
                )
            })?,
            None => Root::filesystem().context("opening /")?,
        };
        roots.insert(file.context.clone(), root);
    }
    Ok((&roots[&file.context], rel))
}

/// Expand `files` into the sorted entry list: directories walked, every parent directory
/// present (0755, root-owned unless copied), later files replacing earlier ones at the same path.
pub fn entries(files: &[LayerFile]) -> anyhow::Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    let mut roots = HashMap::new();
    for file in files {
        let dest = clean_dest(&file.dest)?;
        let (root, rel) = root_of(&mut roots, file)?;
        // Like COPY, a top-level symlink is followed (inside the context only); links inside a
        // copied tree are kept as links.
        let what = format!("reading source file {}", file.source.display());
        let resolved = root
            .resolve(&rel)
            .map_err(|e| e.into_error(root, &what, SOURCE_FIX))?;
        let meta = root
            .lstat(&resolved)
            .map_err(|e| anyhow::anyhow!("{what}: {e}; {SOURCE_FIX}"))?;
        add_path(&mut out, root, &resolved, &meta, dest, file)?;
    }
    let parents: Vec<String> = out.keys().flat_map(|path| ancestors(path)).collect();
    for parent in parents {
        out.entry(parent).or_insert(Entry {
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
        });
    }
    Ok(out)
}

fn add_path(
    out: &mut BTreeMap<String, Entry>,
    root: &Root,
    rel: &Path,
    meta: &Meta,
    dest: String,
    file: &LayerFile,
) -> anyhow::Result<()> {
    let source = root.display(rel);
    let mode = file.mode.unwrap_or(meta.mode);
    let kind = match meta.kind {
        Kind::Symlink => {
            let target = root
                .read_link(rel)
                .with_context(|| format!("reading symlink {}", source.display()))?;
            EntryKind::Symlink { target }
        }
        Kind::Dir => EntryKind::Dir,
        Kind::File => EntryKind::File {
            source: source.clone(),
            root: root.path.clone(),
            rel: rel.to_path_buf(),
            size: meta.size,
            mtime_ns: meta.mtime_ns,
            ino: meta.ino,
            dev: meta.dev,
        },
        Kind::Other => bail!(
            "source {} is not a regular file, directory or symlink",
            source.display()
        ),
    };
    let is_dir = kind == EntryKind::Dir;
    if !dest.is_empty() {
        out.insert(
            dest.clone(),
            Entry {
                kind,
                mode: if meta.kind == Kind::Symlink {
                    0o777
                } else {
                    mode
                },
                uid: file.uid,
                gid: file.gid,
            },
        );
    }
    if is_dir {
        let children = root
            .read_dir(rel)
            .with_context(|| format!("listing directory {}", source.display()))?;
        for name in children {
            let name_str = name
                .to_str()
                .with_context(|| format!("non-UTF-8 file name in {}", source.display()))?;
            let child = rel.join(&name);
            let child_meta = root
                .lstat(&child)
                .with_context(|| format!("reading {}", root.display(&child).display()))?;
            let child_dest = if dest.is_empty() {
                name_str.to_string()
            } else {
                format!("{dest}/{name_str}")
            };
            add_path(out, root, &child, &child_meta, child_dest, file)?;
        }
    }
    Ok(())
}

/// `/usr/local/bin/gw` → `usr/local/bin/gw`; rejects `..` so nothing lands outside the root.
fn clean_dest(dest: &str) -> anyhow::Result<String> {
    if !dest.starts_with('/') {
        bail!("destination {dest:?} must be an absolute path in the image");
    }
    let mut parts = Vec::new();
    for part in dest.split('/') {
        match part {
            "" | "." => {}
            ".." => bail!("destination {dest:?} must not contain '..'"),
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

fn ancestors(path: &str) -> Vec<String> {
    path.match_indices('/')
        .map(|(i, _)| path[..i].to_string())
        .collect()
}

/// Write `entries` as a tar stream with every timestamp at `epoch`. Each file is opened along
/// its resolved path with no link followed, and must still be the file [`entries`] listed.
pub fn write_tar<W: Write>(
    entries: &BTreeMap<String, Entry>,
    epoch: u64,
    writer: W,
) -> anyhow::Result<W> {
    let mut tar = tar::Builder::new(writer);
    let mut roots: HashMap<PathBuf, Root> = HashMap::new();
    for (path, entry) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mode(entry.mode);
        header.set_uid(entry.uid);
        header.set_gid(entry.gid);
        header.set_mtime(epoch);
        match &entry.kind {
            EntryKind::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{path}/"), io::empty())
                    .with_context(|| format!("adding directory {path} to the layer"))?;
            }
            EntryKind::File {
                source,
                root,
                rel,
                size,
                ino,
                dev,
                ..
            } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(*size);
                if !roots.contains_key(root) {
                    let opened =
                        Root::open(root).with_context(|| format!("opening {}", root.display()))?;
                    roots.insert(root.clone(), opened);
                }
                let changed = || {
                    anyhow::anyhow!(
                        "source {} changed while the layer was being built; publish again \
                         once the build that writes it is done",
                        source.display()
                    )
                };
                let (file, now) = roots[root].open_file(rel).map_err(|e| {
                    if e.raw_os_error() == Some(libc::ELOOP) {
                        changed()
                    } else {
                        anyhow::anyhow!("opening {}: {e}", source.display())
                    }
                })?;
                if (now.ino, now.dev) != (*ino, *dev) {
                    return Err(changed());
                }
                // The size in the header was read earlier; a file that changes size meanwhile
                // would corrupt the tar, so read exactly that many bytes and check.
                let mut limited = io::Read::take(file, *size);
                tar.append_data(&mut header, path, &mut limited)
                    .with_context(|| format!("adding {} to the layer", source.display()))?;
                if limited.limit() != 0 {
                    bail!(
                        "source {} shrank while it was being read; retry when the build is done",
                        source.display()
                    );
                }
            }
            EntryKind::Symlink { target } => {
                header.set_entry_type(tar::EntryType::Symlink);
                header.set_size(0);
                tar.append_link(&mut header, path, target)
                    .with_context(|| format!("adding symlink {path} to the layer"))?;
            }
        }
    }
    tar.into_inner().context("finishing the layer tar")
}

/// A writer that hashes and counts what passes through.
pub struct HashWriter<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> HashWriter<W> {
    pub fn new(inner: W) -> HashWriter<W> {
        HashWriter {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, `sha256:<hex>` and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        let digest = format!("sha256:{}", hex::encode(self.hasher.finalize()));
        (self.inner, digest, self.count)
    }
}

impl<W: Write> Write for HashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum Encoder<W: Write> {
    Zstd(zstd::stream::write::Encoder<'static, W>),
    Gzip(flate2::write::GzEncoder<W>),
}

impl<W: Write> Encoder<W> {
    fn new(compression: Compression, level: u32, inner: W) -> io::Result<Encoder<W>> {
        Ok(match compression {
            Compression::Zstd => {
                let level = i32::try_from(level).unwrap_or(i32::MAX);
                let mut enc = zstd::stream::write::Encoder::new(inner, level)?;
                // zstd's multi-threaded output does not depend on the worker count, so the
                // digest is the same on every machine; use all cores (it is the slow step).
                let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
                enc.multithread(u32::try_from(workers).unwrap_or(1))?;
                Encoder::Zstd(enc)
            }
            Compression::Gzip => {
                // GzBuilder writes mtime 0 and no file name: the header is deterministic.
                Encoder::Gzip(
                    flate2::GzBuilder::new().write(inner, flate2::Compression::new(level.min(9))),
                )
            }
        })
    }

    fn finish(self) -> io::Result<W> {
        match self {
            Encoder::Zstd(enc) => enc.finish(),
            Encoder::Gzip(enc) => enc.finish(),
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Zstd(enc) => enc.write(buf),
            Encoder::Gzip(enc) => enc.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Zstd(enc) => enc.flush(),
            Encoder::Gzip(enc) => enc.flush(),
        }
    }
}

/// A compressed layer blob on disk and its descriptors.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Built {
    /// `sha256:` of the compressed blob: the manifest's layer digest.
    pub digest: String,
    /// `sha256:` of the uncompressed tar: the config's `rootfs.diff_ids` entry.
    pub diff_id: String,
    pub size: u64,
    pub media_type: String,
}

/// Tar and compress `entries` into `out` in one pass.
pub fn build(
    entries: &BTreeMap<String, Entry>,
    compression: Compression,
    level: u32,
    epoch: u64,
    out: &Path,
) -> anyhow::Result<Built> {
    // Private whatever the umask: the layer holds whatever the sources held (0600 inputs
    // included), and a file another user could rewrite would be pushed as ours.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("creating {}", out.display()))?;
    let compressed = HashWriter::new(BufWriter::with_capacity(1 << 20, file));
    let encoder = Encoder::new(compression, level, compressed).context("starting compressor")?;
    // tar copies file data in 8 KiB writes; batching them keeps hashing and compression in
    // large, fast calls.
    let tar_out = BufWriter::with_capacity(1 << 20, HashWriter::new(encoder));
    let tar_out = write_tar(entries, epoch, tar_out)?;
    let (encoder, diff_id, _) = tar_out
        .into_inner()
        .map_err(|e| e.into_error())
        .context("writing the layer")?
        .finish();
    let compressed = encoder.finish().context("finishing compression")?;
    let (file, digest, size) = compressed.finish();
    file.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_data().or(Ok(())))
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(Built {
        digest,
        diff_id,
        size,
        media_type: compression.media_type().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;

    fn tmp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("k8s-dev-layer-test-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn file(source: &Path, dest: &str, mode: Option<u32>) -> LayerFile {
        LayerFile {
            source: source.to_path_buf(),
            context: None,
            dest: dest.into(),
            mode,
            uid: 0,
            gid: 0,
        }
    }

    fn listing(tar_bytes: &[u8]) -> Vec<String> {
        let mut archive = tar::Archive::new(tar_bytes);
        archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                format!(
                    "{} {:o} {}:{} {} {}",
                    e.path().unwrap().display(),
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap(),
                    h.mtime().unwrap(),
                    h.size().unwrap()
                )
            })
            .collect()
    }

    #[test]
    fn entries_are_sorted_with_parents_and_modes() {
        let dir = tmp("sorted");
        let bin = dir.join("gw");
        fs::write(&bin, b"binary").unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o600)).unwrap();
        let conf = dir.join("conf");
        fs::write(&conf, b"x=1\n").unwrap();
        let got = entries(&[
            file(&bin, "/usr/local/bin/gw", Some(0o755)),
            file(&conf, "/etc/gw.conf", None),
        ])
        .unwrap();
        let tar_bytes = write_tar(&got, 0, Vec::new()).unwrap();
        assert_eq!(
            listing(&tar_bytes),
            vec![
                "etc/ 755 0:0 0 0",
                "etc/gw.conf 644 0:0 0 4",
                "usr/ 755 0:0 0 0",
                "usr/local/ 755 0:0 0 0",
                "usr/local/bin/ 755 0:0 0 0",
                "usr/local/bin/gw 755 0:0 0 6",
            ]
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn directory_copies_tree_and_keeps_inner_symlinks() {
        let dir = tmp("tree");
        let root = dir.join("rootfs");
        fs::create_dir_all(root.join("bin")).unwrap();
        fs::write(root.join("bin/busybox"), b"bb").unwrap();
        std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
        let mut f = file(&root, "/", Some(0o755));
        f.uid = 65532;
        f.gid = 65532;
        let got = entries(&[f]).unwrap();
        let keys: Vec<&String> = got.keys().collect();
        assert_eq!(keys, vec!["bin", "bin/busybox", "bin/sh"]);
        assert_eq!(
            got["bin/sh"].kind,
            EntryKind::Symlink {
                target: "busybox".into()
            }
        );
        assert_eq!(got["bin/busybox"].uid, 65532);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn identical_input_gives_identical_digests_and_epoch_matters() {
        let dir = tmp("determinism");
        let bin = dir.join("app");
        fs::write(&bin, vec![7u8; 300_000]).unwrap();
        let list = entries(&[file(&bin, "/app", None)]).unwrap();
        for compression in [Compression::Zstd, Compression::Gzip] {
            // build() makes a new file (create_new): clear the last round's.
            for name in ["a", "b", "c"] {
                let _ = fs::remove_file(dir.join(name));
            }
            let a = build(&list, compression, 1, 0, &dir.join("a")).unwrap();
            // Touching the source changes its mtime; the layer must not change.
            fs::write(&bin, vec![7u8; 300_000]).unwrap();
            let list2 = entries(&[file(&bin, "/app", None)]).unwrap();
            let b = build(&list2, compression, 1, 0, &dir.join("b")).unwrap();
            assert_eq!(a, b);
            assert_eq!(
                fs::read(dir.join("a")).unwrap(),
                fs::read(dir.join("b")).unwrap()
            );
            assert_eq!(a.size, fs::metadata(dir.join("a")).unwrap().len());
            let c = build(&list, compression, 1, 1_700_000_000, &dir.join("c")).unwrap();
            assert_ne!(a.diff_id, c.diff_id);
        }
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn digests_match_the_bytes() {
        let dir = tmp("digests");
        let bin = dir.join("app");
        fs::write(&bin, b"hello").unwrap();
        let list = entries(&[file(&bin, "/app", None)]).unwrap();
        let built = build(&list, Compression::Gzip, 1, 0, &dir.join("blob")).unwrap();
        let blob = fs::read(dir.join("blob")).unwrap();
        assert_eq!(
            built.digest,
            format!("sha256:{}", hex::encode(Sha256::digest(&blob)))
        );
        let mut tar_bytes = Vec::new();
        flate2::read::GzDecoder::new(&blob[..])
            .read_to_end(&mut tar_bytes)
            .unwrap();
        assert_eq!(
            built.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&tar_bytes)))
        );
        assert_eq!(built.media_type, OCI_LAYER_GZIP);
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn zstd_output_does_not_depend_on_worker_count() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let compress = |workers: u32| {
            let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
            enc.multithread(workers).unwrap();
            enc.write_all(&data).unwrap();
            enc.finish().unwrap()
        };
        assert_eq!(compress(1), compress(4));
    }

    #[test]
    fn a_source_swapped_after_listing_is_not_read() {
        let dir = tmp("swap");
        let ctx = dir.join("ctx");
        fs::create_dir_all(ctx.join("bin")).unwrap();
        fs::write(ctx.join("bin/gw"), b"gw").unwrap();
        fs::write(dir.join("secret"), b"id_rsa").unwrap();
        let f = LayerFile {
            context: Some(ctx.clone()),
            ..file(&ctx.join("bin/gw"), "/gw", None)
        };
        let list = entries(std::slice::from_ref(&f)).unwrap();
        // Between the check and the read: the file becomes a link to a secret.
        fs::remove_file(ctx.join("bin/gw")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), ctx.join("bin/gw")).unwrap();
        let err = write_tar(&list, 0, Vec::new()).unwrap_err();
        assert!(
            format!("{err:#}").contains("changed while the layer was being built"),
            "{err:#}"
        );
        // Or another file of the same size is renamed over it.
        fs::remove_file(ctx.join("bin/gw")).unwrap();
        fs::write(ctx.join("bin/gw"), b"gw").unwrap();
        let list = entries(std::slice::from_ref(&f)).unwrap();
        fs::write(ctx.join("other"), b"xx").unwrap();
        fs::rename(ctx.join("other"), ctx.join("bin/gw")).unwrap();
        let err = write_tar(&list, 0, Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("changed while"), "{err:#}");
        // Inside a copied tree, a link is a link: its target is never read.
        fs::remove_file(ctx.join("bin/gw")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret"), ctx.join("bin/gw")).unwrap();
        let tree = LayerFile {
            context: Some(ctx.clone()),
            ..file(&ctx.join("bin"), "/bin", None)
        };
        let list = entries(&[tree]).unwrap();
        let tar_bytes = write_tar(&list, 0, Vec::new()).unwrap();
        assert!(!tar_bytes.windows(6).any(|w| w == b"id_rsa"));
        assert!(matches!(list["bin/gw"].kind, EntryKind::Symlink { .. }));
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn missing_source_and_bad_dest_are_errors() {
        let err = entries(&[file(Path::new("/nonexistent/gw"), "/gw", None)]).unwrap_err();
        assert!(
            format!("{err:#}").starts_with("reading source file /nonexistent/gw: No such file"),
            "{err:#}"
        );
        let err = clean_dest("relative/x").unwrap_err();
        assert!(err.to_string().contains("must be an absolute path"));
        assert!(clean_dest("/a/../b").is_err());
        assert_eq!(clean_dest("/usr//bin/./x").unwrap(), "usr/bin/x");
    }
}
