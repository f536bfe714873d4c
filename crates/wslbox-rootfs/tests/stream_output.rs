//! What a streamed output does when the stream cannot stand: a path the streamed layer names
//! twice (a file output starts over, a stream fails), compressed outputs of a streamed
//! flatten, and a layer that breaks off in the middle. What may be streamed is `stream.rs`.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use common::streaming::{SharedBuf, middle_layers, stream_opts, stream_to, unstreamed_bytes};
use common::{check_streamed, layout};
use wslbox_rootfs::{FlattenError, NoReporter, Output, OutputDest, OutputError, OutputFormat};
use wslbox_test::dir_names;
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;
use wslbox_test::registry_fixture::noise;

// --- 4. A path named twice in the streamed layer --------------------------------------------

/// Layers naming a streamed path again (or replacing it otherwise), with the path the
/// error must name.
fn named_twice() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let big = |seed| noise(seed, 100_000);
    vec![
        (
            "the same file twice",
            Layer::new()
                .with(Entry::dir("usr"))
                .with(Entry::file("usr/big", big(1)))
                .with(Entry::file("usr/keep", big(2)))
                .with(Entry::file("usr/big", big(3)))
                .finish(),
            "/usr/big",
        ),
        (
            "a file, then a directory",
            Layer::new()
                .with(Entry::dir("usr"))
                .with(Entry::file("usr/big", big(1)))
                .with(Entry::file("usr/keep", big(2)))
                .with(Entry::dir("usr/big"))
                .with(Entry::file("usr/big/inner", big(3)))
                .finish(),
            "/usr/big",
        ),
        (
            "a file, then a hardlink",
            Layer::new()
                .with(Entry::dir("usr"))
                .with(Entry::file("usr/keep", big(2)))
                .with(Entry::file("usr/big", big(1)))
                .with(Entry::hardlink("usr/big", "usr/keep"))
                .finish(),
            "/usr/big",
        ),
        (
            "its directory replaced by a symlink",
            Layer::new()
                .with(Entry::dir("usr"))
                .with(Entry::file("usr/keep", big(2)))
                .with(Entry::dir("d"))
                .with(Entry::file("d/big", big(1)))
                .with(Entry::symlink("d", "usr"))
                .finish(),
            "/d/big",
        ),
        (
            "the same file again through a later symlink",
            Layer::new()
                .with(Entry::dir("usr"))
                .with(Entry::dir("usr/lib"))
                .with(Entry::file("usr/lib/big", big(1)))
                .with(Entry::symlink("lib", "usr/lib"))
                .with(Entry::file("lib/big", big(3)))
                .finish(),
            "/usr/lib/big",
        ),
    ]
}

#[test]
fn path_named_twice_starts_a_file_over_and_fails_a_stream() {
    for (what, tar, path) in named_twice() {
        // A file output: exactly umoci's tree.
        let n = check_streamed(vec![(TarSource::Bytes(tar.clone()), Compression::Gzip)]);
        assert!(
            n > 0,
            "{what}: the file went out before its path came again"
        );

        let scratch = Scratch::new().unwrap();
        let (l, image) = layout(
            &scratch.path("layout"),
            &[(TarSource::Bytes(tar), Compression::Gzip)],
        );
        let opts = stream_opts(&scratch.path("spool"));

        // A stream cannot take the file back.
        let (result, n) = stream_to(
            &l,
            &image,
            &opts,
            OutputDest::Writer(Box::new(SharedBuf::default())),
            OutputFormat::Tar,
        );
        assert!(n > 0, "{what}");
        let err = result.expect_err(what);
        assert!(
            matches!(&err, OutputError::Streamed { path: p } if p == path),
            "{what}: {err:?}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains(path) && msg.contains("--no-stream"),
            "{what}: {msg}"
        );

        // A file starts over: the same bytes as without streaming, no temp file left.
        let dir = scratch.path("out");
        fs_err::create_dir_all(&dir).unwrap();
        let out = dir.join("rootfs.tar");
        let (result, n) = stream_to(
            &l,
            &image,
            &opts,
            OutputDest::File(out.clone()),
            OutputFormat::Tar,
        );
        assert!(n > 0, "{what}");
        result.unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(dir_names(&dir), ["rootfs.tar"], "{what}");
        let plain = unstreamed_bytes(&l, &image, &opts, &scratch.path("plain.tar"));
        assert!(
            fs_err::read(&out).unwrap() == plain,
            "{what}: the restarted output differs from the unstreamed one"
        );
    }
}

// --- 5. Compressed outputs -------------------------------------------------------------------

