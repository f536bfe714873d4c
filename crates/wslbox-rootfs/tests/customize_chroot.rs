//! End to end at the rootfs level on a real Debian bookworm minbase: flatten the layers,
//! customize, write the tar, extract it as root the way WSL does (`bsdtar -xp --xattrs`), and
//! check the result with the distribution's own tools inside a chroot.

use std::path::PathBuf;
use std::process::Command;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::{Digest, Platform};
use wslbox_rootfs::customize::{DefaultUser, ImageFacts, WslOptions, customize};
use wslbox_rootfs::{FlattenOptions, NoReporter, OutputDest, OutputFormat};
use wslbox_test::chroot::{in_chroot, must_run, require_root, sudo_and_caps_layer};
use wslbox_test::oci_layout::{Compression, OciLayout, Platform as LayoutPlatform, TarSource};
use wslbox_test::oracle::{Scratch, bsdtar_extract};

/// Flattens minbase (plus `extra` layers), customizes it with `wsl`, writes the tar and
/// extracts it with bsdtar as root. Returns the scratch dir (keep it alive), the root and the
/// customization.
fn export_minbase(
    extra: Vec<PathBuf>,
    config: &ImageConfigSummary,
    wsl: &WslOptions,
) -> (Scratch, PathBuf, wslbox_rootfs::customize::Customization) {
    require_root();
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap minbase fixture");
    let scratch = Scratch::new().unwrap();
    let mut layers = vec![(TarSource::File(minbase), Compression::None)];
    layers.extend(
        extra
            .into_iter()
            .map(|t| (TarSource::File(t), Compression::None)),
    );
    let layout = OciLayout::create(scratch.path("layout")).unwrap();
    let image = layout
        .add_image(&layers, &LayoutPlatform::linux("amd64"))
        .unwrap();
    let spool = scratch.path("spool");
    fs_err::create_dir_all(&spool).unwrap();
    let opts = FlattenOptions {
        jobs: 2,
        ..FlattenOptions::new(spool)
    };
    let mut tree = wslbox_rootfs::flatten(&image.layers, &layout.opener(), &opts, &NoReporter)
        .expect("flatten");

    let digest: Digest = format!("sha256:{}", "cd".repeat(32)).parse().unwrap();
    let platform = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let facts = ImageFacts {
        reference: "docker.io/library/debian:bookworm",
        manifest_digest: &digest,
        platform: &platform,
        config,
        exported_at: 1_763_726_400,
    };
    let custom = customize(&tree, &facts, wsl).expect("customize");
    assert_eq!(custom.os.as_ref().map(|o| o.id.as_str()), Some("debian"));
    tree.apply_overlays(custom.overlays.clone())
        .expect("apply overlays");
    let out = scratch.path("out.tar");
    wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .expect("write");
    let root = scratch.path("root");
    bsdtar_extract(&out, &root).expect("bsdtar -xp --xattrs, as WSL extracts");
    (scratch, root, custom)
}

