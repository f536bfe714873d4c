//! Phase 3: serializes a [`FlatTree`] as one tar stream.
//!
//! Order: depth-first, children sorted by name bytes, so every directory precedes its contents
//! and the output is reproducible. The first name of an inode in that order carries the body;
//! its other names become hardlink entries pointing back at it. Files whose body stayed in
//! their layer are left out of the walk and follow it (`left`), layer by layer. Headers are ustar; a PAX
//! extended header is added when a field does not fit (long or non-ASCII names, big ids or
//! sizes, sub-second or negative mtimes) and for xattrs (`SCHILY.xattr.*`, binary values).

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Seek, Write};

use crate::error::{OutputError, show};
use crate::layer::EntryMeta as Meta;
use crate::path::join;
use crate::report::Reporter;
use crate::spool::BodyReader;
use crate::tree::{Data, FlatTree, InodeId, InodeKind, ROOT};

mod left;
use left::Left;

/// Largest value an 8-byte octal ustar field holds (7 digits).
const MAX_OCTAL_ID: u64 = 0o7777777;
/// Largest value a 12-byte octal ustar field holds (11 digits).
const MAX_OCTAL_SIZE: u64 = 0o77777777777;

/// Entry and byte counts of a written tar stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Tar entries written (PAX extension headers not counted).
    pub entries: u64,
    /// Uncompressed tar bytes.
    pub tar_bytes: u64,
    /// Bytes written to the destination (compressed size; equal to `tar_bytes` for plain tar).
    pub output_bytes: u64,
}

/// Writes the tree as a tar stream into `out` (end-of-archive blocks included). With
/// `streamed`, `out` holds the `before` entries streamed while the layers were read (the
/// files in [`FlatTree::streamed`]), and those are not written again.
pub(crate) fn write_tree(
    tree: &FlatTree,
    out: &mut dyn TarSink,
    before: Stats,
    streamed: bool,
    reporter: &dyn Reporter,
) -> Result<Stats, OutputError> {
    let io_err = |source| OutputError::Io {
        dest: "the output".to_owned(),
        source,
    };
    let empty = HashMap::new();
    let streamed = if streamed { &tree.streamed } else { &empty };
    let links = tree.link_counts();
    // A streamed file's other names are hardlinks to the name it was streamed under.
    let mut first_name: HashMap<InodeId, Vec<u8>> = (streamed.iter())
        .map(|(&node, path)| (tree.nodes[node as usize].inode, path.clone()))
        .collect();
    let mut left = Left::default();
    let mut w = TarWriter {
        out,
        bytes: before.tar_bytes,
    };
    let mut entries = before.entries;
    let cancel = || reporter.cancelled();
    // Children are pushed in reverse so they pop in name order.
    let mut stack: Vec<(Vec<u8>, u32)> = vec![(Vec::new(), ROOT)];
    while let Some((path, node_id)) = stack.pop() {
        if reporter.cancelled() {
            return Err(OutputError::Interrupted);
        }
        let node = &tree.nodes[node_id as usize];
        let inode = &tree.inodes[node.inode as usize];
        if streamed.contains_key(&node_id) {
            continue; // a file, written already
        }
        let before = w.bytes;
        if links[node.inode as usize] > 1
            && let Some(target) = first_name.get(&node.inode)
        {
            w.header(&path, &inode.meta, Kind::Hardlink(target), 0)
                .map_err(io_err)?;
            entries += 1;
            reporter.output_progress(1, w.bytes - before);
            continue;
        }
        if left.take(tree, node.inode, &path) {
            continue;
        }
        if links[node.inode as usize] > 1 {
            first_name.insert(node.inode, path.clone());
        }
        match &inode.kind {
            InodeKind::Dir => w.header(&path, &inode.meta, Kind::Dir, 0).map_err(io_err)?,
            InodeKind::File(data) => {
                let len = tree.data_len(*data);
                w.header(&path, &inode.meta, Kind::File, len)
                    .map_err(io_err)?;
                let copied = match data {
                    Data::Spool(b) => {
                        let copied = w.out.copy_spool(
                            &tree.spools[b.spool as usize],
                            b.offset,
                            b.len,
                            &cancel,
                        );
                        w.bytes += copied.as_ref().map_or(0, |n| *n);
                        copied
                    }
                    Data::Mem(_) | Data::Layer(_) => match tree.body(*data) {
                        Ok(mut body) => copy_body(&mut body, &mut w, &cancel),
                        Err(e) => Err(CopyError::Read(e)),
                    },
                }
                .map_err(|e| match e {
                    CopyError::Read(source) => OutputError::Spool {
                        path: show(&path),
                        source,
                    },
                    CopyError::Write(source) => io_err(source),
                    CopyError::Cancelled => OutputError::Interrupted,
                })?;
                if copied != len {
                    return Err(OutputError::Spool {
                        path: show(&path),
                        source: io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "spooled body is short",
                        ),
                    });
                }
                w.pad(len).map_err(io_err)?;
            }
            InodeKind::Symlink(target) => w
                .header(&path, &inode.meta, Kind::Symlink(target), 0)
                .map_err(io_err)?,
            InodeKind::Char(ma, mi) => w
                .header(&path, &inode.meta, Kind::Char(*ma, *mi), 0)
                .map_err(io_err)?,
            InodeKind::Block(ma, mi) => w
                .header(&path, &inode.meta, Kind::Block(*ma, *mi), 0)
                .map_err(io_err)?,
            InodeKind::Fifo => w
                .header(&path, &inode.meta, Kind::Fifo, 0)
                .map_err(io_err)?,
        }
        entries += 1;
        reporter.output_progress(1, w.bytes - before);
        if let Some(children) = &node.children {
            for (name, &child) in children.iter().rev() {
                stack.push((join(&path, name), child));
            }
        }
    }
    entries += left.write(tree, &mut w, reporter)?;
    w.write_all(&[0u8; 1024]).map_err(io_err)?;
    Ok(Stats {
        entries,
        tar_bytes: w.bytes,
        output_bytes: w.bytes,
    })
}

