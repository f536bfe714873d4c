//! The image store through the CLI, against a real `docker-registry`: `images` (text, JSON,
//! `--check`), `rmi`, `prune` (with a second process pulling, and after a kill), the fast
//! `inspect`, and corrupt records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::CliEnv;
use wslbox_test::registry_fixture::{Image, ImageSpec, noise};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::skopeo::PushOptions;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

const OS_RELEASE: &str =
    "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";

/// An image that exports as a (tiny) Alpine: os-release, a shell, passwd; plus `extra` files
/// in a second layer.
fn alpine_like(extra: Vec<(String, Vec<u8>)>) -> ImageSpec {
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![
        ("etc/os-release".into(), OS_RELEASE.as_bytes().to_vec()),
        ("bin/sh".into(), b"#!shell\n".to_vec()),
        (
            "etc/passwd".into(),
            b"root:x:0:0:root:/root:/bin/sh\n".to_vec(),
        ),
    ]];
    if !extra.is_empty() {
        spec.layers.push(extra);
    }
    spec
}

fn push(registry: &Registry, reference: &str, spec: &ImageSpec) -> Image {
    registry.push_image(reference, spec, &PushOptions::default())
}

fn images_json(env: &CliEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["images", "--json"];
    args.extend(extra);
    let out = env.run(&args);
    out.success();
    out.json()
        .as_array()
        .expect("images --json prints an array")
        .clone()
}

/// Every committed blob in the cache, as `sha256:<hex>`.
fn cached_blobs(env: &CliEnv) -> BTreeSet<String> {
    let dir = env.cache_dir().join("blobs-v1/sha256");
    fs_err::read_dir(dir)
        .map(|entries| {
            entries
                .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
                .collect()
        })
        .unwrap_or_default()
}

fn image_blobs(image: &Image) -> BTreeSet<String> {
    let mut set: BTreeSet<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
    set.insert(image.manifest.digest.clone());
    set.insert(image.config.digest.clone());
    set
}

