//! The crafted tree, the SquashFS fixtures and the unsquashfs / GNU tar / our-output oracles,
//! checked against each other: each oracle must reproduce the source tree exactly, so a
//! difference in a wslbox test points at wslbox, not at the harness.

use std::process::Command;

use wslbox_test::oracle::{self, Scratch, Snapshot};
use wslbox_test::squashfs::{self, Compressor};
use wslbox_test::tool;
use wslbox_test::tree_builder::{TreeBuilder, crafted_tree, long_name};

use wslbox_test::layers::Entry;

fn crafted(scratch: &Scratch) -> (std::path::PathBuf, Snapshot) {
    let root = crafted_tree(&scratch.path("tree")).expect("crafted tree (as root)");
    let snap = oracle::snapshot(&root).unwrap();
    (root, snap)
}

fn info<'a>(snap: &'a Snapshot, path: &[u8]) -> &'a oracle::PathInfo {
    snap.paths
        .get(path)
        .unwrap_or_else(|| panic!("{} missing", String::from_utf8_lossy(path)))
}

#[test]
fn crafted_tree_has_every_edge_case() {
    let scratch = Scratch::new().unwrap();
    let (_, snap) = crafted(&scratch);
    assert_eq!(info(&snap, b"dev/null").kind, "char");
    assert_eq!(info(&snap, b"dev/null").rdev, Some((1, 3)));
    assert_eq!(info(&snap, b"dev/big").rdev, Some((259, 131_072)));
    assert_eq!(info(&snap, b"dev/sda").kind, "block");
    assert_eq!(info(&snap, b"run/fifo").kind, "fifo");
    assert_eq!(info(&snap, b"usr/bin/tool").link_group.len(), 3);
    assert_eq!(info(&snap, b"empty-hard-b").link_group.len(), 2);
    let caps = &info(&snap, b"usr/bin/pinglike").xattrs;
    assert!(
        caps.contains_key(b"security.capability".as_slice()),
        "{caps:?}"
    );
    let xattrs = &info(&snap, b"etc/with-xattrs").xattrs;
    assert_eq!(xattrs[b"trusted.wslbox".as_slice()], b"trusted value");
    assert_eq!(xattrs[b"user.wslbox.binary".as_slice()], [0, 1, 2, 0xff]);
    assert!(!info(&snap, b"etc/xattr-dir").xattrs.is_empty());
    assert_eq!(info(&snap, b"usr/bin/suid").mode, 0o4755);
    assert_eq!(info(&snap, b"usr/bin/sgid").mode, 0o2755);
    let both = info(&snap, b"usr/bin/both");
    assert_eq!((both.mode, both.uid, both.gid), (0o6755, 1000, 1000));
    assert_eq!(info(&snap, b"tmp").mode, 0o1777);
    assert_eq!(info(&snap, b"empty-private").mode, 0o700);
    assert_eq!(info(&snap, b"ids/huge").uid, 3_000_000);
    assert_eq!(info(&snap, b"times/epoch").mtime, Some((0, 0)));
    assert_eq!(
        info(&snap, b"times/four-billion").mtime,
        Some((4_000_000_000, 0))
    );
    assert_eq!(
        info(&snap, b"dangling").link_target.as_deref(),
        Some(b"no/such/target".as_slice())
    );
    assert!(
        info(&snap, b"long-target")
            .link_target
            .as_ref()
            .unwrap()
            .len()
            > 300
    );
    assert!(
        snap.paths
            .contains_key(format!("usr/{}", long_name()).as_bytes())
    );
    assert!(snap.paths.keys().any(|p| p.len() > 400));
    assert!(snap.paths.contains_key(b"caf\xe9".as_slice()));
    assert!(snap.paths.contains_key(b"dir-\xff\xfe/inside".as_slice()));
}

#[test]
fn unsquashfs_reproduces_the_crafted_tree_with_every_compressor() {
    let scratch = Scratch::new().unwrap();
    let (root, source) = crafted(&scratch);
    for comp in Compressor::ALL {
        let image = scratch.path(format!("crafted-{comp}.squashfs"));
        squashfs::mksquashfs(&root, &image, comp).unwrap();
        assert_eq!(squashfs::compressor_of(&image).unwrap(), comp.name());
        let tree = oracle::unsquashfs_tree(&image, &scratch.path(format!("un-{comp}"))).unwrap();
        oracle::assert_same_as(
            "the source tree",
            &source,
            &tree,
            &format!("unsquashfs ({comp})"),
        );
    }
}

#[test]
fn unsquashfs_gives_dest_the_image_root_metadata() {
    let scratch = Scratch::new().unwrap();
    let mut tree = TreeBuilder::create(scratch.path("tree")).unwrap();
    tree.add(&Entry::dir("").mode(0o750).owner(1234, 4321))
        .unwrap()
        .add(&Entry::file("f", "x"))
        .unwrap();
    let root = tree.finish().unwrap();
    let image = scratch.path("root.squashfs");
    squashfs::mksquashfs(&root, &image, Compressor::Gzip).unwrap();
    let snap = oracle::unsquashfs_tree(&image, &scratch.path("un")).unwrap();
    let top = info(&snap, b"");
    assert_eq!((top.mode, top.uid, top.gid), (0o750, 1234, 4321));
    assert!(
        oracle::unsquashfs_tree(&image, &scratch.path("un")).is_err(),
        "an existing destination is refused"
    );
}

