//! `wslbox upgrade` end to end through the real wslbox.exe: v1 of an image imported with a
//! user who then writes files, v2 pushed to the same tag, the upgrade, and what it kept. Then
//! a failure injected at each step (by the simulator) must leave the old distribution as it was.

use std::path::{Path, PathBuf};

use wslbox_wsl::terminal_ids::fragment_profile_guid;

use crate::fixtures::*;
use crate::support::*;

/// Every distribution key named `name` or one of its upgrade names.
fn registered_like(name: &str) -> Vec<String> {
    [
        name.to_owned(),
        format!("{name}.wslbox-new"),
        format!("{name}.wslbox-old"),
    ]
    .into_iter()
    .filter(|n| guid_of(n).is_some())
    .collect()
}

#[test]
fn upgrade_keeps_home_user_and_kept_paths_and_takes_the_new_image() {
    let (name, mut cleanup) = name("upgrade");
    let t = import_v1("upgrade", &name);
    let old_guid = guid_of(&name).unwrap();
    // The user's Terminal settings for the distribution's profile (unpackaged Terminal's file,
    // which no other test writes).
    let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap());
    let settings = local.join(r"Microsoft\Windows Terminal\settings.json");
    cleanup.restore_file(&settings);
    cleanup.restore_file(&PathBuf::from(format!(
        "{}.wslbox-backup",
        settings.display()
    )));
    fs_err::create_dir_all(settings.parent().unwrap()).unwrap();
    let old_profile = fragment_profile_guid(&old_guid);
    let user_settings = format!(
        "{{\n  // mine\n  \"defaultProfile\": \"{old_profile}\",\n  \"profiles\": {{ \"list\": [ {{ \"guid\": \"{old_profile}\", \"colorScheme\": \"One Half Dark\" }} ] }}\n}}\n"
    );
    fs_err::write(&settings, &user_settings).unwrap();
    ok(wslbox(&t.dir, &["set-default", &name], &[]));
    let v2 = oci_layout_of(&t.layout, &v2());

    let plan: serde_json::Value = serde_json::from_str(&ok(wslbox(
        &t.dir,
        &[
            "upgrade",
            &name,
            "--keep",
            "/opt/data",
            "--dry-run",
            "--json",
        ],
        &[],
    )))
    .unwrap();
    assert_eq!(plan["from_digest"], t.v1.as_str(), "{plan}");
    assert_eq!(plan["to_digest"], v2.as_str(), "{plan}");
    assert_eq!(plan["current"], false);
    assert_eq!(
        plan["keep"],
        serde_json::json!(["/etc/wsl.conf", "/home", "/opt/data", "/root"])
    );
    assert_eq!(
        guid_of(&name).as_deref(),
        Some(old_guid.as_str()),
        "a dry run changes nothing"
    );

    let refused = err(wslbox(&t.dir, &["upgrade", &name], &[]));
    assert!(refused.contains("pass --yes"), "{refused}");

    let report = ok(wslbox(
        &t.dir,
        &["upgrade", &name, "--keep", "/opt/data", "--yes"],
        &[],
    ));
    assert!(
        report.contains("kept /etc/wsl.conf, /home, /opt/data, /root"),
        "{report}"
    );

    // One distribution of that name, a new registration, in the old folder.
    assert_eq!(registered_like(&name), std::slice::from_ref(&name));
    let guid = guid_of(&name).unwrap();
    assert_ne!(guid, old_guid);
    assert_eq!(
        value_str(&guid, "WslboxDigest").as_deref(),
        Some(v2.as_str())
    );
    assert_eq!(
        value_str(&guid, "WslboxImage").as_deref(),
        Some(t.image.as_str())
    );
    assert_eq!(value_u32(&guid, "DefaultUid"), Some(1000));
    assert!(!t.dir.join("install.wslbox-new").exists());
    let disk = tar_files(&t.install.join("ext4.vhdx"));

    // v2's system, v1's files gone; the user's work kept.
    assert!(file(&disk, "usr/bin/new-in-v2").is_some());
    assert!(file(&disk, "usr/bin/removed-in-v2").is_none());
    assert!(
        file(&disk, "etc/os-release")
            .unwrap()
            .contains("VERSION_ID=13")
    );
    assert_eq!(file(&disk, "home/alice/notes.txt"), Some("my work\n"));
    assert_eq!(file(&disk, "opt/data/db.sqlite"), Some("rows\n"));
    assert_eq!(
        file(&disk, "opt/data/image-v1.txt"),
        Some("from the image\n"),
        "a kept path comes over whole, as it was in the old distribution"
    );
    // alice: uid 1000, an administrator, the default user.
    assert!(
        file(&disk, "etc/passwd")
            .unwrap()
            .contains("alice:x:1000:1000::/home/alice:"),
        "{:?}",
        file(&disk, "etc/passwd")
    );
    assert!(
        file(&disk, "etc/group")
            .unwrap()
            .contains("sudo:x:27:alice")
    );
    assert!(
        file(&disk, "etc/wsl.conf")
            .unwrap()
            .contains("default=alice")
    );
    assert!(
        file(&disk, "etc/wslbox-image").unwrap().contains(&v2),
        "provenance names v2"
    );

    // The fragment and shortcut are the new registration's, under the name.
    assert_fragment(
        &value_str(&guid, "TerminalProfilePath").unwrap(),
        &fragment_profile_guid(&guid),
        &name,
    );
    let shortcut = value_str(&guid, "ShortcutPath").unwrap();
    assert_in_start_menu_root(&shortcut, &name);
    assert!(Path::new(&shortcut).is_file());
    assert_eq!(
        fs_err::read_to_string(&settings).unwrap(),
        user_settings.replace(&old_profile, &fragment_profile_guid(&guid)),
        "the colors follow the new profile; comments kept"
    );
    let json: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&t.dir, &["list", "--json"], &[]))).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name.as_str())
        .unwrap();
    assert_eq!(entry["default"], true, "it stays the default distribution");

    let again = ok(wslbox(&t.dir, &["upgrade", &name, "--yes"], &[]));
    assert!(again.contains("already current"), "{again}");
    assert_eq!(guid_of(&name), Some(guid));
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &[]));
}

