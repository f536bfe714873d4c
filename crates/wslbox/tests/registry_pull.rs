//! `wslbox pull` and `inspect` against a real `docker-registry`: inspect's JSON, missing tags,
//! multi-arch selection with an attestation, Docker schema2 manifests and manifest lists.

use serde_json::{Value, json};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::CliEnv;
use wslbox_test::registry_fixture::{Image, ImageSpec, Index, Layout};
use wslbox_test::registry_http;
use wslbox_test::skopeo::PushOptions;

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
    let image = registry.push_image("app:v1", &ImageSpec::configured(), &PushOptions::default());
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
    env.assert_cache_consistent();
    for blob in image.layers.iter().chain([&image.config]) {
        assert_eq!(
            env.cache_entries_named(&blob.digest).len(),
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

fn push_multi_arch(registry: &Registry) -> Index {
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
    assert_eq!(env.cache_entries_named(&expected.layers[0].digest).len(), 1);
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
        env.cache_entries_named(&arm64.layers[0].digest).len(),
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
    let image = registry.push_image(
        "legacy:v1",
        &ImageSpec::configured(),
        &PushOptions::schema2(),
    );
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
    let mut layout = Layout::create(dir.path());
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
