//! `squashfs:` against `unsquashfs` run as root: images made by `mksquashfs` from a crafted
//! tree (every edge case a rootfs reader must carry through, see
//! `wslbox_test::tree_builder::crafted_tree`, plus a sparse multi-MiB file and a socket) with
//! each compressor, and from a real Debian minbase. Our output tar, extracted by bsdtar and
//! GNU tar, must be the tree unsquashfs extracts — except for sockets, which a tar cannot
//! hold and which we skip with a warning (as GNU tar does).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use common::{Recorder, flatten_with, write_tar};
use wslbox_rootfs::PathMap;
use wslbox_test::oracle::{self, Scratch, Snapshot};
use wslbox_test::squashfs::{self, Compressor};
use wslbox_test::tool;
use wslbox_test::tree_builder::{TreeBuilder, crafted_tree};

/// The crafted tree, with a 6 MiB sparse file (holes and data blocks, one block straddling a
/// hole, a tail in a fragment) and a unix socket.
fn tree(scratch: &Scratch) -> PathBuf {
    let root = crafted_tree(&scratch.path("tree")).expect("crafted tree (as root)");
    let mut tree = TreeBuilder::create(&root).unwrap();
    let text: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    tree.sparse_file(
        "sparse.img",
        6 * 1024 * 1024 + 4321,
        &[
            (0, &b"head"[..]),
            (1024 * 1024 + 100, text.as_slice()),
            (6 * 1024 * 1024 + 4000, &b"tail in a fragment"[..]),
        ],
    )
    .unwrap();
    tree.socket("run/socket").unwrap();
    root
}

/// The oracle's tree without its sockets (checked to be there first).
fn without_sockets(mut snap: Snapshot, sockets: &[&[u8]]) -> Snapshot {
    for s in sockets {
        let info = snap
            .paths
            .remove(*s)
            .expect("unsquashfs extracts the socket");
        assert_eq!(info.kind, "socket");
    }
    snap
}

/// `sha256sum FILE`, the digest as `sha256:HEX`.
fn sha256sum(file: &Path) -> String {
    let out = tool::run(
        Command::new("sha256sum").arg(file),
        "sha256sum",
        "coreutils",
    )
    .unwrap();
    format!("sha256:{}", out.split_whitespace().next().unwrap())
}

fn matches_unsquashfs(compressor: Compressor) {
    let scratch = Scratch::new().unwrap();
    let root = tree(&scratch);
    let image = scratch.path(format!("crafted-{compressor}.squashfs"));
    squashfs::mksquashfs(&root, &image, compressor).unwrap();
    assert_eq!(squashfs::compressor_of(&image).unwrap(), compressor.name());

    let reporter = Arc::new(Recorder::default());
    let flattened = flatten_with(
        &image,
        PathMap::default(),
        &scratch.path("work"),
        reporter.clone(),
    )
    .unwrap_or_else(|e| panic!("flattening the {compressor} image: {e}"));
    let tar = scratch.path("ours.tar");
    write_tar(&flattened, &tar);

    let oracle = oracle::unsquashfs_tree(&image, &scratch.path("unsquashfs")).unwrap();
    let oracle = without_sockets(oracle, &[b"run/socket"]);
    oracle::assert_output_matches("unsquashfs", &oracle, &tar, &scratch.path("out"));

    let info = &flattened.info;
    assert_eq!(
        info.reference,
        format!(
            "squashfs:{}",
            std::path::absolute(&image).unwrap().display()
        )
    );
    assert_eq!(
        info.sha256.as_ref().map(ToString::to_string),
        Some(sha256sum(&image))
    );
    let warnings = reporter.warnings.lock().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("1 socket") && w.contains("/run/socket")),
        "{warnings:?}"
    );
}

#[test]
fn crafted_tree_gzip_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Gzip);
}

#[test]
fn crafted_tree_xz_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Xz);
}

#[test]
fn crafted_tree_zstd_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Zstd);
}

#[test]
fn crafted_tree_lz4_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Lz4);
}

#[test]
fn crafted_tree_lzo_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Lzo);
}

#[test]
fn crafted_tree_lzma_matches_unsquashfs() {
    matches_unsquashfs(Compressor::Lzma);
}

#[test]
fn debian_minbase_matches_unsquashfs() {
    let image = squashfs::debian_minbase_squashfs(Compressor::Xz).unwrap();
    let scratch = Scratch::new().unwrap();
    let flattened = flatten_with(
        &image,
        PathMap::default(),
        &scratch.path("work"),
        Arc::default(),
    )
    .unwrap();
    let tar = scratch.path("ours.tar");
    write_tar(&flattened, &tar);
    let oracle = oracle::unsquashfs_tree(&image, &scratch.path("unsquashfs")).unwrap();
    assert!(oracle.paths.len() > 5000, "a real rootfs");
    oracle::assert_output_matches("unsquashfs", &oracle, &tar, &scratch.path("out"));
}

/// `--subdir usr` against `unsquashfs -d DEST IMAGE usr`: DEST/usr becomes the root, with
/// the hardlink group `usr/bin/tool` = `usr/bin/tool-hard` = `usr/sbin/tool-hard2` intact.
#[test]
fn subdir_becomes_the_root() {
    let scratch = Scratch::new().unwrap();
    let root = tree(&scratch);
    let image = scratch.path("crafted.squashfs");
    squashfs::mksquashfs(&root, &image, Compressor::Zstd).unwrap();

    let paths = PathMap::subdir("/usr/").unwrap();
    let flattened = flatten_with(&image, paths, &scratch.path("work"), Arc::default()).unwrap();
    let tar = scratch.path("ours.tar");
    write_tar(&flattened, &tar);

    let dest = scratch.path("unsquashfs");
    tool::run(
        Command::new("unsquashfs")
            .args(["-no-progress", "-quiet", "-d"])
            .arg(&dest)
            .arg(&image)
            .arg("usr"),
        "unsquashfs IMAGE usr",
        "squashfs-tools",
    )
    .unwrap();
    let oracle = oracle::snapshot(&dest.join("usr")).unwrap();
    assert_eq!(oracle.paths[b"bin/tool".as_slice()].link_group.len(), 3);
    oracle::assert_output_matches("unsquashfs", &oracle, &tar, &scratch.path("out"));
}
