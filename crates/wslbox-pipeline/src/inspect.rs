//! `inspect`: what an image is — digests, platforms, layers, config — and, from its flattened
//! filesystem, which OS it is and how well it will work as a WSL distribution.

use std::sync::Arc;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::Platform;
use wslbox_rootfs::customize::{Warning, suitability};
use wslbox_rootfs::osrelease::{OsRelease, detect_os};
use wslbox_source::{OpenOptions, SourceSpec};

use crate::export::SourceSummary;
use crate::{PipelineError, Reporter};

/// The documented `inspect --json` object (see README). Keys are stable; absent values are null.
#[derive(Debug, serde::Serialize)]
pub struct Inspection {
    pub reference: String,
    pub manifest_digest: Option<String>,
    pub index_digest: Option<String>,
    pub platform: Option<Platform>,
    pub platforms: Vec<Platform>,
    pub config_digest: Option<String>,
    pub layers: Vec<Layer>,
    /// Env, User, WorkingDir, Entrypoint, Cmd and Labels, keyed as the README shows.
    pub config: ImageConfigSummary,
    pub source: SourceSummary,
    pub os: Option<OsRelease>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, serde::Serialize)]
pub struct Layer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// Opens and flattens `spec`, then reads its OS and suitability from the tree.
pub fn inspect(
    spec: &SourceSpec,
    open: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Inspection, PipelineError> {
    let flattened = crate::flatten(spec, open, reporter)?;
    reporter.finish();
    let (tree, info) = (flattened.tree, flattened.info);
    let os = detect_os(&tree);
    let warnings = suitability(&tree, &info.config);
    Ok(Inspection {
        reference: info.reference.clone(),
        manifest_digest: info.manifest_digest.as_ref().map(ToString::to_string),
        index_digest: info.index_digest.as_ref().map(ToString::to_string),
        platform: info.platform.clone(),
        platforms: info.platforms.clone(),
        config_digest: info.config_digest.as_ref().map(ToString::to_string),
        layers: info
            .layers
            .iter()
            .map(|l| Layer {
                digest: l.digest.to_string(),
                size: l.size,
                media_type: l.media_type.clone(),
            })
            .collect(),
        config: info.config.clone(),
        source: SourceSummary::new(&info),
        os,
        warnings,
    })
}
