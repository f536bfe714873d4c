//! What earlier pushes made of a source, so that pushing it again moves no layer bytes.
//!
//! A layer is only known by its digest once it has been compressed, which is after it was
//! uploaded. To skip it, a push remembers the image it built from a source: keyed by the
//! source's content digest and every option that shapes the layer, it records the layer,
//! config and manifest digests and the repositories it went to. The next push of the same key
//! `HEAD`s that layer in the target, or mounts it from a repository it went to, and re-sends
//! only the config and manifest (kept in the blob cache). A record is a build cache: the layer
//! it names was built from that source with those options, so reusing it is exact.
//!
//! Records live in `<cache>/pushes-v1/<key>.json`, written atomically. A missing or
//! unreadable record, or one whose config or manifest blob the cache no longer holds, is a
//! miss; the push then builds the layer again.

use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wslbox_cache::BlobStore;
use wslbox_image::Compression;
use wslbox_image::build::BuiltLayer;
use wslbox_reference::Digest;

/// One remembered push.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct PushRecord {
    pub layer_digest: Digest,
    pub layer_size: u64,
    pub diff_id: Digest,
    pub zstd: bool,
    pub tar_bytes: u64,
    pub config_digest: Digest,
    pub manifest_digest: Digest,
    /// `registry/repository` it was pushed to, newest last.
    pub repositories: Vec<String>,
    /// The summary facts of the build (JSON of the push summary's build part).
    pub facts: serde_json::Value,
}

impl PushRecord {
    pub fn layer(&self) -> BuiltLayer {
        BuiltLayer {
            digest: self.layer_digest.clone(),
            size: self.layer_size,
            diff_id: self.diff_id.clone(),
            compression: if self.zstd {
                Compression::Zstd
            } else {
                Compression::Gzip
            },
        }
    }

    /// Repositories of `registry` it went to, other than `except`, newest first.
    pub fn mount_sources<'a>(&'a self, registry: &'a str, except: &'a str) -> Vec<&'a str> {
        self.repositories
            .iter()
            .rev()
            .filter_map(move |r| r.strip_prefix(registry)?.strip_prefix('/'))
            .filter(move |r| *r != except)
            .collect()
    }
}

/// The record file of one key.
pub(crate) struct Memo {
    path: PathBuf,
}

impl Memo {
    /// `parts` are every input that shapes the layer, in a fixed order.
    pub fn new<S: AsRef<str>>(cache_dir: &Path, parts: &[S]) -> Self {
        let mut hasher = Sha256::new();
        for part in parts.iter().map(AsRef::as_ref) {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part.as_bytes());
        }
        let key = hex::encode(hasher.finalize());
        Memo {
            path: cache_dir.join("pushes-v1").join(format!("{key}.json")),
        }
    }

    /// The record, if there is a readable one whose documents the cache still holds.
    pub fn load(&self, store: &BlobStore) -> Option<(PushRecord, Vec<u8>, Vec<u8>)> {
        let bytes = fs_err::read(&self.path).ok()?;
        let record: PushRecord = serde_json::from_slice(&bytes).ok()?;
        let config = store.read(&record.config_digest).ok()??;
        let manifest = store.read(&record.manifest_digest).ok()??;
        Some((record, config, manifest))
    }

    /// Writes `record` atomically. Failing to remember is not an error: the next push just
    /// uploads again.
    pub fn save(&self, record: &PushRecord) -> std::io::Result<()> {
        let dir = self.path.parent().expect("a file in pushes-v1");
        fs_err::create_dir_all(dir)?;
        let mut tmp = wslbox_fs::AtomicFile::create(&self.path)?;
        serde_json::to_writer_pretty(tmp.file_mut(), record)?;
        tmp.commit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn records_round_trip_only_while_the_cache_holds_their_documents() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("blobs")).unwrap();
        let memo = Memo::new(dir.path(), &["sha256:src", "gzip"]);
        let config = b"{\"config\":1}".to_vec();
        let manifest = b"{\"manifest\":1}".to_vec();
        let record = PushRecord {
            layer_digest: digest('a'),
            layer_size: 10,
            diff_id: digest('b'),
            zstd: false,
            tar_bytes: 20,
            config_digest: wslbox_reference::Hasher::digest(
                wslbox_reference::Algorithm::Sha256,
                &config,
            ),
            manifest_digest: wslbox_reference::Hasher::digest(
                wslbox_reference::Algorithm::Sha256,
                &manifest,
            ),
            repositories: vec!["reg:5000/team/a".into(), "reg:5000/team/b".into()],
            facts: serde_json::json!({}),
        };
        memo.save(&record).unwrap();
        assert!(memo.load(&store).is_none(), "documents not cached yet");
        store.put(&record.config_digest, &config).unwrap();
        store.put(&record.manifest_digest, &manifest).unwrap();
        let (loaded, c, m) = memo.load(&store).unwrap();
        assert_eq!((loaded.clone(), c, m), (record, config, manifest));
        assert_eq!(loaded.mount_sources("reg:5000", "team/b"), ["team/a"]);
        assert!(loaded.mount_sources("other:5000", "x").is_empty());
        assert_ne!(
            Memo::new(dir.path(), &["sha256:src", "zstd"]).path,
            memo.path,
            "every part is in the key"
        );
    }
}
