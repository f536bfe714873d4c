//! Registry mirrors against real registries: a down mirror, a mirror without the image, a
//! mirror serving a corrupt blob, and every endpoint down. Each registry sits behind a
//! [`Front`] that records which requests it got. Test registries are `127.0.0.1:PORT`, so
//! mirrors are given as `127.0.0.1:PORT=URL` (the bare-URL form, for docker.io, is unit-tested).

use std::net::TcpListener;

use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::CliEnv;
use wslbox_test::registry_fixture::{Image, ImageSpec, noise};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::skopeo::PushOptions;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// A loopback address nothing listens on.
fn down_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn spec() -> ImageSpec {
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(7, 64 * 1024))]];
    spec
}

/// Two registries: the origin holding the test image at `origin_repo` (returned), and a
/// mirror holding it at `mirror_repo`, or nothing.
fn origin_and_mirror(origin_repo: &str, mirror_repo: Option<&str>) -> (Registry, Registry, Image) {
    let origin = Registry::start(Auth::None);
    let mirror = Registry::start(Auth::None);
    let image = origin.push_image(origin_repo, &spec(), &PushOptions::default());
    if let Some(repo) = mirror_repo {
        mirror.push_image(repo, &spec(), &PushOptions::default());
    }
    (origin, mirror, image)
}

fn blob_requests(front: &Front) -> usize {
    front
        .forwarded()
        .iter()
        .filter(|r| r.method == "GET" && r.target.contains("/blobs/"))
        .count()
}

fn manifest_requests(front: &Front) -> usize {
    front
        .forwarded()
        .iter()
        .filter(|r| r.target.contains("/manifests/"))
        .count()
}

fn export_json(
    env: &CliEnv,
    reference: &str,
    extra: &[&str],
) -> wslbox_test::registry_env::Outcome {
    let out = env.root().join("out.tar");
    let mut args = vec!["export", reference, "-o", out.to_str().unwrap(), "--json"];
    args.extend_from_slice(extra);
    env.run(&args)
}

#[test]
fn down_mirror_is_skipped_and_the_next_mirror_serves_everything() {
    let (origin, mirror, _) = origin_and_mirror("app:v1", Some("app:v1"));
    let origin_front = Front::start(&origin, FrontOptions::default());
    let mirror_front = Front::start(&mirror, FrontOptions::default());
    let down = down_addr();
    let host = origin_front.host();

    let outcome = export_json(
        &cli(),
        &origin_front.image("app:v1"),
        &[
            "--registry-mirror",
            &format!("{host}=http://{down}"),
            "--registry-mirror",
            &format!("{host}=http://{}", mirror_front.host()),
        ],
    );
    outcome.success();
    let json = outcome.json();
    assert_eq!(
        json["mirror"],
        format!("http://{}", mirror_front.host()),
        "{outcome}"
    );
    assert!(
        outcome.stderr.contains(&format!("mirror http://{down}:")),
        "the warning should name the down mirror:\n{outcome}"
    );
    assert!(
        outcome
            .stderr
            .contains(&format!("from mirror http://{}", mirror_front.host())),
        "{outcome}"
    );
    assert_eq!(blob_requests(&origin_front), 0, "the origin served a blob");
    assert_eq!(
        manifest_requests(&origin_front),
        0,
        "the origin served a manifest"
    );
    assert!(
        blob_requests(&mirror_front) >= 2,
        "config and layer from the mirror"
    );
}

#[test]
fn mirror_without_the_repository_falls_back_to_the_origin() {
    let (origin, mirror, _) = origin_and_mirror("app:v1", None);
    let mirror_front = Front::start(&mirror, FrontOptions::default());
    let mirror_url = format!("http://{}", mirror_front.host());

    let mut env = cli();
    env.set_var(
        "WSLBOX_REGISTRY_MIRRORS",
        format!("{}={mirror_url}", origin.host()),
    );
    let outcome = export_json(&env, &origin.image("app:v1"), &[]);
    outcome.success();
    assert!(outcome.json()["mirror"].is_null(), "{outcome}");
    assert!(
        outcome.stderr.contains(&format!("mirror {mirror_url}:"))
            && outcome.stderr.contains("not found"),
        "the warning should name the mirror and the 404:\n{outcome}"
    );
    assert!(manifest_requests(&mirror_front) >= 1);
    assert_eq!(
        blob_requests(&mirror_front),
        0,
        "no blobs asked of a mirror that failed the manifest"
    );
}

