//! `wslbox pull` and `inspect` against a real `docker-registry`: inspect's JSON, missing tags,
//! multi-arch selection, Docker schema2 media types, corrupted blobs, CDN redirects, concurrent
//! pulls into one cache, and digest references that do not match.

use std::path::PathBuf;

use serde_json::{Value, json};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::{CliEnv, Outcome};
use wslbox_test::registry_fixture::{Image, ImageSpec, noise, sha256_digest as sha256};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::registry_http;
use wslbox_test::skopeo::PushOptions;
use wslbox_test::token_server::{TokenPolicy, TokenServer};

const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// The architecture wslbox must pick by default on this machine.
fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => panic!("no default platform defined for host architecture {other}"),
    }
}

/// An image whose config sets every field inspect reports.
fn configured_spec() -> ImageSpec {
    let mut spec = ImageSpec::small("amd64");
    spec.layers
        .push(vec![("srv/data.bin".to_owned(), noise(7, 100 * 1024))]);
    spec.config = json!({
        "Env": ["PATH=/usr/bin:/bin", "GREETING=hello world"],
        "User": "1000:1000",
        "WorkingDir": "/work",
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo hi"],
        "Labels": {"org.example.team": "wslbox"},
    });
    spec
}

/// `platforms` entries as `os/arch[/variant]`, whether printed as strings or objects.
fn platform_strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("`platforms` is not an array: {value}"))
        .iter()
        .map(|p| match p {
            Value::String(s) => s.clone(),
            _ => {
                let mut s = format!(
                    "{}/{}",
                    p["os"].as_str().unwrap(),
                    p["architecture"].as_str().unwrap()
                );
                if let Some(variant) = p.get("variant").and_then(Value::as_str) {
                    s = format!("{s}/{variant}");
                }
                s
            }
        })
        .collect()
}

fn layers_json(image: &Image) -> Value {
    image
        .layers
        .iter()
        .map(|l| json!({"digest": l.digest, "size": l.size, "media_type": l.media_type}))
        .collect()
}

/// Every cache file named like a sha256 hex digest holds exactly those bytes.
#[track_caller]
fn assert_cache_consistent(env: &CliEnv) {
    for path in env.cache_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
            let bytes = fs_err::read(&path).unwrap();
            assert_eq!(
                sha256(&bytes),
                format!("sha256:{name}"),
                "corrupt cache entry {}",
                path.display()
            );
        }
    }
}

fn cache_entries_named(env: &CliEnv, digest: &str) -> Vec<PathBuf> {
    let hex = digest.trim_start_matches("sha256:");
    env.cache_files()
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == hex))
        .collect()
}

/// The digest the registry reports for `name:reference` when asked for Docker media types.
fn registry_digest(registry: &Registry, name: &str, reference: &str, accept: &str) -> String {
    let response = registry_http::get(
        registry.addr(),
        &format!("/v2/{name}/manifests/{reference}"),
        &[("Accept", accept)],
    )
    .unwrap();
    assert_eq!(response.status, 200, "{}", registry.log());
    let header = response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("docker-content-digest"));
    header
        .map(|(_, v)| v.clone())
        .expect("registry sends Docker-Content-Digest")
}