#[test]
fn debian_minbase_user_env_sudo_and_caps_work_with_real_tools() {
    let work = tempfile::tempdir().unwrap();
    let layer2 = sudo_and_caps_layer(work.path());
    let config = ImageConfigSummary {
        env: vec![
            "PATH=/opt/tool/bin:/usr/local/bin:/usr/bin:/bin".into(),
            "LANG=C.UTF-8".into(),
            "GREETING=it's here".into(),
        ],
        ..ImageConfigSummary::default()
    };
    let wsl = WslOptions {
        user: Some("alice".parse().unwrap()),
        sudo_nopasswd: true,
        password: Some("s3cret pass".into()),
        systemd: true,
        hostname: Some("devbox".into()),
        ..WslOptions::default()
    };
    let (_scratch, root, custom) = export_minbase(vec![layer2], &config, &wsl);
    assert_eq!(
        custom.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1000)))
    );
    assert!(custom.warnings.is_empty(), "{:?}", custom.warnings);

    let id = in_chroot(&root, "id alice");
    assert!(
        id.starts_with("uid=1000(alice) gid=1000(alice) groups=1000(alice)"),
        "{id}"
    );
    assert!(id.contains("27(sudo)"), "{id}");
    assert_eq!(in_chroot(&root, "su - alice -c 'id -un'").trim(), "alice");
    assert_eq!(
        in_chroot(&root, "su - alice -c 'pwd; ls -A'"),
        "/home/alice\n.bash_logout\n.bashrc\n.profile\n"
    );
    let env = in_chroot(
        &root,
        r#"su - alice -c 'printf "%s|%s|%s" "$LANG" "$GREETING" "$PATH"'"#,
    );
    let parts: Vec<&str> = env.split('|').collect();
    assert_eq!(&parts[..2], ["C.UTF-8", "it's here"], "{env}");
    assert!(
        parts[2].starts_with("/opt/tool/bin:/usr/local/bin:/usr/bin:/bin"),
        "{env}"
    );
    assert_eq!(
        parts[2].matches("/usr/bin:").count(),
        1,
        "no duplicated PATH entries: {env}"
    );

    let sudo = in_chroot(&root, "sudo -l -U alice");
    assert!(sudo.contains("(ALL : ALL) NOPASSWD: ALL"), "{sudo}");
    // The image's own libcrypt (through perl's crypt) accepts the password hash.
    let crypt = in_chroot(
        &root,
        r#"perl -e 'open(my $f, "<", "/etc/shadow") or die; while (<$f>) { my @e = split /:/; print crypt("s3cret pass", $e[1]) eq $e[1] ? "match" : "mismatch" if $e[0] eq "alice" }'"#,
    );
    assert_eq!(crypt, "match");

    let caps = must_run(
        Command::new("getcap").arg(root.join("usr/local/bin/pinglike")),
        "getcap (libcap2-bin)",
    );
    assert!(caps.contains("cap_net_raw=ep"), "{caps}");
    let wslconf = fs_err::read_to_string(root.join("etc/wsl.conf")).unwrap();
    assert_eq!(
        wslconf,
        "[user]\ndefault=alice\n\n[boot]\nsystemd=true\n\n[network]\nhostname=devbox\n"
    );
    let sudoers_check = in_chroot(&root, "visudo -c");
    assert!(
        sudoers_check.contains("/etc/sudoers.d/wslbox-alice: parsed OK"),
        "{sudoers_check}"
    );
}

#[test]
fn dot_wsl_first_run_script_creates_the_user_with_the_distros_tools() {
    let wsl = WslOptions {
        wsl_format: true,
        ..WslOptions::default()
    };
    let (_scratch, root, custom) = export_minbase(Vec::new(), &ImageConfigSummary::default(), &wsl);
    assert_eq!(custom.default_user, None);
    let conf = fs_err::read_to_string(root.join("etc/wsl-distribution.conf")).unwrap();
    assert!(
        conf.contains("command = /usr/lib/wsl/oobe.sh\ndefaultUid = 1000\n"),
        "{conf}"
    );

    // An invalid name is refused, then a valid one is created by useradd with uid 1000.
    let log = in_chroot(
        &root,
        "printf 'Bad Name\\nbob\\npw12345x\\npw12345x\\n' | /usr/lib/wsl/oobe.sh 2>&1",
    );
    assert!(log.contains("Use lowercase letters"), "{log}");
    let id = in_chroot(&root, "id bob");
    assert!(
        id.starts_with("uid=1000(bob) gid=1000(bob) groups=1000(bob),27(sudo)"),
        "{id}"
    );
    assert_eq!(
        in_chroot(&root, "su - bob -c 'id -un; pwd'"),
        "bob\n/home/bob\n"
    );
    // A second run finds uid 1000 and leaves things alone.
    assert!(in_chroot(&root, "/usr/lib/wsl/oobe.sh </dev/null").contains("already exists"));
}

#[test]
fn dot_wsl_first_run_script_falls_back_to_editing_the_files() {
    let wsl = WslOptions {
        wsl_format: true,
        ..WslOptions::default()
    };
    let (_scratch, root, _) = export_minbase(Vec::new(), &ImageConfigSummary::default(), &wsl);
    // Without /usr/sbin on PATH there is no useradd/usermod: the script appends to the files.
    let log = in_chroot(
        &root,
        "printf 'carol\\npw12345x\\npw12345x\\n' | PATH=/usr/bin:/bin /usr/lib/wsl/oobe.sh 2>&1",
    );
    let id = in_chroot(&root, "id carol");
    assert!(
        id.starts_with("uid=1000(carol) gid=1000(carol) groups=1000(carol),27(sudo)"),
        "{id}\n{log}"
    );
    assert!(in_chroot(&root, "grep -c '^sudo:x:27:carol$' /etc/group").trim() == "1");
    assert_eq!(
        in_chroot(&root, "stat -c '%u:%g %a' /home/carol"),
        "1000:1000 750\n"
    );
    assert_eq!(in_chroot(&root, "su - carol -c 'id -un'"), "carol\n");
}
