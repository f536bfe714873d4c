//! The `squashfs` fuzz target's invariant (`fuzz/src/squashfs.rs`) on stable: over the
//! committed seed corpus, and over bit flips, byte overwrites and truncations of real
//! `mksquashfs` images. Every case must either fail with an error or give a tree whose output
//! tar is safe (relative names without `..`, no duplicates, directories before their contents,
//! hardlinks after their targets) — and never panic.

#[path = "../../../fuzz/src/squashfs.rs"]
mod check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;

use wslbox_test::layers::Entry;
use wslbox_test::oracle::Scratch;
use wslbox_test::squashfs::{self, Compressor};
use wslbox_test::tree_builder::TreeBuilder;

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A small image with every kind of inode, hardlinks, xattrs and a fragment-sharing tail.
fn seed_image(scratch: &Scratch, compressor: Compressor) -> PathBuf {
    let mut tree = TreeBuilder::create(scratch.path(format!("tree-{compressor}"))).unwrap();
    tree.add_all(&[
        Entry::dir("etc").xattr("user.dir", "d"),
        Entry::file("etc/a", "alpha\n")
            .xattr("user.k", "v")
            .xattr("trusted.t", "x"),
        Entry::hardlink("etc/a-link", "etc/a"),
        Entry::dir("d/e"),
        Entry::hardlink("d/e/a-link2", "etc/a"),
        Entry::file("d/big", "0123456789".repeat(20_000)).mode(0o4755),
        Entry::symlink("d/s", "../etc/a"),
        Entry::char_dev("d/null", 1, 3),
        Entry::fifo("d/fifo"),
        Entry::file("z", "").owner(1000, 1000),
    ])
    .unwrap();
    let root = tree.finish().unwrap();
    let image = scratch.path(format!("seed-{compressor}.squashfs"));
    squashfs::mksquashfs(&root, &image, compressor).unwrap();
    image
}

/// Flips, overwrites and cuts within the image's used bytes (mksquashfs pads the file to
/// 4 KiB, and nothing reads the padding).
fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    let used = u64::from_le_bytes(bytes[40..48].try_into().unwrap()) as usize;
    for _ in 0..1 + rng.below(4) {
        let end = used.min(bytes.len());
        if end <= 4 {
            break;
        }
        // Mostly past the superblock, where the tables are; sometimes in it.
        let i = if rng.below(8) == 0 {
            rng.below(96.min(end))
        } else {
            rng.below(end)
        };
        match rng.below(5) {
            0 => bytes[i] = rng.next() as u8,
            1 => bytes.truncate(i.max(4)),
            _ => bytes[i] ^= 1 << rng.below(8),
        }
    }
    bytes
}

#[test]
fn corrupted_images_never_panic_and_never_escape_the_root() {
    let scratch = Scratch::new().unwrap();
    let seeds: Vec<Vec<u8>> = [
        Compressor::Gzip,
        Compressor::Zstd,
        Compressor::Lzo,
        Compressor::Lzma,
    ]
    .into_iter()
    .map(|c| fs_err::read(seed_image(&scratch, c)).unwrap())
    .collect();
    for seed in &seeds {
        let path = scratch.path("case.squashfs");
        fs_err::write(&path, seed).unwrap();
        assert!(
            check::check_image_file(&path, &scratch.path("work")),
            "the seed reads"
        );
    }
    let mut rng = Rng(0x5eed_5a5f_0000_0001);
    let (mut accepted, cases) = (0, 3000);
    for case in 0..cases {
        let seed = &seeds[case % seeds.len()];
        let bytes = mutate(&mut rng, seed.clone());
        let path = scratch.path("case.squashfs");
        fs_err::write(&path, &bytes).unwrap();
        let work = scratch.path("work");
        match catch_unwind(AssertUnwindSafe(|| check::check_image_file(&path, &work))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(panic) => {
                let kept = scratch
                    .dir
                    .path()
                    .parent()
                    .unwrap()
                    .join(format!("squashfs-fuzz-{case}"));
                fs_err::write(&kept, &bytes).unwrap();
                std::panic::resume_unwind(Box::new(format!(
                    "case {case} panicked (image kept at {}): {:?}",
                    kept.display(),
                    panic
                        .downcast_ref::<String>()
                        .map(String::as_str)
                        .or(panic.downcast_ref::<&str>().copied())
                )));
            }
        }
    }
    eprintln!("{accepted} of {cases} corrupted images were accepted");
    // Flips in file bodies, names, modes and unused fields are harmless: some cases (about
    // 5%) must get through, or the corpus tests only the error paths.
    assert!(
        accepted * 40 > cases,
        "only {accepted} of {cases} cases were accepted"
    );
}

#[test]
fn every_seed_in_the_corpus_keeps_the_invariant() {
    let mut accepted = 0;
    for (path, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "squashfs") {
        let ok = check::check_image(&data);
        eprintln!("{path}: {}", if ok { "accepted" } else { "refused" });
        accepted += usize::from(ok);
    }
    assert!(accepted >= 5, "only {accepted} seeds were accepted");
}

/// Found by the seed corpus: `mksquashfs` of an empty directory has an empty directory table,
/// and the root's (empty) listing was looked up in it and refused.
#[test]
fn image_of_an_empty_directory_flattens_to_an_empty_root() {
    let image = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fuzz/corpus/squashfs/empty-xz.squashfs"
    );
    let work = tempfile::tempdir().unwrap();
    assert!(check::check_image_file(image.as_ref(), work.path()));
}
