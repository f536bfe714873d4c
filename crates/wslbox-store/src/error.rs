//! Store errors: each names the file involved.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error(transparent)]
    Cache(#[from] wslbox_cache::CacheError),
    /// fs-err puts the path in the message.
    #[error("image store I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not write the image record {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}