/// `tar -a` picks the compressor from the suffix, as a user making a rootfs tarball would.
fn gnu_tar_create(dir: &std::path::Path, out: &std::path::Path, member: &str) {
    tool::run(
        Command::new("tar")
            .args([
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-a",
                "-C",
            ])
            .arg(dir)
            .arg("-cf")
            .arg(out)
            .arg(member),
        "GNU tar -c",
        "tar",
    )
    .unwrap();
}

#[test]
fn tar_extract_tree_reads_every_compression_and_strips_components() {
    let scratch = Scratch::new().unwrap();
    let (root, source) = crafted(&scratch);
    for suffix in ["tar", "tar.gz", "tar.xz", "tar.zst", "tar.bz2"] {
        let tarball = scratch.path(format!("rootfs.{suffix}"));
        gnu_tar_create(&root, &tarball, ".");
        let tree =
            oracle::tar_extract_tree(&tarball, &scratch.path(format!("x-{suffix}")), None).unwrap();
        oracle::assert_same_as(
            "the source tree",
            &source,
            &tree,
            &format!("tar -x .{suffix}"),
        );
    }
    // A tarball whose members sit under `tree/`: stripped, the tree is the same again (the
    // stripped `tree/` member itself is skipped, so DEST keeps create_dir_all's 0755 root).
    let nested = scratch.path("nested.tar.gz");
    gnu_tar_create(&scratch.path(""), &nested, "tree");
    let tree = oracle::tar_extract_tree(&nested, &scratch.path("x-strip"), Some(1)).unwrap();
    oracle::assert_same_as(
        "the source tree",
        &source,
        &tree,
        "tar --strip-components=1",
    );
}

/// Our output stands in as a PAX tar from bsdtar: like wslbox's writer (and unlike GNU tar) it
/// marks non-UTF-8 names `hdrcharset=BINARY`, which bsdtar needs to extract them.
#[test]
fn output_tree_extracts_a_tar_like_the_oracles_do() {
    let scratch = Scratch::new().unwrap();
    let (root, source) = crafted(&scratch);
    let tar = scratch.path("ours.tar");
    tool::run(
        Command::new("bsdtar")
            .args(["--format", "pax", "--xattrs", "--numeric-owner", "-C"])
            .arg(&root)
            .arg("-cf")
            .arg(&tar)
            .arg("."),
        "bsdtar -c",
        "libarchive-tools",
    )
    .unwrap();
    oracle::assert_output_matches("the source tree", &source, &tar, &scratch.path("out"));
}

#[test]
fn diff_names_each_changed_path() {
    let scratch = Scratch::new().unwrap();
    let (_, source) = crafted(&scratch);
    let mut changed = source.clone();
    let pinglike = changed
        .paths
        .get_mut(b"usr/bin/pinglike".as_slice())
        .unwrap();
    pinglike.xattrs.clear();
    changed.paths.remove(b"run/fifo".as_slice());
    let d = oracle::diff(&source, &changed);
    assert_eq!(d.len(), 2, "{d:#?}");
    assert!(
        d.iter().any(|l| l.starts_with("/usr/bin/pinglike:")),
        "{d:#?}"
    );
    assert!(
        d.iter().any(|l| l.starts_with("/run/fifo: missing")),
        "{d:#?}"
    );
    let panic = std::panic::catch_unwind(|| {
        oracle::assert_same_as("unsquashfs", &source, &changed, "ours");
    })
    .unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("2 difference(s) from unsquashfs"),
        "{message}"
    );
}

#[test]
fn debian_minbase_squashfs_matches_the_minbase_tarball() {
    let image = squashfs::debian_minbase_squashfs(Compressor::Xz)
        .expect("debootstrap minbase fixture as squashfs (see scripts/install-test-deps)");
    assert_eq!(squashfs::compressor_of(&image).unwrap(), "xz");
    let scratch = Scratch::new().unwrap();
    let from_squashfs = oracle::unsquashfs_tree(&image, &scratch.path("un")).unwrap();
    let tar = wslbox_test::layers::debian_minbase_tar().unwrap();
    let from_tar = oracle::tar_extract_tree(&tar, &scratch.path("tar"), None)
        .unwrap()
        .with_whole_second_mtimes();
    assert!(
        from_tar.paths.len() > 3000,
        "{} paths",
        from_tar.paths.len()
    );
    assert!(from_tar.paths.contains_key(b"usr/bin/dpkg".as_slice()));
    oracle::assert_same_as(
        "GNU tar of the minbase",
        &from_tar,
        &from_squashfs,
        "unsquashfs",
    );
}
