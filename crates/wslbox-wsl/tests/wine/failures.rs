//! Imports that fail halfway leave no registration and no folder behind.

use std::io::Write;
use std::path::Path;

use wslbox_wsl::Error;
use wslbox_wsl::host::{self, ImportOptions};

use crate::support::*;

fn assert_nothing_left(name: &str, dir: &Path) {
    assert_eq!(guid_of(name), None, "`{name}` must not stay registered");
    assert!(!dir.exists(), "{} must be removed", dir.display());
}

#[test]
fn failure_after_registration_leaves_nothing_behind() {
    let wsl = wsl().with_env("WSL_SIM_FAIL", "import-after-register");
    let (name, _cleanup) = name("failafter");
    let dir = scratch("failafter").join("d");
    let err = try_import(&wsl, &name, &dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("Wsl/Service/RegisterDistro/E_UNEXPECTED"),
        "{err}"
    );
    assert_nothing_left(&name, &dir);
}

#[test]
fn failure_before_registration_leaves_nothing_behind() {
    let wsl = wsl().with_env("WSL_SIM_FAIL", "import-before-register");
    let (name, _cleanup) = name("failbefore");
    let dir = scratch("failbefore").join("d");
    try_import(&wsl, &name, &dir).unwrap_err();
    assert_nothing_left(&name, &dir);
}

#[test]
fn producer_failure_midway_leaves_nothing_behind() {
    let wsl = wsl();
    let (name, _cleanup) = name("failproducer");
    let dir = scratch("failproducer").join("d");
    let opts = ImportOptions {
        name: name.clone(),
        location: Some(dir.clone()),
        version: 2,
        first_run: false,
    };
    let err = host::import(&wsl, &opts, |mut out| {
        let tar = rootfs_tar();
        out.write_all(&tar[..tar.len() / 2])?;
        Err(
            anyhow::anyhow!("registry connection reset while reading layer sha256:0123")
                .context("pulling docker.io/library/alpine:3.20")
                .into(),
        )
    })
    .unwrap_err();
    assert!(matches!(err, Error::Producer(_)), "{err}");
    // The whole chain is shown, outermost first.
    assert!(
        err.to_string().contains(
            "pulling docker.io/library/alpine:3.20: registry connection reset while reading"
        ),
        "{err}"
    );
    assert_nothing_left(&name, &dir);
}

#[test]
fn corrupt_archive_reported_with_wsl_error_code() {
    let wsl = wsl();
    let (name, _cleanup) = name("corrupt");
    let dir = scratch("corrupt").join("d");
    let opts = ImportOptions {
        name: name.clone(),
        location: Some(dir.clone()),
        version: 2,
        first_run: false,
    };
    let err = host::import(&wsl, &opts, |mut out| {
        out.write_all(&[0x55; 700])?;
        Ok(produced())
    })
    .unwrap_err();
    assert!(err.to_string().contains("WSL_E_IMPORT_FAILED"), "{err}");
    assert!(
        err.to_string()
            .contains("could not read or write the root filesystem"),
        "{err}"
    );
    assert_nothing_left(&name, &dir);
}

#[test]
fn invalid_or_taken_name_refused_before_the_producer_runs() {
    let wsl = wsl();
    let (name, _cleanup) = name("taken");
    let dir = scratch("taken");
    import(&wsl, &name, &dir.join("a"));
    for (bad, expect) in [
        (name.to_uppercase(), "already exists"),
        ("bad name".to_string(), "contains ` `"),
    ] {
        let opts = ImportOptions {
            name: bad.clone(),
            location: Some(dir.join("b")),
            version: 2,
            first_run: false,
        };
        let err = host::import(&wsl, &opts, |_| {
            panic!("the producer must not run for {bad:?}")
        })
        .unwrap_err();
        assert!(err.to_string().contains(expect), "{bad:?}: {err}");
        assert!(!dir.join("b").exists());
    }
    host::remove(&wsl, &name).unwrap();
}

#[test]
fn non_empty_install_folder_refused() {
    let wsl = wsl();
    let (name, _cleanup) = name("nonempty");
    let dir = scratch("nonempty");
    fs_err::write(dir.join("keep.txt"), "user data").unwrap();
    let err = try_import(&wsl, &name, &dir).unwrap_err();
    assert!(matches!(err, Error::FolderNotEmpty { .. }), "{err}");
    assert_eq!(
        fs_err::read_to_string(dir.join("keep.txt")).unwrap(),
        "user data"
    );
    assert_eq!(guid_of(&name), None);
}

