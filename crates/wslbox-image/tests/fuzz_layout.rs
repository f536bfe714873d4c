//! The `oci_layout` fuzz target's invariant (`fuzz/src/layout.rs`) on stable: over the
//! committed seed corpus, and generated layouts and archives (valid images with tags,
//! platform indexes and attestations; docker archives with repeated and linked layers) that
//! are then damaged: blobs corrupted, names pointing outside the layout (`..`, absolute,
//! symlinks), descriptors aimed at the canary outside, JSON mutated, archives truncated.
//!
//! `WSLBOX_FUZZ_SEEDS=DIR` also writes every case there, to seed `cargo fuzz`.

#[allow(dead_code)]
#[path = "../../../fuzz/src/cases.rs"]
mod cases;
#[path = "../../../fuzz/src/layout.rs"]
mod layout_check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use cases::{chance, mutate};
use layout_check::{Blob, CANARY_CONFIG, CANARY_LAYER, Input, Transport, sha256};
use rng::Rng;
use serde_json::{Value, json};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

fn tar_with(rng: &mut Rng) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for i in 0..rng.below(3) {
        let body = vec![b'x'; rng.below(700)];
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("f{i}"), &body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn descriptor(media_type: &str, bytes: &[u8]) -> Value {
    json!({ "mediaType": media_type, "digest": sha256(bytes).to_string(), "size": bytes.len() })
}

fn config(rng: &mut Rng, arch: &str, layers: &[Vec<u8>]) -> Vec<u8> {
    let ids: Vec<String> = layers.iter().map(|l| sha256(l).to_string()).collect();
    let ids = if chance(rng, 8) {
        ids[..ids.len() / 2].to_vec()
    } else {
        ids
    };
    serde_json::to_vec(&json!({
        "architecture": arch, "os": "linux",
        "config": { "Env": ["PATH=/bin"], "Cmd": ["/bin/sh"] },
        "rootfs": { "type": "layers", "diff_ids": ids },
    }))
    .unwrap()
}

/// A valid single- or multi-platform OCI layout, as the input's blobs and index.json.
fn oci(rng: &mut Rng, transport: Transport) -> Input {
    let mut blobs = Vec::new();
    let mut manifests = Vec::new();
    let archs: &[&str] = if chance(rng, 2) {
        &["amd64"]
    } else {
        &["amd64", "arm64", "arm"]
    };
    for arch in archs {
        let layers: Vec<Vec<u8>> = (0..1 + rng.below(2)).map(|_| tar_with(rng)).collect();
        let cfg = config(rng, arch, &layers);
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": descriptor("application/vnd.oci.image.config.v1+json", &cfg),
            "layers": layers.iter().map(|l| descriptor("application/vnd.oci.image.layer.v1.tar", l)).collect::<Vec<_>>(),
        }))
        .unwrap();
        let mut d = descriptor(OCI_MANIFEST, &manifest);
        let variant = if *arch == "arm" { Some("v7") } else { None };
        d["platform"] = json!({ "os": "linux", "architecture": arch, "variant": variant });
        manifests.push(d);
        blobs.push(Blob::Addressed(cfg));
        blobs.push(Blob::Addressed(manifest));
        blobs.extend(layers.into_iter().map(Blob::Addressed));
    }
    if chance(rng, 3) {
        let att = br#"{"schemaVersion":2,"config":{"digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#.to_vec();
        let mut d = descriptor(OCI_MANIFEST, &att);
        d["platform"] = json!({ "os": "unknown", "architecture": "unknown" });
        manifests.push(d);
        blobs.push(Blob::Addressed(att));
    }
    let tag = rng.pick(&["latest", "1.0", "v2"]).to_owned();
    let top_entry = if manifests.len() > 1 || chance(rng, 3) {
        let index = serde_json::to_vec(
            &json!({ "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests }),
        )
        .unwrap();
        let d = descriptor(OCI_INDEX, &index);
        blobs.push(Blob::Addressed(index));
        d
    } else {
        manifests.remove(0)
    };
    let mut entry = top_entry;
    entry["annotations"] = json!({ "org.opencontainers.image.ref.name": tag });
    let top = serde_json::to_vec(&json!({ "schemaVersion": 2, "manifests": [entry] })).unwrap();
    Input {
        transport,
        tag: (!chance(rng, 3)).then_some(tag),
        platform: rng.next() as u8,
        truncate: 0,
        top,
        blobs,
    }
}

/// A valid `docker save` archive: config and layers by name, a layer repeated through a link.
fn docker(rng: &mut Rng) -> Input {
    let layers: Vec<Vec<u8>> = (0..1 + rng.below(3)).map(|_| tar_with(rng)).collect();
    let cfg = config(rng, "amd64", &layers);
    let by_digest = chance(rng, 2);
    let mut blobs = vec![];
    let cfg_name = if by_digest {
        format!("blobs/sha256/{}", sha256(&cfg).hex())
    } else {
        format!("{}.json", sha256(&cfg).hex())
    };
    blobs.push(Blob::Named(cfg_name.clone(), cfg));
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = if by_digest {
            format!("blobs/sha256/{}", sha256(l).hex())
        } else {
            format!("layer{i}/layer.tar")
        };
        if i > 0 && chance(rng, 3) {
            blobs.push(Blob::Symlink(name.clone(), "../layer0/layer.tar".into()));
        } else {
            blobs.push(Blob::Named(name.clone(), l.clone()));
        }
        names.push(name);
    }
    let top = serde_json::to_vec(&json!([{
        "Config": cfg_name, "RepoTags": ["example.com/app:1", "alpine:latest"], "Layers": names,
    }]))
    .unwrap();
    Input {
        transport: Transport::DockerArchive,
        tag: match rng.below(4) {
            0 => Some("alpine".into()),
            1 => Some("@0".into()),
            2 => Some("@7".into()),
            _ => None,
        },
        platform: 0,
        truncate: 0,
        top,
        blobs,
    }
}

