//! Lying registries, part two: a token server that resets, layers no honest build makes (gzip
//! with garbage after its end, a bomb that inflates 1000×). Each case checks what the user
//! sees and that nothing is left behind.

use std::io::Write as _;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest as _, Sha256};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::{CliEnv, Outcome};
use wslbox_test::registry_fixture::{ImageSpec, RawLayer, sha256_digest};
use wslbox_test::skopeo::PushOptions;
use wslbox_test::token_server::{TokenPolicy, TokenServer};

const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// Exports `reference` to `dir/app.tar`; returns the outcome and what `dir` holds afterwards.
fn export_into(env: &CliEnv, reference: &str, dir: &Path) -> (Outcome, Vec<String>) {
    let dest = dir.join("app.tar");
    let outcome = env.run(&["export", reference, "-o", dest.to_str().unwrap()]);
    let left = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (outcome, left)
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

fn token_registry() -> (TokenServer, Registry) {
    let tokens = TokenServer::start(TokenPolicy::default());
    let registry = Registry::start(Auth::token(&tokens));
    registry.push_image(
        "public/app:v1",
        &ImageSpec::small("amd64"),
        &PushOptions::default(),
    );
    (tokens, registry)
}

#[test]
fn a_connection_reset_on_the_token_request_is_retried() {
    let (tokens, registry) = token_registry();
    tokens.reset_next(1);
    let env = cli();
    let out = tempfile::tempdir().unwrap();
    let (outcome, left) = export_into(&env, &registry.image("public/app:v1"), out.path());
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    assert_eq!(tokens.resets(), 1, "the token request was reset once");
    env.assert_cache_consistent();
}

#[test]
fn a_token_server_that_always_resets_is_named_in_one_line_with_the_fix() {
    let (tokens, registry) = token_registry();
    tokens.reset_next(usize::MAX);
    let env = cli();
    let out = tempfile::tempdir().unwrap();
    let (outcome, left) = export_into(&env, &registry.image("public/app:v1"), out.path());
    outcome.failure();
    assert!(left.is_empty(), "left behind: {left:?}\n{outcome}");
    let realm = tokens.realm();
    assert!(tokens.resets() > 1, "retried before giving up");
    assert!(
        outcome.stderr.contains(&realm),
        "names the token service:\n{outcome}"
    );
    assert!(
        outcome.stderr.contains(&registry.host()),
        "names the registry:\n{outcome}"
    );
    assert!(!outcome.stderr.contains("panicked"), "{outcome}");
    env.assert_cache_consistent();
}

/// Bytes after the end of a layer's gzip stream are ignored, as Docker ignores them (moby's
/// `layer_store.go`, `applyTar`, discards the trailing data): the blob's digest covers them, the
/// tar ends before them, so they cannot change what is extracted; NUL padding of this kind is
/// found in real images. A valid gzip member after the tar's end marker is read and ignored the
/// same way: nothing after the end of the archive becomes part of the root filesystem.
#[test]
fn gzip_garbage_after_a_valid_layer_stream_is_ignored_and_cannot_add_content() {
    let registry = Registry::start(Auth::None);
    let tar = Layer::new()
        .with_all([Entry::file("srv/hello.txt", "hello\n")])
        .finish();
    let extra = Layer::new()
        .with_all([Entry::file("srv/smuggled.txt", "not in the image\n")])
        .finish();
    let env = cli();
    for (tag, trailer) in [
        (
            "garbage",
            b"these bytes are not gzip, and no honest build writes them".to_vec(),
        ),
        ("padding", vec![0u8; 4096]),
        ("member", gzip(&extra)),
    ] {
        let mut bytes = gzip(&tar);
        bytes.extend_from_slice(&trailer);
        let layer = RawLayer {
            media_type: GZIP_LAYER.to_owned(),
            diff_id: sha256_digest(&tar),
            bytes,
        };
        let reference = format!("app:{tag}");
        registry.push_raw_image(&reference, &ImageSpec::small("amd64"), &[layer]);
        let out = tempfile::tempdir().unwrap();
        let (outcome, left) = export_into(&env, &registry.image(&reference), out.path());
        outcome.success();
        assert_eq!(left, ["app.tar"], "{tag}");
        let mut names = Vec::new();
        let mut archive =
            tar::Archive::new(fs_err::File::open(out.path().join("app.tar")).unwrap());
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().display().to_string();
            if name.ends_with("hello.txt") {
                let mut body = String::new();
                std::io::Read::read_to_string(&mut entry, &mut body).unwrap();
                assert_eq!(body, "hello\n", "{tag}");
            }
            names.push(name);
        }
        assert!(
            names.iter().any(|n| n.ends_with("srv/hello.txt")),
            "{tag}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.contains("smuggled")),
            "{tag}: {names:?}"
        );
        assert!(!outcome.stderr.contains("panicked"), "{outcome}");
    }
    env.assert_cache_consistent();
}

/// A tmpfs of `size` mounted at a fresh directory, unmounted on drop (the tests run as root,
/// as the oracle tests do).
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("run mount");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (the test suite runs as root: scripts/test)"
        );
        Tmpfs(dir)
    }

    fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// A gzip layer holding one file of `len` zero bytes, made without holding either in memory:
/// the blob and the tar's digest (its diff_id).
fn zero_bomb(len: u64) -> (Vec<u8>, String) {
    let mut header = tar::Header::new_gnu();
    header.set_path("srv/zeros").unwrap();
    header.set_size(len);
    header.set_mode(0o644);
    header.set_cksum();
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    let mut sha = Sha256::new();
    let mut put = |bytes: &[u8]| {
        gz.write_all(bytes).unwrap();
        sha.update(bytes);
    };
    put(header.as_bytes());
    let chunk = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        put(&chunk[..n]);
        left -= n as u64;
    }
    // The file is a whole number of 512-byte blocks; two zero blocks end the archive.
    put(&[0u8; 1024]);
    let blob = gz.finish().unwrap();
    (blob, format!("sha256:{}", hex::encode(sha.finalize())))
}

#[test]
fn a_layer_that_inflates_1000x_stops_when_the_disk_fills_and_leaves_nothing() {
    let registry = Registry::start(Auth::None);
    let (bytes, diff_id) = zero_bomb(256 << 20);
    assert!(
        bytes.len() * 1000 < (256 << 20) + 2048,
        "a 1000x bomb: {} bytes",
        bytes.len()
    );
    let layer = RawLayer {
        media_type: GZIP_LAYER.to_owned(),
        bytes,
        diff_id,
    };
    registry.push_raw_image("app:bomb", &ImageSpec::small("amd64"), &[layer]);
    let disk = Tmpfs::mount("16m");
    let env = cli();
    let (outcome, left) = export_into(&env, &registry.image("app:bomb"), disk.path());
    outcome.failure();
    assert!(left.is_empty(), "left behind: {left:?}\n{outcome}");
    let dest = disk.path().join("app.tar");
    assert!(
        outcome.stderr.contains(&dest.display().to_string()),
        "names the output:\n{outcome}"
    );
    assert!(
        outcome.stderr.to_lowercase().contains("no space left"),
        "says the disk is full:\n{outcome}"
    );
    assert!(
        outcome
            .stderr
            .contains("write the output to another disk with -o PATH"),
        "says what to do:\n{outcome}"
    );
    // The tmpfs is empty again: the unnamed output went with the process.
    let df = std::process::Command::new("df")
        .args(["--output=used", "-B1"])
        .arg(disk.path())
        .output()
        .unwrap();
    let used: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap();
    assert!(used < 1 << 20, "{used} bytes still used on the tmpfs");
    env.assert_cache_consistent();
}