fn partials(env: &CliEnv) -> Vec<PathBuf> {
    fs_err::read_dir(env.cache_dir().join("tmp-v1"))
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "partial"))
                .filter(|p| fs_err::metadata(p).is_ok_and(|m| m.len() > 0))
                .collect()
        })
        .unwrap_or_default()
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn(env: &CliEnv, args: &[&str]) -> Child {
    env.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn images_lists_pulls_and_exports_with_os_facts_in_text_and_json() {
    let registry = Registry::start(Auth::None);
    let image = push(&registry, "alp:3.20", &alpine_like(vec![]));
    let env = cli();
    let reference = registry.image("alp:3.20");
    env.run(&["pull", &reference]).success();

    let listed = images_json(&env, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let item = &listed[0];
    assert_eq!(item["kind"], "registry");
    assert_eq!(item["reference"], reference);
    assert_eq!(item["typed"], reference);
    assert_eq!(item["repository"], registry.image("alp"));
    assert_eq!(item["tag"], "3.20");
    assert_eq!(item["manifest_digest"], image.manifest.digest);
    assert_eq!(item["digest"], image.manifest.digest);
    assert_eq!(item["config_digest"], image.config.digest);
    assert_eq!(item["platform"], "linux/amd64");
    let layer_bytes: u64 = image.layers.iter().map(|l| l.size).sum();
    assert_eq!(item["compressed_size"], layer_bytes);
    assert!(item["os"].is_null(), "a pull reads no layer: {item}");
    assert!(item["pulled"].as_str().unwrap().ends_with('Z'), "{item}");
    assert_eq!(item["distributions"], serde_json::json!([]));

    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("alp.tar");
    env.run(&["export", &reference, "-o", out.to_str().unwrap()])
        .success();
    let item = &images_json(&env, &[])[0];
    assert_eq!(item["os"]["id"], "alpine");
    assert_eq!(item["os"]["name"], "Alpine Linux");
    assert_eq!(item["os"]["version_id"], "3.20.3");
    assert_eq!(item["os"]["pretty_name"], "Alpine Linux v3.20");
    assert_eq!(
        item["rootfs_size"],
        (OS_RELEASE.len() + 8 + 30) as u64,
        "the bytes of the three files: {item}"
    );
    assert!(item["warnings"].is_array(), "{item}");

    let text = env.run(&["images"]);
    text.success();
    let lines: Vec<&str> = text.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for column in [
        "REPOSITORY",
        "TAG",
        "DIGEST",
        "OS",
        "RELEASE",
        "SIZE",
        "PULLED",
    ] {
        assert!(lines[0].contains(column), "{text}");
    }
    let hex = &image.manifest.digest["sha256:".len()..];
    for cell in [
        registry.image("alp").as_str(),
        "3.20",
        &hex[..12],
        "Alpine Linux",
        "3.20.3",
        "just now",
    ] {
        assert!(lines[1].contains(cell), "`{cell}` missing:\n{text}");
    }
    let col = lines[0].find("RELEASE").unwrap();
    assert_eq!(lines[1].find("3.20.3"), Some(col), "columns align:\n{text}");

    // A filter by name (every tag), and one that matches nothing.
    assert_eq!(images_json(&env, &[&registry.image("alp")]).len(), 1);
    assert!(images_json(&env, &[&registry.image("other")]).is_empty());
}

#[test]
fn a_tarball_is_recorded_by_its_checksum() {
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("rootfs.tar");
    let body = wslbox_test::layers::Layer::new()
        .with(wslbox_test::layers::Entry::file(
            "etc/os-release",
            OS_RELEASE,
        ))
        .with(wslbox_test::layers::Entry::file("bin/sh", "#!shell\n"))
        .finish();
    fs_err::write(&tar, &body).unwrap();
    let out = work.path().join("out.tar");
    let source = format!("tarball:{}", tar.display());
    env.run(&["export", &source, "-o", out.to_str().unwrap()])
        .success();
    let listed = images_json(&env, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let item = &listed[0];
    assert_eq!(item["kind"], "tarball");
    assert_eq!(item["reference"], source);
    let sha = wslbox_test::registry_fixture::sha256_digest(&body);
    assert_eq!(item["sha256"], sha);
    assert_eq!(item["digest"], sha);
    assert_eq!(item["compressed_size"], body.len() as u64);
    assert_eq!(item["os"]["id"], "alpine");
    assert!(
        item["repository"].is_null() && item["tag"].is_null(),
        "{item}"
    );

    // The same content under another name is the same record, now under the new name.
    let moved = work.path().join("moved.tar");
    fs_err::rename(&tar, &moved).unwrap();
    let moved_source = format!("tarball:{}", moved.display());
    env.run(&["export", &moved_source, "-o", out.to_str().unwrap()])
        .success();
    let listed = images_json(&env, &[]);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["reference"], moved_source);
    // And `rmi` takes it by that reference.
    env.run(&["rmi", &moved_source]).success();
    assert!(images_json(&env, &[]).is_empty());
}

#[test]
fn check_says_current_then_outdated_then_unknown_with_heads_only() {
    let registry = Registry::start(Auth::None);
    push(&registry, "app:1", &alpine_like(vec![]));
    let front = Front::start(&registry, FrontOptions::default());
    let env = cli();
    let reference = front.image("app:1");
    env.run(&["pull", &reference]).success();

    let before = front.forwarded().len();
    let item = &images_json(&env, &["--check"])[0];
    assert_eq!(item["check"]["status"], "current", "{item}");
    assert_eq!(item["check"]["remote_digest"], item["manifest_digest"]);
    let asked: Vec<_> = front.forwarded()[before..]
        .iter()
        .filter(|r| r.target != "/v2/")
        .map(|r| (r.method.clone(), r.target.clone()))
        .collect();
    assert_eq!(
        asked,
        [("HEAD".to_string(), "/v2/app/manifests/1".to_string())],
        "--check sends one HEAD and downloads nothing"
    );
    let text = env.run(&["images", "--check"]);
    text.success();
    assert!(
        text.stdout.lines().nth(1).unwrap().ends_with("current"),
        "{text}"
    );

    let newer = push(
        &registry,
        "app:1",
        &alpine_like(vec![("etc/new".into(), b"v2\n".to_vec())]),
    );
    let item = &images_json(&env, &["--check"])[0];
    assert_eq!(item["check"]["status"], "outdated", "{item}");
    assert_eq!(item["check"]["remote_digest"], newer.manifest.digest);
    assert!(item["check"]["reason"].is_null());

    drop(front);
    drop(registry);
    let item = &images_json(&env, &["--check"])[0];
    assert_eq!(item["check"]["status"], "unknown", "{item}");
    assert_eq!(item["check"]["reason"], "offline", "{item}");
    assert!(
        item["check"]["message"]
            .as_str()
            .unwrap()
            .contains("could not connect"),
        "{item}"
    );
    let text = env.run(&["images", "--check"]);
    text.success();
    assert!(text.stdout.contains("unknown (offline)"), "{text}");
}

#[test]
fn check_reports_unauthorized_without_credentials() {
    let registry = Registry::start(Auth::htpasswd("alice", "s3cret"));
    push(&registry, "private:1", &alpine_like(vec![]));
    let env = cli();
    let reference = registry.image("private:1");
    env.run_with_stdin(
        &["login", &registry.host(), "-u", "alice", "--password-stdin"],
        "s3cret",
    )
    .success();
    env.run(&["pull", &reference]).success();
    env.run(&["logout", &registry.host()]).success();
    let item = &images_json(&env, &["--check"])[0];
    assert_eq!(item["check"]["status"], "unknown", "{item}");
    assert_eq!(item["check"]["reason"], "unauthorized", "{item}");
}

#[test]
fn rmi_frees_exactly_the_blobs_nothing_else_needs() {
    let registry = Registry::start(Auth::None);
    let shared = vec![("usr/share/big".to_string(), noise(3, 64 << 10))];
    let one = push(&registry, "app:1", &alpine_like(shared.clone()));
    let mut spec_two = alpine_like(shared);
    spec_two
        .layers
        .push(vec![("etc/two".into(), b"2\n".to_vec())]);
    let two = push(&registry, "app:2", &spec_two);
    assert_eq!(
        one.layers[1].digest, two.layers[1].digest,
        "fixture shares a layer"
    );

    let env = cli();
    env.run(&["pull", &registry.image("app:1")]).success();
    env.run(&["pull", &registry.image("app:2")]).success();
    let all = cached_blobs(&env);
    assert_eq!(all, &image_blobs(&one) | &image_blobs(&two));

    let missing = env.run(&["rmi", &registry.image("app:3"), &registry.image("app:1")]);
    missing.failure();
    assert!(missing.stderr.contains("no image matches"), "{missing}");
    assert_eq!(cached_blobs(&env), all, "a bad argument removes nothing");

    let out = env.run(&["rmi", "--json", &registry.image("app:1")]);
    out.success();
    let report = out.json();
    let freed: BTreeSet<String> = report["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = &image_blobs(&one) - &image_blobs(&two);
    assert_eq!(freed, expected, "{report}");
    assert_eq!(cached_blobs(&env), image_blobs(&two));
    let freed_bytes: u64 = report["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(report["bytes"], freed_bytes);
    let listed = images_json(&env, &[]);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["tag"], "2");
    // What is left still exports from the cache.
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("two.tar");
    env.run(&[
        "export",
        &registry.image("app:2"),
        "--raw",
        "-o",
        tar.to_str().unwrap(),
    ])
    .success();
}

/// A registry whose blobs trickle, so a pull is still running while the test acts.
fn slow_setup(layer_kib: usize) -> (Registry, Front, Image) {
    let registry = Registry::start(Auth::None);
    let image = push(
        &registry,
        "slow:1",
        &alpine_like(vec![("srv/blob".into(), noise(9, layer_kib << 10))]),
    );
    let front = Front::start(
        &registry,
        FrontOptions {
            blob_bytes_per_second: Some(128 << 10),
            ..FrontOptions::default()
        },
    );
    (registry, front, image)
}

#[test]
fn prune_waits_for_a_concurrent_pull_and_keeps_what_it_recorded() {
    let (_registry, front, image) = slow_setup(768);
    let env = cli();
    // Something prune may remove: a blob no record names (what an older wslbox left).
    let stray = noise(1, 1000);
    let stray_digest = wslbox_test::registry_fixture::sha256_digest(&stray);
    let blobs = env.cache_dir().join("blobs-v1/sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    fs_err::write(blobs.join(&stray_digest["sha256:".len()..]), &stray).unwrap();

    let pull = spawn(&env, &["pull", &front.image("slow:1")]);
    wait_for("the pull to start a layer download", || {
        !partials(&env).is_empty()
    });
    let prune = env.run(&["prune", "--json"]);
    let pulled = pull.wait_with_output().unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    prune.success();
    assert!(
        prune.stderr.contains("waiting for other wslbox processes"),
        "prune said it waited: {prune}"
    );
    let report = prune.json();
    let removed: Vec<&str> = report["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["digest"].as_str().unwrap())
        .collect();
    assert_eq!(removed, [stray_digest.as_str()], "{report}");
    assert_eq!(report["bytes"], 1000);
    assert_eq!(
        cached_blobs(&env),
        image_blobs(&image),
        "the pull's blobs all stay"
    );
    assert_eq!(images_json(&env, &[]).len(), 1);
}

#[test]
fn rmi_waits_for_a_concurrent_export_of_another_image() {
    let (registry, front, slow) = slow_setup(512);
    let quick = push(&registry, "quick:1", &alpine_like(vec![]));
    let env = cli();
    env.run(&["pull", &front.image("quick:1")]).success();
    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("slow.tar");
    let export = spawn(
        &env,
        &[
            "export",
            &front.image("slow:1"),
            "--raw",
            "-o",
            tar.to_str().unwrap(),
        ],
    );
    wait_for("the export to start downloading", || {
        !partials(&env).is_empty()
    });
    let rmi = env.run(&["rmi", &front.image("quick:1")]);
    let exported = export.wait_with_output().unwrap();
    assert!(
        exported.status.success(),
        "{}",
        String::from_utf8_lossy(&exported.stderr)
    );
    rmi.success();
    assert!(
        rmi.stderr.contains("waiting for other wslbox processes"),
        "{rmi}"
    );
    // The two share their base layer, which stays with slow:1.
    assert_eq!(
        cached_blobs(&env),
        image_blobs(&slow),
        "only quick:1's own blobs went"
    );
    assert!(!cached_blobs(&env).contains(&quick.manifest.digest));
}

#[test]
fn prune_removes_the_interrupted_download_of_a_killed_pull() {
    let (_registry, front, image) = slow_setup(1024);
    let env = cli();
    let mut pull = spawn(&env, &["pull", &front.image("slow:1")]);
    wait_for("part of the layer to arrive", || {
        partials(&env)
            .iter()
            .any(|p| fs_err::metadata(p).is_ok_and(|m| m.len() > 64 << 10))
    });
    pull.kill().unwrap();
    pull.wait().unwrap();
    let left = partials(&env);
    assert_eq!(left.len(), 1, "{left:?}");
    let size = fs_err::metadata(&left[0]).unwrap().len();

    let dry = env.run(&["prune", "--dry-run", "--json"]);
    dry.success();
    let report = dry.json();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["partials"][0]["bytes"], size, "{report}");
    assert!(left[0].exists(), "a dry run removes nothing");

    let done = env.run(&["prune"]);
    done.success();
    assert!(
        done.stdout.contains("Removed interrupted download sha256:"),
        "{done}"
    );
    assert!(!left[0].exists());
    assert!(
        images_json(&env, &[]).is_empty(),
        "the killed pull recorded nothing"
    );

    env.run(&["pull", &front.image("slow:1")]).success();
    assert_eq!(cached_blobs(&env), image_blobs(&image));
}

#[test]
fn inspect_reads_no_layer_and_knows_the_os_once_exported() {
    let registry = Registry::start(Auth::None);
    let image = push(
        &registry,
        "big:1",
        &alpine_like(vec![("srv/blob".into(), noise(5, 256 << 10))]),
    );
    let front = Front::start(&registry, FrontOptions::default());
    let env = cli();
    let reference = front.image("big:1");
    let cold = env.run(&["inspect", "--json", &reference]);
    cold.success();
    let blob_gets: Vec<String> = front
        .forwarded()
        .iter()
        .filter(|r| r.method == "GET" && r.target.contains("/blobs/"))
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(
        blob_gets,
        [format!("/v2/big/blobs/{}", image.config.digest)],
        "only the config blob is downloaded"
    );
    let json = cold.json();
    assert_eq!(json["manifest_digest"], image.manifest.digest);
    assert!(json["os"].is_null() && json["warnings"].is_null(), "{json}");
    assert!(json["facts_from"].is_null());
    let text = env.run(&["inspect", &reference]);
    text.success();
    assert!(text.stderr.contains("inspect --deep"), "{text}");

    let work = tempfile::tempdir().unwrap();
    let tar = work.path().join("big.tar");
    env.run(&["export", &reference, "-o", tar.to_str().unwrap()])
        .success();
    let known = env.run(&["inspect", "--json", &reference]);
    known.success();
    let json = known.json();
    assert_eq!(json["os"]["id"], "alpine", "{json}");
    assert_eq!(json["facts_from"], "store");
    assert!(json["warnings"].is_array());

    let fresh = cli();
    let deep = fresh.run(&["inspect", "--deep", "--json", &reference]);
    deep.success();
    let json = deep.json();
    assert_eq!(json["os"]["id"], "alpine", "{json}");
    assert_eq!(json["facts_from"], "layers");
    let recorded = images_json(&fresh, &[]);
    assert_eq!(
        recorded[0]["os"]["version_id"], "3.20.3",
        "deep inspect records: {recorded:?}"
    );
}

fn record_files(cache: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(cache.join("images-v1/records"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect()
}

#[test]
fn a_corrupt_record_is_reported_and_rebuilt_by_the_next_pull() {
    let registry = Registry::start(Auth::None);
    push(&registry, "app:1", &alpine_like(vec![]));
    let env = cli();
    let reference = registry.image("app:1");
    env.run(&["pull", &reference]).success();
    let files = record_files(&env.cache_dir());
    assert_eq!(files.len(), 1);
    fs_err::write(&files[0], b"{\"version\": 1, \"kind\": \"regis").unwrap();

    let listed = env.run(&["images"]);
    listed.success();
    assert!(
        listed.stderr.contains(&files[0].display().to_string())
            && listed.stderr.contains("rebuilt the next time"),
        "{listed}"
    );
    env.run(&["pull", &reference]).success();
    let listed = env.run(&["images", "--json"]);
    listed.success();
    assert!(!listed.stderr.contains("unreadable"), "{listed}");
    assert_eq!(listed.json()[0]["reference"], reference);
}
