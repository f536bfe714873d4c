//! `docker save` / `podman save` archives: a top-level `manifest.json` lists, per image, the
//! config file, `RepoTags` and the layer files. Layers may be stored plain or compressed; a
//! layer's digest is the sha256 of the file as stored, the config digest that of the config file.
//!
//! Such archives have no manifest blob, so wslbox synthesizes an OCI manifest for the image and
//! reports its digest.
//!
//! The parsing is public over in-memory bytes ([`choose_image`], [`digest_from_blob_path`]) for
//! readers that see the archive as a stream (`podman save`, `docker save`), not as a file.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::Arc;

use serde::Deserialize;
use wslbox_reference::{Algorithm, Digest, Reference};

use super::archive::{ArchiveStore, read_up_to};
use super::{LayoutError, Store, StoreBlobs, read_small};
use crate::media_type::{OCI_CONFIG, OCI_MANIFEST, oci_layer_media_type};
use crate::{Compression, LayerDescriptor, ResolvedImage, manifest};
use wslbox_reference::Hasher;

/// One image listed in an archive's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ArchivedImage {
    /// Path of the image config inside the archive.
    pub config: String,
    #[serde(default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layer files inside the archive, bottom first. A path may repeat, or be a
    /// link to another member, when a layer occurs twice.
    pub layers: Vec<String>,
}

impl ArchivedImage {
    pub fn tags(&self) -> &[String] {
        self.repo_tags.as_deref().unwrap_or_default()
    }
}

/// Parses an archive's `manifest.json` and picks the image `selector` names (a `RepoTags`
/// reference or `@N`), or the only one. `image` names the archive in errors.
pub fn choose_image(
    listing: &[u8],
    image: &str,
    selector: Option<&str>,
) -> Result<ArchivedImage, LayoutError> {
    let images: Vec<ArchivedImage> =
        serde_json::from_slice(listing).map_err(|e| LayoutError::Invalid {
            image: image.into(),
            reason: format!("manifest.json is invalid: {e}"),
        })?;
    choose(&images, image, selector).cloned()
}

/// Resolves the image `selector` names (a `RepoTags` reference or `@N`), or the only one.
pub(super) fn resolve(
    store: Arc<ArchiveStore>,
    image: &str,
    selector: Option<&str>,
) -> Result<(ResolvedImage, StoreBlobs), LayoutError> {
    let io_err = |source| LayoutError::Io {
        image: image.into(),
        source,
    };
    if !store.contains("manifest.json") {
        return Err(LayoutError::NotALayout {
            image: image.into(),
            expected: "a `docker save` archive",
            reason: "it has no top-level manifest.json".into(),
        });
    }
    let listing = read_small(store.as_ref(), "manifest.json", image)?;
    let chosen = choose_image(&listing, image, selector)?;

    let config_bytes = read_small(store.as_ref(), &chosen.config, image)?;
    let config_digest = Hasher::digest(Algorithm::Sha256, &config_bytes);
    let (config, platform) = manifest::parse_config(&config_bytes, image)?;
    manifest::check_layer_count(&config_bytes, chosen.layers.len(), image)?;

    let mut layers = Vec::with_capacity(chosen.layers.len());
    let mut paths = HashMap::new();
    for path in &chosen.layers {
        let section = store.section(path).map_err(io_err)?;
        let mut head = [0u8; Compression::MAGIC_LEN];
        let n = read_up_to(&mut store.open_section(section).map_err(io_err)?, &mut head)
            .map_err(io_err)?;
        let compression = Compression::sniff(&head[..n]);
        let digest = match digest_from_blob_path(path) {
            // Named by digest (docker 25+ layout-style archives): verified when it is read.
            Some(d) => d,
            None => hash(store.open_section(section).map_err(io_err)?).map_err(io_err)?,
        };
        paths.insert(digest.clone(), path.clone());
        layers.push(LayerDescriptor {
            digest,
            size: section.size,
            media_type: oci_layer_media_type(compression).into(),
            compression,
            urls: Vec::new(),
        });
    }

    let manifest_digest =
        synthesized_manifest_digest(&config_digest, config_bytes.len() as u64, &layers);
    let resolved = ResolvedImage {
        reference: image.into(),
        manifest_digest,
        index_digest: None,
        platforms: vec![platform.clone()],
        platform,
        config_digest,
        config,
        layers,
    };
    let store: Arc<dyn Store> = store;
    Ok((
        resolved,
        StoreBlobs {
            store,
            paths,
            image: image.into(),
        },
    ))
}

fn choose<'a>(
    images: &'a [ArchivedImage],
    image: &str,
    selector: Option<&str>,
) -> Result<&'a ArchivedImage, LayoutError> {
    let all_tags = || {
        images
            .iter()
            .flat_map(|i| i.tags().iter().cloned())
            .collect::<Vec<_>>()
    };
    match selector {
        None => match images {
            [] => Err(LayoutError::NotALayout {
                image: image.into(),
                expected: "a `docker save` archive with an image",
                reason: "manifest.json lists no images".into(),
            }),
            [one] => Ok(one),
            _ => Err(LayoutError::Ambiguous {
                image: image.into(),
                available: all_tags(),
            }),
        },
        Some(s) if s.starts_with('@') => {
            let n: usize = s[1..].parse().map_err(|_| LayoutError::Invalid {
                image: image.into(),
                reason: format!("`{s}` is not an image number (use @0, @1, …)"),
            })?;
            images.get(n).ok_or_else(|| LayoutError::Invalid {
                image: image.into(),
                reason: format!("there is no image @{n}; the archive holds {}", images.len()),
            })
        }
        Some(s) => {
            // Compare normalized, so `alpine` finds `docker.io/library/alpine:latest` and back.
            let wanted = s.parse::<Reference>().map_err(|e| LayoutError::Invalid {
                image: image.into(),
                reason: e.to_string(),
            })?;
            images
                .iter()
                .find(|i| {
                    i.tags()
                        .iter()
                        .any(|t| t.parse::<Reference>().is_ok_and(|r| r == wanted))
                })
                .ok_or_else(|| LayoutError::TagNotFound {
                    image: image.into(),
                    tag: s.into(),
                    available: all_tags(),
                })
        }
    }
}

/// `blobs/sha256/<hex>` (Docker 25+ layout-style archives) → the digest it names.
pub fn digest_from_blob_path(path: &str) -> Option<Digest> {
    let rest = path.trim_start_matches("./").strip_prefix("blobs/")?;
    let (algorithm, hex) = rest.split_once('/')?;
    format!("{algorithm}:{hex}").parse().ok()
}

fn hash(mut r: impl Read) -> io::Result<Digest> {
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        match r.read(&mut buf)? {
            0 => return Ok(hasher.finish()),
            n => hasher.update(&buf[..n]),
        }
    }
}

/// The digest of the OCI manifest equivalent to the archived image, so that the image has a
/// stable identity even though the archive stores no manifest.
pub fn synthesized_manifest_digest(
    config: &Digest,
    config_size: u64,
    layers: &[LayerDescriptor],
) -> Digest {
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config.to_string(), "size": config_size },
        "layers": layers.iter().map(|l| serde_json::json!({
            "mediaType": l.media_type, "digest": l.digest.to_string(), "size": l.size,
        })).collect::<Vec<_>>(),
    });
    Hasher::digest(Algorithm::Sha256, manifest.to_string().as_bytes())
}
