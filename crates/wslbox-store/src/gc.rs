//! `rmi` and `prune`: forgetting records and removing the blobs nothing needs any more. Both
//! run under the cache's exclusive collection lock, which pulls and exports hold shared
//! until their record is written.

use std::collections::HashSet;
use std::path::PathBuf;

use wslbox_cache::{GcLock, PruneReport, SpoolFile};
use wslbox_reference::Digest;

use crate::{ImageStore, Record, StoreError};

/// What [`ImageStore::remove`] did.
#[derive(Debug, Default)]
pub struct RemoveSummary {
    pub forgotten: Vec<Record>,
    /// Blobs of the forgotten records that no other record needs.
    pub blobs: PruneReport,
}

/// What [`ImageStore::prune`] removed (or, in a dry run, would remove).
#[derive(Debug, Default)]
pub struct PruneSummary {
    /// Records forgotten (`--all`).
    pub forgotten: Vec<Record>,
    /// Blobs no kept record needs, and interrupted downloads.
    pub blobs: PruneReport,
    /// Spool files of killed processes.
    pub spool: Vec<SpoolFile>,
    /// Unreadable records and half-written record files, with their sizes.
    pub stale_records: Vec<(PathBuf, u64)>,
}

impl PruneSummary {
    pub fn bytes(&self) -> u64 {
        self.blobs.bytes()
            + self.spool.iter().map(|s| s.bytes).sum::<u64>()
            + self.stale_records.iter().map(|(_, b)| b).sum::<u64>()
    }
}

impl ImageStore {
    /// Takes the exclusive collection lock, calling `busy` first if it has to wait for
    /// running pulls or exports.
    pub fn collect(&self, busy: impl FnOnce()) -> Result<GcLock, StoreError> {
        Ok(self.blobs().collect(busy)?)
    }

    /// Forgets `records` and removes their blobs that no remaining record needs.
    pub fn remove(
        &self,
        records: &[Record],
        _collecting: &GcLock,
    ) -> Result<RemoveSummary, StoreError> {
        let mut summary = RemoveSummary::default();
        let mut candidates: HashSet<Digest> = HashSet::new();
        for record in records {
            self.forget(record)?;
            candidates.extend(record.blobs.iter().cloned());
            summary.forgotten.push(record.clone());
        }
        let kept = kept_blobs(&self.list()?.records);
        summary.blobs = self
            .blobs()
            .prune(|d| !candidates.contains(d) || kept.contains(d), false)?;
        Ok(summary)
    }

    /// Removes blobs no record needs, interrupted downloads, spool files and unreadable
    /// records; `all` forgets every record first.
    pub fn prune(
        &self,
        all: bool,
        dry_run: bool,
        collecting: &GcLock,
    ) -> Result<PruneSummary, StoreError> {
        let listing = self.list()?;
        let mut summary = PruneSummary::default();
        let kept = if all {
            for record in &listing.records {
                if !dry_run {
                    self.forget(record)?;
                }
                summary.forgotten.push(record.clone());
            }
            HashSet::new()
        } else {
            kept_blobs(&listing.records)
        };
        let unreadable = listing.skipped.iter().map(|s| s.path.clone());
        for path in unreadable.chain(self.half_written()?) {
            let bytes = fs_err::metadata(&path).map_or(0, |m| m.len());
            if !dry_run {
                fs_err::remove_file(&path)?;
            }
            summary.stale_records.push((path, bytes));
        }
        summary.blobs = self.blobs().prune(|d| kept.contains(d), dry_run)?;
        summary.spool = self.blobs().sweep_spool(collecting, dry_run)?;
        Ok(summary)
    }

    /// Temp files of record writes a killed process never renamed into place.
    fn half_written(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut found = Vec::new();
        for entry in fs_err::read_dir(self.records_dir())? {
            let path = entry?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if name.starts_with(".record-") && name.ends_with(".tmp") {
                found.push(path);
            }
        }
        // Written by wslbox_fs where the filesystem has no unnamed files: only dead writers'.
        found.extend(wslbox_fs::sweep_dir(self.records_dir(), true)?);
        Ok(found)
    }
}

fn kept_blobs(records: &[Record]) -> HashSet<Digest> {
    records
        .iter()
        .flat_map(|r| r.blobs.iter().cloned())
        .collect()
}
