//! Writing one blob: partial file, running hash, verify-then-commit. Every change to the
//! partial is announced to the blob's followers (see `follow`).

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

use wslbox_reference::{Digest, Hasher};

use crate::CacheError;
use crate::follow::{LiveWriters, Publisher};
use crate::layout::Layout;
use crate::lock::Lock;

/// Writes one blob into the store. Holds the digest's lock while alive.
///
/// Dropping a writer without [`commit`](Self::commit) keeps the partial file, so a later writer
/// resumes where this one stopped; [`discard`](Self::discard) deletes it instead. Either way
/// its [`Follower`](crate::Follower)s fail: only a commit ends them with EOF.
#[derive(Debug)]
pub struct BlobWriter {
    digest: Digest,
    size: Option<u64>,
    partial: PathBuf,
    blob: PathBuf,
    file: fs_err::File,
    hasher: Hasher,
    written: u64,
    publisher: Publisher,
    _lock: Lock,
}

impl BlobWriter {
    /// Opens the partial for `digest`, re-hashing any bytes a previous attempt left there.
    pub(crate) fn open(
        layout: &Layout,
        live: &Arc<LiveWriters>,
        digest: Digest,
        size: Option<u64>,
        lock: Lock,
    ) -> Result<Self, CacheError> {
        let partial = layout.partial_path(&digest);
        let mut file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&partial)?;
        let mut writer = BlobWriter {
            hasher: Hasher::new(digest.algorithm()),
            blob: layout.blob_path(&digest),
            publisher: live.register(digest.clone(), partial.clone(), 0),
            digest,
            size,
            partial,
            written: 0,
            file: {
                file.seek(SeekFrom::Start(0))?;
                file
            },
            _lock: lock,
        };
        let existing = writer.file.metadata()?.len();
        if size.is_some_and(|s| existing > s) {
            writer.restart()?;
            return Ok(writer);
        }
        // Resuming must hash what is already there, or the final digest would be wrong.
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            let n = writer.file.read(&mut buf)?;
            if n == 0 {
                break;
            }
            writer.hasher.update(&buf[..n]);
            writer.written += n as u64;
        }
        writer.publisher.wrote(writer.written);
        Ok(writer)
    }

    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The expected size, when the caller gave one.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// Bytes already in the partial file: where a resumed download continues (`Range: bytes=N-`).
    pub fn offset(&self) -> u64 {
        self.written
    }

    /// Throws away the partial content (e.g. the server ignored a Range request).
    pub fn restart(&mut self) -> Result<(), CacheError> {
        self.file.set_len(0)?;
        self.file.seek(SeekFrom::Start(0))?;
        self.hasher = Hasher::new(self.digest.algorithm());
        self.written = 0;
        self.publisher.restarted();
        Ok(())
    }

    /// Appends bytes. Writing past the expected size deletes the partial and fails, so an
    /// endless or oversized response cannot fill the disk.
    pub fn write_chunk(&mut self, bytes: &[u8]) -> Result<(), CacheError> {
        let total = self.written + bytes.len() as u64;
        if let Some(expected) = self.size.filter(|&s| total > s) {
            return Err(self.fail(CacheError::SizeMismatch {
                digest: self.digest.clone(),
                expected,
                actual: total,
            }));
        }
        self.file.write_all(bytes)?;
        self.hasher.update(bytes);
        self.written = total;
        self.publisher.wrote(total);
        Ok(())
    }

    /// Verifies size and digest, then atomically renames the partial into place. On a
    /// mismatch the partial is deleted and the error names both values.
    pub fn commit(mut self) -> Result<PathBuf, CacheError> {
        if let Some(expected) = self.size.filter(|&s| s != self.written) {
            let actual = self.written;
            return Err(self.fail(CacheError::SizeMismatch {
                digest: self.digest.clone(),
                expected,
                actual,
            }));
        }
        let actual =
            std::mem::replace(&mut self.hasher, Hasher::new(self.digest.algorithm())).finish();
        if actual != self.digest {
            return Err(self.fail(CacheError::DigestMismatch {
                digest: self.digest.clone(),
                actual,
            }));
        }
        self.file.flush()?;
        // Make the content durable before the name points at it.
        self.file.sync_data()?;
        let (partial, blob) = (&self.partial, &self.blob);
        self.publisher.commit(|| {
            fs_err::rename(partial, blob)?;
            Ok(blob.clone())
        })
    }

    /// Deletes the partial instead of keeping it for a resume.
    pub fn discard(mut self) -> Result<(), CacheError> {
        let digest = self.digest.clone();
        self.publisher
            .fail(&format!("the download of {digest} was discarded"), || {
                remove_partial(&self.partial)
            })?;
        self.reset();
        Ok(())
    }

    /// Deletes the partial and fails the followers with `error`, which is returned unless
    /// the deletion itself failed.
    fn fail(&mut self, error: CacheError) -> CacheError {
        let partial = &self.partial;
        let removed = self
            .publisher
            .fail(&error.to_string(), || remove_partial(partial));
        self.reset();
        match removed {
            Ok(()) => error,
            Err(e) => e,
        }
    }

    fn reset(&mut self) {
        self.written = 0;
        self.hasher = Hasher::new(self.digest.algorithm());
    }
}

fn remove_partial(partial: &std::path::Path) -> Result<(), CacheError> {
    match fs_err::remove_file(partial) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_chunk(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}