/// The old distribution exactly as before: same registration, same disk, nothing left over.
fn assert_untouched(t: &Imported, name: &str, guid: &str, disk: &[u8]) {
    assert_eq!(registered_like(name), [name.to_owned()]);
    assert_eq!(guid_of(name).as_deref(), Some(guid));
    assert_eq!(fs_err::read(t.install.join("ext4.vhdx")).unwrap(), disk);
    assert_eq!(
        value_str(guid, "WslboxDigest").as_deref(),
        Some(t.v1.as_str())
    );
    assert!(!t.dir.join("install.wslbox-new").exists());
    let shortcut = value_str(guid, "ShortcutPath").unwrap();
    assert_in_start_menu_root(&shortcut, name);
    assert!(Path::new(&shortcut).is_file());
    assert_fragment(
        &value_str(guid, "TerminalProfilePath").unwrap(),
        &fragment_profile_guid(guid),
        name,
    );
}

#[test]
fn a_failure_at_any_step_before_the_swap_completes_leaves_the_old_distribution() {
    let (name, _cleanup) = name("upfail");
    let t = import_v1("upfail", &name);
    let guid = guid_of(&name).unwrap();
    let disk = fs_err::read(t.install.join("ext4.vhdx")).unwrap();
    oci_layout_of(&t.layout, &v2());
    let backup = t.dir.join("backup.tar");
    let stuck_new = format!("stuck@{name}.wslbox-new");
    let cases = [
        // The old distribution's export, at once and halfway.
        (format!("export@{name}|-"), "WSL_E_EXPORT_FAILED"),
        (
            format!("export-cut@{name}|-"),
            "`wsl.exe --export wbx-upfail - --format tar` failed: Simulated export failure after half",
        ),
        // The new one's import, before and after WSL registered it.
        (
            "import-before-register".to_owned(),
            "failure before registration",
        ),
        (
            "import-after-register".to_owned(),
            "RegisterDistro/E_UNEXPECTED",
        ),
        // Stopping the old one, and its backup.
        (format!("stuck@{name}"), "HCS_E_CONNECTION_TIMEOUT"),
        ("export@backup.tar".to_owned(), "WSL_E_EXPORT_FAILED"),
        // The second rename of the swap: the old one gets its name back.
        (stuck_new, "HCS_E_CONNECTION_TIMEOUT"),
    ];
    for (fault, expected) in cases {
        let stderr = err(wslbox(
            &t.dir,
            &["upgrade", &name, "--yes", "--backup", path_str(&backup)],
            &[("WSL_SIM_FAIL", &fault)],
        ));
        assert!(stderr.contains(expected), "{fault}: {stderr}");
        assert_untouched(&t, &name, &guid, &disk);
        let _ = fs_err::remove_file(&backup);
    }

    // A backup file whose format cannot be told: refused before anything is built.
    let stderr = err(wslbox(
        &t.dir,
        &[
            "upgrade",
            &name,
            "--yes",
            "--backup",
            path_str(&t.dir.join("old.zip")),
        ],
        &[],
    ));
    assert!(stderr.contains("cannot tell the backup format"), "{stderr}");
    assert!(
        !stderr.contains("Flattening"),
        "nothing was built: {stderr}"
    );
    assert_untouched(&t, &name, &guid, &disk);

    // A new image that is corrupt (a layer that does not match its digest).
    let corrupt = t.dir.join("corrupt");
    let digest = oci_layout_of(&corrupt, &v2());
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs_err::read(corrupt.join("blobs/sha256").join(&digest[7..])).unwrap(),
    )
    .unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let blob = corrupt.join("blobs/sha256").join(&layer[7..]);
    let mut bytes = fs_err::read(&blob).unwrap();
    bytes[600] ^= 0xff;
    fs_err::write(&blob, bytes).unwrap();
    let to = format!("oci:{}:latest", corrupt.display());
    let stderr = err(wslbox(
        &t.dir,
        &["upgrade", &name, "--yes", "--to", &to],
        &[],
    ));
    assert!(stderr.contains(&layer[..19]), "{stderr}");
    assert_untouched(&t, &name, &guid, &disk);
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &[]));
}

