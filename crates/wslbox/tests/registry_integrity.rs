//! What `wslbox pull` must refuse or survive: blobs corrupted in registry storage, manifests
//! that do not match their digest, redirects to another host (no `Authorization` may follow),
//! and two processes pulling into one cache at once. An export that reads a corrupt layer
//! while it still downloads must fail the same way.

use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::CliEnv;
use wslbox_test::registry_fixture::{ImageSpec, noise, sha256_digest as sha256};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::shaper::{Shaper, ShaperOptions};
use wslbox_test::skopeo::PushOptions;
use wslbox_test::token_server::{TokenPolicy, TokenServer};

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

#[test]
fn corrupted_blob_in_registry_storage_is_rejected_and_not_cached() {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(11, 256 * 1024))]];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    let layer = &image.layers[0];
    let data = registry.blob_data_path(&layer.digest);
    let original = fs_err::read(&data).unwrap();
    let mut corrupted = original.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    fs_err::write(&data, &corrupted).unwrap();
    let computed = sha256(&corrupted);

    let env = cli();
    let reference = registry.image("app:v1");
    let outcome = env.run(&["pull", &reference]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&layer.digest),
        "the error should name the expected digest:\n{outcome}"
    );
    assert!(
        outcome.stderr.contains(&computed),
        "the error should name the computed digest:\n{outcome}"
    );
    env.assert_cache_consistent();
    for path in env.cache_files() {
        assert_ne!(
            fs_err::read(&path).unwrap(),
            corrupted,
            "corrupt bytes left in {}",
            path.display()
        );
    }

    fs_err::write(&data, &original).unwrap();
    env.run(&["pull", &reference]).success();
    env.assert_cache_consistent();
    assert_eq!(env.cache_entries_named(&layer.digest).len(), 1);
}

/// Pushes `app:v1`, one layer of `files`, corrupts a byte early in that layer's blob in the
/// registry's storage (so the flattener has long read past it when the digest is checked), and
/// puts a 1 MB/s link in front. Returns the layer's descriptor, the corrupt blob's digest and
/// the link.
fn corrupt_behind_a_slow_link(
    registry: &Registry,
    files: Vec<(String, Vec<u8>)>,
) -> (wslbox_test::registry_fixture::Blob, String, Shaper) {
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![files];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    let layer = image.layers[0].clone();
    let data = registry.blob_data_path(&layer.digest);
    let mut corrupted = fs_err::read(&data).unwrap();
    corrupted[1000] ^= 0xff;
    fs_err::write(&data, &corrupted).unwrap();
    let shaper = Shaper::start(
        0,
        registry.addr(),
        ShaperOptions {
            per_connection: 1_000_000,
            link: 1_000_000,
            rtt: std::time::Duration::from_millis(2),
        },
    )
    .unwrap();
    (layer, sha256(&corrupted), shaper)
}

/// The download is slowed (about 2 s) so the flattener reads the layer while it arrives,
/// from the cache's partial file, before the digest is checked at the end.
#[test]
fn corrupted_blob_read_while_it_downloads_fails_the_export_without_output() {
    let registry = Registry::start(Auth::None);
    let files = vec![("payload.bin".to_owned(), noise(13, 2 << 20))];
    let (layer, computed, shaper) = corrupt_behind_a_slow_link(&registry, files);

    let env = cli();
    let out = env.root().join("rootfs.tar");
    let reference = format!("{}/app:v1", shaper.addr());
    let outcome = env.run(&["export", &reference, "--raw", "-o", out.to_str().unwrap()]);
    outcome.failure();
    assert!(outcome.stderr.contains(&layer.digest), "{outcome}");
    assert!(outcome.stderr.contains(&computed), "{outcome}");
    assert!(!out.exists(), "no output after a failed export");
    assert!(env.cache_entries_named(&layer.digest).is_empty());
    let partials: Vec<_> = env
        .cache_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "corrupt bytes kept: {partials:?}");
    env.assert_cache_consistent();
}

