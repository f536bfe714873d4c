//! The `reference` fuzz target's invariant (`fuzz/src/reference.rs`) on stable: over the
//! committed seed corpus, structured references built from parts that collide with the grammar's
//! edge cases (registry-looking namespaces, legacy Docker Hub names, ports, IPv6, separators),
//! and byte-level mutations of both.

#[allow(dead_code)]
#[path = "../../../fuzz/src/cases.rs"]
mod cases;
#[path = "../../../fuzz/src/reference.rs"]
mod reference_check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use cases::{chance, mutate, string};
use rng::Rng;

const REGISTRIES: &[&str] = &[
    "docker.io",
    "index.docker.io",
    "registry-1.docker.io",
    "localhost",
    "localhost:5000",
    "[::1]:5000",
    "[fe80::1]",
    "ghcr.io",
    "Quay.IO",
    "127.0.0.1:5000",
    "a-b.example.com:443",
    "-bad.example",
    "x.",
];
const COMPONENTS: &[&str] = &[
    "library",
    "alpine",
    "foo.bar",
    "a__b",
    "a-b",
    "a---b",
    "a_b",
    "localhost",
    "l0",
    "ubuntu",
    "x.y.z",
    "a..b",
    "A",
    "..",
    ".",
    "",
    "_a",
    "a_",
    "a:b",
    "é",
];
const TAG_CHARS: &str = "abcXYZ019_.-";
const INTERESTING: &[&str] = &[
    "/",
    ":",
    "@",
    "@sha256:",
    ".",
    "..",
    "\\",
    "\0",
    "library/",
    "docker.io/",
    "[",
    "]",
    "-",
    "_",
    "__",
];

fn hex(rng: &mut Rng, len: usize) -> String {
    string(rng, "0123456789abcdef", len)
}

fn digest(rng: &mut Rng) -> String {
    match rng.below(8) {
        0 => format!("sha512:{}", hex(rng, 128)),
        1 => format!("sha256:{}", hex(rng, 63)),
        2 => format!("md5:{}", hex(rng, 32)),
        3 => format!("sha256:../{}", hex(rng, 61)),
        _ => format!("sha256:{}", hex(rng, 64)),
    }
}

fn reference(rng: &mut Rng) -> String {
    let mut s = String::new();
    if !chance(rng, 3) {
        s.push_str(rng.pick(REGISTRIES));
        s.push('/');
    }
    let depth = 1 + rng.below(3);
    let parts: Vec<&str> = (0..depth)
        .map(|_| {
            if chance(rng, 12) {
                rng.pick(COMPONENTS)
            } else {
                rng.pick(&COMPONENTS[..11])
            }
        })
        .collect();
    s.push_str(&parts.join("/"));
    if chance(rng, 2) {
        s.push(':');
        let len = if chance(rng, 20) {
            129
        } else {
            1 + rng.below(12)
        };
        s.push_str(&string(rng, TAG_CHARS, len));
    }
    if chance(rng, 3) {
        s.push('@');
        s.push_str(&digest(rng));
    }
    s
}

fn platform(rng: &mut Rng) -> String {
    let os = rng.pick(&["linux", "Linux", "windows", "macos", "unknown", "", "a b"]);
    let arch = rng.pick(&[
        "amd64",
        "x86_64",
        "x86-64",
        "aarch64",
        "arm64",
        "arm",
        "armhf",
        "armel",
        "386",
        "i386",
        "ppc64le",
        "loongarch64",
        "riscv64",
        "ARM64",
        "",
    ]);
    let mut s = format!("{os}/{arch}");
    if chance(rng, 2) {
        s.push('/');
        s.push_str(rng.pick(&[
            "v8", "8", "v8.0", "v8.2", "V8", "v7", "7", "6", "v5", "v1", "v2", "v3", "v", "x", "",
        ]));
    }
    if chance(rng, 30) {
        s.push_str("/extra");
    }
    s
}

#[test]
fn seed_corpus_keeps_the_reference_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "reference") {
        let text = String::from_utf8_lossy(&bytes);
        // A seed file may hold one input or one per line.
        reference_check::check_bytes(&bytes);
        for line in text.lines() {
            reference_check::check_str(line);
        }
        eprintln!("{name}: ok");
    }
}

#[test]
fn generated_references_keep_the_invariant() {
    let mut rng = Rng(0x5eed_0000_0000_00a1);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..6000 {
        let mut s = reference(&mut rng);
        if case % 3 == 2 {
            s = String::from_utf8_lossy(&mutate(&mut rng, s.into_bytes(), INTERESTING)).into();
        }
        total += 1;
        if let Ok(r) = s.parse() {
            accepted += 1;
            reference_check::check_accepted_reference(&s, &r);
        }
        reference_check::check_str(&s);
    }
    assert!(accepted * 4 > total, "only {accepted} of {total} accepted");
}

#[test]
fn generated_platforms_keep_the_invariant() {
    let mut rng = Rng(0x5eed_0000_0000_00a2);
    for case in 0..3000 {
        let mut s = platform(&mut rng);
        if case % 3 == 2 {
            s = String::from_utf8_lossy(&mutate(&mut rng, s.into_bytes(), &["/", "v", "8"])).into();
        }
        reference_check::check_str(&s);
    }
}

#[test]
fn generated_digests_keep_the_invariant() {
    let mut rng = Rng(0x5eed_0000_0000_00a3);
    for _ in 0..3000 {
        let s = digest(&mut rng);
        let bytes = mutate(&mut rng, s.into_bytes(), &[":", "A", "/", ".."]);
        reference_check::check_bytes(&bytes);
    }
}
