//! The local image store: what wslbox knows about every image it pulled, exported or
//! imported, on top of the blob cache ([`wslbox_cache`]).
//!
//! - One [`Record`] per image: registry images and local layouts are keyed by their
//!   canonical reference and platform (a re-pull of a moved tag replaces the record);
//!   tarballs and SquashFS images by their sha256, engine images by their image ID. A record names the cache blobs it keeps
//!   alive ([`Record::blobs`]) and what flattening learned (OS, rootfs size, warnings).
//! - Records live under `<cache>/images-v1/records/`, one JSON file each, written atomically
//!   (temp file, then rename). The version is in the path, like the blob cache's. A record
//!   that is corrupt, truncated or of another version is skipped with a reason
//!   ([`Listing::skipped`]) and overwritten the next time that image is recorded.
//! - Collection ([`ImageStore::remove`], [`ImageStore::prune`]) runs under the cache's
//!   exclusive collection lock ([`ImageStore::collect`]); pulls and exports hold its shared
//!   side ([`wslbox_cache::BlobStore::lease`]) from their first download until their record is
//!   written, so a blob that is committed but not yet recorded is never collected.

mod error;
mod gc;
mod query;
mod record;
mod store;

pub use error::StoreError;
pub use gc::{PruneSummary, RemoveSummary};
pub use query::{Query, QueryError};
pub use record::{OsFacts, RECORD_VERSION, Record, StoredWarning, unix_now};
pub use store::{ImageStore, Listing, Skipped};
