//! Image layers for the end-to-end tests (`upgrade`, `commit`): Debian-like trees as tars, and
//! what a user does inside an imported distribution.

use std::path::{Path, PathBuf};

use crate::support::{oci_layout_of, ok, path_str, scratch, wslbox};

pub fn layer(files: &[(&str, &str, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for dir in [
        "etc", "etc/skel", "usr", "usr/bin", "home", "root", "opt", "opt/data",
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(if dir == "root" { 0o700 } else { 0o755 });
        h.set_size(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, format!("{dir}/"), &[][..]).unwrap();
    }
    for (path, body, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

pub const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n";
pub const GROUP: &str = "root:x:0:\nsudo:x:27:\nusers:x:100:\n";

/// A Debian-like release `version` with its own `tools`.
pub fn debian(version: &str, tools: &[(&str, &str, u32)]) -> Vec<u8> {
    let os_release = format!("ID=debian\nVERSION_ID={version}\nPRETTY_NAME=\"Debian {version}\"\n");
    let mut files = vec![
        ("etc/passwd", PASSWD, 0o644),
        ("etc/group", GROUP, 0o644),
        ("etc/shadow", "root:*:19000:0:99999:7:::\n", 0o600),
        ("etc/os-release", os_release.as_str(), 0o644),
        ("etc/skel/.bashrc", "# skel\n", 0o644),
        ("bin/sh", "#!stand-in\n", 0o755),
    ];
    files.extend_from_slice(tools);
    layer(&files)
}

pub fn v1() -> Vec<u8> {
    debian(
        "12",
        &[
            ("usr/bin/removed-in-v2", "v1 tool\n", 0o755),
            ("opt/data/image-v1.txt", "from the image\n", 0o644),
        ],
    )
}

pub fn v2() -> Vec<u8> {
    debian("13", &[("usr/bin/new-in-v2", "v2 tool\n", 0o755)])
}

/// What the user did inside the distribution: a note in the home and data in /opt/data,
/// written into the simulator's stand-in disk (the imported tar).
pub fn user_writes_files(disk: &Path) {
    let before = fs_err::read(disk).unwrap();
    let mut b = tar::Builder::new(Vec::new());
    for entry in tar::Archive::new(&before[..]).entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        b.append(&header, &mut entry).unwrap();
    }
    for (path, body) in [
        ("home/alice/notes.txt", "my work\n"),
        ("opt/data/db.sqlite", "rows\n"),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_uid(1000);
        h.set_gid(1000);
        h.set_cksum();
        b.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    fs_err::write(disk, b.into_inner().unwrap()).unwrap();
}

pub fn file<'a>(files: &'a [(String, Vec<u8>)], path: &str) -> Option<&'a str> {
    files
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, b)| std::str::from_utf8(b).unwrap())
}

/// A distribution imported from [`v1`] with the user `alice`, who then wrote files in it.
pub struct Imported {
    pub dir: PathBuf,
    pub layout: PathBuf,
    pub install: PathBuf,
    /// `oci:LAYOUT:latest`
    pub image: String,
    /// v1's manifest digest.
    pub v1: String,
}

/// Imports [`v1`] as `name` with `--user alice`, then writes the user's files into it.
pub fn import_v1(test: &str, name: &str) -> Imported {
    let dir = scratch(test);
    let layout = dir.join("layout");
    let v1 = oci_layout_of(&layout, &v1());
    let image = format!("oci:{}:latest", layout.display());
    let install = dir.join("install");
    ok(wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            name,
            "--location",
            path_str(&install),
            "--user",
            "alice",
        ],
        &[],
    ));
    user_writes_files(&install.join("ext4.vhdx"));
    Imported {
        dir,
        layout,
        install,
        image,
        v1,
    }
}