/// Writes one regular file entry, `len` bytes of `body` after its header, as the first part
/// of the stream (`stream`); `bytes` counts the tar bytes written.
/// `bytes` counts what went into `out`, also when this fails; while the entry is being
/// written, `entry_end` is where its padded body ends (`None` again once it is whole).
#[allow(clippy::too_many_arguments)]
pub(crate) fn write_file(
    out: &mut dyn TarSink,
    bytes: &mut u64,
    entry_end: &mut Option<u64>,
    path: &[u8],
    meta: &Meta,
    len: u64,
    body: &mut dyn io::Read,
    cancel: Cancel,
) -> Result<(), CopyError> {
    let mut w = TarWriter { out, bytes: *bytes };
    let written = (|| {
        w.header(path, meta, Kind::File, len)
            .map_err(CopyError::Write)?;
        *entry_end = Some(w.bytes + len.next_multiple_of(512));
        let copied = copy_body(&mut body.take(len), &mut w, cancel)?;
        if copied != len {
            return Err(CopyError::Read(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the body ended after {copied} of {len} bytes"),
            )));
        }
        w.pad(len).map_err(CopyError::Write)?;
        *entry_end = None;
        Ok(())
    })();
    *bytes = w.bytes;
    written
}

pub(crate) enum CopyError {
    Read(io::Error),
    Write(io::Error),
    /// The reporter asked to stop mid-body.
    Cancelled,
}

/// Polled between chunks of a body, so even one huge file stops promptly.
pub(crate) type Cancel<'a> = &'a dyn Fn() -> bool;

/// Where the tar stream goes. File bodies come straight from the spool files, so a sink that
/// is itself a file or pipe can let the kernel copy them (`copy_file_range`, `splice`).
pub(crate) trait TarSink: Write {
    fn copy_spool(
        &mut self,
        spool: &File,
        offset: u64,
        len: u64,
        cancel: Cancel,
    ) -> Result<u64, CopyError> {
        copy_body(&mut BodyReader::new(spool, offset, len), self, cancel)
    }
}

/// A sink for any writer (compressors, in-memory buffers): bodies are copied in user space.
pub(crate) struct Plain<W>(pub W);

impl<W: Write> Write for Plain<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl<W: Write> TarSink for Plain<W> {}

