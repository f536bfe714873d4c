//! Output formats and destinations. A file destination is written to a temp file next to it
//! and renamed into place only when everything succeeded; on any error the temp file is
//! removed, so a failed export never leaves a partial rootfs behind.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::error::OutputError;
use crate::pgzip::ParGzWriter;
use crate::report::Reporter;
use crate::tree::FlatTree;
pub use crate::write::Stats;
use crate::write::{Direct, Plain};

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
    match dest {
        OutputDest::File(path) => write_file(tree, &path, format, reporter),
        OutputDest::Stdout => {
            let stdout = io::stdout().lock();
            write_compressed(tree, stdout, format, reporter, "standard output", true)
        }
        // Kernel copies cannot help an arbitrary writer; big user-space chunks do.
        OutputDest::Writer(w) => {
            write_compressed(tree, w, format, reporter, "the output stream", false)
        }
    }
}

/// Writes the uncompressed tar stream of `tree` into `out`.
pub fn write_tar(
    tree: &FlatTree,
    out: &mut dyn Write,
    reporter: &dyn Reporter,
) -> Result<Stats, OutputError> {
    crate::write::write_tree(tree, &mut Plain(out), reporter)
}

fn write_file(
    tree: &FlatTree,
    path: &Path,
    format: OutputFormat,
    reporter: &dyn Reporter,
) -> Result<Stats, OutputError> {
    let err = |source| OutputError::Io {
        dest: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .map_err(err)?;
    let stats = write_compressed(
        tree,
        tmp.as_file(),
        format,
        reporter,
        &path.display().to_string(),
        true,
    )?;
    set_readable(tmp.as_file()).map_err(err)?;
    tmp.persist(path).map_err(|e| err(e.error))?;
    Ok(stats)
}

/// Temp files are created 0600; an exported rootfs is an ordinary file.
#[cfg(unix)]
fn set_readable(file: &std::fs::File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o644))
}

#[cfg(not(unix))]
fn set_readable(_file: &std::fs::File) -> io::Result<()> {
    Ok(())
}

/// `kernel_copy`: `out` is a file or standard output, where `std::io::copy` can copy file
/// bodies from the spool in the kernel.
fn write_compressed<W: Write>(
    tree: &FlatTree,
    out: W,
    format: OutputFormat,
    reporter: &dyn Reporter,
    dest: &str,
    kernel_copy: bool,
) -> Result<Stats, OutputError> {
    let err = |source| OutputError::Io {
        dest: dest.to_owned(),
        source,
    };
    let rename = |e: OutputError| match e {
        OutputError::Io { source, .. } => err(source),
        other => other,
    };
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    if format == OutputFormat::Tar && !kernel_copy {
        let mut sink = Plain(BufWriter::with_capacity(1 << 20, out));
        let mut stats = crate::write::write_tree(tree, &mut sink, reporter).map_err(rename)?;
        sink.flush().map_err(err)?;
        stats.output_bytes = stats.tar_bytes;
        return Ok(stats);
    }
    if format == OutputFormat::Tar {
        let mut sink = Direct {
            buf: BufWriter::with_capacity(1 << 20, out),
        };
        let mut stats = crate::write::write_tree(tree, &mut sink, reporter).map_err(rename)?;
        sink.flush().map_err(err)?;
        stats.output_bytes = stats.tar_bytes;
        return Ok(stats);
    }
    let mut counted = Counting {
        inner: out,
        bytes: 0,
    };
    let mut stats = match format {
        OutputFormat::Tar => unreachable!("handled above"),
        OutputFormat::TarGz | OutputFormat::Wsl => {
            let mut gz = ParGzWriter::new(&mut counted, threads, GZIP_LEVEL);
            let stats = write_tar(tree, &mut gz, reporter).map_err(rename)?;
            gz.finish().map_err(err)?;
            stats
        }
        OutputFormat::TarXz => {
            let stream = liblzma::stream::MtStreamBuilder::new()
                .threads(u32::try_from(threads).unwrap_or(1))
                .preset(XZ_PRESET)
                .check(liblzma::stream::Check::Crc64)
                .encoder()
                .map_err(|e| err(io::Error::other(e)))?;
            let mut xz = liblzma::write::XzEncoder::new_stream(
                BufWriter::with_capacity(1 << 20, &mut counted),
                stream,
            );
            let stats = write_tar(tree, &mut xz, reporter).map_err(rename)?;
            xz.finish().map_err(err)?.flush().map_err(err)?;
            stats
        }
    };
    counted.flush().map_err(err)?;
    stats.output_bytes = counted.bytes;
    Ok(stats)
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
