//! Content-addressed blob store: verify-then-commit, file locks, corruption detection.
//!
//! [`BlobStore`] keeps every blob (layers, configs, manifests) under
//! `<root>/blobs-v1/<algorithm>/<hex>`, named only by its validated [`Digest`](wslbox_reference::Digest). Downloads go
//! through a [`BlobWriter`]: bytes are appended to a partial file under `<root>/tmp-v1/` (same
//! filesystem, so committing is an atomic rename) and the blob is committed only after its size
//! and digest have been checked. A partial survives an interrupted download, so the next writer
//! for that digest resumes from [`BlobWriter::offset`] after re-hashing the bytes already there.
//!
//! A blob can be read while it is written: [`BlobStore::follow`] returns a [`Follower`] over
//! the partial file of a writer that this process (this store or a clone of it) runs right
//! now. It reads the in-order prefix that the writer has written and hashed, waits for more,
//! and returns EOF only after [`BlobWriter::commit`] verified size and digest. A mismatch, a
//! discard, a writer dropped early, or a restart after the follower read bytes ends it with
//! an I/O error carrying a [`FollowError`]. So a reader sees unverified bytes, but always
//! learns whether they were the blob before it relies on having read all of it.
//!
//! Several processes may share one cache: [`BlobStore::acquire`] holds an exclusive lock on a
//! per-digest lock file (`<root>/tmp-v1/<algorithm>-<hex>.lock`) for as long as the writer lives,
//! and re-checks for a committed blob once it has the lock, so the loser of a race finds the
//! winner's blob ([`Acquired::Cached`]) instead of downloading it again.
//!
//! Reads need no lock: a committed blob never changes. [`BlobStore::get`] does a cheap size check,
//! [`BlobStore::verify`] re-hashes; both remove a corrupt entry so it is fetched again.
//!
//! [`BlobStore::prune`] removes blobs and abandoned partials that a caller no longer needs.
//!
//! [`BlobStore::lease`] and [`BlobStore::collect`] are the two sides of the cache-wide
//! collection lock: processes that rely on blobs they have not recorded yet hold a lease;
//! whatever removes unrecorded blobs waits for them.
//!
//! The cache's default location is `wslbox_dirs::cache`; callers apply `--cache-dir` and
//! `WSLBOX_CACHE_DIR` before falling back to it.
//!
//! The version in the layout path (`blobs-v1`, `tmp-v1`) changes whenever the layout does, so a
//! future wslbox never misreads an old cache.

mod error;
mod follow;
mod gc;
mod layout;
mod lock;
mod prune;
mod store;
mod writer;

pub use error::CacheError;
pub use follow::{FollowError, Follower};
pub use gc::{GcLock, SpoolFile};
pub use prune::{PruneReport, Pruned};
pub use store::{Acquired, BlobStore};
pub use writer::BlobWriter;
