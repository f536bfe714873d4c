//! Crafts layer tars with arbitrary headers: whiteouts, hardlinks, devices, PAX xattrs, GNU
//! long names, duplicate entries, non-UTF-8 names, huge ids. Headers are written field by
//! field (the `tar` crate's `Header` API plus raw bytes), so tests can produce exactly the
//! archives real-world tools produce, including malformed ones.
//!
//! ```no_run
//! use wslbox_test::layers::{Entry, Layer};
//! let tar: Vec<u8> = Layer::new()
//!     .with(Entry::dir("etc").mode(0o755))
//!     .with(Entry::file("etc/hostname", "box\n").owner(0, 0))
//!     .with(Entry::whiteout("etc/motd"))
//!     .with(Entry::hardlink("etc/hn", "etc/hostname"))
//!     .finish();
//! ```

use std::path::{Path, PathBuf};

/// How names longer than the ustar field are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongNames {
    /// PAX `path`/`linkpath` records (what Go, buildkit and bsdtar write).
    #[default]
    Pax,
    /// GNU `././@LongLink` entries (what GNU tar writes by default).
    Gnu,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    Symlink,
    Hardlink,
    Char,
    Block,
    Fifo,
    /// Any other type byte, to test rejection.
    Other(u8),
}

/// One tar entry to write.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: Vec<u8>,
    pub kind: Kind,
    pub body: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub dev: (u32, u32),
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
    /// Extra PAX records (written in the entry's PAX header).
    pub pax: Vec<(Vec<u8>, Vec<u8>)>,
    /// Force ids into PAX records instead of base-256 header fields.
    pub pax_ids: bool,
}

impl Entry {
    fn new(name: impl AsRef<[u8]>, kind: Kind, mode: u32) -> Self {
        Self {
            name: name.as_ref().to_vec(),
            kind,
            body: Vec::new(),
            link: Vec::new(),
            mode,
            uid: 0,
            gid: 0,
            mtime: 1_600_000_000,
            dev: (0, 0),
            xattrs: Vec::new(),
            pax: Vec::new(),
            pax_ids: false,
        }
    }

