// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The last layer built for each set of inputs, so that an unchanged binary skips tarring and
//! compressing. A slot (the source and destination paths, compression and level) remembers one
//! layer: its key (every entry's size, mtime, inode, mode and owner), descriptor and blob file.
//! A change replaces the slot's layer, so the cache holds one blob per slot and at most
//! [`MAX_SLOTS`] slots.
//!
//! A cached blob is pushed as this user's image, so nobody else may write it: the directories
//! are 0700 and the files 0600 whatever the umask, a directory owned by another user is
//! refused, an index or blob that is not ours alone is not used, and a blob is hashed against
//! its digest ([`verify_blob`]) before its bytes are used again. That last check waits until
//! the bytes are needed (the registry lacks the blob): an unchanged publish, where the registry
//! has it, reads nothing, and that is the path every sync of an unchanged binary takes.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::layer::{Built, Compression, Entry, EntryKind, LayerFile};

/// Slots kept; the least recently used go first.
pub const MAX_SLOTS: usize = 16;
const INDEX: &str = "layers.json";
/// Bump when the tar layout changes, so old entries stop matching.
const FORMAT: &str = "k8s-dev-layer-v1";

#[derive(Debug, Default, Serialize, Deserialize)]
struct Index {
    slots: BTreeMap<String, Slot>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Slot {
    key: String,
    used: u64,
    layer: Built,
}

/// Which slot a request uses: the same command line maps to the same slot.
pub fn slot_of(files: &[LayerFile], compression: Compression, level: u32) -> String {
    let mut h = Sha256::new();
    h.update(FORMAT);
    for f in files {
        h.update(format!(
            "\0{}\0{:?}\0{}\0{:?}\0{}:{}",
            f.source.display(),
            f.context,
            f.dest,
            f.mode,
            f.uid,
            f.gid
        ));
    }
    h.update(format!("\0{compression:?}\0{level}"));
    hex::encode(h.finalize())
}

/// What makes a layer differ: every entry as it is on disk now, and the fixed mtime.
pub fn key_of(entries: &BTreeMap<String, Entry>, epoch: u64) -> String {
    let mut h = Sha256::new();
    h.update(format!("{FORMAT}\0{epoch}"));
    for (path, e) in entries {
        h.update(format!("\0{path}\0{:o}\0{}:{}\0", e.mode, e.uid, e.gid));
        match &e.kind {
            EntryKind::Dir => h.update("d"),
            EntryKind::File {
                source,
                size,
                mtime_ns,
                ino,
                dev,
                ..
            } => h.update(format!(
                "f{}\0{size}\0{mtime_ns}\0{ino}\0{dev}",
                source.display()
            )),
            EntryKind::Symlink { target } => h.update(format!("l{}", target.display())),
        }
    }
    hex::encode(h.finalize())
}

pub struct LayerCache {
    dir: PathBuf,
}

/// This process's effective uid: the owner every cache file must have.
fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// `dir` as a private directory: created 0700, or an existing one of ours tightened to 0700.
fn private_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) => bail!(
            "creating layer cache directory {}: {e}; set K8S_DEV_CACHE_DIR to a directory \
             you can write, or pass --no-cache",
            dir.display()
        ),
    }
    let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
    if !meta.is_dir() {
        bail!(
            "layer cache {} is not a directory; set K8S_DEV_CACHE_DIR to a directory, or pass \
             --no-cache",
            dir.display()
        );
    }
    if meta.uid() != euid() {
        bail!(
            "layer cache {} belongs to uid {}, not to you (uid {}), who could plant layers \
             there; set K8S_DEV_CACHE_DIR to a directory of your own, or pass --no-cache",
            dir.display(),
            meta.uid(),
            euid()
        );
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("making {} private (0700)", dir.display()))?;
    }
    Ok(())
}

/// Write `bytes` to a new private file (0600).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// Whether `meta` is a file of `size` bytes that is ours and nobody else's to write.
fn private_file(meta: &fs::Metadata, size: u64) -> bool {
    meta.is_file() && meta.uid() == euid() && meta.mode() & 0o022 == 0 && meta.len() == size
}

