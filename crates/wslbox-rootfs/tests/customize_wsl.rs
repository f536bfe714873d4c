//! wsl.conf merging, the Env profile script, provenance, and `.wsl` output.

mod customize_support;

use customize_support::*;
use wslbox_image::ImageConfigSummary;
use wslbox_rootfs::customize::{CustomizeError, Provenance, WslOptions};

fn env(vars: &[&str]) -> ImageConfigSummary {
    ImageConfigSummary {
        env: vars.iter().map(|s| s.to_string()).collect(),
        ..ImageConfigSummary::default()
    }
}

#[test]
fn wsl_conf_is_merged_keeping_comments_order_and_owner() {
    let original = "# site settings\n[boot]\ncommand = /usr/local/bin/start # do not remove\n\n[interop]\nappendWindowsPath = false\n[user]\ndefault = root";
    let tree = debian_like().file_owned("etc/wsl.conf", original.as_bytes(), 0o600, 0, 0);
    let opts = WslOptions {
        systemd: true,
        hostname: Some("devbox".into()),
        ..with_user("alice")
    };
    let (_, after) = run(&tree, &ImageConfigSummary::default(), &opts).unwrap();
    assert_eq!(
        after.text("etc/wsl.conf"),
        "# site settings\n[boot]\ncommand = /usr/local/bin/start # do not remove\nsystemd=true\n\n[interop]\nappendWindowsPath = false\n[user]\ndefault=alice\n\n[network]\nhostname=devbox\n"
    );
    assert_eq!(after.meta("etc/wsl.conf").mode, 0o600);
}

#[test]
fn wsl_conf_is_created_when_the_image_has_none() {
    let opts = WslOptions {
        systemd: true,
        ..with_user("alice")
    };
    let (_, after) = run(&fedora_like(), &ImageConfigSummary::default(), &opts).unwrap();
    assert_eq!(
        after.text("etc/wsl.conf"),
        "[user]\ndefault=alice\n\n[boot]\nsystemd=true\n"
    );
    assert_eq!(after.meta("etc/wsl.conf").mode, 0o644);
}

#[test]
fn invalid_hostname_is_rejected() {
    let opts = WslOptions {
        hostname: Some("bad_host!".into()),
        ..WslOptions::default()
    };
    let err = run(&debian_like(), &ImageConfigSummary::default(), &opts).unwrap_err();
    assert!(
        matches!(err, CustomizeError::InvalidHostname { .. }),
        "{err}"
    );
}

