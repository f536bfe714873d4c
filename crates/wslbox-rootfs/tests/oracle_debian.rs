//! A realistic image: a real Debian bookworm minbase rootfs (debootstrap, cached under
//! `target/wslbox-fixtures`), plus a layer GNU tar made from a real directory (hardlinks,
//! `setcap cap_net_raw+ep`), plus a layer of deletions, overwrites and links through the
//! merged-/usr symlinks. Compared with umoci.

mod common;

use std::process::Command;

use common::check_with;
use wslbox_test::layers::{Entry, Layer, debian_minbase_tar};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;

fn run(cmd: &mut Command) {
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(status.success(), "{cmd:?} failed: {status}");
}

/// A layer made by GNU tar from a real directory: a setcap binary, hardlinks, a setuid file.
fn tools_layer(scratch: &Scratch) -> Vec<u8> {
    let root = scratch.path("tools-root");
    let bin = root.join("usr/local/bin");
    fs_err::create_dir_all(&bin).unwrap();
    fs_err::copy("/usr/bin/ls", bin.join("pingish")).unwrap();
    run(Command::new("setcap")
        .arg("cap_net_raw+ep")
        .arg(bin.join("pingish")));
    fs_err::hard_link(bin.join("pingish"), bin.join("pingish6")).unwrap();
    fs_err::write(bin.join("suid-tool"), "#!/bin/sh\n").unwrap();
    run(Command::new("chmod").arg("4755").arg(bin.join("suid-tool")));
    run(Command::new("chown")
        .arg("1000:1000")
        .arg(bin.join("suid-tool")));
    let tar = scratch.path("tools.tar");
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg("."));
    fs_err::read(tar).unwrap()
}

#[test]
fn debian_minbase_with_deletions_hardlinks_and_setcap() {
    let base = debian_minbase_tar()
        .expect("debootstrap --variant=minbase bookworm (see scripts/install-test-deps)");
    let scratch = Scratch::new().unwrap();
    let tools = tools_layer(&scratch);
    let changes = Layer::new()
        .with(Entry::opaque("usr/share/doc"))
        .with(Entry::file("usr/share/doc/README", "docs removed"))
        .with(Entry::whiteout("usr/share/man"))
        .with(Entry::whiteout("etc/motd"))
        // Through the merged-/usr symlink /bin -> usr/bin.
        .with(Entry::whiteout("bin/rmdir"))
        .with(Entry::file("bin/hello", "#!/bin/sh\necho hello\n").mode(0o755))
        // Links to lower-layer files, then their targets overwritten and deleted.
        .with(Entry::hardlink("usr/local/bin/dpkg-link", "usr/bin/dpkg"))
        .with(Entry::hardlink("usr/local/bin/cat-link", "usr/bin/cat"))
        .with(Entry::hardlink(
            "usr/local/bin/ping-again",
            "usr/local/bin/pingish",
        ))
        .finish();
    let overwrite = Layer::new()
        .with(Entry::file("usr/bin/dpkg", "not dpkg any more").mode(0o755))
        .with(Entry::whiteout("usr/bin/cat"))
        .with(Entry::file("etc/hostname", "wslbox\n"))
        .finish();
    check_with(vec![
        (TarSource::File(base), Compression::Gzip),
        (TarSource::Bytes(tools), Compression::Gzip),
        (TarSource::Bytes(changes), Compression::Zstd),
        (TarSource::Bytes(overwrite), Compression::None),
    ]);
}
