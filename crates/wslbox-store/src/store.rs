//! Reading and writing records. Reads need no lock (each record file is replaced
//! atomically); a read-merge-write holds `records.lock` so two processes recording the same
//! image don't lose each other's facts.

use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use wslbox_cache::BlobStore;
use wslbox_reference::Digest;

use crate::StoreError;
use crate::record::{RECORD_VERSION, Record};

const STORE_DIR: &str = "images-v1";
const RECORDS_DIR: &str = "records";
const RECORDS_LOCK: &str = "records.lock";

/// The image store under one cache root. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ImageStore {
    records: PathBuf,
    blobs: BlobStore,
}

/// Every readable record, and why the others were skipped.
#[derive(Debug, Default)]
pub struct Listing {
    pub records: Vec<Record>,
    pub skipped: Vec<Skipped>,
}

/// A record file that could not be used; it is overwritten when its image is next recorded.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

impl ImageStore {
    /// Opens (creating if needed) the store of the cache at `cache_root`.
    pub fn open(cache_root: &Path) -> Result<Self, StoreError> {
        let blobs = BlobStore::open(cache_root)?;
        let records = cache_root.join(STORE_DIR).join(RECORDS_DIR);
        fs_err::create_dir_all(&records)?;
        Ok(ImageStore { records, blobs })
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.blobs
    }

    pub(crate) fn records_dir(&self) -> &Path {
        &self.records
    }

    /// Every record, sorted by reference then platform. Never fails on a bad record.
    pub fn list(&self) -> Result<Listing, StoreError> {
        let mut listing = Listing::default();
        for entry in fs_err::read_dir(&self.records)? {
            let path = entry?.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !name.ends_with(".json") || name.starts_with('.') {
                continue;
            }
            match read_record(&path) {
                Ok(Some(record)) => listing.records.push(record),
                Ok(None) => {}
                Err(reason) => listing.skipped.push(Skipped { path, reason }),
            }
        }
        listing
            .records
            .sort_by(|a, b| (&a.reference, &a.platform).cmp(&(&b.reference, &b.platform)));
        Ok(listing)
    }

    /// The record with the most facts about the content `digest` identifies, if any.
    pub fn facts_for(&self, digest: &Digest) -> Result<Option<Record>, StoreError> {
        Ok(self
            .list()?
            .records
            .into_iter()
            .filter(|r| r.digest() == Some(digest))
            .max_by_key(|r| (r.os.is_some(), r.used_at)))
    }

    /// Writes `record`, keeping what an older record of the same content learned. Blobs it
    /// names that are not in the cache are dropped from it. Returns what was stored.
    pub fn record(&self, mut record: Record) -> Result<Record, StoreError> {
        record.version = RECORD_VERSION;
        let mut blobs = std::mem::take(&mut record.blobs);
        blobs.dedup();
        for blob in blobs {
            if !record.blobs.contains(&blob) && self.blobs.get(&blob, None)?.is_some() {
                record.blobs.push(blob);
            }
        }
        let path = self.records.join(record.file_name());
        let _lock = self.records_lock()?;
        if let Ok(Some(old)) = read_record(&path) {
            record.merge_from(&old);
        }
        write_atomically(&path, &record)?;
        Ok(record)
    }

    /// Deletes the file of `record` (under the records lock). Returns whether it was there.
    pub(crate) fn forget(&self, record: &Record) -> Result<bool, StoreError> {
        let _lock = self.records_lock()?;
        match fs_err::remove_file(self.records.join(record.file_name())) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    fn records_lock(&self) -> Result<fs_err::File, StoreError> {
        let path = self.records.with_file_name(RECORDS_LOCK);
        let file = fs_err::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        match file.file().lock() {
            Ok(()) => Ok(file),
            Err(e) if e.kind() == ErrorKind::Unsupported => Ok(file),
            Err(source) => Err(StoreError::Write { path, source }),
        }
    }
}

/// `Ok(None)` when the file vanished (removed meanwhile); `Err(reason)` when it is unusable.
fn read_record(path: &Path) -> Result<Option<Record>, String> {
    let bytes = match fs_err::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    match value.get("version").and_then(serde_json::Value::as_u64) {
        Some(v) if v == u64::from(RECORD_VERSION) => {}
        Some(v) => {
            return Err(format!(
                "record version {v}, this wslbox reads {RECORD_VERSION}"
            ));
        }
        None => return Err("no record version".into()),
    }
    let record: Record =
        serde_json::from_value(value).map_err(|e| format!("not an image record ({e})"))?;
    if path.file_name().and_then(|n| n.to_str()) != Some(record.file_name().as_str()) {
        return Err("the file name does not match the record's key".into());
    }
    Ok(Some(record))
}

/// Written beside `path` (unnamed where the filesystem allows it), flushed to disk, then renamed
/// over `path`.
fn write_atomically(path: &Path, record: &Record) -> Result<(), StoreError> {
    let failed = |source| StoreError::Write {
        path: path.to_owned(),
        source,
    };
    let mut tmp = wslbox_fs::AtomicFile::create(path).map_err(failed)?;
    let mut json = serde_json::to_vec_pretty(record).expect("records serialize");
    json.push(b'\n');
    tmp.file_mut().write_all(&json).map_err(failed)?;
    tmp.file().sync_all().map_err(failed)?;
    tmp.commit().map_err(failed)
}