fn decompress(tool: &str, file: &Path) -> Vec<u8> {
    let out = Command::new(tool)
        .arg("-dc")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} -dc {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn compressed_streamed_outputs_hold_the_plain_streamed_tar() {
    let scratch = Scratch::new().unwrap();
    // An image that streams, and one whose streamed layer names a path twice (the output
    // starts over, its encoder too).
    let twice = named_twice().swap_remove(0).1;
    for (what, layers) in [
        ("middle", middle_layers(&scratch)),
        (
            "named twice",
            vec![(TarSource::Bytes(twice), Compression::Gzip)],
        ),
    ] {
        let (l, image) = layout(&scratch.path(format!("layout-{what}")), &layers);
        let opts = stream_opts(&scratch.path(format!("spool-{what}")));
        let plain_out = scratch.path(format!("{what}.tar"));
        let (result, n) = stream_to(
            &l,
            &image,
            &opts,
            OutputDest::File(plain_out.clone()),
            OutputFormat::Tar,
        );
        assert!(n > 0, "{what}");
        let plain_stats = result.unwrap();
        let plain = fs_err::read(&plain_out).unwrap();
        for (ext, format, tool) in [
            ("tar.gz", OutputFormat::TarGz, "gzip"),
            ("wsl", OutputFormat::Wsl, "gzip"),
            ("tar.xz", OutputFormat::TarXz, "xz"),
        ] {
            let out = scratch.path(format!("{what}.{ext}"));
            let (result, n) = stream_to(&l, &image, &opts, OutputDest::File(out.clone()), format);
            assert!(n > 0, "{what} {ext}");
            let stats = result.unwrap_or_else(|e| panic!("{what} {ext}: {e}"));
            assert_eq!(stats.output_bytes, fs_err::metadata(&out).unwrap().len());
            assert_eq!(stats.tar_bytes, plain_stats.tar_bytes, "{what} {ext}");
            assert_eq!(stats.entries, plain_stats.entries, "{what} {ext}");
            assert!(
                decompress(tool, &out) == plain,
                "{what} {ext}: decompressed, not the plain streamed tar"
            );
        }
    }
}

// --- 7. A streamed layer that breaks off -----------------------------------------------------

#[test]
fn truncated_streamed_layer_fails_naming_it_and_leaves_no_output() {
    let scratch = Scratch::new().unwrap();
    let mut big = Layer::new().with(Entry::dir("usr"));
    for i in 0..8 {
        big = big.with(Entry::file(format!("usr/f{i}"), noise(i, 256 << 10)));
    }
    let small = Layer::new().with(Entry::file("top", "small"));
    let (l, image) = layout(
        &scratch.path("layout"),
        &[
            (TarSource::Bytes(big.finish()), Compression::Gzip),
            (TarSource::Bytes(small.finish()), Compression::Gzip),
        ],
    );
    let digest = image.layers[0].digest.to_string();
    let blob = l.blob_path(&image.layers[0].digest);
    let bytes = fs_err::read(&blob).unwrap();
    fs_err::write(&blob, &bytes[..bytes.len() * 6 / 10]).unwrap();

    for old in [None, Some("old rootfs")] {
        let dir = scratch.path(format!("out-{}", old.is_some()));
        fs_err::create_dir_all(&dir).unwrap();
        let dest = dir.join("rootfs.tar");
        if let Some(old) = old {
            fs_err::write(&dest, old).unwrap();
        }
        let mut output = Output::open(OutputDest::File(dest.clone()), OutputFormat::Tar).unwrap();
        let err = wslbox_rootfs::flatten_into(
            &image.layers,
            &l.opener(),
            &stream_opts(&scratch.path("spool")),
            &NoReporter,
            &mut output,
        )
        .expect_err("a truncated layer must fail");
        assert!(
            output.written() > 0,
            "files went out before the layer broke off"
        );
        assert!(
            matches!(&err, FlattenError::Read { layer, .. } if layer.contains(&digest)),
            "{err:?}"
        );
        assert!(err.to_string().contains(&digest), "{err}");
        drop(output);
        match old {
            None => assert!(!dest.exists(), "a failed flatten left {}", dest.display()),
            Some(old) => assert_eq!(fs_err::read_to_string(&dest).unwrap(), old),
        }
        let expected: &[&str] = if old.is_some() { &["rootfs.tar"] } else { &[] };
        assert_eq!(dir_names(&dir), expected, "temp file left");
    }
}

/// Whether `tool` (`bsdtar` or GNU `tar`) lists `archive` without an error.
fn lists_cleanly(tool: &str, archive: &[u8]) -> bool {
    let mut child = Command::new(tool)
        .args(["-tf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("running {tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(archive);
    drop(stdin);
    child.wait().unwrap().success()
}

#[test]
fn a_stream_that_breaks_off_is_rejected_by_every_tar_reader() {
    let scratch = Scratch::new().unwrap();
    let mut big = Layer::new().with(Entry::dir("usr"));
    for i in 0..8 {
        big = big.with(Entry::file(format!("usr/f{i}"), noise(i, 256 << 10)));
    }
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::Bytes(big.finish()), Compression::Gzip)],
    );
    let blob = l.blob_path(&image.layers[0].digest);
    // The gzip trailer's last byte flipped: every entry decodes whole, and the layer fails only
    // at its end (gzip length, digest), so the stream breaks off between two entries.
    let mut bytes = fs_err::read(&blob).unwrap();
    *bytes.last_mut().unwrap() ^= 0xff;
    fs_err::write(&blob, &bytes).unwrap();

    for format in [OutputFormat::Tar, OutputFormat::TarGz, OutputFormat::TarXz] {
        let buf = SharedBuf::default();
        let mut output = Output::open(OutputDest::Writer(Box::new(buf.clone())), format).unwrap();
        wslbox_rootfs::flatten_into(
            &image.layers,
            &l.opener(),
            &stream_opts(&scratch.path("spool")),
            &NoReporter,
            &mut output,
        )
        .expect_err("a corrupt layer must fail");
        let whole_files = output.written();
        assert_eq!(
            whole_files, 8,
            "every file went out before the layer failed"
        );
        drop(output);
        let written = buf.0.lock().unwrap().clone();
        let tar = match format {
            OutputFormat::Tar => written,
            OutputFormat::TarGz => {
                let mut out = Vec::new();
                flate2::read::MultiGzDecoder::new(&written[..])
                    .read_to_end(&mut out)
                    .expect("the compressed stream itself is complete");
                out
            }
            _ => {
                let mut out = Vec::new();
                liblzma::read::XzDecoder::new(&written[..])
                    .read_to_end(&mut out)
                    .expect("the compressed stream itself is complete");
                out
            }
        };
        // Cut between two entries, the archive would look complete to bsdtar.
        assert!(
            tar.len() as u64 > whole_files * (256 << 10),
            "{format:?}: the streamed files are there"
        );
        for tool in ["bsdtar", "tar"] {
            assert!(
                !lists_cleanly(tool, &tar),
                "{tool} took the broken {format:?} stream for a complete archive"
            );
        }
    }
}

/// A layer that ends inside a file's body stops the stream inside that body, wherever in it:
/// a cut in the body's last block must not be completed by what marks the stream broken
/// (GNU tar takes a stream ending in a partial header block for a complete archive).
#[test]
fn a_stream_cut_inside_a_body_is_rejected_by_every_tar_reader_wherever_it_is_cut() {
    let scratch = Scratch::new().unwrap();
    let layer = Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::file("usr/first", noise(1, 64 << 10)))
        .with(Entry::file("usr/last", noise(2, (64 << 10) + 300)))
        .finish();
    // Where the body of `usr/last` ends in the layer.
    let mut archive = tar::Archive::new(&layer[..]);
    let body_end = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path().unwrap().ends_with("last"))
        .map(|e| e.raw_file_position() + e.size())
        .unwrap();
    for missing in [1u64, 173, 299, 300, 301, 511, 512, 513, 812, 4096] {
        let cut = layer[..(body_end - missing) as usize].to_vec();
        let (l, image) = layout(
            &scratch.path(format!("layout-{missing}")),
            &[(TarSource::Bytes(cut), Compression::None)],
        );
        let buf = SharedBuf::default();
        let mut output =
            Output::open(OutputDest::Writer(Box::new(buf.clone())), OutputFormat::Tar).unwrap();
        wslbox_rootfs::flatten_into(
            &image.layers,
            &l.opener(),
            &stream_opts(&scratch.path("spool")),
            &NoReporter,
            &mut output,
        )
        .expect_err("a layer cut inside a body must fail");
        assert_eq!(output.written(), 1, "usr/first went out whole");
        drop(output);
        let tar = buf.0.lock().unwrap().clone();
        assert!(tar.len() > 64 << 10, "{missing}: the first file is there");
        assert_eq!(tar.len() % 512, 0, "{missing}: the stream ends on a block");
        for tool in ["bsdtar", "tar"] {
            assert!(
                !lists_cleanly(tool, &tar),
                "{tool} took a stream cut {missing} bytes before a body's end for a whole archive"
            );
        }
    }
}
