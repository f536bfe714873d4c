//! import → list → rename → clone → move → backup → remove, checking what each leaves behind.

use std::path::Path;

use wslbox_wsl::State;
use wslbox_wsl::host::{self, RenameOptions};
use wslbox_wsl::terminal_ids::fragment_profile_guid;

use crate::support::*;

#[test]
fn import_list_rename_clone_move_backup_remove() {
    let wsl = wsl();
    let (name, _cleanup) = name("life");
    let dir = scratch("life");
    let install = dir.join("install");

    // import: registered like real WSL, plus our provenance and the default user.
    let report = import(&wsl, &name, &install);
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.contains("default user: dev")),
        "{:?}",
        report.changes
    );
    let guid = guid_of(&name).expect("registered");
    assert_eq!(
        value_u32(&guid, "DefaultUid"),
        Some(1000),
        "set through --manage --set-default-user"
    );
    assert_eq!(
        value_str(&guid, "WslboxImage").as_deref(),
        Some("docker.io/library/alpine:3.20")
    );
    assert_eq!(value_u32(&guid, "WslboxCreatedFolder"), Some(1));
    assert!(install.join("ext4.vhdx").is_file());
    let shortcut = value_str(&guid, "ShortcutPath").expect("ShortcutPath");
    assert!(Path::new(&shortcut).is_file(), "{shortcut}");
    assert_in_start_menu_root(&shortcut, &name);
    let fragment = value_str(&guid, "TerminalProfilePath").expect("TerminalProfilePath");
    // What _CreateTerminalProfile writes: {P}.json, the hide entry for the name, profile P.
    let profile = fragment_profile_guid(&guid);
    assert_eq!(
        Path::new(&fragment).file_name().unwrap().to_str().unwrap(),
        format!("{profile}.json")
    );
    assert_fragment(&fragment, &profile, &name);

    // list: one entry with the documented fields.
    let entry = host::list(&wsl)
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .expect("listed");
    assert_eq!(entry.guid, guid);
    assert_eq!(entry.state, State::Stopped);
    assert_eq!(entry.version, 2);
    assert_eq!(entry.vhd.as_deref(), Some("ext4.vhdx"));
    assert_eq!(entry.default_uid, Some(1000));
    assert_eq!(entry.os.as_deref(), Some("alpine 3.20.3"));
    assert_eq!(
        entry.image_digest,
        Some(format!("sha256:{}", "ab".repeat(32)))
    );
    assert_eq!(Path::new(&entry.base_path), install.as_path());
    let json = serde_json::to_value(&entry).unwrap();
    for key in [
        "name",
        "guid",
        "state",
        "version",
        "default",
        "base_path",
        "vhd",
        "default_uid",
        "os",
        "image",
        "image_digest",
    ] {
        assert!(json.get(key).is_some(), "list --json lacks {key}: {json}");
    }

    // rename: the same GUID under the new name; fragment and shortcut follow.
    let new = format!("{name}-new");
    let report = host::rename(&wsl, &name, &new, &RenameOptions::default()).unwrap();
    assert_eq!(guid_of(&new).as_deref(), Some(guid.as_str()));
    assert_eq!(guid_of(&name), None);
    // Same file and profile GUID (they derive from the distribution GUID); the hide entry
    // now names the profile Terminal would generate for the new name.
    assert_eq!(
        value_str(&guid, "TerminalProfilePath").as_deref(),
        Some(fragment.as_str())
    );
    assert_fragment(&fragment, &profile, &new);
    let new_shortcut = value_str(&guid, "ShortcutPath").unwrap();
    assert_in_start_menu_root(&new_shortcut, &new);
    assert!(
        new_shortcut.ends_with(&format!("{new}.lnk")),
        "{new_shortcut}"
    );
    assert!(Path::new(&new_shortcut).is_file() && !Path::new(&shortcut).exists());
    assert!(
        report.changes.len() >= 3,
        "each change reported: {:?}",
        report.changes
    );

    // clone: a new GUID that keeps the default user and provenance.
    let copy = format!("{name}-copy");
    host::clone(&wsl, &new, &copy, Some(dir.join("copy"))).unwrap();
    let copy_guid = guid_of(&copy).expect("clone registered");
    assert_ne!(copy_guid, guid);
    assert_eq!(value_u32(&copy_guid, "DefaultUid"), Some(1000));
    assert_eq!(
        value_str(&copy_guid, "WslboxDigest"),
        value_str(&guid, "WslboxDigest")
    );
    assert_eq!(
        fs_err::read(dir.join("copy").join("ext4.vhdx")).unwrap(),
        rootfs_tar()
    );

    // move: the disk goes to the new folder, the folder we created goes away.
    let moved = dir.join("moved");
    host::move_to(&wsl, &new, &moved).unwrap();
    assert!(moved.join("ext4.vhdx").is_file());
    assert!(!install.exists(), "old folder wslbox created is removed");
    assert!(value_str(&guid, "BasePath").unwrap().ends_with("moved"));

    // backup: format from the extension.
    for file in ["b.tar", "b.tar.gz"] {
        let out = dir.join(file);
        host::backup(&wsl, &new, &out).unwrap();
        assert!(
            tar_entries(&out).contains(&"etc/passwd".to_string()),
            "{file}"
        );
    }
    // A .vhdx backup is a copy of the disk (the simulator's disk is the imported tar).
    host::backup(&wsl, &new, &dir.join("b.vhdx")).unwrap();
    assert_eq!(fs_err::read(dir.join("b.vhdx")).unwrap(), rootfs_tar());
    let err = host::backup(&wsl, &new, &dir.join("b.zip")).unwrap_err();
    assert!(
        err.to_string().contains(".tar, .tar.gz, .tar.xz or .vhdx"),
        "{err}"
    );

    // remove: unregistered, and the folders wslbox created are deleted.
    host::remove(&wsl, &new).unwrap();
    host::remove(&wsl, &copy).unwrap();
    assert_eq!(guid_of(&new), None);
    assert_eq!(guid_of(&copy), None);
    assert!(!moved.exists() && !dir.join("copy").exists());
    assert!(
        !Path::new(&new_shortcut).exists(),
        "the simulator removes what it created"
    );
}