    pub fn file(name: impl AsRef<[u8]>, body: impl AsRef<[u8]>) -> Self {
        Self {
            body: body.as_ref().to_vec(),
            ..Self::new(name, Kind::File, 0o644)
        }
    }
    pub fn dir(name: impl AsRef<[u8]>) -> Self {
        Self::new(name, Kind::Dir, 0o755)
    }
    pub fn symlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        Self {
            link: target.as_ref().to_vec(),
            ..Self::new(name, Kind::Symlink, 0o777)
        }
    }
    pub fn hardlink(name: impl AsRef<[u8]>, target: impl AsRef<[u8]>) -> Self {
        Self {
            link: target.as_ref().to_vec(),
            ..Self::new(name, Kind::Hardlink, 0o644)
        }
    }
    pub fn char_dev(name: impl AsRef<[u8]>, major: u32, minor: u32) -> Self {
        Self {
            dev: (major, minor),
            ..Self::new(name, Kind::Char, 0o666)
        }
    }
    pub fn block_dev(name: impl AsRef<[u8]>, major: u32, minor: u32) -> Self {
        Self {
            dev: (major, minor),
            ..Self::new(name, Kind::Block, 0o660)
        }
    }
    pub fn fifo(name: impl AsRef<[u8]>) -> Self {
        Self::new(name, Kind::Fifo, 0o644)
    }
    /// A `.wh.NAME` entry deleting `path` (image-spec layer.md "Whiteouts").
    pub fn whiteout(path: impl AsRef<[u8]>) -> Self {
        let path = path.as_ref();
        let (dir, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..=i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let mut wh = dir.to_vec();
        wh.extend_from_slice(b".wh.");
        wh.extend_from_slice(name);
        Self::file(wh, "")
    }
    /// A `DIR/.wh..wh..opq` opaque whiteout (`dir` empty for the root).
    pub fn opaque(dir: impl AsRef<[u8]>) -> Self {
        let mut p = dir.as_ref().to_vec();
        if !p.is_empty() && !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(b".wh..wh..opq");
        Self::file(p, "")
    }
    pub fn other(name: impl AsRef<[u8]>, type_byte: u8) -> Self {
        Self::new(name, Kind::Other(type_byte), 0o644)
    }

    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }
    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }
    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }
    pub fn xattr(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.xattrs
            .push((name.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }
    pub fn pax(mut self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.pax
            .push((key.as_ref().to_vec(), value.as_ref().to_vec()));
        self
    }
    pub fn pax_ids(mut self) -> Self {
        self.pax_ids = true;
        self
    }
}

/// A layer tar under construction.
#[derive(Debug, Clone, Default)]
pub struct Layer {
    entries: Vec<Entry>,
    long_names: LongNames,
}

impl Layer {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn long_names(mut self, how: LongNames) -> Self {
        self.long_names = how;
        self
    }
    pub fn with(mut self, e: Entry) -> Self {
        self.entries.push(e);
        self
    }
    pub fn with_all(mut self, es: impl IntoIterator<Item = Entry>) -> Self {
        self.entries.extend(es);
        self
    }

    /// The tar bytes, with the two end-of-archive blocks.
    pub fn finish(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.entries {
            write_entry(&mut out, e, self.long_names);
        }
        out.extend_from_slice(&[0u8; 1024]);
        out
    }
}

fn type_byte(k: Kind) -> u8 {
    match k {
        Kind::File => b'0',
        Kind::Dir => b'5',
        Kind::Symlink => b'2',
        Kind::Hardlink => b'1',
        Kind::Char => b'3',
        Kind::Block => b'4',
        Kind::Fifo => b'6',
        Kind::Other(b) => b,
    }
}

fn pad(out: &mut Vec<u8>) {
    let rem = out.len() % 512;
    if rem != 0 {
        out.resize(out.len() + 512 - rem, 0);
    }
}

/// A header whose name/linkname fields hold raw (possibly truncated) bytes.
fn header(gnu: bool, name: &[u8], link: &[u8], type_byte: u8, size: u64) -> tar::Header {
    let mut h = if gnu {
        tar::Header::new_gnu()
    } else {
        tar::Header::new_ustar()
    };
    {
        let old = h.as_old_mut();
        let n = name.len().min(100);
        old.name[..n].copy_from_slice(&name[..n]);
        let l = link.len().min(100);
        old.linkname[..l].copy_from_slice(&link[..l]);
    }
    h.set_entry_type(tar::EntryType::new(type_byte));
    h.set_size(size);
    h
}

fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    out.extend_from_slice(format!("{len} ").as_bytes());
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn write_entry(out: &mut Vec<u8>, e: &Entry, long: LongNames) {
    let gnu = long == LongNames::Gnu;
    let long_name = e.name.len() > 100;
    let long_link = e.link.len() > 100;
    let mut pax = Vec::new();
    if !gnu {
        if long_name {
            pax_record(&mut pax, b"path", &e.name);
        }
        if long_link {
            pax_record(&mut pax, b"linkpath", &e.link);
        }
    }
    if e.pax_ids {
        pax_record(&mut pax, b"uid", e.uid.to_string().as_bytes());
        pax_record(&mut pax, b"gid", e.gid.to_string().as_bytes());
    }
    for (k, v) in &e.xattrs {
        let mut key = b"SCHILY.xattr.".to_vec();
        key.extend_from_slice(k);
        pax_record(&mut pax, &key, v);
    }
    for (k, v) in &e.pax {
        pax_record(&mut pax, k, v);
    }
    if gnu {
        for (data, t) in [(&e.name, b'L'), (&e.link, b'K')] {
            if data.len() > 100 {
                let mut body = data.clone();
                body.push(0);
                let mut h = header(true, b"././@LongLink", b"", t, body.len() as u64);
                h.set_mode(0o644);
                h.set_cksum();
                out.extend_from_slice(h.as_bytes());
                out.extend_from_slice(&body);
                pad(out);
            }
        }
    }
    if !pax.is_empty() {
        let mut h = header(false, b"PaxHeaders.0/entry", b"", b'x', pax.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(&pax);
        pad(out);
    }
    let size = if e.kind == Kind::File || matches!(e.kind, Kind::Other(_)) {
        e.body.len() as u64
    } else {
        0
    };
    let mut h = header(gnu, &e.name, &e.link, type_byte(e.kind), size);
    h.set_mode(e.mode);
    if e.pax_ids {
        h.set_uid(0);
        h.set_gid(0);
    } else {
        h.set_uid(e.uid);
        h.set_gid(e.gid);
    }
    h.set_mtime(e.mtime);
    if matches!(e.kind, Kind::Char | Kind::Block) {
        h.set_device_major(e.dev.0).expect("device fits");
        h.set_device_minor(e.dev.1).expect("device fits");
    }
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
    if size > 0 {
        out.extend_from_slice(&e.body);
        pad(out);
    }
}

/// A directory for shared, slow-to-build fixtures: `target/wslbox-fixtures`.
pub fn fixtures_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // The workspace's target dir, spelled without `..` (engines print paths resolved).
            let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
            let workspace = manifest.ancestors().nth(2).expect("crates/wslbox-test");
            workspace.join("target")
        });
    target.join("wslbox-fixtures")
}

