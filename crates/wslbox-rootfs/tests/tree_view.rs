//! The `TreeView` that WSL customization reads, and the overlays it writes back, on a real
//! flattened tree, checked through a bsdtar extraction of the output.

mod common;

use common::{check_structure, flatten, layout};
use wslbox_rootfs::{
    FlatTree, FlattenError, NoReporter, NodeKind, OutputDest, OutputFormat, Overlay,
    OverlayContent, TreeView,
};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::{self, Scratch};

fn tree(scratch: &Scratch) -> FlatTree {
    let l1 = Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/passwd", "root:x:0:0::/root:/bin/sh\n").mode(0o644))
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/lib"))
        .with(Entry::file("usr/lib/os-release", "ID=debian\n"))
        .with(Entry::symlink("lib", "usr/lib"))
        .with(Entry::symlink("etc/os-release", "../usr/lib/os-release"))
        .with(Entry::hardlink("etc/passwd-link", "etc/passwd"))
        .finish();
    let l2 = Layer::new()
        .with(Entry::file("etc/passwd", "root:x:0:0::/root:/bin/bash\n"))
        .finish();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[
            (TarSource::Bytes(l1), Compression::Gzip),
            (TarSource::Bytes(l2), Compression::Zstd),
        ],
    );
    flatten(&l, &image, &scratch.path("spool")).unwrap()
}

fn overlay(path: &str, content: OverlayContent, mode: u32) -> Overlay {
    Overlay {
        path: path.into(),
        content,
        mode,
        uid: 0,
        gid: 0,
        mtime: 1_700_000_000,
    }
}

#[test]
fn tree_view_reads_files_links_and_directories() {
    let scratch = Scratch::new().unwrap();
    let t = tree(&scratch);
    let passwd = t.lookup(b"etc/passwd").unwrap();
    assert_eq!(
        (passwd.kind, passwd.mode, passwd.size),
        (NodeKind::File, 0o644, 28)
    );
    assert_eq!(
        t.read(b"etc/passwd").unwrap().unwrap(),
        b"root:x:0:0::/root:/bin/bash\n"
    );
    // The hardlink kept the lower layer's content when its target name was overwritten.
    assert_eq!(
        t.read(b"/etc/passwd-link").unwrap().unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    let lib = t.lookup(b"lib").unwrap();
    assert_eq!(
        (lib.kind, lib.link_target.as_deref()),
        (NodeKind::Symlink, Some(&b"usr/lib"[..]))
    );
    assert_eq!(
        t.read(b"lib").unwrap(),
        None,
        "a symlink is not read through"
    );
    assert_eq!(t.read(b"lib/os-release").unwrap().unwrap(), b"ID=debian\n");
    assert_eq!(t.lookup(b"etc/os-release").unwrap().kind, NodeKind::Symlink);
    assert_eq!(
        t.children(b""),
        vec![b"etc".to_vec(), b"lib".to_vec(), b"usr".to_vec()]
    );
    assert_eq!(t.children(b"lib"), vec![b"os-release".to_vec()]);
    assert_eq!(t.lookup(b"").unwrap().kind, NodeKind::Dir);
    assert!(t.lookup(b"etc/missing").is_none());
}

#[test]
fn overlays_add_replace_and_copy_files_in_the_output() {
    let scratch = Scratch::new().unwrap();
    let mut t = tree(&scratch);
    t.apply_overlays(vec![
        overlay(
            "etc/wsl.conf",
            OverlayContent::File(b"[boot]\nsystemd=true\n".to_vec()),
            0o644,
        ),
        overlay(
            "/etc/passwd",
            OverlayContent::File(b"root:x:0:0::/root:/bin/zsh\n".to_vec()),
            0o600,
        ),
        overlay("etc", OverlayContent::Dir, 0o750),
        overlay("etc/skel", OverlayContent::Dir, 0o755),
        overlay(
            "etc/skel/passwd",
            OverlayContent::CopyOf(b"etc/passwd-link".to_vec()),
            0o640,
        ),
        overlay(
            "etc/localtime",
            OverlayContent::Symlink(b"/usr/share/zoneinfo/UTC".to_vec()),
            0o777,
        ),
        overlay(
            "lib/via-symlink",
            OverlayContent::File(b"x".to_vec()),
            0o644,
        ),
    ])
    .unwrap();
    assert_eq!(
        t.read(b"etc/wsl.conf").unwrap().unwrap(),
        b"[boot]\nsystemd=true\n"
    );

    let out = scratch.path("out.tar");
    wslbox_rootfs::write_output(
        &t,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    check_structure(&out);
    let dir = scratch.path("x");
    oracle::bsdtar_extract(&out, &dir).unwrap();
    let snap = oracle::snapshot(&dir).unwrap();
    let get = |p: &str| {
        snap.paths
            .get(p.as_bytes())
            .unwrap_or_else(|| panic!("{p} missing"))
    };
    assert_eq!(
        fs_err::read(dir.join("etc/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/zsh\n"
    );
    assert_eq!(get("etc/passwd").mode, 0o600);
    assert!(
        get("etc/passwd").link_group.is_empty(),
        "a replaced file leaves its link group"
    );
    assert_eq!(get("etc").mode, 0o750);
    assert_eq!(
        get("etc/os-release").kind,
        "symlink",
        "a directory overlay keeps the children"
    );
    assert_eq!(
        fs_err::read(dir.join("etc/skel/passwd")).unwrap(),
        b"root:x:0:0::/root:/bin/sh\n"
    );
    assert_eq!(get("etc/skel/passwd").mode, 0o640);
    assert_eq!(
        get("etc/localtime").link_target.as_deref(),
        Some(&b"/usr/share/zoneinfo/UTC"[..])
    );
    assert_eq!(fs_err::read(dir.join("usr/lib/via-symlink")).unwrap(), b"x");
}

#[test]
fn overlay_without_parent_is_an_error_naming_the_path() {
    let scratch = Scratch::new().unwrap();
    let mut t = tree(&scratch);
    let err = t
        .apply_overlays(vec![overlay(
            "nope/file",
            OverlayContent::File(b"x".to_vec()),
            0o644,
        )])
        .unwrap_err();
    assert!(matches!(err, FlattenError::Overlay { .. }), "{err:?}");
    assert!(err.to_string().contains("/nope/file"), "{err}");
}
