//! Phase 1: read one tar stream — verify (the opener does), decompress, parse the tar — into a
//! [`ParsedLayer`] through a [`LayerBuilder`], with regular-file bodies copied to a spool file.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use tar::EntryType;
use wslbox_image::{BlobOpener, Compression, LayerDescriptor};

use crate::error::FlattenError;
use crate::layer::{EntryData, EntryMeta as Meta, LayerBuilder, LayerOptions, ParsedLayer};
use crate::report::Reporter;
use crate::sparse::SparsePax;

/// xattrs umoci never sets on extraction (host-specific), so neither do we.
const IGNORED_XATTRS: &[&[u8]] = &[b"security.selinux", b"system.nfs4_acl"];

/// Reads image layer `index` completely. Returns early (with an error) once `cancel` is set.
/// With a `budget`, the layer is to be read again for the output, so only small bodies are
/// spooled, up to that many bytes (see [`LayerBuilder::rereadable`]).
pub(crate) fn read_layer(
    index: usize,
    layer: &LayerDescriptor,
    opener: &dyn BlobOpener,
    spool_dir: &Path,
    budget: Option<u64>,
    reporter: &dyn Reporter,
    cancel: &AtomicBool,
) -> Result<ParsedLayer, FlattenError> {
    let label = format!("layer {}", layer.digest);
    reporter.layer_started(index, layer);
    let raw = opener.open(layer).map_err(|source| FlattenError::Read {
        layer: label.clone(),
        source,
    })?;
    let mut builder = LayerBuilder::new(label, spool_dir, LayerOptions::image_layer())?;
    if let Some(budget) = budget {
        builder = builder.rereadable(budget);
    }
    let progress = |bytes| reporter.layer_progress(index, bytes);
    let parsed = read_tar(raw, layer.compression, builder, &progress, cancel)?;
    reporter.layer_finished(index, parsed.len() as u64);
    Ok(parsed)
}

/// Reads a (possibly compressed) tar stream into `builder`'s layer: the stream is read on its
/// own thread (so a digest or checksum check in `raw` runs beside decompression and parsing),
/// `progress` hears how many raw bytes went by. After the tar end marker the rest of the
/// stream is read too, so the compression trailer and the verifying reader's check at EOF run.
pub fn read_tar(
    raw: Box<dyn Read + Send>,
    compression: Compression,
    mut builder: LayerBuilder,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<ParsedLayer, FlattenError> {
    read_tar_into(raw, compression, &mut builder, progress, cancel)?;
    builder.finish()
}

/// Where [`read_tar_into`] puts a layer's entries: a [`LayerBuilder`], or one that also
/// streams bodies into the output (`stream`).
pub(crate) trait Entries {
    fn builder(&self) -> &LayerBuilder;
    fn builder_mut(&mut self) -> &mut LayerBuilder;
    /// A regular file whose header says it has `len` bytes.
    fn file(
        &mut self,
        raw_path: &[u8],
        meta: Meta,
        len: u64,
        body: &mut dyn Read,
    ) -> Result<(), FlattenError> {
        self.builder_mut().add_body(raw_path, meta, len, body)
    }
}

impl Entries for LayerBuilder {
    fn builder(&self) -> &LayerBuilder {
        self
    }
    fn builder_mut(&mut self) -> &mut LayerBuilder {
        self
    }
}

/// [`read_tar`] into any [`Entries`].
pub(crate) fn read_tar_into(
    raw: Box<dyn Read + Send>,
    compression: Compression,
    builder: &mut dyn Entries,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<(), FlattenError> {
    let label = builder.builder().label().to_owned();
    let read_err = |source| FlattenError::Read {
        layer: label.clone(),
        source,
    };
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD_CHUNKS);
        scope.spawn(move || pump(raw, &tx, progress));
        let mut counted = ChannelReader::new(rx);
        let below_failed = Cell::new(false);
        let decoded = decoder(compression, &mut counted).map_err(read_err)?;
        let mut tracked = Tracked {
            inner: decoded,
            failed: &below_failed,
        };
        if let Err(e) = parse_tar(&mut tracked, builder, cancel) {
            drop(tracked);
            // A corrupt blob decodes to garbage long before its digest is checked at EOF.
            // Reading the raw rest lets a digest mismatch, the root cause, be reported
            // instead of whatever the garbage looked like.
            if !cancel.load(Ordering::Relaxed)
                && let Err(raw) = io::copy(&mut counted, &mut io::sink())
            {
                return Err(read_err(raw));
            }
            return Err(match e {
                FlattenError::Tar { layer, source } if below_failed.get() => {
                    FlattenError::Read { layer, source }
                }
                other => other,
            });
        }
        // The tar end marker may come before the end of the compressed stream; reading the
        // rest checks the compression trailer (gzip CRC) and the blob digest.
        io::copy(&mut tracked, &mut io::sink()).map_err(read_err)?;
        drop(tracked);
        io::copy(&mut counted, &mut io::sink()).map_err(read_err)?;
        Ok(())
    })
}

