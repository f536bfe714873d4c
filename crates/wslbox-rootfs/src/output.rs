//! Output formats and destinations. A file destination is written as an
//! [`AtomicFile`](wslbox_fs::AtomicFile), put in place only when everything succeeded: a failed
//! export leaves no partial rootfs behind, and on Linux neither does a killed one.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::OutputError;
use crate::pgzip::ParGzWriter;
use crate::report::Reporter;
use crate::tree::FlatTree;
pub use crate::write::Stats;
use crate::write::{Cancel, CopyError, Plain, TarSink, copy_spool_direct};

/// gzip level of `.tar.gz`/`.wsl` outputs (pigz's default).
const GZIP_LEVEL: u32 = 6;
/// xz preset of `.tar.xz` outputs (xz's default).
const XZ_PRESET: u32 = 6;

/// The container format of the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OutputFormat {
    Tar,
    /// gzip-compressed tar, with all cores (independent gzip members).
    TarGz,
    /// xz-compressed tar, with liblzma's multithreaded encoder.
    TarXz,
    /// A `.wsl` file: a gzip-compressed tar (WSL-ready customization is added by the caller
    /// through overlays).
    Wsl,
}

impl OutputFormat {
    /// The format an output file name implies: `.tar`, `.tar.gz`/`.tgz`, `.tar.xz`/`.txz`,
    /// `.wsl`. `None` for anything else.
    pub fn from_path(path: &Path) -> Option<Self> {
        let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
        [
            (".tar.gz", Self::TarGz),
            (".tgz", Self::TarGz),
            (".tar.xz", Self::TarXz),
            (".txz", Self::TarXz),
        ]
        .into_iter()
        .chain([(".tar", Self::Tar), (".wsl", Self::Wsl)])
        .find(|(ext, _)| name.ends_with(ext))
        .map(|(_, f)| f)
    }

    /// Parses a `--format` value: `tar`, `tar.gz`, `tar.xz` or `wsl`.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "tar" => Some(Self::Tar),
            "tar.gz" | "tgz" | "gz" => Some(Self::TarGz),
            "tar.xz" | "txz" | "xz" => Some(Self::TarXz),
            "wsl" => Some(Self::Wsl),
            _ => None,
        }
    }
}

/// Where the output goes.
pub enum OutputDest {
    /// A file, replaced atomically.
    File(PathBuf),
    /// Standard output (`-o -`).
    Stdout,
    /// Any writer (flushed, not closed).
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for OutputDest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(p) => write!(f, "File({})", p.display()),
            Self::Stdout => f.write_str("Stdout"),
            Self::Writer(_) => f.write_str("Writer(..)"),
        }
    }
}

/// Writes `tree` to `dest` in `format`.
pub fn write_output(
    tree: &FlatTree,
    dest: OutputDest,
    format: OutputFormat,
    reporter: &dyn Reporter,
) -> Result<Stats, OutputError> {
    Output::open(dest, format)?.finish(tree, reporter)
}

/// Writes the uncompressed tar stream of `tree` into `out`.
pub fn write_tar(
    tree: &FlatTree,
    out: &mut dyn Write,
    reporter: &dyn Reporter,
) -> Result<Stats, OutputError> {
    crate::write::write_tree(tree, &mut Plain(out), Stats::default(), false, reporter)
}

