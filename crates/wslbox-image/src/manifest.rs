//! Manifest and index parsing, media types and platform selection.
//! Signatures are the contract between the image and registry work; bodies are filled in by the
//! image work.

use wslbox_reference::{Digest, Platform};

use crate::{ImageConfigSummary, LayerDescriptor};

/// Media types sent in `Accept` when fetching a manifest, most preferred first.
pub const ACCEPT: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

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
    #[error("{image} uses the legacy Docker schema 1 manifest format, which wslbox does not support; re-push it with a current Docker or `skopeo copy --format v2s2`")]
    Schema1 { image: String },
    #[error("{image}: unsupported manifest media type `{media_type}`")]
    UnsupportedMediaType { image: String, media_type: String },
    #[error("{image}: unsupported layer media type `{media_type}` for layer {digest}")]
    UnsupportedLayer { image: String, digest: Digest, media_type: String },
    #[error("{image}: malformed manifest: {reason}")]
    Malformed { image: String, reason: String },
    #[error("{image} has no image for platform {wanted}; available: {}", format_platforms(available))]
    NoMatchingPlatform { image: String, wanted: Platform, available: Vec<Platform> },
}

fn format_platforms(p: &[Platform]) -> String {
    if p.is_empty() {
        return "none".into();
    }
    p.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Parses a manifest or index. `media_type` is the `Content-Type` the registry sent (or the
/// descriptor's); when absent or generic, the document's own `mediaType` decides. `image` names
/// the image in errors.
pub fn parse(media_type: Option<&str>, bytes: &[u8], image: &str) -> Result<Parsed, ManifestError> {
    let _ = (media_type, bytes, image);
    todo!("image work")
}

/// Chooses the entry for `wanted`, skipping attestations. On no match, the error lists the
/// platforms that are available.
pub fn select<'a>(entries: &'a [IndexEntry], wanted: &Platform, image: &str) -> Result<&'a IndexEntry, ManifestError> {
    let _ = (entries, wanted, image);
    todo!("image work")
}

/// The platforms an index offers, attestations excluded, in index order.
pub fn platforms(entries: &[IndexEntry]) -> Vec<Platform> {
    entries.iter().filter(|e| !e.is_attestation).filter_map(|e| e.platform.clone()).collect()
}

/// Parses an image config blob into the summary and the platform it declares.
pub fn parse_config(bytes: &[u8], image: &str) -> Result<(ImageConfigSummary, Platform), ManifestError> {
    let _ = (bytes, image);
    todo!("image work")
}
