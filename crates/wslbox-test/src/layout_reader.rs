//! Reading OCI image layouts that other tools wrote (`podman save --format oci-dir`, skopeo):
//! the first manifest's layers and the member names of each, so engine tests can check which
//! whiteouts a real build produced.

use std::io::Read;
use std::path::Path;

use anyhow::{Context as _, bail};
use serde_json::Value;

fn blob(layout: &Path, digest: &str) -> std::path::PathBuf {
    let (algo, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    layout.join("blobs").join(algo).join(hex)
}

fn json(path: &Path) -> anyhow::Result<Value> {
    serde_json::from_slice(&fs_err::read(path)?)
        .with_context(|| format!("parsing {}", path.display()))
}

/// The member names of each layer of the first manifest in `index.json`, bottom first.
pub fn layer_members(layout: &Path) -> anyhow::Result<Vec<Vec<String>>> {
    let index = json(&layout.join("index.json"))?;
    let Some(digest) = index["manifests"][0]["digest"].as_str() else {
        bail!("{}: index.json lists no manifest", layout.display());
    };
    let manifest = json(&blob(layout, digest))?;
    let Some(layers) = manifest["layers"].as_array() else {
        bail!("{}: manifest {digest} has no layers", layout.display());
    };
    layers
        .iter()
        .map(|layer| {
            let digest = layer["digest"].as_str().context("layer digest")?;
            let media = layer["mediaType"].as_str().unwrap_or_default();
            let file = fs_err::File::open(blob(layout, digest))?;
            let reader: Box<dyn Read> = if media.ends_with("gzip") {
                Box::new(flate2::read::GzDecoder::new(file))
            } else if media.ends_with("zstd") {
                Box::new(zstd::Decoder::new(file)?)
            } else {
                Box::new(file)
            };
            let mut names = Vec::new();
            for entry in tar::Archive::new(reader).entries()? {
                let entry = entry.with_context(|| format!("reading layer {digest}"))?;
                names.push(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
            }
            Ok(names)
        })
        .collect()
}
