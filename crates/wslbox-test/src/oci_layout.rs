//! Writes OCI image layouts (image-spec `image-layout.md`) for tests: content-addressed blobs,
//! image configs with correct `diff_ids` (umoci checks them), manifests, platform indexes and
//! `index.json` with `org.opencontainers.image.ref.name` tags.
//!
//! Single image (what `umoci raw unpack --image DIR:latest` reads):
//!
//! ```no_run
//! use wslbox_test::oci_layout::{Compression, OciLayout, Platform};
//! # fn demo(tar: Vec<u8>) -> anyhow::Result<()> {
//! let layout = OciLayout::create("/tmp/layout")?;
//! let image = layout.add_image(&[(tar.into(), Compression::Gzip)], &Platform::linux("amd64"))?;
//! layout.write_index(&[image.tagged("latest")])?;
//! # Ok(()) }
//! ```
//!
//! Multi-platform (registry tests): add one image per platform, then
//! `layout.add_platform_index(&[&amd64, &arm64])?` returns the index descriptor, which goes
//! into `write_index` with a tag like a manifest does. [`LayoutOpener`] reads layer blobs for
//! `wslbox_rootfs::flatten`, verifying their digests.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use wslbox_image::{BlobOpener, LayerDescriptor};
use wslbox_reference::Digest;

pub const MEDIA_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const MEDIA_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const MEDIA_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Self::None => "application/vnd.oci.image.layer.v1.tar",
            Self::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Self::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
    fn image(self) -> wslbox_image::Compression {
        match self {
            Self::None => wslbox_image::Compression::None,
            Self::Gzip => wslbox_image::Compression::Gzip,
            Self::Zstd => wslbox_image::Compression::Zstd,
        }
    }
}

/// Where an uncompressed layer tar comes from.
#[derive(Debug, Clone)]
pub enum TarSource {
    Bytes(Vec<u8>),
    /// A tar file on disk, streamed (for big layers).
    File(PathBuf),
}

impl From<Vec<u8>> for TarSource {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn linux(arch: &str) -> Self {
        Self {
            os: "linux".into(),
            architecture: arch.into(),
            variant: None,
        }
    }
    fn json(&self) -> serde_json::Value {
        let mut v = json!({"os": self.os, "architecture": self.architecture});
        if let Some(var) = &self.variant {
            v["variant"] = json!(var);
        }
        v
    }
}

/// A blob that is in the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
    pub media_type: String,
}

impl Blob {
    fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest.to_string(), "size": self.size})
    }
}

/// An image written by [`OciLayout::add_image`].
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<LayerDescriptor>,
    pub platform: Platform,
}

impl Image {
    /// This image's manifest as an `index.json` entry with a tag.
    pub fn tagged(&self, tag: &str) -> IndexEntry {
        IndexEntry {
            blob: self.manifest.clone(),
            platform: Some(self.platform.clone()),
            tag: Some(tag.to_owned()),
        }
    }
}

/// One entry of an index: a manifest or nested index, optionally tagged.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    pub blob: Blob,
    pub platform: Option<Platform>,
    pub tag: Option<String>,
}

impl IndexEntry {
    fn json(&self) -> serde_json::Value {
        let mut d = self.blob.descriptor();
        if let Some(p) = &self.platform {
            d["platform"] = p.json();
        }
        if let Some(t) = &self.tag {
            d["annotations"] = json!({"org.opencontainers.image.ref.name": t});
        }
        d
    }
}

/// An OCI image layout directory.
#[derive(Debug, Clone)]
pub struct OciLayout {
    pub dir: PathBuf,
}

impl OciLayout {
    /// Creates the layout skeleton (`oci-layout`, `blobs/sha256/`).
    pub fn create(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let dir = dir.into();
        fs_err::create_dir_all(dir.join("blobs/sha256"))?;
        fs_err::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        Ok(Self { dir })
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir
            .join("blobs")
            .join(digest.algorithm().as_str())
            .join(digest.hex())
    }

    /// Stores bytes as a blob.
    pub fn add_blob(&self, bytes: &[u8], media_type: &str) -> anyhow::Result<Blob> {
        let digest =
            Digest::from_bytes(wslbox_reference::Algorithm::Sha256, &Sha256::digest(bytes));
        fs_err::write(self.blob_path(&digest), bytes)?;
        Ok(Blob {
            digest,
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        })
    }

    /// Compresses a layer tar into a blob; returns its descriptor and the diff_id.
    pub fn add_layer(
        &self,
        tar: &TarSource,
        compression: Compression,
    ) -> anyhow::Result<(LayerDescriptor, Digest)> {
        let tmp = tempfile::NamedTempFile::new_in(self.dir.join("blobs/sha256"))?;
        let blob_hash = HashingWriter {
            inner: io::BufWriter::new(tmp.reopen()?),
            hash: Sha256::new(),
            size: 0,
        };
        let mut input: Box<dyn Read> = match tar {
            TarSource::Bytes(b) => Box::new(&b[..]),
            TarSource::File(p) => Box::new(io::BufReader::new(fs_err::File::open(p)?)),
        };
        let mut diff_hash = Sha256::new();
        let mut tee = TeeReader {
            inner: &mut input,
            hash: &mut diff_hash,
        };
        let mut blob_hash = match compression {
            Compression::None => {
                let mut w = blob_hash;
                io::copy(&mut tee, &mut w)?;
                w
            }
            Compression::Gzip => {
                let mut enc = flate2::write::GzEncoder::new(blob_hash, flate2::Compression::fast());
                io::copy(&mut tee, &mut enc)?;
                enc.finish()?
            }
            Compression::Zstd => {
                let mut enc = zstd::stream::write::Encoder::new(blob_hash, 3)?;
                io::copy(&mut tee, &mut enc)?;
                enc.finish()?
            }
        };
        blob_hash.inner.flush()?;
        let digest = Digest::from_bytes(
            wslbox_reference::Algorithm::Sha256,
            &blob_hash.hash.finalize(),
        );
        let diff_id =
            Digest::from_bytes(wslbox_reference::Algorithm::Sha256, &diff_hash.finalize());
        tmp.persist(self.blob_path(&digest))
            .context("storing layer blob")?;
        let desc = LayerDescriptor {
            digest,
            size: blob_hash.size,
            media_type: compression.media_type().to_owned(),
            compression: compression.image(),
            urls: Vec::new(),
        };
        Ok((desc, diff_id))
    }

