//! `wslbox upgrade` at the rootfs level: the kept trees read out of an old distribution's
//! export replace the new image's, and the old default user is merged into the new image's
//! account databases with the same ids, password hash and groups.

mod customize_support;

use std::sync::atomic::AtomicBool;

use customize_support::*;
use wslbox_image::{Compression, ImageConfigSummary};
use wslbox_rootfs::customize::{CustomizeError, DefaultUser, PreviousAccounts, WslOptions};
use wslbox_rootfs::{
    FlatTree, KeepPaths, LayerBuilder, LayerOptions, NodeKind, PathMap, TreeView, read_kept,
    read_tar,
};

/// A tar of `(path, body or None for a directory, mode, uid)`, as `wsl --export` writes one
/// (`./`-prefixed names).
fn tar(entries: &[(&str, Option<&str>, u32, u64)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, body, mode, uid) in entries {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_uid(*uid);
        h.set_gid(*uid);
        h.set_mtime(1_700_000_000);
        match body {
            Some(body) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(body.len() as u64);
                h.set_cksum();
                b.append_data(&mut h, format!("./{path}"), body.as_bytes())
                    .unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, format!("./{path}/"), &[][..])
                    .unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn tree_of(bytes: Vec<u8>, spool: &std::path::Path) -> FlatTree {
    let builder =
        LayerBuilder::new("new image", spool, LayerOptions::rootfs(PathMap::default())).unwrap();
    let layer = read_tar(
        Box::new(std::io::Cursor::new(bytes)),
        Compression::None,
        builder,
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    FlatTree::from_layers([layer]).unwrap()
}

fn text(tree: &FlatTree, path: &str) -> Option<String> {
    tree.read(path.as_bytes())
        .unwrap()
        .map(|b| String::from_utf8(b).unwrap())
}

const OLD_PASSWD: &str =
    "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n";

fn old_export() -> Vec<u8> {
    tar(&[
        ("etc", None, 0o755, 0),
        ("etc/passwd", Some(OLD_PASSWD), 0o644, 0),
        (
            "etc/shadow",
            Some("root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19500:0:99999:7:::\n"),
            0o640,
            0,
        ),
        (
            "etc/group",
            Some("root:x:0:\nsudo:x:27:alice\ndocker:x:999:alice\nalice:x:1000:\n"),
            0o644,
            0,
        ),
        (
            "etc/wsl.conf",
            Some("# mine\n[user]\ndefault=alice\n[boot]\nsystemd=true\n"),
            0o644,
            0,
        ),
        ("etc/sudoers.d", None, 0o750, 0),
        (
            "etc/sudoers.d/wslbox-alice",
            Some("alice ALL=(ALL:ALL) NOPASSWD: ALL\n"),
            0o440,
            0,
        ),
        ("etc/sudoers.d/README", Some("the image's own\n"), 0o440, 0),
        ("etc/apt", None, 0o755, 0),
        ("etc/apt/old.list", Some("old\n"), 0o644, 0),
        ("home", None, 0o755, 0),
        ("home/alice", None, 0o750, 1000),
        ("home/alice/notes.txt", Some("my work\n"), 0o644, 1000),
        (
            "home/alice/.wh.looks-like-a-whiteout",
            Some("an ordinary file\n"),
            0o644,
            1000,
        ),
        ("root", None, 0o700, 0),
        ("root/.history", Some("ls\n"), 0o600, 0),
        ("opt", None, 0o755, 0),
        ("opt/data", None, 0o755, 1000),
        ("opt/data/db", Some("rows\n"), 0o644, 1000),
        ("usr", None, 0o755, 0),
        ("usr/bin", None, 0o755, 0),
        ("usr/bin/removed-in-v2", Some("ELF\n"), 0o755, 0),
    ])
}

fn new_image() -> Vec<u8> {
    tar(&[
        ("etc", None, 0o755, 0),
        (
            "etc/passwd",
            Some("root:x:0:0:root:/root:/bin/bash\n"),
            0o644,
            0,
        ),
        ("etc/group", Some("root:x:0:\nsudo:x:27:\n"), 0o644, 0),
        ("etc/apt", None, 0o755, 0),
        ("etc/apt/new.list", Some("new\n"), 0o644, 0),
        ("home", None, 0o755, 0),
        ("home/ubuntu", None, 0o750, 1001),
        ("root", None, 0o700, 0),
        ("root/.profile", Some("image\n"), 0o644, 0),
        ("usr", None, 0o755, 0),
        ("usr/bin", None, 0o755, 0),
        ("usr/bin/new-in-v2", Some("ELF\n"), 0o755, 0),
    ])
}

#[test]
fn kept_trees_replace_the_images_and_nothing_else_comes_over() {
    let scratch = tempfile::tempdir().unwrap();
    let mut tree = tree_of(new_image(), scratch.path());
    let keep = KeepPaths::new(&["/opt/data".into(), "/srv/absent".into()]).unwrap();
    assert_eq!(
        keep.display(),
        [
            "/etc/wsl.conf",
            "/home",
            "/opt/data",
            "/root",
            "/srv/absent"
        ]
    );
    let kept = read_kept(
        Box::new(std::io::Cursor::new(old_export())),
        &keep,
        scratch.path(),
        &|_| {},
        &AtomicBool::new(false),
    )
    .unwrap();
    assert_eq!(kept.found, ["/etc/wsl.conf", "/home", "/opt/data", "/root"]);
    assert_eq!(kept.missing, ["/srv/absent"]);
    let accounts = tree.keep(kept).unwrap();

    // The kept trees, whole and with their owners; the image's versions are gone.
    assert_eq!(
        text(&tree, "home/alice/notes.txt").as_deref(),
        Some("my work\n")
    );
    let home = tree.lookup(b"home/alice").unwrap();
    assert_eq!((home.mode, home.uid), (0o750, 1000));
    assert!(tree.lookup(b"home/ubuntu").is_none(), "/home is kept whole");
    assert_eq!(
        text(&tree, "home/alice/.wh.looks-like-a-whiteout").as_deref(),
        Some("an ordinary file\n"),
        "an export is a plain tree: no whiteouts"
    );
    assert_eq!(text(&tree, "root/.history").as_deref(), Some("ls\n"));
    assert!(
        tree.lookup(b"root/.profile").is_none(),
        "/root is kept whole"
    );
    assert_eq!(text(&tree, "opt/data/db").as_deref(), Some("rows\n"));
    assert_eq!(tree.lookup(b"opt").unwrap().kind, NodeKind::Dir);
    assert!(
        text(&tree, "etc/wsl.conf")
            .unwrap()
            .contains("systemd=true")
    );

    // The new image's system, not the old one's.
    assert!(tree.lookup(b"usr/bin/new-in-v2").is_some());
    assert!(tree.lookup(b"usr/bin/removed-in-v2").is_none());
    assert!(tree.lookup(b"etc/apt/new.list").is_some());
    assert!(tree.lookup(b"etc/apt/old.list").is_none());
    assert_eq!(
        text(&tree, "etc/passwd").as_deref(),
        Some("root:x:0:0:root:/root:/bin/bash\n"),
        "the databases are merged by customization, not kept"
    );
    assert!(tree.lookup(b"etc/sudoers.d/README").is_none());

    // What customization gets.
    assert_eq!(accounts.passwd, OLD_PASSWD.as_bytes());
    assert_eq!(accounts.sudoers.len(), 1, "only the drop-ins wslbox wrote");
    assert_eq!(accounts.sudoers[0].0, "wslbox-alice");
    assert!(
        String::from_utf8_lossy(accounts.wsl_conf.as_deref().unwrap()).contains("default=alice")
    );
}

#[test]
fn keep_paths_are_checked() {
    for (bad, why) in [
        ("opt/data", "absolute"),
        ("/", "keeping /"),
        ("/opt/../etc", ".."),
        ("/etc/passwd", "merged"),
    ] {
        let err = KeepPaths::new(&[bad.to_string()]).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("--keep {bad}:")) && err.contains(why),
            "{bad}: {err}"
        );
    }
    let keep = KeepPaths::new(&["/home/alice/.cache".into(), "/var/lib/x/".into()]).unwrap();
    assert_eq!(
        keep.display(),
        ["/etc/wsl.conf", "/home", "/root", "/var/lib/x"],
        "a path below a kept one is kept with it"
    );
}

fn previous(default_uid: Option<u32>) -> PreviousAccounts {
    PreviousAccounts {
        passwd: OLD_PASSWD.into(),
        shadow: Some("root:*:19000:0:99999:7:::\nalice:$6$salt$hash:19500:0:99999:7:::\n".into()),
        group: "root:x:0:\nsudo:x:27:alice\ndocker:x:999:alice\nalice:x:1000:\n".into(),
        gshadow: Some("alice:!::\n".into()),
        subuid: Some("alice:100000:65536\n".into()),
        subgid: Some("alice:100000:65536\n".into()),
        sudoers: vec![(
            "wslbox-alice".into(),
            b"alice ALL=(ALL:ALL) NOPASSWD: ALL\n".to_vec(),
        )],
        wsl_conf: None,
        default_uid,
    }
}

fn upgrade(prev: PreviousAccounts) -> WslOptions {
    WslOptions {
        previous: Some(prev),
        import: true,
        ..WslOptions::default()
    }
}

#[test]
fn the_default_user_keeps_uid_gid_password_and_admin_rights_on_another_os() {
    // Debian (sudo) → Fedora (wheel, no gshadow, no docker group).
    let tree = fedora_like().file("etc/subuid", "").dir("home/alice");
    let (c, after) = run(
        &tree,
        &ImageConfigSummary::default(),
        &upgrade(previous(Some(1000))),
    )
    .unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1000)))
    );
    assert_eq!(
        after.text("etc/passwd"),
        "root:x:0:0:Super User:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\nalice:x:1000:1000::/home/alice:/bin/bash\n"
    );
    assert_eq!(
        after.text("etc/group"),
        "root:x:0:\nbin:x:1:\nwheel:x:10:alice\nalice:x:1000:\n",
        "the old sudo membership becomes wheel"
    );
    assert!(
        after
            .text("etc/shadow")
            .ends_with("alice:$6$salt$hash:19500:0:99999:7:::\n"),
        "the password hash is kept"
    );
    assert_eq!(
        after.meta("etc/shadow").mode,
        0o000,
        "the image's mode is kept"
    );
    assert_eq!(
        after.text("etc/subuid"),
        "alice:100000:65536\n",
        "same subordinate ids"
    );
    assert!(
        !after.has("etc/subgid"),
        "no file is created that the image lacks"
    );
    assert_eq!(
        after.text("etc/sudoers.d/wslbox-alice"),
        "alice ALL=(ALL:ALL) NOPASSWD: ALL\n"
    );
    assert_eq!(after.meta("etc/sudoers.d/wslbox-alice").mode, 0o440);
    assert!(after.text("etc/wsl.conf").contains("default=alice"));
    assert!(
        c.warnings
            .iter()
            .any(|w| w.code == "kept-groups-missing" && w.message.contains("docker")),
        "{:?}",
        c.warnings
    );
    assert!(
        !after.has("home/alice/.bashrc"),
        "a kept home is not repopulated from /etc/skel"
    );
}

