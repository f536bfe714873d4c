//! File locks, so several processes can share one cache: per-digest exclusive locks for
//! writers, and the cache-wide collection lock ([`GcLock`]) that keeps prune away from the
//! blobs a running pull or export is about to use.

use std::io::ErrorKind;
use std::path::PathBuf;

use crate::CacheError;

/// An exclusive lock on one lock file, released when dropped (closing the file releases it).
#[derive(Debug)]
pub(crate) struct Lock {
    _file: fs_err::File,
}

/// How [`Lock::take_mode`] locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Shared,
    Exclusive,
}

impl Lock {
    /// Opens and locks `path` exclusively. `None` only when `wait` is false and the lock is held
    /// elsewhere. Lock files are never deleted: deleting one while another process waits on
    /// it would let a third process lock a fresh file and race the second.
    pub(crate) fn take(path: PathBuf, wait: bool) -> Result<Option<Lock>, CacheError> {
        Self::take_mode(path, Mode::Exclusive, wait)
    }

    pub(crate) fn take_mode(
        path: PathBuf,
        mode: Mode,
        wait: bool,
    ) -> Result<Option<Lock>, CacheError> {
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        let f = file.file();
        let result = if wait {
            match mode {
                Mode::Shared => f.lock_shared(),
                Mode::Exclusive => f.lock(),
            }
        } else {
            let attempt = match mode {
                Mode::Shared => f.try_lock_shared(),
                Mode::Exclusive => f.try_lock(),
            };
            match attempt {
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
