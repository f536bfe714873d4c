//! Whiteouts and opaque directories (image-spec layer.md "Whiteouts"), compared with umoci.

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer};

fn base() -> Vec<u8> {
    Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/keep", "keep"))
        .with(Entry::file("etc/gone", "gone"))
        .with(Entry::dir("etc/sub").mode(0o750).owner(5, 6))
        .with(Entry::file("etc/sub/a", "a"))
        .with(Entry::dir("etc/sub/deeper"))
        .with(Entry::file("etc/sub/deeper/b", "b"))
        .with(Entry::file("x", "root file"))
        .with(Entry::dir("y"))
        .with(Entry::file("y/z", "z"))
        .finish()
}

#[test]
fn whiteout_deletes_lower_file_and_directory_subtree() {
    let upper = Layer::new()
        .with(Entry::whiteout("etc/gone"))
        .with(Entry::whiteout("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_at_root_with_and_without_dot_slash() {
    let upper = Layer::new()
        .with(Entry::whiteout("./x"))
        .with(Entry::whiteout("y"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_of_missing_path_is_ignored() {
    let upper = Layer::new()
        .with(Entry::whiteout("etc/nothing"))
        .with(Entry::whiteout("nowhere/at/all"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_hides_lower_content_and_keeps_directory_metadata() {
    let upper = Layer::new()
        .with(Entry::opaque("etc/sub"))
        .with(Entry::file("etc/sub/new", "new"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_after_same_layer_additions_keeps_them() {
    let upper = Layer::new()
        .with(Entry::dir("etc/sub/deeper"))
        .with(Entry::file("etc/sub/added-first", "1"))
        .with(Entry::file("etc/sub/deeper/c", "c"))
        .with(Entry::opaque("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_with_directory_entry_changes_its_metadata() {
    let upper = Layer::new()
        .with(Entry::dir("etc/sub").mode(0o700).owner(7, 8))
        .with(Entry::opaque("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_at_root_hides_everything_lower() {
    let upper = Layer::new()
        .with(Entry::file("fresh", "f"))
        .with(Entry::opaque(""))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_then_recreate_in_one_layer_leaves_the_new_file() {
    let upper = Layer::new()
        .with(Entry::whiteout("etc/gone"))
        .with(Entry::file("etc/gone", "new content"))
        .with(Entry::file("etc/keep", "replaced first"))
        .with(Entry::whiteout("etc/keep"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_then_recreate_directory_in_one_layer_drops_old_children() {
    let upper = Layer::new()
        .with(Entry::whiteout("etc/sub"))
        .with(Entry::dir("etc/sub").mode(0o711))
        .with(Entry::file("etc/sub/only-new", "n"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn recreated_directory_then_whiteout_in_one_layer_keeps_only_new_children() {
    // umoci removes what this layer did not write, even below a path it did write.
    let upper = Layer::new()
        .with(Entry::dir("etc/sub"))
        .with(Entry::file("etc/sub/new", "n"))
        .with(Entry::whiteout("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn directory_replaced_by_file_and_file_by_directory() {
    let upper = Layer::new()
        .with(Entry::file("etc/sub", "now a file"))
        .with(Entry::dir("x").mode(0o700))
        .with(Entry::file("x/inside", "i"))
        .finish();
    let top = Layer::new()
        .with(Entry::dir("etc/sub"))
        .with(Entry::file("x", "file again"))
        .finish();
    check(vec![base(), upper, top]);
}

#[test]
fn directory_deleted_and_recreated_in_higher_layer_has_no_old_children() {
    let delete = Layer::new().with(Entry::whiteout("etc/sub")).finish();
    let recreate = Layer::new()
        .with(Entry::dir("etc/sub"))
        .with(Entry::file("etc/sub/fresh", "f"))
        .finish();
    check(vec![base(), delete, recreate]);
}
