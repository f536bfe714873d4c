//! The manifest and index parser's fuzzing invariant (`wslbox_image::manifest`), shared by the
//! `manifest` cargo-fuzz target and `crates/wslbox-image/tests/fuzz_manifest.rs`.
//!
//! For any body and any `Content-Type` (what the registry client hands to
//! [`manifest::parse`]): no panic; an accepted manifest's config and layer digests are
//! well-formed, its layers have a known compression, and sizes fit; an accepted index selects
//! only a non-attestation entry whose platform really fits the request; the config readers
//! (`parse_config`, `parse_diff_ids`, `check_layer_count`) never panic, and the layer-count rule
//! accepts exactly when the counts agree or the config names no diff_ids. (Bounded memory is
//! enforced by libFuzzer's `-malloc_limit_mb` and, on stable, by the test's counting allocator.)

use wslbox_image::manifest::{self, Parsed};
use wslbox_image::media_type;
use wslbox_reference::{Algorithm, Digest, Platform};

/// `Content-Type` values the client may receive, the first byte of the input picks one.
pub const CONTENT_TYPES: &[Option<&str>] = &[
    None,
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
    Some("application/json"),
    Some("application/json; charset=utf-8"),
    Some("text/plain"),
    Some("application/vnd.oci.image.manifest.v1+json; charset=utf-8"),
    Some(""),
];

/// Platforms asked for when an index is accepted.
fn wanted() -> [Platform; 4] {
    [
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm64", None),
        Platform::new("linux", "arm", Some("v7")),
        Platform::new("windows", "amd64", None),
    ]
}

fn check_digest(d: &Digest) {
    let len = match d.algorithm() {
        Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    };
    assert_eq!(d.hex().len(), len, "{d}");
    assert!(
        d.hex()
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{d}"
    );
    assert_eq!(d.to_string().parse::<Digest>().as_ref(), Ok(d));
}

/// Panics when parsing `body` as `content_type` breaks the invariant; returns whether it was
/// accepted.
pub fn check_document(content_type: Option<&str>, body: &[u8]) -> bool {
    let Ok(parsed) = manifest::parse(content_type, body, "fuzz") else {
        return false;
    };
    match parsed {
        Parsed::Manifest(m) => {
            check_digest(&m.config.digest);
            for l in &m.layers {
                check_digest(&l.digest);
                assert!(i64::try_from(l.size).is_ok(), "layer size {}", l.size);
                assert_eq!(
                    media_type::layer_compression(&l.media_type),
                    Some(l.compression),
                    "layer {} media type `{}`",
                    l.digest,
                    l.media_type
                );
            }
            assert!(i64::try_from(m.config.size).is_ok());
        }
        Parsed::Index(entries) => {
            for e in &entries {
                check_digest(&e.target.digest);
            }
            let _ = manifest::platforms(&entries);
            for want in wanted() {
                let Ok(chosen) = manifest::select(&entries, &want, "fuzz") else {
                    continue;
                };
                assert!(
                    !chosen.is_attestation,
                    "an attestation was selected for {want}"
                );
                let p = chosen
                    .platform
                    .as_ref()
                    .expect("a selected entry has a platform")
                    .normalize();
                let w = want.normalize();
                assert!(
                    p.os == w.os && p.architecture == w.architecture,
                    "{p} selected for {w}"
                );
            }
        }
    }
    true
}

/// Panics when the config readers break the invariant for `config` and `layers` layers.
pub fn check_config(config: &[u8], layers: usize) {
    let _ = manifest::parse_config(config, "fuzz");
    let diff_ids = manifest::parse_diff_ids(config, "fuzz");
    let counted = manifest::check_layer_count(config, layers, "fuzz");
    match diff_ids {
        Ok(ids) => {
            ids.iter().for_each(check_digest);
            let agree = ids.is_empty() || ids.len() == layers;
            assert_eq!(
                counted.is_ok(),
                agree,
                "{} diff_ids, {layers} layers",
                ids.len()
            );
        }
        Err(_) => assert!(
            counted.is_err(),
            "a config that fails parse_diff_ids was counted"
        ),
    }
}

/// Fuzz input: the first byte picks the `Content-Type` and a layer count for the config
/// readers; the rest is the body.
pub fn check_bytes(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(pick) % CONTENT_TYPES.len()];
    check_document(content_type, body);
    check_config(body, usize::from(pick >> 4));
}