#[test]
fn corrupt_cached_layer_is_dropped_and_the_next_export_downloads_it_again() {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(12, 256 * 1024))]];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    let layer = &image.layers[0];
    let env = cli();
    let reference = registry.image("app:v1");
    env.run(&["pull", &reference]).success();

    // Same size, one byte flipped: only a re-hash can tell.
    let cached = env.cache_entries_named(&layer.digest);
    assert_eq!(cached.len(), 1, "{cached:?}");
    let mut bytes = fs_err::read(&cached[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    fs_err::write(&cached[0], &bytes).unwrap();
    let computed = sha256(&bytes);

    let out = env.root().join("rootfs.tar");
    let out_arg = out.to_str().unwrap();
    let outcome = env.run(&["export", &reference, "--raw", "-o", out_arg]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&format!(
            "the cached copy of layer {} was corrupt and has been removed",
            layer.digest
        )) && outcome.stderr.contains("run the command again"),
        "{outcome}"
    );
    // The root cause is named, not whatever the corrupt bytes decoded to.
    assert!(outcome.stderr.contains(&computed), "{outcome}");
    assert!(!out.exists(), "no output after a failed export");
    assert!(env.cache_entries_named(&layer.digest).is_empty());
    env.assert_cache_consistent();

    env.run(&["export", &reference, "--raw", "-o", out_arg])
        .success();
    let names = wslbox_test::oracle::bsdtar_list(&out).unwrap();
    assert!(names.iter().any(|n| n == "payload.bin"), "{names:?}");
    assert_eq!(env.cache_entries_named(&layer.digest).len(), 1);
}

/// Pulls through a front that redirects blobs to 127.0.0.2 and checks the CDN got no secret.
fn assert_redirect_carries_no_authorization(
    registry: &Registry,
    name: &str,
    user: &str,
    password: &str,
) {
    let image = registry.push_image(
        &format!("{name}:v1"),
        &ImageSpec::configured(),
        &PushOptions::default(),
    );
    let front = Front::start(
        registry,
        FrontOptions {
            redirect_blobs: true,
            ..FrontOptions::default()
        },
    );
    let env = cli();
    CliEnv::write_auths_file(
        &env.docker_config_dir().join("config.json"),
        &front.host(),
        user,
        password,
    );
    let outcome = env.run(&["pull", &front.image(&format!("{name}:v1"))]);
    outcome.success();
    assert_eq!(
        outcome.stdout_field("Digest: "),
        Some(image.manifest.digest.as_str())
    );
    assert!(
        front
            .forwarded()
            .iter()
            .any(|r| r.header("authorization").is_some()),
        "wslbox never authenticated to the registry; the test proves nothing"
    );
    let cdn = front.cdn_requests();
    for blob in image.layers.iter().chain([&image.config]) {
        let hex = blob.digest.trim_start_matches("sha256:");
        assert!(
            cdn.iter().any(|r| r.target.contains(hex)),
            "{} was not fetched from the CDN: {cdn:?}",
            blob.digest
        );
    }
    for request in &cdn {
        assert_eq!(
            request.header("authorization"),
            None,
            "Authorization leaked to {}: {request:?}",
            front.cdn_addr()
        );
    }
    env.assert_cache_consistent();
}

#[test]
fn redirect_to_another_host_drops_basic_authorization() {
    let registry = Registry::start(Auth::htpasswd("alice", "secret"));
    assert_redirect_carries_no_authorization(&registry, "app", "alice", "secret");
}

#[test]
fn redirect_to_another_host_drops_bearer_authorization() {
    let server = TokenServer::start(TokenPolicy::default());
    let registry = Registry::start(Auth::token(&server));
    assert_redirect_carries_no_authorization(&registry, "private/app", "tokenuser", "tokenpass");
}