#[test]
fn wsl_quitting_early_reports_its_own_error_not_a_broken_pipe() {
    let wsl = wsl();
    let (name, _cleanup) = name("early");
    let dir = scratch("early");
    import(&wsl, &name, &dir.join("a"));
    // Straight to the driver, past wslbox's own name check: the simulator refuses the taken
    // name before reading stdin, so the producer's writes hit a closed pipe.
    let err = wsl
        .import_stream(&name.to_uppercase(), &dir.join("b"), 2, |mut out| {
            let chunk = vec![0u8; 1 << 20];
            for _ in 0..64 {
                out.write_all(&chunk)?;
            }
            Ok(())
        })
        .unwrap_err();
    assert!(matches!(err, Error::Wsl { .. }), "{err}");
    assert!(err.to_string().contains("ERROR_ALREADY_EXISTS"), "{err}");
    host::remove(&wsl, &name).unwrap();
}

#[test]
fn missing_wsl_exe_reported_before_the_producer_runs() {
    let wsl = host::WslExe::at(r"C:\no-wsl-here\wsl.exe");
    let (name, _cleanup) = name("nowsl");
    let dir = scratch("nowsl").join("d");
    let opts = ImportOptions {
        name: name.clone(),
        location: Some(dir.clone()),
        version: 2,
        first_run: false,
    };
    let err = host::import(&wsl, &opts, |_| {
        panic!("nothing may be downloaded without WSL")
    })
    .unwrap_err();
    assert!(matches!(err, Error::WslMissing { .. }), "{err}");
    assert!(err.to_string().contains("wsl --install"), "{err}");
    assert_nothing_left(&name, &dir);
}

#[test]
fn a_rootfs_without_etc_or_sh_is_refused_as_wsl_does_and_explained() {
    let wsl = wsl();
    let (name, _cleanup) = name("notlinux");
    let dir = scratch("notlinux").join("d");
    let opts = ImportOptions {
        name: name.clone(),
        location: Some(dir.clone()),
        version: 2,
        first_run: false,
    };
    let err = host::import(&wsl, &opts, |mut out| {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(4);
        h.set_mode(0o755);
        h.set_cksum();
        b.append_data(&mut h, "app/server", &b"ELF!"[..])?;
        out.write_all(&b.into_inner()?)?;
        Ok(produced())
    })
    .unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.contains("WSL_E_NOT_A_LINUX_DISTRO") && shown.contains("neither /etc nor /bin/sh"),
        "{shown}"
    );
    assert_nothing_left(&name, &dir);
}

#[test]
fn a_panicking_test_leaves_nothing_behind() {
    let wslconfig = std::env::temp_dir().join("wslbox-wine-guard.txt");
    fs_err::write(&wslconfig, "before\n").unwrap();
    let (shortcut, fragment) = std::panic::catch_unwind(|| {
        let (name, mut cleanup) = name("guard");
        cleanup.restore_file(&wslconfig);
        import(&wsl(), &name, &scratch("guard").join("d"));
        fs_err::write(&wslconfig, "changed by the test\n").unwrap();
        let guid = guid_of(&name).unwrap();
        let files = (
            value_str(&guid, "ShortcutPath").unwrap(),
            value_str(&guid, "TerminalProfilePath").unwrap(),
        );
        assert!(std::path::Path::new(&files.0).is_file());
        std::panic::panic_any(files)
    })
    .unwrap_err()
    .downcast::<(String, String)>()
    .map(|b| *b)
    .unwrap();
    assert_eq!(guid_of("wbx-guard"), None);
    assert!(!std::path::Path::new(&shortcut).exists());
    assert!(!std::path::Path::new(&fragment).exists());
    assert!(
        !std::env::temp_dir()
            .join("wslbox-wine-tests")
            .join("guard")
            .exists()
    );
    assert_eq!(fs_err::read_to_string(&wslconfig).unwrap(), "before\n");
    fs_err::remove_file(&wslconfig).unwrap();
}
