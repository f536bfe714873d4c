//! Layer encodings: uncompressed, gzip and zstd blobs (zstd given to umoci as gzip of the same
//! tar bytes), empty layers, GNU vs PAX headers, and gzip trailing garbage.

mod common;

use common::{check, check_with, flatten, layout};
use wslbox_rootfs::NoReporter;
use wslbox_test::layers::{Entry, Layer, LongNames};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;

fn sample(n: u32) -> Vec<u8> {
    Layer::new()
        .with(Entry::dir(format!("l{n}")))
        .with(Entry::file(
            format!("l{n}/file"),
            format!("layer {n}").repeat(1000),
        ))
        .with(Entry::file("shared", format!("from layer {n}")))
        .finish()
}

#[test]
fn uncompressed_gzip_and_zstd_layers() {
    check_with(vec![
        (TarSource::Bytes(sample(1)), Compression::None),
        (TarSource::Bytes(sample(2)), Compression::Gzip),
        (TarSource::Bytes(sample(3)), Compression::Zstd),
        (
            TarSource::Bytes(Layer::new().with(Entry::whiteout("l1")).finish()),
            Compression::Zstd,
        ),
    ]);
}

#[test]
fn empty_layers() {
    let empty = Layer::new().finish();
    check(vec![empty.clone(), sample(1), empty.clone(), empty]);
}

#[test]
fn gnu_and_pax_headers_mixed_across_layers() {
    let gnu = Layer::new()
        .long_names(LongNames::Gnu)
        .with(Entry::file("a".repeat(120), "gnu").owner(3_000_000, 5))
        .finish();
    let pax = Layer::new()
        .with(
            Entry::file("b".repeat(120), "pax")
                .owner(3_000_000, 5)
                .pax_ids(),
        )
        .with(Entry::whiteout("a".repeat(120)))
        .finish();
    check(vec![gnu, pax]);
}

/// Flattens a layout and returns our uncompressed output bytes.
fn output_of(layers: Vec<(TarSource, Compression)>, scratch: &Scratch, name: &str) -> Vec<u8> {
    let (l, image) = layout(&scratch.path(name), &layers);
    let tree = flatten(&l, &image, &scratch.path(format!("{name}-spool"))).expect("flatten");
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&tree, &mut out, &NoReporter).unwrap();
    out
}

#[test]
fn gzip_trailing_garbage_is_tolerated() {
    let scratch = Scratch::new().unwrap();
    let tar = sample(1);
    let clean = output_of(
        vec![(TarSource::Bytes(tar.clone()), Compression::Gzip)],
        &scratch,
        "clean",
    );

    // The same layer with NUL padding and junk after the gzip member.
    let (l, mut image) = layout(
        &scratch.path("garbage"),
        &[(TarSource::Bytes(tar), Compression::Gzip)],
    );
    let mut blob = fs_err::read(l.blob_path(&image.layers[0].digest)).unwrap();
    blob.extend_from_slice(&[0u8; 700]);
    blob.extend_from_slice(b"trailing junk that is not gzip");
    let stored = l.add_blob(&blob, Compression::Gzip.media_type()).unwrap();
    image.layers[0].digest = stored.digest;
    image.layers[0].size = stored.size;
    let tree =
        flatten(&l, &image, &scratch.path("garbage-spool")).expect("trailing garbage is tolerated");
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&tree, &mut out, &NoReporter).unwrap();
    assert_eq!(out, clean, "trailing garbage changed the output");
}

#[test]
fn multi_member_gzip_layer_reads_every_member() {
    let scratch = Scratch::new().unwrap();
    let tar = sample(2);
    let clean = output_of(
        vec![(TarSource::Bytes(tar.clone()), Compression::None)],
        &scratch,
        "clean",
    );
    let (l, mut image) = layout(
        &scratch.path("multi"),
        &[(TarSource::Bytes(tar.clone()), Compression::None)],
    );
    let mut blob = Vec::new();
    for part in tar.chunks(1000) {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut enc, part).unwrap();
        blob.extend(enc.finish().unwrap());
    }
    let stored = l.add_blob(&blob, Compression::Gzip.media_type()).unwrap();
    image.layers[0].digest = stored.digest;
    image.layers[0].size = stored.size;
    image.layers[0].compression = wslbox_image::Compression::Gzip;
    let tree = flatten(&l, &image, &scratch.path("multi-spool")).expect("multi-member gzip");
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&tree, &mut out, &NoReporter).unwrap();
    assert_eq!(out, clean);
}

/// A layer GNU tar makes of a directory holding a sparse file, in the given `--format`.
fn sparse_layer(scratch: &Scratch, format: &str) -> Vec<u8> {
    use std::io::{Seek, SeekFrom, Write};
    let root = scratch.path(format!("sparse-{format}"));
    fs_err::create_dir_all(&root).unwrap();
    let mut f = fs_err::File::create(root.join("sparse.img")).unwrap();
    for (offset, data) in [
        (0u64, &b"head"[..]),
        (3 << 20, b"middle"),
        (9 << 20, b"tail"),
    ] {
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(data).unwrap();
    }
    f.set_len(10 << 20).unwrap();
    drop(f);
    let tar = scratch.path(format!("sparse-{format}.tar"));
    let status = std::process::Command::new("tar")
        .args([&format!("--format={format}"), "--sparse", "-C"])
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("GNU tar");
    assert!(status.success());
    fs_err::read(tar).unwrap()
}

#[test]
fn gnu_sparse_files_are_expanded() {
    // umoci 0.4.7 refuses old GNU sparse entries (type `S`), so the reference here is the
    // file GNU tar archived.
    let scratch = Scratch::new().unwrap();
    let out = output_of(
        vec![(
            TarSource::Bytes(sparse_layer(&scratch, "gnu")),
            Compression::Gzip,
        )],
        &scratch,
        "gnu-sparse",
    );
    let tar = scratch.path("gnu-sparse-out.tar");
    fs_err::write(&tar, out).unwrap();
    let dir = scratch.path("gnu-sparse-x");
    wslbox_test::oracle::bsdtar_extract(&tar, &dir).unwrap();
    let ours = fs_err::read(dir.join("sparse.img")).unwrap();
    let source = fs_err::read(scratch.path("sparse-gnu").join("sparse.img")).unwrap();
    assert_eq!(ours.len(), 10 << 20);
    assert!(
        ours == source,
        "expanded sparse file differs from the archived one"
    );
}

#[test]
fn pax_sparse_files_are_expanded() {
    let scratch = Scratch::new().unwrap();
    check(vec![sparse_layer(&scratch, "posix")]);
}

#[test]
fn pax_global_header_is_ignored() {
    // git archive and some tar writers start with a global header; umoci 0.4.7 refuses it,
    // Docker ignores it, and so do we: the output equals that of the same layer without it.
    let scratch = Scratch::new().unwrap();
    let plain = sample(4);
    let mut global = Entry::other("pax_global_header", b'g');
    global.body = b"52 comment=0123456789012345678901234567890123456789\n".to_vec();
    let with_global = Layer::new().with(global).finish();
    let with_global = [&with_global[..with_global.len() - 1024], &plain[..]].concat();
    let a = output_of(
        vec![(TarSource::Bytes(plain), Compression::Gzip)],
        &scratch,
        "plain",
    );
    let b = output_of(
        vec![(TarSource::Bytes(with_global), Compression::Gzip)],
        &scratch,
        "global",
    );
    assert_eq!(a, b);
}