    /// Writes the layers, a config and a manifest.
    pub fn add_image(
        &self,
        layers: &[(TarSource, Compression)],
        platform: &Platform,
    ) -> anyhow::Result<Image> {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (tar, c) in layers {
            let (d, diff) = self.add_layer(tar, *c)?;
            descs.push(d);
            diff_ids.push(diff.to_string());
        }
        let mut config = platform.json();
        config["rootfs"] = json!({"type": "layers", "diff_ids": diff_ids});
        config["config"] =
            json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]});
        let config = self.add_blob(&serde_json::to_vec(&config)?, MEDIA_CONFIG)?;
        let layers_json: Vec<_> = descs
            .iter()
            .map(|d| json!({"mediaType": d.media_type, "digest": d.digest.to_string(), "size": d.size}))
            .collect();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": config.descriptor(),
            "layers": layers_json,
        });
        let manifest = self.add_blob(&serde_json::to_vec(&manifest)?, MEDIA_MANIFEST)?;
        Ok(Image {
            manifest,
            config,
            layers: descs,
            platform: platform.clone(),
        })
    }

    /// Writes an image index blob over several platform images (a multi-arch image).
    pub fn add_platform_index(&self, images: &[&Image]) -> anyhow::Result<Blob> {
        let manifests: Vec<_> = images
            .iter()
            .map(|i| {
                IndexEntry {
                    blob: i.manifest.clone(),
                    platform: Some(i.platform.clone()),
                    tag: None,
                }
                .json()
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests});
        self.add_blob(&serde_json::to_vec(&index)?, MEDIA_INDEX)
    }

    /// Writes `index.json`.
    pub fn write_index(&self, entries: &[IndexEntry]) -> anyhow::Result<()> {
        let manifests: Vec<_> = entries.iter().map(IndexEntry::json).collect();
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests});
        fs_err::write(
            self.dir.join("index.json"),
            serde_json::to_vec_pretty(&index)?,
        )?;
        Ok(())
    }

    /// A [`BlobOpener`] over this layout's blobs.
    pub fn opener(&self) -> LayoutOpener {
        LayoutOpener {
            layout: self.clone(),
        }
    }
}

/// Opens layer blobs of an [`OciLayout`], verifying their sha256 at end of stream.
#[derive(Debug, Clone)]
pub struct LayoutOpener {
    layout: OciLayout,
}

impl BlobOpener for LayoutOpener {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let file = fs_err::File::open(self.layout.blob_path(&layer.digest))?;
        Ok(Box::new(VerifyingReader {
            inner: io::BufReader::with_capacity(256 * 1024, file),
            hash: Sha256::new(),
            expected: layer.digest.hex().to_owned(),
        }))
    }

    fn reopen(&self) -> Option<std::sync::Arc<dyn BlobOpener>> {
        Some(std::sync::Arc::new(self.clone()))
    }
}

struct VerifyingReader<R> {
    inner: R,
    hash: Sha256,
    expected: String,
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let got = hex::encode(self.hash.clone().finalize());
            if got != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "digest mismatch: expected sha256:{}, got sha256:{got}",
                        self.expected
                    ),
                ));
            }
        }
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    size: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

struct TeeReader<'a> {
    inner: &'a mut dyn Read,
    hash: &'a mut Sha256,
}

impl Read for TeeReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

/// Overwrites one byte in the middle of a blob (for corrupt-blob tests).
pub fn corrupt_blob(path: &Path) -> anyhow::Result<()> {
    let mut bytes = fs_err::read(path)?;
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    fs_err::write(path, bytes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_platform_index_is_readable_by_skopeo() {
        let dir = tempfile::tempdir().unwrap();
        let layout = OciLayout::create(dir.path()).unwrap();
        let tar = crate::layers::Layer::new()
            .with(crate::layers::Entry::file("f", "x"))
            .finish();
        let amd64 = layout
            .add_image(
                &[(tar.clone().into(), Compression::Gzip)],
                &Platform::linux("amd64"),
            )
            .unwrap();
        let arm64 = Platform {
            variant: Some("v8".into()),
            ..Platform::linux("arm64")
        };
        let arm64 = layout
            .add_image(&[(tar.into(), Compression::Zstd)], &arm64)
            .unwrap();
        let index = layout.add_platform_index(&[&amd64, &arm64]).unwrap();
        layout
            .write_index(&[IndexEntry {
                blob: index.clone(),
                platform: None,
                tag: Some("multi".into()),
            }])
            .unwrap();

        let out = std::process::Command::new("skopeo")
            .args(["inspect", "--raw"])
            .arg(format!("oci:{}:multi", dir.path().display()))
            .output()
            .expect("skopeo (Debian package skopeo)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            fs_err::read(layout.blob_path(&index.digest)).unwrap()
        );
        let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(parsed["manifests"][1]["platform"]["variant"], "v8");
        assert_eq!(
            parsed["manifests"][0]["digest"],
            amd64.manifest.digest.to_string()
        );
    }
}
