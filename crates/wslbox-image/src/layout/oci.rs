//! OCI image layouts (image-spec `image-layout.md`), in a directory or inside a tar archive.
//!
//! `index.json` entries are matched against the tag through the
//! `org.opencontainers.image.ref.name` annotation; an entry that is itself an index goes through
//! platform selection like a registry's.

use std::collections::HashMap;
use std::sync::Arc;

use oci_spec::image::ANNOTATION_REF_NAME;
use serde::Deserialize;
use wslbox_reference::Platform;

use super::{LayoutError, Store, StoreBlobs, blob_path, read_blob, read_small};
use crate::ResolvedImage;
use crate::manifest::{self, IndexEntry, Parsed, RawDescriptor};

/// containerd's image name annotation, which its exporters write next to `ref.name`.
const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
/// Indexes nest rarely; this bounds a malicious cycle.
const MAX_NESTING: usize = 4;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LayoutMarker {
    image_layout_version: Option<String>,
}

#[derive(Deserialize)]
struct LayoutIndex {
    #[serde(default)]
    manifests: Vec<RawDescriptor>,
}

/// Resolves `tag` (or the only image) for `platform` in the layout `store` names `image`.
pub(super) fn resolve(
    store: Arc<dyn Store>,
    image: &str,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<(ResolvedImage, StoreBlobs), LayoutError> {
    let not_layout = |reason: String| LayoutError::NotALayout {
        image: image.into(),
        expected: "an OCI image layout",
        reason,
    };
    let marker = read_small(store.as_ref(), "oci-layout", image).map_err(|e| {
        let cause = match e {
            LayoutError::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        not_layout(format!("cannot read its `oci-layout` file ({cause})"))
    })?;
    let marker: LayoutMarker = serde_json::from_slice(&marker)
        .map_err(|e| not_layout(format!("`oci-layout` is not valid JSON: {e}")))?;
    if marker.image_layout_version.is_none() {
        return Err(not_layout(
            "`oci-layout` has no `imageLayoutVersion`".into(),
        ));
    }
    let index = read_small(store.as_ref(), "index.json", image)?;
    let index: LayoutIndex = serde_json::from_slice(&index)
        .map_err(|e| not_layout(format!("`index.json` is invalid: {e}")))?;

    let chosen = choose_in_index_json(&index.manifests, image, tag, platform)?;
    let (mut descriptor, mut from_index) = (chosen.descriptor, chosen.from_index);
    let mut index_digest = None;
    for _ in 0..MAX_NESTING {
        let bytes = read_blob(store.as_ref(), &descriptor, "manifest", image)?;
        match manifest::parse(Some(&descriptor.media_type), &bytes, image)? {
            Parsed::Index(entries) => {
                let entry = manifest::select(&entries, platform, image)?;
                index_digest = Some(descriptor.digest.clone());
                from_index = Some(entries.clone());
                descriptor = entry.target.clone();
            }
            Parsed::Manifest(m) => {
                let config_bytes = read_blob(store.as_ref(), &m.config, "config", image)?;
                let (config, platform) = manifest::parse_config(&config_bytes, image)?;
                manifest::check_layer_count(&config_bytes, m.layers.len(), image)?;
                let platforms = match &from_index {
                    Some(entries) => manifest::platforms(entries),
                    None => vec![platform.clone()],
                };
                let paths: HashMap<_, _> = m
                    .layers
                    .iter()
                    .map(|l| (l.digest.clone(), blob_path(&l.digest)))
                    .collect();
                let resolved = ResolvedImage {
                    reference: image.into(),
                    manifest_digest: descriptor.digest,
                    index_digest,
                    platform,
                    platforms,
                    config_digest: m.config.digest,
                    config,
                    layers: m.layers,
                };
                return Ok((
                    resolved,
                    StoreBlobs {
                        store,
                        paths,
                        image: image.into(),
                    },
                ));
            }
        }
    }
    Err(LayoutError::Invalid {
        image: image.into(),
        reason: format!("indexes nested deeper than {MAX_NESTING} levels"),
    })
}

struct Chosen {
    descriptor: manifest::BlobRef,
    /// The `index.json` entries the descriptor was chosen from by platform, if it was.
    from_index: Option<Vec<IndexEntry>>,
}

/// Picks the `index.json` entry for `tag`: by annotation, then by platform when a tag names
/// several per-platform manifests. Without a tag the layout must hold exactly one entry.
fn choose_in_index_json(
    manifests: &[RawDescriptor],
    image: &str,
    tag: Option<&str>,
    platform: &Platform,
) -> Result<Chosen, LayoutError> {
    let names = || -> Vec<String> {
        manifests
            .iter()
            .map(|d| {
                d.annotation(ANNOTATION_REF_NAME)
                    .map_or_else(|| d.digest.clone(), str::to_owned)
            })
            .collect()
    };
    let candidates: Vec<&RawDescriptor> = match tag {
        Some(tag) => manifests
            .iter()
            .filter(|d| {
                d.annotation(ANNOTATION_REF_NAME) == Some(tag)
                    || d.annotation(CONTAINERD_IMAGE_NAME) == Some(tag)
            })
            .collect(),
        None => manifests.iter().collect(),
    };
    match (candidates.as_slice(), tag) {
        ([], Some(tag)) => Err(LayoutError::TagNotFound {
            image: image.into(),
            tag: tag.into(),
            available: names(),
        }),
        ([], None) => Err(LayoutError::NotALayout {
            image: image.into(),
            expected: "an OCI image layout with an image",
            reason: "`index.json` lists no manifests".into(),
        }),
        ([one], _) => Ok(Chosen {
            descriptor: one.blob_ref(image)?,
            from_index: None,
        }),
        (_, None) => Err(LayoutError::Ambiguous {
            image: image.into(),
            available: names(),
        }),
        (several, Some(_)) => {
            let entries = several
                .iter()
                .map(|d| d.index_entry(image))
                .collect::<Result<Vec<_>, _>>()?;
            let entry = manifest::select(&entries, platform, image)?;
            Ok(Chosen {
                descriptor: entry.target.clone(),
                from_index: Some(entries),
            })
        }
    }
}
