//! The winget and scoop manifests `packaging/render.py` makes for a release: valid against the
//! official schemas (winget 1.10.0, scoop; copied with their licenses into packaging/schemas),
//! with the archives' URLs and sha256. The archives here are stand-ins with distinct bytes: the
//! manifests only name them and carry their hashes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The venv `scripts/install-test-deps` makes, with jsonschema and PyYAML.
fn python() -> PathBuf {
    let python = repo().join("target/tools/py/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-test-deps",
        python.display()
    );
    python
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = wslbox_test::registry_fixture::sha256_digest(bytes);
    digest.trim_start_matches("sha256:").to_owned()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn rendered_manifests_are_valid_and_carry_the_archives_hashes() {
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    fs_err::create_dir_all(&dist).unwrap();
    let version = "1.2.3";
    let mut hashes = Vec::new();
    for target in ["x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc"] {
        let name = format!("wslbox-{version}-{target}.zip");
        let bytes = format!("stand-in archive for {target}").into_bytes();
        fs_err::write(dist.join(&name), &bytes).unwrap();
        hashes.push((name, sha256_hex(&bytes)));
    }
    let out = dir.path().join("out");
    run(Command::new("python3")
        .arg(repo().join("packaging/render.py"))
        .args([
            "--version",
            version,
            "--release-date",
            "2026-12-02",
            "--dist",
        ])
        .arg(&dist)
        .arg("--out")
        .arg(&out));
    let said = run(Command::new(python())
        .arg(repo().join("packaging/validate.py"))
        .arg(&out));
    assert!(said.contains("manifests valid"), "{said}");

    let winget = out.join(format!("winget/manifests/w/wslbox/wslbox/{version}"));
    let installer = fs_err::read_to_string(winget.join("wslbox.wslbox.installer.yaml")).unwrap();
    let scoop = fs_err::read_to_string(out.join("scoop/wslbox.json")).unwrap();
    let scoop: serde_json::Value = serde_json::from_str(&scoop).unwrap();
    assert_eq!(scoop["version"], version);
    for ((name, hash), (winget_arch, scoop_arch)) in
        hashes.iter().zip([("x64", "64bit"), ("arm64", "arm64")])
    {
        let url = format!("https://github.com/wslbox/wslbox/releases/download/v{version}/{name}");
        let entry = format!(
            "- Architecture: {winget_arch}\n    InstallerUrl: {url}\n    InstallerSha256: {hash}\n"
        );
        assert!(installer.contains(&entry), "{entry}\nnot in\n{installer}");
        assert_eq!(scoop["architecture"][scoop_arch]["url"], url.as_str());
        assert_eq!(scoop["architecture"][scoop_arch]["hash"], hash.as_str());
    }
    assert!(installer.contains("PortableCommandAlias: wslbox"));
    assert_eq!(scoop["bin"], "wslbox.exe");
}

#[test]
fn a_manifest_off_the_schema_is_refused() {
    // The validator must be able to fail: a hash of the wrong length breaks the schema.
    let dir = tempfile::tempdir().unwrap();
    let dist = dir.path().join("dist");
    fs_err::create_dir_all(&dist).unwrap();
    for target in ["x86_64-pc-windows-msvc", "aarch64-pc-windows-msvc"] {
        fs_err::write(dist.join(format!("wslbox-0.1.0-{target}.zip")), target).unwrap();
    }
    let out = dir.path().join("out");
    run(Command::new("python3")
        .arg(repo().join("packaging/render.py"))
        .args(["--version", "0.1.0", "--dist"])
        .arg(&dist)
        .arg("--out")
        .arg(&out));
    let installer = out.join("winget/manifests/w/wslbox/wslbox/0.1.0/wslbox.wslbox.installer.yaml");
    let text = fs_err::read_to_string(&installer).unwrap();
    fs_err::write(
        &installer,
        text.replacen("InstallerSha256: ", "InstallerSha256: 00", 1),
    )
    .unwrap();
    let out = Command::new(python())
        .arg(repo().join("packaging/validate.py"))
        .arg(dir.path().join("out"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("InstallerSha256"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