#[test]
fn env_mirrors_are_replaced_by_the_flag() {
    let (origin, mirror, _) = origin_and_mirror("app:v1", Some("app:v1"));
    let mirror_url = format!("http://{}", mirror.host());

    let mut env = cli();
    env.set_var(
        "WSLBOX_REGISTRY_MIRRORS",
        format!("{}=http://{}", origin.host(), down_addr()),
    );
    let flag = format!("{}={mirror_url}", origin.host());
    let outcome = export_json(&env, &origin.image("app:v1"), &["--registry-mirror", &flag]);
    outcome.success();
    assert_eq!(outcome.json()["mirror"], mirror_url.as_str(), "{outcome}");
    assert!(
        !outcome.stderr.contains("trying"),
        "the env mirror was used:\n{outcome}"
    );
}

#[test]
fn corrupt_blob_on_a_mirror_is_fetched_from_the_origin() {
    let (origin, mirror, image) = origin_and_mirror("app:v1", Some("app:v1"));
    let layer = &image.layers[0];
    let data = mirror.blob_data_path(&layer.digest);
    let mut corrupted = fs_err::read(&data).unwrap();
    corrupted[100] ^= 0xff;
    fs_err::write(&data, &corrupted).unwrap();
    let origin_front = Front::start(&origin, FrontOptions::default());
    let mirror_url = format!("http://{}", mirror.host());

    let env = cli();
    let flag = format!("{}={mirror_url}", origin_front.host());
    let outcome = env.run(&[
        "pull",
        &origin_front.image("app:v1"),
        "--registry-mirror",
        &flag,
    ]);
    outcome.success();
    assert!(
        outcome
            .stderr
            .contains(&format!("mirror {mirror_url}: blob {}", layer.digest)),
        "the warning should name the mirror and the blob:\n{outcome}"
    );
    env.assert_cache_consistent();
    assert_eq!(env.cache_entries_named(&layer.digest).len(), 1);
    assert_eq!(
        blob_requests(&origin_front),
        1,
        "only the corrupt layer from the origin"
    );
    assert_eq!(manifest_requests(&origin_front), 0);

    // The result is the image's own content: the same as a direct pull into a fresh cache
    // (same reference, since the reference is written into the rootfs), at the same export
    // time (it defaults to now, and two exports can straddle a second).
    let direct = cli();
    let image_ref = origin_front.image("app:v1");
    let at = ["--timestamp", "1764547200"];
    export_json(
        &env,
        &image_ref,
        &["--registry-mirror", &flag, at[0], at[1]],
    )
    .success();
    export_json(&direct, &image_ref, &at).success();
    let read = |e: &CliEnv| fs_err::read(e.root().join("out.tar")).unwrap();
    assert!(
        read(&env) == read(&direct),
        "the export through the mirror differs from a direct one"
    );
}

#[test]
fn every_endpoint_down_lists_each_with_its_reason() {
    let (origin, m1, m2) = (down_addr(), down_addr(), down_addr());
    let outcome = cli().run(&[
        "pull",
        &format!("{origin}/app:v1"),
        "--registry-mirror",
        &format!("{origin}=http://{m1},{origin}=http://{m2}"),
    ]);
    outcome.failure();
    for endpoint in [
        format!("mirror http://{m1}:"),
        format!("mirror http://{m2}:"),
        format!("origin {origin}:"),
    ] {
        assert!(
            outcome.stderr.contains(&endpoint),
            "{endpoint} missing:\n{outcome}"
        );
    }
    assert!(outcome.stderr.contains("--registry-mirror"), "{outcome}");
}

#[test]
fn malformed_mirror_is_a_clear_error() {
    let outcome = cli().run(&[
        "pull",
        "127.0.0.1:1/app:v1",
        "--registry-mirror",
        "ftp://m.example",
    ]);
    outcome.failure();
    assert!(
        outcome
            .stderr
            .contains("invalid registry mirror `ftp://m.example`"),
        "{outcome}"
    );
}

