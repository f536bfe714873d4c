//! Local image sources with skopeo's transport prefixes: `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
//! `docker-archive:FILE[:REF|:@N]`.
//!
//! [`open_local`] resolves the image for a platform and returns a [`BlobOpener`] whose layer
//! streams are verified ([`crate::VerifyingReader`]). Archives are never extracted: they are
//! scanned once ([`archive::TarIndex`]) and each blob is read as a section of the file.

mod archive;
pub mod docker_archive;
mod oci;

pub use archive::{link_destination, member_path};

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;

use wslbox_reference::{Digest, Platform};

use crate::manifest::{BlobRef, ManifestError};
use crate::verify::verify_bytes;
use crate::{BlobOpener, LayerDescriptor, ResolvedImage, VerifyingReader};

/// Manifests, indexes and configs are read into memory; anything larger is not one.
const MAX_SMALL_BLOB: u64 = 16 << 20;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    #[error("{image}: {source}")]
    Io { image: String, source: io::Error },
    #[error("{image} is not {expected}: {reason}")]
    NotALayout {
        image: String,
        expected: &'static str,
        reason: String,
    },
    #[error(
        "{image}: no image tagged `{tag}`; the layout has: {}",
        list(available)
    )]
    TagNotFound {
        image: String,
        tag: String,
        available: Vec<String>,
    },
    #[error(
        "{image} holds several images; name one as {image}:TAG (available: {})",
        list(available)
    )]
    Ambiguous {
        image: String,
        available: Vec<String>,
    },
    #[error("{image}: {reason}")]
    Invalid { image: String, reason: String },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".into()
    } else {
        items.join(", ")
    }
}

/// Which local transport a spec names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Oci,
    OciArchive,
    DockerArchive,
}

impl Transport {
    fn prefix(self) -> &'static str {
        match self {
            Transport::Oci => "oci",
            Transport::OciArchive => "oci-archive",
            Transport::DockerArchive => "docker-archive",
        }
    }
}

/// A parsed `transport:PATH[:SELECTOR]`.
#[derive(Debug, PartialEq, Eq)]
struct Spec<'a> {
    transport: Transport,
    path: &'a str,
    selector: Option<&'a str>,
}

/// Splits a spec like skopeo: the path ends at the first `:`, except that a Windows drive letter
/// (`C:\` or `C:/`) belongs to the path.
fn parse_spec(spec: &str) -> Option<Spec<'_>> {
    let (transport, rest) = [
        Transport::Oci,
        Transport::OciArchive,
        Transport::DockerArchive,
    ]
    .into_iter()
    .find_map(|t| {
        spec.strip_prefix(t.prefix())
            .and_then(|r| r.strip_prefix(':'))
            .map(|r| (t, r))
    })?;
    let b = rest.as_bytes();
    let drive = b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b[2] == b'\\' || b[2] == b'/');
    let skip = if drive { 2 } else { 0 };
    let (path, selector) = match rest[skip..].find(':') {
        Some(i) => (&rest[..skip + i], Some(&rest[skip + i + 1..])),
        None => (rest, None),
    };
    Some(Spec {
        transport,
        path,
        selector: selector.filter(|s| !s.is_empty()),
    })
}

/// Whether `spec` names a local layout (`oci:`, `oci-archive:` or `docker-archive:`).
pub fn is_local(spec: &str) -> bool {
    parse_spec(spec).is_some()
}

/// A resolved local image and the opener for its layers.
pub type LocalImage = (ResolvedImage, Box<dyn BlobOpener>);

/// Opens a local image source. Returns `Ok(None)` when `spec` has no local transport prefix, so
/// the caller treats it as a registry reference.
pub fn open_local(spec: &str, platform: &Platform) -> Result<Option<LocalImage>, LayoutError> {
    let Some(parsed) = parse_spec(spec) else {
        return Ok(None);
    };
    if parsed.path.is_empty() {
        return Err(LayoutError::Invalid {
            image: spec.into(),
            reason: format!("no path after `{}:`", parsed.transport.prefix()),
        });
    }
    let absolute = std::path::absolute(parsed.path).map_err(|source| LayoutError::Io {
        image: spec.into(),
        source,
    })?;
    let mut name = format!("{}:{}", parsed.transport.prefix(), absolute.display());
    if let Some(s) = parsed.selector {
        name.push(':');
        name.push_str(s);
    }
    let (image, blobs) = match parsed.transport {
        Transport::Oci => {
            let store: Arc<dyn Store> = Arc::new(DirStore { root: absolute });
            oci::resolve(store, &name, parsed.selector, platform)?
        }
        Transport::OciArchive => {
            let store: Arc<dyn Store> = Arc::new(archive::ArchiveStore::scan(&absolute, &name)?);
            oci::resolve(store, &name, parsed.selector, platform)?
        }
        Transport::DockerArchive => {
            let store = Arc::new(archive::ArchiveStore::scan(&absolute, &name)?);
            docker_archive::resolve(store, &name, parsed.selector)?
        }
    };
    Ok(Some((image, Box::new(blobs))))
}