/// An output being written: opened before the layers are read, so that
/// [`crate::flatten_into`] can stream file bodies into it while their layer arrives, then
/// completed with the rest of the tree by [`Output::finish`]. Dropped unfinished, a file
/// destination leaves nothing behind, and a stream that received anything ends in an entry
/// whose body never comes, so that no tar reader takes it for a complete archive (bsdtar, which
/// `wsl --import` runs, accepts an archive cut off between entries without a word).
pub struct Output {
    /// The destination, as messages name it.
    dest: String,
    format: OutputFormat,
    /// `None` once finished.
    sink: Option<Sink>,
    /// Whether anything may have been written.
    touched: bool,
    /// Where the padded body of the entry being streamed ends, while it is incomplete.
    open_entry: Option<u64>,
    /// A file destination, put in place by `finish`.
    file: Option<wslbox_fs::AtomicFile>,
    /// The entries and tar bytes written so far.
    stats: Stats,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Output")
            .field("dest", &self.dest)
            .field("format", &self.format)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Output {
    /// Opens `dest` for a tar stream in `format`: a file is created unnamed, or as a hidden
    /// partial beside it.
    pub fn open(dest: OutputDest, format: OutputFormat) -> Result<Output, OutputError> {
        let (dest_name, target, file) = match dest {
            OutputDest::File(path) => {
                let err = |source| OutputError::Io {
                    dest: path.display().to_string(),
                    source,
                };
                let tmp = wslbox_fs::AtomicFile::create(&path).map_err(err)?;
                let handle = tmp.file().try_clone().map_err(err)?;
                (path.display().to_string(), Target::File(handle), Some(tmp))
            }
            OutputDest::Stdout => (
                "standard output".to_owned(),
                Target::Stdout(io::stdout()),
                None,
            ),
            OutputDest::Writer(w) => ("the output stream".to_owned(), Target::Writer(w), None),
        };
        let sink = Sink::new(target, format).map_err(|source| OutputError::Io {
            dest: dest_name.clone(),
            source,
        })?;
        Ok(Output {
            dest: dest_name,
            format,
            sink: Some(sink),
            touched: false,
            open_entry: None,
            file,
            stats: Stats::default(),
        })
    }

    /// Entries written so far, before [`Output::finish`].
    pub fn written(&self) -> u64 {
        self.stats.entries
    }

    /// Starts over, for a flatten that has to read its layers again: a file is emptied; a
    /// stream that already received entries cannot be taken back (`false`).
    pub fn rewind(&mut self) -> bool {
        if self.stats.entries == 0 {
            return true;
        }
        let Some(tmp) = &self.file else {
            return false;
        };
        // The old encoder goes first: dropping it flushes what it buffered.
        drop(self.sink.take());
        let fresh = tmp.file().try_clone().and_then(|f| {
            f.set_len(0)?;
            let mut f = f;
            io::Seek::seek(&mut f, io::SeekFrom::Start(0))?;
            Sink::new(Target::File(f), self.format)
        });
        match fresh {
            Ok(sink) => {
                self.sink = Some(sink);
                self.stats = Stats::default();
                true
            }
            Err(_) => false,
        }
    }

    /// Writes one regular file, `len` bytes of `body`, at the tree path `path`. A body that
    /// fails or ends early is [`StreamError::Read`].
    pub(crate) fn stream_file(
        &mut self,
        path: &[u8],
        meta: &crate::layer::EntryMeta,
        len: u64,
        body: &mut dyn io::Read,
        reporter: &dyn Reporter,
    ) -> Result<(), StreamError> {
        let before = self.stats.tar_bytes;
        let cancel = || reporter.cancelled();
        let Some(sink) = self.sink.as_mut() else {
            return Err(StreamError::Output(OutputError::Io {
                dest: self.dest.clone(),
                source: io::Error::other("the output could not start over"),
            }));
        };
        self.touched = true;
        crate::write::write_file(
            sink,
            &mut self.stats.tar_bytes,
            &mut self.open_entry,
            path,
            meta,
            len,
            body,
            &cancel,
        )
        .map_err(|e| match e {
            CopyError::Read(source) => StreamError::Read(source),
            CopyError::Write(source) => StreamError::Output(OutputError::Io {
                dest: self.dest.clone(),
                source,
            }),
            CopyError::Cancelled => StreamError::Output(OutputError::Interrupted),
        })?;
        self.stats.entries += 1;
        reporter.output_progress(1, self.stats.tar_bytes - before);
        Ok(())
    }

    /// Writes the rest of `tree` after what was streamed, ends the stream and, for a file,
    /// renames it into place. When a streamed file did not survive (a path its layer names
    /// twice), a file is written again from the start, and a stream fails
    /// ([`OutputError::Streamed`]).
    pub fn finish(
        mut self,
        tree: &FlatTree,
        reporter: &dyn Reporter,
    ) -> Result<Stats, OutputError> {
        if let Some(path) = &tree.stream_conflict
            && self.stats.entries > 0
            && !self.rewind()
        {
            return Err(OutputError::Streamed {
                path: crate::error::show(path),
            });
        }
        // Nothing streamed into this output (or it started over): the tree is written whole.
        let streamed = self.stats.entries > 0;
        let dest = self.dest.clone();
        let err = |source| OutputError::Io {
            dest: dest.clone(),
            source,
        };
        let Some(mut sink) = self.sink.take() else {
            return Err(err(io::Error::other("the output could not start over")));
        };
        self.touched = true;
        let written = crate::write::write_tree(tree, &mut sink, self.stats, streamed, reporter);
        let mut stats = match written {
            Ok(stats) => stats,
            Err(e) => {
                self.sink = Some(sink); // for `drop` to end it as broken
                return Err(match e {
                    OutputError::Io { source, .. } => err(source),
                    other => other,
                });
            }
        };
        stats.output_bytes = sink.finish().map_err(err)?.unwrap_or(stats.tar_bytes);
        if let Some(tmp) = self.file.take() {
            tmp.commit().map_err(err)?;
        }
        Ok(stats)
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        if self.file.is_some() || !self.touched {
            return; // the temp file goes with it
        }
        if let Some(mut sink) = self.sink.take() {
            let _ = sink
                .write_all(&broken_end(self.stats.tar_bytes, self.open_entry))
                .and_then(|()| sink.finish().map(drop));
        }
    }
}

/// What ends a stream broken off at byte `at`, inside the entry whose padded body ends at
/// `open_entry` if any, so that no tar reader takes it for a complete archive. A body cut off
/// in its last block would be completed by a header written there, and GNU tar accepts a
/// stream ending in a partial block; so the cut is filled up to the next block: when the body
/// goes on past it, whole blocks of it are missing, else the broken entry follows it.
fn broken_end(at: u64, open_entry: Option<u64>) -> Vec<u8> {
    let mut end = Vec::new();
    if let Some(entry_end) = open_entry {
        let block_end = at.next_multiple_of(512);
        end.resize((block_end.min(entry_end) - at.min(entry_end)) as usize, 0);
        if block_end < entry_end {
            return end;
        }
    }
    end.extend_from_slice(broken_entry().as_bytes());
    end
}

/// The header of a file whose body never follows: a tar reader fails on it ("truncated").
fn broken_entry() -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header
        .set_path("wslbox-export-failed-see-its-error-message")
        .expect("a short ASCII name");
    header.set_entry_type(tar::EntryType::Regular);
    header.set_mode(0o600);
    header.set_size(512);
    header.set_cksum();
    header
}

