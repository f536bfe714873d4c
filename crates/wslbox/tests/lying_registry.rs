//! Lying and broken registries: a front plays one fault in front of the real registry
//! ([`wslbox_test::front_faults`]). Each case checks what the user sees (the registry, the
//! image or digest, and what to do) and that nothing is left behind: no output file, no corrupt
//! or half-committed blob in the cache.

use std::time::Duration;

use wslbox_test::front_faults::{Fault, Phase};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::{CliEnv, Outcome};
use wslbox_test::registry_fixture::{Image, ImageSpec, noise, sha256_digest};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::skopeo::PushOptions;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// A registry with `app:v1`: two layers of incompressible bytes (300 KB and 40 KB).
fn registry() -> (Registry, Image) {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![
        vec![("srv/big.bin".to_owned(), noise(21, 300_000))],
        vec![("srv/small.bin".to_owned(), noise(22, 40_000))],
    ];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    (registry, image)
}

fn front(registry: &Registry, fault: Fault) -> Front {
    Front::start(
        registry,
        FrontOptions {
            fault: Some(fault),
            ..FrontOptions::default()
        },
    )
}

/// Exports `app:v1` through `front` into a fresh directory; returns the outcome and what the
/// directory holds afterwards.
fn export(env: &CliEnv, front: &Front) -> (Outcome, Vec<String>) {
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("app.tar");
    let outcome = env.run(&[
        "export",
        &front.image("app:v1"),
        "-o",
        dest.to_str().unwrap(),
    ]);
    let left = fs_err::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    (outcome, left)
}

/// A failed export: no output, a consistent cache, one error naming `names`, and no panic.
#[track_caller]
fn assert_fails_cleanly(env: &CliEnv, front: &Front, names: &[&str]) -> Outcome {
    let (outcome, left) = export(env, front);
    outcome.failure();
    assert!(left.is_empty(), "left behind: {left:?}\n{outcome}");
    env.assert_cache_consistent();
    for name in names {
        assert!(
            outcome.stderr.contains(name),
            "the error should name {name}:\n{outcome}"
        );
    }
    assert!(!outcome.stderr.contains("panicked"), "{outcome}");
    outcome
}

#[test]
fn a_500_with_an_html_page_is_reported_by_status_without_the_page() {
    let (registry, _) = registry();
    let front = front(
        &registry,
        Fault::Answer {
            phase: Phase::Manifest,
            status: 500,
            content_type: "text/html",
            body: b"<html><body><h1>Internal Server Error</h1><p>nginx</p></body></html>".to_vec(),
            headers: Vec::new(),
            times: usize::MAX,
        },
    );
    let env = cli();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host(), "500"]);
    assert!(
        !outcome.stderr.contains("<html"),
        "no HTML dumped on the user:\n{outcome}"
    );
    assert!(front.fault_hits() > 1, "a 500 is retried");
}

#[test]
fn a_500_that_passes_is_retried_and_the_pull_succeeds() {
    let (registry, _) = registry();
    let front = front(
        &registry,
        Fault::Answer {
            phase: Phase::Any,
            status: 500,
            content_type: "text/html",
            body: b"<html>busy</html>".to_vec(),
            headers: Vec::new(),
            times: 2,
        },
    );
    let env = cli();
    let (outcome, left) = export(&env, &front);
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    assert_eq!(front.fault_hits(), 2);
}

#[test]
fn a_storm_of_429_beyond_the_retry_budget_says_rate_limited_and_what_to_do() {
    let (registry, _) = registry();
    let front = front(
        &registry,
        Fault::Answer {
            phase: Phase::Manifest,
            status: 429,
            content_type: "application/json",
            body: br#"{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limit"}]}"#.to_vec(),
            headers: vec![("Retry-After", "1".to_owned())],
            times: usize::MAX,
        },
    );
    let env = cli();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host(), "429"]);
    let lower = outcome.stderr.to_lowercase();
    assert!(
        lower.contains("rate") || lower.contains("too many"),
        "{outcome}"
    );
    assert!(
        lower.contains("login") || lower.contains("mirror") || lower.contains("later"),
        "a fix:\n{outcome}"
    );
}

/// A body shorter than its `Content-Length` is a cut download: the rest is fetched with
/// `Range`, and the digest decides whether the bytes are right.
#[test]
fn a_blob_whose_content_length_is_too_long_is_resumed_and_verified_by_its_digest() {
    let (registry, image) = registry();
    let front = front(&registry, Fault::ContentLength { delta: 1000 });
    let env = cli();
    let (outcome, left) = export(&env, &front);
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    env.assert_cache_consistent();
    for blob in image.layers.iter().chain([&image.config]) {
        assert_eq!(
            env.cache_entries_named(&blob.digest).len(),
            1,
            "{} cached",
            blob.digest
        );
    }
}

#[test]
fn a_blob_whose_content_length_is_too_short_fails_naming_the_digest() {
    let (registry, image) = registry();
    let front = front(&registry, Fault::ContentLength { delta: -1000 });
    let env = cli();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host()]);
    assert!(
        image
            .layers
            .iter()
            .chain([&image.config])
            .any(|l| outcome.stderr.contains(&l.digest)),
        "{outcome}"
    );
}

