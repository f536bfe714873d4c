//! Per-digest file locks, so several processes can share one cache.

use std::io::ErrorKind;
use std::path::PathBuf;

use crate::CacheError;

/// An exclusive lock on one lock file, released when dropped (closing the file releases it).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: fs_err::File,
}

impl Lock {
    /// Opens and locks `path`. `None` only when `wait` is false and the lock is held
    /// elsewhere. Lock files are never deleted: deleting one while another process waits on
    /// it would let a third process lock a fresh file and race the second.
    pub(crate) fn take(path: PathBuf, wait: bool) -> Result<Option<Lock>, CacheError> {
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let result = if wait {
            file.file().lock()
        } else {
            match file.file().try_lock() {
                Ok(()) => Ok(()),
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => Err(e),
            }
        };
        match result {
            Ok(()) => Ok(Some(Lock { _file: file })),
            // Filesystems without locks still get atomic commits and verification.
            Err(e) if e.kind() == ErrorKind::Unsupported => Ok(Some(Lock { _file: file })),
            Err(source) => Err(CacheError::Lock { path, source }),
        }
    }
}