/// Why streaming a file into the output failed.
pub(crate) enum StreamError {
    /// Reading the body from its layer.
    Read(io::Error),
    Output(OutputError),
}

/// Where the bytes go.
enum Target {
    File(std::fs::File),
    Stdout(io::Stdout),
    Writer(Box<dyn Write + Send>),
}

impl Write for Target {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::File(f) => f.write(buf),
            Self::Stdout(s) => s.write(buf),
            Self::Writer(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::File(f) => f.flush(),
            Self::Stdout(s) => s.flush(),
            Self::Writer(w) => w.flush(),
        }
    }
}

/// The tar stream's encoder over its target.
enum Sink {
    /// Plain tar into a file or standard output: spooled bodies are copied in the kernel.
    Direct(BufWriter<Target>),
    /// Plain tar into any writer.
    Plain(Plain<BufWriter<Target>>),
    /// gzip members compressed on all cores.
    Gz(ParGzWriter<Counting<Target>>),
    /// xz, liblzma's multithreaded encoder.
    Xz(Box<liblzma::write::XzEncoder<BufWriter<Counting<Target>>>>),
}

impl Sink {
    fn new(target: Target, format: OutputFormat) -> io::Result<Sink> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let counted = |inner| Counting { inner, bytes: 0 };
        Ok(match format {
            OutputFormat::Tar if matches!(target, Target::Writer(_)) => {
                Sink::Plain(Plain(BufWriter::with_capacity(1 << 20, target)))
            }
            OutputFormat::Tar => Sink::Direct(BufWriter::with_capacity(1 << 20, target)),
            OutputFormat::TarGz | OutputFormat::Wsl => {
                Sink::Gz(ParGzWriter::new(counted(target), threads, GZIP_LEVEL))
            }
            OutputFormat::TarXz => {
                let stream = liblzma::stream::MtStreamBuilder::new()
                    .threads(u32::try_from(threads).unwrap_or(1))
                    .preset(XZ_PRESET)
                    .check(liblzma::stream::Check::Crc64)
                    .encoder()
                    .map_err(io::Error::other)?;
                Sink::Xz(Box::new(liblzma::write::XzEncoder::new_stream(
                    BufWriter::with_capacity(1 << 20, counted(target)),
                    stream,
                )))
            }
        })
    }

    /// Ends the stream; returns the compressed bytes written, if it compresses.
    fn finish(self) -> io::Result<Option<u64>> {
        match self {
            Sink::Direct(mut d) => {
                d.flush()?;
                Ok(None)
            }
            Sink::Plain(mut p) => {
                p.flush()?;
                Ok(None)
            }
            Sink::Gz(gz) => {
                let mut counted = gz.finish()?;
                counted.flush()?;
                Ok(Some(counted.bytes))
            }
            Sink::Xz(xz) => {
                let mut buf = xz.finish()?;
                buf.flush()?;
                let counted = buf.into_inner().map_err(|e| e.into_error())?;
                Ok(Some(counted.bytes))
            }
        }
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Direct(d) => d.write(buf),
            Sink::Plain(p) => p.write(buf),
            Sink::Gz(g) => g.write(buf),
            Sink::Xz(x) => x.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Direct(d) => d.flush(),
            Sink::Plain(p) => p.flush(),
            Sink::Gz(g) => g.flush(),
            Sink::Xz(x) => x.flush(),
        }
    }
}

