//! `wslbox commit` end to end through the real wslbox.exe: a distribution imported with a user
//! who then writes files, pushed to the test registry as it is, and imported back under
//! another name; and exports that fail must push no image.

use crate::fixtures::*;
use crate::support::*;

#[test]
fn commit_pushes_the_distribution_with_its_user_and_an_import_gives_it_back() {
    let (name, _cleanup) = name("commit");
    let Imported {
        dir,
        image,
        v1: digest,
        ..
    } = import_v1("commit", &name);
    let target = format!("{}/commit/dev:1", registry());

    let summary: serde_json::Value = serde_json::from_str(&ok(wslbox(
        &dir,
        &["commit", &name, &target, "--label", "team=infra", "--json"],
        &[],
    )))
    .unwrap();
    assert_eq!(summary["source"]["reference"], format!("wsl:{name}"));
    assert_eq!(summary["layer"]["transfer"], "uploaded", "{summary}");
    let labels = &summary["labels"];
    for (key, value) in [
        ("io.wslbox.default-user", "alice"),
        ("io.wslbox.default-uid", "1000"),
        ("io.wslbox.os.id", "debian"),
        ("com.kaweezle.wsl.rootfs.username", "alice"),
        ("com.kaweezle.wsl.rootfs.uid", "1000"),
        ("com.kaweezle.wsl.rootfs.configured", "true"),
        ("org.opencontainers.image.base.name", image.as_str()),
        ("org.opencontainers.image.base.digest", digest.as_str()),
        ("team", "infra"),
    ] {
        assert_eq!(labels[key], value, "{key}: {summary}");
    }

    // Imported back under another name: the user's files, and the user as the default.
    let copy = format!("{name}-copy");
    let location = dir.join("copy");
    ok(wslbox(
        &dir,
        &[
            "import",
            &target,
            "--name",
            &copy,
            "--location",
            path_str(&location),
        ],
        &[],
    ));
    let guid = guid_of(&copy).unwrap();
    assert_eq!(value_u32(&guid, "DefaultUid"), Some(1000));
    let disk = tar_files(&location.join("ext4.vhdx"));
    assert_eq!(file(&disk, "home/alice/notes.txt"), Some("my work\n"));
    assert_eq!(file(&disk, "opt/data/db.sqlite"), Some("rows\n"));
    assert_eq!(
        file(&disk, "opt/data/image-v1.txt"),
        Some("from the image\n")
    );
    let conf = file(&disk, "etc/wsl.conf").unwrap();
    assert!(conf.contains("[user]\ndefault=alice\n"), "{conf}");
    assert!(
        file(&disk, "etc/passwd")
            .unwrap()
            .contains("alice:x:1000:1000:")
    );
}

#[test]
fn an_export_that_fails_pushes_no_image() {
    let (name, _cleanup) = name("commitfail");
    let dir = import_v1("commitfail", &name).dir;
    let target = format!("{}/commit/broken:1", registry());
    for (fault, expected) in [
        (format!("export@{name}|-"), "WSL_E_EXPORT_FAILED"),
        // Half of the archive, then the failure: the tar so far must not be taken for all.
        (
            format!("export-cut@{name}|-"),
            "Simulated export failure after half",
        ),
        // The whole archive, then the failure: what went by is not to be trusted either.
        (
            format!("export-late@{name}|-"),
            "Simulated export failure after the whole archive",
        ),
    ] {
        let stderr = err(wslbox(
            &dir,
            &["commit", &name, &target],
            &[("WSL_SIM_FAIL", &fault)],
        ));
        assert!(stderr.contains(expected), "{fault}: {stderr}");
        let missing = err(wslbox(&dir, &["inspect", &target], &[]));
        assert!(missing.contains("broken"), "{fault}: no image: {missing}");
    }

    let stderr = err(wslbox(&dir, &["commit", "wbx-no-such", &target], &[]));
    assert!(stderr.contains("wbx-no-such"), "{stderr}");
}
