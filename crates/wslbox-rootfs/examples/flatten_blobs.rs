//! Flattens layer blob files (bottom first) into one output, as `wslbox export` does after
//! the download: for profiling the flattener alone and for the benchmark.
//!
//! `cargo run --release -p wslbox-rootfs --example flatten_blobs -- OUT LAYER...`
//! where each LAYER is `sha256:HEX=PATH` and PATH ends in `.gz`, `.zst` or anything else for
//! an uncompressed tar; OUT's extension picks the format (`-` for a tar on stdout).

use std::io::{self, Read};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};
use wslbox_image::{BlobOpener, Compression, LayerDescriptor};
use wslbox_rootfs::{FlattenOptions, NoReporter, OutputDest, OutputFormat};

struct Files(Vec<PathBuf>);

impl BlobOpener for Files {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let i: usize = layer.urls[0].parse().map_err(io::Error::other)?;
        let file = fs_err::File::open(&self.0[i])?;
        let expected = layer.digest.hex().to_owned();
        Ok(Box::new(Verify {
            inner: io::BufReader::with_capacity(1 << 20, file),
            hash: Sha256::new(),
            expected,
        }))
    }
}

/// Checks the sha256 at end of stream, as the cache's opener does.
struct Verify<R> {
    inner: R,
    hash: Sha256,
    expected: String,
}

impl<R: Read> Read for Verify<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() && hex::encode(self.hash.clone().finalize()) != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "digest mismatch",
            ));
        }
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = PathBuf::from(
        args.next()
            .ok_or("usage: flatten_blobs OUT sha256:HEX=PATH...")?,
    );
    let mut paths = Vec::new();
    let mut layers = Vec::new();
    for (i, arg) in args.enumerate() {
        let (digest, path) = arg.split_once('=').ok_or("LAYER must be sha256:HEX=PATH")?;
        let compression = match path.rsplit('.').next() {
            Some("gz") => Compression::Gzip,
            Some("zst") => Compression::Zstd,
            _ => Compression::None,
        };
        layers.push(LayerDescriptor {
            digest: digest.parse()?,
            size: fs_err::metadata(path)?.len(),
            media_type: String::new(),
            compression,
            urls: vec![i.to_string()],
        });
        paths.push(PathBuf::from(path));
    }
    let spool = tempfile::tempdir()?;
    let tree = wslbox_rootfs::flatten(
        &layers,
        &Files(paths),
        &FlattenOptions::new(spool.path().to_owned()),
        &NoReporter,
    )?;
    let (dest, format) = if out.as_os_str() == "-" {
        (OutputDest::Stdout, OutputFormat::Tar)
    } else {
        let format = OutputFormat::from_path(&out).unwrap_or(OutputFormat::Tar);
        (OutputDest::File(out), format)
    };
    let stats = wslbox_rootfs::write_output(&tree, dest, format, &NoReporter)?;
    eprintln!(
        "{} entries, {} tar bytes, {} output bytes",
        stats.entries, stats.tar_bytes, stats.output_bytes
    );
    Ok(())
}
