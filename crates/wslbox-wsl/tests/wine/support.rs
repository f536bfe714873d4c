//! Test support: locating the simulator and wslbox.exe, running wslbox.exe, a small root
//! filesystem tar, registry peeks.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use windows_registry::CURRENT_USER;
use wslbox_wsl::host::{self, DefaultUser, ImportOptions, LXSS_KEY, Lxss, Produced, WslExe};
use wslbox_wsl::terminal_ids::generated_profile_guid;

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

/// The names a test may register: its own and what rename, clone and upgrade derive from it.
fn names_of(name: &str) -> [String; 5] {
    [
        name.to_owned(),
        format!("{name}-new"),
        format!("{name}-copy"),
        format!("{name}.wslbox-new"),
        format!("{name}.wslbox-old"),
    ]
}

/// A distribution name unique to this test, with any leftover from an earlier run removed,
/// and the [`Cleanup`] that removes what the test registers when it ends.
pub fn name(test: &str) -> (String, Cleanup) {
    let name = format!("wbx-{test}");
    let cleanup = Cleanup {
        test: test.to_owned(),
        names: names_of(&name).to_vec(),
        files: Vec::new(),
    };
    cleanup.unregister_all();
    (name, cleanup)
}

/// Puts back what a test touched when it ends, passed or failed (in the spirit of rustup's
/// `RegistryGuard`): the distributions it registered are unregistered, or their Lxss keys,
/// shortcuts and fragments deleted by hand where the simulator refuses; shared files it
/// changed get their old contents back (or go, if they did not exist); its scratch folder
/// goes. A failing test can then not break the ones after it.
pub struct Cleanup {
    test: String,
    names: Vec<String>,
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Cleanup {
    /// Remembers `path` as it is now, to be restored when the test ends.
    pub fn restore_file(&mut self, path: &Path) {
        self.files.push((path.to_owned(), fs_err::read(path).ok()));
    }

    fn unregister_all(&self) {
        let lxss = CURRENT_USER.create(LXSS_KEY).unwrap();
        for name in &self.names {
            let Some(guid) = guid_of(name) else { continue };
            if wsl().unregister(name).is_ok() {
                continue;
            }
            for value in ["ShortcutPath", "TerminalProfilePath"] {
                if let Some(path) = value_str(&guid, value) {
                    let _ = fs_err::remove_file(path);
                }
            }
            let _ = lxss.remove_tree(&guid);
            if lxss.get_string("DefaultDistribution").ok().as_deref() == Some(guid.as_str()) {
                let _ = lxss.remove_value("DefaultDistribution");
            }
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.unregister_all();
        for (path, before) in self.files.drain(..).rev() {
            let _ = match before {
                Some(bytes) => fs_err::write(&path, bytes),
                None => fs_err::remove_file(&path),
            };
        }
        let dir = std::env::temp_dir()
            .join("wslbox-wine-tests")
            .join(&self.test);
        let _ = fs_err::remove_dir_all(dir);
    }
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
        first_run: false,
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
///
/// Through the product's own lookup, which reads the Lxss subkeys until two reads agree: the
/// other tests register and unregister distributions at the same time, and a plain
/// enumeration skips a key whenever one before it goes (the CI failure of
/// `rename::no_shortcut_and_no_terminal_leave_them_alone`).
pub fn guid_of(name: &str) -> Option<String> {
    Lxss::open().unwrap().find(name).unwrap().map(|d| d.guid)
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
    tar_files(path).into_iter().map(|(p, _)| p).collect()
}

/// Entries of a (plain or gzip) tar file with their bodies, names without `./`.
pub fn tar_files(path: &Path) -> Vec<(String, Vec<u8>)> {
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
        .map(|e| {
            let mut e = e.unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            let mut body = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut body).unwrap();
            (path.trim_start_matches("./").to_owned(), body)
        })
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Writes a one-layer OCI image layout (image-spec `image-layout.md`) holding [`rootfs_tar`],
/// tagged `latest`, for `wslbox import oci:DIR:latest`. Returns the manifest digest.
pub fn oci_layout(dir: &Path) -> String {
    oci_layout_of(dir, &rootfs_tar())
}

/// A one-layer image: the config and layer blobs, and the manifest that names them.
pub struct TestImage {
    pub blobs: Vec<Vec<u8>>,
    pub manifest: Vec<u8>,
}

impl TestImage {
    pub fn of(layer: &[u8]) -> TestImage {
        let digest = |bytes: &[u8]| format!("sha256:{}", sha256_hex(bytes));
        let config = serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["PATH=/usr/bin:/bin"] },
            "rootfs": { "type": "layers", "diff_ids": [digest(layer)] },
        })
        .to_string()
        .into_bytes();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": layer.len() }],
        })
        .to_string()
        .into_bytes();
        TestImage {
            blobs: vec![config, layer.to_vec()],
            manifest,
        }
    }

    pub fn digest(&self) -> String {
        format!("sha256:{}", sha256_hex(&self.manifest))
    }
}

