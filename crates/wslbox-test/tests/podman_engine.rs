//! The isolated podman: a real `podman build` with `RUN` steps on the local Debian minbase
//! writes the whiteouts real tools write, `podman export` (the `podman:` oracle) applies them
//! like umoci does, and images go to a local test registry and back.

use std::path::Path;
use std::time::Instant;

use wslbox_test::layers::{Entry, Layer};
use wslbox_test::oracle::{self, Scratch, Snapshot};
use wslbox_test::podman::{Podman, StorageDriver};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_http::get;

const BASE: &str = "localhost/minbase:latest";

fn context(scratch: &Scratch, containerfile: &str) -> std::path::PathBuf {
    let dir = scratch.path("context");
    fs_err::create_dir_all(&dir).unwrap();
    fs_err::write(dir.join("Containerfile"), containerfile).unwrap();
    dir
}

fn podman_with_minbase(driver: StorageDriver) -> Podman {
    let podman = Podman::with_driver(driver).unwrap();
    let started = Instant::now();
    podman
        .import_debian_minbase(BASE)
        .expect("podman import of the debootstrap minbase fixture");
    eprintln!(
        "podman import of the minbase ({}): {:.1?}",
        driver.name(),
        started.elapsed()
    );
    podman
}

fn build(podman: &Podman, context: &Path, tag: &str) {
    let started = Instant::now();
    podman.build(context, tag).expect("podman build");
    eprintln!(
        "podman build ({}): {:.1?}",
        podman.driver().name(),
        started.elapsed()
    );
}

fn children<'a>(snap: &'a Snapshot, dir: &str) -> Vec<&'a str> {
    let prefix = format!("{dir}/");
    snap.paths
        .keys()
        .filter_map(|p| std::str::from_utf8(p).ok()?.strip_prefix(prefix.as_str()))
        .collect()
}

#[test]
fn vfs_build_writes_per_file_whiteouts_and_export_applies_them_like_umoci() {
    let scratch = Scratch::new().unwrap();
    let podman = podman_with_minbase(StorageDriver::Vfs);
    let ctx = context(
        &scratch,
        "FROM localhost/minbase:latest\n\
         RUN rm /etc/motd\n\
         RUN rm -rf /usr/share/doc && mkdir /usr/share/doc && echo new > /usr/share/doc/README\n\
         RUN mkdir -p /opt/app && echo hi > /opt/app/a && ln /opt/app/a /opt/app/b \
             && chmod 4755 /opt/app/a && ln -s /etc/hostname /opt/app/abs && mkfifo /opt/app/fifo\n\
         RUN rm -rf /usr/share/man\n",
    );
    build(&podman, &ctx, "localhost/built:1");
    let layers = podman.layer_members("localhost/built:1").unwrap();
    assert_eq!(layers.len(), 5, "the base plus one layer per RUN");
    assert!(
        layers[1].iter().any(|n| n == "etc/.wh.motd"),
        "{:?}",
        layers[1]
    );
    assert!(
        layers[2].iter().any(|n| n == "usr/share/doc/.wh.dpkg"),
        "vfs: one whiteout per removed child: {:?}",
        layers[2]
    );
    assert!(!layers[2].iter().any(|n| n.ends_with(".wh..wh..opq")));
    assert!(layers[4].iter().any(|n| n == "usr/share/.wh.man"));

    let exported = podman
        .export_tree("localhost/built:1", &scratch.path("export"))
        .unwrap();
    assert!(!exported.paths.contains_key(b"etc/motd".as_slice()));
    assert!(!exported.paths.contains_key(b"usr/share/man".as_slice()));
    assert_eq!(children(&exported, "usr/share/doc"), ["README"]);
    let a = &exported.paths[b"opt/app/a".as_slice()];
    assert_eq!(a.mode, 0o4755);
    assert_eq!(a.link_group, [b"opt/app/a".to_vec(), b"opt/app/b".to_vec()]);
    assert_eq!(exported.paths[b"opt/app/fifo".as_slice()].kind, "fifo");

    let layout = scratch.path("layout");
    podman
        .save_oci_layout("localhost/built:1", &layout, "latest")
        .unwrap();
    oracle::umoci_unpack(&layout, "latest", &scratch.path("umoci")).unwrap();
    // podman export writes whole-second mtimes (umoci keeps the PAX nanoseconds).
    let umoci = oracle::snapshot(&scratch.path("umoci"))
        .unwrap()
        .with_whole_second_mtimes();
    oracle::assert_same_as("umoci", &umoci, &exported, "podman export");
    assert_eq!(
        podman.containers().unwrap(),
        0,
        "the export container is removed"
    );
}

#[test]
fn overlay_build_writes_an_opaque_whiteout() {
    let scratch = Scratch::new().unwrap();
    let podman = podman_with_minbase(StorageDriver::Overlay);
    let ctx = context(
        &scratch,
        "FROM localhost/minbase:latest\n\
         RUN rm -rf /usr/share/doc && mkdir /usr/share/doc && echo new > /usr/share/doc/README\n",
    );
    build(&podman, &ctx, "localhost/opaque:1");
    let layers = podman.layer_members("localhost/opaque:1").unwrap();
    assert!(
        layers[1].iter().any(|n| n == "usr/share/doc/.wh..wh..opq"),
        "overlay: an opaque directory: {:?}",
        layers[1]
    );
    let exported = podman
        .export_tree("localhost/opaque:1", &scratch.path("export"))
        .unwrap();
    assert_eq!(children(&exported, "usr/share/doc"), ["README"]);
}

