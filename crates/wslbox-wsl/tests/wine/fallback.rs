//! An old (inbox) wsl.exe: no `--version`, no `-` archives, no `--manage`. wslbox falls back to
//! temp files, `DefaultUid`, and export + import for moves.

use wslbox_wsl::host;

use crate::support::*;

#[test]
fn old_wsl_import_move_clone_use_fallbacks() {
    let wsl = wsl().with_env("WSL_SIM_VERSION", "inbox");
    assert_eq!(wsl.version(), None);
    let name = name("inbox");
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
    let name = name("moveback");
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