/// [`oci_layout`] of `layer`; in an existing layout the blobs stay and `latest` moves to the
/// new manifest, as a push of a new version to the same tag does.
pub fn oci_layout_of(dir: &Path, layer: &[u8]) -> String {
    let image = TestImage::of(layer);
    let blobs = dir.join("blobs").join("sha256");
    fs_err::create_dir_all(&blobs).unwrap();
    for bytes in image.blobs.iter().chain([&image.manifest]) {
        fs_err::write(blobs.join(sha256_hex(bytes)), bytes).unwrap();
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": image.digest(),
            "size": image.manifest.len(),
            "annotations": { "org.opencontainers.image.ref.name": "latest" },
        }],
    });
    fs_err::write(dir.join("index.json"), index.to_string()).unwrap();
    fs_err::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    image.digest()
}

/// The loopback registry `scripts/test-windows` starts (`WSLBOX_WINE_REGISTRY`, `host:port`).
pub fn registry() -> String {
    std::env::var("WSLBOX_WINE_REGISTRY").expect(
        "WSLBOX_WINE_REGISTRY is not set: run the Wine suite with scripts/test-windows, which starts the test registry",
    )
}

/// Pushes a one-layer image of `layer` to `REPO:TAG` in the test registry with the
/// distribution-spec monolithic upload (POST, then PUT with the digest), then the manifest.
/// Returns the manifest digest.
pub fn push(repo_tag: &str, layer: &[u8]) -> String {
    let (repo, tag) = repo_tag.rsplit_once(':').expect("REPO:TAG");
    let image = TestImage::of(layer);
    for blob in &image.blobs {
        let (status, headers) = http("POST", &format!("/v2/{repo}/blobs/uploads/"), None, &[]);
        assert_eq!(status, 202, "starting an upload to {repo}");
        let location = header(&headers, "location").expect("upload Location");
        let path = location
            .split_once("://")
            .map_or(location.as_str(), |(_, rest)| {
                &rest[rest.find('/').unwrap_or(rest.len())..]
            })
            .to_owned();
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{path}{sep}digest=sha256:{}", sha256_hex(blob));
        let (status, _) = http("PUT", &url, Some("application/octet-stream"), blob);
        assert_eq!(status, 201, "uploading a blob to {repo}");
    }
    let (status, _) = http(
        "PUT",
        &format!("/v2/{repo}/manifests/{tag}"),
        Some("application/vnd.oci.image.manifest.v1+json"),
        &image.manifest,
    );
    assert_eq!(status, 201, "pushing the manifest of {repo_tag}");
    image.digest()
}

/// One HTTP/1.1 request to the test registry; the status and the response headers.
fn http(method: &str, path: &str, content_type: Option<&str>, body: &[u8]) -> (u16, String) {
    use std::io::Read;
    let host = registry();
    let mut stream = std::net::TcpStream::connect(&host).expect("connect to the test registry");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if let Some(t) = content_type {
        request.push_str(&format!("Content-Type: {t}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or_default().to_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in: {head}"));
    (status, head)
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

/// The real `wslbox.exe`: `WSLBOX_EXE`, else next to the test's `deps` folder.
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

pub fn ok(out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "wslbox failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

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

/// The fragment holds WSL's two entries: the hide entry for `name`, then profile `profile`.
pub fn assert_fragment(path: &str, profile: &str, name: &str) {
    let json: serde_json::Value =
        serde_json::from_str(&fs_err::read_to_string(path).unwrap()).unwrap();
    let profiles = json["profiles"].as_array().expect("profiles");
    assert_eq!(profiles.len(), 2, "{json}");
    assert_eq!(
        profiles[0],
        serde_json::json!({"updates": generated_profile_guid(name), "hidden": true}),
        "{json}"
    );
    assert_eq!(profiles[1]["guid"], profile, "{json}");
    assert_eq!(profiles[1]["name"], name, "{json}");
}

/// `%APPDATA%\Microsoft\Windows\Start Menu\<name>.lnk`, not under `Programs`.
pub fn assert_in_start_menu_root(link: &str, name: &str) {
    let appdata = std::env::var_os("APPDATA").expect("APPDATA under Wine");
    let expected = Path::new(&appdata)
        .join(r"Microsoft\Windows\Start Menu")
        .join(format!("{name}.lnk"));
    assert_eq!(Path::new(link), expected.as_path());
}
