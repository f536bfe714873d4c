//! `wslbox export` makes a real Debian bookworm minbase WSL-ready: the output is extracted as
//! root the way WSL's import does (`bsdtar -xp --xattrs`) and checked with the distribution's
//! own tools in a chroot. Also `.wsl` output and the no-shell refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use wslbox_test::chroot::{in_chroot, must_run, require_root, sudo_and_caps_layer};
use wslbox_test::oci_layout::{Compression, IndexEntry, OciLayout, Platform, TarSource};
use wslbox_test::registry_env::CliEnv;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// An OCI layout `DIR:latest` with `layers` and an image config carrying `config`.
fn layout(dir: &Path, layers: Vec<PathBuf>, config: serde_json::Value) -> String {
    let layout = OciLayout::create(dir).expect("create layout");
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    for tar in layers {
        let (desc, diff_id) = layout
            .add_layer(&TarSource::File(tar), Compression::None)
            .expect("add layer");
        descs.push(json!({"mediaType": desc.media_type, "digest": desc.digest.to_string(), "size": desc.size}));
        diff_ids.push(diff_id.to_string());
    }
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": config,
    });
    let config = layout
        .add_blob(
            &serde_json::to_vec(&config).unwrap(),
            "application/vnd.oci.image.config.v1+json",
        )
        .unwrap();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": config.media_type, "digest": config.digest.to_string(), "size": config.size},
        "layers": descs,
    });
    let manifest = layout
        .add_blob(
            &serde_json::to_vec(&manifest).unwrap(),
            "application/vnd.oci.image.manifest.v1+json",
        )
        .unwrap();
    layout
        .write_index(&[IndexEntry {
            blob: manifest,
            platform: Some(Platform::linux("amd64")),
            tag: Some("latest".into()),
        }])
        .unwrap();
    format!("oci:{}:latest", dir.display())
}

#[test]
fn exported_debian_has_the_user_env_sudo_rule_and_capabilities() {
    require_root();
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap minbase fixture");
    let work = tempfile::tempdir().unwrap();
    let sudo_layer = sudo_and_caps_layer(work.path());
    let image = layout(
        &work.path().join("layout"),
        vec![minbase, sudo_layer],
        json!({"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8"], "Cmd": ["bash"]}),
    );
    let env = cli();
    let out = work.path().join("debian.tar.gz");
    let outcome = env.run_with_stdin(
        &[
            "export",
            &image,
            "-o",
            out.to_str().unwrap(),
            "--user",
            "alice",
            "--sudo-nopasswd",
            "--password-stdin",
            "--json",
        ],
        "s3cret pass\n",
    );
    outcome.success();
    let summary = outcome.json();
    assert_eq!(summary["os"]["id"], "debian", "{summary}");
    assert_eq!(summary["default_user"]["name"], "alice", "{summary}");
    assert_eq!(summary["default_user"]["uid"], 1000, "{summary}");
    assert_eq!(summary["warnings"], json!([]), "{summary}");

    let root = work.path().join("root");
    wslbox_test::oracle::bsdtar_extract(&out, &root).expect("bsdtar -xp");
    let id = in_chroot(&root, "id alice");
    assert!(
        id.starts_with("uid=1000(alice) gid=1000(alice) groups=1000(alice),27(sudo)"),
        "{id}"
    );
    assert_eq!(in_chroot(&root, "su - alice -c 'id -un'"), "alice\n");
    assert_eq!(
        in_chroot(&root, "su - alice -c 'printf %s \"$LANG\"'"),
        "C.UTF-8"
    );
    let sudo = in_chroot(&root, "sudo -l -U alice");
    assert!(sudo.contains("(ALL : ALL) NOPASSWD: ALL"), "{sudo}");
    let caps = must_run(
        Command::new("getcap").arg(root.join("usr/local/bin/pinglike")),
        "getcap (libcap2-bin)",
    );
    assert!(caps.contains("cap_net_raw=ep"), "{caps}");
    let provenance = fs_err::read_to_string(root.join("etc/wslbox-image")).unwrap();
    assert!(
        provenance.contains(&format!(
            "manifest_digest={}\n",
            summary["manifest_digest"].as_str().unwrap()
        )),
        "{provenance}"
    );
    let wslconf = fs_err::read_to_string(root.join("etc/wsl.conf")).unwrap();
    assert_eq!(wslconf, "[user]\ndefault=alice\n");
}

#[test]
fn dot_wsl_output_carries_the_distribution_conf_and_first_run_script() {
    require_root();
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap minbase fixture");
    let work = tempfile::tempdir().unwrap();
    let image = layout(
        &work.path().join("layout"),
        vec![minbase],
        json!({"Env": ["LANG=C.UTF-8"]}),
    );
    let out = work.path().join("debian.wsl");
    cli()
        .run(&["export", &image, "-o", out.to_str().unwrap()])
        .success();
    let root = work.path().join("root");
    wslbox_test::oracle::bsdtar_extract(&out, &root).expect("bsdtar -xp");
    let conf = fs_err::read_to_string(root.join("etc/wsl-distribution.conf")).unwrap();
    assert!(
        conf.contains("[oobe]\ncommand = /usr/lib/wsl/oobe.sh\ndefaultUid = 1000\n"),
        "{conf}"
    );
    assert!(
        conf.contains("[shortcut]\nenabled = true\n")
            && conf.contains("[windowsterminal]\nenabled = true\n"),
        "{conf}"
    );
    let log = in_chroot(
        &root,
        "printf 'dave\\npw12345x\\npw12345x\\n' | /usr/lib/wsl/oobe.sh 2>&1",
    );
    let id = in_chroot(&root, "id dave");
    assert!(
        id.starts_with("uid=1000(dave) gid=1000(dave) groups=1000(dave),27(sudo)"),
        "{id}\n{log}"
    );
}

#[test]
fn image_without_a_shell_is_refused_for_dot_wsl_unless_forced() {
    let work = tempfile::tempdir().unwrap();
    let app = work.path().join("app.tar");
    let staging = work.path().join("scratch");
    fs_err::create_dir_all(staging.join("app")).unwrap();
    fs_err::write(staging.join("app/server"), b"not a shell").unwrap();
    must_run(
        Command::new("tar")
            .arg("-C")
            .arg(&staging)
            .arg("-cf")
            .arg(&app)
            .arg("app"),
        "GNU tar",
    );
    let image = layout(
        &work.path().join("layout"),
        vec![app],
        json!({"Entrypoint": ["/app/server"]}),
    );
    let env = cli();

    let wsl = work.path().join("app.wsl");
    let refused = env.run(&["export", &image, "-o", wsl.to_str().unwrap()]);
    refused.failure();
    assert!(
        refused.stderr.contains("no /bin/sh") && refused.stderr.contains("--force"),
        "{refused}"
    );
    assert!(!wsl.exists(), "no output is left behind");

    env.run(&["export", &image, "-o", wsl.to_str().unwrap(), "--force"])
        .success();
    let tar = work.path().join("app.tar.gz");
    let plain = env.run(&["export", &image, "-o", tar.to_str().unwrap(), "--json"]);
    plain.success();
    let codes: Vec<String> = plain.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["code"].as_str().unwrap().to_string())
        .collect();
    assert!(codes.contains(&"no-shell".to_string()), "{codes:?}");
}
