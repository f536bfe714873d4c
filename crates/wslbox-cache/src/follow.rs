//! Reading a blob while a writer in this process is still writing it.
//!
//! Every [`BlobWriter`](crate::BlobWriter) publishes its progress here: how many bytes of the
//! partial file it has written in order (the prefix its hash covers), a restart epoch, and how
//! it ended. A [`Follower`] reads that prefix from its own handle on the partial file with
//! positional reads, waits for more, and ends with EOF only once the writer's commit verified
//! size and digest. Any other end (a mismatch, a discard, a writer dropped early, a restart
//! after bytes were read) is a read error, so unverified bytes never pass as a whole blob.
//!
//! Ends that move or remove the partial file (commit's rename, a removal) run under the state
//! lock, and a follower opens the file under the same lock, so it never finds the name gone.
//! An open handle survives the rename: on Windows std opens every file with
//! `FILE_SHARE_DELETE`, so the rename is allowed and the handle keeps reading the same file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use wslbox_reference::Digest;

use crate::CacheError;

/// Why a [`Follower`] stopped before the end of a verified blob. It travels inside the
/// `io::Error` a read returns (`err.get_ref()` then `downcast_ref::<FollowError>()`), so a
/// caller can tell a restart, after which the committed blob is fine to read again, from a
/// failed download.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FollowError {
    /// The writer threw its bytes away and started over (the server ignored a `Range`
    /// request) after this follower had read some of them.
    #[error(
        "the download of {digest} started over after part of it was read; read the committed blob instead"
    )]
    Restarted { digest: Digest },
    /// The writer did not commit: `reason` says why (a size or digest mismatch, a discard).
    #[error("the download of {digest} failed: {reason}")]
    Failed { digest: Digest, reason: String },
    /// The writer was dropped before it committed (its download stopped).
    #[error("the download of {digest} stopped before it was complete")]
    Abandoned { digest: Digest },
}

/// The live writers of one store (shared by its clones), by digest.
#[derive(Debug, Default)]
pub(crate) struct LiveWriters {
    writers: Mutex<HashMap<Digest, Arc<Progress>>>,
}

impl LiveWriters {
    /// Registers a writer of `digest` whose partial at `partial` already holds `written`
    /// verified-to-be-hashed bytes.
    pub(crate) fn register(
        self: &Arc<Self>,
        digest: Digest,
        partial: PathBuf,
        written: u64,
    ) -> Publisher {
        let progress = Arc::new(Progress {
            digest: digest.clone(),
            partial,
            state: Mutex::new(State {
                written,
                epoch: 0,
                end: None,
            }),
            changed: Condvar::new(),
        });
        self.map().insert(digest, Arc::clone(&progress));
        Publisher {
            live: Arc::clone(self),
            progress,
        }
    }

    /// A reader over the blob a live writer is writing, or `None` when no writer in this
    /// process is writing it (never started, already committed, or failed).
    pub(crate) fn follow(&self, digest: &Digest) -> Result<Option<Follower>, CacheError> {
        let Some(progress) = self.map().get(digest).cloned() else {
            return Ok(None);
        };
        let state = progress.lock();
        if state.end.is_some() {
            return Ok(None);
        }
        // Opened under the lock: the name cannot be renamed or removed meanwhile.
        let file = fs_err::File::open(&progress.partial)?;
        let epoch = state.epoch;
        drop(state);
        Ok(Some(Follower {
            progress,
            file,
            pos: 0,
            epoch,
        }))
    }

    fn map(&self) -> MutexGuard<'_, HashMap<Digest, Arc<Progress>>> {
        self.writers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One writer's progress, shared with its followers.
#[derive(Debug)]
struct Progress {
    digest: Digest,
    partial: PathBuf,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Debug)]
struct State {
    /// Bytes at the start of the partial that the writer has written and hashed.
    written: u64,
    /// Bumped by every restart, so a follower can tell that bytes it read were thrown away.
    epoch: u64,
    end: Option<End>,
}

#[derive(Debug)]
enum End {
    Committed,
    Failed(String),
    Abandoned,
}

