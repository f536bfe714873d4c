//! The new sources through the real binary, as the "done when" commands type them:
//! `squashfs:x.sfs -o x.tar`, `tarball:URL --sha256 … -o x.wsl --user me` and
//! `podman:IMAGE -o dev.tar.gz`.

use std::process::Command;

use wslbox_test::engine_image::{ENGINE_IMAGE, podman_with_engine_image};
use wslbox_test::file_server::{FileServer, Serve};
use wslbox_test::registry_env::CliEnv;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// `bsdtar -xOf ARCHIVE MEMBER`: one member's contents.
fn member(archive: &std::path::Path, name: &str) -> String {
    let out = Command::new("bsdtar")
        .arg("-xOf")
        .arg(archive)
        .arg(name)
        .output()
        .expect("bsdtar (Debian package libarchive-tools)");
    assert!(
        out.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn squashfs_image_exports_to_tar_and_a_plain_path_is_recognized() {
    let image =
        wslbox_test::squashfs::debian_minbase_squashfs(wslbox_test::squashfs::Compressor::Zstd)
            .expect("mksquashfs of the debootstrap fixture");
    let env = cli();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("x.tar");
    let summary = env
        .run(&[
            "export",
            &format!("squashfs:{}", image.display()),
            "-o",
            out.to_str().unwrap(),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(summary["source"]["kind"], "squashfs");
    assert_eq!(summary["os"]["id"], "debian");
    assert!(
        summary["source"]["sha256"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    // Debian's /etc/os-release is a symlink to this file.
    assert!(member(&out, "usr/lib/os-release").contains("Debian"));

    // Without the prefix the magic decides.
    let plain = env
        .run(&["inspect", image.to_str().unwrap(), "--json"])
        .success()
        .json();
    assert_eq!(plain["source"]["kind"], "squashfs");
    assert_eq!(plain["platform"]["os"], "linux", "read from /bin/sh");
}

#[test]
fn tarball_url_with_sha256_becomes_a_wsl_file_with_a_user() {
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap fixture");
    let work = tempfile::tempdir().unwrap();
    let gz = work.path().join("rootfs.tar.gz");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "pigz -1 -c {} > {}",
            minbase.display(),
            gz.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    let body = fs_err::read(&gz).unwrap();
    let sha = wslbox_reference::Hasher::digest(wslbox_reference::Algorithm::Sha256, &body);
    let server = FileServer::start();
    server.serve("/debian/rootfs.tar.gz", body, Serve::ranges());
    let url = format!("tarball:{}", server.url("/debian/rootfs.tar.gz"));

    let env = cli();
    let out = work.path().join("x.wsl");
    let summary = env
        .run(&[
            "export",
            &url,
            "--sha256",
            sha.hex(),
            "-o",
            out.to_str().unwrap(),
            "--user",
            "me",
            "--json",
        ])
        .success()
        .json();
    assert_eq!(summary["source"]["kind"], "tarball");
    assert_eq!(summary["source"]["checksum_verified"], true);
    assert_eq!(summary["source"]["sha256"], sha.to_string());
    assert_eq!(summary["manifest_digest"], sha.to_string());
    assert_eq!(summary["platform"], "linux/amd64", "read from /bin/sh");
    assert_eq!(summary["default_user"]["name"], "me");
    assert_eq!(summary["os"]["id"], "debian");

    assert!(member(&out, "etc/passwd").contains("\nme:x:1000:1000:"));
    assert!(member(&out, "etc/wsl-distribution.conf").contains("defaultUid = 1000"));
    let provenance = member(&out, "etc/wslbox-image");
    assert!(
        provenance.contains(&format!("reference={url}")),
        "{provenance}"
    );

    // Without a checksum it still works, with a warning that nothing was verified.
    let plain = work.path().join("plain.tar");
    let run = env.run(&["export", &url, "-o", plain.to_str().unwrap()]);
    run.success();
    assert!(run.stderr.contains("nothing verified"), "{}", run.stderr);
}

#[test]
fn podman_image_exports_to_tar_gz() {
    let podman = podman_with_engine_image().unwrap();
    let mut env = cli();
    for (name, value) in podman.envs() {
        env.set_var(name, value);
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dev.tar.gz");
    let summary = env
        .run(&[
            "export",
            &format!("podman:{ENGINE_IMAGE}"),
            "-o",
            out.to_str().unwrap(),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(summary["source"]["kind"], "podman");
    assert_eq!(summary["reference"], format!("podman:{ENGINE_IMAGE}"));
    let id = podman.image_id(ENGINE_IMAGE).unwrap();
    assert_eq!(
        summary["manifest_digest"],
        format!("sha256:{id}"),
        "the image ID"
    );
    // The image's Env reaches the distribution.
    assert!(member(&out, "etc/profile.d/wslbox-image.sh").contains("WSLBOX_TEST"));
    // The image store keeps it under its image ID.
    let listed = env.run(&["images", "--json"]).success().json();
    let records = listed.as_array().unwrap();
    assert_eq!(records.len(), 1, "{listed}");
    assert_eq!(records[0]["kind"], "podman");
    assert_eq!(records[0]["digest"], format!("sha256:{id}"));
    assert_eq!(records[0]["reference"], format!("podman:{ENGINE_IMAGE}"));
    assert!(records[0]["os"].is_object(), "{listed}");

    let missing = env.run(&["export", "podman:localhost/no-such-image:1", "-o", "x.tar"]);
    missing.failure();
    assert!(
        missing.stderr.contains("no-such-image"),
        "{}",
        missing.stderr
    );
}
