//! A layer as the flattener applies it: entries in archive order, regular-file bodies in a
//! spool file. Every reader builds one through [`LayerBuilder`] — the tar reader (`read`) for
//! image layers and rootfs tarballs, the SquashFS reader entry by entry — so path
//! normalization, `..` refusal and `--strip-components`/`--subdir` are one rule.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::FlattenError;
use crate::path::split_last;
use crate::path::{components, normalize};
use crate::spool::{AppendError, SpoolWriter};

/// Metadata of one entry, as an archive header carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryMeta {
    /// Permission bits with setuid/setgid/sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
    pub mtime_nsec: u32,
    /// `SCHILY.xattr.*` records, binary values, in header order.
    pub xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A regular file whose body is at `offset..offset+len` in the layer's spool.
    File {
        offset: u64,
        len: u64,
    },
    /// A regular file whose body stays in the layer: entry number `entry` of the archive
    /// (counted from 0 over every header the tar reader yields), read again for the output.
    Reread {
        entry: u64,
        len: u64,
    },
    Dir,
    Symlink(Vec<u8>),
    /// A hardlink to this normalized path.
    Hardlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

#[derive(Debug, Clone)]
pub(crate) struct LayerEntry {
    /// Normalized path (see [`crate::path::normalize`]).
    pub path: Vec<u8>,
    pub kind: EntryKind,
    pub meta: EntryMeta,
}

/// How a reader's entries become layer entries.
#[derive(Debug, Clone)]
pub struct LayerOptions {
    /// Apply image-spec whiteouts (`.wh.NAME`, `.wh..wh..opq`). Off for plain root
    /// filesystems (tarballs, SquashFS), where a `.wh.` file is an ordinary file, as
    /// `tar -x` and `unsquashfs` treat it.
    pub whiteouts: bool,
    /// Which part of the archive becomes the root.
    pub paths: PathMap,
    /// Only these paths (of the root) and what is below them; empty keeps everything. Bodies
    /// of other files are skipped, not spooled. `wslbox upgrade` reads the kept paths out of
    /// a whole distribution's export this way.
    pub only: Vec<Vec<u8>>,
}

impl LayerOptions {
    /// An OCI/Docker image layer.
    pub fn image_layer() -> Self {
        Self {
            whiteouts: true,
            paths: PathMap::default(),
            only: Vec::new(),
        }
    }

    /// A whole root filesystem (tarball, SquashFS), optionally a part of it.
    pub fn rootfs(paths: PathMap) -> Self {
        Self {
            whiteouts: false,
            paths,
            only: Vec::new(),
        }
    }

    /// Whether the root path `path` is selected by [`LayerOptions::only`].
    fn selects(&self, path: &[u8]) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|keep| {
                path.strip_prefix(keep.as_slice())
                    .is_some_and(|rest| rest.is_empty() || rest[0] == b'/' || keep.is_empty())
            })
    }

    /// The entry's path in the root, or `None` when it is dropped (outside the subtree or
    /// not selected).
    fn place(&self, raw: &[u8], path: &[u8]) -> Option<Vec<u8>> {
        self.paths.map(raw, path).filter(|p| self.selects(p))
    }
}

/// Chooses the root inside an archive: `--strip-components N` (GNU tar's rule, from
/// `stripped_prefix_len` in its `names.c`: after any leading `/`, the first N components of
/// the name as stored go — a `.` counts, doubled slashes don't — and entries with nothing
/// left are skipped) or `--subdir PATH` (only PATH and what is below it, PATH becoming the
/// root).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathMap {
    strip: usize,
    subdir: Vec<u8>,
}

impl PathMap {
    pub fn strip_components(n: usize) -> Self {
        Self {
            strip: n,
            subdir: Vec::new(),
        }
    }

    /// `path` is relative to the archive root (`root.x86_64`, `/arch/rootfs`); `..` is refused.
    pub fn subdir(path: &str) -> Result<Self, String> {
        let subdir =
            normalize(path.as_bytes()).map_err(|reason| format!("--subdir `{path}`: {reason}"))?;
        Ok(Self { strip: 0, subdir })
    }

    /// Whether this map keeps the whole archive.
    pub fn is_identity(&self) -> bool {
        self.strip == 0 && self.subdir.is_empty()
    }

    /// The subtree's path in the archive (empty for the whole archive).
    pub fn subdir_path(&self) -> &[u8] {
        &self.subdir
    }

