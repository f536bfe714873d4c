//! The image model: what an image *is*, independent of where it comes from.
//!
//! - [`ResolvedImage`] is one platform's manifest resolved: its layers ([`LayerDescriptor`]),
//!   config ([`ImageConfigSummary`]) and the digests that identify it.
//! - `manifest` parses OCI indexes/manifests and Docker schema2 manifests/lists, rejects schema1,
//!   and selects a platform (skipping attestations).
//! - `layout` reads local sources: `oci:DIR[:TAG]`, `oci-archive:FILE`, `docker-archive:FILE`
//!   ([`open_local`] returns the resolved image and a [`BlobOpener`] for its layers).
//! - [`VerifyingReader`] checks digest and size of every blob stream at EOF; registry and local
//!   openers both wrap their streams in it.
//!
//! - `build` writes the config and manifest of a single-layer image (`wslbox push`).
//!
//! Registries live in `wslbox-registry`; this crate never touches the network.

use std::collections::BTreeMap;
use std::io::Read;

use wslbox_reference::{Digest, Platform};

/// How a layer blob or rootfs tarball is compressed: from its media type, or sniffed from its
/// first bytes ([`Compression::sniff`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    /// Not an OCI layer encoding, but what distributions ship rootfs tarballs in (and what
    /// `docker load` accepts).
    Xz,
    Bzip2,
}

impl Compression {
    /// How many leading bytes [`Compression::sniff`] looks at.
    pub const MAGIC_LEN: usize = 6;

    /// The compression a stream's leading bytes announce; `None` for anything else (a plain
    /// tar, or not an archive at all: the tar reader says which).
    pub fn sniff(magic: &[u8]) -> Compression {
        if magic.starts_with(&[0x1f, 0x8b]) {
            Compression::Gzip
        } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compression::Zstd
        } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Compression::Xz
        } else if magic.starts_with(b"BZh") {
            Compression::Bzip2
        } else {
            Compression::None
        }
    }

    /// Lowercase name for messages (`gzip`, `xz`, …).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Bzip2 => "bzip2",
        }
    }
}

/// One layer of the chosen manifest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LayerDescriptor {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
    #[serde(skip)]
    pub compression: Compression,
    /// Foreign/non-distributable layers may carry URLs to fetch them from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

/// The parts of the image config a WSL distribution cares about.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImageConfigSummary {
    pub env: Vec<String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// One platform's image, resolved from a registry or a local layout.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResolvedImage {
    /// Canonical source, e.g. `docker.io/library/alpine:latest` or `oci:/path/to/layout:tag`.
    pub reference: String,
    /// Digest of the platform manifest that was chosen.
    pub manifest_digest: Digest,
    /// Digest of the index/manifest list the platform manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    pub platform: Platform,
    /// Platforms the index offers (attestations excluded); just `platform` for a single manifest.
    pub platforms: Vec<Platform>,
    pub config_digest: Digest,
    pub config: ImageConfigSummary,
    pub layers: Vec<LayerDescriptor>,
}

/// Opens verified layer streams for the flattener, whatever the source.
///
/// Implementations verify the digest while the stream is read and return an error at EOF when
/// it does not match, so a corrupt blob can never silently reach the output.
pub trait BlobOpener: Send + Sync {
    fn open(&self, layer: &LayerDescriptor) -> std::io::Result<Box<dyn Read + Send>>;

    /// An opener that can open the layers again after this one is gone, when reading a layer
    /// twice is cheap (it is on disk). The flattener then leaves big file bodies in their
    /// layer instead of copying them to its spool. `None` (the default): read once.
    fn reopen(&self) -> Option<std::sync::Arc<dyn BlobOpener>> {
        None
    }
}

pub mod build;
pub mod layout;
pub mod manifest;
pub mod media_type;
pub mod verify;

pub use layout::{LayoutError, LocalImage, is_local, open_local};
pub use verify::VerifyingReader;

#[cfg(test)]
mod tests {
    use super::Compression;

    #[test]
    fn compression_is_sniffed_from_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"\xfd7zXZ\0"), Compression::Xz);
        assert_eq!(Compression::sniff(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(Compression::sniff(b"ustar"), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
