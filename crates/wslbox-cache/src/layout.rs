//! Where each file of the cache lives. The version in the directory names changes whenever
//! the layout does, so a future wslbox never misreads an old cache.

use std::path::{Path, PathBuf};

use wslbox_reference::{Algorithm, Digest};

const BLOBS_DIR: &str = "blobs-v1";
const TMP_DIR: &str = "tmp-v1";

/// The paths under one cache root.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    pub(crate) fn new(root: PathBuf) -> Self {
        Layout { root }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `<root>/blobs-v1/<algorithm>`: the committed blobs of one algorithm.
    pub(crate) fn blobs_dir(&self, algorithm: Algorithm) -> PathBuf {
        self.root.join(BLOBS_DIR).join(algorithm.as_str())
    }

    pub(crate) fn blob_path(&self, digest: &Digest) -> PathBuf {
        // `Digest::hex` is validated lowercase hex of a fixed length: safe as a file name.
        self.blobs_dir(digest.algorithm()).join(digest.hex())
    }

    /// `<root>/tmp-v1`: partial downloads and lock files, on the same filesystem as the blobs
    /// so that committing is an atomic rename.
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }

    /// `<root>/spool`: file bodies a flatten keeps until the output is written. Spool files
    /// are unnamed where the OS allows, so only a killed process on a filesystem without
    /// unnamed files leaves one behind.
    pub(crate) fn spool_dir(&self) -> PathBuf {
        self.root.join("spool")
    }

    /// `<root>/tmp-v1/gc.lock`: the collection lock (see `gc`).
    pub(crate) fn gc_lock_path(&self) -> PathBuf {
        self.tmp_dir().join("gc.lock")
    }

    pub(crate) fn partial_path(&self, digest: &Digest) -> PathBuf {
        self.tmp_file(digest, "partial")
    }

    pub(crate) fn lock_path(&self, digest: &Digest) -> PathBuf {
        self.tmp_file(digest, "lock")
    }

    fn tmp_file(&self, digest: &Digest, extension: &str) -> PathBuf {
        self.tmp_dir().join(format!(
            "{}-{}.{extension}",
            digest.algorithm().as_str(),
            digest.hex()
        ))
    }
}
