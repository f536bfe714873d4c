//! `squashfs:FILE`: a SquashFS image (a live ISO's `airootfs.sfs`, a distribution's rootfs
//! image) read in place, without extracting it and without root, as one rootfs layer.
//!
//! [`open`] checks the magic; [`Source::flatten`] walks the image (`image`: inodes and
//! directories; `xattr`: the xattr table) parents first and feeds every entry to a
//! [`LayerBuilder`], streaming file bodies into its spool, while a second thread hashes the
//! file for [`SourceInfo::sha256`]. Kept as `unsquashfs` run as root restores it: modes with
//! setuid/setgid/sticky, owners from the id table, symlinks, devices, fifos, xattrs of every
//! namespace, whole-second mtimes, names as bytes; directory entries sharing an inode become
//! a file and hardlinks to it. Sockets, which a tar cannot hold, are skipped with a warning,
//! as GNU tar skips them.

mod data;
mod image;
mod xattr;

use std::collections::{HashMap, HashSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use wslbox_image::Compression;
use wslbox_reference::{Algorithm, Digest, Hasher};
use wslbox_rootfs::{
    EntryData, EntryMeta, FlatTree, FlattenError, FlattenOptions, LayerBuilder, LayerOptions,
    ParsedLayer, PathMap,
};

use crate::spec::SQUASHFS_MAGIC;
use crate::{Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind};
use image::{Image, Inode, InodeKind};

/// Opens `path` after checking that it is a SquashFS 4.0 image this build can read.
pub(crate) fn open(path: &Path, opts: &OpenOptions) -> Result<Box<dyn Source>, SourceError> {
    crate::spec::check_is_file(path, "a SquashFS image")?;
    let label = label(path);
    let io_err = |source| SourceError::Io {
        what: label.clone(),
        source,
    };
    let mut head = Vec::with_capacity(512);
    fs_err::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .map_err(io_err)?;
    check_head(path, &head)?;
    let path = std::path::absolute(path).map_err(io_err)?;
    Ok(Box::new(SquashfsSource {
        info: SourceInfo::new(SourceKind::Squashfs, format!("squashfs:{}", path.display())),
        label,
        path,
        paths: opts.paths.clone(),
    }))
}

/// How errors name the image.
fn label(path: &Path) -> String {
    format!("SquashFS image {}", path.display())
}

/// The magic, the version and the compressor, from the superblock's first bytes.
fn check_head(path: &Path, head: &[u8]) -> Result<(), SourceError> {
    let not_a = |reason: String| SourceError::NotA {
        what: path.display().to_string(),
        expected: "a SquashFS image",
        reason,
    };
    if !head.starts_with(SQUASHFS_MAGIC) {
        let magic: Vec<String> = head.iter().take(4).map(|b| format!("{b:02x}")).collect();
        let looks_like = if head.len() >= 262 && &head[257..262] == b"ustar" {
            "; it looks like a tar archive: use tarball:FILE"
        } else if Compression::sniff(head) != Compression::None {
            "; it looks like a compressed file (a rootfs tarball?): use tarball:FILE"
        } else if head.starts_with(b"sqsh") {
            "; that is a big-endian SquashFS image, which wslbox does not read"
        } else {
            ""
        };
        return Err(not_a(format!(
            "its magic is `{}`, not `hsqs` (68 73 71 73){looks_like}",
            if magic.is_empty() {
                "(empty file)".to_owned()
            } else {
                magic.join(" ")
            }
        )));
    }
    let u16_at = |at: usize| {
        head.get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let (Some(compressor), Some(major), Some(minor)) = (u16_at(20), u16_at(28), u16_at(30)) else {
        return Err(not_a("the superblock is cut short".into()));
    };
    if (major, minor) != (4, 0) {
        return Err(not_a(format!(
            "it is SquashFS version {major}.{minor}; wslbox reads version 4.0 (mksquashfs 4.x)"
        )));
    }
    data::check_compressor(compressor).map_err(|name| SourceError::NotA {
        what: path.display().to_string(),
        expected: "a SquashFS image wslbox can read",
        reason: format!(
            "unsupported SquashFS compressor {name}; extract it with `unsquashfs` and use \
             tarball:FILE, or rebuild it with `mksquashfs -comp xz`"
        ),
    })
}

struct SquashfsSource {
    info: SourceInfo,
    label: String,
    path: PathBuf,
    paths: PathMap,
}

impl Source for SquashfsSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Reads the image while a second thread hashes it sequentially.
    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        reporter.flatten_started(1);
        let stop = AtomicBool::new(false);
        let (layer, digest) = std::thread::scope(|scope| {
            let hashing = scope.spawn(|| hash_file(&self.path, &stop));
            let layer = read_image(&self, opts, reporter.as_ref());
            if layer.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            let digest = hashing.join().expect("the hashing thread does not panic");
            (layer, digest)
        });
        let layer = layer?;
        let digest = digest.map_err(|source| SourceError::Io {
            what: format!("hashing {}", self.label),
            source,
        })?;
        reporter.layer_finished(0, layer.len() as u64);
        let tree = FlatTree::from_layers([layer])?;
        let mut info = self.info;
        info.sha256 = Some(digest);
        info.size = fs_err::metadata(&self.path).ok().map(|m| m.len());
        Ok(Flattened { tree, info })
    }
}

