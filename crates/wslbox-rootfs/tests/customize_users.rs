//! `--user`, the root fix and the image's `User`, on fabricated Debian/Fedora/Alpine trees.

mod customize_support;

use customize_support::*;
use wslbox_image::ImageConfigSummary;
use wslbox_rootfs::NodeKind;
use wslbox_rootfs::OverlayContent;
use wslbox_rootfs::customize::{CustomizeError, DefaultUser, WslOptions};

const DAYS: i64 = EXPORTED_AT / 86_400;

fn cfg() -> ImageConfigSummary {
    ImageConfigSummary::default()
}

#[test]
fn debian_user_gets_passwd_group_shadow_gshadow_sudo_and_skel_home() {
    let (c, after) = run(&debian_like(), &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1000)))
    );
    assert_eq!(
        after.text("etc/passwd"),
        format!("{DEBIAN_PASSWD}alice:x:1000:1000::/home/alice:/bin/bash\n")
    );
    assert_eq!(
        after.text("etc/group"),
        "root:x:0:\nsudo:x:27:alice\nshadow:x:42:\nusers:x:100:\nnogroup:x:65534:\nalice:x:1000:\n"
    );
    assert_eq!(
        after.text("etc/shadow"),
        format!("{DEBIAN_SHADOW}alice:!:{DAYS}:0:99999:7:::\n")
    );
    assert_eq!(
        after.text("etc/gshadow"),
        "root:*::\nsudo:*::alice\nshadow:*::\nusers:*::\nnogroup:*::\nalice:!::\n"
    );
    // The image's modes and owners are kept.
    let shadow = after.meta("etc/shadow");
    assert_eq!((shadow.mode, shadow.uid, shadow.gid), (0o640, 0, 42));
    assert_eq!(after.meta("etc/passwd").mode, 0o644);

    // Home: UMASK 022 in login.defs → 0755, owned by the user, populated from /etc/skel.
    let home = after.meta("home/alice");
    assert_eq!(
        (home.kind, home.mode, home.uid, home.gid),
        (NodeKind::Dir, 0o755, 1000, 1000)
    );
    assert_eq!(after.text("home/alice/.bashrc"), "# ~/.bashrc\n");
    assert_eq!(after.text("home/alice/.config/app.conf"), "x=1\n");
    assert_eq!(after.meta("home/alice/.config").kind, NodeKind::Dir);
    let link = after.meta("home/alice/.link");
    assert_eq!(
        (link.kind, link.link_target.as_deref()),
        (NodeKind::Symlink, Some(&b".bashrc"[..]))
    );
    for p in [
        "home/alice/.bashrc",
        "home/alice/.config",
        "home/alice/.config/app.conf",
        "home/alice/.link",
    ] {
        assert_eq!((after.meta(p).uid, after.meta(p).gid), (1000, 1000), "{p}");
    }
    // Skel files are copied by reference, not buffered.
    assert!(c.overlays.iter().any(|o| o.path == b"home/alice/.bashrc"
        && o.content == OverlayContent::CopyOf(b"etc/skel/.bashrc".to_vec())));

    assert!(
        after
            .text("etc/wsl.conf")
            .contains("[user]\ndefault=alice\n")
    );
    assert!(
        c.notes.iter().any(|n| n.contains("passwd alice")),
        "{:?}",
        c.notes
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn fedora_user_joins_wheel_with_home_mode_from_home_mode_and_shadow_mode_kept() {
    let (c, after) = run(&fedora_like(), &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1000)))
    );
    assert!(
        after
            .text("etc/group")
            .ends_with("wheel:x:10:alice\nalice:x:1000:\n")
    );
    assert_eq!(after.meta("home/alice").mode, 0o700);
    assert_eq!(after.meta("etc/shadow").mode, 0o000);
    assert!(!after.has("etc/gshadow"), "no gshadow is invented");
    assert!(
        after
            .text("etc/passwd")
            .ends_with("alice:x:1000:1000::/home/alice:/bin/bash\n")
    );
}

#[test]
fn alpine_user_gets_sh_because_bash_is_missing_and_joins_wheel_after_root() {
    let (_, after) = run(&alpine_like(), &cfg(), &with_user("alice")).unwrap();
    assert!(
        after
            .text("etc/passwd")
            .ends_with("alice:x:1000:1000::/home/alice:/bin/sh\n")
    );
    assert!(after.text("etc/group").contains("wheel:x:10:root,alice\n"));
    // No login.defs: useradd's built-in umask 022.
    assert_eq!(after.meta("home/alice").mode, 0o755);
}

