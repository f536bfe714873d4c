//! `pull`: a registry image's manifest, config and layers into the cache, recorded in the
//! image store.

use wslbox_image::ResolvedImage;
use wslbox_reference::Reference;
use wslbox_source::{OpenOptions, SourceInfo, SourceKind};

use crate::{PipelineError, Reporter};

/// Downloads `reference` under a cache lease and records it (without OS facts: a pull reads
/// no layer; the first export or `inspect --deep` adds them).
pub fn pull(
    reference: &Reference,
    open: &OpenOptions,
    typed: &str,
    reporter: &dyn Reporter,
) -> Result<ResolvedImage, PipelineError> {
    let _lease = wslbox_cache::BlobStore::open(&open.cache_dir)?.lease()?;
    let image = wslbox_source::pull(reference, open, reporter)?;
    let info = SourceInfo::from_image(SourceKind::Registry, &image);
    crate::record::save(open, typed, &info, None, reporter);
    Ok(image)
}