#[test]
fn inspect_json_reports_reference_digests_layers_and_config() {
    let registry = Registry::start(Auth::None);
    let image = registry.push_image("app:v1", &configured_spec(), &PushOptions::default());
    let env = cli();
    let reference = registry.image("app:v1");
    let pulled = env.run(&["pull", &reference]);
    pulled.success();
    assert_eq!(
        pulled.stdout_field("Pulled "),
        Some(reference.as_str()),
        "{pulled}"
    );
    assert_eq!(
        pulled.stdout_field("Digest: "),
        Some(image.manifest.digest.as_str()),
        "{pulled}"
    );

    let inspect = env.run(&["inspect", &reference, "--json"]);
    let json = inspect.success().json();
    assert_eq!(json["reference"], json!(reference), "{inspect}");
    assert_eq!(json["manifest_digest"], json!(image.manifest.digest));
    assert_eq!(json["index_digest"], Value::Null);
    assert_eq!(json["platform"]["os"], "linux");
    assert_eq!(json["platform"]["architecture"], "amd64");
    assert_eq!(platform_strings(&json["platforms"]), ["linux/amd64"]);
    assert_eq!(json["config_digest"], json!(image.config.digest));
    assert_eq!(json["layers"], layers_json(&image));
    let config = &json["config"];
    assert_eq!(
        config["env"],
        json!(["PATH=/usr/bin:/bin", "GREETING=hello world"])
    );
    assert_eq!(config["user"], "1000:1000");
    assert_eq!(config["working_dir"], "/work");
    assert_eq!(config["entrypoint"], json!(["/bin/sh", "-c"]));
    assert_eq!(config["cmd"], json!(["echo hi"]));
    assert_eq!(config["labels"], json!({"org.example.team": "wslbox"}));
    assert_cache_consistent(&env);
    for blob in image.layers.iter().chain([&image.config]) {
        assert_eq!(
            cache_entries_named(&env, &blob.digest).len(),
            1,
            "{} not cached once",
            blob.digest
        );
    }
}

#[test]
fn missing_tag_names_tag_and_repository() {
    let registry = Registry::start(Auth::None);
    registry.push_image(
        "team/app:v1",
        &ImageSpec::small("amd64"),
        &PushOptions::default(),
    );
    let outcome = cli().run(&["pull", &registry.image("team/app:nosuchtag")]);
    outcome.failure();
    assert!(
        outcome.stderr.contains("nosuchtag"),
        "the error should name the tag:\n{outcome}"
    );
    assert!(
        outcome.stderr.contains("team/app"),
        "the error should name the repository:\n{outcome}"
    );
}

fn push_multi_arch(registry: &Registry) -> wslbox_test::registry_fixture::Index {
    let index = registry.push_index(
        "multi:latest",
        &[ImageSpec::small("arm64"), ImageSpec::small("amd64")],
        true,
    );
    assert_eq!(
        index.images[0].spec.architecture, "arm64",
        "the first entry must not be amd64"
    );
    index
}

#[test]
fn multi_arch_default_platform_is_the_host_architecture() {
    let registry = Registry::start(Auth::None);
    let index = push_multi_arch(&registry);
    let expected = index
        .images
        .iter()
        .find(|i| i.spec.architecture == host_architecture())
        .unwrap();
    let env = cli();
    let reference = registry.image("multi:latest");
    env.run(&["pull", &reference]).success();
    let inspect = env.run(&["inspect", &reference, "--json"]);
    let json = inspect.success().json();
    assert_eq!(
        json["platform"]["architecture"],
        host_architecture(),
        "{inspect}"
    );
    assert_eq!(json["manifest_digest"], json!(expected.manifest.digest));
    assert_eq!(json["index_digest"], json!(index.index.digest));
    assert_eq!(json["layers"], layers_json(expected));
    let platforms = platform_strings(&json["platforms"]);
    assert!(
        platforms.contains(&"linux/arm64".to_owned())
            && platforms.contains(&"linux/amd64".to_owned())
    );
    assert!(
        !platforms.iter().any(|p| p.contains("unknown")),
        "attestations are not platforms: {platforms:?}"
    );
    assert_eq!(
        cache_entries_named(&env, &expected.layers[0].digest).len(),
        1
    );
}

#[test]
fn multi_arch_platform_flag_selects_arm64() {
    let registry = Registry::start(Auth::None);
    let index = push_multi_arch(&registry);
    let arm64 = &index.images[0];
    let env = cli();
    let reference = registry.image("multi:latest");
    env.run(&["pull", &reference, "--platform", "linux/arm64"])
        .success();
    let json = env
        .run(&["inspect", &reference, "--platform", "linux/arm64", "--json"])
        .success()
        .json();
    assert_eq!(json["platform"]["os"], "linux");
    assert_eq!(json["platform"]["architecture"], "arm64");
    assert_eq!(json["manifest_digest"], json!(arm64.manifest.digest));
    assert_eq!(json["config_digest"], json!(arm64.config.digest));
    assert_eq!(
        cache_entries_named(&env, &arm64.layers[0].digest).len(),
        1,
        "arm64 layer not pulled"
    );
}

