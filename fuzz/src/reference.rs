//! The reference, digest and platform grammar's fuzzing invariant (`wslbox-reference`), shared by
//! the `reference` cargo-fuzz target and `crates/wslbox-reference/tests/fuzz_reference.rs`:
//! no input panics; an accepted reference prints (canonically and in familiar form) to text that
//! parses back to the same reference; accepted digests are an algorithm and lowercase hex of its
//! length; nothing that may become a path (repository, digest hex) can climb out of a directory;
//! parsed platforms are normalized, print and parse back to themselves, and match themselves.

use wslbox_reference::{Algorithm, Digest, Platform, Reference};

/// Whether `s` could escape or confuse a directory it is joined to.
fn unsafe_as_path(s: &str) -> bool {
    s.is_empty()
        || s.starts_with('/')
        || s.contains('\\')
        || s.contains('\0')
        || s.split('/').any(|c| c.is_empty() || c == "." || c == "..")
}

/// Panics when a digest breaks the invariant.
pub fn check_digest(d: &Digest) {
    let hex = d.hex();
    let want = match d.algorithm() {
        Algorithm::Sha256 => 64,
        Algorithm::Sha512 => 128,
    };
    assert_eq!(hex.len(), want, "{d}: wrong hex length");
    assert!(
        hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{d}: not lowercase hex"
    );
    assert!(!unsafe_as_path(hex), "{d}: unsafe as a path");
    let again: Digest = d.to_string().parse().expect("a printed digest parses");
    assert_eq!(&again, d, "digest round trip");
}

/// Panics when an accepted reference breaks the invariant.
pub fn check_accepted_reference(input: &str, r: &Reference) {
    assert!(
        !unsafe_as_path(r.repository()),
        "`{input}`: repository `{}` is unsafe as a path",
        r.repository()
    );
    assert!(
        r.tag().is_some() || r.digest().is_some(),
        "`{input}`: neither tag nor digest"
    );
    if let Some(d) = r.digest() {
        check_digest(d);
    }
    let canonical = r.to_string();
    let again: Reference = canonical
        .parse()
        .unwrap_or_else(|e| panic!("`{input}` printed as `{canonical}`, which fails: {e}"));
    assert_eq!(
        &again, r,
        "`{input}` → `{canonical}` parses to another reference"
    );
    let familiar = r.familiar();
    let again: Reference = familiar
        .parse()
        .unwrap_or_else(|e| panic!("`{input}` familiar `{familiar}` fails: {e}"));
    assert_eq!(
        &again, r,
        "`{input}` → familiar `{familiar}` names another image"
    );
    assert_eq!(again.manifest_selector(), r.manifest_selector());
}

/// Panics when a platform string's parse breaks the invariant.
pub fn check_platform(input: &str) {
    let Ok(p) = input.parse::<Platform>() else {
        return;
    };
    assert_eq!(
        p.normalize(),
        p,
        "`{input}`: parsed platform is not normalized"
    );
    let printed = p.to_string();
    let again: Platform = printed
        .parse()
        .unwrap_or_else(|e| panic!("`{input}` printed as `{printed}`, which fails: {e}"));
    assert_eq!(again, p, "`{input}` → `{printed}` round trip");
    assert!(p.matches(&p), "`{input}` does not match itself");
    let _ = p.variant_rank();
}

/// Any platform, as an index may carry it: normalizing is idempotent and matching never panics.
pub fn check_raw_platform(os: &str, arch: &str, variant: Option<&str>, want: &Platform) {
    let p = Platform::new(os, arch, variant);
    let n = p.normalize();
    assert_eq!(n.normalize(), n, "normalize is not idempotent for {p:?}");
    assert!(p.matches(&p), "{p:?} does not match itself");
    let _ = (want.fit(&p), p.fit(want), p.variant_rank());
}

/// The whole invariant for one input string (reference, digest and platform views of it).
pub fn check_str(input: &str) {
    if let Ok(r) = input.parse::<Reference>() {
        check_accepted_reference(input, &r);
    }
    if let Ok(d) = input.parse::<Digest>() {
        check_digest(&d);
    }
    check_platform(input);
    let mut parts = input.splitn(3, '/');
    let (os, arch, variant) = (parts.next(), parts.next(), parts.next());
    if let (Some(os), Some(arch)) = (os, arch) {
        check_raw_platform(
            os,
            arch,
            variant,
            &Platform::new("linux", "arm", Some("v7")),
        );
    }
}

/// Fuzz bytes as text: invalid UTF-8 is replaced, so every input exercises the grammar.
pub fn check_bytes(data: &[u8]) {
    check_str(&String::from_utf8_lossy(data));
}
