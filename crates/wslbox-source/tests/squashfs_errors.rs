//! `squashfs:` inputs that cannot be read, and what the user is told: files that are not
//! SquashFS, truncated and corrupt images, a `--subdir` the image lacks, and Ctrl-C.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use common::{Recorder, flatten_squashfs as flatten, flatten_with};
use wslbox_rootfs::PathMap;
use wslbox_source::{OpenOptions, Reporter, SourceError, SourceSpec};
use wslbox_test::layers::Entry;
use wslbox_test::oracle::Scratch;
use wslbox_test::squashfs::{self, Compressor};
use wslbox_test::tree_builder::TreeBuilder;

fn open_error(file: &Path) -> String {
    let reporter: Arc<dyn Reporter> = Arc::new(Recorder::default());
    let opts = OpenOptions::new(file.with_extension("cache"));
    let spec = SourceSpec::Squashfs(file.to_owned());
    match wslbox_source::open(&spec, &opts, &reporter) {
        Ok(_) => panic!("{} opened as a SquashFS image", file.display()),
        Err(e) => e.to_string(),
    }
}

/// A small image: a few directories and files, one of them 1 MiB of compressible text.
fn small_image(scratch: &Scratch, compressor: Compressor) -> PathBuf {
    let mut tree = TreeBuilder::create(scratch.path("tree")).unwrap();
    let text: String = (0..40_000).map(|i| format!("line {i}\n")).collect();
    tree.add_all(&[
        Entry::dir("etc"),
        Entry::file("etc/hostname", "small\n"),
        Entry::file("big.txt", &text),
        Entry::dir("usr/bin"),
        Entry::file("usr/bin/tool", "#!/bin/sh\n").mode(0o755),
    ])
    .unwrap();
    let root = tree.finish().unwrap();
    let image = scratch.path(format!("small-{compressor}.squashfs"));
    squashfs::mksquashfs(&root, &image, compressor).unwrap();
    image
}

#[test]
fn a_gzip_file_is_not_a_squashfs_image() {
    let scratch = Scratch::new().unwrap();
    let file = scratch.path("rootfs.tar.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(b"not a squashfs").unwrap();
    fs_err::write(&file, gz.finish().unwrap()).unwrap();
    let err = open_error(&file);
    assert!(err.contains("not a SquashFS image"), "{err}");
    assert!(err.contains("1f 8b 08"), "shows the magic: {err}");
    assert!(err.contains("tarball:"), "suggests tarball: {err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
}

#[test]
fn a_text_file_is_not_a_squashfs_image() {
    let scratch = Scratch::new().unwrap();
    let file = scratch.path("notes.txt");
    fs_err::write(&file, "hello world").unwrap();
    let err = open_error(&file);
    assert!(err.contains("not a SquashFS image"), "{err}");
    assert!(err.contains("68 65 6c 6c"), "shows the magic: {err}");
    assert!(
        !err.contains("tarball:"),
        "nothing suggests a tarball: {err}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let scratch = Scratch::new().unwrap();
    let file = scratch.path("nope.sfs");
    let err = open_error(&file);
    assert!(err.contains("SquashFS image"), "{err}");
    assert!(err.contains(&file.display().to_string()), "{err}");
}

#[test]
fn a_truncated_image_names_the_file() {
    let scratch = Scratch::new().unwrap();
    let image = small_image(&scratch, Compressor::Gzip);
    let bytes = fs_err::read(&image).unwrap();
    let cut = scratch.path("cut.squashfs");
    fs_err::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = match flatten(&cut, &scratch.path("work")) {
        Ok(_) => panic!("a truncated image flattened"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains(&format!("SquashFS image {}", cut.display())),
        "{err}"
    );
    assert!(err.contains("truncated"), "{err}");
}

/// A flipped byte in the middle of `big.txt`'s first compressed block (data starts right
/// after the 96-byte superblock).
#[test]
fn a_corrupt_data_block_names_the_file() {
    let scratch = Scratch::new().unwrap();
    let image = small_image(&scratch, Compressor::Gzip);
    let mut bytes = fs_err::read(&image).unwrap();
    for b in &mut bytes[300..310] {
        *b ^= 0x55;
    }
    let bad = scratch.path("bad.squashfs");
    fs_err::write(&bad, &bytes).unwrap();
    let err = match flatten(&bad, &scratch.path("work")) {
        Ok(_) => panic!("a corrupt image flattened"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains(&bad.display().to_string()), "{err}");
    assert!(err.contains("`/big.txt`"), "names the entry: {err}");
    assert!(err.contains("offset 96"), "names the block: {err}");
}

#[test]
fn a_missing_subdir_is_a_clear_error() {
    let scratch = Scratch::new().unwrap();
    let image = small_image(&scratch, Compressor::Xz);
    let work = scratch.path("work");
    let err = |subdir: &str| {
        let paths = PathMap::subdir(subdir).unwrap();
        match flatten_with(&image, paths, &work, Arc::default()) {
            Ok(_) => panic!("--subdir {subdir} flattened"),
            Err(e @ SourceError::NoSubdir { .. }) => e.to_string(),
            Err(other) => panic!("--subdir {subdir}: unexpected error {other}"),
        }
    };
    let missing = err("usr/lib");
    assert!(missing.contains("no directory `/usr/lib`"), "{missing}");
    assert!(missing.contains("no `lib` in `/usr`"), "{missing}");
    assert!(missing.contains("--subdir"), "{missing}");
    let file = err("etc/hostname");
    assert!(
        file.contains("`/etc/hostname` is not a directory"),
        "{file}"
    );
    let deeper = err("etc/hostname/x");
    assert!(
        deeper.contains("`/etc/hostname` is not a directory"),
        "{deeper}"
    );
}

#[test]
fn cancellation_interrupts_flattening() {
    let scratch = Scratch::new().unwrap();
    let image = small_image(&scratch, Compressor::Lz4);
    let reporter = Arc::new(Recorder::cancelling_after(2));
    let result = flatten_with(
        &image,
        PathMap::default(),
        &scratch.path("work"),
        reporter.clone(),
    );
    match result {
        Err(e) => assert!(e.is_interrupted(), "{e}"),
        Ok(_) => panic!("flattening went on after cancellation"),
    }
    assert_eq!(reporter.polls(), 3, "stops at the first poll that says so");
}