impl Progress {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The writer's side: every change to the partial file is announced through it. Dropping it
/// before an end counts as abandoning the blob.
#[derive(Debug)]
pub(crate) struct Publisher {
    live: Arc<LiveWriters>,
    progress: Arc<Progress>,
}

impl Publisher {
    /// The first `written` bytes are in the file and hashed.
    pub(crate) fn wrote(&self, written: u64) {
        self.progress.lock().written = written;
        self.progress.changed.notify_all();
    }

    /// The partial was truncated to nothing.
    pub(crate) fn restarted(&self) {
        let mut state = self.progress.lock();
        state.written = 0;
        state.epoch += 1;
        drop(state);
        self.progress.changed.notify_all();
    }

    /// Runs `rename` (the commit) under the lock; followers see EOF if it succeeds.
    pub(crate) fn commit(
        &self,
        rename: impl FnOnce() -> Result<PathBuf, CacheError>,
    ) -> Result<PathBuf, CacheError> {
        self.end(|| {
            let result = rename();
            let end = match &result {
                Ok(_) => End::Committed,
                Err(e) => End::Failed(e.to_string()),
            };
            (end, result)
        })
    }

    /// Runs `remove` (deleting the partial) under the lock and fails the followers with
    /// `reason`.
    pub(crate) fn fail<T>(&self, reason: &str, remove: impl FnOnce() -> T) -> T {
        self.end(|| (End::Failed(reason.to_owned()), remove()))
    }

    fn end<T>(&self, f: impl FnOnce() -> (End, T)) -> T {
        let mut state = self.progress.lock();
        if state.end.is_some() {
            return f().1;
        }
        let (end, result) = f();
        state.end = Some(end);
        drop(state);
        self.progress.changed.notify_all();
        let mut map = self.live.map();
        if map
            .get(&self.progress.digest)
            .is_some_and(|p| Arc::ptr_eq(p, &self.progress))
        {
            map.remove(&self.progress.digest);
        }
        result
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.end(|| (End::Abandoned, ()));
    }
}

/// Reads a blob that a [`BlobWriter`](crate::BlobWriter) of this process is writing, from
/// [`BlobStore::follow`](crate::BlobStore::follow). Blocks while it has read everything
/// written so far; EOF comes only after the writer committed the verified blob; any other
/// end is an `io::Error` carrying a [`FollowError`].
#[derive(Debug)]
pub struct Follower {
    progress: Arc<Progress>,
    file: fs_err::File,
    pos: u64,
    epoch: u64,
}

impl Follower {
    /// How many bytes this follower has returned.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Waits until there is something past `pos` to read (returns how much) or the blob
    /// ended (`0` after a commit).
    fn available(&mut self) -> io::Result<u64> {
        let digest = || self.progress.digest.clone();
        let mut state = self.progress.lock();
        loop {
            if state.epoch != self.epoch {
                if self.pos > 0 {
                    return Err(io::Error::other(FollowError::Restarted {
                        digest: digest(),
                    }));
                }
                self.epoch = state.epoch;
            }
            match &state.end {
                Some(End::Failed(reason)) => {
                    return Err(io::Error::other(FollowError::Failed {
                        digest: digest(),
                        reason: reason.clone(),
                    }));
                }
                Some(End::Abandoned) => {
                    return Err(io::Error::other(FollowError::Abandoned {
                        digest: digest(),
                    }));
                }
                Some(End::Committed) | None => {}
            }
            if state.written > self.pos {
                return Ok(state.written - self.pos);
            }
            if matches!(state.end, Some(End::Committed)) {
                return Ok(0);
            }
            state = self
                .progress
                .changed
                .wait(state)
                .unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Read for Follower {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let epoch = self.epoch;
            let available = self.available()?;
            if available == 0 {
                return Ok(0);
            }
            let want = buf
                .len()
                .min(usize::try_from(available).unwrap_or(usize::MAX));
            let n = read_at(self.file.file(), &mut buf[..want], self.pos).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "reading {} (the download of {}): {e}",
                        self.progress.partial.display(),
                        self.progress.digest
                    ),
                )
            })?;
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            // Shorter than announced: only a restart truncates the file. Before anything
            // was read that is harmless (start over with the new bytes); after, it fails.
            self.available()?;
            if self.epoch == epoch {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "{} ended before the {} bytes of {} written so far",
                        self.progress.partial.display(),
                        self.pos + available,
                        self.progress.digest
                    ),
                ));
            }
        }
    }
}

/// A positional read: the writer's handle keeps its own position.
#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}
