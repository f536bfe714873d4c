//! `podman:IMAGE` and `--via podman` against a real, isolated podman (vfs store), compared
//! with `podman export` of a container created from the same image.
//!
//! `podman export` of a created (never started) container adds nothing to the image's tree
//! here: podman only bind-mounts `/etc/hosts`, `/etc/resolv.conf`, `/etc/hostname` and
//! `/run/.containerenv` into a *running* container, so no exclusions are needed. What it
//! cannot represent — whole-second mtimes, no `./` member — is handled by comparing our
//! tree with whole-second mtimes (the root is 0755 root:root in both).

mod common;

use wslbox_source::{Engine, SourceKind, SourceSpec};
use wslbox_test::engine_image::{ENGINE_IMAGE, podman_with_engine_image};
use wslbox_test::oracle::{self, Scratch};
use wslbox_test::podman::Podman;
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_http::get;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

#[test]
fn podman_source_equals_podman_export_of_the_same_image() {
    let scratch = Scratch::new().unwrap();
    let podman = podman_with_engine_image().unwrap();
    let oracle_tree = podman
        .export_tree(ENGINE_IMAGE, &scratch.path("export"))
        .unwrap();

    let spec = SourceSpec::parse(&format!("podman:{ENGINE_IMAGE}")).unwrap();
    let opts = common::options(&scratch, podman.envs());
    let started = std::time::Instant::now();
    let (ours, info) = common::flatten_to_tree(&spec, &opts, &scratch, "ours");
    eprintln!(
        "podman: open + flatten + write + extract: {:.1?}",
        started.elapsed()
    );
    oracle::assert_same_as(
        "podman export",
        &oracle_tree,
        &ours.with_whole_second_mtimes(),
        "podman: source",
    );
    common::assert_build_steps_applied(&oracle_tree);

    let id = podman.image_id(ENGINE_IMAGE).unwrap();
    assert_eq!(info.kind, SourceKind::Podman);
    assert_eq!(info.reference, format!("podman:{ENGINE_IMAGE}"));
    assert_eq!(info.engine_image.as_deref(), Some(ENGINE_IMAGE));
    assert_eq!(
        info.config_digest.as_ref().map(ToString::to_string),
        Some(format!("sha256:{id}"))
    );
    assert_eq!(info.manifest_digest, None, "a save archive has no manifest");
    assert_eq!(info.digest(), info.config_digest.as_ref(), "the image ID");
    assert_eq!(info.via, None);
    assert_eq!(info.platform.as_ref().unwrap().to_string(), "linux/amd64");
    assert!(info.config.env.contains(&"WSLBOX_TEST=engine".to_owned()));
    assert_eq!(info.config.user.as_deref(), Some("nobody"));
    assert_eq!(info.config.working_dir.as_deref(), Some("/opt"));
    let diff_ids = podman
        .run(&[
            "image",
            "inspect",
            "--format",
            "{{range .RootFS.Layers}}{{.}} {{end}}",
            ENGINE_IMAGE,
        ])
        .unwrap();
    let ours: Vec<String> = info.layers.iter().map(|l| l.digest.to_string()).collect();
    assert_eq!(ours, diff_ids.split_whitespace().collect::<Vec<_>>());

    // Opening only asks `podman image inspect`: a short name gets podman's canonical one,
    // and a --platform the image is not for is refused before anything is read.
    let reporter: std::sync::Arc<dyn wslbox_source::Reporter> =
        std::sync::Arc::new(wslbox_source::NoReporter);
    let short = SourceSpec::parse("podman:wslbox-engine:v1").unwrap();
    let source = wslbox_source::open(&short, &opts, &reporter).unwrap();
    assert_eq!(
        source.info().reference,
        "podman:wslbox-engine:v1",
        "as typed"
    );
    assert_eq!(source.info().engine_image.as_deref(), Some(ENGINE_IMAGE));
    let mut arm = opts.clone();
    arm.platform = Some("linux/arm64".parse().unwrap());
    let err = wslbox_source::open(&spec, &arm, &reporter).err().unwrap();
    assert!(
        err.to_string().contains(
            "is only available for linux/amd64, not for the requested platform linux/arm64"
        ),
        "{err}"
    );
}

#[test]
fn via_podman_pulls_into_podmans_store_and_reads_it_back() {
    let scratch = Scratch::new().unwrap();
    let registry = Registry::start(Auth::None);
    let builder = podman_with_engine_image().unwrap();
    let reference = builder
        .push_to(ENGINE_IMAGE, &registry, "engine/debian:v1")
        .unwrap();
    let oracle_tree = builder
        .export_tree(ENGINE_IMAGE, &scratch.path("export"))
        .unwrap();
    drop(builder);

    // A store that has never seen the image: podman has to pull it from the registry.
    let podman = Podman::new().unwrap();
    assert!(podman.image_id(&reference).is_err());
    let mut opts = common::options(&scratch, podman.envs());
    opts.via = Some(Engine::Podman);
    let spec = SourceSpec::parse(&reference).unwrap();
    let (ours, info) = common::flatten_to_tree(&spec, &opts, &scratch, "ours");
    oracle::assert_same_as(
        "podman export",
        &oracle_tree,
        &ours.with_whole_second_mtimes(),
        "--via podman",
    );

    assert_eq!(info.kind, SourceKind::Registry);
    assert_eq!(info.via, Some(Engine::Podman));
    assert_eq!(info.reference, reference);
    let digest = podman
        .run(&["image", "inspect", "--format", "{{.Digest}}", &reference])
        .unwrap();
    let digest = digest.trim();
    assert_eq!(
        info.manifest_digest
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some(digest)
    );
    let manifest = get(
        registry.addr(),
        &format!("/v2/engine/debian/manifests/{digest}"),
        &[("Accept", MANIFEST_TYPES)],
    )
    .unwrap();
    assert_eq!(manifest.status, 200, "the registry serves that manifest");
}
