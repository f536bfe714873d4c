//! What every pull, export and import tells the image store ([`wslbox_store`]).

use wslbox_reference::Reference;
use wslbox_rootfs::customize::Warning;
use wslbox_rootfs::osrelease::OsRelease;
use wslbox_source::{OpenOptions, SourceInfo, SourceKind};
use wslbox_store::{ImageStore, OsFacts, Record, StoredWarning, unix_now};

use crate::Reporter;

/// What flattening learned about the image.
pub(crate) struct Learned<'a> {
    pub os: Option<&'a OsRelease>,
    pub rootfs_size: u64,
    pub warnings: &'a [Warning],
}

/// The record for `info`, typed as `typed`.
pub(crate) fn record_of(typed: &str, info: &SourceInfo, learned: Option<&Learned>) -> Record {
    let mut record = Record::new(info.kind.as_str(), info.reference.clone(), unix_now());
    // A URL's user info and signed query never reach the store (a file others may read).
    record.typed = wslbox_registry::redact_url_text(typed);
    if info.kind == SourceKind::Registry
        && let Ok(reference) = info.reference.parse::<Reference>()
    {
        record.repository = Some(format!(
            "{}/{}",
            reference.registry(),
            reference.repository()
        ));
        record.tag = reference.tag().map(str::to_owned);
    }
    record.index_digest = info.index_digest.clone();
    record.manifest_digest = info.manifest_digest.clone();
    record.config_digest = info.config_digest.clone();
    record.sha256 = info.sha256.clone();
    record.platform = info.platform.as_ref().map(ToString::to_string);
    record.compressed_size = info.compressed_size();
    record.blobs = [
        &info.index_digest,
        &info.manifest_digest,
        &info.config_digest,
    ]
    .into_iter()
    .flatten()
    .chain(info.layers.iter().map(|l| &l.digest))
    .chain(info.sha256.as_ref())
    .cloned()
    .collect();
    if let Some(learned) = learned {
        record.os = learned.os.map(os_facts);
        record.rootfs_size = Some(learned.rootfs_size);
        record.warnings = stored_warnings(learned.warnings);
    }
    record
}

/// Records what was learned; a store that cannot be written is only a warning (the export
/// itself succeeded).
pub(crate) fn save(
    open: &OpenOptions,
    typed: &str,
    info: &SourceInfo,
    learned: Option<&Learned>,
    reporter: &dyn Reporter,
) {
    let result = ImageStore::open(&open.cache_dir)
        .and_then(|store| store.record(record_of(typed, info, learned)));
    if let Err(e) = result {
        reporter.warn(&format!(
            "could not record {} in the image store: {e}; `wslbox images` will not list it",
            info.reference
        ));
    }
}

/// What the store learned about `info`'s content from an earlier export or import.
pub(crate) fn known_facts(open: &OpenOptions, info: &SourceInfo) -> Option<Record> {
    let digest = info.digest()?;
    ImageStore::open(&open.cache_dir)
        .ok()?
        .facts_for(digest)
        .ok()
        .flatten()
}

pub(crate) fn os_facts(os: &OsRelease) -> OsFacts {
    OsFacts {
        id: os.id.clone(),
        id_like: os.id_like.clone(),
        name: os.name.clone(),
        version_id: os.version_id.clone(),
        pretty_name: os.pretty_name.clone(),
    }
}

pub(crate) fn stored_warnings(warnings: &[Warning]) -> Vec<StoredWarning> {
    warnings
        .iter()
        .map(|w| StoredWarning {
            code: w.code.to_string(),
            message: w.message.clone(),
        })
        .collect()
}
