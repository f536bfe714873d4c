//! `inspect`: what an image is — digests, platforms, layers, config — from its manifest and
//! config alone, like `skopeo inspect`; which OS it is and how well it will work as a WSL
//! distribution from the image store, or (`deep`) from its flattened filesystem.

use std::sync::Arc;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::Platform;
use wslbox_rootfs::customize::suitability;
use wslbox_rootfs::osrelease::detect_os;
use wslbox_source::{OpenOptions, SourceInfo, SourceSpec};
use wslbox_store::{OsFacts, StoredWarning};

use crate::export::SourceSummary;
use crate::record::{Learned, os_facts, stored_warnings};
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
    /// `null` when neither the store nor the layers were read for it.
    pub os: Option<OsFacts>,
    /// Suitability warnings; `null` when unknown (as `os`).
    pub warnings: Option<Vec<StoredWarning>>,
    /// Where `os` and `warnings` come from: `layers` (read now), `store` (an earlier export,
    /// import or deep inspect), or `null`.
    pub facts_from: Option<&'static str>,
}

#[derive(Debug, serde::Serialize)]
pub struct Layer {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// Describes `spec` from its metadata, taking the OS and warnings from the store; with
/// `deep` (and for tarballs and SquashFS images, which have no metadata) flattens it and
/// reads them from the tree, recording them for next time.
pub fn inspect(
    spec: &SourceSpec,
    open: &OpenOptions,
    deep: bool,
    typed: &str,
    reporter: &Arc<dyn Reporter>,
) -> Result<Inspection, PipelineError> {
    if !deep {
        let source_reporter: Arc<dyn wslbox_source::Reporter> = reporter.clone();
        if let Some(info) = wslbox_source::describe(spec, open, &source_reporter)? {
            reporter.finish();
            let known = crate::record::known_facts(open, &info);
            let (os, warnings, from) = match known {
                Some(record) if record.os.is_some() => {
                    (record.os, Some(record.warnings), Some("store"))
                }
                _ => (None, None, None),
            };
            return Ok(inspection(&info, os, warnings, from));
        }
    }
    let leased = crate::flatten(spec, open, reporter, None, &[])?;
    reporter.finish();
    let (tree, info) = (&leased.flattened.tree, &leased.flattened.info);
    let os = detect_os(tree);
    let warnings = suitability(tree, &info.config);
    let learned = Learned {
        os: os.as_ref(),
        rootfs_size: tree.content_bytes(),
        warnings: &warnings,
    };
    crate::record::save(open, typed, info, Some(&learned), reporter.as_ref());
    Ok(inspection(
        info,
        os.as_ref().map(os_facts),
        Some(stored_warnings(&warnings)),
        Some("layers"),
    ))
}

fn inspection(
    info: &SourceInfo,
    os: Option<OsFacts>,
    warnings: Option<Vec<StoredWarning>>,
    facts_from: Option<&'static str>,
) -> Inspection {
    Inspection {
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
        source: SourceSummary::new(info),
        os,
        warnings,
        facts_from,
    }
}