#[test]
fn uid_collision_in_passwd_or_group_moves_to_next_free_id() {
    let tree = debian_like()
        .file(
            "etc/passwd",
            &format!("{DEBIAN_PASSWD}bob:x:1000:1000::/home/bob:/bin/bash\n"),
        )
        .file(
            "etc/group",
            &format!("{DEBIAN_GROUP}bob:x:1000:\ndocker:x:1001:\n"),
        );
    let (c, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1002)))
    );
    assert!(
        after
            .text("etc/passwd")
            .ends_with("alice:x:1002:1002::/home/alice:/bin/bash\n")
    );
}

#[test]
fn explicit_uid_already_taken_is_an_error_naming_the_owner() {
    let tree = debian_like().file(
        "etc/passwd",
        &format!("{DEBIAN_PASSWD}bob:x:1500:1500::/home/bob:/bin/bash\n"),
    );
    let err = run(&tree, &cfg(), &with_user("alice:1500")).unwrap_err();
    assert!(
        matches!(&err, CustomizeError::UidInUse { uid: 1500, owner } if owner == "bob"),
        "{err}"
    );
}

#[test]
fn explicit_uid_whose_gid_is_taken_gets_the_first_free_gid() {
    let tree = debian_like().file("etc/group", &format!("{DEBIAN_GROUP}docker:x:1500:\n"));
    let (c, after) = run(&tree, &cfg(), &with_user("alice:1500")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1500)))
    );
    assert!(
        after
            .text("etc/passwd")
            .ends_with("alice:x:1500:1000::/home/alice:/bin/bash\n")
    );
    assert!(after.text("etc/group").ends_with("alice:x:1000:\n"));
}

#[test]
fn existing_user_is_reused_and_only_made_default() {
    let passwd = format!("{DEBIAN_PASSWD}alice:x:1005:1005:Alice:/home/alice:/bin/bash\n");
    let tree = debian_like().file("etc/passwd", &passwd);
    let (c, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1005)))
    );
    assert_eq!(after.text("etc/passwd"), passwd);
    assert_eq!(after.text("etc/group"), DEBIAN_GROUP);
    assert!(!after.has("home/alice"));
    assert!(after.text("etc/wsl.conf").contains("default=alice"));
}

#[test]
fn existing_user_with_a_password_gets_only_its_shadow_hash_replaced() {
    let tree = debian_like()
        .file(
            "etc/passwd",
            &format!("{DEBIAN_PASSWD}alice:x:1000:1000::/home/alice:/bin/bash\n"),
        )
        .file_owned(
            "etc/shadow",
            format!("{DEBIAN_SHADOW}alice:!:19000:0:99999:7:::\n").as_bytes(),
            0o640,
            0,
            42,
        );
    let opts = WslOptions {
        password: Some("hunter2".into()),
        ..with_user("alice")
    };
    let (_, after) = run(&tree, &cfg(), &opts).unwrap();
    let shadow = after.text("etc/shadow");
    assert!(shadow.starts_with(DEBIAN_SHADOW));
    let line = shadow.lines().last().unwrap();
    let fields: Vec<&str> = line.split(':').collect();
    assert_eq!(
        (fields[0], &fields[2..]),
        ("alice", &["19000", "0", "99999", "7", "", "", ""][..])
    );
    assert_eq!(openssl_crypt("hunter2", fields[1]), fields[1]);
}

#[test]
fn password_is_stored_as_sha512_crypt_verified_by_openssl() {
    let opts = WslOptions {
        password: Some("correct horse".into()),
        ..with_user("alice")
    };
    let (c, after) = run(&debian_like(), &cfg(), &opts).unwrap();
    let line = after.text("etc/shadow").lines().last().unwrap().to_string();
    let hash = line.split(':').nth(1).unwrap();
    assert!(hash.starts_with("$6$"), "{line}");
    assert_eq!(openssl_crypt("correct horse", hash), hash);
    assert!(
        !c.notes.iter().any(|n| n.contains("passwd alice")),
        "no 'set a password' advice when one was given"
    );
    assert!(
        !format!("{c:?}").contains("correct horse"),
        "the plain text leaks nowhere"
    );
}