#[test]
fn concurrent_pulls_into_one_cache_store_each_blob_once() {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = (0..4)
        .map(|i| vec![(format!("layer{i}.bin"), noise(100 + i, 2 * 1024 * 1024))])
        .collect();
    let image = registry.push_image("big:v1", &spec, &PushOptions::default());
    let env = cli();
    let reference = registry.image("big:v1");
    let children: Vec<_> = (0..2)
        .map(|_| {
            env.command(&["pull", &reference])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "a concurrent pull failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(String::from_utf8_lossy(&output.stdout).contains(&image.manifest.digest));
    }
    env.assert_cache_consistent();
    for blob in image.layers.iter().chain([&image.config]) {
        let entries = env.cache_entries_named(&blob.digest);
        assert_eq!(
            entries.len(),
            1,
            "{} should be cached exactly once: {entries:?}",
            blob.digest
        );
    }
}

#[test]
fn digest_reference_not_in_registry_fails() {
    let registry = Registry::start(Auth::None);
    let image = registry.push_image(
        "app:v1",
        &ImageSpec::small("amd64"),
        &PushOptions::default(),
    );
    let wrong = sha256(b"not a manifest");
    let outcome = cli().run(&["pull", &format!("{}@{wrong}", registry.image("app"))]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&wrong),
        "the error should name the digest:\n{outcome}"
    );
    // A tag next to the wrong digest must not rescue it: the digest wins, as in Docker.
    let outcome = cli().run(&["pull", &format!("{}@{wrong}", registry.image("app:v1"))]);
    outcome.failure();
    assert!(
        !outcome.stdout.contains(&image.manifest.digest),
        "{outcome}"
    );
}

#[test]
fn digest_reference_with_tampered_manifest_fails() {
    let registry = Registry::start(Auth::None);
    let image = registry.push_image(
        "app:v1",
        &ImageSpec::small("amd64"),
        &PushOptions::default(),
    );
    let path = registry.blob_data_path(&image.manifest.digest);
    let text = fs_err::read_to_string(&path).unwrap();
    let marker = r#""org.wslbox.test.mutable":"a""#;
    assert!(
        text.contains(marker),
        "fixture manifest lacks the mutable annotation: {text}"
    );
    let tampered = text.replace(marker, r#""org.wslbox.test.mutable":"b""#);
    fs_err::write(&path, &tampered).unwrap();

    let outcome = cli().run(&[
        "pull",
        &format!("{}@{}", registry.image("app"), image.manifest.digest),
    ]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&image.manifest.digest),
        "the error should name the requested digest:\n{outcome}"
    );
    assert!(
        outcome.stderr.contains(&sha256(tampered.as_bytes())),
        "the error should name the served digest:\n{outcome}"
    );
}

#[test]
fn interrupted_blob_download_resumes_with_range() {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(21, 512 * 1024))]];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    let layer = image.layers[0].clone();
    let cut = 100_000;
    let front = Front::start(
        &registry,
        FrontOptions {
            truncate_blob: Some((layer.digest.clone(), cut)),
            ..FrontOptions::default()
        },
    );
    let env = cli();
    let outcome = env.run(&["pull", &front.image("app:v1")]);
    outcome.success();
    let hex = layer.digest.trim_start_matches("sha256:");
    let gets: Vec<_> = front
        .forwarded()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains(hex))
        .collect();
    assert!(
        gets.len() >= 2,
        "the cut download was never retried: {gets:?}"
    );
    let range = gets[1..]
        .iter()
        .find_map(|r| r.header("range").map(str::to_owned));
    let range = range.unwrap_or_else(|| panic!("the retry did not resume with Range: {gets:?}"));
    let start: u64 = range
        .strip_prefix("bytes=")
        .and_then(|r| r.split('-').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected Range header {range:?}"));
    assert!(
        start > 0 && start <= cut,
        "resumed at {start}, but {cut} bytes had arrived"
    );
    env.assert_cache_consistent();
    assert_eq!(env.cache_entries_named(&layer.digest).len(), 1);
}

