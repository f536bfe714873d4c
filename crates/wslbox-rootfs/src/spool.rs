//! Spool files: one unnamed temp file per layer holding its regular-file bodies back to back,
//! so bodies live on disk, never in RAM. Read back with positional reads, so a shared
//! reference is enough and no seek position is shared.

use std::fs::File;
use std::io::{self, Read, Seek, Write};

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
    buf: Vec<u8>,
}

impl SpoolWriter {
    pub fn new(file: File) -> Self {
        Self {
            out: io::BufWriter::with_capacity(256 * 1024, file),
            pos: 0,
            buf: vec![0u8; 64 * 1024],
        }
    }

    /// Copies `body` to the spool; returns its offset and length. Errors say which side failed.
    pub fn append(&mut self, body: &mut dyn Read) -> Result<(u64, u64), AppendError> {
        let start = self.pos;
        self.copy(body, u64::MAX)?;
        Ok((start, self.pos - start))
    }

    /// Expands a sparse file: `segments` (`(offset, len)`, ascending) are read from `body` in
    /// turn; the gaps between them and up to `size` become holes in the spool file.
    pub fn append_sparse(
        &mut self,
        body: &mut dyn Read,
        segments: &[(u64, u64)],
        size: u64,
    ) -> Result<(u64, u64), AppendError> {
        let start = self.pos;
        for &(offset, len) in segments {
            self.skip_to(start + offset).map_err(AppendError::Write)?;
            if self.copy(body, len)? != len {
                let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "sparse data ends early");
                return Err(AppendError::Read(eof));
            }
        }
        self.skip_to(start + size).map_err(AppendError::Write)?;
        Ok((start, size))
    }

    /// Copies up to `limit` bytes of `body`; returns how many.
    fn copy(&mut self, body: &mut dyn Read, limit: u64) -> Result<u64, AppendError> {
        let mut copied = 0u64;
        while copied < limit {
            let want = self
                .buf
                .len()
                .min(usize::try_from(limit - copied).unwrap_or(usize::MAX));
            let n = match body.read(&mut self.buf[..want]) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(AppendError::Read(e)),
            };
            self.out
                .write_all(&self.buf[..n])
                .map_err(AppendError::Write)?;
            self.pos += n as u64;
            copied += n as u64;
        }
        Ok(copied)
    }

    fn skip_to(&mut self, pos: u64) -> io::Result<()> {
        if pos != self.pos {
            self.out.seek(io::SeekFrom::Start(pos))?;
            self.pos = pos;
        }
        Ok(())
    }

    pub fn finish(self) -> io::Result<File> {
        let mut out = self.out;
        out.flush()?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        // A hole at the very end is not there until the file is that long.
        if file.metadata()?.len() < self.pos {
            file.set_len(self.pos)?;
        }
        Ok(file)
    }
}
