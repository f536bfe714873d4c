//! `docker-daemon:IMAGE` and `--via docker` against a private, real `dockerd` (Debian's
//! docker.io 20.10, vfs), found through `DOCKER_HOST` as the docker CLI finds it; compared with
//! `docker export` of a container created from the same image.
//!
//! `docker create` adds its init layer to every container ([`DOCKER_INIT_PATHS`]: `.dockerenv`,
//! `/dev/console`, `/dev/pts`, `/dev/shm`, `/etc/mtab`, and empty `/etc/hostname`, `/etc/hosts`,
//! `/etc/resolv.conf` over the image's, plus `/dev`, `/proc`, `/sys` themselves), so exactly
//! those paths are left out of both trees; everything below `/dev`, `/proc` and `/sys` is
//! still compared. Like `podman export`, `docker export` writes whole-second mtimes.

mod common;

use wslbox_source::{Engine, SourceKind, SourceSpec};
use wslbox_test::dockerd::{DOCKER_INIT_PATHS, Dockerd};
use wslbox_test::engine_image::{ENGINE_IMAGE, engine_image_archive, podman_with_engine_image};
use wslbox_test::oracle::{self, Scratch};
use wslbox_test::registry::{Auth, Registry};

fn start(insecure: &[&str]) -> Dockerd {
    let dockerd = Dockerd::start_with(insecure).unwrap();
    eprintln!("dockerd answered after {:.1?}", dockerd.startup);
    dockerd
}

#[test]
fn docker_daemon_source_equals_docker_export_of_the_same_image() {
    let scratch = Scratch::new().unwrap();
    let dockerd = start(&[]);
    let started = std::time::Instant::now();
    dockerd.load(&engine_image_archive().unwrap()).unwrap();
    eprintln!("docker load: {:.1?}", started.elapsed());
    let oracle_tree = dockerd
        .export_tree(ENGINE_IMAGE, &scratch.path("export"))
        .unwrap();

    let spec = SourceSpec::parse(&format!("docker-daemon:{ENGINE_IMAGE}")).unwrap();
    let opts = common::options(&scratch, dockerd.envs());
    let (ours, info) = common::flatten_to_tree(&spec, &opts, &scratch, "ours");
    common::assert_build_steps_applied(&ours);
    oracle::assert_same_as(
        "docker export",
        &common::without(oracle_tree, DOCKER_INIT_PATHS),
        &common::without(ours.with_whole_second_mtimes(), DOCKER_INIT_PATHS),
        "docker-daemon: source",
    );

    assert_eq!(info.kind, SourceKind::DockerDaemon);
    assert_eq!(info.reference, format!("docker-daemon:{ENGINE_IMAGE}"));
    assert_eq!(info.engine_image.as_deref(), Some(ENGINE_IMAGE));
    let id = dockerd.image_id(ENGINE_IMAGE).unwrap();
    assert_eq!(
        info.config_digest.as_ref().map(ToString::to_string),
        Some(id)
    );
    assert_eq!(info.manifest_digest, None);
    assert_eq!(info.config.user.as_deref(), Some("nobody"));
    assert_eq!(info.layers.len(), 4);
}

#[test]
fn via_docker_pulls_from_the_registry_and_reads_it_back() {
    let scratch = Scratch::new().unwrap();
    let registry = Registry::start(Auth::None);
    let reference = podman_with_engine_image()
        .unwrap()
        .push_to(ENGINE_IMAGE, &registry, "engine/debian:v1")
        .unwrap();
    let dockerd = start(&[&registry.host()]);
    assert!(dockerd.image_id(&reference).is_err(), "not pulled yet");

    let mut opts = common::options(&scratch, dockerd.envs());
    opts.via = Some(Engine::Docker);
    let spec = SourceSpec::parse(&reference).unwrap();
    let started = std::time::Instant::now();
    let (ours, info) = common::flatten_to_tree(&spec, &opts, &scratch, "ours");
    eprintln!(
        "--via docker (pull + save + flatten): {:.1?}",
        started.elapsed()
    );
    let oracle_tree = dockerd
        .export_tree(&reference, &scratch.path("export"))
        .unwrap();
    oracle::assert_same_as(
        "docker export",
        &common::without(oracle_tree, DOCKER_INIT_PATHS),
        &common::without(ours.with_whole_second_mtimes(), DOCKER_INIT_PATHS),
        "--via docker",
    );

    assert_eq!(info.kind, SourceKind::Registry);
    assert_eq!(info.via, Some(Engine::Docker));
    assert_eq!(info.reference, reference);
    let repo_digests = dockerd
        .run(&[
            "image",
            "inspect",
            "--format",
            "{{json .RepoDigests}}",
            &reference,
        ])
        .unwrap();
    let digest = info.manifest_digest.expect("docker recorded a digest");
    assert!(
        repo_digests.contains(&format!("{}/engine/debian@{digest}", registry.host())),
        "{repo_digests} should hold {digest}"
    );
}
