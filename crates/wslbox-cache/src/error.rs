//! Cache errors: each names the digest or path involved.

use std::path::PathBuf;

use wslbox_reference::Digest;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheError {
    /// I/O on a cache path (fs-err already puts the path in the message).
    #[error("cache I/O error: {source}")]
    Io {
        #[from]
        source: std::io::Error,
    },
    #[error("could not lock {path}: {source}")]
    Lock {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "blob {digest} has the wrong size: expected {expected} bytes, got {actual}; the download was discarded"
    )]
    SizeMismatch {
        digest: Digest,
        expected: u64,
        actual: u64,
    },
    #[error(
        "blob {digest} failed verification: expected digest {digest}, computed {actual}; the download was discarded"
    )]
    DigestMismatch { digest: Digest, actual: Digest },
}