/// Recomputes `hash` (`$6$SALT$…`) from the password with openssl's independent implementation.
fn openssl_crypt(password: &str, hash: &str) -> String {
    let salt = hash.split('$').nth(2).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["passwd", "-6", "-salt", salt, password])
        .output()
        .expect("openssl must be installed (scripts/install-test-deps)");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn sudo_nopasswd_writes_a_0440_dropin() {
    let opts = WslOptions {
        sudo_nopasswd: true,
        ..with_user("alice")
    };
    let (c, after) = run(&debian_like(), &cfg(), &opts).unwrap();
    let dropin = after.meta("etc/sudoers.d/wslbox-alice");
    assert_eq!((dropin.mode, dropin.uid, dropin.gid), (0o440, 0, 0));
    assert!(
        after
            .text("etc/sudoers.d/wslbox-alice")
            .contains("\nalice ALL=(ALL:ALL) NOPASSWD: ALL\n")
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn sudo_nopasswd_creates_sudoers_d_and_warns_when_sudo_is_missing() {
    let opts = WslOptions {
        sudo_nopasswd: true,
        ..with_user("alice")
    };
    let (c, after) = run(&fedora_like(), &cfg(), &opts).unwrap();
    assert_eq!(after.meta("etc/sudoers.d").mode, 0o750);
    assert!(after.has("etc/sudoers.d/wslbox-alice"));
    assert!(
        c.warnings.iter().any(|w| w.code == "sudo-missing"),
        "{:?}",
        c.warnings
    );
}

#[test]
fn image_config_user_by_name_or_uid_becomes_default() {
    let tree = debian_like().file(
        "etc/passwd",
        &format!("{DEBIAN_PASSWD}node:x:1000:1000::/home/node:/bin/bash\n"),
    );
    for user in ["node", "1000", "node:node", "1000:1000"] {
        let config = ImageConfigSummary {
            user: Some(user.into()),
            ..cfg()
        };
        let (c, after) = run(&tree, &config, &WslOptions::default()).unwrap();
        assert_eq!(
            c.default_user,
            Some(DefaultUser::from(("node".to_owned(), 1000))),
            "{user}"
        );
        assert!(
            after
                .text("etc/wsl.conf")
                .contains("[user]\ndefault=node\n")
        );
    }
}

/// `commit`: the distribution's `DefaultUid` names the default user, over the image's `User`,
/// and lands in `/etc/wsl.conf` (the registry value does not travel with the image).
#[test]
fn distribution_default_uid_becomes_the_default_user_over_the_config_user() {
    let tree = debian_like().file(
        "etc/passwd",
        &format!(
            "{DEBIAN_PASSWD}node:x:1000:1000::/home/node:/bin/bash
dev:x:1500:1500::/home/dev:/bin/bash
"
        ),
    );
    let config = ImageConfigSummary {
        user: Some("node".into()),
        ..cfg()
    };
    let opts = WslOptions {
        default_uid: Some(1500),
        ..WslOptions::default()
    };
    let (c, after) = run(&tree, &config, &opts).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("dev".to_owned(), 1500)))
    );
    assert!(after.text("etc/wsl.conf").contains("[user]\ndefault=dev\n"));

    // A uid no account has: root stays the default, and the warning says whose uid it was.
    let opts = WslOptions {
        default_uid: Some(4242),
        ..WslOptions::default()
    };
    let (c, _) = run(&tree, &cfg(), &opts).unwrap();
    assert_eq!(c.default_user, None);
    let warning = c.warnings.iter().find(|w| w.code == "image-user-missing");
    assert!(
        warning.is_some_and(|w| w.message.contains("DefaultUid `4242`")),
        "{:?}",
        c.warnings
    );
}

#[test]
fn image_config_user_that_does_not_exist_warns_and_keeps_root() {
    let config = ImageConfigSummary {
        user: Some("ghost".into()),
        ..cfg()
    };
    let (c, after) = run(&debian_like(), &config, &WslOptions::default()).unwrap();
    assert_eq!(c.default_user, None);
    assert!(c.warnings.iter().any(|w| w.code == "image-user-missing"));
    assert!(!after.has("etc/wsl.conf"));
}

#[test]
fn malformed_lines_are_kept_verbatim_and_missing_trailing_newline_is_added() {
    let passwd = "root:x:0:0:root:/root:/bin/bash\nbroken-line-without-fields\nweird:x:notanumber:1::/:/bin/sh\n# comment\ncarol:x:1000:1000::/home/carol:/bin/sh";
    let group = "root:x:0:\nsudo:x:27:\njunk\ncarol:x:1000:";
    let tree = debian_like()
        .file("etc/passwd", passwd)
        .file("etc/group", group);
    let (c, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1001)))
    );
    assert_eq!(
        after.text("etc/passwd"),
        format!("{passwd}\nalice:x:1001:1001::/home/alice:/bin/bash\n")
    );
    assert_eq!(
        after.text("etc/group"),
        "root:x:0:\nsudo:x:27:alice\njunk\ncarol:x:1000:\nalice:x:1001:\n"
    );
}

