//! The real `wslbox.exe` end to end: a local OCI layout imported through the export pipeline
//! into the wsl.exe simulator, then managed with every verb.

use crate::support::*;

#[test]
fn cli_import_list_rename_clone_move_backup_remove() {
    let name = name("cli");
    let new = format!("{name}-new");
    let copy = format!("{name}-copy");
    let dir = scratch("cli");
    let digest = oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    let install = dir.join("install");

    let imported = ok(wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&install),
            "--user",
            "dev:1000",
        ],
        &[],
    ));
    assert!(
        imported.contains(&format!("Start it with: wsl -d {name}")),
        "{imported}"
    );
    let guid = guid_of(&name).expect("registered");
    assert_eq!(value_str(&guid, "WslboxDigest"), Some(digest.clone()));
    assert!(value_str(&guid, "WslboxImage").is_some());
    assert_eq!(value_u32(&guid, "DefaultUid"), Some(1000));
    let disk = tar_entries(&install.join("ext4.vhdx"));
    assert!(
        disk.iter()
            .any(|e| e.trim_start_matches("./") == "etc/passwd"),
        "{disk:?}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&dir, &["list", "--json"], &[]))).unwrap();
    let entry = json
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name.as_str())
        .expect("listed");
    assert_eq!(entry["guid"], guid.as_str());
    assert_eq!(entry["state"], "Stopped");
    assert_eq!(entry["version"], 2);
    assert_eq!(entry["default_uid"], 1000);
    assert_eq!(entry["image_digest"], digest.as_str());
    assert_eq!(entry["vhd"], "ext4.vhdx");
    let quiet = ok(wslbox(&dir, &["list", "--quiet"], &[]));
    assert!(quiet.lines().any(|l| l == name), "{quiet}");
    let table = ok(wslbox(&dir, &["list"], &[]));
    assert!(
        table.starts_with("  NAME") && table.contains(&name),
        "{table}"
    );

    let report: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&dir, &["rename", &name, &new, "--json"], &[]))).unwrap();
    let changes = report["changes"].as_array().expect("changes array");
    assert!(
        changes
            .iter()
            .any(|c| c.as_str().unwrap().contains("DistributionName")),
        "{report}"
    );
    assert!(report["warnings"].is_array(), "{report}");
    assert_eq!(guid_of(&new).as_deref(), Some(guid.as_str()));

    ok(wslbox(
        &dir,
        &[
            "clone",
            &new,
            &copy,
            "--location",
            path_str(&dir.join("copy")),
        ],
        &[],
    ));
    assert_eq!(
        value_u32(&guid_of(&copy).unwrap(), "DefaultUid"),
        Some(1000)
    );

    ok(wslbox(
        &dir,
        &["move", &new, path_str(&dir.join("moved"))],
        &[],
    ));
    assert!(dir.join("moved").join("ext4.vhdx").is_file() && !install.exists());

    let backup = dir.join("backup.tar.gz");
    ok(wslbox(
        &dir,
        &["backup", &new, "-o", path_str(&backup)],
        &[],
    ));
    assert!(!tar_entries(&backup).is_empty());

    let refused = err(wslbox(&dir, &["remove", &new], &[]));
    assert!(
        refused.contains("stdin is not a terminal; pass --yes"),
        "{refused}"
    );
    assert!(guid_of(&new).is_some());
    ok(wslbox(&dir, &["remove", &new, "--yes"], &[]));
    ok(wslbox(&dir, &["remove", &copy, "-y"], &[]));
    assert_eq!(guid_of(&new), None);
    assert!(!dir.join("moved").exists());
}

#[test]
fn cli_import_failure_after_registration_leaves_nothing_behind() {
    let name = name("clifail");
    let dir = scratch("clifail");
    oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    let install = dir.join("install");
    let args = [
        "import",
        image.as_str(),
        "--name",
        name.as_str(),
        "--location",
        path_str(&install),
    ];
    let stderr = err(wslbox(
        &dir,
        &args,
        &[("WSL_SIM_FAIL", "import-after-register")],
    ));
    assert!(
        stderr.contains("Wsl/Service/RegisterDistro/E_UNEXPECTED"),
        "{stderr}"
    );
    assert_eq!(guid_of(&name), None);
    assert!(!install.exists());
}

#[test]
fn cli_invalid_name_refused_before_opening_the_image() {
    let dir = scratch("cliname");
    let missing = format!("oci:{}:latest", dir.join("no-such-layout").display());
    let stderr = err(wslbox(
        &dir,
        &["import", &missing, "--name", "bad/name"],
        &[],
    ));
    assert!(stderr.contains("contains `/`"), "{stderr}");
    let taken = name("clitaken");
    import(&wsl(), &taken, &dir.join("d"));
    let stderr = err(wslbox(
        &dir,
        &["import", &missing, "--name", &taken.to_uppercase()],
        &[],
    ));
    assert!(stderr.contains("already exists"), "{stderr}");
    ok(wslbox(&dir, &["remove", &taken, "--yes"], &[]));
}

#[test]
fn cli_rename_of_running_distribution() {
    let name = name("clirun");
    let new = format!("{name}-new");
    let dir = scratch("clirun");
    import(&wsl(), &name, &dir.join("d"));
    wsl().run(&["--sim-run", name.as_str()]).unwrap();
    let stderr = err(wslbox(&dir, &["rename", &name, &new], &[]));
    assert!(
        stderr.contains("is running") && stderr.contains("--terminate"),
        "{stderr}"
    );
    let report = ok(wslbox(&dir, &["rename", &name, &new, "--terminate"], &[]));
    assert!(report.contains("wsl --terminate"), "{report}");
    assert!(guid_of(&new).is_some());
    ok(wslbox(&dir, &["remove", &new, "--yes"], &[]));
}

#[test]
fn cli_images_name_the_distributions_made_from_them_and_rmi_refuses_those() {
    let name = name("clirmi");
    let dir = scratch("clirmi");
    let digest = oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    ok(wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&dir.join("install")),
        ],
        &[],
    ));

    let listed: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&dir, &["images", "--json"], &[]))).unwrap();
    let records = listed.as_array().expect("an array");
    assert_eq!(records.len(), 1, "{listed}");
    assert_eq!(records[0]["kind"], "oci");
    assert_eq!(records[0]["digest"], digest.as_str());
    assert_eq!(records[0]["os"]["id"], "alpine");
    let users: Vec<&str> = records[0]["distributions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    // Other tests import the same fixture image into the shared Wine registry.
    assert!(users.contains(&name.as_str()), "{listed}");
    let table = ok(wslbox(&dir, &["images"], &[]));
    assert!(
        table.lines().next().unwrap().ends_with("DISTRIBUTIONS") && table.contains(&name),
        "{table}"
    );

    let refused = err(wslbox(&dir, &["rmi", &digest], &[]));
    assert!(
        refused.contains(&name) && refused.contains("rmi --force"),
        "{refused}"
    );
    let still: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&dir, &["images", "--json"], &[]))).unwrap();
    assert_eq!(still.as_array().unwrap().len(), 1, "nothing was forgotten");

    ok(wslbox(&dir, &["rmi", "--force", &digest], &[]));
    let gone: serde_json::Value =
        serde_json::from_str(&ok(wslbox(&dir, &["images", "--json"], &[]))).unwrap();
    assert_eq!(gone, serde_json::json!([]));
    assert!(guid_of(&name).is_some(), "the distribution is untouched");
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));
}