impl TarSink for Sink {
    fn copy_spool(
        &mut self,
        spool: &std::fs::File,
        offset: u64,
        len: u64,
        cancel: Cancel,
    ) -> Result<u64, CopyError> {
        match self {
            Sink::Direct(buf) => {
                buf.flush().map_err(CopyError::Write)?;
                match buf.get_mut() {
                    Target::File(f) => copy_spool_direct(spool, offset, len, f, cancel),
                    Target::Stdout(s) => copy_spool_direct(spool, offset, len, s, cancel),
                    Target::Writer(w) => copy_spool_direct(spool, offset, len, w, cancel),
                }
            }
            other => crate::write::copy_body(
                &mut crate::spool::BodyReader::new(spool, offset, len),
                other,
                cancel,
            ),
        }
    }
}

struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_follows_the_extension() {
        assert_eq!(
            OutputFormat::from_path(Path::new("a/rootfs.tar")),
            Some(OutputFormat::Tar)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("rootfs.TAR.GZ")),
            Some(OutputFormat::TarGz)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("rootfs.tgz")),
            Some(OutputFormat::TarGz)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("rootfs.tar.xz")),
            Some(OutputFormat::TarXz)
        );
        assert_eq!(
            OutputFormat::from_path(Path::new("debian.wsl")),
            Some(OutputFormat::Wsl)
        );
        assert_eq!(OutputFormat::from_path(Path::new("rootfs.zip")), None);
        assert_eq!(OutputFormat::from_name("tar.xz"), Some(OutputFormat::TarXz));
    }
}
