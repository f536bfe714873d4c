//! Manifest and index parsing, layer media types and platform selection.
//!
//! Documents are read with small serde structs of our own rather than `oci-spec`'s types: those
//! reject Docker's media types and `null` fields that real registries serve. Media types are
//! classified with `oci-spec`'s [`oci_spec::image::MediaType`] plus Docker's names
//! ([`crate::media_type`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use wslbox_reference::{Digest, Fit, Platform};

use crate::media_type::{self, Kind};
use crate::{ImageConfigSummary, LayerDescriptor};

/// Media types sent in `Accept` when fetching a manifest, most preferred first.
pub const ACCEPT: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// Buildkit marks attestation manifests in an index with this annotation.
const REFERENCE_TYPE_ANNOTATION: &str = "vnd.docker.reference.type";
const ATTESTATION: &str = "attestation-manifest";

/// A descriptor that points at another blob or manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRef {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

/// One entry of an index / manifest list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub target: BlobRef,
    pub platform: Option<Platform>,
    /// Buildkit attestation manifests (`unknown/unknown`, or the
    /// `vnd.docker.reference.type: attestation-manifest` annotation): never selected.
    pub is_attestation: bool,
}

/// A platform manifest: its config and layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageManifest {
    pub config: BlobRef,
    pub layers: Vec<LayerDescriptor>,
}

/// A parsed manifest document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Index(Vec<IndexEntry>),
    Manifest(ImageManifest),
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error(
        "{image} uses the legacy Docker schema 1 manifest format, which wslbox does not support; re-push it with a current Docker or `skopeo copy --format v2s2`"
    )]
    Schema1 { image: String },
    #[error("{image}: unsupported manifest media type `{media_type}`")]
    UnsupportedMediaType { image: String, media_type: String },
    #[error("{image}: unsupported layer media type `{media_type}` for layer {digest}")]
    UnsupportedLayer {
        image: String,
        digest: Digest,
        media_type: String,
    },
    #[error("{image}: malformed manifest: {reason}")]
    Malformed { image: String, reason: String },
    #[error(
        "{image} has no image for platform {wanted}; available: {}",
        format_platforms(available)
    )]
    NoMatchingPlatform {
        image: String,
        wanted: Platform,
        available: Vec<Platform>,
    },
}

fn format_platforms(p: &[Platform]) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The fields of an index or manifest wslbox reads; everything optional so that the media type
/// decides what is required, and so schema 1 bodies still deserialize far enough to be named.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDocument {
    schema_version: Option<i64>,
    media_type: Option<String>,
    manifests: Option<Vec<RawDescriptor>>,
    config: Option<RawDescriptor>,
    layers: Option<Vec<RawDescriptor>>,
    fs_layers: Option<serde_json::Value>,
}

/// An OCI descriptor as found in documents (also `index.json` of a layout).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RawDescriptor {
    pub media_type: Option<String>,
    pub digest: String,
    pub size: i64,
    #[serde(default)]
    pub urls: Option<Vec<String>>,
    #[serde(default)]
    pub platform: Option<RawPlatform>,
    #[serde(default)]
    pub annotations: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RawPlatform {
    pub os: String,
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl RawDescriptor {
    pub(crate) fn blob_ref(&self, image: &str) -> Result<BlobRef, ManifestError> {
        let digest = self
            .digest
            .parse::<Digest>()
            .map_err(|e| malformed(image, format!("descriptor digest: {e}")))?;
        let size = u64::try_from(self.size).map_err(|_| {
            malformed(
                image,
                format!("descriptor {digest} has a negative size {}", self.size),
            )
        })?;
        Ok(BlobRef {
            digest,
            size,
            media_type: self.media_type.clone().unwrap_or_default(),
        })
    }

    pub(crate) fn index_entry(&self, image: &str) -> Result<IndexEntry, ManifestError> {
        let platform = self.platform.as_ref().map(|p| Platform {
            os: p.os.clone(),
            architecture: p.architecture.clone(),
            variant: p.variant.clone().filter(|v| !v.is_empty()),
        });
        let unknown = platform
            .as_ref()
            .is_some_and(|p| p.os == "unknown" && p.architecture == "unknown");
        let annotated = self
            .annotations
            .as_ref()
            .and_then(|a| a.get(REFERENCE_TYPE_ANNOTATION))
            .is_some_and(|t| t == ATTESTATION);
        Ok(IndexEntry {
            target: self.blob_ref(image)?,
            platform,
            is_attestation: unknown || annotated,
        })
    }

    pub(crate) fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.as_ref()?.get(key).map(String::as_str)
    }
}

