//! Writing an image: the config and manifest of a single-layer OCI image, as `wslbox push`
//! uploads it. The documents are serialized once here, so their digests are those of the exact
//! bytes pushed.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use wslbox_reference::{Algorithm, Digest, Hasher, Platform};

use crate::media_type::{OCI_CONFIG, OCI_LAYER_GZIP, OCI_LAYER_ZSTD, OCI_MANIFEST};
use crate::{Compression, ImageConfigSummary};

/// The one layer of a built image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltLayer {
    /// Digest and size of the compressed blob.
    pub digest: Digest,
    pub size: u64,
    /// Digest of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    pub compression: Compression,
}

impl BuiltLayer {
    /// The OCI media type for the layer's compression (gzip or zstd).
    pub fn media_type(&self) -> &'static str {
        match self.compression {
            Compression::Zstd => OCI_LAYER_ZSTD,
            _ => OCI_LAYER_GZIP,
        }
    }
}

/// What goes into the config besides the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSettings {
    pub platform: Platform,
    /// RFC 3339, also the `created` of the history entry.
    pub created: String,
    pub config: ImageConfigSummary,
    /// The history entry's `created_by`.
    pub created_by: String,
}

/// A serialized document and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub media_type: &'static str,
    pub digest: Digest,
    pub bytes: Vec<u8>,
}

impl Document {
    fn new(media_type: &'static str, value: &Value) -> Self {
        let bytes = serde_json::to_vec(value).expect("JSON values serialize");
        Document {
            media_type,
            digest: Hasher::digest(Algorithm::Sha256, &bytes),
            bytes,
        }
    }
}

/// The OCI image config of a one-layer image.
pub fn image_config(settings: &ImageSettings, layer: &BuiltLayer) -> Document {
    let c = &settings.config;
    let mut config = serde_json::Map::new();
    let mut put = |key: &str, value: Value| {
        config.insert(key.to_owned(), value);
    };
    if !c.env.is_empty() {
        put("Env", json!(c.env));
    }
    if let Some(user) = c.user.as_deref().filter(|u| !u.is_empty()) {
        put("User", json!(user));
    }
    if let Some(dir) = c.working_dir.as_deref().filter(|d| !d.is_empty()) {
        put("WorkingDir", json!(dir));
    }
    if !c.entrypoint.is_empty() {
        put("Entrypoint", json!(c.entrypoint));
    }
    if !c.cmd.is_empty() {
        put("Cmd", json!(c.cmd));
    }
    if !c.labels.is_empty() {
        put("Labels", json!(c.labels));
    }
    let platform = &settings.platform;
    let mut value = json!({
        "created": settings.created,
        "architecture": platform.architecture,
        "os": platform.os,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [layer.diff_id.to_string()]},
        "history": [{"created": settings.created, "created_by": settings.created_by}],
    });
    if let Some(variant) = &platform.variant {
        value["variant"] = json!(variant);
    }
    Document::new(OCI_CONFIG, &value)
}

/// The OCI manifest pointing at `config` and `layer`, with `annotations` (may be empty).
pub fn image_manifest(
    config: &Document,
    layer: &BuiltLayer,
    annotations: &BTreeMap<String, String>,
) -> Document {
    let mut value = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": config.media_type,
            "digest": config.digest.to_string(),
            "size": config.bytes.len(),
        },
        "layers": [{
            "mediaType": layer.media_type(),
            "digest": layer.digest.to_string(),
            "size": layer.size,
        }],
    });
    if !annotations.is_empty() {
        value["annotations"] = json!(annotations);
    }
    Document::new(OCI_MANIFEST, &value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{self, Parsed};

    fn digest(c: char) -> Digest {
        format!("sha256:{}", c.to_string().repeat(64))
            .parse()
            .unwrap()
    }

    #[test]
    fn built_documents_parse_back_as_the_image_they_describe() {
        let layer = BuiltLayer {
            digest: digest('a'),
            size: 1234,
            diff_id: digest('b'),
            compression: Compression::Zstd,
        };
        let mut labels = BTreeMap::new();
        labels.insert("io.wslbox.default-user".to_owned(), "alice".to_owned());
        let settings = ImageSettings {
            platform: "linux/arm/v7".parse().unwrap(),
            created: "2026-12-03T08:00:00Z".into(),
            config: ImageConfigSummary {
                env: vec!["PATH=/usr/bin".into()],
                user: Some("alice".into()),
                working_dir: Some("/home/alice".into()),
                labels: labels.clone(),
                ..Default::default()
            },
            created_by: "wslbox push".into(),
        };
        let config = image_config(&settings, &layer);
        let manifest = image_manifest(&config, &layer, &BTreeMap::new());

        let Parsed::Manifest(m) =
            manifest::parse(Some(OCI_MANIFEST), &manifest.bytes, "test").unwrap()
        else {
            panic!("not a manifest");
        };
        assert_eq!(m.config.digest, config.digest);
        assert_eq!(m.config.size, config.bytes.len() as u64);
        assert_eq!(m.layers.len(), 1);
        assert_eq!(m.layers[0].digest, layer.digest);
        assert_eq!(m.layers[0].media_type, OCI_LAYER_ZSTD);
        assert_eq!(m.layers[0].compression, Compression::Zstd);

        let (summary, platform) = manifest::parse_config(&config.bytes, "test").unwrap();
        assert_eq!(platform.to_string(), "linux/arm/v7");
        assert_eq!(summary.user.as_deref(), Some("alice"));
        assert_eq!(summary.working_dir.as_deref(), Some("/home/alice"));
        assert_eq!(summary.env, ["PATH=/usr/bin"]);
        assert_eq!(summary.labels, labels);
        let raw: Value = serde_json::from_slice(&config.bytes).unwrap();
        assert_eq!(raw["rootfs"]["diff_ids"][0], digest('b').to_string());
    }
}