#[test]
fn a_docker_content_digest_that_does_not_match_the_manifest_is_refused() {
    let (registry, image) = registry();
    let lie = sha256_digest(b"another manifest");
    let front = front(&registry, Fault::DigestHeader(lie.clone()));
    let env = cli();
    assert_fails_cleanly(&env, &front, &[&front.host(), &lie, &image.manifest.digest]);
}

#[test]
fn a_redirect_loop_ends_with_an_error_naming_the_registry() {
    let (registry, _) = registry();
    let front = front(&registry, Fault::RedirectLoop(Phase::Blob));
    let env = cli();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host()]);
    assert!(
        outcome.stderr.to_lowercase().contains("redirect"),
        "{outcome}"
    );
    assert!(
        front.fault_hits() < 200,
        "the loop is cut short: {}",
        front.fault_hits()
    );
}

#[test]
fn a_redirect_to_a_host_that_answers_401_gets_no_credentials_and_says_who_refused() {
    let registry = Registry::start(Auth::htpasswd("alice", "secret"));
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("srv/a.bin".to_owned(), noise(23, 50_000))]];
    registry.push_image("app:v1", &spec, &PushOptions::default());
    let front = front(&registry, Fault::RedirectToUnauthorized);
    let env = cli();
    env.run_with_stdin(
        &["login", &front.host(), "-u", "alice", "--password-stdin"],
        "secret",
    )
    .success();
    let outcome = assert_fails_cleanly(&env, &front, &["127.0.0.3"]);
    let sent = front.unauthorized_requests();
    assert!(!sent.is_empty(), "the redirect was followed");
    for request in sent {
        assert!(
            request.header("authorization").is_none(),
            "credentials followed the redirect"
        );
    }
    assert!(!outcome.stderr.contains("secret"), "{outcome}");
}

#[test]
fn a_stall_mid_blob_times_out_with_a_message_then_resumes() {
    let (registry, _) = registry();
    let front = front(
        &registry,
        Fault::Stall {
            after: 100_000,
            hold: Duration::from_secs(20),
        },
    );
    let mut env = cli();
    env.set_var("WSLBOX_READ_TIMEOUT", "2");
    let started = std::time::Instant::now();
    let (outcome, left) = export(&env, &front);
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "the stall was cut by the read timeout"
    );
    let warned = outcome
        .stderr
        .lines()
        .any(|l| l.contains("stalled") && l.contains("resuming") && l.contains(&front.host()));
    assert!(
        warned,
        "one line says the download stalled and resumes:\n{outcome}"
    );
    let resumed = front
        .forwarded()
        .iter()
        .any(|r| r.header("range").is_some_and(|v| v.starts_with("bytes=")));
    assert!(
        resumed,
        "the download resumed with Range: {:?}",
        front.forwarded()
    );
    env.assert_cache_consistent();
}

#[test]
fn a_connection_reset_before_the_manifest_is_retried() {
    let (registry, _) = registry();
    let front = front(&registry, Fault::Reset(Phase::Manifest));
    let env = cli();
    let (outcome, left) = export(&env, &front);
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    assert_eq!(front.fault_hits(), 1);
}

#[test]
fn a_connection_reset_before_a_blob_is_retried() {
    let (registry, _) = registry();
    let front = front(&registry, Fault::Reset(Phase::Blob));
    let env = cli();
    let (outcome, left) = export(&env, &front);
    outcome.success();
    assert_eq!(left, ["app.tar"]);
    env.assert_cache_consistent();
}

#[test]
fn a_huge_manifest_is_refused_without_reading_it_all() {
    let (registry, _) = registry();
    let mut huge = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","annotations":{"x":""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 64 << 20));
    huge.extend(br#""}}"#);
    let front = front(&registry, Fault::ManifestBody(huge));
    let env = cli();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host()]);
    assert!(
        outcome.stderr.to_lowercase().contains("manifest"),
        "{outcome}"
    );
}

#[test]
fn a_manifest_with_ten_thousand_layers_missing_from_the_config_is_refused() {
    let (registry, image) = registry();
    let layer = &image.layers[0];
    let layers: Vec<serde_json::Value> = (0..10_000)
        .map(|_| {
            serde_json::json!({
                "mediaType": layer.media_type,
                "digest": layer.digest,
                "size": layer.size,
            })
        })
        .collect();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": image.config.media_type,
            "digest": image.config.digest,
            "size": image.config.size,
        },
        "layers": layers,
    });
    let front = front(
        &registry,
        Fault::ManifestBody(serde_json::to_vec(&manifest).unwrap()),
    );
    let env = cli();
    let started = std::time::Instant::now();
    let outcome = assert_fails_cleanly(&env, &front, &[&front.host()]);
    assert!(
        outcome.stderr.contains("diff_ids") || outcome.stderr.contains("layers"),
        "{outcome}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refused before 10,000 downloads"
    );
}