fn malformed(image: &str, reason: impl Into<String>) -> ManifestError {
    ManifestError::Malformed {
        image: image.into(),
        reason: reason.into(),
    }
}

/// Parses a manifest or index. `media_type` is the `Content-Type` the registry sent (or the
/// descriptor's); when absent or generic, the document's own `mediaType` decides. `image` names
/// the image in errors.
pub fn parse(media_type: Option<&str>, bytes: &[u8], image: &str) -> Result<Parsed, ManifestError> {
    let header = media_type
        .map(media_type::essence)
        .filter(|m| !media_type::is_generic(m));
    if header.and_then(media_type::kind) == Some(Kind::Schema1) {
        return Err(ManifestError::Schema1 {
            image: image.into(),
        });
    }
    let doc: RawDocument = serde_json::from_slice(bytes)
        .map_err(|e| malformed(image, format!("invalid JSON: {e}")))?;
    if doc.schema_version == Some(1) || doc.fs_layers.is_some() {
        return Err(ManifestError::Schema1 {
            image: image.into(),
        });
    }
    let declared = header.or(doc.media_type.as_deref());
    let kind = match declared {
        Some(m) => media_type::kind(m).ok_or_else(|| ManifestError::UnsupportedMediaType {
            image: image.into(),
            media_type: m.into(),
        })?,
        // OCI documents may omit `mediaType`; the shape tells them apart.
        None if doc.manifests.is_some() => Kind::Index,
        None if doc.config.is_some() => Kind::Manifest,
        None => {
            return Err(malformed(
                image,
                "no mediaType, and neither `manifests` nor `config`",
            ));
        }
    };
    match kind {
        Kind::Schema1 => Err(ManifestError::Schema1 {
            image: image.into(),
        }),
        Kind::Index => {
            let manifests = doc
                .manifests
                .ok_or_else(|| malformed(image, "index without `manifests`"))?;
            let entries = manifests
                .iter()
                .map(|d| d.index_entry(image))
                .collect::<Result<_, _>>()?;
            Ok(Parsed::Index(entries))
        }
        Kind::Manifest => {
            let config = doc
                .config
                .ok_or_else(|| malformed(image, "manifest without `config`"))?;
            let layers = doc.layers.unwrap_or_default();
            let layers = layers
                .iter()
                .map(|d| layer(d, image))
                .collect::<Result<_, _>>()?;
            Ok(Parsed::Manifest(ImageManifest {
                config: config.blob_ref(image)?,
                layers,
            }))
        }
    }
}

fn layer(d: &RawDescriptor, image: &str) -> Result<LayerDescriptor, ManifestError> {
    let BlobRef {
        digest,
        size,
        media_type,
    } = d.blob_ref(image)?;
    let Some(compression) = media_type::layer_compression(&media_type) else {
        return Err(ManifestError::UnsupportedLayer {
            image: image.into(),
            digest,
            media_type,
        });
    };
    Ok(LayerDescriptor {
        digest,
        size,
        media_type,
        compression,
        urls: d.urls.clone().unwrap_or_default(),
    })
}

/// Chooses the entry for `wanted`, skipping attestations. On no match, the error lists the
/// platforms that are available.
///
/// Preference: an exact match (after normalization, so `arm64/v8` is `arm64`); then the newest
/// older variant the requested CPU runs (`arm/v6` for `arm/v7`); then, only when no variant was
/// asked for, the oldest variant on offer (an index with just `amd64/v2` serves `linux/amd64`).
/// Ties go to the first entry in index order.
pub fn select<'a>(
    entries: &'a [IndexEntry],
    wanted: &Platform,
    image: &str,
) -> Result<&'a IndexEntry, ManifestError> {
    let candidates = || {
        entries
            .iter()
            .filter(|e| !e.is_attestation)
            .filter_map(|e| e.platform.as_ref().map(|p| (e, p)))
    };
    if let Some((e, _)) = candidates().find(|(_, p)| wanted.fit(p) == Some(Fit::Exact)) {
        return Ok(e);
    }
    let compatible = candidates().filter(|(_, p)| wanted.fit(p) == Some(Fit::Older));
    if let Some((e, _)) = best_by_rank(compatible, |a, b| a > b) {
        return Ok(e);
    }
    let want = wanted.normalize();
    if want.variant.is_none() {
        let same_arch = candidates().filter(|(_, p)| {
            let have = p.normalize();
            have.os == want.os && have.architecture == want.architecture
        });
        if let Some((e, _)) = best_by_rank(same_arch, |a, b| a < b) {
            return Ok(e);
        }
    }
    Err(ManifestError::NoMatchingPlatform {
        image: image.into(),
        wanted: wanted.clone(),
        available: platforms(entries),
    })
}

