//! After the stream: which members are the image, verified, in layer order.
//!
//! `manifest.json` and the config are parsed by `wslbox-image` (the same code that reads a
//! `docker-archive:FILE`). Every layer is checked before it is applied: against the digest its
//! path names (`blobs/sha256/<hex>`, Docker 25+), and, when it is stored uncompressed (every
//! engine's `save` does that), against the config's `rootfs.diff_ids` at its position. A
//! mismatch names both digests. The config is checked against the image ID the engine gave.

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::atomic::AtomicBool;

use wslbox_image::layout::docker_archive::{choose_image, digest_from_blob_path};
use wslbox_image::media_type::oci_layer_media_type;
use wslbox_image::{Compression, ImageConfigSummary, LayerDescriptor, LayoutError, manifest};
use wslbox_reference::{Algorithm, Digest, Hasher, Platform};
use wslbox_rootfs::{FlatTree, LayerBuilder, LayerOptions, ParsedLayer};

use super::stream::{Collected, Member};
use crate::{Reporter, SourceError};

/// The image an archive held, flattened.
pub(crate) struct Assembled {
    pub tree: FlatTree,
    pub config_digest: Digest,
    pub config: ImageConfigSummary,
    pub platform: Platform,
    pub layers: Vec<LayerDescriptor>,
}

/// Verifies and applies the image in `collected`. `what` names the source in errors;
/// `image_id` is the config digest the engine reported for it.
pub(crate) fn assemble(
    mut collected: Collected,
    what: &str,
    image_id: &Digest,
    spool_dir: &std::path::Path,
    reporter: &dyn Reporter,
) -> Result<Assembled, SourceError> {
    let invalid = |reason: String| {
        SourceError::Layout(LayoutError::Invalid {
            image: what.to_owned(),
            reason,
        })
    };
    let Some((_, Member::Small(listing))) = collected.resolve("manifest.json") else {
        return Err(invalid(
            "the saved archive has no manifest.json; is this engine's `save` format supported?"
                .into(),
        ));
    };
    let chosen = choose_image(listing, what, None)?;
    let config_bytes = match collected.resolve(&chosen.config) {
        Some((_, Member::Small(bytes))) => bytes,
        _ => {
            return Err(invalid(format!(
                "the config `{}` named by manifest.json is not in the archive",
                chosen.config
            )));
        }
    };
    let config_digest = Hasher::digest(Algorithm::Sha256, config_bytes);
    let named = digest_from_blob_path(&chosen.config).or_else(|| legacy_name(&chosen.config));
    for (expected, by) in [
        (Some(image_id), "the image ID"),
        (named.as_ref(), "its name"),
    ] {
        if let Some(expected) = expected.filter(|e| **e != config_digest) {
            return Err(invalid(format!(
                "the config `{}` is corrupt: expected {expected} ({by}), got {config_digest}",
                chosen.config
            )));
        }
    }
    let (config, platform) =
        manifest::parse_config(config_bytes, what).map_err(LayoutError::from)?;
    manifest::check_layer_count(config_bytes, chosen.layers.len(), what)
        .map_err(LayoutError::from)?;
    let diff_ids = manifest::parse_diff_ids(config_bytes, what).map_err(LayoutError::from)?;
    // An engine's stream stores layers by their diff_id: here every layer needs one.
    if diff_ids.len() != chosen.layers.len() {
        return Err(invalid(format!(
            "manifest.json lists {} layers but the config's rootfs.diff_ids has {}",
            chosen.layers.len(),
            diff_ids.len()
        )));
    }

    // Verify everything before applying anything.
    let mut plan = Vec::with_capacity(chosen.layers.len());
    let mut descriptors = Vec::with_capacity(chosen.layers.len());
    for (i, path) in chosen.layers.iter().enumerate() {
        let Some((key, member)) = collected.resolve(path) else {
            return Err(invalid(format!(
                "layer `{path}` named by manifest.json is not in the archive"
            )));
        };
        let (digest, size, compression) = match member {
            Member::Layer(l) => (l.digest.clone(), l.size, l.compression),
            Member::Small(bytes) => (
                Hasher::digest(Algorithm::Sha256, bytes),
                bytes.len() as u64,
                Compression::sniff(bytes),
            ),
            Member::Skipped => {
                return Err(invalid(format!(
                    "layer `{path}` is neither a tar nor a compressed stream"
                )));
            }
        };
        let mut checks = Vec::new();
        if let Some(named) = digest_from_blob_path(path) {
            checks.push((named, "its name".to_owned()));
        }
        if compression == Compression::None {
            checks.push((
                diff_ids[i].clone(),
                format!("rootfs.diff_ids[{i}] of the config"),
            ));
        } else if checks.is_empty() {
            reporter.warn(&format!(
                "{what}: layer `{path}` is {}-compressed and not named by its digest, so it could not be verified",
                compression.name()
            ));
        }
        for (expected, by) in checks {
            if expected != digest {
                return Err(invalid(format!(
                    "layer `{path}` is corrupt: expected {expected} ({by}), got {digest}; \
                     the archive the engine wrote holds different content than its image config says"
                )));
            }
        }
        descriptors.push(LayerDescriptor {
            digest,
            size,
            media_type: oci_layer_media_type(compression).into(),
            compression,
            urls: Vec::new(),
        });
        plan.push(key.to_owned());
    }

    // A member the manifest lists twice is applied twice: a copy for every use but the last.
    let mut uses: HashMap<&str, usize> = HashMap::new();
    for key in &plan {
        *uses.entry(key).or_default() += 1;
    }
    let mut ordered: Vec<ParsedLayer> = Vec::with_capacity(plan.len());
    for (i, key) in plan.iter().enumerate() {
        let left = uses.get_mut(key.as_str()).expect("counted above");
        *left -= 1;
        let layer = match collected.members.get(key) {
            Some(Member::Layer(l)) if *left > 0 => match &l.parsed {
                Ok(parsed) => parsed.try_clone().map_err(|source| SourceError::Io {
                    what: format!("{what}: reusing layer `{key}`"),
                    source,
                })?,
                Err(_) => take_parsed(&mut collected, key)?,
            },
            Some(Member::Layer(_)) => take_parsed(&mut collected, key)?,
            Some(Member::Small(bytes)) => {
                let label = format!("layer `{key}` of {what}");
                let builder = LayerBuilder::new(label, spool_dir, LayerOptions::image_layer())?;
                wslbox_rootfs::read_tar(
                    Box::new(Cursor::new(bytes.clone())),
                    descriptors[i].compression,
                    builder,
                    &|_| {},
                    &AtomicBool::new(false),
                )?
            }
            _ => unreachable!("checked above"),
        };
        ordered.push(layer);
    }
    let tree = FlatTree::from_layers(ordered)?;
    Ok(Assembled {
        tree,
        config_digest,
        config,
        platform,
        layers: descriptors,
    })
}

fn take_parsed(collected: &mut Collected, key: &str) -> Result<ParsedLayer, SourceError> {
    match collected.members.remove(key) {
        Some(Member::Layer(l)) => Ok(l.parsed?),
        _ => unreachable!("checked by the caller"),
    }
}

/// `<64 hex>.json` (podman and legacy Docker name the config by the image ID).
fn legacy_name(path: &str) -> Option<Digest> {
    let hex = path.strip_suffix(".json")?;
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    format!("sha256:{hex}").parse().ok()
}