/// A slow-to-build fixture file `fixtures_dir()/NAME`, built once. Test processes run in
/// parallel: a file lock (`STEM.lock`) makes the first one call `build` while the others wait.
/// `build` gets a scratch directory and a path to write; that file is renamed into place only
/// when `build` succeeds, so a failed or killed build leaves nothing half-made.
pub fn cached_fixture(
    name: &str,
    build: impl FnOnce(&Path, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    let dir = fixtures_dir();
    let file = dir.join(name);
    if file.exists() {
        return Ok(file);
    }
    fs_err::create_dir_all(&dir)?;
    let stem = Path::new(name)
        .file_stem()
        .map_or_else(|| name.to_owned(), |s| s.to_string_lossy().into_owned());
    let lock = fs_err::File::create(dir.join(format!("{stem}.lock")))?;
    lock.file()
        .lock()
        .with_context(|| format!("locking the {name} fixture"))?;
    if file.exists() {
        return Ok(file);
    }
    let scratch = tempfile::tempdir_in(&dir)?;
    let part = scratch.path().join(name);
    build(scratch.path(), &part).with_context(|| format!("building the {name} fixture"))?;
    fs_err::rename(&part, &file)?;
    Ok(file)
}

/// A tar of a real Debian bookworm minbase rootfs (`debootstrap --variant=minbase`, default
/// mirror), built once (about a minute) and cached under [`fixtures_dir`] ([`cached_fixture`]).
pub fn debian_minbase_tar() -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    cached_fixture("debootstrap-bookworm-minbase.tar", |scratch, part| {
        let rootfs = scratch.join("rootfs");
        let status = std::process::Command::new("debootstrap")
            .args(["--variant=minbase", "bookworm"])
            .arg(&rootfs)
            .stdout(std::process::Stdio::null())
            .status()
            .context("running debootstrap (install it with scripts/install-test-deps)")?;
        anyhow::ensure!(
            status.success(),
            "debootstrap --variant=minbase bookworm failed: {status}"
        );
        let status = std::process::Command::new("tar")
            .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
            .arg(&rootfs)
            .arg("-cf")
            .arg(part)
            .arg(".")
            .status()
            .context("running GNU tar")?;
        anyhow::ensure!(
            status.success(),
            "tar of the debootstrap rootfs failed: {status}"
        );
        Ok(())
    })
}
