//! `tarball:` against its oracle: GNU `tar -xp --xattrs` of the same tarball, run as root,
//! compared tree to tree with our output (extracted by bsdtar and GNU tar), for every
//! compression, with `--strip-components` and `--subdir`, and on a real Debian minbase.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use wslbox_rootfs::PathMap;
use wslbox_source::SourceKind;
use wslbox_test::oracle::{self, Scratch};
use wslbox_test::tool;
use wslbox_test::tree_builder::crafted_tree;

/// `tar -c` of `dir` (its contents, with `./`) as GNU tar writes it, in POSIX format so
/// xattrs and long names are kept; `compress` is a tar flag (`-z`, `-J`, `--zstd`, `-j`).
fn gnu_tar(dir: &Path, out: &Path, compress: Option<&str>) -> PathBuf {
    oracle::gnu_tar_create(dir, out, compress).unwrap()
}

fn check_against_tar(tarball: &Path, strip: Option<u32>, paths: PathMap, scratch: &Scratch) {
    let oracle = oracle::tar_extract_tree(tarball, &scratch.path("oracle"), strip).unwrap();
    let mut opts = common::file_options(&scratch.path("cache"));
    opts.paths = paths;
    let ours = scratch.path("ours.tar");
    let spec = format!("tarball:{}", tarball.display());
    let flattened = common::export_raw(&spec, &opts, &ours).unwrap();
    assert_eq!(flattened.info.kind, SourceKind::Tarball);
    let sha = flattened.info.sha256.expect("sha256 of the tarball");
    let expected = tool::run(
        Command::new("sha256sum").arg(tarball),
        "sha256sum",
        "coreutils",
    )
    .unwrap();
    assert_eq!(
        sha.hex(),
        &expected[..64],
        "the recorded sha256 is the file's"
    );
    assert!(!flattened.info.checksum_verified, "no checksum was given");
    oracle::assert_output_matches("GNU tar -xp", &oracle, &ours, &scratch.path("check"));
}

#[test]
fn crafted_tree_in_every_compression_matches_gnu_tar() {
    let scratch = Scratch::new().unwrap();
    let tree = crafted_tree(&scratch.path("tree")).expect("crafted tree (as root)");
    for (name, flag) in [
        ("plain.tar", None),
        ("gz.tar.gz", Some("-z")),
        ("xz.tar.xz", Some("-J")),
        ("zst.tar.zst", Some("--zstd")),
        ("bz2.tar.bz2", Some("-j")),
    ] {
        let tarball = gnu_tar(&tree, &scratch.path(name), flag);
        let run = Scratch::new().unwrap();
        check_against_tar(&tarball, None, PathMap::default(), &run);
    }
}

#[test]
fn strip_components_and_subdir_match_gnu_tar_strip_components() {
    let scratch = Scratch::new().unwrap();
    // Arch's bootstrap tarball keeps its root in `root.x86_64/`.
    let parent = scratch.path("parent");
    crafted_tree(&parent.join("root.x86_64")).expect("crafted tree (as root)");
    let tarball = gnu_tar(&parent, &scratch.path("bootstrap.tar.gz"), Some("-z"));
    // `./root.x86_64/…`: GNU tar counts `.` as a component, so the root is two levels down.
    check_against_tar(
        &tarball,
        Some(2),
        PathMap::strip_components(2),
        &Scratch::new().unwrap(),
    );
    check_against_tar(
        &tarball,
        Some(2),
        PathMap::subdir("root.x86_64").unwrap(),
        &Scratch::new().unwrap(),
    );
}

#[test]
fn debian_minbase_tarball_matches_gnu_tar_and_knows_its_platform() {
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap fixture");
    let scratch = Scratch::new().unwrap();
    let tarball = scratch.path("minbase.tar.xz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "xz -T0 -1 -c {} > {}",
            minbase.display(),
            tarball.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    check_against_tar(&tarball, None, PathMap::default(), &scratch);
    let flattened = common::flatten_spec(
        &format!("tarball:{}", tarball.display()),
        &common::file_options(&scratch.path("cache2")),
        &Default::default(),
    )
    .unwrap();
    let platform = wslbox_rootfs::detect_platform(&flattened.tree).expect("ELF /bin/sh");
    assert_eq!(platform.os, "linux");
    assert_eq!(
        platform.architecture,
        match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        }
    );
}