#[test]
fn remove_keeps_a_folder_wslbox_did_not_create() {
    let wsl = wsl();
    let (name, _cleanup) = name("keep");
    let dir = scratch("keep");
    // An existing empty folder: we did not create it.
    let report = import(&wsl, &name, &dir);
    assert!(
        !report.changes.iter().any(|c| c.starts_with("created")),
        "{:?}",
        report.changes
    );
    let guid = guid_of(&name).unwrap();
    assert_eq!(value_u32(&guid, "WslboxCreatedFolder"), Some(0));
    let report = host::remove(&wsl, &name).unwrap();
    assert!(dir.is_dir(), "folder kept");
    assert!(
        report.warnings.iter().any(|w| w.contains("did not create")),
        "{:?}",
        report.warnings
    );
}

#[test]
fn set_user_and_set_default() {
    let wsl = wsl();
    let (name, _cleanup) = name("users");
    import(&wsl, &name, &scratch("users").join("d"));
    let guid = guid_of(&name).unwrap();

    host::set_user(&wsl, &name, "root").unwrap();
    assert_eq!(value_u32(&guid, "DefaultUid"), Some(0));
    let err = host::set_user(&wsl, &name, "nobody-here").unwrap_err();
    assert!(err.to_string().contains("WSL_E_USER_NOT_FOUND"), "{err}");
    assert!(
        err.to_string()
            .contains("does not exist inside the distribution"),
        "{err}"
    );

    host::set_default(&wsl, &name.to_uppercase()).unwrap();
    let listed = host::list(&wsl)
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap();
    assert!(listed.default);
    host::remove(&wsl, &name).unwrap();
}

#[test]
fn list_shows_running_state_from_wsl_exe() {
    let wsl = wsl();
    let (name, _cleanup) = name("state");
    import(&wsl, &name, &scratch("state").join("d"));
    wsl.run(&["--sim-run", name.as_str()]).unwrap();
    let entry = host::list(&wsl)
        .unwrap()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap();
    assert_eq!(entry.state, State::Running);
    assert_eq!(serde_json::to_value(&entry).unwrap()["state"], "Running");
    wsl.terminate(&name).unwrap();
    host::remove(&wsl, &name).unwrap();
}

#[test]
fn utf16_output_of_a_wsl_that_ignores_wsl_utf8_is_decoded() {
    // Old wsl.exe builds print UTF-16LE even with WSL_UTF8=1; the simulator does so when the
    // variable is not exactly "1".
    let wsl = wsl().with_env("WSL_UTF8", "0");
    assert_eq!(
        wsl.version().map(|v| v.to_string()).as_deref(),
        Some("2.4.4.0")
    );
    let (name, _cleanup) = name("utf16");
    import(&wsl, &name, &scratch("utf16").join("d"));
    wsl.run(&["--sim-run", name.as_str()]).unwrap();
    assert!(wsl.running().unwrap().contains(&name));
    let err = wsl.unregister("wbx-utf16-missing").unwrap_err();
    assert!(err.to_string().contains("WSL_E_DISTRO_NOT_FOUND"), "{err}");
    assert!(
        err.to_string()
            .contains("There is no distribution with the supplied name"),
        "{err}"
    );
    wsl.terminate(&name).unwrap();
    host::remove(&wsl, &name).unwrap();
}
