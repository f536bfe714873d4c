//! The archive layout Docker 25+ `docker save` writes: an OCI layout (`blobs/sha256/<hex>` in
//! hex order, then `index.json`, `manifest.json`, `oci-layout`), so layers arrive in no
//! particular order and before the manifest. The installed dockerd (20.10) writes the legacy
//! layout, so this layout is made here from the real engine image's layers and served by a
//! `docker` double (see `common::FakeEngine`). The image also lists one layer twice, as an
//! archive may; the oracle is `umoci raw unpack` of the very same layout.

mod common;

use serde_json::json;
use wslbox_reference::{Algorithm, Hasher};
use wslbox_source::SourceSpec;
use wslbox_test::engine_image::ENGINE_IMAGE;
use wslbox_test::oracle::{self, Scratch};

use common::FakeEngine;

/// Reads every regular member of a tar into memory, by path.
fn members(archive: &[u8]) -> std::collections::HashMap<String, Vec<u8>> {
    let mut out = std::collections::HashMap::new();
    for entry in tar::Archive::new(archive).entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
        out.insert(path, bytes);
    }
    out
}

fn sha(bytes: &[u8]) -> String {
    Hasher::digest(Algorithm::Sha256, bytes).to_string()
}

#[test]
fn docker_25_layout_with_blobs_first_and_a_repeated_layer_matches_umoci() {
    let scratch = Scratch::new().unwrap();
    let (legacy, _, layer_paths) = common::real_archive();
    let files = members(&legacy);
    let listing: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    let mut config: serde_json::Value =
        serde_json::from_slice(&files[listing[0]["Config"].as_str().unwrap()]).unwrap();

    // Layers bottom first, the whiteout layer (index 2) once more on top.
    let order = [0, 1, 2, 3, 2];
    let layers: Vec<&Vec<u8>> = order.iter().map(|&i| &files[&layer_paths[i]]).collect();
    config["rootfs"]["diff_ids"] = layers.iter().map(|l| json!(sha(l))).collect();
    config["history"] = json!([]);
    let config = serde_json::to_vec(&config).unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha(&config), "size": config.len()},
        "layers": layers.iter().map(|l| json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": sha(l), "size": l.len()})).collect::<Vec<_>>(),
    }))
    .unwrap();
    let blob = |bytes: &[u8]| format!("blobs/sha256/{}", sha(bytes).trim_start_matches("sha256:"));
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "digest": sha(&manifest), "size": manifest.len(),
                       "annotations": {"io.containerd.image.name": ENGINE_IMAGE,
                                       "org.opencontainers.image.ref.name": "v1"}}],
    }))
    .unwrap();
    let docker_manifest = serde_json::to_vec(&json!([{
        "Config": blob(&config),
        "RepoTags": [ENGINE_IMAGE],
        "Layers": layers.iter().map(|l| blob(l)).collect::<Vec<_>>(),
    }]))
    .unwrap();

    let mut blobs: Vec<(String, &[u8])> =
        vec![(blob(&config), &config), (blob(&manifest), &manifest)];
    blobs.extend(layers.iter().map(|l| (blob(l), l.as_slice())));
    blobs.sort();
    blobs.dedup_by(|a, b| a.0 == b.0);
    let mut archive = tar::Builder::new(Vec::new());
    let mut add = |path: &str, bytes: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        archive.append_data(&mut h, path, bytes).unwrap();
    };
    let layout = scratch.path("layout");
    fs_err::create_dir_all(layout.join("blobs/sha256")).unwrap();
    for (path, bytes) in &blobs {
        add(path, bytes);
        fs_err::write(layout.join(path), bytes).unwrap();
    }
    let oci_layout = br#"{"imageLayoutVersion": "1.0.0"}"#;
    for (path, bytes) in [
        ("index.json", index.as_slice()),
        ("manifest.json", docker_manifest.as_slice()),
        ("oci-layout", oci_layout.as_slice()),
    ] {
        add(path, bytes);
        fs_err::write(layout.join(path), bytes).unwrap();
    }
    add("repositories", br#"{"localhost/wslbox-engine":{"v1":"x"}}"#);
    let archive = archive.into_inner().unwrap();

    oracle::umoci_unpack(&layout, "v1", &scratch.path("umoci")).unwrap();
    let umoci = oracle::snapshot(&scratch.path("umoci")).unwrap();

    let inspect = json!([{
        "Id": sha(&config), "RepoTags": [ENGINE_IMAGE], "RepoDigests": [],
        "Os": "linux", "Architecture": "amd64",
        "RootFS": {"Type": "layers", "Layers": config_diff_ids(&config)},
    }])
    .to_string();
    let fake = FakeEngine::new(
        &scratch,
        "docker",
        &archive,
        &inspect,
        "cat \"$D/archive.tar\"",
    );
    let spec = SourceSpec::parse(&format!("docker-daemon:{ENGINE_IMAGE}")).unwrap();
    let (ours, info) = common::flatten_to_tree(&spec, &fake.options(&scratch), &scratch, "ours");
    oracle::assert_same(&umoci, &ours, "docker-daemon: of a Docker 25+ archive");
    assert_eq!(
        common::children(&ours, "opt/app/cache"),
        ["b"],
        "the repeated layer's opaque whiteout hides what the layer below it added"
    );
    assert_eq!(info.layers.len(), 5);
    assert_eq!(info.layers[2].digest, info.layers[4].digest);
    assert_eq!(info.config_digest.unwrap().to_string(), sha(&config));
}

fn config_diff_ids(config: &[u8]) -> serde_json::Value {
    let config: serde_json::Value = serde_json::from_slice(config).unwrap();
    config["rootfs"]["diff_ids"].clone()
}
