//! The `manifest` fuzz target's invariant (`fuzz/src/manifest.rs`) on stable: over the committed
//! seed corpus, generated manifests and indexes (Docker Hub-like, with attestations, odd
//! platforms, bad digests, negative and huge sizes, unknown media types, schema 1) and byte-level
//! mutations of them. A counting allocator checks that no input makes the parser allocate far
//! more than its size.

#![allow(unsafe_code)]

#[allow(dead_code)]
#[path = "../../../fuzz/src/cases.rs"]
mod cases;
#[path = "../../../fuzz/src/manifest.rs"]
mod manifest_check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use cases::{chance, mutate, string};
use rng::Rng;
use serde_json::{Value, json};

/// Records the largest single allocation, so a small input asking for a huge buffer shows.
struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs one fuzz input and checks its largest allocation stayed proportional to it.
fn run(data: &[u8]) {
    LARGEST.store(0, Ordering::Relaxed);
    manifest_check::check_bytes(data);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest <= 64 * data.len() + (1 << 20),
        "{} input bytes allocated {largest} bytes at once",
        data.len()
    );
}

const MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.layer.v1.tar",
    "application/vnd.oci.image.layer.v1.tar+gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.in-toto+json",
    "application/octet-stream",
    "",
];
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.oci.artifact.manifest.v1+json",
];

fn digest(rng: &mut Rng) -> String {
    let hex = string(rng, "0123456789abcdef", 64);
    match rng.below(40) {
        0 => format!("sha512:{hex}{hex}"),
        1 => format!("sha256:{}", &hex[..63]),
        2 => "sha256:../../../etc/passwd".into(),
        3 => format!("SHA256:{hex}"),
        _ => format!("sha256:{hex}"),
    }
}

fn size(rng: &mut Rng) -> Value {
    match rng.below(40) {
        0 => json!(-1),
        1 => json!(i64::MAX),
        2 => json!(u64::MAX),
        3 => json!(1.5),
        4 => json!("12"),
        _ => json!(rng.below(1 << 20)),
    }
}

fn descriptor(rng: &mut Rng, media_types: &[&str]) -> Value {
    let mut d = json!({
        "mediaType": rng.pick(media_types),
        "digest": digest(rng),
        "size": size(rng),
    });
    if chance(rng, 6) {
        d["urls"] = json!(["https://example.com/layer"]);
    }
    if chance(rng, 8) {
        d.as_object_mut().unwrap().remove("mediaType");
    }
    d
}

fn platform(rng: &mut Rng) -> Value {
    let os = rng.pick(&["linux", "unknown", "windows", "Linux", ""]);
    let arch = rng.pick(&[
        "amd64", "arm64", "arm", "unknown", "386", "x86_64", "aarch64",
    ]);
    let mut p = json!({ "os": os, "architecture": arch });
    if chance(rng, 2) {
        p["variant"] = json!(rng.pick(&["v8", "v7", "v6", "v2", "v3", "", "8"]));
    }
    p
}

fn document(rng: &mut Rng) -> Value {
    if chance(rng, 2) {
        let layers: Vec<Value> = (0..rng.below(6))
            .map(|_| descriptor(rng, MEDIA_TYPES))
            .collect();
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": rng.pick(&MANIFEST_TYPES[..2]),
            "config": descriptor(rng, &["application/vnd.oci.image.config.v1+json"]),
            "layers": layers,
        });
        if chance(rng, 10) {
            m.as_object_mut().unwrap().remove("mediaType");
        }
        if chance(rng, 15) {
            m["schemaVersion"] = json!(1);
            m["fsLayers"] = json!([]);
        }
        m
    } else {
        let manifests: Vec<Value> = (0..rng.below(6))
            .map(|_| {
                let mut d = descriptor(rng, &MANIFEST_TYPES[..2]);
                if !chance(rng, 6) {
                    d["platform"] = platform(rng);
                }
                if chance(rng, 5) {
                    d["annotations"] =
                        json!({ "vnd.docker.reference.type": "attestation-manifest" });
                }
                d
            })
            .collect();
        let mut m = json!({
            "schemaVersion": 2,
            "mediaType": rng.pick(&MANIFEST_TYPES[2..]),
            "manifests": manifests,
        });
        if chance(rng, 10) {
            m.as_object_mut().unwrap().remove("mediaType");
        }
        m
    }
}

fn config(rng: &mut Rng) -> Value {
    let ids: Vec<String> = (0..rng.below(5)).map(|_| digest(rng)).collect();
    let mut c = json!({
        "architecture": rng.pick(&["amd64", "arm64", ""]),
        "os": rng.pick(&["linux", ""]),
        "config": { "Env": ["PATH=/usr/bin"], "Cmd": "sh", "Labels": { "a": null } },
        "rootfs": { "type": "layers", "diff_ids": ids },
    });
    if chance(rng, 6) {
        c["rootfs"] = json!(null);
    }
    c
}

#[test]
fn seed_corpus_keeps_the_manifest_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "manifest") {
        eprintln!("{name}");
        run(&bytes);
        // Each seed under every Content-Type, not only the one its first byte picks.
        for pick in 0..manifest_check::CONTENT_TYPES.len() as u8 {
            let mut input = vec![pick];
            input.extend_from_slice(&bytes[1.min(bytes.len())..]);
            run(&input);
        }
    }
}

#[test]
fn generated_documents_keep_the_manifest_invariant() {
    let mut rng = Rng(0x5eed_0000_0000_00b1);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..4000 {
        let doc = if case % 4 == 3 {
            config(&mut rng)
        } else {
            document(&mut rng)
        };
        let mut body = serde_json::to_vec(&doc).unwrap();
        if case % 3 == 2 {
            body = mutate(
                &mut rng,
                body,
                &["\"", "{", "}", "[", "]", ",", "-", "9", "\\u0000"],
            );
        }
        let mut input = vec![rng.next() as u8];
        input.extend_from_slice(&body);
        run(&input);
        total += 1;
        if manifest_check::check_document(None, &body) {
            accepted += 1;
        }
    }
    assert!(accepted * 8 > total, "only {accepted} of {total} accepted");
}

#[test]
fn deep_nesting_and_long_arrays_stay_bounded() {
    for input in [
        format!("\0{}", "[".repeat(100_000)),
        format!("\0{{\"manifests\":[{}]}}", "{},".repeat(50_000)),
        format!("\0{{\"layers\":{}}}", "[".repeat(5_000)),
    ] {
        run(input.as_bytes());
    }
}
