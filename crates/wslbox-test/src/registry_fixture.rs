//! Fixture images for the registry tests, written as OCI layouts that skopeo can push.
//!
//! Built on [`OciLayout`] (blobs, gzip layers, `index.json`) and [`layers::Layer`] (tar
//! crafting); this module adds what registry tests need on top: a full image config (Env, User,
//! WorkingDir, …) described by [`ImageSpec`], a mutable manifest annotation for digest-mismatch
//! tests, and [`Layout::index`] with a buildkit-style attestation manifest (`unknown/unknown`).

use std::path::Path;

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::layers::{self, Entry};
use crate::oci_layout::{self, Compression, IndexEntry, OciLayout, TarSource};

pub use crate::oci_layout::{MEDIA_CONFIG, MEDIA_INDEX, MEDIA_MANIFEST};

/// A layer blob exactly as a test wants it stored (for layers no [`ImageSpec`] makes: gzip
/// with garbage after it, a bomb): its media type, its bytes, and the `diff_id` the config
/// names for it.
#[derive(Debug, Clone)]
pub struct RawLayer {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub diff_id: String,
}

/// A blob written into a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: String,
    pub size: u64,
    pub media_type: String,
}

/// One single-platform image to write.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
    /// Each layer is a list of regular files (path, contents).
    pub layers: Vec<Vec<(String, Vec<u8>)>>,
    /// The config's `config` object (Env, User, WorkingDir, Entrypoint, Cmd, Labels).
    pub config: Value,
}

impl ImageSpec {
    /// A small linux image for `architecture` with one layer holding a marker file.
    pub fn small(architecture: &str) -> Self {
        Self {
            os: "linux".to_owned(),
            architecture: architecture.to_owned(),
            variant: None,
            layers: vec![vec![(
                "etc/arch".to_owned(),
                format!("{architecture}\n").into_bytes(),
            )]],
            config: json!({"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/sh"]}),
        }
    }
}

impl ImageSpec {
    /// An amd64 image with two layers whose config sets every field `inspect` reports
    /// (Env, User, WorkingDir, Entrypoint, Cmd, Labels).
    pub fn configured() -> Self {
        let mut spec = Self::small("amd64");
        spec.layers
            .push(vec![("srv/data.bin".to_owned(), noise(7, 100 * 1024))]);
        spec.config = json!({
            "Env": ["PATH=/usr/bin:/bin", "GREETING=hello world"],
            "User": "1000:1000",
            "WorkingDir": "/work",
            "Entrypoint": ["/bin/sh", "-c"],
            "Cmd": ["echo hi"],
            "Labels": {"org.example.team": "wslbox"},
        });
        spec
    }
}

/// An image written into a layout.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest: Blob,
    pub config: Blob,
    pub layers: Vec<Blob>,
    pub spec: ImageSpec,
}

/// An index written into a layout.
#[derive(Debug, Clone)]
pub struct Index {
    pub index: Blob,
    pub images: Vec<Image>,
    /// The attestation manifest, when one was added.
    pub attestation: Option<Blob>,
}

/// An OCI image layout directory being written.
#[derive(Debug)]
pub struct Layout {
    oci: OciLayout,
    tags: Vec<IndexEntry>,
}

impl Layout {
    /// Creates an empty layout (with an empty `index.json`) in `dir`.
    pub fn create(dir: &Path) -> Self {
        let oci = OciLayout::create(dir).expect("create OCI layout");
        oci.write_index(&[]).expect("write index.json");
        Self {
            oci,
            tags: Vec::new(),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.oci.dir
    }

    /// Stores bytes as a blob.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Blob {
        Blob::from(
            self.oci
                .add_blob(bytes, media_type)
                .expect("write layout blob"),
        )
    }

    /// Writes one image (layers, config, manifest); tag it with [`Layout::tag`].
    pub fn image(&self, spec: &ImageSpec) -> Image {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for files in &spec.layers {
            let tar = layers::Layer::new()
                .with_all(files.iter().map(|(path, body)| Entry::file(path, body)))
                .finish();
            let (layer, diff_id) = self
                .oci
                .add_layer(&TarSource::Bytes(tar), Compression::Gzip)
                .expect("write layer blob");
            diff_ids.push(diff_id.to_string());
            layers.push(Blob {
                digest: layer.digest.to_string(),
                size: layer.size,
                media_type: layer.media_type,
            });
        }
        self.finish_image(spec, layers, diff_ids)
    }