#[test]
fn failures_after_the_swap_are_warnings_and_a_failed_restore_says_where_the_old_one_is() {
    let (name, _cleanup) = name("uplate");
    let t = import_v1("uplate", &name);
    let v2_digest = oci_layout_of(&t.layout, &v2());
    let old = format!("{name}.wslbox-old");

    // The old one cannot be unregistered: the new one has the name, the old one is kept.
    let out = wslbox(
        &t.dir,
        &["upgrade", &name, "--yes"],
        &[("WSL_SIM_FAIL", &format!("unregister@{old}"))],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("still registered as `{old}`"))
            && stderr.contains(&format!("wslbox remove {old}")),
        "{stderr}"
    );
    assert_eq!(registered_like(&name), [name.clone(), old.clone()]);
    assert_eq!(
        value_str(&guid_of(&name).unwrap(), "WslboxDigest").as_deref(),
        Some(v2_digest.as_str()),
        "the name holds the new distribution"
    );
    assert_eq!(
        value_str(&guid_of(&old).unwrap(), "WslboxDigest"),
        Some(t.v1.clone())
    );
    assert!(
        tar_files(&t.dir.join("install.wslbox-new").join("ext4.vhdx"))
            .iter()
            .any(|(p, _)| p == "usr/bin/new-in-v2"),
        "the old folder is still the old disk's, so the new one stays beside it"
    );
    ok(wslbox(&t.dir, &["remove", &old, "--yes"], &[]));
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &[]));
    assert_eq!(guid_of(&name), None);

    // Both renames of the swap fail: the error names the old one's temporary name.
    let t = import_v1("uplate", &name);
    let guid = guid_of(&name).unwrap();
    oci_layout_of(&t.layout, &v2());
    let stderr = err(wslbox(
        &t.dir,
        &["upgrade", &name, "--yes"],
        &[("WSL_SIM_FAIL", &format!("stuck@{name}.wslbox-"))],
    ));
    assert!(
        stderr.contains(&format!("registered as `{old}`"))
            && stderr.contains(&format!("wslbox rename {old} {name}")),
        "{stderr}"
    );
    assert_eq!(guid_of(&old).as_deref(), Some(guid.as_str()));
    assert_eq!(
        guid_of(&format!("{name}.wslbox-new")),
        None,
        "the new one was removed"
    );
    ok(wslbox(&t.dir, &["remove", &old, "--yes"], &[]));
}