/// A one-layer image from a tiny rootfs tar (no shell: enough to push and pull).
fn tiny_image(podman: &Podman, scratch: &Scratch, tag: &str) {
    let tar = scratch.path("tiny.tar");
    let layer = Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/os-release", "ID=tiny\n"))
        .with(Entry::file("usr/bin/tool", "#!/bin/sh\n").mode(0o755))
        .with(Entry::hardlink("usr/bin/tool2", "usr/bin/tool"))
        .finish();
    fs_err::write(&tar, layer).unwrap();
    podman.import(&tar, tag).unwrap();
}

#[test]
fn push_to_a_local_registry_and_pull_back_into_another_store() {
    let scratch = Scratch::new().unwrap();
    let registry = Registry::start(Auth::htpasswd("pusher", "s3cret"));
    let a = Podman::new().unwrap();
    tiny_image(&a, &scratch, "localhost/tiny:1");
    let reference = a.push_to("localhost/tiny:1", &registry, "tiny:1").unwrap();
    assert_eq!(reference, format!("{}/tiny:1", registry.host()));
    let b = Podman::new().unwrap();
    assert!(b.image_id(&reference).is_err(), "stores are separate");
    fs_err::write(
        b.dir().join("auth.json"),
        serde_json::json!({"auths": {registry.host(): {"auth": wslbox_test::registry_env::CliEnv::encode_auth("pusher", "s3cret")}}})
            .to_string(),
    )
    .unwrap();
    b.pull(&reference).unwrap();
    assert_eq!(
        a.image_id("localhost/tiny:1").unwrap(),
        b.image_id(&reference).unwrap(),
        "the same config digest came back"
    );
    let tree = b.export_tree(&reference, &scratch.path("export")).unwrap();
    assert_eq!(tree.paths[b"usr/bin/tool".as_slice()].link_group.len(), 2);
    let unauthorized = get(registry.addr(), "/v2/tiny/manifests/1", &[]).unwrap();
    assert_eq!(
        unauthorized.status, 401,
        "the registry really wants credentials"
    );
}

/// `cap_net_raw+ep` as `setcap` stores it (VFS_CAP_REVISION_2, effective).
const CAP_NET_RAW_EP: [u8; 20] = [
    1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// What the podman oracle can represent: containers/storage carries `security.*` and
/// `user.*` xattrs through import and export, but not `trusted.*`.
#[test]
fn export_keeps_security_and_user_xattrs_but_not_trusted() {
    let scratch = Scratch::new().unwrap();
    let podman = Podman::new().unwrap();
    let tar = scratch.path("xattrs.tar");
    let layer = Layer::new()
        .with(Entry::dir("bin"))
        .with(
            Entry::file("bin/ping", "ping")
                .mode(0o755)
                .xattr("security.capability", CAP_NET_RAW_EP),
        )
        .with(
            Entry::file("f", "x")
                .xattr("user.comment", "hello")
                .xattr("trusted.wslbox", "t"),
        )
        .finish();
    fs_err::write(&tar, layer).unwrap();
    podman.import(&tar, "localhost/xattrs:1").unwrap();
    let tree = podman
        .export_tree("localhost/xattrs:1", &scratch.path("export"))
        .unwrap();
    let ping = &tree.paths[b"bin/ping".as_slice()].xattrs;
    assert_eq!(ping[b"security.capability".as_slice()], CAP_NET_RAW_EP);
    let f = &tree.paths[b"f".as_slice()].xattrs;
    assert_eq!(f.keys().collect::<Vec<_>>(), [b"user.comment"]);
}

#[test]
fn save_and_load_between_stores() {
    let scratch = Scratch::new().unwrap();
    let a = Podman::new().unwrap();
    tiny_image(&a, &scratch, "localhost/tiny:2");
    let b = Podman::new().unwrap();
    for format in ["oci-archive", "docker-archive"] {
        let archive = scratch.path(format!("tiny.{format}"));
        a.save("localhost/tiny:2", format, &archive).unwrap();
        let loaded = b.load(&archive).unwrap();
        assert_eq!(loaded.len(), 1, "{format}: {loaded:?}");
    }
    assert_eq!(
        a.image_id("localhost/tiny:2").unwrap(),
        b.image_id("localhost/tiny:2").unwrap()
    );
}

#[test]
fn store_is_isolated_and_configured_as_asked() {
    let podman = Podman::new().unwrap();
    let info = podman
        .run(&[
            "info",
            "--format",
            "{{.Store.GraphRoot}} {{.Store.GraphDriverName}} {{.Host.OCIRuntime.Name}}",
        ])
        .unwrap();
    assert_eq!(
        info.trim(),
        format!("{} vfs runc", podman.graphroot().display())
    );
    let env: Vec<&str> = podman.envs().iter().map(|(k, _)| *k).collect();
    assert!(env.contains(&"CONTAINERS_STORAGE_CONF"));
    assert_eq!(podman.run(&["images", "--quiet"]).unwrap().trim(), "");
}