/// The sha256 of the file, read sequentially; gives up early once `stop` is set.
fn hash_file(path: &Path, stop: &AtomicBool) -> io::Result<Digest> {
    let mut file = fs_err::File::open(path)?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped"));
        }
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Walks the image from the root (or the `--subdir` directory), parents first.
fn read_image(
    source: &SquashfsSource,
    opts: &FlattenOptions,
    reporter: &dyn Reporter,
) -> Result<ParsedLayer, SourceError> {
    let label = &source.label;
    let read_err = |path: &[u8], e: io::Error| FlattenError::Read {
        layer: label.clone(),
        source: if path.is_empty() {
            e
        } else {
            io::Error::new(e.kind(), format!("`{}`: {e}", show(path)))
        },
    };
    let mut image = Image::open(&source.path).map_err(|e| read_err(b"", e))?;
    let (start, root) = find_subdir(&image, source)?;
    let mut builder = LayerBuilder::new(
        label.clone(),
        &opts.spool_dir,
        LayerOptions::rootfs(source.paths.clone()),
    )?;
    let mut walk = Walk {
        paths: &source.paths,
        first_paths: HashMap::new(),
        sockets: Vec::new(),
    };
    walk.add(&mut image, &mut builder, &start, &root)
        .map_err(|e| e.named(label, &start))?;
    // Directories still to list, depth first. A listing read twice means a corrupt image
    // whose directories loop (empty directories have none: they may share a location).
    let mut stack = vec![(start, root)];
    let mut listed = HashSet::new();
    while let Some((dir, inode)) = stack.pop() {
        let InodeKind::Dir {
            block,
            offset,
            size,
        } = inode.kind
        else {
            unreachable!("only directories are stacked")
        };
        if size > 3 && !listed.insert((block, offset)) {
            let e = image::corrupt("its listing is also another directory's (a loop)");
            return Err(read_err(&dir, e).into());
        }
        let entries = image
            .read_dir(block, offset, size)
            .map_err(|e| read_err(&dir, e))?;
        let mut subdirs = Vec::new();
        for entry in entries {
            if reporter.cancelled() {
                return Err(FlattenError::Interrupted.into());
            }
            let path = join(&dir, &entry.name);
            let inode = image
                .inode(entry.inode_block, entry.inode_offset)
                .map_err(|e| read_err(&path, e))?;
            walk.add(&mut image, &mut builder, &path, &inode)
                .map_err(|e| e.named(label, &path))?;
            if matches!(inode.kind, InodeKind::Dir { .. }) {
                subdirs.push((path, inode));
            }
        }
        // Reversed onto the stack, so directories are listed in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    if !walk.sockets.is_empty() {
        let mut shown: Vec<String> = walk.sockets.iter().take(3).map(|p| show(p)).collect();
        if walk.sockets.len() > 3 {
            shown.push("…".into());
        }
        reporter.warn(&format!(
            "{label}: skipped {} socket(s), which a tar cannot hold (GNU tar skips them too): {}",
            walk.sockets.len(),
            shown.join(", ")
        ));
    }
    Ok(builder.finish()?)
}