/// Where a layout's files live: a directory, or sections of an archive.
trait Store: Send + Sync {
    /// Opens a file by its path inside the layout (`index.json`, `blobs/sha256/…`).
    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>>;
}

struct DirStore {
    root: PathBuf,
}

impl Store for DirStore {
    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
        let full: PathBuf = path.split('/').fold(self.root.clone(), |p, c| p.join(c));
        Ok(Box::new(io::BufReader::new(fs_err::File::open(full)?)))
    }
}

/// The path of a blob inside an OCI layout (image-spec `image-layout.md`).
fn blob_path(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().as_str(), digest.hex())
}

/// Reads a small file of the layout whole, refusing anything over [`MAX_SMALL_BLOB`].
fn read_small(store: &dyn Store, path: &str, image: &str) -> Result<Vec<u8>, LayoutError> {
    let io_err = |source| LayoutError::Io {
        image: image.into(),
        source,
    };
    let mut bytes = Vec::new();
    store
        .open(path)
        .map_err(io_err)?
        .take(MAX_SMALL_BLOB + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_SMALL_BLOB {
        return Err(LayoutError::Invalid {
            image: image.into(),
            reason: format!(
                "`{path}` is larger than {MAX_SMALL_BLOB} bytes; it is not a manifest or config"
            ),
        });
    }
    Ok(bytes)
}

/// Reads a manifest/config blob and checks it against its descriptor.
fn read_blob(
    store: &dyn Store,
    blob: &BlobRef,
    what: &str,
    image: &str,
) -> Result<Vec<u8>, LayoutError> {
    if blob.size > MAX_SMALL_BLOB {
        return Err(LayoutError::Invalid {
            image: image.into(),
            reason: format!(
                "{what} {} claims {} bytes; that is not a {what}",
                blob.digest, blob.size
            ),
        });
    }
    let bytes = read_small(store, &blob_path(&blob.digest), image)?;
    verify_bytes(what, &bytes, &blob.digest, blob.size).map_err(|source| LayoutError::Io {
        image: image.into(),
        source,
    })?;
    Ok(bytes)
}

/// Serves layer streams from a [`Store`], verified against their descriptors.
#[derive(Clone)]
struct StoreBlobs {
    store: Arc<dyn Store>,
    /// Path of each layer inside the store.
    paths: HashMap<Digest, String>,
    image: String,
}

impl BlobOpener for StoreBlobs {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let Some(path) = self.paths.get(&layer.digest) else {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{}: layer {} is not part of this image",
                    self.image, layer.digest
                ),
            ));
        };
        let stream = self.store.open(path).map_err(|e| {
            let hint = if layer.urls.is_empty() {
                String::new()
            } else {
                " (a foreign layer: it was never copied into the layout)".into()
            };
            io::Error::new(
                e.kind(),
                format!("{}: layer {}{hint}: {e}", self.image, layer.digest),
            )
        })?;
        Ok(Box::new(VerifyingReader::layer(stream, layer)))
    }

    /// The layout or archive is on disk: reading a layer twice costs only decoding.
    fn reopen(&self) -> Option<Arc<dyn BlobOpener>> {
        Some(Arc::new(self.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_prefixes_and_selectors() {
        let s = |t, path, selector| {
            Some(Spec {
                transport: t,
                path,
                selector,
            })
        };
        assert_eq!(
            parse_spec("oci:/x/y:tag"),
            s(Transport::Oci, "/x/y", Some("tag"))
        );
        assert_eq!(parse_spec("oci:rel"), s(Transport::Oci, "rel", None));
        assert_eq!(
            parse_spec("oci-archive:/a.tar"),
            s(Transport::OciArchive, "/a.tar", None)
        );
        assert_eq!(
            parse_spec("docker-archive:/a.tar:alpine:latest"),
            s(Transport::DockerArchive, "/a.tar", Some("alpine:latest"))
        );
        assert_eq!(
            parse_spec("docker-archive:/a.tar:@1"),
            s(Transport::DockerArchive, "/a.tar", Some("@1"))
        );
        assert_eq!(
            parse_spec(r"oci:C:\images\dev:1.0"),
            s(Transport::Oci, r"C:\images\dev", Some("1.0"))
        );
        assert_eq!(
            parse_spec("oci:C:/images/dev"),
            s(Transport::Oci, "C:/images/dev", None)
        );
        assert_eq!(parse_spec("alpine:latest"), None);
        assert_eq!(parse_spec("ocifoo:/x"), None);
        assert_eq!(parse_spec("localhost:5000/oci:x"), None);
    }

    #[test]
    fn registry_references_are_not_local() {
        let none =
            open_local("docker.io/library/alpine:latest", &Platform::host_default()).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn empty_path_is_an_error() {
        let err = open_local("oci:", &Platform::host_default()).err().unwrap();
        assert_eq!(err.to_string(), "oci:: no path after `oci:`");
    }
}
