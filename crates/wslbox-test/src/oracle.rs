//! The flattening oracles and the tree comparison they share.
//!
//! An oracle is another tool that turns the same source into a real directory: `umoci raw
//! unpack` for OCI layouts, `unsquashfs` for `squashfs:` sources ([`unsquashfs_tree`]), GNU
//! `tar -xp` for `tarball:` sources ([`tar_extract_tree`]), `podman export` and `docker export`
//! for engine sources (in [`crate::podman`] and [`crate::dockerd`]). We extract our output tar
//! with `bsdtar -xp` (what `wsl --import` uses) and GNU `tar -xp` ([`output_tree`]), then
//! compare [`Snapshot`]s path by path: type, mode, owner, size, content hash, symlink target,
//! device numbers, xattrs, regular-file mtime and hardlink groups.
//!
//! What is deliberately not compared, for every oracle alike: mtimes of directories, symlinks
//! and devices (extractors set a directory's mtime and then change it by writing into it),
//! atime/ctime, and inode numbers (only which paths share one). The root directory (`""`)
//! *is* compared: umoci and unsquashfs give it the image's root metadata, GNU tar applies a
//! `./` member when the tarball has one, and otherwise (and always for `podman export`, which
//! writes no `./`) the root stays as [`fs_err::create_dir_all`] made it, 0755 root:root, the
//! same as a `./`-less output tar gets from bsdtar.
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

use crate::tool;

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

/// `umoci raw unpack --image LAYOUT:TAG DEST` (DEST must not exist).
pub fn umoci_unpack(layout: &Path, tag: &str, dest: &Path) -> anyhow::Result<()> {
    let mut image = layout.as_os_str().to_owned();
    image.push(":");
    image.push(tag);
    tool::run(
        Command::new("umoci")
            .args(["raw", "unpack", "--image"])
            .arg(image)
            .arg(dest),
        "umoci raw unpack",
        "umoci",
    )?;
    Ok(())
}

/// `bsdtar -xp --xattrs --numeric-owner -f TAR -C DEST`, as WSL extracts an import.
pub fn bsdtar_extract(tar: &Path, dest: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(dest)?;
    tool::run(
        Command::new("bsdtar")
            .args(["-xp", "--xattrs", "--numeric-owner", "-f"])
            .arg(tar)
            .arg("-C")
            .arg(dest),
        "bsdtar -x",
        "libarchive-tools",
    )?;
    Ok(())
}

/// GNU `tar -xp` with xattrs (all namespaces) and numeric owners.
pub fn gnu_tar_extract(tar: &Path, dest: &Path) -> anyhow::Result<()> {
    fs_err::create_dir_all(dest)?;
    tool::run(
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
    )?;
    Ok(())
}

/// `tar -c` of `dir` (its contents, with `./`) into `out` as GNU tar writes it, in POSIX
/// format so xattrs and long names are kept, with numeric owners; `compress` is a tar flag
/// (`-z`, `-J`, `--zstd`, `-j`). Returns `out`.
pub fn gnu_tar_create(dir: &Path, out: &Path, compress: Option<&str>) -> anyhow::Result<PathBuf> {
    let mut cmd = Command::new("tar");
    cmd.args([
        "--format=posix",
        "--xattrs",
        "--xattrs-include=*",
        "--numeric-owner",
        "-cp",
    ]);
    if let Some(flag) = compress {
        cmd.arg(flag);
    }
    cmd.arg("-f").arg(out).arg("-C").arg(dir).arg(".");
    tool::run(&mut cmd, "GNU tar -c", "tar")?;
    Ok(out.to_owned())
}

/// The `squashfs:` oracle: `unsquashfs -d DEST IMAGE` as root (DEST must not exist), with
/// xattrs of every namespace (`-xattrs`, the default, spelled out) and owners restored, then
/// the snapshot of DEST. DEST itself gets the image's root inode (mode, owner).
pub fn unsquashfs_tree(image: &Path, dest: &Path) -> anyhow::Result<Snapshot> {
    tool::require_root("unsquashfs restores owners, devices and trusted.*/security.* xattrs")?;
    if dest.exists() {
        bail!("unsquashfs destination {} already exists", dest.display());
    }
    tool::run(
        Command::new("unsquashfs")
            .args(["-no-progress", "-quiet", "-xattrs", "-d"])
            .arg(dest)
            .arg(image),
        &format!("unsquashfs {}", image.display()),
        "squashfs-tools",
    )?;
    snapshot(dest)
}

