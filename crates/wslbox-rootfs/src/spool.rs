//! Spool files: one unnamed temp file per layer holding its regular-file bodies back to back,
//! so bodies live on disk, never in RAM. Read back with positional reads, so a shared
//! reference is enough and no seek position is shared.

use std::fs::File;
use std::io::{self, Read, Write};

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

/// Where a regular file's body lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyRef {
    pub spool: u32,
    pub offset: u64,
    pub len: u64,
}

/// A [`Read`] over one body in a spool file.
pub(crate) struct BodyReader<'a> {
    file: &'a File,
    offset: u64,
    remaining: u64,
}

impl<'a> BodyReader<'a> {
    pub fn new(file: &'a File, offset: u64, len: u64) -> Self {
        Self {
            file,
            offset,
            remaining: len,
        }
    }
}

impl Read for BodyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = read_at(self.file, &mut buf[..want], self.offset)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "spool file is shorter than recorded",
            ));
        }
        self.offset += n as u64;
        self.remaining -= n as u64;
        Ok(n)
    }
}

pub(crate) enum AppendError {
    Read(io::Error),
    Write(io::Error),
}

/// Appends bodies to a spool file and remembers the write position.
pub(crate) struct SpoolWriter {
    out: io::BufWriter<File>,
    pos: u64,
}

impl SpoolWriter {
    pub fn new(file: File) -> Self {
        Self {
            out: io::BufWriter::with_capacity(256 * 1024, file),
            pos: 0,
        }
    }

    /// Copies `body` to the spool; returns its offset and length. Errors say which side failed.
    pub fn append(&mut self, body: &mut dyn Read) -> Result<(u64, u64), AppendError> {
        let start = self.pos;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AppendError::Read(e)),
            };
            self.out.write_all(&buf[..n]).map_err(AppendError::Write)?;
            self.pos += n as u64;
        }
        Ok((start, self.pos - start))
    }

    pub fn finish(self) -> io::Result<File> {
        let mut out = self.out;
        out.flush()?;
        out.into_inner().map_err(|e| e.into_error())
    }
}
