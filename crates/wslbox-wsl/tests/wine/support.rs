//! Test support: locating the simulator and wslbox.exe, running wslbox.exe, a small root
//! filesystem tar, registry peeks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use windows_registry::CURRENT_USER;
use wslbox_wsl::host::{self, DefaultUser, ImportOptions, LXSS_KEY, Produced, WslExe};

/// A cross-built executable: `$env_var`, else `file` next to the test's `deps` folder.
pub fn built_exe(env_var: &str, file: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(env_var)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let exe = std::env::current_exe().expect("current exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("target dir")
                .join(file)
        });
    assert!(
        path.is_file(),
        "{file} is missing at {}; build it with \
         `cargo build -p {package} --target x86_64-pc-windows-gnu` (scripts/test-windows does)",
        path.display()
    );
    path
}

/// The wsl.exe simulator: `WSL_SIMULATOR`, else `wsl.exe` next to the test's `deps` folder.
pub fn simulator() -> PathBuf {
    built_exe("WSL_SIMULATOR", "wsl.exe", "wsl-simulator")
}

pub fn wsl() -> WslExe {
    WslExe::at(simulator())
}

/// The cross-built wslbox.exe: `WSLBOX_EXE`, else next to the test's `deps` folder.
pub fn wslbox_exe() -> PathBuf {
    built_exe("WSLBOX_EXE", "wslbox.exe", "wslbox")
}

/// Runs wslbox.exe against the simulator with a per-test cache; stdin is not a terminal.
pub fn wslbox(scratch: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(wslbox_exe());
    cmd.args(args)
        .env("WSLBOX_WSL_EXE", simulator())
        .env("WSLBOX_CACHE_DIR", scratch.join("cache"))
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    // Wine's CreateProcess sometimes fails with ERROR_INTERNAL_ERROR (1359) when several tests
    // start the big debug wslbox.exe at once. The program has not run yet, so retrying hides
    // nothing about wslbox.
    for _ in 0..3 {
        match cmd.output() {
            Err(e) if e.raw_os_error() == Some(1359) => continue,
            result => return result.expect("run wslbox.exe"),
        }
    }
    panic!(
        "Wine failed to start {} three times (ERROR_INTERNAL_ERROR)",
        wslbox_exe().display()
    )
}

/// The stdout of a run that must succeed.
pub fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wslbox failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The stderr of a run that must fail.
pub fn err(out: Output) -> String {
    assert!(
        !out.status.success(),
        "wslbox should have failed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A distribution name unique to this test, with any leftover from an earlier run removed.
pub fn name(test: &str) -> String {
    let name = format!("wbx-{test}");
    for n in [name.clone(), format!("{name}-new"), format!("{name}-copy")] {
        let _ = wsl().unregister(&n);
    }
    name
}

/// A per-test scratch folder under the temp dir, emptied first.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join("wslbox-wine-tests").join(test);
    if dir.exists() {
        fs_err::remove_dir_all(&dir).unwrap();
    }
    fs_err::create_dir_all(&dir).unwrap();
    dir
}

/// A tiny root filesystem: passwd with `dev` (uid 1000), os-release, a shell stand-in.
pub fn rootfs_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, data).unwrap();
    };
    add(
        "etc/passwd",
        b"root:x:0:0:root:/root:/bin/sh\ndev:x:1000:1000::/home/dev:/bin/sh\n",
        0o644,
    );
    add(
        "etc/os-release",
        b"ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        0o644,
    );
    add("bin/sh", b"#!stand-in\n", 0o755);
    b.into_inner().unwrap()
}

pub fn produced() -> Produced {
    Produced {
        image: Some("docker.io/library/alpine:3.20".into()),
        digest: Some(format!("sha256:{}", "ab".repeat(32))),
        default_user: Some(DefaultUser {
            name: "dev".into(),
            uid: Some(1000),
        }),
    }
}

/// Imports the test rootfs as `name` into `dir`.
pub fn try_import(wsl: &WslExe, name: &str, dir: &Path) -> Result<host::Report, wslbox_wsl::Error> {
    let opts = ImportOptions {
        name: name.into(),
        location: Some(dir.to_owned()),
        version: 2,
    };
    host::import(wsl, &opts, |mut out| {
        out.write_all(&rootfs_tar())?;
        Ok(produced())
    })
}

/// [`try_import`] that must succeed.
pub fn import(wsl: &WslExe, name: &str, dir: &Path) -> host::Report {
    try_import(wsl, name, dir).unwrap_or_else(|e| panic!("importing {name}: {e}"))
}

/// The GUID key of the distribution named `name`, if registered.
pub fn guid_of(name: &str) -> Option<String> {
    let lxss = CURRENT_USER.create(LXSS_KEY).unwrap();
    lxss.keys().unwrap().find(|g| {
        lxss.open(g)
            .and_then(|k| k.get_string("DistributionName"))
            .is_ok_and(|n| n.eq_ignore_ascii_case(name))
    })
}

pub fn value_str(guid: &str, value: &str) -> Option<String> {
    CURRENT_USER
        .open(format!(r"{LXSS_KEY}\{guid}"))
        .ok()?
        .get_string(value)
        .ok()
}

pub fn value_u32(guid: &str, value: &str) -> Option<u32> {
    CURRENT_USER
        .open(format!(r"{LXSS_KEY}\{guid}"))
        .ok()?
        .get_u32(value)
        .ok()
}

/// A REG_MULTI_SZ value's strings; `None` when the value is absent (or of another type).
pub fn value_multi(guid: &str, value: &str) -> Option<Vec<String>> {
    let strings = CURRENT_USER
        .open(format!(r"{LXSS_KEY}\{guid}"))
        .ok()?
        .get_multi_string(value)
        .ok()?;
    // windows-registry splits the whole buffer at NULs, so the terminating empty string comes
    // back as `""` entries.
    Some(strings.into_iter().filter(|s| !s.is_empty()).collect())
}

/// Entry names of a (plain or gzip) tar file.
pub fn tar_entries(path: &Path) -> Vec<String> {
    let bytes = fs_err::read(path).unwrap();
    let plain = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .unwrap();
        out
    } else {
        bytes
    };
    tar::Archive::new(&plain[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Writes a one-layer OCI image layout (image-spec `image-layout.md`) holding [`rootfs_tar`],
/// tagged `latest`, for `wslbox import oci:DIR:latest`. Returns the manifest digest.
pub fn oci_layout(dir: &Path) -> String {
    let blobs = dir.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    let put = |bytes: &[u8]| {
        let hex = sha256_hex(bytes);
        fs_err::write(blobs.join(&hex), bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let layer = rootfs_tar();
    let (layer_digest, layer_size) = put(&layer);
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": { "Env": ["PATH=/usr/bin:/bin"] },
        "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
    });
    let (config_digest, config_size) = put(config.to_string().as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_size },
        "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer_size }],
    });
    let (manifest_digest, manifest_size) = put(manifest.to_string().as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": manifest_digest,
            "size": manifest_size,
            "annotations": { "org.opencontainers.image.ref.name": "latest" },
        }],
    });
    fs_err::write(dir.join("index.json"), index.to_string()).unwrap();
    fs_err::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    manifest_digest
}
