//! The tar fuzz targets' invariants (`fuzz/src/check.rs`) over their committed seed corpora
//! (`fuzz/corpus/flatten_layers`, `fuzz/corpus/rootfs_tarball`): GNU long names, PAX headers,
//! hardlinks, whiteouts and opaque directories, unsafe names, `--strip-components`. The
//! generated cases are in `fuzz_corpus.rs`.

#[allow(dead_code)]
#[path = "../../../fuzz/src/check.rs"]
mod check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

#[test]
fn every_flatten_layers_seed_keeps_the_invariant() {
    let mut accepted = 0;
    for (path, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "flatten_layers") {
        let ok = check::check_layers(&check::split_layers(&data));
        eprintln!("{path}: {}", if ok { "accepted" } else { "refused" });
        accepted += usize::from(ok);
    }
    assert!(accepted >= 5, "only {accepted} seeds were accepted");
}

#[test]
fn every_rootfs_tarball_seed_keeps_the_invariant() {
    let mut accepted = 0;
    for (path, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "rootfs_tarball") {
        let ok = check::check_rootfs_tarball(&data);
        eprintln!("{path}: {}", if ok { "accepted" } else { "refused" });
        accepted += usize::from(ok);
    }
    assert!(accepted >= 5, "only {accepted} seeds were accepted");
}