#[test]
fn image_env_becomes_a_profile_script_that_login_shells_source() {
    let config = env(&[
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "LANG=C.UTF-8",
        "MSG=it's",
    ]);
    let (c, after) = run(&debian_like(), &config, &WslOptions::default()).unwrap();
    let script = after.text("etc/profile.d/wslbox-image.sh");
    assert!(script.contains("export LANG='C.UTF-8'\n"));
    assert!(script.contains(r"export MSG='it'\''s'"));
    assert!(
        !script.contains("export PATH='"),
        "PATH is never overwritten"
    );
    assert_eq!(after.meta("etc/profile.d/wslbox-image.sh").mode, 0o644);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn profile_d_is_created_and_unread_profile_d_is_warned() {
    let config = env(&["LANG=C.UTF-8"]);
    let (c, after) = run(&fedora_like(), &config, &WslOptions::default()).unwrap();
    assert!(after.has("etc/profile.d/wslbox-image.sh"));
    assert_eq!(after.meta("etc/profile.d").mode, 0o755);
    assert!(
        c.warnings.iter().any(|w| w.code == "profile-d-unused"),
        "fedora_like has no /etc/profile"
    );
}

#[test]
fn provenance_is_recorded_and_readable() {
    let (_, after) = run(
        &debian_like(),
        &ImageConfigSummary::default(),
        &WslOptions::default(),
    )
    .unwrap();
    let p = Provenance::parse(after.text("etc/wslbox-image").as_bytes()).unwrap();
    assert_eq!(p.reference, "docker.io/library/debian:bookworm");
    assert_eq!(p.manifest_digest, digest().to_string());
    assert_eq!(p.platform, "linux/amd64");
    assert_eq!(p.exported_at, EXPORTED_AT);
}

#[test]
fn dot_wsl_with_user_sets_default_uid_and_leaves_wsl_conf_user_alone() {
    let tree = debian_like().file(
        "etc/wsl.conf",
        "[user]\ndefault=root\n[boot]\nsystemd=true\n",
    );
    let opts = WslOptions {
        wsl_format: true,
        ..with_user("alice")
    };
    let (c, after) = run(&tree, &ImageConfigSummary::default(), &opts).unwrap();
    assert_eq!(
        after.text("etc/wsl-distribution.conf"),
        "# Written by wslbox for `wsl --install --from-file`.\n\n[oobe]\ndefaultUid = 1000\ndefaultName = debian-bookworm\n\n[shortcut]\nenabled = true\n\n[windowsterminal]\nenabled = true\n"
    );
    assert_eq!(after.text("etc/wsl.conf"), "[user]\n[boot]\nsystemd=true\n");
    assert!(c.warnings.iter().any(|w| w.code == "wslconf-user-removed"));
    assert!(!after.has("usr/lib/wsl/oobe.sh"));
}

#[test]
fn dot_wsl_without_user_gets_the_oobe_script_under_usr_lib_wsl() {
    let opts = WslOptions {
        wsl_format: true,
        distro_name: Some("mydeb".into()),
        ..WslOptions::default()
    };
    let (c, after) = run(&debian_like(), &ImageConfigSummary::default(), &opts).unwrap();
    let conf = after.text("etc/wsl-distribution.conf");
    assert!(
        conf.contains(
            "[oobe]\ncommand = /usr/lib/wsl/oobe.sh\ndefaultUid = 1000\ndefaultName = mydeb\n"
        ),
        "{conf}"
    );
    let script = after.meta("usr/lib/wsl/oobe.sh");
    assert_eq!(script.mode, 0o755);
    assert!(after.text("usr/lib/wsl/oobe.sh").starts_with("#!/bin/sh\n"));
    assert_eq!(after.meta("usr/lib/wsl").kind, wslbox_rootfs::NodeKind::Dir);
    assert_eq!(c.default_user, None);
}

#[test]
fn dot_wsl_with_a_non_1000_uid_warns_per_microsofts_validator() {
    let opts = WslOptions {
        wsl_format: true,
        ..with_user("alice:1234")
    };
    let (c, after) = run(&debian_like(), &ImageConfigSummary::default(), &opts).unwrap();
    assert!(
        after
            .text("etc/wsl-distribution.conf")
            .contains("defaultUid = 1234\n")
    );
    assert!(c.warnings.iter().any(|w| w.code == "default-uid-not-1000"));
}

#[test]
fn dot_wsl_icon_and_terminal_template_are_validated_and_installed() {
    let mut icon = vec![0, 0, 1, 0];
    icon.extend_from_slice(&[7; 100]);
    let template = br#"{"profiles":[{"name":"x"}]}"#.to_vec();
    let opts = WslOptions {
        wsl_format: true,
        icon: Some(icon.clone()),
        profile_template: Some(template.clone()),
        ..with_user("alice")
    };
    let (_, after) = run(&debian_like(), &ImageConfigSummary::default(), &opts).unwrap();
    let conf = after.text("etc/wsl-distribution.conf");
    assert!(
        conf.contains("[shortcut]\nenabled = true\nicon = /usr/lib/wsl/icon.ico\n"),
        "{conf}"
    );
    assert!(conf.contains("[windowsterminal]\nenabled = true\nprofileTemplate = /usr/lib/wsl/terminal-profile.json\n"), "{conf}");
    assert_eq!(after.nodes[&b"usr/lib/wsl/icon.ico"[..]].data, icon);
    assert_eq!(
        after.nodes[&b"usr/lib/wsl/terminal-profile.json"[..]].data,
        template
    );

    let bad = |o: WslOptions| run(&debian_like(), &ImageConfigSummary::default(), &o).unwrap_err();
    let base = || WslOptions {
        wsl_format: true,
        ..with_user("alice")
    };
    assert!(matches!(
        bad(WslOptions {
            icon: Some(b"\x89PNG".to_vec()),
            ..base()
        }),
        CustomizeError::IconNotIco
    ));
    let mut huge = vec![0, 0, 1, 0];
    huge.resize(1024 * 1024 + 1, 0);
    assert!(matches!(
        bad(WslOptions {
            icon: Some(huge),
            ..base()
        }),
        CustomizeError::IconTooLarge { .. }
    ));
    assert!(matches!(
        bad(WslOptions {
            profile_template: Some(b"{nope".to_vec()),
            ..base()
        }),
        CustomizeError::ProfileTemplateNotJson { .. }
    ));
}

#[test]
fn overlays_never_write_through_a_symlinked_directory() {
    // /usr/lib is a symlink (as on some layouts); the OOBE script must land at the real path.
    let tree = debian_like()
        .dir("usr/lib64")
        .file("usr/lib64/os-release", "ID=x\n");
    let mut tree = tree;
    tree.nodes
        .retain(|k, _| !k.starts_with(b"usr/lib/") && k != b"usr/lib");
    let tree = tree.symlink("usr/lib", "lib64");
    let opts = WslOptions {
        wsl_format: true,
        ..WslOptions::default()
    };
    let (c, after) = run(&tree, &ImageConfigSummary::default(), &opts).unwrap();
    assert!(after.has("usr/lib64/wsl/oobe.sh"));
    assert!(c.overlays.iter().all(|o| !o.path.starts_with(b"usr/lib/")));
}
