//! An old (inbox) wsl.exe: no `--version`, no `-` archives, no `--manage`. wslbox falls back to
//! temp files, `DefaultUid`, and export + import for moves.

use wslbox_wsl::host;

use crate::support::*;

#[test]
fn old_wsl_import_move_clone_use_fallbacks() {
    let wsl = wsl().with_env("WSL_SIM_VERSION", "inbox");
    assert_eq!(wsl.version(), None);
    let (name, _cleanup) = name("inbox");
    let dir = scratch("inbox");

    let report = import(&wsl, &name, &dir.join("a"));
    assert!(
        report.changes.iter().any(|c| c.contains("DefaultUid 1000")),
        "{:?}",
        report.changes
    );
    let guid = guid_of(&name).unwrap();
    assert_eq!(value_u32(&guid, "DefaultUid"), Some(1000));

    // Move without --manage: export, unregister, import; the GUID changes, settings stay.
    let report = host::move_to(&wsl, &name, &dir.join("b")).unwrap();
    assert!(
        report.changes.iter().any(|c| c.contains("export + import")),
        "{:?}",
        report.changes
    );
    let moved = guid_of(&name).expect("still registered");
    assert_ne!(moved, guid);
    assert!(value_str(&moved, "BasePath").unwrap().ends_with(r"inbox\b"));
    assert_eq!(value_u32(&moved, "DefaultUid"), Some(1000));
    assert_eq!(value_u32(&moved, "Flags"), Some(0xF));
    assert_eq!(
        value_str(&moved, "WslboxImage").as_deref(),
        Some("docker.io/library/alpine:3.20")
    );
    assert!(!dir.join("a").exists());

    // Clone through a temp file.
    let copy = format!("{name}-copy");
    host::clone(&wsl, &name, &copy, Some(dir.join("c"))).unwrap();
    let copy_guid = guid_of(&copy).unwrap();
    assert_eq!(value_u32(&copy_guid, "DefaultUid"), Some(1000));

    // set-user by name needs --manage; a numeric uid goes to DefaultUid.
    let err = host::set_user(&wsl, &copy, "dev").unwrap_err();
    assert!(err.to_string().contains("numeric uid"), "{err}");
    host::set_user(&wsl, &copy, "0").unwrap();
    assert_eq!(value_u32(&copy_guid, "DefaultUid"), Some(0));

    host::remove(&wsl, &name).unwrap();
    host::remove(&wsl, &copy).unwrap();
}

#[test]
fn failed_move_puts_the_distribution_back() {
    // The export succeeds, the simulated WSL then fails to import at the new place.
    let wsl = wsl().with_env("WSL_SIM_VERSION", "inbox");
    let (name, _cleanup) = name("moveback");
    let dir = scratch("moveback");
    import(&wsl, &name, &dir.join("a"));
    let failing = wsl_failing_import();
    let err = host::move_to(&failing, &name, &dir.join("b")).unwrap_err();
    assert!(err.to_string().contains("E_UNEXPECTED"), "{err}");
    let back = guid_of(&name).expect("re-registered at the old place");
    assert!(
        value_str(&back, "BasePath")
            .unwrap()
            .ends_with(r"moveback\a")
    );
    assert_eq!(value_u32(&back, "DefaultUid"), Some(1000));
    assert!(!dir.join("b").exists());
    host::remove(&wsl, &name).unwrap();
}

fn wsl_failing_import() -> host::WslExe {
    // Only the import into the new folder fails, so the rollback's re-import can succeed.
    wsl()
        .with_env("WSL_SIM_VERSION", "inbox")
        .with_env("WSL_SIM_FAIL", r"import-after-register@moveback\b")
}

#[test]
fn move_repairs_the_base_path_wsl_left_stale() {
    // WSL 2.7.x moved the disk but left BasePath at the old folder (WSL#40716).
    let wsl = wsl().with_env("WSL_SIM_FAIL", "move-stale-basepath");
    let (name, _cleanup) = name("movestale");
    let dir = scratch("movestale");
    import(&wsl, &name, &dir.join("a"));
    let report = host::move_to(&wsl, &name, &dir.join("b")).unwrap();
    assert!(
        report
            .changes
            .iter()
            .any(|c| c.starts_with("repaired BasePath") && c.contains("WSL#40716")),
        "{:?}",
        report.changes
    );
    let guid = guid_of(&name).unwrap();
    let base = value_str(&guid, "BasePath").unwrap();
    assert!(
        base.starts_with(r"\\?\") && base.ends_with(r"movestale\b"),
        "{base}"
    );
    assert!(dir.join("b").join("ext4.vhdx").is_file());
    // The distribution works from its new place.
    let backup = dir.join("after-move.tar");
    host::backup(&wsl, &name, &backup).unwrap();
    assert!(!tar_entries(&backup).is_empty());
    host::remove(&wsl, &name).unwrap();
}

#[test]
fn move_that_left_the_disk_behind_is_reported_and_loses_nothing() {
    let wsl = wsl().with_env("WSL_SIM_FAIL", "move-no-op");
    let (name, _cleanup) = name("movenoop");
    let dir = scratch("movenoop");
    import(&wsl, &name, &dir.join("a"));
    let err = host::move_to(&wsl, &name, &dir.join("b")).unwrap_err();
    assert!(
        err.to_string()
            .contains("reported success, but the disk is still"),
        "{err}"
    );
    assert!(
        dir.join("a").join("ext4.vhdx").is_file(),
        "the disk is where it was"
    );
    let guid = guid_of(&name).unwrap();
    assert!(
        value_str(&guid, "BasePath")
            .unwrap()
            .ends_with(r"movenoop\a")
    );
    host::remove(&wsl, &name).unwrap();
}
