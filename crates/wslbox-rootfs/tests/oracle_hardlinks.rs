//! Hardlinks (image-spec layer.md "Hardlinks"), compared with umoci: link groups, content
//! kept when the target name changes, and header metadata of link entries.

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer};

fn base() -> Vec<u8> {
    Layer::new()
        .with(Entry::dir("bin"))
        .with(Entry::file("bin/tool", "tool v1").mode(0o755).owner(3, 4))
        .with(Entry::hardlink("bin/tool-alias", "bin/tool"))
        .with(Entry::file("bin/other", "other"))
        .finish()
}

#[test]
fn hardlink_to_file_in_same_layer() {
    check(vec![base()]);
}

#[test]
fn hardlink_to_file_in_lower_layer() {
    let upper = Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::hardlink("usr/tool-copy", "bin/tool"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn hardlink_target_overwritten_in_upper_layer() {
    let upper = Layer::new()
        .with(Entry::file("bin/tool", "tool v2").mode(0o700))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn hardlink_target_deleted_in_upper_layer() {
    let upper = Layer::new().with(Entry::whiteout("bin/tool")).finish();
    check(vec![base(), upper]);
}

#[test]
fn hardlink_entry_metadata_is_ignored() {
    let upper = Layer::new()
        .with(
            Entry::hardlink("bin/odd-link", "bin/other")
                .mode(0o4777)
                .owner(99, 99)
                .mtime(5)
                .xattr("user.x", "y"),
        )
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn hardlink_chains_and_several_groups() {
    let layer = Layer::new()
        .with(Entry::file("a", "A"))
        .with(Entry::hardlink("b", "a"))
        .with(Entry::hardlink("c", "b"))
        .with(Entry::file("d", "D"))
        .with(Entry::hardlink("0-before-in-order", "d"))
        .with(Entry::dir("z"))
        .with(Entry::hardlink("z/e", "./a"))
        .finish();
    check(vec![base(), layer]);
}

#[test]
fn hardlink_to_symlink_links_the_symlink_itself() {
    let layer = Layer::new()
        .with(Entry::symlink("sym", "bin/tool"))
        .with(Entry::hardlink("sym-link", "sym"))
        .finish();
    check(vec![base(), layer]);
}

#[test]
fn hardlink_replaced_by_file_leaves_group_shrunk() {
    let upper = Layer::new()
        .with(Entry::file("bin/tool-alias", "separate now"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn hardlink_to_device_and_fifo() {
    let layer = Layer::new()
        .with(Entry::char_dev("null", 1, 3))
        .with(Entry::hardlink("null2", "null"))
        .with(Entry::fifo("pipe"))
        .with(Entry::hardlink("pipe2", "pipe"))
        .finish();
    check(vec![layer]);
}
