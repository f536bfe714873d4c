//! Media types wslbox understands, OCI (from `oci-spec`) and Docker's own.

use oci_spec::image::MediaType;

use crate::Compression;

pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
pub const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// What a manifest-ish media type describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Index,
    Manifest,
    Schema1,
}

/// Classifies a manifest media type; `None` for anything that is not an index or manifest.
pub(crate) fn kind(media_type: &str) -> Option<Kind> {
    match media_type {
        DOCKER_LIST => Some(Kind::Index),
        DOCKER_MANIFEST => Some(Kind::Manifest),
        DOCKER_SCHEMA1 | DOCKER_SCHEMA1_SIGNED => Some(Kind::Schema1),
        _ => match MediaType::from(media_type) {
            MediaType::ImageIndex => Some(Kind::Index),
            MediaType::ImageManifest => Some(Kind::Manifest),
            _ => None,
        },
    }
}

/// `Content-Type` values that say nothing about the document (registries behind misconfigured
/// proxies, files read from disk): the document's own `mediaType` decides instead.
pub(crate) fn is_generic(media_type: &str) -> bool {
    matches!(
        media_type,
        "" | "application/json" | "text/plain" | "application/octet-stream"
    )
}

/// Strips parameters such as `; charset=utf-8` from a `Content-Type`.
pub(crate) fn essence(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or_default().trim()
}

/// How a layer of this media type is compressed; `None` when wslbox cannot unpack it.
pub fn layer_compression(media_type: &str) -> Option<Compression> {
    match media_type {
        DOCKER_LAYER_GZIP | DOCKER_FOREIGN_LAYER_GZIP => Some(Compression::Gzip),
        _ => match MediaType::from(media_type) {
            MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => {
                Some(Compression::None)
            }
            MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => {
                Some(Compression::Gzip)
            }
            MediaType::ImageLayerZstd | MediaType::ImageLayerNonDistributableZstd => {
                Some(Compression::Zstd)
            }
            _ => None,
        },
    }
}

/// The OCI layer media type for a compression, for sources that do not record one.
pub fn oci_layer_media_type(compression: Compression) -> &'static str {
    match compression {
        Compression::None => OCI_LAYER,
        Compression::Gzip => OCI_LAYER_GZIP,
        Compression::Zstd => OCI_LAYER_ZSTD,
        // No registered media types; only local archives (`docker load` accepts them) have these.
        Compression::Xz => "application/vnd.oci.image.layer.v1.tar+xz",
        Compression::Bzip2 => "application/vnd.oci.image.layer.v1.tar+bzip2",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layer_media_type_maps_to_its_compression() {
        let cases = [
            ("application/vnd.oci.image.layer.v1.tar", Compression::None),
            (
                "application/vnd.oci.image.layer.v1.tar+gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.oci.image.layer.v1.tar+zstd",
                Compression::Zstd,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar",
                Compression::None,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
                Compression::Zstd,
            ),
            (
                "application/vnd.docker.image.rootfs.diff.tar.gzip",
                Compression::Gzip,
            ),
            (
                "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
                Compression::Gzip,
            ),
        ];
        for (media_type, compression) in cases {
            assert_eq!(
                layer_compression(media_type),
                Some(compression),
                "{media_type}"
            );
        }
        assert_eq!(
            layer_compression("application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
            None
        );
        assert_eq!(
            layer_compression("application/vnd.oci.image.layer.v1.tar+bzip2"),
            None
        );
    }

    #[test]
    fn content_type_parameters_are_ignored() {
        assert_eq!(
            essence("application/vnd.oci.image.index.v1+json; charset=utf-8"),
            OCI_INDEX
        );
    }
}
