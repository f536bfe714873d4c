//! Output writers: formats readable by bsdtar/GNU tar/gzip/xz, streaming to a writer, and
//! atomic file replacement (a failure leaves no file behind).

mod common;

use std::process::Command;

use common::streaming::SharedBuf;
use common::{check_structure, flatten, layout};
use wslbox_rootfs::{FlatTree, NoReporter, OutputDest, OutputFormat};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, TarSource, corrupt_blob};
use wslbox_test::oracle::{self, Scratch};

fn sample_tree(scratch: &Scratch) -> FlatTree {
    let mut big = Vec::new();
    for i in 0..300_000u32 {
        big.extend_from_slice(&i.to_le_bytes());
    }
    let l1 = Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"))
        .with(Entry::file("big.bin", big))
        .with(Entry::hardlink("big-link", "big.bin"))
        .with(Entry::file("cap", "c").xattr(
            "security.capability",
            [
                1u8, 0, 0, 2, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        ))
        .finish();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::Bytes(l1), Compression::Gzip)],
    );
    flatten(&l, &image, &scratch.path("spool")).unwrap()
}

fn tool_ok(cmd: &mut Command) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn tar_gz_and_tar_xz_outputs_extract_to_the_same_tree_as_tar() {
    let scratch = Scratch::new().unwrap();
    let tree = sample_tree(&scratch);
    let mut snapshots = Vec::new();
    for (name, format) in [
        ("r.tar", OutputFormat::Tar),
        ("r.tar.gz", OutputFormat::TarGz),
        ("r.tar.xz", OutputFormat::TarXz),
        ("r.wsl", OutputFormat::Wsl),
    ] {
        let out = scratch.path(name);
        assert_eq!(OutputFormat::from_path(&out), Some(format));
        let stats =
            wslbox_rootfs::write_output(&tree, OutputDest::File(out.clone()), format, &NoReporter)
                .unwrap();
        assert_eq!(stats.output_bytes, fs_err::metadata(&out).unwrap().len());
        match format {
            OutputFormat::TarGz | OutputFormat::Wsl => {
                tool_ok(Command::new("gzip").arg("-t").arg(&out))
            }
            OutputFormat::TarXz => tool_ok(Command::new("xz").arg("-t").arg(&out)),
            OutputFormat::Tar => assert_eq!(stats.output_bytes, stats.tar_bytes),
        }
        if format != OutputFormat::Tar {
            assert!(
                stats.output_bytes < stats.tar_bytes,
                "{name} is not compressed"
            );
        }
        let dir = scratch.path(format!("{name}-x"));
        oracle::bsdtar_extract(&out, &dir).unwrap();
        snapshots.push(oracle::snapshot(&dir).unwrap());
        // GNU tar reads the compressed forms too (through gzip/xz).
        oracle::gnu_tar_extract(&out, &scratch.path(format!("{name}-gnu"))).unwrap();
    }
    for s in &snapshots[1..] {
        oracle::assert_same(&snapshots[0], s, "compressed output");
    }
    let cap = &snapshots[0].paths[&b"cap".to_vec()];
    assert!(
        cap.xattrs.contains_key(b"security.capability".as_slice()),
        "security.capability lost"
    );
}

#[test]
fn streaming_to_a_writer_gives_the_same_bytes_as_a_file() {
    let scratch = Scratch::new().unwrap();
    let tree = sample_tree(&scratch);
    let file = scratch.path("out.tar");
    wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(file.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    let buf = SharedBuf::default();
    let stats = wslbox_rootfs::write_output(
        &tree,
        OutputDest::Writer(Box::new(buf.clone())),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    let streamed = buf.0.lock().unwrap().clone();
    assert_eq!(streamed, fs_err::read(&file).unwrap());
    assert_eq!(stats.output_bytes, streamed.len() as u64);
    wslbox_test::output_check::check_output(&streamed[..]);
    check_structure(&file);
}

#[test]
fn output_replaces_an_existing_file_atomically() {
    let scratch = Scratch::new().unwrap();
    let tree = sample_tree(&scratch);
    let out = scratch.path("rootfs.tar");
    fs_err::write(&out, "old").unwrap();
    wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    assert!(
        oracle::bsdtar_list(&out)
            .unwrap()
            .iter()
            .any(|n| n == "etc/passwd")
    );
    let names: Vec<_> = fs_err::read_dir(scratch.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.to_string_lossy().ends_with(".partial")),
        "temp file left: {names:?}"
    );
}

#[test]
fn corrupt_gzip_layer_fails_naming_the_layer_and_writes_nothing() {
    let scratch = Scratch::new().unwrap();
    let tar = Layer::new()
        .with(Entry::file("f", "x".repeat(100_000)))
        .finish();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::Bytes(tar), Compression::Gzip)],
    );
    corrupt_blob(&l.blob_path(&image.layers[0].digest)).unwrap();
    let err = flatten(&l, &image, &scratch.path("spool")).expect_err("a corrupt layer must fail");
    let msg = err.to_string();
    assert!(msg.contains(&image.layers[0].digest.to_string()), "{msg}");
    assert!(
        matches!(err, wslbox_rootfs::FlattenError::Read { .. }),
        "{err:?}"
    );
}

#[test]
fn disk_full_during_output_leaves_no_file_behind() {
    let scratch = Scratch::new().unwrap();
    let tree = sample_tree(&scratch);
    let small = scratch.path("small-fs");
    fs_err::create_dir_all(&small).unwrap();
    // A 512 KiB tmpfs: the 1.2 MB tar cannot fit.
    tool_ok(
        Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=512k", "tmpfs"])
            .arg(&small),
    );
    let out = small.join("rootfs.tar");
    let result = wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    );
    let left: Vec<_> = fs_err::read_dir(&small)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    tool_ok(Command::new("umount").arg(&small));
    let err = result.expect_err("writing 1.2 MB into 512 KiB must fail");
    assert!(err.to_string().contains("rootfs.tar"), "{err}");
    assert!(
        left.is_empty(),
        "files left behind after a failed write: {left:?}"
    );
}

/// Stops after a few entries, as the binary's reporter does after Ctrl-C.
struct CancelAfter {
    entries: std::sync::atomic::AtomicU64,
    limit: u64,
}

impl wslbox_rootfs::Reporter for CancelAfter {
    fn output_progress(&self, entries: u64, _bytes: u64) {
        self.entries
            .fetch_add(entries, std::sync::atomic::Ordering::Relaxed);
    }
    fn cancelled(&self) -> bool {
        self.entries.load(std::sync::atomic::Ordering::Relaxed) >= self.limit
    }
}

#[test]
fn interrupted_output_keeps_the_old_file_and_leaves_no_partial() {
    let scratch = Scratch::new().unwrap();
    let tree = sample_tree(&scratch);
    let out = scratch.path("rootfs.tar.gz");
    fs_err::write(&out, "old").unwrap();
    let reporter = CancelAfter {
        entries: 0.into(),
        limit: 2,
    };
    let err = wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::TarGz,
        &reporter,
    )
    .unwrap_err();
    assert!(
        matches!(err, wslbox_rootfs::OutputError::Interrupted),
        "{err}"
    );
    assert_eq!(fs_err::read_to_string(&out).unwrap(), "old");
    let names: Vec<_> = fs_err::read_dir(scratch.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.ends_with(".partial")),
        "temp file left: {names:?}"
    );
}
