//! Ctrl-C while the output is being written: the process stops with 130, the destination keeps
//! what it had, and no partial file is left next to it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, OciLayout, Platform, TarSource};
use wslbox_test::registry_env::CliEnv;

/// Incompressible bytes, so xz takes seconds over them: time enough to interrupt.
fn noise(len: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn ctrl_c_during_output_leaves_the_old_file_and_no_partial() {
    let env = CliEnv::new(env!("CARGO_BIN_EXE_wslbox"));
    let work = tempfile::tempdir().unwrap();
    let layout = OciLayout::create(work.path().join("layout")).unwrap();
    let layer = Layer::new()
        .with(Entry::dir("data"))
        .with(Entry::file("data/noise", noise(48 << 20)))
        .finish();
    let image = layout
        .add_image(
            &[(TarSource::Bytes(layer), Compression::Gzip)],
            &Platform::linux("amd64"),
        )
        .unwrap();
    layout.write_index(&[image.tagged("latest")]).unwrap();
    let out = work.path().join("rootfs.tar.xz");
    fs_err::write(&out, "previous export").unwrap();

    let source = format!("oci:{}:latest", work.path().join("layout").display());
    let mut child = env
        .command(&["export", &source, "--raw", "-o", out.to_str().unwrap()])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // Interrupt once the output stage has begun (plain progress lines name it).
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if line.starts_with("Writing ") {
            break;
        }
        line.clear();
    }
    assert!(
        seen.contains("Writing "),
        "never reached the output stage: {seen}"
    );
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    let status = child.wait().unwrap();

    assert_eq!(status.code(), Some(130), "stderr: {seen}{rest}");
    assert!(rest.contains("interrupted"), "stderr: {rest}");
    assert_eq!(fs_err::read_to_string(&out).unwrap(), "previous export");
    let leftovers: Vec<String> = fs_err::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "left behind: {leftovers:?}");
}