#[test]
fn malformed_entry_for_the_user_we_add_is_a_clear_error() {
    let tree = debian_like().file("etc/passwd", &format!("{DEBIAN_PASSWD}alice:x:1000\n"));
    let err = run(&tree, &cfg(), &with_user("alice")).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, CustomizeError::MalformedEntry { line: 4, .. }),
        "{msg}"
    );
    assert!(
        msg.contains("/etc/passwd line 4") && msg.contains("alice:x:1000"),
        "{msg}"
    );
}

#[test]
fn malformed_admin_group_entry_is_a_clear_error() {
    let tree = debian_like().file("etc/group", "root:x:0:\nsudo:x\n");
    let err = run(&tree, &cfg(), &with_user("alice")).unwrap_err();
    assert!(err.to_string().contains("/etc/group line 2"), "{err}");
}

#[test]
fn image_without_passwd_gets_root_entries_for_wsl() {
    let tree = MemTree::default()
        .dir("bin")
        .file_owned("bin/sh", b"ELF", 0o755, 0, 0)
        .dir("etc");
    let (c, after) = run(&tree, &cfg(), &WslOptions::default()).unwrap();
    assert_eq!(after.text("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
    assert_eq!(after.text("etc/group"), "root:x:0:\n");
    assert_eq!(after.meta("etc/passwd").mode, 0o644);
    assert_eq!(after.meta("root").mode, 0o700);
    assert!(c.warnings.iter().any(|w| w.code == "root-added"));
}

#[test]
fn passwd_without_root_gets_one_appended() {
    let tree = alpine_like().file("etc/passwd", "nobody:x:65534:65534:nobody:/:/sbin/nologin");
    let (_, after) = run(&tree, &cfg(), &WslOptions::default()).unwrap();
    assert_eq!(
        after.text("etc/passwd"),
        "nobody:x:65534:65534:nobody:/:/sbin/nologin\nroot:x:0:0:root:/root:/bin/sh\n"
    );
}

#[test]
fn existing_group_with_the_users_name_becomes_its_primary_group() {
    let tree = debian_like().file("etc/group", &format!("{DEBIAN_GROUP}alice:x:2000:\n"));
    let (_, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert!(
        after
            .text("etc/passwd")
            .ends_with("alice:x:1000:2000::/home/alice:/bin/bash\n")
    );
    assert_eq!(after.text("etc/group").matches("alice:x:").count(), 1);
}

#[test]
fn missing_home_and_shadow_are_created() {
    let tree = alpine_like();
    let mut tree = tree;
    tree.nodes.remove(&b"home"[..]);
    tree.nodes.remove(&b"etc/shadow"[..]);
    let (_, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(after.meta("home").mode, 0o755);
    assert_eq!(
        after.text("etc/shadow"),
        format!("alice:!:{DAYS}:0:99999:7:::\n")
    );
    assert_eq!(after.meta("etc/shadow").mode, 0o600);
}

#[test]
fn existing_home_is_reowned_but_not_populated() {
    let tree = debian_like()
        .dir("home/alice")
        .file("home/alice/keep", "mine");
    let (c, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(after.meta("home/alice").uid, 1000);
    assert!(!after.has("home/alice/.bashrc"));
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("/home/alice already exists"))
    );
}

#[test]
fn subordinate_ids_are_added_after_the_highest_range_when_the_files_exist() {
    let tree = debian_like()
        .file("etc/subuid", "bob:100000:65536\n")
        .file("etc/subgid", "");
    let (_, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        after.text("etc/subuid"),
        "bob:100000:65536\nalice:165536:65536\n"
    );
    assert_eq!(after.text("etc/subgid"), "alice:100000:65536\n");
    let (_, fedora) = run(&fedora_like(), &cfg(), &with_user("alice")).unwrap();
    assert!(
        !fedora.has("etc/subuid"),
        "not invented when the image has none"
    );
}

#[test]
fn crlf_group_file_gets_the_member_before_the_carriage_return() {
    let tree = debian_like().file("etc/group", "root:x:0:\r\nsudo:x:27:\r\n");
    let (_, after) = run(&tree, &cfg(), &with_user("alice")).unwrap();
    assert_eq!(
        after.text("etc/group"),
        "root:x:0:\r\nsudo:x:27:alice\r\nalice:x:1000:\n"
    );
}
