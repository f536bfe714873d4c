//! The cache-wide collection lock. Everything that puts blobs in the cache and then relies on
//! them (a pull, an export, an import) holds it shared for as long as it runs; whatever
//! removes blobs that no record names (`rmi`, `prune`) holds it exclusively. A blob that a
//! running process has just committed, but not yet recorded, is thus never collected. The
//! lock is an OS file lock, so a killed process releases it.

use std::path::PathBuf;

use crate::lock::{Lock, Mode};
use crate::{BlobStore, CacheError};

/// Held while a process relies on blobs it has not recorded yet ([`BlobStore::lease`]), or
/// while it removes blobs ([`BlobStore::collect`]). Released on drop.
#[derive(Debug)]
pub struct GcLock {
    _lock: Lock,
}

impl BlobStore {
    /// The shared side of the collection lock: blocks only while a collection runs.
    pub fn lease(&self) -> Result<GcLock, CacheError> {
        let lock = Lock::take_mode(self.layout.gc_lock_path(), Mode::Shared, true)?;
        Ok(GcLock {
            _lock: lock.expect("blocking lock always acquires"),
        })
    }

    /// The exclusive side. `busy` is called once, before waiting, when other processes hold
    /// leases (so the caller can say what it waits for).
    pub fn collect(&self, busy: impl FnOnce()) -> Result<GcLock, CacheError> {
        let path = self.layout.gc_lock_path();
        if let Some(lock) = Lock::take_mode(path.clone(), Mode::Exclusive, false)? {
            return Ok(GcLock { _lock: lock });
        }
        busy();
        let lock = Lock::take_mode(path, Mode::Exclusive, true)?;
        Ok(GcLock {
            _lock: lock.expect("blocking lock always acquires"),
        })
    }
}

/// A file left in the spool directory (see [`BlobStore::sweep_spool`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolFile {
    pub path: PathBuf,
    pub bytes: u64,
}

impl BlobStore {
    /// The spool directory, created if needed.
    pub fn spool_dir(&self) -> Result<PathBuf, CacheError> {
        let dir = self.layout.spool_dir();
        fs_err::create_dir_all(&dir)?;
        Ok(dir)
    }

    /// Removes (or with `dry_run`, lists) what killed processes left in the spool directory.
    /// Only a collection may do this: every live spooler holds a lease, so `_collecting`
    /// proves none is running.
    pub fn sweep_spool(
        &self,
        _collecting: &GcLock,
        dry_run: bool,
    ) -> Result<Vec<SpoolFile>, CacheError> {
        let dir = self.layout.spool_dir();
        let entries = match fs_err::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut swept = Vec::new();
        for entry in entries {
            let entry = entry?;
            let meta = entry.metadata()?;
            if !meta.is_file() {
                continue;
            }
            if !dry_run {
                fs_err::remove_file(entry.path())?;
            }
            swept.push(SpoolFile {
                path: entry.path(),
                bytes: meta.len(),
            });
        }
        Ok(swept)
    }
}