/// Copies a spooled body with `std::io::copy` straight into `dst`, which uses in-kernel copies
/// when `dst` is a file or standard output (Linux); the caller flushed what it buffered.
pub(crate) fn copy_spool_direct<W: Write>(
    spool: &File,
    offset: u64,
    len: u64,
    dst: &mut W,
    cancel: Cancel,
) -> Result<u64, CopyError> {
    let mut src = spool;
    src.seek(io::SeekFrom::Start(offset))
        .map_err(CopyError::Read)?;
    // In-kernel copies are fast; large slices keep them so while still checking `cancel`.
    const SLICE: u64 = 64 << 20;
    let mut copied = 0;
    while copied < len {
        if cancel() {
            return Err(CopyError::Cancelled);
        }
        // Errors of the combined copy are blamed on the destination: it is the side that
        // fails in practice (disk full, closed pipe).
        let n = io::copy(&mut src.take(SLICE.min(len - copied)), dst).map_err(CopyError::Write)?;
        if n == 0 {
            break;
        }
        copied += n;
    }
    Ok(copied)
}

pub(crate) fn copy_body(
    from: &mut dyn io::Read,
    to: &mut (impl Write + ?Sized),
    cancel: Cancel,
) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; 128 * 1024];
    let mut total = 0u64;
    loop {
        if cancel() {
            return Err(CopyError::Cancelled);
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

enum Kind<'a> {
    Dir,
    File,
    Symlink(&'a [u8]),
    Hardlink(&'a [u8]),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

struct TarWriter<'a> {
    out: &'a mut dyn TarSink,
    bytes: u64,
}

impl Write for TarWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl TarWriter<'_> {
    fn pad(&mut self, len: u64) -> io::Result<()> {
        let rem = (len % 512) as usize;
        if rem != 0 {
            self.write_all(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    /// Writes a PAX header if needed, then the ustar header, for the tree path `path`.
    fn header(&mut self, path: &[u8], meta: &Meta, kind: Kind<'_>, size: u64) -> io::Result<()> {
        // Directories get a trailing slash; the root is `./`.
        let mut name = if path.is_empty() {
            b".".to_vec()
        } else {
            path.to_vec()
        };
        if matches!(kind, Kind::Dir) {
            name.push(b'/');
        }
        let (type_byte, link) = match kind {
            Kind::Dir => (b'5', None),
            Kind::File => (b'0', None),
            Kind::Symlink(t) => (b'2', Some(t)),
            Kind::Hardlink(t) => (b'1', Some(t)),
            Kind::Char(..) => (b'3', None),
            Kind::Block(..) => (b'4', None),
            Kind::Fifo => (b'6', None),
        };

        let mut pax = Vec::new();
        let mut binary = false;
        // Raw bytes in the ustar field when they fit: no reader converts those.
        let fits = |v: &[u8], max: usize| v.len() <= max;
        if !fits(&name, 100) {
            binary |= std::str::from_utf8(&name).is_err();
            pax_record(&mut pax, b"path", &name);
        }
        if let Some(l) = link
            && !fits(l, 100)
        {
            binary |= std::str::from_utf8(l).is_err();
            pax_record(&mut pax, b"linkpath", l);
        }
        if meta.uid > MAX_OCTAL_ID {
            pax_record(&mut pax, b"uid", meta.uid.to_string().as_bytes());
        }
        if meta.gid > MAX_OCTAL_ID {
            pax_record(&mut pax, b"gid", meta.gid.to_string().as_bytes());
        }
        if size > MAX_OCTAL_SIZE {
            pax_record(&mut pax, b"size", size.to_string().as_bytes());
        }
        if meta.mtime < 0 || meta.mtime as u64 > MAX_OCTAL_SIZE || meta.mtime_nsec != 0 {
            pax_record(
                &mut pax,
                b"mtime",
                pax_time(meta.mtime, meta.mtime_nsec).as_bytes(),
            );
        }
        for (k, v) in &meta.xattrs {
            let mut key = b"SCHILY.xattr.".to_vec();
            key.extend_from_slice(k);
            pax_record(&mut pax, &key, v);
        }
        if binary {
            // POSIX: names are raw bytes, not UTF-8 (what GNU tar and bsdtar write too).
            let mut with_charset = Vec::new();
            pax_record(&mut with_charset, b"hdrcharset", b"BINARY");
            with_charset.extend_from_slice(&pax);
            pax = with_charset;
        }
        if !pax.is_empty() {
            let mut pax_name = b"PaxHeaders/".to_vec();
            pax_name.extend_from_slice(&name[..name.len().min(80)]);
            let h = ustar(
                &pax_name,
                None,
                b'x',
                &Meta {
                    mode: 0o644,
                    ..Meta::default()
                },
                pax.len() as u64,
                (0, 0),
            );
            self.write_all(&h)?;
            self.write_all(&pax)?;
            self.pad(pax.len() as u64)?;
        }
        let dev = match kind {
            Kind::Char(a, b) | Kind::Block(a, b) => (a, b),
            _ => (0, 0),
        };
        let h = ustar(&name, link, type_byte, meta, size, dev);
        self.write_all(&h)
    }
}

/// One ustar header block. Fields that do not fit are truncated (a PAX record carries them).
fn ustar(
    name: &[u8],
    link: Option<&[u8]>,
    type_byte: u8,
    meta: &Meta,
    size: u64,
    dev: (u32, u32),
) -> [u8; 512] {
    let mut h = [0u8; 512];
    put(&mut h[0..100], name);
    octal(&mut h[100..108], u64::from(meta.mode & 0o7777));
    octal(&mut h[108..116], meta.uid.min(MAX_OCTAL_ID));
    octal(&mut h[116..124], meta.gid.min(MAX_OCTAL_ID));
    octal(&mut h[124..136], size.min(MAX_OCTAL_SIZE));
    octal(
        &mut h[136..148],
        u64::try_from(meta.mtime).unwrap_or(0).min(MAX_OCTAL_SIZE),
    );
    h[156] = type_byte;
    if let Some(l) = link {
        put(&mut h[157..257], l);
    }
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], u64::from(dev.0).min(MAX_OCTAL_ID));
    octal(&mut h[337..345], u64::from(dev.1).min(MAX_OCTAL_ID));
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[155] = b' ';
    h
}

fn put(field: &mut [u8], value: &[u8]) {
    let n = value.len().min(field.len());
    field[..n].copy_from_slice(&value[..n]);
}

/// Zero-padded octal, NUL-terminated, filling the field.
fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// Appends one `LEN KEY=VALUE\n` record; LEN counts itself.
fn pax_record(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    let rest = key.len() + value.len() + 3; // space, '=', newline
    let mut len = rest + 1;
    while len.to_string().len() + rest != len {
        len = len.to_string().len() + rest;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key);
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn pax_time(secs: i64, nsec: u32) -> String {
    if nsec == 0 {
        return secs.to_string();
    }
    // Negative times with a fraction: -1.5 is stored as secs=-2, nsec=500_000_000.
    let (sign, whole, frac) = if secs < 0 {
        ("-", -(secs + 1), 1_000_000_000 - nsec)
    } else {
        ("", secs, nsec)
    };
    format!("{sign}{whole}.{frac:09}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        let mut out = Vec::new();
        pax_record(&mut out, b"path", b"a");
        assert_eq!(out, b"9 path=a\n");
        let mut out = Vec::new();
        pax_record(&mut out, b"path", &[b'x'; 93]);
        assert_eq!(out.len(), 103);
        assert!(out.starts_with(b"103 path="));
    }

    #[test]
    fn pax_times_render_fractions_and_negatives() {
        assert_eq!(pax_time(5, 0), "5");
        assert_eq!(pax_time(5, 1), "5.000000001");
        assert_eq!(pax_time(-2, 500_000_000), "-1.500000000");
    }

    #[test]
    fn ustar_header_checksum_is_valid() {
        let h = ustar(
            b"etc/passwd",
            None,
            b'0',
            &Meta {
                mode: 0o644,
                ..Meta::default()
            },
            10,
            (0, 0),
        );
        let parsed = tar::Header::from_byte_slice(&h);
        assert_eq!(parsed.path_bytes().as_ref(), b"etc/passwd");
        assert_eq!(parsed.size().unwrap(), 10);
        let sum: u32 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        assert_eq!(parsed.cksum().unwrap(), sum);
    }
}
