// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! One image layer from host files: a deterministic tar (sorted entries, parent directories as
//! entries, fixed mtime, uid/gid from the request, no user names), compressed with zstd or gzip
//! in one pass that also computes both digests, so the same input always gives the same blob.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

use super::manifest::{OCI_LAYER_GZIP, OCI_LAYER_ZSTD};

/// A host path to put at `dest` (absolute, in the image). A directory copies its tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    pub source: PathBuf,
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
        source: PathBuf,
        size: u64,
        /// mtime (ns) and inode of the source, for the cache key only.
        mtime_ns: i128,
        ino: u64,
    },
    Symlink {
        target: PathBuf,
    },
}

/// Expand `files` into the sorted entry list: directories walked, every parent directory
/// present (0755, root-owned unless copied), later files replacing earlier ones at the same path.
pub fn entries(files: &[LayerFile]) -> anyhow::Result<BTreeMap<String, Entry>> {
    let mut out = BTreeMap::new();
    for file in files {
        let dest = clean_dest(&file.dest)?;
        // Like COPY, a top-level symlink is followed; links inside a copied tree are kept.
        let meta = fs::metadata(&file.source).map_err(|e| {
            anyhow::anyhow!(
                "reading source file {}: {e}; check the --file SRC path or the COPY source",
                file.source.display()
            )
        })?;
        add_path(&mut out, &file.source, &meta, dest, file)?;
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
    source: &Path,
    meta: &fs::Metadata,
    dest: String,
    file: &LayerFile,
) -> anyhow::Result<()> {
    let mode = file.mode.unwrap_or(meta.permissions().mode() & 0o7777);
    let kind = if meta.file_type().is_symlink() {
        let target = fs::read_link(source)
            .with_context(|| format!("reading symlink {}", source.display()))?;
        EntryKind::Symlink { target }
    } else if meta.is_dir() {
        EntryKind::Dir
    } else if meta.is_file() {
        EntryKind::File {
            source: source.to_path_buf(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            ino: meta.ino(),
        }
    } else {
        bail!(
            "source {} is not a regular file, directory or symlink",
            source.display()
        );
    };
    let is_dir = kind == EntryKind::Dir;
    if !dest.is_empty() {
        out.insert(
            dest.clone(),
            Entry {
                kind,
                mode: if meta.file_type().is_symlink() {
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
        let mut children: Vec<_> = fs::read_dir(source)
            .with_context(|| format!("listing directory {}", source.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("listing directory {}", source.display()))?;
        children.sort_by_key(|c| c.file_name());
        for child in children {
            let name = child.file_name();
            let name = name
                .to_str()
                .with_context(|| format!("non-UTF-8 file name in {}", source.display()))?;
            let path = child.path();
            let child_meta = fs::symlink_metadata(&path)
                .with_context(|| format!("reading {}", path.display()))?;
            let child_dest = if dest.is_empty() {
                name.to_string()
            } else {
                format!("{dest}/{name}")
            };
            add_path(out, &path, &child_meta, child_dest, file)?;
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

/// Write `entries` as a tar stream with every timestamp at `epoch`.
pub fn write_tar<W: Write>(
    entries: &BTreeMap<String, Entry>,
    epoch: u64,
    writer: W,
) -> anyhow::Result<W> {
    let mut tar = tar::Builder::new(writer);
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
            EntryKind::File { source, size, .. } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(*size);
                let file =
                    File::open(source).with_context(|| format!("opening {}", source.display()))?;
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
    let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
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
    use std::io::Read;

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