#[test]
fn an_existing_entry_of_the_same_name_is_replaced_and_a_taken_uid_refused() {
    // The new image has alice with another uid: the old line wins (her files are owned by 1000).
    let tree = debian_like().file(
        "etc/passwd",
        &format!("{DEBIAN_PASSWD}alice:x:1500:1500::/home/alice:/bin/sh\n"),
    );
    let (_, after) = run(
        &tree,
        &ImageConfigSummary::default(),
        &upgrade(previous(Some(1000))),
    )
    .unwrap();
    assert_eq!(
        after.text("etc/passwd"),
        format!("{DEBIAN_PASSWD}alice:x:1000:1000::/home/alice:/bin/bash\n")
    );
    assert!(after.text("etc/gshadow").contains("sudo:*::alice"));
    assert!(after.text("etc/gshadow").ends_with("alice:!::\n"));

    // ubuntu:24.04 gives uid 1000 to `ubuntu`.
    let tree = debian_like().file(
        "etc/passwd",
        &format!("{DEBIAN_PASSWD}ubuntu:x:1000:1000::/home/ubuntu:/bin/bash\n"),
    );
    let err = run(
        &tree,
        &ImageConfigSummary::default(),
        &upgrade(previous(Some(1000))),
    )
    .unwrap_err();
    assert!(
        matches!(err, CustomizeError::KeptIdTaken { id: 1000, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("/etc/passwd") && msg.contains("`ubuntu`") && msg.contains("`alice`"),
        "{msg}"
    );
}

#[test]
fn the_default_user_comes_from_wsl_conf_when_the_registry_names_none() {
    let mut prev = previous(None);
    prev.wsl_conf = Some(b"[user]\ndefault = alice\n".to_vec());
    let (c, _) = run(
        &debian_like(),
        &ImageConfigSummary::default(),
        &upgrade(prev),
    )
    .unwrap();
    assert_eq!(
        c.default_user,
        Some(DefaultUser::from(("alice".to_owned(), 1000)))
    );

    // Root as default: nothing to carry, and no user is invented.
    let (c, after) = run(
        &debian_like(),
        &ImageConfigSummary::default(),
        &upgrade(previous(Some(0))),
    )
    .unwrap();
    assert_eq!(c.default_user, None);
    assert_eq!(after.text("etc/passwd"), DEBIAN_PASSWD);
}
