//! Fixture images for the registry tests, written as OCI layouts that skopeo can push.
//!
//! [`Layout`] writes blobs and tags; [`ImageSpec`] describes one single-platform image (gzip
//! layers of named files plus a config); [`Layout::index`] builds an image index, optionally
//! with a buildkit-style attestation manifest (platform `unknown/unknown`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

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
    dir: PathBuf,
    tags: Vec<Value>,
}

impl Layout {
    /// Creates `oci-layout`, `blobs/sha256/` and an empty `index.json` in `dir`.
    pub fn create(dir: &Path) -> Self {
        fs_err::create_dir_all(dir.join("blobs/sha256")).expect("create layout blob dir");
        fs_err::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
            .expect("write oci-layout");
        let layout = Self {
            dir: dir.to_owned(),
            tags: Vec::new(),
        };
        layout.write_index_json();
        layout
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stores bytes as a blob.
    pub fn blob(&self, media_type: &str, bytes: &[u8]) -> Blob {
        let hex = hex::encode(Sha256::digest(bytes));
        fs_err::write(self.dir.join("blobs/sha256").join(&hex), bytes).expect("write layout blob");
        Blob {
            digest: format!("sha256:{hex}"),
            size: bytes.len() as u64,
            media_type: media_type.to_owned(),
        }
    }

    /// Writes one image (layers, config, manifest); tag it with [`Layout::tag`].
    pub fn image(&self, spec: &ImageSpec) -> Image {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for files in &spec.layers {
            let tar = tar_of(files);
            diff_ids.push(format!("sha256:{}", hex::encode(Sha256::digest(&tar))));
            layers.push(self.blob(OCI_LAYER_GZIP, &gzip(&tar)));
        }
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
            OCI_CONFIG,
            &serde_json::to_vec(&config).expect("config JSON"),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(&config),
            "layers": layers.iter().map(descriptor).collect::<Vec<_>>(),
            // A same-length value a test can flip on disk to change the manifest digest.
            "annotations": {"org.wslbox.test.mutable": "a"},
        });
        let manifest = self.blob(
            OCI_MANIFEST,
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
            let config = self.blob(OCI_CONFIG, br#"{"architecture":"unknown","os":"unknown","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#);
            let mut layer_descriptor = descriptor(&layer);
            layer_descriptor["annotations"] = json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
            let manifest = json!({
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": descriptor(&config),
                "layers": [layer_descriptor],
            });
            let manifest = self.blob(OCI_MANIFEST, &serde_json::to_vec(&manifest).expect("attestation JSON"));
            let mut entry = descriptor(&manifest);
            entry["platform"] = json!({"architecture": "unknown", "os": "unknown"});
            entry["annotations"] = json!({
                "vnd.docker.reference.digest": images.first().map(|image| image.manifest.digest.clone()),
                "vnd.docker.reference.type": "attestation-manifest",
            });
            manifests.push(entry);
            manifest
        });
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let index = self.blob(OCI_INDEX, &serde_json::to_vec(&index).expect("index JSON"));
        Index {
            index,
            images,
            attestation,
        }
    }

    /// Points `index.json` tag `tag` at a manifest or index.
    pub fn tag(&mut self, tag: &str, target: &Blob) {
        let mut entry = descriptor(target);
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        self.tags.push(entry);
        self.write_index_json();
    }

    fn write_index_json(&self) {
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": self.tags});
        fs_err::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("index.json"),
        )
        .expect("write index.json");
    }
}

fn descriptor(blob: &Blob) -> Value {
    json!({"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size})
}

fn tar_of(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    for (path, contents) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(1_700_000_000);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, path, contents.as_slice())
            .expect("append tar entry");
    }
    builder.into_inner().expect("finish tar")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).expect("gzip in memory");
    encoder.finish().expect("finish gzip")
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
