//! Crafted directory trees on a real disk, as root: the same [`Entry`] vocabulary as
//! [`crate::layers`], materialized as files, directories, symlinks, hardlinks, devices and
//! fifos with exact owners, modes, xattrs and mtimes. [`TreeBuilder`] makes any tree;
//! [`crafted_tree`] makes the standard one the `squashfs:` and `tarball:` tests share (every
//! edge case a rootfs reader must carry through).
//!
//! Order matters on Linux and is handled here: `chown` clears setuid/setgid bits and file
//! capabilities, so an entry is chowned first, then chmodded, then given its xattrs; directory
//! mtimes are set last ([`TreeBuilder::finish`]), since adding a child changes them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::layers::{Entry, Kind};
use crate::tool;

/// Builds a tree under `root`; call [`TreeBuilder::finish`] when done.
pub struct TreeBuilder {
    root: PathBuf,
    dir_mtimes: Vec<(PathBuf, u64)>,
}

impl TreeBuilder {
    /// Creates `root` (and its parents) if missing. Fails unless running as root.
    pub fn create(root: impl Into<PathBuf>) -> anyhow::Result<Self> {
        tool::require_root("crafted trees need chown, mknod and trusted.* xattrs")?;
        let root = root.into();
        fs_err::create_dir_all(&root)?;
        Ok(Self {
            root,
            dir_mtimes: Vec::new(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The absolute path of a relative name (bytes, so non-UTF-8 names work).
    pub fn path(&self, rel: impl AsRef<[u8]>) -> PathBuf {
        self.root.join(OsStr::from_bytes(rel.as_ref()))
    }

    /// Creates one entry. Missing parent directories are made 0755 root:root. A hardlink's
    /// `link` is the relative name of an existing path; it gets no metadata of its own.
    /// `Entry::dir("")` sets the root directory's metadata. PAX-only fields are ignored.
    pub fn add(&mut self, e: &Entry) -> anyhow::Result<&mut Self> {
        let path = self.path(&e.name);
        if let Some(parent) = path.parent() {
            fs_err::create_dir_all(parent)?;
        }
        let link = OsStr::from_bytes(&e.link);
        match e.kind {
            Kind::File => fs_err::write(&path, &e.body)?,
            Kind::Dir if path.is_dir() => {}
            Kind::Dir => fs_err::create_dir(&path)?,
            Kind::Symlink => std::os::unix::fs::symlink(link, &path)
                .with_context(|| format!("symlink {}", path.display()))?,
            Kind::Hardlink => {
                fs_err::hard_link(self.root.join(link), &path)?;
                return Ok(self);
            }
            Kind::Char | Kind::Block => {
                let t = if e.kind == Kind::Char { "c" } else { "b" };
                tool::run(
                    Command::new("mknod")
                        .arg(&path)
                        .arg(t)
                        .arg(e.dev.0.to_string())
                        .arg(e.dev.1.to_string()),
                    "mknod",
                    "coreutils",
                )?;
            }
            Kind::Fifo => {
                tool::run(Command::new("mkfifo").arg(&path), "mkfifo", "coreutils")?;
            }
            Kind::Other(t) => bail!("a tree cannot hold tar type {:?}", t as char),
        }
        let uid = u32::try_from(e.uid).context("uid fits 32 bits")?;
        let gid = u32::try_from(e.gid).context("gid fits 32 bits")?;
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid))
            .with_context(|| format!("lchown {}", path.display()))?;
        if e.kind != Kind::Symlink {
            fs_err::set_permissions(&path, std::fs::Permissions::from_mode(e.mode))?;
        }
        for (name, value) in &e.xattrs {
            xattr::set(&path, OsStr::from_bytes(name), value).with_context(|| {
                format!(
                    "setting xattr {} on {}",
                    String::from_utf8_lossy(name),
                    path.display()
                )
            })?;
        }
        if e.kind == Kind::Dir {
            self.dir_mtimes.push((path, e.mtime));
        } else {
            touch(&path, e.mtime)?;
        }
        Ok(self)
    }

    /// Adds every entry in order.
    pub fn add_all<'a>(
        &mut self,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> anyhow::Result<&mut Self> {
        for e in entries {
            self.add(e)?;
        }
        Ok(self)
    }

    /// `setcap CAPS PATH` (e.g. `cap_net_raw+ep`): a real `security.capability` xattr.
    pub fn setcap(&mut self, rel: impl AsRef<[u8]>, caps: &str) -> anyhow::Result<&mut Self> {
        let path = self.path(rel);
        tool::run(
            Command::new("setcap").arg(caps).arg(&path),
            "setcap",
            "libcap2-bin",
        )?;
        Ok(self)
    }

    /// A sparse regular file of `len` bytes (0644 root:root): holes except for `chunks`
    /// (offset, bytes) of data, so readers meet both hole and data blocks.
    pub fn sparse_file(
        &mut self,
        rel: impl AsRef<[u8]>,
        len: u64,
        chunks: &[(u64, &[u8])],
    ) -> anyhow::Result<&mut Self> {
        use std::io::{Seek as _, SeekFrom, Write as _};
        let path = self.path(rel);
        let mut file = fs_err::File::create(&path)?;
        file.set_len(len)?;
        for (offset, bytes) in chunks {
            file.seek(SeekFrom::Start(*offset))?;
            file.write_all(bytes)?;
        }
        Ok(self)
    }

    /// A unix socket (bound once, then left behind), which tar archives cannot hold.
    pub fn socket(&mut self, rel: impl AsRef<[u8]>) -> anyhow::Result<&mut Self> {
        let path = self.path(rel);
        std::os::unix::net::UnixListener::bind(&path)
            .with_context(|| format!("binding a unix socket at {}", path.display()))?;
        Ok(self)
    }

    /// Sets the recorded directory mtimes (after all their children exist); returns the root.
    pub fn finish(self) -> anyhow::Result<PathBuf> {
        for (path, mtime) in self.dir_mtimes.iter().rev() {
            touch(path, *mtime)?;
        }
        Ok(self.root)
    }
}

/// `touch -h -d @SECS`: sets mtime (and atime) without following symlinks.
fn touch(path: &Path, mtime: u64) -> anyhow::Result<()> {
    tool::run(
        Command::new("touch")
            .args(["-h", "-d", &format!("@{mtime}")])
            .arg(path),
        "touch -h",
        "coreutils",
    )?;
    Ok(())
}

/// A name component of `len` bytes.
fn long_component(prefix: &str, len: usize) -> String {
    let mut s = prefix.to_owned();
    while s.len() < len {
        s.push(char::from(b'a' + (s.len() % 26) as u8));
    }
    s
}

/// The long component (220 bytes) used by [`crafted_tree`].
pub fn long_name() -> String {
    long_component("long-", 220)
}

/// The standard crafted tree, in `root` (as root). It holds, among ordinary files:
///
/// - hardlinks: `usr/bin/tool` = `usr/bin/tool-hard` = `usr/sbin/tool-hard2`, and two
///   hardlinked empty files;
/// - xattrs: `security.capability` by `setcap` on `usr/bin/pinglike`, `user.*` (text and
///   binary values) and `trusted.*` on `etc/with-xattrs`, `user.*` on a directory;
/// - `dev/null` (char 1:3), `dev/sda` (block 8:0), `dev/big` (char 259:131072), `run/fifo`;
/// - a 220-byte name, a path of over 400 bytes, non-UTF-8 names (`caf\xe9`, `dir-\xff\xfe/…`);
/// - setuid (4755), setgid (2755), both (6755, owned 1000:1000), a sticky `tmp` (1777);
/// - empty files, empty directories (one 0700 and owned 1000:1000);
/// - symlinks: absolute, relative, dangling, to a directory, with a 300-byte target;
/// - mtimes 0, 1, 2^31-1, 2^31 and 4e9 (squashfs keeps unsigned 32-bit seconds), and ids
///   65534 and 3000000 (past ustar's octal fields).
pub fn crafted_tree(root: &Path) -> anyhow::Result<PathBuf> {
    let long = long_name();
    let deep = format!(
        "deep/{}/{}/{}",
        long_component("d1-", 130),
        long_component("d2-", 130),
        long_component("f-", 150)
    );
    let long_target = format!("/{}", long_component("target-", 300));
    let entries = [
        Entry::dir("").mode(0o755).mtime(1_650_000_000),
        Entry::dir("etc"),
        Entry::file("etc/hostname", "crafted\n"),
        Entry::file("etc/with-xattrs", "xattrs here\n")
            .xattr("user.wslbox.comment", "hello")
            .xattr("user.wslbox.binary", [0u8, 1, 2, 0xff])
            .xattr("trusted.wslbox", "trusted value"),
        Entry::dir("etc/xattr-dir").xattr("user.wslbox.dir", "on a directory"),
        Entry::file("etc/private", "secret\n")
            .mode(0o600)
            .owner(1000, 1000),
        Entry::dir("usr"),
        Entry::dir("usr/bin"),
        Entry::dir("usr/sbin"),
        Entry::dir("usr/lib"),
        Entry::file("usr/lib/libdemo.so", vec![0x7fu8; 5000]),
        Entry::file("usr/bin/tool", "#!/bin/sh\necho tool\n").mode(0o755),
        Entry::hardlink("usr/bin/tool-hard", "usr/bin/tool"),
        Entry::hardlink("usr/sbin/tool-hard2", "usr/bin/tool"),
        Entry::file("usr/bin/suid", "suid\n").mode(0o4755),
        Entry::file("usr/bin/sgid", "sgid\n")
            .mode(0o2755)
            .owner(0, 50),
        Entry::file("usr/bin/both", "both\n")
            .mode(0o6755)
            .owner(1000, 1000),
        Entry::file("usr/bin/pinglike", "not really ping\n").mode(0o755),
        Entry::symlink("usr/bin/rel", "../../etc/hostname"),
        Entry::symlink("etc/hostname-abs", "/etc/hostname"),
        Entry::symlink("dangling", "no/such/target"),
        Entry::symlink("lib", "usr/lib"),
        Entry::symlink("long-target", long_target),
        Entry::dir("dev"),
        Entry::char_dev("dev/null", 1, 3),
        Entry::block_dev("dev/sda", 8, 0),
        Entry::char_dev("dev/big", 259, 131_072),
        Entry::dir("run"),
        Entry::fifo("run/fifo"),
        Entry::dir("tmp").mode(0o1777),
        Entry::file("empty", ""),
        Entry::file("empty-hard-a", ""),
        Entry::hardlink("empty-hard-b", "empty-hard-a"),
        Entry::dir("empty-dir"),
        Entry::dir("empty-private").mode(0o700).owner(1000, 1000),
        Entry::file(format!("usr/{long}"), "long name\n"),
        Entry::file(deep.as_bytes(), "deep path\n"),
        Entry::file(b"caf\xe9".as_slice(), "latin-1 name\n"),
        Entry::dir(b"dir-\xff\xfe".as_slice()),
        Entry::file(b"dir-\xff\xfe/inside".as_slice(), "in a non-UTF-8 dir\n"),
        Entry::dir("times").mtime(1),
        Entry::file("times/epoch", "0").mtime(0),
        Entry::file("times/one", "1").mtime(1),
        Entry::file("times/i32-max", "2^31-1").mtime(2_147_483_647),
        Entry::file("times/past-i32", "2^31").mtime(2_147_483_648),
        Entry::file("times/four-billion", "4e9").mtime(4_000_000_000),
        Entry::file("ids/nobody", "65534").owner(65534, 65534),
        Entry::file("ids/huge", "3000000").owner(3_000_000, 3_000_000),
    ];
    let mut tree = TreeBuilder::create(root)?;
    tree.add_all(&entries)?;
    tree.setcap("usr/bin/pinglike", "cap_net_raw,cap_net_bind_service+ep")?;
    tree.finish()
}