/// The decompressor for `compression` over `input`; every one reads concatenated streams.
pub(crate) fn decoder<'a>(
    compression: Compression,
    input: &'a mut dyn Read,
) -> io::Result<Box<dyn Read + 'a>> {
    const BUF: usize = 256 * 1024;
    Ok(match compression {
        Compression::None => Box::new(input),
        Compression::Gzip => Box::new(MultiGz::new(BufReader::with_capacity(BUF, input))),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(input)?),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(
            BufReader::with_capacity(BUF, input),
        )),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(
            BufReader::with_capacity(BUF, input),
        )),
    })
}

fn parse_tar(
    input: &mut dyn Read,
    sink: &mut dyn Entries,
    cancel: &AtomicBool,
) -> Result<(), FlattenError> {
    let label = sink.builder().label().to_owned();
    let tar_err = |source| FlattenError::Tar {
        layer: label.clone(),
        source,
    };
    let mut archive = tar::Archive::new(input);
    for (index, entry) in archive.entries().map_err(tar_err)?.enumerate() {
        if cancel.load(Ordering::Relaxed) {
            return Err(tar_err(io::Error::other("cancelled")));
        }
        sink.builder_mut().at_entry(index as u64);
        let mut entry = entry.map_err(tar_err)?;
        let raw_path = entry.path_bytes().into_owned();
        let builder = sink.builder();
        let invalid = |reason: String| builder.invalid(&raw_path, reason);
        let header = entry.header();
        let entry_type = header.entry_type();
        if entry_type.is_pax_global_extensions() {
            continue; // as Docker does: global PAX headers carry nothing per-file
        }
        // Type `\0` with a trailing slash stays a regular file: GNU tar and bsdtar would make a
        // directory of it (pre-POSIX tars), but umoci, like Go's archive/tar, does not.
        let raw = header.as_bytes();
        let num = |field: std::ops::Range<usize>, r: io::Result<u64>| {
            lenient(&raw[field], r).map_err(|e| invalid(format!("bad header field: {e}")))
        };
        let mut meta = Meta {
            mode: num(100..108, header.mode().map(u64::from))? as u32 & 0o7777,
            uid: num(108..116, header.uid())?,
            gid: num(116..124, header.gid())?,
            mtime: i64::try_from(num(136..148, header.mtime())?).unwrap_or(i64::MAX),
            mtime_nsec: 0,
            xattrs: Vec::new(),
        };
        let device = |h: &tar::Header| -> Result<(u32, u32), FlattenError> {
            let major = num(
                329..337,
                h.device_major().map(|d| u64::from(d.unwrap_or(0))),
            )?;
            let minor = num(
                337..345,
                h.device_minor().map(|d| u64::from(d.unwrap_or(0))),
            )?;
            let fit =
                |d: u64| u32::try_from(d).map_err(|_| invalid("device number too big".into()));
            Ok((fit(major)?, fit(minor)?))
        };
        let link = entry
            .link_name_bytes()
            .map(|l| l.into_owned())
            .unwrap_or_default();
        let data = match entry_type {
            EntryType::Regular | EntryType::GNUSparse => None,
            EntryType::Directory => Some(EntryData::Dir),
            EntryType::Symlink => Some(EntryData::Symlink(link)),
            EntryType::Link => Some(EntryData::Hardlink(link)),
            EntryType::Char => {
                let (ma, mi) = device(header)?;
                Some(EntryData::Char(ma, mi))
            }
            EntryType::Block => {
                let (ma, mi) = device(header)?;
                Some(EntryData::Block(ma, mi))
            }
            EntryType::Fifo => Some(EntryData::Fifo),
            other => {
                return Err(invalid(format!(
                    "unsupported tar entry type {:?}",
                    other.as_byte() as char
                )));
            }
        };
        let mut sparse = SparsePax::default();
        if let Some(exts) = entry.pax_extensions().map_err(tar_err)? {
            for ext in exts {
                let ext = ext.map_err(tar_err)?;
                let key = ext.key_bytes();
                if sparse.record(key, ext.value_bytes()).map_err(&invalid)? {
                    continue;
                }
                if key == b"mtime" {
                    let (secs, nsec) = parse_pax_time(ext.value_bytes())
                        .ok_or_else(|| invalid("bad PAX mtime".to_owned()))?;
                    meta.mtime = secs;
                    meta.mtime_nsec = nsec;
                } else if let Some(name) = key.strip_prefix(b"SCHILY.xattr.")
                    && !IGNORED_XATTRS.contains(&name)
                {
                    meta.xattrs.retain(|(n, _)| n != name);
                    // An empty PAX value deletes the record (POSIX pax "extended header"
                    // semantics); umoci sets no xattr for it either.
                    if !ext.value_bytes().is_empty() {
                        meta.xattrs
                            .push((name.to_vec(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        match data {
            Some(data) => sink.builder_mut().add(&raw_path, data, meta)?,
            // A PAX sparse file is stored under a made-up name; its real one is a record.
            None if sparse.is_sparse() => {
                let name = sparse.name.clone().unwrap_or(raw_path.clone());
                let segments = sparse.segments(&mut entry).map_err(&invalid)?;
                let size = sparse.real_size.unwrap_or(0);
                sink.builder_mut().add_file(&name, meta, |spool| {
                    spool.append_sparse(&mut entry, &segments, size)
                })?;
            }
            None => {
                let len = entry.size();
                sink.file(&raw_path, meta, len, &mut entry)?;
            }
        }
    }
    Ok(())
}

/// A numeric header field that is empty (only NULs and spaces) reads as 0, as in Go's
/// archive/tar and therefore umoci; some tar writers leave unused fields blank.
fn lenient(raw: &[u8], parsed: io::Result<u64>) -> io::Result<u64> {
    match parsed {
        Err(_) if raw.iter().all(|&b| b == 0 || b == b' ') => Ok(0),
        other => other,
    }
}

/// Parses a PAX time (`1700000000.123456789`, possibly negative) into seconds and nanoseconds.
fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let secs: i64 = int.parse().ok()?;
    let mut nsec: u32 = 0;
    for (i, c) in frac
        .chars()
        .chain(std::iter::repeat('0'))
        .take(9)
        .enumerate()
    {
        let d = c.to_digit(10)?;
        let _ = i;
        nsec = nsec * 10 + d;
    }
    if neg {
        // -1.5 means 1.5 seconds before the epoch: -2 s + 0.5 s.
        if nsec == 0 {
            Some((-secs, 0))
        } else {
            Some((-secs - 1, 1_000_000_000 - nsec))
        }
    } else {
        Some((secs, nsec))
    }
}

/// Chunks of this size travel from the reading thread to the parsing thread...
const READ_AHEAD_CHUNK: usize = 1 << 20;
/// ...and at most this many wait in between.
pub(crate) const READ_AHEAD_CHUNKS: usize = 4;

/// Reads the blob into chunks for [`ChannelReader`], reporting compressed bytes. Stops when
/// the stream ends or fails, or when the parser hangs up.
pub(crate) fn pump(
    mut raw: Box<dyn Read + Send>,
    tx: &mpsc::SyncSender<io::Result<Vec<u8>>>,
    progress: &(dyn Fn(u64) + Sync),
) {
    loop {
        let mut chunk = vec![0u8; READ_AHEAD_CHUNK];
        let mut filled = 0;
        let result = loop {
            match raw.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == chunk.len() {
                        break Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => break Err(e),
            }
        };
        progress(filled as u64);
        chunk.truncate(filled);
        let done = filled == 0 || result.is_err();
        if filled > 0 && tx.send(Ok(chunk)).is_err() {
            return;
        }
        if let Err(e) = result {
            let _ = tx.send(Err(e));
        }
        if done {
            return;
        }
    }
}

/// The parsing side of [`pump`]: end of stream when the sender is gone.
pub(crate) struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl ChannelReader {
    pub fn new(rx: mpsc::Receiver<io::Result<Vec<u8>>>) -> Self {
        Self {
            rx,
            chunk: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk?;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// Remembers whether the stream below the tar parser failed, to tell corrupt blobs from
/// malformed tars in errors.
struct Tracked<'a, R> {
    inner: R,
    failed: &'a Cell<bool>,
}

impl<R: Read> Read for Tracked<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|_| self.failed.set(true))
    }
}

/// A gzip decoder that reads concatenated members (as Go's multistream reader does, and as
/// our own parallel gzip output is) and stops quietly at anything after the last member that
/// is not a gzip header: Docker tolerates such trailing bytes (often NUL padding).
struct MultiGz<R: BufRead> {
    member: Option<flate2::bufread::GzDecoder<R>>,
}

impl<R: BufRead> MultiGz<R> {
    fn new(inner: R) -> Self {
        Self {
            member: Some(flate2::bufread::GzDecoder::new(inner)),
        }
    }
}

impl<R: BufRead> Read for MultiGz<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Some(member) = self.member.as_mut() else {
                return Ok(0);
            };
            let n = member.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let mut inner = self
                .member
                .take()
                .map(|m| m.into_inner())
                .expect("member present");
            let next = inner.fill_buf()?;
            if next.starts_with(&[0x1f, 0x8b]) {
                self.member = Some(flate2::bufread::GzDecoder::new(inner));
            } else {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_times_parse_with_fractions_and_signs() {
        assert_eq!(parse_pax_time(b"1700000000"), Some((1_700_000_000, 0)));
        assert_eq!(
            parse_pax_time(b"1700000000.5"),
            Some((1_700_000_000, 500_000_000))
        );
        assert_eq!(parse_pax_time(b"-1.5"), Some((-2, 500_000_000)));
        assert_eq!(parse_pax_time(b"x"), None);
    }

    #[test]
    fn multi_member_gzip_with_trailing_garbage_reads_all_members() {
        use std::io::Write;
        let mut data = Vec::new();
        for part in [&b"hello "[..], b"world"] {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(part).unwrap();
            data.extend(enc.finish().unwrap());
        }
        data.extend_from_slice(&[0; 1024]);
        let mut out = String::new();
        MultiGz::new(&data[..]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "hello world");
    }
}