    /// Maps an archive name (`raw`, as stored) whose normalized form is `path` to its path
    /// in the root; `None` drops the entry.
    pub fn map(&self, raw: &[u8], path: &[u8]) -> Option<Vec<u8>> {
        if self.strip > 0 {
            let rest: Vec<&[u8]> = components(raw).skip(self.strip).collect();
            // What is left was part of a name that normalized, so it normalizes too.
            let rest = normalize(&rest.join(&b'/')).ok()?;
            return (!rest.is_empty()).then_some(rest);
        }
        if self.subdir.is_empty() {
            return Some(path.to_vec());
        }
        let rest = path.strip_prefix(self.subdir.as_slice())?;
        match rest {
            [] => Some(Vec::new()),
            [b'/', tail @ ..] => Some(tail.to_vec()),
            _ => None,
        }
    }
}

/// What an entry is; a regular file brings a reader over its body.
pub enum EntryData<'a> {
    File(&'a mut dyn Read),
    Dir,
    /// The target, verbatim (symlinks are never rewritten: absolute ones resolve in the root).
    Symlink(Vec<u8>),
    /// Another entry of the same archive, by its raw archive path.
    Hardlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// One layer read completely, ready for [`crate::FlatTree::apply`].
pub struct ParsedLayer {
    pub(crate) label: String,
    pub(crate) entries: Vec<LayerEntry>,
    pub(crate) spool: std::fs::File,
    pub(crate) whiteouts: bool,
}

impl ParsedLayer {
    /// What was read, as errors name it (`layer sha256:…`, `SquashFS image FILE`).
    pub fn label(&self) -> &str {
        &self.label
    }

    /// How many entries the layer has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The same layer once more, for an image that applies one layer twice (a `docker save`
    /// archive may list a layer file at two positions). The copy shares the spool file:
    /// bodies are read back with positional reads, so nothing is copied.
    pub fn try_clone(&self) -> std::io::Result<ParsedLayer> {
        Ok(ParsedLayer {
            label: self.label.clone(),
            entries: self.entries.clone(),
            spool: self.spool.try_clone()?,
            whiteouts: self.whiteouts,
        })
    }
}

/// Bodies up to this size may be spooled when the layer can be read again: configuration
/// files and scripts, which customization reads; anything bigger waits in the layer.
pub(crate) const SMALL_BODY: u64 = 64 * 1024;

/// Collects a layer's entries, spooling file bodies to an unnamed file in `spool_dir`.
pub struct LayerBuilder {
    label: String,
    opts: LayerOptions,
    spool_dir: PathBuf,
    spool: SpoolWriter,
    entries: Vec<LayerEntry>,
    /// Set when the layer can be read again: the bytes of small bodies it may still spool.
    reread: Option<u64>,
    /// The archive entry being added (see [`EntryKind::Reread`]).
    entry: u64,
    /// Paths (and what is below them) whose bodies are spooled whatever their size while the
    /// budget lasts: what customization replaces or reads.
    hold: Vec<Vec<u8>>,
}

impl LayerBuilder {
    /// `label` names the layer in errors: `layer sha256:…`, `rootfs tarball FILE`, ….
    pub fn new(
        label: impl Into<String>,
        spool_dir: &Path,
        opts: LayerOptions,
    ) -> Result<Self, FlattenError> {
        let label = label.into();
        let file = tempfile::tempfile_in(spool_dir).map_err(|source| FlattenError::Spool {
            layer: label.clone(),
            dir: spool_dir.to_owned(),
            source,
        })?;
        Ok(Self {
            label,
            opts,
            spool_dir: spool_dir.to_owned(),
            spool: SpoolWriter::new(file),
            entries: Vec::new(),
            reread: None,
            entry: 0,
            hold: Vec::new(),
        })
    }

    /// Leaves bodies in the layer, to be read again, except small ones while `budget` bytes
    /// last (in archive order, so the choice is the same on every run). The reader must then
    /// tell [`Self::at_entry`] where it is.
    pub(crate) fn rereadable(mut self, budget: u64) -> Self {
        self.reread = Some(budget);
        self
    }

    /// Spools the bodies below `paths` whatever their size, while the budget lasts.
    pub(crate) fn holding(mut self, paths: &[Vec<u8>]) -> Self {
        self.hold = paths.to_vec();
        self
    }

    /// Whether whiteouts are applied (image layers) or kept as files.
    pub(crate) fn whiteouts(&self) -> bool {
        self.opts.whiteouts
    }

    /// The entries added so far.
    pub(crate) fn entries(&self) -> &[LayerEntry] {
        &self.entries
    }

    /// The number of the archive entry the next [`Self::add`] is for.
    pub(crate) fn at_entry(&mut self, entry: u64) {
        self.entry = entry;
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// Adds one entry under its raw archive path. Errors name the entry; a read error of a
    /// body is [`FlattenError::Read`], a failed spool write [`FlattenError::Spool`].
    pub fn add(
        &mut self,
        raw_path: &[u8],
        data: EntryData<'_>,
        meta: EntryMeta,
    ) -> Result<(), FlattenError> {
        let kind = match data {
            EntryData::File(body) => {
                return self.add_file(raw_path, meta, |spool| spool.append(body));
            }
            EntryData::Dir => EntryKind::Dir,
            EntryData::Symlink(target) => EntryKind::Symlink(target),
            EntryData::Hardlink(raw_target) => {
                let target = normalize(&raw_target).map_err(|_| {
                    self.unsafe_path(raw_path, "the hardlink target escapes the root")
                })?;
                match self.opts.place(&raw_target, &target) {
                    Some(mapped) => EntryKind::Hardlink(mapped),
                    None if self
                        .opts
                        .place(raw_path, &self.normalized(raw_path)?)
                        .is_none() =>
                    {
                        return Ok(()); // both outside the chosen subtree
                    }
                    None => {
                        let outside = if self.opts.only.is_empty() {
                            "the chosen subtree"
                        } else {
                            "the kept paths (keep it too: --keep /TARGET)"
                        };
                        return Err(self.invalid(
                            raw_path,
                            format!(
                                "its hardlink target `{}` is outside {outside}",
                                String::from_utf8_lossy(&target)
                            ),
                        ));
                    }
                }
            }
            EntryData::Char(ma, mi) => EntryKind::Char(ma, mi),
            EntryData::Block(ma, mi) => EntryKind::Block(ma, mi),
            EntryData::Fifo => EntryKind::Fifo,
        };
        self.push(raw_path, kind, meta)
    }

    /// Adds a regular file whose body `append` copies into the spool (the tar reader uses this
    /// for sparse files). A whiteout in an image layer carries no body worth keeping.
    pub(crate) fn add_file(
        &mut self,
        raw_path: &[u8],
        meta: EntryMeta,
        append: impl FnOnce(&mut SpoolWriter) -> Result<(u64, u64), AppendError>,
    ) -> Result<(), FlattenError> {
        let path = self.normalized(raw_path)?;
        if self.opts.whiteouts && is_whiteout(&path) {
            return self.push(raw_path, EntryKind::File { offset: 0, len: 0 }, meta);
        }
        if self.opts.place(raw_path, &path).is_none() {
            return Ok(());
        }
        let (offset, len) = append(&mut self.spool).map_err(|e| match e {
            AppendError::Read(source) => FlattenError::Read {
                layer: self.label.clone(),
                source,
            },
            AppendError::Write(source) => FlattenError::Spool {
                layer: self.label.clone(),
                dir: self.spool_dir.clone(),
                source,
            },
        })?;
        self.push(raw_path, EntryKind::File { offset, len }, meta)
    }

    /// Adds a regular file whose header says it has `len` bytes.
    pub(crate) fn add_body(
        &mut self,
        raw_path: &[u8],
        meta: EntryMeta,
        len: u64,
        body: &mut dyn Read,
    ) -> Result<(), FlattenError> {
        if self.reread.is_none() {
            return self.add(raw_path, EntryData::File(body), meta);
        }
        if self.leaves_in_layer(raw_path, len)?.is_none() {
            let path = self.normalized(raw_path)?;
            if (self.opts.whiteouts && is_whiteout(&path))
                || self.opts.place(raw_path, &path).is_none()
            {
                return self.add_file(raw_path, meta, |_| Ok((0, 0)));
            }
            if let Some(budget) = self.reread.as_mut() {
                *budget -= len;
            }
            return self.add_file(raw_path, meta, |spool| spool.append(body));
        }
        let skipped = io::copy(body, &mut io::sink()).map_err(|source| FlattenError::Read {
            layer: self.label.clone(),
            source,
        })?;
        self.add_left(raw_path, meta, skipped)
    }

    /// The tree path of a regular file of `len` bytes at `raw_path` if its body is to stay
    /// in the layer: the layer can be read again, and the body is neither small nor held
    /// (see [`Self::holding`]), or the spool budget is spent.
    pub(crate) fn leaves_in_layer(
        &self,
        raw_path: &[u8],
        len: u64,
    ) -> Result<Option<Vec<u8>>, FlattenError> {
        let Some(budget) = self.reread else {
            return Ok(None);
        };
        let path = self.normalized(raw_path)?;
        if self.opts.whiteouts && is_whiteout(&path) {
            return Ok(None);
        }
        let Some(placed) = self.opts.place(raw_path, &path) else {
            return Ok(None);
        };
        let held = || self.hold.iter().any(|h| crate::path::is_within(&placed, h));
        let spooled = len <= budget && (len <= SMALL_BODY || held());
        Ok((!spooled).then_some(placed))
    }

    /// Records a regular file of `len` bytes whose body stays in the layer (the caller read
    /// past it), by its entry number.
    pub(crate) fn add_left(
        &mut self,
        raw_path: &[u8],
        meta: EntryMeta,
        len: u64,
    ) -> Result<(), FlattenError> {
        let kind = EntryKind::Reread {
            entry: self.entry,
            len,
        };
        self.push(raw_path, kind, meta)
    }

    fn push(
        &mut self,
        raw_path: &[u8],
        kind: EntryKind,
        meta: EntryMeta,
    ) -> Result<(), FlattenError> {
        let normalized = self.normalized(raw_path)?;
        if let Some(path) = self.opts.place(raw_path, &normalized) {
            self.entries.push(LayerEntry { path, kind, meta });
        }
        Ok(())
    }

    fn normalized(&self, raw_path: &[u8]) -> Result<Vec<u8>, FlattenError> {
        normalize(raw_path).map_err(|reason| self.unsafe_path(raw_path, reason))
    }

    pub(crate) fn unsafe_path(&self, raw_path: &[u8], reason: &str) -> FlattenError {
        FlattenError::UnsafePath {
            layer: self.label.clone(),
            path: String::from_utf8_lossy(raw_path).into_owned(),
            reason: reason.to_owned(),
        }
    }

    pub(crate) fn invalid(&self, raw_path: &[u8], reason: String) -> FlattenError {
        FlattenError::InvalidEntry {
            layer: self.label.clone(),
            path: String::from_utf8_lossy(raw_path).into_owned(),
            reason,
        }
    }

    /// Flushes the spool; the layer is complete.
    pub fn finish(self) -> Result<ParsedLayer, FlattenError> {
        let spool = self.spool.finish().map_err(|source| FlattenError::Spool {
            layer: self.label.clone(),
            dir: self.spool_dir.clone(),
            source,
        })?;
        Ok(ParsedLayer {
            label: self.label,
            entries: self.entries,
            spool,
            whiteouts: self.opts.whiteouts,
        })
    }
}

/// Whether the last component of a normalized path starts with `.wh.` (image-spec layer.md,
/// "Whiteouts").
pub(crate) fn is_whiteout(path: &[u8]) -> bool {
    split_last(path).1.starts_with(b".wh.")
}

#[cfg(test)]
mod tests {
    use super::PathMap;

    #[test]
    fn strip_components_follows_gnu_tar() {
        let map = PathMap::strip_components(1);
        let m = |raw: &[u8]| map.map(raw, &super::normalize(raw).unwrap());
        assert_eq!(m(b"root.x86_64/etc/passwd").unwrap(), b"etc/passwd");
        assert_eq!(
            m(b"/root.x86_64//etc").unwrap(),
            b"etc",
            "leading and doubled slashes"
        );
        assert_eq!(m(b"./etc/passwd").unwrap(), b"etc/passwd", "`.` counts");
        assert_eq!(m(b"root.x86_64/"), None, "nothing left");
        assert_eq!(m(b"root.x86_64"), None);
    }

    #[test]
    fn subdir_rebases_and_drops_the_rest() {
        let map = PathMap::subdir("/arch/rootfs/").unwrap();
        let m = |raw: &[u8]| map.map(raw, &super::normalize(raw).unwrap());
        assert_eq!(m(b"./arch/rootfs/").unwrap(), b"");
        assert_eq!(m(b"arch/rootfs/etc/os-release").unwrap(), b"etc/os-release");
        assert_eq!(
            m(b"arch/rootfsx/etc"),
            None,
            "a sibling with the same prefix"
        );
        assert_eq!(m(b"arch"), None);
        assert!(PathMap::subdir("a/../b").is_err());
    }
}
