//! The store itself: lookups, handing out writers under the digest's lock, and corruption
//! handling. Paths come from `layout`, locks from `lock`, both below this module and `writer`.

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use wslbox_reference::{Algorithm, Digest, Hasher};

use crate::CacheError;
use crate::follow::{Follower, LiveWriters};
use crate::layout::Layout;
use crate::lock::Lock;
use crate::writer::BlobWriter;

/// A content-addressed blob store rooted at one directory. Cheap to clone; clones share the
/// registry of this process's live writers that [`follow`](Self::follow) looks in.
#[derive(Debug, Clone)]
pub struct BlobStore {
    pub(crate) layout: Layout,
    live: Arc<LiveWriters>,
}

/// What [`BlobStore::acquire`] found once it held the digest's lock.
#[derive(Debug)]
pub enum Acquired {
    /// The blob is committed (possibly by another process while we waited for the lock).
    Cached(PathBuf),
    /// Nobody has it: write it with this writer, which holds the lock until it is dropped.
    Write(Box<BlobWriter>),
}

impl BlobStore {
    /// Opens (creating if needed) the store at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, CacheError> {
        let layout = Layout::new(root.into());
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            fs_err::create_dir_all(layout.blobs_dir(alg))?;
        }
        fs_err::create_dir_all(layout.tmp_dir())?;
        Ok(BlobStore {
            layout,
            live: Arc::default(),
        })
    }

    pub fn root(&self) -> &Path {
        self.layout.root()
    }

    /// Where the committed blob for `digest` lives (whether or not it exists yet).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.layout.blob_path(digest)
    }

    /// The committed blob's path, after a cheap check that its size is `size` (when known).
    /// A blob of the wrong size is corrupt: it is removed and `None` returned, so it gets
    /// fetched again.
    pub fn get(&self, digest: &Digest, size: Option<u64>) -> Result<Option<PathBuf>, CacheError> {
        let path = self.blob_path(digest);
        let actual = match fs_err::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if size.is_some_and(|s| s != actual) {
            self.remove(digest)?;
            return Ok(None);
        }
        Ok(Some(path))
    }

    /// Like [`get`](Self::get), but re-hashes the whole blob. A blob whose content does not
    /// match its digest is removed and `None` returned.
    pub fn verify(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Option<PathBuf>, CacheError> {
        let Some(path) = self.get(digest, size)? else {
            return Ok(None);
        };
        if hash_file(&path, digest.algorithm())? == *digest {
            Ok(Some(path))
        } else {
            self.remove(digest)?;
            Ok(None)
        }
    }

    /// Reads a small committed blob (a manifest or config) fully, verifying its digest.
    /// A corrupt blob is removed and `None` returned.
    pub fn read(&self, digest: &Digest) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.blob_path(digest);
        let bytes = match fs_err::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if Hasher::digest(digest.algorithm(), &bytes) == *digest {
            Ok(Some(bytes))
        } else {
            self.remove(digest)?;
            Ok(None)
        }
    }

    /// Stores bytes already in memory (manifests, configs): verified, then committed.
    pub fn put(&self, digest: &Digest, bytes: &[u8]) -> Result<PathBuf, CacheError> {
        match self.acquire(digest, Some(bytes.len() as u64))? {
            Acquired::Cached(path) => Ok(path),
            Acquired::Write(mut w) => {
                w.restart()?;
                w.write_chunk(bytes)?;
                w.commit()
            }
        }
    }

    /// A reader over the blob that a [`BlobWriter`] of this store (or a clone) is writing
    /// right now, from the first byte; `None` when no writer of this process is writing it
    /// (not started, committed, failed, or written by another process). The follower reads
    /// the partial file as it grows and returns EOF only after the writer's commit verified
    /// size and digest; see [`Follower`].
    pub fn follow(&self, digest: &Digest) -> Result<Option<Follower>, CacheError> {
        self.live.follow(digest)
    }

    /// Removes a committed blob. Returns whether there was one.
    pub fn remove(&self, digest: &Digest) -> Result<bool, CacheError> {
        let _lock = self.lock(digest, true)?;
        match fs_err::remove_file(self.blob_path(digest)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the digest's lock, waiting for another writer (in this or another process) to
    /// finish, then returns the committed blob or a writer that resumes any partial download.
    /// This blocks: async callers run it on a blocking thread.
    pub fn acquire(&self, digest: &Digest, size: Option<u64>) -> Result<Acquired, CacheError> {
        let lock = self
            .lock(digest, true)?
            .expect("blocking lock always acquires");
        self.acquired(digest, size, lock)
    }

    /// Like [`acquire`](Self::acquire) but returns `None` at once when another writer holds
    /// the lock.
    pub fn try_acquire(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Option<Acquired>, CacheError> {
        match self.lock(digest, false)? {
            Some(lock) => self.acquired(digest, size, lock).map(Some),
            None => Ok(None),
        }
    }

    fn acquired(
        &self,
        digest: &Digest,
        size: Option<u64>,
        lock: Lock,
    ) -> Result<Acquired, CacheError> {
        if let Some(path) = self.get_locked(digest, size)? {
            return Ok(Acquired::Cached(path));
        }
        BlobWriter::open(&self.layout, &self.live, digest.clone(), size, lock)
            .map(|w| Acquired::Write(Box::new(w)))
    }

    /// `get` for a caller that already holds the lock (so removal must not lock again).
    fn get_locked(
        &self,
        digest: &Digest,
        size: Option<u64>,
    ) -> Result<Option<PathBuf>, CacheError> {
        let path = self.blob_path(digest);
        match fs_err::metadata(&path) {
            Ok(m) if size.is_none_or(|s| s == m.len()) => Ok(Some(path)),
            Ok(_) => {
                fs_err::remove_file(&path)?;
                Ok(None)
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Takes the digest's lock; `None` only when `wait` is false and it is held elsewhere.
    pub(crate) fn lock(&self, digest: &Digest, wait: bool) -> Result<Option<Lock>, CacheError> {
        Lock::take(self.layout.lock_path(digest), wait)
    }
}

pub(crate) fn hash_file(path: &Path, algorithm: Algorithm) -> Result<Digest, CacheError> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}
