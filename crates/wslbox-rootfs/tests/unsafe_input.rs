//! Unsafe layers are refused with an error that names the layer digest and the path.

mod common;

use common::{flatten, layout};
use wslbox_rootfs::FlattenError;
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;

fn flatten_err(tar: Vec<u8>) -> (FlattenError, String) {
    let scratch = Scratch::new().unwrap();
    let base = Layer::new().with(Entry::file("etc/passwd", "x")).finish();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[
            (TarSource::Bytes(base), Compression::Gzip),
            (TarSource::Bytes(tar), Compression::Gzip),
        ],
    );
    let err = flatten(&l, &image, &scratch.path("spool")).expect_err("must be refused");
    (err, image.layers[1].digest.to_string())
}

#[test]
fn dotdot_component_is_rejected_naming_layer_and_path() {
    let (err, digest) = flatten_err(
        Layer::new()
            .with(Entry::file("a/../../etc/shadow", "x"))
            .finish(),
    );
    assert!(matches!(err, FlattenError::UnsafePath { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&digest) && msg.contains("a/../../etc/shadow"),
        "{msg}"
    );
}

#[test]
fn hardlink_escaping_the_root_is_rejected() {
    let (err, digest) = flatten_err(
        Layer::new()
            .with(Entry::hardlink("shadow", "../../etc/shadow"))
            .finish(),
    );
    assert!(matches!(err, FlattenError::UnsafePath { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&digest) && err.to_string().contains("shadow"),
        "{err}"
    );
}

#[test]
fn hardlink_to_missing_target_is_rejected() {
    let (err, digest) = flatten_err(
        Layer::new()
            .with(Entry::hardlink("link", "etc/nope"))
            .finish(),
    );
    assert!(matches!(err, FlattenError::UnsafePath { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&digest) && msg.contains("etc/nope"), "{msg}");
}

#[test]
fn hardlink_to_target_deleted_in_same_layer_is_rejected() {
    let tar = Layer::new()
        .with(Entry::whiteout("etc/passwd"))
        .with(Entry::hardlink("p", "etc/passwd"))
        .finish();
    let (err, _) = flatten_err(tar);
    assert!(err.to_string().contains("does not exist"), "{err}");
}

#[test]
fn root_replaced_by_file_is_rejected() {
    let (err, digest) = flatten_err(Layer::new().with(Entry::file("./", "x")).finish());
    assert!(matches!(err, FlattenError::InvalidEntry { .. }), "{err:?}");
    assert!(err.to_string().contains(&digest), "{err}");
}

#[test]
fn unsupported_entry_type_is_rejected() {
    let (err, _) = flatten_err(Layer::new().with(Entry::other("vol", b'V')).finish());
    assert!(
        err.to_string().contains("unsupported tar entry type"),
        "{err}"
    );
}

#[test]
fn symlink_loop_in_a_parent_is_rejected() {
    let tar = Layer::new()
        .with(Entry::symlink("a", "b"))
        .with(Entry::symlink("b", "a"))
        .with(Entry::file("a/x", "x"))
        .finish();
    let (err, digest) = flatten_err(tar);
    assert!(matches!(err, FlattenError::InvalidEntry { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&digest) && msg.contains("symbolic links"),
        "{msg}"
    );
}