const ESCAPES: &[&str] = &[
    "../outside/config.json",
    "../../outside/layer.tar",
    "/etc/passwd",
    "outside/config.json",
    "./blobs/sha256/../../../outside/config.json",
];

/// Damage one part of a valid input.
fn damage(rng: &mut Rng, mut input: Input) -> Input {
    match rng.below(8) {
        0 => input.top = mutate(rng, input.top, &["\"", "..", "/", "sha256:", "{", "]"]),
        1 if !input.blobs.is_empty() => {
            let i = rng.below(input.blobs.len());
            if let Blob::Addressed(b) | Blob::Named(_, b) = &mut input.blobs[i] {
                *b = mutate(rng, std::mem::take(b), &[]);
            }
        }
        2 => {
            // Point a descriptor or a path at the canary outside the layout.
            let text = String::from_utf8_lossy(&input.top).into_owned();
            let canary = if chance(rng, 2) {
                sha256(CANARY_CONFIG)
            } else {
                sha256(CANARY_LAYER)
            };
            let text = match text.find("sha256:") {
                Some(i) if i + 71 <= text.len() && chance(rng, 2) => {
                    format!("{}{canary}{}", &text[..i], &text[i + 71..])
                }
                _ => text.replacen(".json\"", &format!("\",\"x\":\"{}\"", rng.pick(ESCAPES)), 1),
            };
            input.top = text.into_bytes();
        }
        3 => {
            let name = rng.pick(ESCAPES).to_owned();
            input.blobs.push(Blob::Symlink(
                format!("blobs/sha256/{}", sha256(CANARY_CONFIG).hex()),
                name,
            ));
        }
        4 => input.truncate = 1 + rng.below(255) as u8,
        5 if !input.blobs.is_empty() => {
            let i = rng.below(input.blobs.len());
            input.blobs[i] = match std::mem::replace(&mut input.blobs[i], Blob::Addressed(vec![])) {
                Blob::Named(_, b) | Blob::Addressed(b) => {
                    Blob::Named(rng.pick(ESCAPES).to_owned(), b)
                }
                other => other,
            };
        }
        6 => {
            let text = String::from_utf8_lossy(&input.top).into_owned();
            input.top = text
                .replacen(
                    "Layers\":[\"",
                    &format!("Layers\":[\"{}\",\"", rng.pick(ESCAPES)),
                    1,
                )
                .replacen(
                    "Config\":\"",
                    &format!("Config\":\"{}", rng.pick(&["../", "/", "./"])),
                    1,
                )
                .into_bytes();
        }
        _ => {
            let bytes = mutate(rng, input.encode(), &["\n--\n", "@", " -> ", "..", "/"]);
            input = Input::decode(&bytes);
        }
    }
    input
}

#[test]
fn seed_corpus_keeps_the_layout_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "oci_layout") {
        eprintln!("{name}");
        layout_check::check_bytes(&bytes);
    }
}

#[test]
fn generated_layouts_keep_the_invariant() {
    let seeds = std::env::var_os("WSLBOX_FUZZ_SEEDS").map(std::path::PathBuf::from);
    let mut rng = Rng(0x5eed_0000_0000_00d1);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..900 {
        let mut input = match case % 3 {
            0 => oci(&mut rng, Transport::Oci),
            1 => oci(&mut rng, Transport::OciArchive),
            _ => docker(&mut rng),
        };
        if case % 2 == 1 {
            input = damage(&mut rng, input);
        }
        // Round trip of the fuzz encoding, so seeds written below decode to this case.
        assert_eq!(
            Input::decode(&input.encode()),
            input,
            "encoding of case {case}"
        );
        let root = tempfile::tempdir().unwrap();
        total += 1;
        let ok = layout_check::check_input(&input, root.path());
        accepted += usize::from(ok);
        if let Some(dir) = &seeds {
            fs_err::create_dir_all(dir).unwrap();
            let name = format!("case-{case}-{}", if ok { "accepted" } else { "refused" });
            fs_err::write(dir.join(name), input.encode()).unwrap();
        }
    }
    assert!(accepted * 3 > total, "only {accepted} of {total} accepted");
}
