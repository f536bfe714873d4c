//! `WslOptions::admin_group`: the catalog's admin group for the image's OS decides which group
//! a new `--user` joins, even when the image has both `sudo` and `wheel`.

mod customize_support;

use customize_support::*;
use wslbox_image::ImageConfigSummary;
use wslbox_rootfs::customize::WslOptions;

fn with_admin(user: &str, group: &str) -> WslOptions {
    WslOptions {
        admin_group: Some(group.into()),
        ..with_user(user)
    }
}

/// Fedora with a `sudo` group too (some images add one for Debian habits).
fn fedora_with_sudo_group() -> MemTree {
    fedora_like().file(
        "etc/group",
        "root:x:0:\nbin:x:1:\nwheel:x:10:\nsudo:x:27:\n",
    )
}

#[test]
fn wanted_wheel_wins_over_sudo_when_the_image_has_both() {
    let tree = fedora_with_sudo_group();
    let (c, after) = run(
        &tree,
        &ImageConfigSummary::default(),
        &with_admin("alice", "wheel"),
    )
    .unwrap();
    assert_eq!(
        after.text("etc/group"),
        "root:x:0:\nbin:x:1:\nwheel:x:10:alice\nsudo:x:27:\nalice:x:1000:\n"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);

    // Without the catalog's word the old rule picks sudo.
    let (_, after) = run(&tree, &ImageConfigSummary::default(), &with_user("alice")).unwrap();
    assert!(after.text("etc/group").contains("sudo:x:27:alice\n"));
}

#[test]
fn wanted_group_missing_from_the_image_falls_back_with_a_warning_naming_both() {
    let (c, after) = run(
        &debian_like(),
        &ImageConfigSummary::default(),
        &with_admin("alice", "wheel"),
    )
    .unwrap();
    assert!(after.text("etc/group").contains("sudo:x:27:alice\n"));
    let warning = c
        .warnings
        .iter()
        .find(|w| w.code == "admin-group-missing")
        .expect("a warning");
    assert!(
        warning.message.contains("`wheel`") && warning.message.contains("`sudo`"),
        "{}",
        warning.message
    );
}

#[test]
fn wanted_group_also_gets_the_gshadow_member() {
    let tree = debian_like()
        .file(
            "etc/group",
            "root:x:0:\nsudo:x:27:\nwheel:x:10:\nshadow:x:42:\n",
        )
        .file_owned(
            "etc/gshadow",
            b"root:*::\nsudo:*::\nwheel:*::\nshadow:*::\n",
            0o640,
            0,
            42,
        );
    let (_, after) = run(
        &tree,
        &ImageConfigSummary::default(),
        &with_admin("bob", "wheel"),
    )
    .unwrap();
    assert!(after.text("etc/group").contains("wheel:x:10:bob\n"));
    assert!(after.text("etc/group").contains("sudo:x:27:\n"));
    assert!(after.text("etc/gshadow").contains("wheel:*::bob\n"));
}