#[test]
fn a_store_distribution_is_rebuilt_outside_its_app_folder() {
    let (name, _cleanup) = name("upstore");
    let t = import_v1("upstore", &name);
    let guid = guid_of(&name).unwrap();
    // What a Store registration carries; its folder belongs to the app package.
    windows_registry::CURRENT_USER
        .create(format!(r"{}\{guid}", wslbox_wsl::host::LXSS_KEY))
        .unwrap()
        .set_string(
            "PackageFamilyName",
            "CanonicalGroupLimited.Ubuntu_79rhkp1fndgsc",
        )
        .unwrap();
    fs_err::write(t.install.join("app-state.dat"), "the app's").unwrap();
    let to = format!("oci:{}:latest", t.layout.display());
    oci_layout_of(&t.layout, &v2());
    let report = ok(wslbox(
        &t.dir,
        &["upgrade", &name, "--to", &to, "--yes"],
        &[],
    ));
    let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap());
    let home = local.join(r"wslbox\distros").join(&name);
    assert!(report.contains("not in its Store app's folder"), "{report}");
    let new = guid_of(&name).unwrap();
    assert_eq!(
        value_str(&new, "BasePath").map(|b| b.trim_start_matches(r"\\?\").to_owned()),
        Some(home.display().to_string())
    );
    assert!(
        tar_files(&home.join("ext4.vhdx"))
            .iter()
            .any(|(p, _)| p == "home/alice/notes.txt")
    );
    assert!(!t.dir.join("install.wslbox-new").exists());
    assert_eq!(
        fs_err::read_to_string(t.install.join("app-state.dat")).unwrap(),
        "the app's"
    );
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &[]));
    assert!(!home.exists(), "wslbox created it, so remove deletes it");
}

#[test]
fn upgrade_follows_a_registry_tag_that_moved() {
    let (name, _cleanup) = name("upreg");
    let dir = scratch("upreg");
    let image = format!("{}/wbx/upreg:stable", registry());
    let v1 = push("wbx/upreg:stable", &v1());
    let install = dir.join("install");
    ok(wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&install),
            "--user",
            "alice",
        ],
        &[],
    ));
    let guid = guid_of(&name).unwrap();
    assert_eq!(
        value_str(&guid, "WslboxImage").as_deref(),
        Some(image.as_str())
    );
    assert_eq!(value_str(&guid, "WslboxDigest"), Some(v1.clone()));
    user_writes_files(&install.join("ext4.vhdx"));

    let current = ok(wslbox(&dir, &["upgrade", &name, "--yes"], &[]));
    assert!(
        current.contains("already current") && current.contains(&v1),
        "{current}"
    );

    let v2 = push("wbx/upreg:stable", &v2());
    let plan: serde_json::Value = serde_json::from_str(&ok(wslbox(
        &dir,
        &["upgrade", &name, "--dry-run", "--json"],
        &[],
    )))
    .unwrap();
    assert_eq!(
        (plan["from_digest"].as_str(), plan["to_digest"].as_str()),
        (Some(v1.as_str()), Some(v2.as_str())),
        "{plan}"
    );
    assert!(plan["to_size"].as_u64().is_some_and(|s| s > 0), "{plan}");
    ok(wslbox(&dir, &["upgrade", &name, "--yes"], &[]));
    let guid = guid_of(&name).unwrap();
    assert_eq!(value_str(&guid, "WslboxDigest"), Some(v2));
    let disk = tar_files(&install.join("ext4.vhdx"));
    assert_eq!(file(&disk, "home/alice/notes.txt"), Some("my work\n"));
    assert!(file(&disk, "usr/bin/new-in-v2").is_some());
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));
}
