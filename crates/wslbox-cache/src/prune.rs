//! Removing what is no longer needed: unreferenced blobs and abandoned partial downloads.

use std::io::ErrorKind;

use wslbox_reference::{Algorithm, Digest};

use crate::{BlobStore, CacheError};

/// What [`BlobStore::prune`] removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneReport {
    pub blobs: usize,
    pub partials: usize,
    /// Bytes freed by both.
    pub bytes: u64,
}

impl BlobStore {
    /// Removes committed blobs and partial downloads whose digest `keep` rejects. Entries
    /// another process is writing right now (its lock is held) are left alone, and so are
    /// files whose names are not digests (they are not ours). Lock files stay: deleting one
    /// could let two writers race.
    pub fn prune(&self, keep: impl Fn(&Digest) -> bool) -> Result<PruneReport, CacheError> {
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
                if let Some(bytes) = self.remove_unlocked(&digest, &entry.path())? {
                    report.blobs += 1;
                    report.bytes += bytes;
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
            if let Some(bytes) = self.remove_unlocked(&digest, &entry.path())? {
                report.partials += 1;
                report.bytes += bytes;
            }
        }
        Ok(report)
    }

    /// Removes `path` if nobody holds `digest`'s lock; returns its size when removed.
    fn remove_unlocked(
        &self,
        digest: &Digest,
        path: &std::path::Path,
    ) -> Result<Option<u64>, CacheError> {
        let Some(_lock) = self.lock(digest, false)? else {
            return Ok(None);
        };
        let size = match fs_err::metadata(path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
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
