//! Whiteouts and opaque directories (image-spec layer.md "Whiteouts"), compared with umoci.

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer};

fn base() -> Vec<u8> {
    Layer::new()
        .add(Entry::dir("etc"))
        .add(Entry::file("etc/keep", "keep"))
        .add(Entry::file("etc/gone", "gone"))
        .add(Entry::dir("etc/sub").mode(0o750).owner(5, 6))
        .add(Entry::file("etc/sub/a", "a"))
        .add(Entry::dir("etc/sub/deeper"))
        .add(Entry::file("etc/sub/deeper/b", "b"))
        .add(Entry::file("x", "root file"))
        .add(Entry::dir("y"))
        .add(Entry::file("y/z", "z"))
        .finish()
}

#[test]
fn whiteout_deletes_lower_file_and_directory_subtree() {
    let upper = Layer::new().add(Entry::whiteout("etc/gone")).add(Entry::whiteout("etc/sub")).finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_at_root_with_and_without_dot_slash() {
    let upper = Layer::new().add(Entry::whiteout("./x")).add(Entry::whiteout("y")).finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_of_missing_path_is_ignored() {
    let upper = Layer::new().add(Entry::whiteout("etc/nothing")).add(Entry::whiteout("nowhere/at/all")).finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_hides_lower_content_and_keeps_directory_metadata() {
    let upper = Layer::new().add(Entry::opaque("etc/sub")).add(Entry::file("etc/sub/new", "new")).finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_after_same_layer_additions_keeps_them() {
    let upper = Layer::new()
        .add(Entry::dir("etc/sub/deeper"))
        .add(Entry::file("etc/sub/added-first", "1"))
        .add(Entry::file("etc/sub/deeper/c", "c"))
        .add(Entry::opaque("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_with_directory_entry_changes_its_metadata() {
    let upper = Layer::new().add(Entry::dir("etc/sub").mode(0o700).owner(7, 8)).add(Entry::opaque("etc/sub")).finish();
    check(vec![base(), upper]);
}

#[test]
fn opaque_at_root_hides_everything_lower() {
    let upper = Layer::new().add(Entry::file("fresh", "f")).add(Entry::opaque("")).finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_then_recreate_in_one_layer_leaves_the_new_file() {
    let upper = Layer::new()
        .add(Entry::whiteout("etc/gone"))
        .add(Entry::file("etc/gone", "new content"))
        .add(Entry::file("etc/keep", "replaced first"))
        .add(Entry::whiteout("etc/keep"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn whiteout_then_recreate_directory_in_one_layer_drops_old_children() {
    let upper = Layer::new()
        .add(Entry::whiteout("etc/sub"))
        .add(Entry::dir("etc/sub").mode(0o711))
        .add(Entry::file("etc/sub/only-new", "n"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn recreated_directory_then_whiteout_in_one_layer_keeps_only_new_children() {
    // umoci removes what this layer did not write, even below a path it did write.
    let upper = Layer::new()
        .add(Entry::dir("etc/sub"))
        .add(Entry::file("etc/sub/new", "n"))
        .add(Entry::whiteout("etc/sub"))
        .finish();
    check(vec![base(), upper]);
}

#[test]
fn directory_replaced_by_file_and_file_by_directory() {
    let upper = Layer::new()
        .add(Entry::file("etc/sub", "now a file"))
        .add(Entry::dir("x").mode(0o700))
        .add(Entry::file("x/inside", "i"))
        .finish();
    let top = Layer::new().add(Entry::dir("etc/sub")).add(Entry::file("x", "file again")).finish();
    check(vec![base(), upper, top]);
}

#[test]
fn directory_deleted_and_recreated_in_higher_layer_has_no_old_children() {
    let delete = Layer::new().add(Entry::whiteout("etc/sub")).finish();
    let recreate = Layer::new().add(Entry::dir("etc/sub")).add(Entry::file("etc/sub/fresh", "f")).finish();
    check(vec![base(), delete, recreate]);
}
