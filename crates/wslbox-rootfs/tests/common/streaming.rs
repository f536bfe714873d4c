//! Helpers of the streaming tests (`stream.rs`, `stream_output.rs`): real directory tars,
//! flattening into an [`Output`], and an in-memory writer destination.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};

use wslbox_rootfs::{
    FlattenOptions, NoReporter, Output, OutputDest, OutputError, OutputFormat, Stats,
};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, Image, OciLayout, TarSource};
use wslbox_test::oracle::Scratch;
use wslbox_test::registry_fixture::noise;

use super::options;

pub fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A layer as an image builder writes it: GNU tar of a real directory, so every parent
/// directory has its own entry (`./` included).
pub fn dir_tar(root: &Path, tar: &Path) -> Vec<u8> {
    run(Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(root)
        .arg("-cf")
        .arg(tar)
        .arg("."));
    fs_err::read(tar).unwrap()
}

pub fn write(root: &Path, path: &str, body: impl AsRef<[u8]>) {
    let p = root.join(path);
    fs_err::create_dir_all(p.parent().unwrap()).unwrap();
    fs_err::write(p, body).unwrap();
}

/// Options of [`flatten_streamed`]: every body that can be streamed is.
pub fn stream_opts(spool: &Path) -> FlattenOptions {
    FlattenOptions {
        spool_budget: 0,
        ..options(spool)
    }
}

/// Flattens into `dest` with streaming; returns what `finish` said and how many entries
/// were streamed.
pub fn stream_to(
    layout: &OciLayout,
    image: &Image,
    opts: &FlattenOptions,
    dest: OutputDest,
    format: OutputFormat,
) -> (Result<Stats, OutputError>, u64) {
    let mut output = Output::open(dest, format).unwrap();
    let tree = wslbox_rootfs::flatten_into(
        &image.layers,
        &layout.opener(),
        opts,
        &NoReporter,
        &mut output,
    )
    .expect("flatten while streaming");
    let streamed = output.written();
    (output.finish(&tree, &NoReporter), streamed)
}

/// The plain, unstreamed output of the same flatten options, as bytes.
pub fn unstreamed_bytes(
    layout: &OciLayout,
    image: &Image,
    opts: &FlattenOptions,
    out: &Path,
) -> Vec<u8> {
    let tree = wslbox_rootfs::flatten(&image.layers, &layout.opener(), opts, &NoReporter).unwrap();
    wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.to_owned()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    fs_err::read(out).unwrap()
}

#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn middle_layers(scratch: &Scratch) -> Vec<(TarSource, Compression)> {
    let bottom = Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/lib"))
        .with(Entry::dir("usr/bin"))
        .with(Entry::symlink("lib", "usr/lib"))
        .with(Entry::symlink("bin", "usr/bin"))
        .with(Entry::file("usr/lib/base.so", "from the bottom"))
        .finish();
    let big = |seed, len| noise(seed, len);
    let long = format!("usr/share/{}", "l".repeat(150));
    let middle = Layer::new()
        .with(Entry::file("usr/lib/a.so", big(1, 300_000)))
        .with(Entry::file("lib/b.so", big(2, 300_000)))
        .with(Entry::dir("lib/sub"))
        .with(Entry::file("lib/sub/c", big(3, 200_000)))
        .with(Entry::file("lib/sub/d", big(4, 200_000)))
        .with(Entry::file("bin/tool", big(5, 200_000)).mode(0o755))
        .with(Entry::file("usr/bin/tool2", big(6, 200_000)).mode(0o755))
        .with(Entry::file("usr/share/big", big(7, 300_000)).owner(1000, 1000))
        .with(Entry::file("lib/e.so", big(8, 200_000)))
        .with(Entry::hardlink("usr/lib/a-link", "lib/a.so"))
        .with(Entry::file(&long, big(9, 100_000)))
        .with(Entry::file("usr/share/xattr", big(10, 100_000)).xattr("user.note", "kept"))
        .with(Entry::file(
            b"usr/share/caf\xe9".as_slice(),
            big(11, 100_000),
        ))
        .with(Entry::hardlink("usr/share/big-link", "usr/share/big"))
        .with(Entry::file("usr/lib/empty", ""))
        .finish();
    let root = scratch.path("top-root");
    write(&root, "usr/lib/.wh.a.so", "");
    write(&root, "usr/lib/b.so", "replaced on top");
    write(&root, "usr/lib/.wh.sub", "");
    fs_err::create_dir_all(root.join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("tool2", root.join("usr/bin/tool")).unwrap();
    // `lib/` becomes a directory of the top layer, replacing the symlink: its whiteout
    // removes nothing of usr/lib.
    write(&root, "lib/.wh.e.so", "");
    write(&root, "usr/share/new", "new on top");
    let top = dir_tar(&root, &scratch.path("top.tar"));
    vec![
        (TarSource::Bytes(bottom), Compression::Gzip),
        (TarSource::Bytes(middle), Compression::Gzip),
        (TarSource::Bytes(top), Compression::Gzip),
    ]
}
