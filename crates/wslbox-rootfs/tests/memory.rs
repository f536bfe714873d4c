//! Memory does not grow with file or layer size: a 512 MiB file body passes through the
//! flattener and the writer while the process's peak RSS stays far below it.

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use common::layout;
use wslbox_rootfs::{OutputDest, OutputFormat, Reporter};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;

const BIG: u64 = 512 << 20;

/// Peak resident set size of this process (`VmHWM`), in bytes.
fn peak_rss() -> u64 {
    let status = fs_err::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM in /proc/self/status");
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// Writes a tar with one `BIG`-byte file to disk without holding it in memory.
fn big_layer_tar(path: &std::path::Path) {
    let mut out = std::io::BufWriter::new(fs_err::File::create(path).unwrap());
    let mut h = tar::Header::new_ustar();
    h.set_path("big.img").unwrap();
    h.set_size(BIG);
    h.set_mode(0o644);
    h.set_cksum();
    out.write_all(h.as_bytes()).unwrap();
    let block = vec![0x5au8; 1 << 20];
    for _ in 0..BIG / (1 << 20) {
        out.write_all(&block).unwrap();
    }
    out.write_all(&[0u8; 1024]).unwrap();
    out.flush().unwrap();
}

#[derive(Default)]
struct Counts {
    compressed: AtomicU64,
    output: AtomicU64,
}

impl Reporter for Counts {
    fn layer_progress(&self, _index: usize, bytes: u64) {
        self.compressed.fetch_add(bytes, Ordering::Relaxed);
    }
    fn output_progress(&self, _entries: u64, bytes: u64) {
        self.output.fetch_add(bytes, Ordering::Relaxed);
    }
}

#[test]
fn peak_memory_stays_far_below_the_file_size() {
    let scratch = Scratch::new().unwrap();
    let tar = scratch.path("big.tar");
    big_layer_tar(&tar);
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::File(tar), Compression::Gzip)],
    );
    let before = peak_rss();

    let counts = Counts::default();
    let spool = scratch.path("spool");
    fs_err::create_dir_all(&spool).unwrap();
    let opts = wslbox_rootfs::FlattenOptions {
        jobs: 2,
        ..wslbox_rootfs::FlattenOptions::new(spool)
    };
    let tree = wslbox_rootfs::flatten(&image.layers, &l.opener(), &opts, &counts).unwrap();
    let out = scratch.path("out.tar");
    let stats = wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &counts,
    )
    .unwrap();

    assert_eq!(
        counts.compressed.load(Ordering::Relaxed),
        image.layers[0].size,
        "every compressed byte is reported"
    );
    assert_eq!(
        counts.output.load(Ordering::Relaxed) + 1024,
        stats.tar_bytes,
        "every entry's bytes are reported"
    );
    assert!(stats.tar_bytes > BIG);
    assert_eq!(fs_err::metadata(&out).unwrap().len(), stats.tar_bytes);
    let peak = peak_rss();
    assert!(
        peak < before.max(1) + (100 << 20) && peak < BIG / 4,
        "peak RSS {} MiB (before flattening: {} MiB) for a {} MiB file",
        peak >> 20,
        before >> 20,
        BIG >> 20
    );
}
