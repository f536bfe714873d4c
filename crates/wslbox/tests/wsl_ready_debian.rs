//! `wslbox export` makes a real Debian bookworm minbase WSL-ready: the output is extracted as
//! root the way WSL's import does (`bsdtar -xp --xattrs`) and checked with the distribution's
//! own tools in a chroot. Also `.wsl` output and the no-shell refusal.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use wslbox_test::oci_layout::{Compression, IndexEntry, OciLayout, Platform, TarSource};
use wslbox_test::registry_env::CliEnv;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

fn must_run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}); install it with scripts/install-test-deps")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn require_root() {
    assert_eq!(
        must_run(Command::new("id").arg("-u"), "id").trim(),
        "0",
        "these tests extract as root and chroot, as WSL's import does; run them as root"
    );
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

/// A layer as `apt-get install sudo` would add (the host's bookworm sudo package files) plus
/// a binary carrying a file capability.
fn sudo_and_caps_layer(dir: &Path) -> PathBuf {
    let list = must_run(
        Command::new("dpkg").args(["-L", "sudo"]),
        "dpkg -L sudo (the host must have sudo installed)",
    );
    let files: Vec<&str> = list
        .lines()
        .filter_map(|l| l.strip_prefix('/'))
        .filter(|l| {
            !l.is_empty()
                && *l != "."
                && !["lib", "bin", "sbin"]
                    .iter()
                    .any(|p| l == p || l.starts_with(&format!("{p}/")))
        })
        .collect();
    let list_path = dir.join("sudo-files");
    fs_err::write(&list_path, files.join("\n")).unwrap();
    let tar = dir.join("sudo-layer.tar");
    must_run(
        Command::new("tar")
            .args([
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "--no-recursion",
                "-C",
                "/",
                "-cf",
            ])
            .arg(&tar)
            .arg("-T")
            .arg(&list_path),
        "GNU tar of sudo's files",
    );
    let staging = dir.join("caps");
    fs_err::create_dir_all(staging.join("usr/local/bin")).unwrap();
    fs_err::copy("/usr/bin/true", staging.join("usr/local/bin/pinglike")).unwrap();
    must_run(
        Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(staging.join("usr/local/bin/pinglike")),
        "setcap (libcap2-bin)",
    );
    must_run(
        Command::new("tar")
            .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
            .arg(&staging)
            .arg("-rf")
            .arg(&tar)
            .arg("usr/local/bin/pinglike"),
        "GNU tar append",
    );
    tar
}

fn bsdtar_extract(archive: &Path, dest: &Path) {
    fs_err::create_dir_all(dest).unwrap();
    must_run(
        Command::new("bsdtar")
            .args(["-xp", "--xattrs", "--numeric-owner", "-f"])
            .arg(archive)
            .arg("-C")
            .arg(dest),
        "bsdtar -xp (libarchive-tools)",
    );
}

/// Runs `script` with sh in a chroot of `root`, /proc and /dev mounted in a private namespace.
fn in_chroot(root: &Path, script: &str) -> String {
    let root = root.to_str().unwrap();
    let setup = format!(
        "mount -t proc proc '{root}/proc' && mount --rbind /dev '{root}/dev' && exec chroot '{root}' /bin/sh -c \"$0\""
    );
    must_run(
        Command::new("unshare").args(["--mount", "--fork", "sh", "-c", &setup, script]),
        &format!("in chroot: {script}"),
    )
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
    bsdtar_extract(&out, &root);
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
    bsdtar_extract(&out, &root);
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
