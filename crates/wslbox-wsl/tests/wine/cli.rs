//! The real `wslbox.exe` end to end: a local OCI layout imported through the export pipeline
//! into the wsl.exe simulator, then managed with every verb.

use crate::support::*;

#[test]
fn cli_import_list_rename_clone_move_backup_remove() {
    let (name, _cleanup) = name("cli");
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
    let (name, _cleanup) = name("clifail");
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
    let (taken, _cleanup_taken) = name("clitaken");
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
    let (name, _cleanup) = name("clirun");
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
    let (name, _cleanup) = name("clirmi");
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

#[test]
fn cli_import_first_run_registers_through_install_from_file_or_falls_back_clearly() {
    let (name, _cleanup) = name("clioobe");
    let dir = scratch("clioobe");
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
        "--first-run",
    ];
    ok(wslbox(&dir, &args, &[]));
    let guid = guid_of(&name).expect("registered");
    // Only `wsl --install --from-file` leaves the first-run setup pending.
    assert_eq!(value_u32(&guid, "RunOOBE"), Some(1));
    assert_eq!(
        value_u32(&guid, "DefaultUid"),
        Some(0),
        "the first-run setup chooses the user, not wslbox"
    );
    assert!(value_str(&guid, "WslboxDigest").is_some());
    let disk = tar_files(&install.join("ext4.vhdx"));
    let conf = disk
        .iter()
        .find(|(p, _)| p == "etc/wsl-distribution.conf")
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .expect("a .wsl tree");
    assert!(
        conf.contains("command = /usr/lib/wsl/oobe.sh") && conf.contains("defaultUid = 1000"),
        "{conf}"
    );
    assert!(disk.iter().any(|(p, _)| p == "usr/lib/wsl/oobe.sh"));
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));

    // A WSL without --install --from-file: imported the usual way, and said so.
    let out = wslbox(&dir, &args, &[("WSL_SIM_VERSION", "2.3.26.0")]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("WSL 2.3.26.0 has no `wsl --install --from-file`")
            && stderr.contains("logs in as root")
            && stderr.contains("wsl --update"),
        "{stderr}"
    );
    let guid = guid_of(&name).expect("registered");
    assert_eq!(value_u32(&guid, "RunOOBE"), Some(0));
    let disk = tar_entries(&install.join("ext4.vhdx"));
    assert!(
        !disk.iter().any(|p| p == "etc/wsl-distribution.conf"),
        "{disk:?}"
    );
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));
}

/// What PowerShell's registration gets back for TAB after `wslbox WORDS`: one value a line,
/// a tab before the help. A last word `""` (TAB after a space) is not passed, as the script
/// does not: it sets WSLBOX_COMPLETE_NEW_WORD.
fn powershell_tab(dir: &std::path::Path, words: &[&str]) -> Vec<String> {
    let (words, new_word) = match words.split_last() {
        Some((&"", before)) => (before, "1"),
        _ => (words, ""),
    };
    let out = ok(wslbox(
        dir,
        &[&["--", "wslbox"], words].concat(),
        &[
            ("WSLBOX_COMPLETE", "powershell"),
            ("WSLBOX_COMPLETE_NEW_WORD", new_word),
        ],
    ));
    out.lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect()
}

#[test]
fn cli_tab_proposes_registered_distributions_to_the_verbs_that_take_one() {
    let (name, _cleanup) = name("tabnames");
    let dir = scratch("tabnames");
    import(&wsl(), &name, &dir.join("d"));

    for verb in ["remove", "rename", "set-default", "upgrade"] {
        let values = powershell_tab(&dir, &[verb, ""]);
        assert!(values.contains(&name), "{verb}: {values:?}");
    }
    // The word typed so far filters them.
    assert_eq!(
        powershell_tab(&dir, &["backup", "wbx-tabn"]),
        [name.as_str()]
    );
    // A new name is not one of the registered ones.
    let values = powershell_tab(&dir, &["import", ""]);
    assert!(!values.contains(&name), "import: {values:?}");
    let values = powershell_tab(&dir, &["rename", &name, ""]);
    assert!(!values.contains(&name), "rename's NEW: {values:?}");

    // The script PowerShell loads calls this very wslbox.exe back, by its Windows path, as a
    // single-quoted literal (nothing in it is expanded).
    let script = ok(wslbox(&dir, &["completion", "powershell"], &[]));
    let call = script
        .lines()
        .find(|l| l.starts_with("& "))
        .unwrap_or_else(|| panic!("no call back in {script}"));
    let unquoted = call
        .strip_prefix("& '")
        .and_then(|c| c.strip_suffix("' -- $line"))
        .unwrap_or_else(|| panic!("{call}"));
    assert!(!unquoted.contains(['$', '`', '"', '\'']), "{call}");
    assert_eq!(
        std::path::Path::new(unquoted).canonicalize().unwrap(),
        wslbox_exe().canonicalize().unwrap(),
        "{call}"
    );
}
