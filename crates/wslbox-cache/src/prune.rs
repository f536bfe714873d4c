//! Removing what is no longer needed: unreferenced blobs and abandoned partial downloads.

use std::io::ErrorKind;
use std::path::Path;

use wslbox_reference::{Algorithm, Digest};

use crate::{BlobStore, CacheError};

/// One file [`BlobStore::prune`] removed (or, in a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    pub digest: Digest,
    /// An interrupted download rather than a committed blob.
    pub partial: bool,
    pub bytes: u64,
}

/// What [`BlobStore::prune`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub removed: Vec<Pruned>,
}

impl PruneReport {
    /// Committed blobs removed.
    pub fn blobs(&self) -> usize {
        self.removed.iter().filter(|p| !p.partial).count()
    }
    /// Partial downloads removed.
    pub fn partials(&self) -> usize {
        self.removed.iter().filter(|p| p.partial).count()
    }
    /// Bytes freed by both.
    pub fn bytes(&self) -> u64 {
        self.removed.iter().map(|p| p.bytes).sum()
    }
}

impl BlobStore {
    /// Removes committed blobs and partial downloads whose digest `keep` rejects; with
    /// `dry_run`, only reports them. Entries another process is writing right now (its lock
    /// is held) are left alone, and so are files whose names are not digests (they are not
    /// ours). Lock files stay: deleting one could let two writers race.
    pub fn prune(
        &self,
        keep: impl Fn(&Digest) -> bool,
        dry_run: bool,
    ) -> Result<PruneReport, CacheError> {
        let mut report = PruneReport::default();
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            for entry in fs_err::read_dir(self.layout.blobs_dir(alg))? {
                let entry = entry?;
                let Some(digest) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| format!("{}:{n}", alg.as_str()).parse().ok())
                else {
                    continue;
                };
                if keep(&digest) {
                    continue;
                }
                if let Some(bytes) = self.remove_unlocked(&digest, &entry.path(), dry_run)? {
                    report.removed.push(Pruned {
                        digest,
                        partial: false,
                        bytes,
                    });
                }
            }
        }
        for entry in fs_err::read_dir(self.layout.tmp_dir())? {
            let entry = entry?;
            let Some(digest) = entry.file_name().to_str().and_then(partial_digest) else {
                continue;
            };
            if keep(&digest) {
                continue;
            }
            if let Some(bytes) = self.remove_unlocked(&digest, &entry.path(), dry_run)? {
                report.removed.push(Pruned {
                    digest,
                    partial: true,
                    bytes,
                });
            }
        }
        Ok(report)
    }

    /// Removes `path` if nobody holds `digest`'s lock; returns its size when removed (or, in
    /// a dry run, when it would be).
    fn remove_unlocked(
        &self,
        digest: &Digest,
        path: &Path,
        dry_run: bool,
    ) -> Result<Option<u64>, CacheError> {
        let Some(_lock) = self.lock(digest, false)? else {
            return Ok(None);
        };
        let size = match fs_err::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if dry_run {
            return Ok(Some(size));
        }
        match fs_err::remove_file(path) {
            Ok(()) => Ok(Some(size)),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}

/// The digest in a partial's file name, `<algorithm>-<hex>.partial`.
fn partial_digest(name: &str) -> Option<Digest> {
    let stem = name.strip_suffix(".partial")?;
    let (alg, hex) = stem.split_once('-')?;
    format!("{alg}:{hex}").parse().ok()
}