/// Whether the blob at `path` is ours and nobody else's to write, and hashes to `digest`.
pub fn verify_blob(path: &Path, digest: &str, size: u64) -> bool {
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    if !file.metadata().is_ok_and(|m| private_file(&m, size)) {
        return false;
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(_) => return false,
        }
    }
    format!("sha256:{}", hex::encode(hasher.finalize())) == digest
}

impl LayerCache {
    /// The cache under `dir` (`$XDG_CACHE_HOME/k8s-dev` or `~/.cache/k8s-dev`), its
    /// directories made (or checked and tightened) private.
    pub fn open(dir: PathBuf) -> anyhow::Result<LayerCache> {
        private_dir(&dir)?;
        let cache = LayerCache { dir };
        private_dir(&cache.blobs())?;
        Ok(cache)
    }

    fn blobs(&self) -> PathBuf {
        self.dir.join("blobs")
    }

    /// Where a blob with this digest is kept.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        self.blobs().join(digest.replace(':', "-"))
    }

    /// A fresh path to build a blob into before [`LayerCache::store`] moves it in place.
    pub fn temp_path(&self) -> anyhow::Result<PathBuf> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(self
            .blobs()
            .join(format!(".tmp-{}-{nanos}", std::process::id())))
    }

    /// The layer stored for `slot` if its key is `key` and its blob is still there, ours,
    /// private and of its size; hash it with [`verify_blob`] before using its bytes. A blob
    /// that fails is removed.
    pub fn lookup(&self, slot: &str, key: &str) -> Option<Built> {
        let index = self.read_index();
        let found = index.slots.get(slot).filter(|s| s.key == key)?;
        let blob = self.blob_path(&found.layer.digest);
        if fs::symlink_metadata(&blob).is_ok_and(|m| private_file(&m, found.layer.size)) {
            return Some(found.layer.clone());
        }
        let _ = fs::remove_file(&blob);
        None
    }

    /// Move the blob built at `temp` into the cache as `slot`'s layer and drop blobs no slot
    /// uses any more. Returns the blob's final path.
    pub fn store(
        &self,
        slot: &str,
        key: &str,
        layer: &Built,
        temp: &Path,
    ) -> anyhow::Result<PathBuf> {
        let blob = self.blob_path(&layer.digest);
        fs::rename(temp, &blob)
            .with_context(|| format!("moving {} to {}", temp.display(), blob.display()))?;
        let mut index = self.read_index();
        let used = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        index.slots.insert(
            slot.to_string(),
            Slot {
                key: key.to_string(),
                used,
                layer: layer.clone(),
            },
        );
        while index.slots.len() > MAX_SLOTS {
            let oldest = index
                .slots
                .iter()
                .min_by_key(|(_, s)| s.used)
                .map(|(k, _)| k.clone())
                .expect("non-empty");
            index.slots.remove(&oldest);
        }
        self.write_index(&index)?;
        self.prune(&index);
        Ok(blob)
    }

    fn read_index(&self) -> Index {
        // A missing or unreadable index is an empty cache, never an error: the cache only saves
        // time. One that is not ours alone is ignored (and replaced on the next store).
        let Ok(mut file) = fs::File::open(self.dir.join(INDEX)) else {
            return Index::default();
        };
        let ours = file
            .metadata()
            .is_ok_and(|m| m.is_file() && m.uid() == euid() && m.mode() & 0o022 == 0);
        let mut bytes = Vec::new();
        if !ours || file.read_to_end(&mut bytes).is_err() {
            return Index::default();
        }
        serde_json::from_slice(&bytes).unwrap_or_default()
    }

    fn write_index(&self, index: &Index) -> anyhow::Result<()> {
        let path = self.dir.join(INDEX);
        let temp = self
            .dir
            .join(format!(".{INDEX}.tmp-{}", std::process::id()));
        let _ = fs::remove_file(&temp);
        write_private(&temp, &serde_json::to_vec_pretty(index)?)
            .with_context(|| format!("writing {}", temp.display()))?;
        fs::rename(&temp, &path).with_context(|| format!("writing {}", path.display()))
    }

    fn prune(&self, index: &Index) {
        let keep: Vec<PathBuf> = index
            .slots
            .values()
            .map(|s| self.blob_path(&s.layer.digest))
            .collect();
        let Ok(dir) = fs::read_dir(self.blobs()) else {
            return;
        };
        let an_hour_ago = SystemTime::now() - std::time::Duration::from_secs(3600);
        for entry in dir.flatten() {
            let path = entry.path();
            let is_temp = entry.file_name().to_string_lossy().starts_with(".tmp-");
            // Temp files may belong to a publish running right now; leave recent ones alone.
            let stale_temp = is_temp
                && entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .is_ok_and(|t| t < an_hour_ago);
            if (!is_temp && !keep.contains(&path)) || stale_temp {
                let _ = fs::remove_file(path);
            } else if entry.metadata().is_ok_and(|m| m.mode() & 0o077 != 0) {
                // Blobs of a cache made before it was private.
                let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::layer;

    #[test]
    fn hit_after_store_miss_after_change_and_old_blob_pruned() {
        let dir = std::env::temp_dir().join(format!("k8s-dev-cache-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let src = dir.join("bin");
        fs::write(&src, b"one").unwrap();
        let files = vec![LayerFile {
            source: src.clone(),
            context: None,
            dest: "/bin/app".into(),
            mode: None,
            uid: 0,
            gid: 0,
        }];
        let cache = LayerCache::open(dir.join("cache")).unwrap();
        let slot = slot_of(&files, Compression::Zstd, 1);

        let entries = layer::entries(&files).unwrap();
        let key = key_of(&entries, 0);
        assert_eq!(cache.lookup(&slot, &key), None);
        let temp = cache.temp_path().unwrap();
        let built = layer::build(&entries, Compression::Zstd, 1, 0, &temp).unwrap();
        let first_blob = cache.store(&slot, &key, &built, &temp).unwrap();
        assert_eq!(cache.lookup(&slot, &key), Some(built.clone()));
        assert_ne!(key_of(&entries, 1), key, "epoch is part of the key");

        std::thread::sleep(std::time::Duration::from_millis(10));
        fs::write(&src, b"two").unwrap();
        let entries = layer::entries(&files).unwrap();
        let key2 = key_of(&entries, 0);
        assert_ne!(key2, key);
        assert_eq!(cache.lookup(&slot, &key2), None);
        let temp = cache.temp_path().unwrap();
        let built2 = layer::build(&entries, Compression::Zstd, 1, 0, &temp).unwrap();
        cache.store(&slot, &key2, &built2, &temp).unwrap();
        assert!(!first_blob.exists(), "the replaced layer's blob is removed");
        assert_eq!(cache.lookup(&slot, &key2), Some(built2.clone()));

        // Same size, other bytes: found, but fails the hash; another size is not even found.
        let blob = cache.blob_path(&built2.digest);
        assert!(verify_blob(&blob, &built2.digest, built2.size));
        let mut bytes = fs::read(&blob).unwrap();
        bytes[0] ^= 0xff;
        fs::write(&blob, &bytes).unwrap();
        assert!(!verify_blob(&blob, &built2.digest, built2.size));
        bytes.push(0);
        fs::write(&blob, &bytes).unwrap();
        assert_eq!(cache.lookup(&slot, &key2), None);
        assert!(!blob.exists(), "removed");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_existing_cache_is_made_private_and_its_blobs_too() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("cache");
        fs::create_dir_all(root.join("blobs")).unwrap();
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(root.join("blobs"), fs::Permissions::from_mode(0o777)).unwrap();
        let cache = LayerCache::open(root.clone()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("blobs")), 0o700);
        let src = dir.path().join("bin");
        fs::write(&src, b"x").unwrap();
        let files = vec![LayerFile {
            source: src,
            context: None,
            dest: "/bin/app".into(),
            mode: None,
            uid: 0,
            gid: 0,
        }];
        let entries = layer::entries(&files).unwrap();
        let temp = cache.temp_path().unwrap();
        let built = layer::build(&entries, Compression::Gzip, 1, 0, &temp).unwrap();
        let blob = cache.store("s", "k", &built, &temp).unwrap();
        assert_eq!(mode(&blob), 0o600);
        assert_eq!(mode(&root.join(INDEX)), 0o600);
        // A group-writable index is not trusted.
        fs::set_permissions(root.join(INDEX), fs::Permissions::from_mode(0o660)).unwrap();
        assert_eq!(cache.lookup("s", "k"), None);
    }
}