#[test]
fn mirror_path_is_a_prefix_before_the_repository() {
    let (origin, mirror, _) = origin_and_mirror("team/app:v1", Some("hub/team/app:v1"));
    let origin_front = Front::start(&origin, FrontOptions::default());
    let mirror_front = Front::start(&mirror, FrontOptions::default());
    let mirror_url = format!("http://{}/hub", mirror_front.host());

    let flag = format!("{}={mirror_url}", origin_front.host());
    let outcome = export_json(
        &cli(),
        &origin_front.image("team/app:v1"),
        &["--registry-mirror", &flag],
    );
    outcome.success();
    assert_eq!(outcome.json()["mirror"], mirror_url.as_str(), "{outcome}");
    assert!(
        mirror_front
            .forwarded()
            .iter()
            .all(|r| !r.target.starts_with("/v2/")
                || r.target == "/v2/"
                || r.target.starts_with("/v2/hub/team/app/")),
        "requests outside the prefix: {:?}",
        mirror_front.forwarded()
    );
    assert_eq!(blob_requests(&origin_front), 0);
}

#[test]
fn push_never_goes_to_a_mirror() {
    let (origin, mirror, _) = origin_and_mirror("app:v1", None);
    let mirror_front = Front::start(&mirror, FrontOptions::default());
    let env = cli();
    let flag = format!("{}=http://{}", origin.host(), mirror_front.host());
    env.run(&[
        "push",
        &origin.image("app:v1"),
        &origin.image("copy:1"),
        "--raw",
        "--registry-mirror",
        &flag,
    ])
    .success();
    let uploads: Vec<_> = mirror_front
        .forwarded()
        .into_iter()
        .filter(|r| r.method != "GET" || r.target.contains("copy"))
        .collect();
    assert!(
        uploads.is_empty(),
        "the push reached the mirror: {uploads:?}"
    );
    // The pushed image is on the origin.
    cli().run(&["pull", &origin.image("copy:1")]).success();
}

#[test]
fn config_file_mirrors_are_used_unless_the_env_names_some() {
    let (origin, mirror, _) = origin_and_mirror("app:v1", Some("app:v1"));
    let mirror_url = format!("http://{}", mirror.host());

    let mut env = cli();
    let config = env.root().join("wslbox.json");
    let json = serde_json::json!({ "registry-mirrors": { origin.host(): [mirror_url] } });
    fs_err::write(&config, json.to_string()).unwrap();
    env.set_var("WSLBOX_CONFIG", &config);
    let outcome = export_json(&env, &origin.image("app:v1"), &[]);
    outcome.success();
    assert_eq!(outcome.json()["mirror"], mirror_url.as_str(), "{outcome}");

    // The default location, $XDG_CONFIG_HOME/wslbox/config.json, is read too.
    let mut env = cli();
    let default = env.root().join("config").join("wslbox");
    fs_err::create_dir_all(&default).unwrap();
    fs_err::write(default.join("config.json"), json.to_string()).unwrap();
    let outcome = export_json(&env, &origin.image("app:v1"), &[]);
    outcome.success();
    assert_eq!(outcome.json()["mirror"], mirror_url.as_str(), "{outcome}");

    // The variable names a mirror: the file is not read.
    env.set_var(
        "WSLBOX_REGISTRY_MIRRORS",
        format!("{}=http://{}", origin.host(), down_addr()),
    );
    let outcome = export_json(&env, &origin.image("app:v1"), &[]);
    outcome.success();
    assert!(outcome.json()["mirror"].is_null(), "{outcome}");
}

#[test]
fn malformed_config_file_names_the_file_and_the_key() {
    let mut env = cli();
    let config = env.root().join("wslbox.json");
    fs_err::write(&config, r#"{"registry-mirrors": "https://m.example"}"#).unwrap();
    env.set_var("WSLBOX_CONFIG", &config);
    let outcome = env.run(&["pull", "127.0.0.1:1/app:v1"]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&config.display().to_string())
            && outcome.stderr.contains("registry-mirrors"),
        "{outcome}"
    );
}