/// The first entry whose variant rank beats all others by `better`.
fn best_by_rank<'a>(
    items: impl Iterator<Item = (&'a IndexEntry, &'a Platform)>,
    better: impl Fn(u32, u32) -> bool,
) -> Option<(&'a IndexEntry, &'a Platform)> {
    items.fold(None, |best, item| match best {
        Some(b)
            if !better(
                item.1.variant_rank().unwrap_or(0),
                b.1.variant_rank().unwrap_or(0),
            ) =>
        {
            Some(b)
        }
        _ => Some(item),
    })
}

/// The platforms an index offers, attestations excluded, in index order.
pub fn platforms(entries: &[IndexEntry]) -> Vec<Platform> {
    entries
        .iter()
        .filter(|e| !e.is_attestation)
        .filter_map(|e| e.platform.clone())
        .collect()
}

/// The parts of an OCI / Docker image config wslbox reads. Docker writes `null` for empty
/// lists and maps, and very old images have string `Cmd`s, so everything is lenient.
#[derive(Debug, Deserialize)]
struct RawConfig {
    architecture: Option<String>,
    os: Option<String>,
    variant: Option<String>,
    config: Option<RawRunConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawRunConfig {
    #[serde(default, deserialize_with = "string_list")]
    env: Vec<String>,
    user: Option<String>,
    working_dir: Option<String>,
    #[serde(default, deserialize_with = "string_list")]
    entrypoint: Vec<String>,
    #[serde(default, deserialize_with = "string_list")]
    cmd: Vec<String>,
    labels: Option<BTreeMap<String, Option<String>>>,
}

/// `null`, a string (Docker's legacy shell form) or a list of strings.
fn string_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(d)? {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    })
}

/// Parses an image config blob into the summary and the platform it declares.
pub fn parse_config(
    bytes: &[u8],
    image: &str,
) -> Result<(ImageConfigSummary, Platform), ManifestError> {
    let bad = |reason: String| malformed(image, format!("image config: {reason}"));
    let raw: RawConfig =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    let (Some(os), Some(architecture)) = (
        raw.os.filter(|s| !s.is_empty()),
        raw.architecture.filter(|s| !s.is_empty()),
    ) else {
        return Err(bad("missing `os` or `architecture`".into()));
    };
    let platform = Platform {
        os,
        architecture,
        variant: raw.variant.filter(|v| !v.is_empty()),
    };
    let run = raw.config.unwrap_or_default();
    let summary = ImageConfigSummary {
        env: run.env,
        user: run.user.filter(|u| !u.is_empty()),
        working_dir: run.working_dir.filter(|w| !w.is_empty()),
        entrypoint: run.entrypoint,
        cmd: run.cmd,
        labels: run
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k, v.unwrap_or_default()))
            .collect(),
    };
    Ok((summary, platform))
}

/// The config's `rootfs.diff_ids`: the sha256 of each layer's *uncompressed* tar, bottom first
/// (image-spec `config.md`: "diff_ids ... MUST be in order from first to last"). Archives
/// that store layers uncompressed without naming them by digest are checked against these.
pub fn parse_diff_ids(bytes: &[u8], image: &str) -> Result<Vec<Digest>, ManifestError> {
    #[derive(Deserialize)]
    struct Config {
        rootfs: Option<Rootfs>,
    }
    #[derive(Deserialize)]
    struct Rootfs {
        #[serde(default)]
        diff_ids: Option<Vec<String>>,
    }
    let bad = |reason: String| malformed(image, format!("image config: {reason}"));
    let config: Config =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("invalid JSON: {e}")))?;
    config
        .rootfs
        .and_then(|r| r.diff_ids)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            d.parse::<Digest>()
                .map_err(|e| bad(format!("rootfs.diff_ids: `{d}`: {e}")))
        })
        .collect()
}

/// Checks that the config's `rootfs.diff_ids` name one layer for each of the manifest's
/// `layers` (image-spec `config.md`; containerd refuses a mismatch too). A manifest that lists
/// layers its config does not know is broken or forged, and is refused before any download.
/// A config that names no diff_ids at all (hand-made ones) is let through: the layers' own
/// digests still verify every byte.
pub fn check_layer_count(config: &[u8], layers: usize, image: &str) -> Result<(), ManifestError> {
    let diff_ids = parse_diff_ids(config, image)?.len();
    if diff_ids == layers || diff_ids == 0 {
        return Ok(());
    }
    Err(malformed(
        image,
        format!(
            "the manifest lists {layers} layers but the image config's rootfs.diff_ids names {diff_ids}: the manifest was not written for this config; ask the image's publisher, or use another tag or digest"
        ),
    ))
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