#[test]
fn multi_arch_unavailable_platform_lists_available_ones() {
    let registry = Registry::start(Auth::None);
    push_multi_arch(&registry);
    let outcome = cli().run(&[
        "pull",
        &registry.image("multi:latest"),
        "--platform",
        "linux/s390x",
    ]);
    outcome.failure();
    assert!(
        outcome.stderr.contains("linux/s390x"),
        "the error should name the requested platform:\n{outcome}"
    );
    for available in ["linux/arm64", "linux/amd64"] {
        assert!(
            outcome.stderr.contains(available),
            "the error should list {available}:\n{outcome}"
        );
    }
    assert!(
        !outcome.stderr.contains("unknown/unknown"),
        "attestations are not platforms:\n{outcome}"
    );
}

#[test]
fn schema2_image_pulls_and_inspect_shows_docker_media_types() {
    let registry = Registry::start(Auth::None);
    let image = registry.push_image("legacy:v1", &configured_spec(), &PushOptions::schema2());
    let digest = registry_digest(&registry, "legacy", "v1", DOCKER_MANIFEST);
    let env = cli();
    let reference = registry.image("legacy:v1");
    let pulled = env.run(&["pull", &reference, "--jobs", "1"]);
    pulled.success();
    assert_eq!(
        pulled.stdout_field("Digest: "),
        Some(digest.as_str()),
        "{pulled}"
    );
    let json = env.run(&["inspect", &reference, "--json"]).success().json();
    assert_eq!(json["manifest_digest"], json!(digest));
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), image.layers.len());
    for (layer, fixture) in layers.iter().zip(&image.layers) {
        assert_eq!(layer["media_type"], DOCKER_LAYER, "{layer}");
        assert_eq!(layer["digest"], json!(fixture.digest));
        assert_eq!(layer["size"], json!(fixture.size));
    }
    assert_eq!(json["config"]["working_dir"], "/work");
}

#[test]
fn docker_manifest_list_selects_platform() {
    let registry = Registry::start(Auth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut layout = wslbox_test::registry_fixture::Layout::create(dir.path());
    let index = layout.index(
        &[ImageSpec::small("arm64"), ImageSpec::small("amd64")],
        false,
    );
    layout.tag("list", &index.index);
    let options = PushOptions {
        format: Some("v2s2".to_owned()),
        all: true,
    };
    registry.push_with(layout.dir(), "list", "list:latest", &options);
    let list_digest = registry_digest(&registry, "list", "latest", DOCKER_LIST);
    let env = cli();
    let json = env.run(&[
        "inspect",
        &registry.image("list:latest"),
        "--platform",
        "linux/arm64",
        "--json",
    ]);
    let json = json.success().json();
    assert_eq!(json["index_digest"], json!(list_digest));
    assert_eq!(json["platform"]["architecture"], "arm64");
    assert_eq!(
        json["layers"][0]["digest"],
        json!(index.images[0].layers[0].digest)
    );
    assert_eq!(json["layers"][0]["media_type"], DOCKER_LAYER);
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
    assert_cache_consistent(&env);
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
    assert_cache_consistent(&env);
    assert_eq!(cache_entries_named(&env, &layer.digest).len(), 1);
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
        &configured_spec(),
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
    assert_cache_consistent(&env);
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
    assert_cache_consistent(&env);
    for blob in image.layers.iter().chain([&image.config]) {
        let entries = cache_entries_named(&env, &blob.digest);
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
    let outcome: Outcome = cli().run(&["pull", &format!("{}@{wrong}", registry.image("app"))]);
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