/// Writes `text` as the env's registries.conf (CliEnv points CONTAINERS_REGISTRIES_CONF at it).
fn registries_conf(env: &CliEnv, text: &str) -> std::path::PathBuf {
    let path = env.root().join("registries.conf");
    fs_err::write(&path, text).unwrap();
    path
}

#[test]
fn registries_conf_mirror_is_used() {
    let (origin, mirror, _) = origin_and_mirror("team/app:v1", Some("m/app:v1"));
    let origin_front = Front::start(&origin, FrontOptions::default());
    let (host, mirror_host) = (origin_front.host(), mirror.host());
    let env = cli();
    registries_conf(
        &env,
        &format!(
            "[[registry]]\nprefix = \"{host}/team\"\nlocation = \"{host}/team\"\n[[registry.mirror]]\nlocation = \"{mirror_host}/m\"\ninsecure = true\n"
        ),
    );
    let outcome = export_json(&env, &origin_front.image("team/app:v1"), &[]);
    outcome.success();
    assert_eq!(
        outcome.json()["mirror"],
        format!("http://{mirror_host}/m"),
        "{outcome}"
    );
    assert_eq!(blob_requests(&origin_front), 0);
    assert_eq!(manifest_requests(&origin_front), 0);
}

#[test]
fn registries_conf_blocked_registry_is_refused_naming_the_file() {
    let origin = Registry::start(Auth::None);
    origin.push_image("app:v1", &spec(), &PushOptions::default());
    let env = cli();
    let path = registries_conf(
        &env,
        &format!(
            "[[registry]]\nlocation = \"{}\"\nblocked = true\n",
            origin.host()
        ),
    );
    let outcome = env.run(&["pull", &origin.image("app:v1")]);
    outcome.failure();
    assert!(
        outcome.stderr.contains("blocked") && outcome.stderr.contains(&path.display().to_string()),
        "{outcome}"
    );
}

/// registries.conf is read by the commands that reach a registry only: a broken one stops a
/// pull, naming the file, and leaves the image store's commands alone.
#[test]
fn a_broken_registries_conf_stops_pulls_only() {
    let origin = Registry::start(Auth::None);
    origin.push_image("app:v1", &spec(), &PushOptions::default());
    let env = cli();
    let path = registries_conf(&env, "[[registry]]\nblocked = \"yes\"\n");
    let outcome = env.run(&["pull", &origin.image("app:v1")]);
    outcome.failure();
    assert!(
        outcome.stderr.contains(&path.display().to_string()),
        "the error names the file: {outcome}"
    );
    let images = env.run(&["images", "--json"]);
    images.success();
    assert_eq!(images.json(), serde_json::json!([]), "{images}");
}

#[test]
fn registries_conf_mirror_by_digest_only_serves_digests_not_tags() {
    let (origin, mirror, image) = origin_and_mirror("app:v1", Some("app:v1"));
    let origin_front = Front::start(&origin, FrontOptions::default());
    let mirror_front = Front::start(&mirror, FrontOptions::default());
    let (host, mirror_host) = (origin_front.host(), mirror_front.host());
    let env = cli();
    registries_conf(
        &env,
        &format!(
            "[[registry]]\nprefix = \"{host}\"\nlocation = \"{host}\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"{mirror_host}\"\n"
        ),
    );

    let by_tag = export_json(&env, &origin_front.image("app:v1"), &[]);
    by_tag.success();
    assert!(by_tag.json()["mirror"].is_null(), "{by_tag}");
    assert!(manifest_requests(&origin_front) >= 1);
    assert_eq!(
        manifest_requests(&mirror_front),
        0,
        "a tag went to the digest-only mirror"
    );

    let pinned = origin_front.image(&format!("app@{}", image.manifest.digest));
    let by_digest = export_json(&cli_with_conf(&env), &pinned, &[]);
    by_digest.success();
    assert_eq!(
        by_digest.json()["mirror"],
        format!("http://{mirror_host}"),
        "{by_digest}"
    );
    assert!(manifest_requests(&mirror_front) >= 1);
}

/// A fresh env (empty cache) with `env`'s registries.conf.
fn cli_with_conf(env: &CliEnv) -> CliEnv {
    let fresh = cli();
    let text = fs_err::read_to_string(env.root().join("registries.conf")).unwrap();
    registries_conf(&fresh, &text);
    fresh
}
