//! The flattening oracle: `umoci raw unpack` (run as root) applies an image's layers to a real
//! directory; we extract our output tar with `bsdtar -xp` (what `wsl --import` uses) and GNU
//! `tar -xp`, then compare both trees path by path: type, mode, owner, size, content hash,
//! symlink target, device numbers, xattrs, regular-file mtime and hardlink groups.
//!
//! Every tool missing is an error with the package to install, never a skip.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use sha2::{Digest as _, Sha256};

/// What one path looks like on disk (symlinks not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathInfo {
    /// `file`, `dir`, `symlink`, `char`, `block`, `fifo`, `socket`.
    pub kind: &'static str,
    /// Permission bits including setuid/setgid/sticky (not compared for symlinks).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// sha256 of a regular file's contents.
    pub sha256: Option<String>,
    pub link_target: Option<Vec<u8>>,
    /// (major, minor) of a device.
    pub rdev: Option<(u64, u64)>,
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// (seconds, nanoseconds) — recorded for regular files only.
    pub mtime: Option<(i64, i64)>,
    /// All paths sharing this inode, sorted, when there is more than one.
    pub link_group: Vec<Vec<u8>>,
}

/// A tree on disk: relative path bytes (`""` is the root) → info.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub paths: BTreeMap<Vec<u8>, PathInfo>,
}

fn run(cmd: &mut Command, what: &str, package: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| {
        format!("running {what}: is it installed? (Debian package `{package}`)")
    })?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// `umoci raw unpack --image LAYOUT:TAG DEST` (DEST must not exist).
pub fn umoci_unpack(layout: &Path, tag: &str, dest: &Path) -> anyhow::Result<()> {
    let mut image = layout.as_os_str().to_owned();
    image.push(":");
    image.push(tag);
    run(
        Command::new("umoci")
            .args(["raw", "unpack", "--image"])
            .arg(image)
            .arg(dest),
        "umoci raw unpack",
        "umoci",
    )
}

/// `bsdtar -xp --xattrs --numeric-owner -f TAR -C DEST`, as WSL extracts an import.
pub fn bsdtar_extract(tar: &Path, dest: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(dest)?;
    run(
        Command::new("bsdtar")
            .args(["-xp", "--xattrs", "--numeric-owner", "-f"])
            .arg(tar)
            .arg("-C")
            .arg(dest),
        "bsdtar -x",
        "libarchive-tools",
    )
}

/// GNU `tar -xp` with xattrs (all namespaces) and numeric owners.
pub fn gnu_tar_extract(tar: &Path, dest: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(dest)?;
    run(
        Command::new("tar")
            .args([
                "-xp",
                "--xattrs",
                "--xattrs-include=*",
                "--numeric-owner",
                "-f",
            ])
            .arg(tar)
            .arg("-C")
            .arg(dest),
        "GNU tar -x",
        "tar",
    )
}

