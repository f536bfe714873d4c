//! Metadata preserved exactly as umoci extracts it: permission bits, numeric ids (also above
//! 2097151), mtimes, symlinks, devices, fifos and xattrs (binary, `security.capability`).

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer};

#[test]
fn permission_bits_with_setuid_setgid_and_sticky() {
    let layer = Layer::new()
        .with(Entry::file("suid", "s").mode(0o4755))
        .with(Entry::file("sgid", "g").mode(0o2711))
        .with(Entry::dir("tmp").mode(0o1777))
        .with(Entry::file("none", "n").mode(0o000))
        .with(Entry::dir("sgid-dir").mode(0o2775).owner(0, 50))
        .with(Entry::file("all", "a").mode(0o7777).owner(1000, 1000))
        .finish();
    check(vec![layer]);
}

#[test]
fn uid_and_gid_above_2097151_in_base256_and_pax() {
    let layer = Layer::new()
        .with(Entry::file("base256", "b").owner(3_000_000, 4_000_000))
        .with(
            Entry::file("pax", "p")
                .owner(100_000_000, 2_097_152)
                .pax_ids(),
        )
        .with(Entry::dir("bigdir").owner(2_097_151, 4_294_967_294))
        .finish();
    check(vec![layer]);
}

#[test]
fn mtimes_including_pax_fractions() {
    let layer = Layer::new()
        .with(Entry::file("old", "o").mtime(0))
        .with(Entry::file("recent", "r").mtime(1_700_000_000))
        .with(Entry::file("fraction", "f").pax("mtime", "1700000000.123456789"))
        .finish();
    check(vec![layer]);
}

#[test]
fn symlinks_are_kept_verbatim() {
    let layer = Layer::new()
        .with(Entry::symlink("abs", "/etc/passwd"))
        .with(Entry::symlink("rel", "../../../escapes"))
        .with(Entry::symlink("dangling", "nowhere/at/all"))
        .with(Entry::symlink("dots", "./a//b/./c/"))
        .with(Entry::symlink("owned", "x").owner(12, 34))
        .with(Entry::symlink("long", "t".repeat(300)))
        .finish();
    check(vec![layer]);
}

#[test]
fn character_and_block_devices_and_fifos() {
    let layer = Layer::new()
        .with(Entry::dir("dev"))
        .with(Entry::char_dev("dev/null", 1, 3))
        .with(
            Entry::char_dev("dev/big-minor", 4, 300)
                .mode(0o620)
                .owner(0, 5),
        )
        .with(Entry::block_dev("dev/sda", 8, 0))
        .with(Entry::fifo("dev/initctl").mode(0o600))
        .finish();
    check(vec![layer]);
}

#[test]
fn xattrs_with_binary_values_and_security_capability() {
    // cap_net_raw+ep, as `setcap cap_net_raw+ep` writes it (VFS_CAP_REVISION_2).
    let cap: &[u8] = &[
        0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let layer = Layer::new()
        .with(
            Entry::file("ping", "elf")
                .mode(0o755)
                .xattr("security.capability", cap),
        )
        .with(
            Entry::file("binary", "b")
                .xattr("user.bin", [0u8, 1, 2, 255, 0])
                .xattr("user.empty", ""),
        )
        .with(
            Entry::dir("d")
                .xattr("trusted.overlay.x", "y")
                .xattr("user.dir", "attr"),
        )
        .with(Entry::file("d/f", "f"))
        .finish();
    check(vec![layer]);
}

#[test]
fn directory_entry_over_existing_directory_updates_metadata_and_keeps_children() {
    let lower = Layer::new()
        .with(Entry::dir("d").mode(0o755).xattr("user.old", "1"))
        .with(Entry::file("d/child", "c"))
        .finish();
    let upper = Layer::new()
        .with(
            Entry::dir("d")
                .mode(0o700)
                .owner(9, 9)
                .xattr("user.new", "2"),
        )
        .finish();
    check(vec![lower, upper]);
}

#[test]
fn implicit_parent_directories_are_created() {
    let layer = Layer::new()
        .with(Entry::file("a/b/c/file", "deep"))
        .with(Entry::dir("x/y").mode(0o700))
        .finish();
    check(vec![layer]);
}

#[test]
fn blank_numeric_header_fields_read_as_zero() {
    // Some tar writers leave uid, gid and mtime as NULs; Go (umoci) reads them as 0.
    let mut layer = Layer::new()
        .with(Entry::file("blank", "x").owner(5, 5))
        .finish();
    layer[108..124].fill(0);
    layer[136..148].fill(0);
    layer[148..156].fill(b' ');
    let sum: u32 = layer[..512].iter().map(|&b| u32::from(b)).sum();
    layer[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    check(vec![layer]);
}