/// The directory `--subdir` names, walking down from the root (symlinks are not followed),
/// or the root.
fn find_subdir(image: &Image, source: &SquashfsSource) -> Result<(Vec<u8>, Inode), SourceError> {
    let read_err = |e: io::Error| {
        SourceError::Flatten(FlattenError::Read {
            layer: source.label.clone(),
            source: e,
        })
    };
    let subdir = source.paths.subdir_path();
    let missing = |reason: String| SourceError::NoSubdir {
        what: source.label.clone(),
        subdir: show(subdir),
        reason,
    };
    let mut path = Vec::new();
    let mut inode = image.root().map_err(read_err)?;
    for name in subdir.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
        let InodeKind::Dir {
            block,
            offset,
            size,
        } = inode.kind
        else {
            return Err(missing(format!("`{}` is not a directory", show(&path))));
        };
        let entry = image
            .read_dir(block, offset, size)
            .map_err(read_err)?
            .into_iter()
            .find(|e| e.name == name);
        let parent = show(&path);
        path = join(&path, name);
        let Some(entry) = entry else {
            return Err(missing(format!(
                "there is no `{}` in `{parent}`",
                String::from_utf8_lossy(name)
            )));
        };
        inode = image
            .inode(entry.inode_block, entry.inode_offset)
            .map_err(read_err)?;
    }
    match inode.kind {
        InodeKind::Dir { .. } => Ok((path, inode)),
        _ => Err(missing(format!("`{}` is not a directory", show(&path)))),
    }
}

/// What the walk remembers: the first kept path of every non-directory inode, by the
/// inode's place in the inode table (later directory entries for it become hardlinks), and
/// the sockets it skipped.
struct Walk<'a> {
    paths: &'a PathMap,
    first_paths: HashMap<u64, Vec<u8>>,
    sockets: Vec<Vec<u8>>,
}

/// A failure while adding one entry: the builder's own error, or the image's.
enum AddError {
    Flatten(FlattenError),
    Image(io::Error),
}

impl AddError {
    fn named(self, label: &str, path: &[u8]) -> SourceError {
        match self {
            AddError::Flatten(e) => e.into(),
            AddError::Image(e) => FlattenError::Read {
                layer: label.to_owned(),
                source: io::Error::new(e.kind(), format!("`{}`: {e}", show(path))),
            }
            .into(),
        }
    }
}

impl From<FlattenError> for AddError {
    fn from(e: FlattenError) -> Self {
        AddError::Flatten(e)
    }
}

impl Walk<'_> {
    fn add(
        &mut self,
        image: &mut Image,
        builder: &mut LayerBuilder,
        path: &[u8],
        inode: &Inode,
    ) -> Result<(), AddError> {
        let xattrs = match inode.xattr {
            Some(index) => image.xattrs(index).map_err(AddError::Image)?,
            None => Vec::new(),
        };
        let meta = EntryMeta {
            mode: inode.mode,
            uid: u64::from(inode.uid),
            gid: u64::from(inode.gid),
            mtime: i64::from(inode.mtime),
            mtime_nsec: 0,
            xattrs,
        };
        if let InodeKind::Dir { .. } = inode.kind {
            return Ok(builder.add(path, EntryData::Dir, meta)?);
        }
        if let InodeKind::Socket = inode.kind {
            self.sockets.push(path.to_vec());
            return Ok(());
        }
        if let Some(first) = self.first_paths.get(&inode.reference) {
            return Ok(builder.add(path, EntryData::Hardlink(first.clone()), meta)?);
        }
        if self.paths.map(path, path).is_some() {
            self.first_paths.insert(inode.reference, path.to_vec());
        }
        let data = match &inode.kind {
            InodeKind::File(layout) => {
                let mut body = KeepError {
                    inner: image.data.open(layout),
                    failed: None,
                };
                let added = builder.add(path, EntryData::File(&mut body), meta);
                // A corrupt block is the image's fault, not a spool problem: say where.
                return match (added, body.failed) {
                    (Err(FlattenError::Read { .. }), Some(e)) => Err(AddError::Image(e)),
                    (added, _) => Ok(added?),
                };
            }
            InodeKind::Symlink(target) => EntryData::Symlink(target.clone()),
            &InodeKind::Char(dev) => {
                let (major, minor) = image::device(dev);
                EntryData::Char(major, minor)
            }
            &InodeKind::Block(dev) => {
                let (major, minor) = image::device(dev);
                EntryData::Block(major, minor)
            }
            InodeKind::Fifo => EntryData::Fifo,
            InodeKind::Dir { .. } | InodeKind::Socket => unreachable!("handled above"),
        };
        Ok(builder.add(path, data, meta)?)
    }
}

/// A body reader that keeps a copy of its error, so the error can name the file.
struct KeepError<R> {
    inner: R,
    failed: Option<io::Error>,
}

impl<R: Read> Read for KeepError<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            self.failed = Some(io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// Joins a directory path and a name (the root is the empty path).
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if dir.is_empty() {
        return name.to_vec();
    }
    [dir, b"/", name].concat()
}

/// A path for messages: `/usr/bin/tool`, `/` for the root.
fn show(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}