    /// Writes one image whose layers are `layers`, stored byte for byte; `spec`'s layers are
    /// ignored (its platform and config are used).
    pub fn image_of(&self, spec: &ImageSpec, layers: &[RawLayer]) -> Image {
        let blobs = layers
            .iter()
            .map(|l| self.blob(&l.media_type, &l.bytes))
            .collect();
        let diff_ids = layers.iter().map(|l| l.diff_id.clone()).collect();
        self.finish_image(spec, blobs, diff_ids)
    }

    /// The config and manifest of an image of `layers`.
    fn finish_image(&self, spec: &ImageSpec, layers: Vec<Blob>, diff_ids: Vec<String>) -> Image {
        let mut config = json!({
            "architecture": spec.architecture,
            "os": spec.os,
            "config": spec.config,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "wslbox-test fixture"}],
        });
        if let Some(variant) = &spec.variant {
            config["variant"] = json!(variant);
        }
        let config = self.blob(
            MEDIA_CONFIG,
            &serde_json::to_vec(&config).expect("config JSON"),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MEDIA_MANIFEST,
            "config": descriptor(&config),
            "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
            // A same-length value a test can flip on disk to change the manifest digest.
            "annotations": {"org.wslbox.test.mutable": "a"},
        });
        let manifest = self.blob(
            MEDIA_MANIFEST,
            &serde_json::to_vec(&manifest).expect("manifest JSON"),
        );
        Image {
            manifest,
            config,
            layers,
            spec: spec.clone(),
        }
    }

    /// Writes an index of `specs` in that order, plus (optionally) an attestation manifest
    /// referring to the first image, the way buildkit attaches provenance.
    pub fn index(&self, specs: &[ImageSpec], with_attestation: bool) -> Index {
        let images: Vec<Image> = specs.iter().map(|spec| self.image(spec)).collect();
        let mut manifests: Vec<Value> = images
            .iter()
            .map(|image| {
                let mut platform =
                    json!({"architecture": image.spec.architecture, "os": image.spec.os});
                if let Some(variant) = &image.spec.variant {
                    platform["variant"] = json!(variant);
                }
                let mut entry = descriptor(&image.manifest);
                entry["platform"] = platform;
                entry
            })
            .collect();
        let attestation = with_attestation.then(|| {
            let statement = json!({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://slsa.dev/provenance/v0.2"});
            let layer = self.blob("application/vnd.in-toto+json", statement.to_string().as_bytes());
            let config = self.blob(MEDIA_CONFIG, br#"{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#);
            let mut layer_descriptor = descriptor(&layer);
            layer_descriptor["annotations"] = json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": MEDIA_MANIFEST,
                "config": descriptor(&config),
                "layers": [layer_descriptor],
            });
            let manifest = self.blob(MEDIA_MANIFEST, &serde_json::to_vec(&manifest).expect("attestation JSON"));
            let mut entry = descriptor(&manifest);
            entry["platform"] = json!({"architecture": "unknown", "os": "unknown"});
            entry["annotations"] = json!({
                "vnd.docker.reference.digest": images.first().map(|image| image.manifest.digest.clone()),
                "vnd.docker.reference.type": "attestation-manifest",
            });
            manifests.push(entry);
            manifest
        });
        let index = json!({"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": manifests});
        let index = self.blob(
            MEDIA_INDEX,
            &serde_json::to_vec(&index).expect("index JSON"),
        );
        Index {
            index,
            images,
            attestation,
        }
    }

    /// Points `index.json` tag `tag` at a manifest or index.
    pub fn tag(&mut self, tag: &str, target: &Blob) {
        let blob = oci_layout::Blob {
            digest: target.digest.parse().expect("fixture digests are valid"),
            size: target.size,
            media_type: target.media_type.clone(),
        };
        self.tags.push(IndexEntry {
            blob,
            platform: None,
            tag: Some(tag.to_owned()),
        });
        self.oci.write_index(&self.tags).expect("write index.json");
    }
}

impl From<oci_layout::Blob> for Blob {
    fn from(blob: oci_layout::Blob) -> Self {
        Self {
            digest: blob.digest.to_string(),
            size: blob.size,
            media_type: blob.media_type,
        }
    }
}

fn descriptor(blob: &Blob) -> Value {
    json!({"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size})
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Deterministic incompressible bytes (xorshift64), for layers big enough to overlap downloads.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