/// Lists a tar's member names in order with `bsdtar -t` (decompressing as needed).
pub fn bsdtar_list(tar: &Path) -> anyhow::Result<Vec<String>> {
    let out = Command::new("bsdtar")
        .arg("-tf")
        .arg(tar)
        .output()
        .context("running bsdtar -t (libarchive-tools)")?;
    if !out.status.success() {
        bail!(
            "bsdtar -t {} failed: {}",
            tar.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

/// Records every path under `root` (the root itself as `""`).
pub fn snapshot(root: &Path) -> anyhow::Result<Snapshot> {
    let mut paths = BTreeMap::new();
    let mut inodes: BTreeMap<(u64, u64), Vec<Vec<u8>>> = BTreeMap::new();
    let mut stack = vec![(root.to_path_buf(), Vec::new())];
    while let Some((abs, rel)) = stack.pop() {
        let md = fs_err::symlink_metadata(&abs)?;
        let ft = md.file_type();
        let kind = kind_of(&md);
        let mut info = PathInfo {
            kind,
            mode: if ft.is_symlink() {
                0
            } else {
                md.mode() & 0o7777
            },
            uid: md.uid(),
            gid: md.gid(),
            size: if ft.is_file() { md.len() } else { 0 },
            sha256: None,
            link_target: None,
            rdev: None,
            xattrs: BTreeMap::new(),
            mtime: None,
            link_group: Vec::new(),
        };
        for name in
            xattr::list(&abs).with_context(|| format!("listing xattrs of {}", abs.display()))?
        {
            let value = xattr::get(&abs, &name)?.unwrap_or_default();
            info.xattrs.insert(name.as_bytes().to_vec(), value);
        }
        if ft.is_file() {
            let mut hasher = Sha256::new();
            std::io::copy(&mut fs_err::File::open(&abs)?, &mut hasher)?;
            info.sha256 = Some(hex::encode(hasher.finalize()));
            info.mtime = Some((md.mtime(), md.mtime_nsec()));
            if md.nlink() > 1 {
                inodes
                    .entry((md.dev(), md.ino()))
                    .or_default()
                    .push(rel.clone());
            }
        } else if ft.is_symlink() {
            info.link_target = Some(fs_err::read_link(&abs)?.as_os_str().as_bytes().to_vec());
        } else if kind == "char" || kind == "block" {
            let rdev = md.rdev();
            info.rdev = Some((major(rdev), minor(rdev)));
        }
        if !ft.is_file() && !ft.is_dir() && md.nlink() > 1 {
            inodes
                .entry((md.dev(), md.ino()))
                .or_default()
                .push(rel.clone());
        }
        if ft.is_dir() {
            for entry in fs_err::read_dir(&abs)? {
                let entry = entry?;
                let name = entry.file_name();
                let mut child = rel.clone();
                if !child.is_empty() {
                    child.push(b'/');
                }
                child.extend_from_slice(name.as_bytes());
                stack.push((entry.path(), child));
            }
        }
        paths.insert(rel, info);
    }
    for mut group in inodes.into_values() {
        group.sort();
        for p in &group {
            if let Some(info) = paths.get_mut(p) {
                info.link_group = group.clone();
            }
        }
    }
    Ok(Snapshot { paths })
}

fn kind_of(md: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let ft = md.file_type();
    if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "dir"
    } else if ft.is_symlink() {
        "symlink"
    } else if ft.is_char_device() {
        "char"
    } else if ft.is_block_device() {
        "block"
    } else if ft.is_fifo() {
        "fifo"
    } else {
        "socket"
    }
}

fn major(dev: u64) -> u64 {
    ((dev >> 32) & 0xffff_f000) | ((dev >> 8) & 0xfff)
}

fn minor(dev: u64) -> u64 {
    ((dev >> 12) & 0xffff_ff00) | (dev & 0xff)
}

fn show(p: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(p))
}

/// Differences between the oracle's tree and ours, one line each (empty when identical).
pub fn diff(oracle: &Snapshot, ours: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for (p, o) in &oracle.paths {
        match ours.paths.get(p) {
            None => out.push(format!(
                "{}: missing from our output (oracle: {})",
                show(p),
                o.kind
            )),
            Some(u) if u != o => {
                out.push(format!("{}:\n  oracle: {o:?}\n  ours:   {u:?}", show(p)))
            }
            Some(_) => {}
        }
    }
    for p in ours.paths.keys().filter(|p| !oracle.paths.contains_key(*p)) {
        out.push(format!(
            "{}: in our output but not in the oracle's",
            show(p)
        ));
    }
    out
}

/// Fails with every difference listed.
pub fn assert_same(oracle: &Snapshot, ours: &Snapshot, what: &str) {
    let d = diff(oracle, ours);
    assert!(
        d.is_empty(),
        "{what}: {} difference(s) from umoci:\n{}",
        d.len(),
        d.join("\n")
    );
}

/// A scratch area for one differential run, removed on drop.
pub struct Scratch {
    pub dir: tempfile::TempDir,
}

impl Scratch {
    /// Under `target/wslbox-fixtures/scratch` (a real disk: xattrs and devices work there,
    /// unlike on some tmpfs setups).
    pub fn new() -> anyhow::Result<Self> {
        let base = crate::layers::fixtures_dir().join("scratch");
        fs_err::create_dir_all(&base)?;
        Ok(Self {
            dir: tempfile::tempdir_in(base)?,
        })
    }
    pub fn path(&self, name: impl AsRef<OsStr>) -> PathBuf {
        self.dir.path().join(name.as_ref())
    }
}