/// The `tarball:` oracle: GNU `tar -xp --xattrs --xattrs-include=* --numeric-owner
/// [--strip-components N] -f FILE -C DEST` as root, then the snapshot of DEST. GNU tar
/// recognises gzip, bzip2, xz, zstd and lzop by their magic bytes (the decompressor programs
/// must be installed). DEST is created when missing.
pub fn tar_extract_tree(
    tarball: &Path,
    dest: &Path,
    strip_components: Option<u32>,
) -> anyhow::Result<Snapshot> {
    tool::require_root("GNU tar -p restores owners, devices and xattrs only as root")?;
    fs_err::create_dir_all(dest)?;
    let mut cmd = Command::new("tar");
    cmd.args(["-xp", "--xattrs", "--xattrs-include=*", "--numeric-owner"]);
    if let Some(n) = strip_components {
        cmd.arg(format!("--strip-components={n}"));
    }
    cmd.arg("-f").arg(tarball).arg("-C").arg(dest);
    tool::run(
        &mut cmd,
        &format!("GNU tar -x {}", tarball.display()),
        "tar",
    )?;
    snapshot(dest)
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

impl Snapshot {
    /// The same tree with sub-second mtimes dropped. SquashFS keeps whole seconds only
    /// (unsigned 32-bit) and `podman export` writes whole seconds, so a tree from a PAX tar
    /// (GNU tar `--xattrs` and umoci keep nanoseconds) is compared with theirs this way.
    pub fn with_whole_second_mtimes(mut self) -> Self {
        for info in self.paths.values_mut() {
            if let Some((_, nanos)) = &mut info.mtime {
                *nanos = 0;
            }
        }
        self
    }
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

/// Fails with every difference from umoci's tree listed.
#[track_caller]
pub fn assert_same(oracle: &Snapshot, ours: &Snapshot, what: &str) {
    assert_same_as("umoci", oracle, ours, what);
}

/// Fails with every difference from the named oracle's tree listed.
#[track_caller]
pub fn assert_same_as(oracle_name: &str, oracle: &Snapshot, ours: &Snapshot, what: &str) {
    let d = diff(oracle, ours);
    assert!(
        d.is_empty(),
        "{what}: {} difference(s) from {oracle_name}:\n{}",
        d.len(),
        d.join("\n")
    );
}

/// Our output tar as the comparison sees it: extracted with `bsdtar -xp` into
/// `scratch/bsdtar` and with GNU `tar -xp` into `scratch/gnutar`. Both trees must be identical
/// (an error lists the differences); the bsdtar one, what WSL would see, is returned.
pub fn output_tree(tar: &Path, scratch: &Path) -> anyhow::Result<Snapshot> {
    let bsd = scratch.join("bsdtar");
    bsdtar_extract(tar, &bsd)?;
    let bsd = snapshot(&bsd)?;
    let gnu = scratch.join("gnutar");
    gnu_tar_extract(tar, &gnu)?;
    let gnu = snapshot(&gnu)?;
    let d = diff(&bsd, &gnu);
    if !d.is_empty() {
        bail!(
            "bsdtar and GNU tar extract {} differently ({} difference(s), bsdtar first):\n{}",
            tar.display(),
            d.len(),
            d.join("\n")
        );
    }
    Ok(bsd)
}

/// Asserts that our output tar, extracted both ways ([`output_tree`]), is the oracle's tree.
#[track_caller]
pub fn assert_output_matches(oracle_name: &str, oracle: &Snapshot, our_tar: &Path, scratch: &Path) {
    let ours = output_tree(our_tar, scratch)
        .unwrap_or_else(|e| panic!("extracting our output {}: {e:#}", our_tar.display()));
    assert_same_as(
        oracle_name,
        oracle,
        &ours,
        "our output extracted by bsdtar and GNU tar",
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
