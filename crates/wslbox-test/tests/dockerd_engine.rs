//! The private dockerd: it really starts here, loads a docker-archive, saves it back, pulls
//! from a local plain-HTTP registry, and `docker export` (the `docker-daemon:` oracle) gives
//! umoci's tree for the same image.

use wslbox_test::dockerd::{DOCKER_INIT_PATHS, Dockerd};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oci_layout::{Compression, OciLayout, Platform, TarSource};
use wslbox_test::oracle::{self, Scratch};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_fixture::{ImageSpec, Layout};
use wslbox_test::skopeo;

fn start(insecure: &[&str]) -> Dockerd {
    let daemon = Dockerd::start_with(insecure).expect("private dockerd");
    eprintln!("dockerd answered after {:.1?}", daemon.startup);
    daemon
}

#[test]
fn dockerd_loads_a_docker_archive_and_saves_it_back() {
    let scratch = Scratch::new().unwrap();
    let mut layout = Layout::create(&scratch.path("layout"));
    let image = layout.image(&ImageSpec::configured());
    layout.tag("v1", &image.manifest);
    let archive = scratch.path("image.tar");
    skopeo::docker_archive(layout.dir(), "v1", &archive, "wslbox/fixture:v1");

    let daemon = start(&[]);
    assert!(daemon.host().len() < 100, "{}", daemon.host());
    let loaded = daemon.load(&archive).unwrap();
    assert_eq!(loaded, ["wslbox/fixture:v1"]);
    assert_eq!(
        daemon.image_id("wslbox/fixture:v1").unwrap(),
        image.config.digest,
        "docker's image ID is the config digest"
    );
    daemon
        .tag("wslbox/fixture:v1", "other/name:latest")
        .unwrap();
    let members = daemon.save_members("other/name:latest").unwrap();
    assert!(members.iter().any(|m| m == "manifest.json"), "{members:?}");
    let layers = members.iter().filter(|m| m.ends_with("/layer.tar")).count();
    assert_eq!(layers, 2, "{members:?}");
}

#[test]
fn dockerd_pulls_from_a_local_registry_and_saves_umocis_tree() {
    let scratch = Scratch::new().unwrap();
    let registry = Registry::start(Auth::None);
    let pushed = registry.push_image(
        "app:v1",
        &ImageSpec::configured(),
        &skopeo::PushOptions::schema2(),
    );
    let daemon = start(&[&registry.host()]);
    let reference = registry.image("app:v1");
    daemon.pull(&reference).unwrap();
    assert_eq!(daemon.image_id(&reference).unwrap(), pushed.config.digest);
    let log = registry.log();
    assert!(
        log.lines().any(
            |l| l.contains("/v2/app/manifests/v1 HTTP/1.1\" 200") && l.contains("docker/20.10")
        ),
        "docker pulled over plain HTTP from the test registry:\n{log}"
    );

    let tree = daemon
        .image_tree(&reference, &scratch.path("image"))
        .unwrap();
    let mut layout = Layout::create(&scratch.path("layout"));
    let image = layout.image(&ImageSpec::configured());
    layout.tag("latest", &image.manifest);
    oracle::umoci_unpack(layout.dir(), "latest", &scratch.path("umoci")).unwrap();
    let umoci = oracle::snapshot(&scratch.path("umoci")).unwrap();
    oracle::assert_same_as("umoci", &umoci, &tree, "docker save of the pulled image");
}

/// `docker export` = the image's tree (umoci) plus the container's init layer, once every
/// directory is listed in the layer (parents it never listed come out 0600 in docker).
#[test]
fn docker_export_is_the_image_plus_the_init_layer() {
    let scratch = Scratch::new().unwrap();
    let tar = Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/os-release", "ID=fixture\n"))
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/bin"))
        .with(Entry::file("usr/bin/tool", "#!/bin/sh\n").mode(0o4755))
        // As GNU tar writes it: a hardlink's header repeats its target's mode (docker applies
        // a hardlink header's mode to the shared inode, umoci ignores it).
        .with(Entry::hardlink("usr/bin/tool2", "usr/bin/tool").mode(0o4755))
        .with(Entry::symlink("bin", "usr/bin"))
        .with(Entry::fifo("usr/fifo"))
        .finish();
    let layout = OciLayout::create(scratch.path("layout")).unwrap();
    let image = layout
        .add_image(
            &[(TarSource::Bytes(tar), Compression::Gzip)],
            &Platform::linux("amd64"),
        )
        .unwrap();
    layout.write_index(&[image.tagged("latest")]).unwrap();
    let archive = scratch.path("image.tar");
    skopeo::docker_archive(&layout.dir, "latest", &archive, "fixture:latest");
    let daemon = start(&[]);
    daemon.load(&archive).unwrap();

    let exported = daemon
        .export_tree("fixture:latest", &scratch.path("export"))
        .unwrap();
    assert_eq!(
        daemon.run(&["ps", "--all", "--quiet"]).unwrap().trim(),
        "",
        "the export container is removed"
    );
    for path in DOCKER_INIT_PATHS {
        assert!(exported.paths.contains_key(path.as_bytes()), "{path}");
    }
    let mut image_part = exported.clone();
    for path in DOCKER_INIT_PATHS {
        image_part.paths.remove(path.as_bytes());
    }
    oracle::umoci_unpack(&layout.dir, "latest", &scratch.path("umoci")).unwrap();
    let umoci = oracle::snapshot(&scratch.path("umoci"))
        .unwrap()
        .with_whole_second_mtimes();
    oracle::assert_same_as(
        "umoci",
        &umoci,
        &image_part,
        "docker export less its init layer",
    );
}

#[test]
fn two_daemons_run_side_by_side() {
    let a = start(&[]);
    let b = start(&[]);
    assert_ne!(a.host(), b.host());
    assert_ne!(a.data_root(), b.data_root());
    for daemon in [&a, &b] {
        let info = daemon
            .run(&["info", "--format", "{{.Driver}} {{.DockerRootDir}}"])
            .unwrap();
        assert_eq!(info.trim(), format!("vfs {}", daemon.data_root().display()));
    }
    let pid_file =
        std::path::Path::new(a.host().trim_start_matches("unix://")).with_file_name("dockerd.pid");
    let pid = fs_err::read_to_string(&pid_file).unwrap();
    drop(a);
    assert!(
        !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
        "dropping the helper stops its daemon"
    );
    assert!(
        b.run(&["version"]).is_ok(),
        "the other daemon is unaffected"
    );
}
