//! One image's record, as stored in `images-v1/records/<key>.json`.

use serde::{Deserialize, Serialize};
use wslbox_reference::{Digest, Hasher};

/// The record format this wslbox writes; a record with another version is skipped.
pub const RECORD_VERSION: u32 = 1;

/// Source kinds keyed by their content (a file's sha256, an engine image's ID) rather than by
/// their name: the same file under another path, or the same engine image under another tag,
/// is one record.
const CONTENT_KEYED: [&str; 4] = ["tarball", "squashfs", "podman", "docker-daemon"];

/// What the store knows about one image. Keys are stable (`images --json` prints them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    /// The source kind, as `export --json` names it: `registry`, `oci`, `tarball`, …
    pub kind: String,
    /// Canonical: `docker.io/library/alpine:3.20`, `tarball:/abs/rootfs.tar.xz`.
    pub reference: String,
    /// The reference as the user last typed it.
    pub typed: String,
    /// `docker.io/library/alpine` for named images; `None` for files.
    pub repository: Option<String>,
    pub tag: Option<String>,
    pub index_digest: Option<Digest>,
    pub manifest_digest: Option<Digest>,
    pub config_digest: Option<Digest>,
    /// The file's or download's sha256 (tarballs, SquashFS).
    pub sha256: Option<Digest>,
    pub platform: Option<String>,
    /// Config and layers as stored in the registry, or the file's size.
    pub compressed_size: Option<u64>,
    /// The cache blobs this record keeps (index, manifest, config, layers, a cached download).
    pub blobs: Vec<Digest>,
    /// Unix seconds when this content was first recorded under this key.
    pub pulled_at: i64,
    /// Unix seconds of the last pull, export or import of it.
    pub used_at: i64,
    /// Learned by flattening (export, import, `inspect --deep`); `None` until then.
    pub os: Option<OsFacts>,
    /// Bytes of the flattened root filesystem tar.
    pub rootfs_size: Option<u64>,
    /// Suitability warnings found while flattening.
    pub warnings: Vec<StoredWarning>,
}

/// The os-release facts `images` shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsFacts {
    pub id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    pub name: String,
    pub version_id: Option<String>,
    pub pretty_name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredWarning {
    pub code: String,
    pub message: String,
}

/// Now, in the Unix seconds records keep.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Record {
    /// A record for `kind` at `reference`, pulled now; callers fill in what they know.
    pub fn new(kind: impl Into<String>, reference: impl Into<String>, now: i64) -> Self {
        let reference = reference.into();
        Record {
            version: RECORD_VERSION,
            kind: kind.into(),
            typed: reference.clone(),
            reference,
            repository: None,
            tag: None,
            index_digest: None,
            manifest_digest: None,
            config_digest: None,
            sha256: None,
            platform: None,
            compressed_size: None,
            blobs: Vec::new(),
            pulled_at: now,
            used_at: now,
            os: None,
            rootfs_size: None,
            warnings: Vec::new(),
        }
    }

    /// The digest that identifies the content: the manifest's, else the config's (an engine
    /// image's ID), else the file's sha256.
    pub fn digest(&self) -> Option<&Digest> {
        self.manifest_digest
            .as_ref()
            .or(self.config_digest.as_ref())
            .or(self.sha256.as_ref())
    }

    /// The digest a registry's tag points at: the index's when there is one.
    pub fn top_digest(&self) -> Option<&Digest> {
        self.index_digest.as_ref().or(self.manifest_digest.as_ref())
    }

    /// Whether this record and `other` describe the same content.
    pub fn same_content(&self, other: &Record) -> bool {
        self.digest().is_some() && self.digest() == other.digest()
    }

    /// What the record is keyed by: the content for files, else the name and platform.
    fn key(&self) -> String {
        if CONTENT_KEYED.contains(&self.kind.as_str())
            && let Some(digest) = self.digest()
        {
            return format!("{}\n{digest}", self.kind);
        }
        format!(
            "{}\n{}\n{}",
            self.kind,
            self.reference,
            self.platform.as_deref().unwrap_or("")
        )
    }

    /// The record's file name: the sha256 of its key, so any key is a safe name.
    pub(crate) fn file_name(&self) -> String {
        let digest = Hasher::digest(wslbox_reference::Algorithm::Sha256, self.key().as_bytes());
        format!("{}.json", digest.hex())
    }

    /// Carries over what an older record of the same content learned and this one did not
    /// (a pull after an export keeps the OS facts), and the first pull time.
    pub(crate) fn merge_from(&mut self, old: &Record) {
        if !self.same_content(old) {
            return;
        }
        self.pulled_at = old.pulled_at.min(self.pulled_at);
        if self.os.is_none() {
            self.os = old.os.clone();
            if self.rootfs_size.is_none() {
                self.rootfs_size = old.rootfs_size;
            }
            if self.warnings.is_empty() {
                self.warnings = old.warnings.clone();
            }
        }
        for blob in &old.blobs {
            if !self.blobs.contains(blob) {
                self.blobs.push(blob.clone());
            }
        }
        if self.index_digest.is_none() {
            self.index_digest = old.index_digest.clone();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(s: &str) -> Digest {
        Hasher::digest(wslbox_reference::Algorithm::Sha256, s.as_bytes())
    }

    #[test]
    fn files_are_keyed_by_content_and_images_by_name_and_platform() {
        let mut a = Record::new("tarball", "tarball:/a.tar", 1);
        a.sha256 = Some(digest("x"));
        let mut moved = a.clone();
        moved.reference = "tarball:/b.tar".into();
        assert_eq!(a.file_name(), moved.file_name());

        let mut engine = Record::new("podman", "podman:localhost/dev:1", 1);
        engine.config_digest = Some(digest("image id"));
        let mut retagged = engine.clone();
        retagged.reference = "podman:localhost/dev:2".into();
        assert_eq!(
            engine.file_name(),
            retagged.file_name(),
            "keyed by the image ID"
        );

        let mut amd = Record::new("registry", "docker.io/library/alpine:3", 1);
        amd.platform = Some("linux/amd64".into());
        let mut arm = amd.clone();
        arm.platform = Some("linux/arm64".into());
        assert_ne!(amd.file_name(), arm.file_name());
        let mut newer = amd.clone();
        newer.manifest_digest = Some(digest("new"));
        assert_eq!(
            amd.file_name(),
            newer.file_name(),
            "a moved tag replaces the record"
        );
    }

    #[test]
    fn merging_keeps_facts_only_for_the_same_content() {
        let mut exported = Record::new("registry", "r", 10);
        exported.manifest_digest = Some(digest("m"));
        exported.os = Some(OsFacts {
            id: "alpine".into(),
            id_like: Vec::new(),
            name: "Alpine Linux".into(),
            version_id: Some("3.20.3".into()),
            pretty_name: "Alpine Linux v3.20".into(),
        });
        exported.rootfs_size = Some(7);
        let mut pulled = Record::new("registry", "r", 20);
        pulled.manifest_digest = Some(digest("m"));
        pulled.merge_from(&exported);
        assert_eq!(pulled.os, exported.os);
        assert_eq!(pulled.rootfs_size, Some(7));
        assert_eq!(pulled.pulled_at, 10);
        assert_eq!(pulled.used_at, 20);

        let mut moved = Record::new("registry", "r", 30);
        moved.manifest_digest = Some(digest("other"));
        moved.merge_from(&exported);
        assert_eq!(
            moved.os, None,
            "facts of other content are not carried over"
        );
        assert_eq!(moved.pulled_at, 30);
    }
}
