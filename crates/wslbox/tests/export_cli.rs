//! `wslbox export` as users drive it: `-o -` for `| wsl --import NAME DIR -`, formats chosen by
//! extension, and clear refusals of outputs it cannot produce.

use std::path::Path;

use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, OciLayout, Platform, TarSource};
use wslbox_test::registry_env::CliEnv;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// A small two-layer image with a whiteout, as an `oci:` source.
fn image(dir: &Path) -> String {
    let layout = OciLayout::create(dir).unwrap();
    let base = Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"))
        .with(Entry::file("etc/motd", "hello\n"))
        .finish();
    let top = Layer::new().with(Entry::file("etc/.wh.motd", "")).finish();
    let image = layout
        .add_image(
            &[
                (TarSource::Bytes(base), Compression::Gzip),
                (TarSource::Bytes(top), Compression::Zstd),
            ],
            &Platform::linux("amd64"),
        )
        .unwrap();
    layout.write_index(&[image.tagged("latest")]).unwrap();
    format!("oci:{}:latest", dir.display())
}

#[test]
fn stdout_output_is_the_same_tar_as_a_file_and_keeps_stdout_clean() {
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let source = image(&work.path().join("layout"));
    let file = work.path().join("rootfs.tar");
    env.run(&["export", &source, "--raw", "-o", file.to_str().unwrap()])
        .success();

    let piped = env
        .command(&["export", &source, "--raw", "-o", "-"])
        .output()
        .unwrap();
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    // Every byte on stdout is the tar: the summary went to stderr.
    assert_eq!(piped.stdout, fs_err::read(&file).unwrap());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(stderr.contains("Exported "), "summary on stderr: {stderr}");

    let names = wslbox_test::oracle::bsdtar_list(&file).unwrap();
    assert!(names.iter().any(|n| n == "etc/passwd"), "{names:?}");
    assert!(
        !names.iter().any(|n| n.contains("motd")),
        "whited out: {names:?}"
    );
}

#[test]
fn unknown_output_extension_is_refused_with_the_known_ones() {
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let source = image(&work.path().join("layout"));
    let out = work.path().join("rootfs.zip");
    let outcome = env.run(&["export", &source, "-o", out.to_str().unwrap()]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(".tar, .tar.gz, .tar.xz or .wsl")
            && outcome.stderr.contains("--format"),
        "{outcome}"
    );
    assert!(!out.exists());
}

#[test]
fn dot_wsl_to_stdout_is_refused() {
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let source = image(&work.path().join("layout"));
    let outcome = env.run(&["export", &source, "--format", "wsl", "-o", "-"]);
    outcome.failure();
    assert!(outcome.stderr.contains("-o NAME.wsl"), "{outcome}");
}

/// A pipe whose reader is gone, as after `| head -c 100` has read what it wanted.
fn closed_pipe() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    writer
}

#[test]
fn stdout_output_to_a_reader_that_went_away_is_an_error_not_a_cut_archive_passed_off_as_whole() {
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let source = image(&work.path().join("layout"));
    let output = env
        .command(&["export", &source, "-o", "-"])
        .stdout(closed_pipe())
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("error:"), "{stderr}");
    assert!(
        stderr.contains("writing standard output: Broken pipe")
            && stderr.contains("the program reading it stopped before the end"),
        "{stderr}"
    );
}
