// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The last layer built for each set of inputs, so that an unchanged binary skips tarring and
//! compressing. A slot (the source and destination paths, compression and level) remembers one
//! layer: its key (every entry's size, mtime, inode, mode and owner), descriptor and blob file.
//! A change replaces the slot's layer, so the cache holds one blob per slot and at most
//! [`MAX_SLOTS`] slots.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
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

impl LayerCache {
    /// A cache under `dir` (`$XDG_CACHE_HOME/k8s-dev` or `~/.cache/k8s-dev`).
    pub fn new(dir: PathBuf) -> LayerCache {
        LayerCache { dir }
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
        fs::create_dir_all(self.blobs())
            .with_context(|| format!("creating cache directory {}", self.blobs().display()))?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Ok(self
            .blobs()
            .join(format!(".tmp-{}-{nanos}", std::process::id())))
    }

    /// The layer stored for `slot` if its key is `key` and its blob is still there.
    pub fn lookup(&self, slot: &str, key: &str) -> Option<Built> {
        let index = self.read_index();
        let found = index.slots.get(slot).filter(|s| s.key == key)?;
        let blob = self.blob_path(&found.layer.digest);
        let on_disk = fs::metadata(&blob).ok()?.len();
        (on_disk == found.layer.size).then(|| found.layer.clone())
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
        // time.
        fs::read(self.dir.join(INDEX))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    fn write_index(&self, index: &Index) -> anyhow::Result<()> {
        let path = self.dir.join(INDEX);
        let temp = self
            .dir
            .join(format!(".{INDEX}.tmp-{}", std::process::id()));
        fs::write(&temp, serde_json::to_vec_pretty(index)?)
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
        let cache = LayerCache::new(dir.join("cache"));
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
        assert_eq!(cache.lookup(&slot, &key2), Some(built2));
        fs::remove_dir_all(dir).unwrap();
    }
}