/// A layer above the chunk threshold (8 MiB) comes from the real registry in bounded ranges
/// over several connections, and the cached blob is the registry's, byte for byte.
/// With `-o -`, the layer's files go to stdout while it downloads; when its digest then fails,
/// what went out must not pass for a whole archive (bsdtar, which `wsl --import` runs,
/// accepts one cut off between entries).
#[test]
fn corrupted_blob_streamed_to_stdout_leaves_an_archive_no_tar_accepts() {
    let registry = Registry::start(Auth::None);
    let files = vec![
        ("payload.bin".to_owned(), noise(17, 1 << 20)),
        ("second.bin".to_owned(), noise(18, 1 << 20)),
    ];
    let (layer, _, shaper) = corrupt_behind_a_slow_link(&registry, files);

    let env = cli();
    let reference = format!("{}/app:v1", shaper.addr());
    let out = env
        .command(&["export", &reference, "--raw", "-o", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&layer.digest), "{stderr}");
    assert!(
        out.stdout.len() > 1 << 20,
        "the first file went out while the layer downloaded ({} bytes)",
        out.stdout.len()
    );
    for tool in ["bsdtar", "tar"] {
        let mut child = std::process::Command::new(tool)
            .args(["-tf", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        use std::io::Write;
        let _ = child.stdin.take().unwrap().write_all(&out.stdout);
        assert!(
            !child.wait().unwrap().success(),
            "{tool} took the failed export's stdout for a complete archive"
        );
    }
    assert!(env.cache_entries_named(&layer.digest).is_empty());
    env.assert_cache_consistent();

    // `--no-stream` writes nothing before every layer is verified.
    let out = env
        .command(&["export", &reference, "--raw", "--no-stream", "-o", "-"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains(&layer.digest), "{stderr}");
    assert!(out.stdout.is_empty(), "{} bytes went out", out.stdout.len());
}

#[test]
fn big_layer_is_fetched_in_bounded_ranges_and_cached_byte_exact() {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(31, 10 << 20))]];
    let image = registry.push_image("big:v1", &spec, &PushOptions::default());
    let layer = image.layers[0].clone();
    assert!(
        layer.size > 8 << 20,
        "the layer must be above the threshold"
    );
    let front = Front::start(&registry, FrontOptions::default());
    let env = cli();
    env.run(&["pull", "--jobs", "3", &front.image("big:v1")])
        .success();

    let hex = layer.digest.trim_start_matches("sha256:");
    let mut ranges: Vec<(u64, u64)> = front
        .forwarded()
        .into_iter()
        .filter(|r| r.method == "GET" && r.target.contains(hex))
        .map(|r| {
            let range = r
                .header("range")
                .expect("every layer GET is a range")
                .to_owned();
            let (start, end) = range
                .strip_prefix("bytes=")
                .and_then(|r| r.split_once('-'))
                .unwrap_or_else(|| panic!("unexpected Range header {range:?}"));
            let end = end
                .parse()
                .unwrap_or_else(|_| panic!("open-ended range {range:?}"));
            (start.parse().unwrap(), end)
        })
        .collect();
    ranges.sort();
    assert!(ranges.len() >= 3, "{ranges:?}");
    // The ranges tile the blob: no gap, no overlap, nothing past its end.
    let mut next = 0;
    for &(start, end) in &ranges {
        assert_eq!(start, next, "{ranges:?}");
        next = end + 1;
    }
    assert_eq!(next, layer.size, "{ranges:?}");

    env.assert_cache_consistent();
    let cached = env.cache_entries_named(&layer.digest);
    assert_eq!(cached.len(), 1);
    let stored = fs_err::read(registry.blob_data_path(&layer.digest)).unwrap();
    assert!(
        fs_err::read(&cached[0]).unwrap() == stored,
        "cached blob differs"
    );
}
