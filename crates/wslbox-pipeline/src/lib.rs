//! The pipeline every command that reads an image shares:
//!
//! source ([`wslbox_source`]) → layers → flatten → customize → output ([`wslbox_rootfs`])
//!
//! - [`export`] runs all of it and returns an [`ExportSummary`]; `wslbox export` writes a file
//!   or stdout, `wslbox import` a pipe into `wsl.exe --import` — the same function.
//! - [`inspect`] reads the manifest and config only and reports what the image is
//!   ([`Inspection`]), with the OS and warnings an earlier export recorded; `deep` flattens
//!   it to learn them.
//! - [`pull`] downloads a registry image into the cache.
//! - [`push`] runs the export into a layer that is compressed and uploaded as it is written,
//!   and pushes it as a single-layer image; a second push of the same source reuses the
//!   layer (`push_memo`).
//!
//! Each records what it learned in the image store ([`wslbox_store`]); from the first
//! download until then it holds a lease on the cache, so `rmi`/`prune` in another process
//! wait instead of removing blobs that are not recorded yet.
//!
//! Export consults the image catalog ([`wslbox_catalog`], passed in [`ExportRequest`]) for the
//! OS it finds: the admin group of `--user`, and warnings or notes about what will not work.
//!
//! Progress goes to one [`Reporter`], which extends the source reporter with the output stage.

use std::sync::Arc;

use wslbox_rootfs::{FlattenOptions, detect_platform};
use wslbox_source::{Flattened, OpenOptions, SourceSpec};

mod catalog;
mod check;
mod error;
mod export;
mod inspect;
mod pull;
mod push;
mod push_labels;
mod push_layer;
mod push_memo;
mod record;

pub use catalog::SYSTEMD_UNSUPPORTED;
pub use check::{Check, CheckStatus, check};
pub use error::PipelineError;
pub use export::{ExportRequest, ExportSummary, KeepRequest, KeptSummary, SourceSummary, export};
pub use inspect::{Inspection, inspect};
pub use pull::pull;
pub use push::{
    BuildFacts, LABEL_PREFIX, LayerSummary, LayerTransfer, PushRequest, PushSummary, push,
};

/// Progress of a whole export; the binary draws it.
pub trait Reporter: wslbox_source::Reporter {
    /// The flattened tree starts being written to `dest` (a file, stdout, `wsl.exe`). From
    /// here an interruption must remove the partial output or roll an import back.
    fn output_started(&self, dest: &str) {
        let _ = dest;
    }
    /// Everything is done; clear the bars.
    fn finish(&self) {}
    /// `wslbox upgrade` starts reading `paths` out of the old distribution's export.
    fn keeping_started(&self, paths: &[String]) {
        let _ = paths;
    }
    /// `bytes` more of the old distribution's export went by.
    fn keeping_progress(&self, bytes: u64) {
        let _ = bytes;
    }
    /// The kept paths are read.
    fn keeping_finished(&self) {}
    /// `bytes` more of a pushed layer reached the registry.
    fn upload_progress(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// A flattened source, and the cache lease that keeps its blobs until they are recorded.
struct Leased {
    flattened: Flattened,
    _lease: wslbox_cache::GcLock,
}

/// Opens and flattens `spec`, spooling under `<cache>/spool` and streaming into `out` if
/// given (never files below `hold`, besides what customization replaces); learns the
/// platform from the tree when the source records none.
fn flatten(
    spec: &SourceSpec,
    open: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
    out: Option<&mut wslbox_rootfs::Output>,
    hold: &[Vec<u8>],
) -> Result<Leased, PipelineError> {
    let blobs = wslbox_cache::BlobStore::open(&open.cache_dir)?;
    let lease = blobs.lease()?;
    let source_reporter: Arc<dyn wslbox_source::Reporter> = reporter.clone();
    let source = wslbox_source::open(spec, open, &source_reporter)?;
    let spool_dir = blobs.spool_dir()?;
    let mut opts = FlattenOptions::new(spool_dir);
    opts.hold.extend_from_slice(hold);
    let mut flattened = match out {
        Some(out) => source.flatten_into(&opts, &source_reporter, out)?,
        None => source.flatten(&opts, &source_reporter)?,
    };
    if flattened.info.platform.is_none() {
        flattened.info.platform = detect_platform(&flattened.tree);
        if let Some(found) = &flattened.info.platform {
            let wanted = open.wanted_platform();
            if !wanted.matches(found) {
                reporter.warn(&format!(
                    "{} holds {found} binaries, not {wanted}; it may not run here",
                    flattened.info.reference
                ));
            }
        }
    }
    Ok(Leased {
        flattened,
        _lease: lease,
    })
}
