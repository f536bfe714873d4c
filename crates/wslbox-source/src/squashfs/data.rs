//! File bodies: data blocks and fragments, decompressed one block at a time by backhand's
//! codecs (and lzokay's, for LZO). A file is whole blocks (compressed, stored, or holes),
//! then optionally a tail in a fragment block shared with other small files.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use backhand::compression::{CompressionAction, Compressor, DefaultCompressor};
use backhand::{BackhandError, FilesystemCompressor, Fragment, SuperBlock};

use super::image::{corrupt, from_backhand};

/// A file's `frag_index` when its tail is not in a fragment block.
pub(crate) const NO_FRAGMENT: u32 = 0xffff_ffff;
/// Set in a data block's size when the block is stored uncompressed.
const BLOCK_UNCOMPRESSED: u32 = 1 << 24;

/// backhand's compressors, plus LZO through `lzokay` (MIT; backhand's own `lzo` feature
/// depends on the GPL-2.0 `rust-lzo`) and LZMA through liblzma's `lzma_alone` decoder, the
/// format squashfs-tools' `lzma_xz_wrapper.c` writes (backhand reads no LZMA in standard
/// images).
pub(crate) struct Codecs;

pub(crate) static CODECS: Codecs = Codecs;

impl CompressionAction for Codecs {
    type Error = BackhandError;
    type Compressor = Compressor;
    type FilesystemCompressor = FilesystemCompressor;
    type SuperBlock = SuperBlock;

    /// Like backhand's decompressors, reads into `out`'s spare capacity, which the caller
    /// sizes to the largest block possible.
    fn decompress(
        &self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        compressor: Compressor,
    ) -> Result<(), BackhandError> {
        let start = out.len();
        let room = out.capacity() - start;
        match compressor {
            Compressor::Lzo => {
                out.resize(out.capacity(), 0);
                let n = lzokay::decompress::decompress(bytes, &mut out[start..])
                    .map_err(|_| BackhandError::CorruptedOrInvalidSquashfs)?;
                out.truncate(start + n);
            }
            Compressor::Lzma => {
                let stream = liblzma::stream::Stream::new_lzma_decoder(64 << 20)
                    .map_err(|_| BackhandError::CorruptedOrInvalidSquashfs)?;
                let mut decoder = liblzma::read::XzDecoder::new_stream(bytes, stream);
                // One byte more than fits tells a corrupt size from a full block.
                let n = (&mut decoder)
                    .take(room as u64 + 1)
                    .read_to_end(out)
                    .map_err(|_| BackhandError::CorruptedOrInvalidSquashfs)?;
                if n > room {
                    return Err(BackhandError::CorruptedOrInvalidSquashfs);
                }
            }
            other => DefaultCompressor.decompress(bytes, out, other)?,
        }
        Ok(())
    }

    fn compress(
        &self,
        bytes: &[u8],
        fc: FilesystemCompressor,
        block_size: u32,
    ) -> Result<Vec<u8>, BackhandError> {
        DefaultCompressor.compress(bytes, fc, block_size)
    }
}

/// Whether this build reads the compressor with superblock id `id`: every one squashfs-tools
/// 4.x writes (gzip 1, lzma 2, lzo 3, xz 4, lz4 5, zstd 6); `Err` names another.
pub(crate) fn check_compressor(id: u16) -> Result<(), String> {
    match id {
        1..=6 => Ok(()),
        other => Err(format!("number {other}")),
    }
}

/// Where a file's body is.
#[derive(Debug, Clone)]
pub(crate) struct FileLayout {
    pub(crate) size: u64,
    pub(crate) blocks_start: u64,
    /// On-disk sizes (with the uncompressed flag) of the whole blocks; 0 is a hole.
    pub(crate) blocks: Vec<u32>,
    pub(crate) fragment: u32,
    pub(crate) fragment_offset: u32,
}

/// Reads data and fragment blocks. One decompressed fragment block is kept: mksquashfs packs
/// the tails of files in directory order, which is the order they are read in.
pub(crate) struct Data {
    reader: BufReader<fs_err::File>,
    compressor: Compressor,
    block_size: u32,
    bytes_used: u64,
    fragments: Vec<Fragment>,
    cached_fragment: Option<(u64, Vec<u8>)>,
    raw: Vec<u8>,
    /// Where `reader` is, when known.
    cursor: Option<u64>,
}

impl Data {
    pub(crate) fn new(
        reader: BufReader<fs_err::File>,
        sb: &SuperBlock,
        fragments: Vec<Fragment>,
    ) -> Self {
        Data {
            reader,
            compressor: sb.compressor,
            block_size: sb.block_size,
            bytes_used: sb.bytes_used,
            fragments,
            cached_fragment: None,
            raw: Vec::new(),
            cursor: None,
        }
    }

    /// A reader over a file's body.
    pub(crate) fn open<'a>(&'a mut self, layout: &'a FileLayout) -> Body<'a> {
        Body {
            pos: layout.blocks_start,
            data: self,
            layout,
            next_block: 0,
            done: 0,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// Decompresses (or copies) the block of `stored` bytes at `pos` into `out`.
    fn block(&mut self, pos: u64, stored: u32, out: &mut Vec<u8>) -> io::Result<()> {
        let size = stored & !BLOCK_UNCOMPRESSED;
        if size > self.block_size || pos.saturating_add(u64::from(size)) > self.bytes_used {
            return Err(corrupt(format!(
                "the data block at offset {pos} has an impossible size {size}"
            )));
        }
        // Blocks are mostly read in image order: seeking only when needed keeps the
        // BufReader's buffer.
        if self.cursor != Some(pos) {
            self.reader.seek(SeekFrom::Start(pos))?;
        }
        self.cursor = None;
        self.raw.resize(size as usize, 0);
        self.reader.read_exact(&mut self.raw)?;
        self.cursor = Some(pos + u64::from(size));
        out.clear();
        if stored & BLOCK_UNCOMPRESSED != 0 {
            out.extend_from_slice(&self.raw);
            return Ok(());
        }
        out.reserve(self.block_size as usize);
        CODECS
            .decompress(&self.raw, out, self.compressor)
            .map_err(|e| {
                corrupt(format!(
                    "the data block at offset {pos}: {}",
                    from_backhand(e)
                ))
            })?;
        if out.len() > self.block_size as usize {
            return Err(corrupt(format!(
                "the data block at offset {pos} decompresses to more than a block"
            )));
        }
        Ok(())
    }

    /// The `len` bytes at `offset` in fragment block `index`.
    fn fragment(
        &mut self,
        index: u32,
        offset: u32,
        len: usize,
        out: &mut Vec<u8>,
    ) -> io::Result<()> {
        let Some(frag) = self.fragments.get(index as usize) else {
            return Err(corrupt(format!(
                "fragment #{index} is not in the fragment table"
            )));
        };
        let (start, stored) = (
            frag.start,
            frag.size.size()
                | if frag.size.uncompressed() {
                    BLOCK_UNCOMPRESSED
                } else {
                    0
                },
        );
        if self
            .cached_fragment
            .as_ref()
            .is_none_or(|(at, _)| *at != start)
        {
            let mut block = self
                .cached_fragment
                .take()
                .map(|(_, b)| b)
                .unwrap_or_default();
            self.block(start, stored, &mut block)?;
            self.cached_fragment = Some((start, block));
        }
        let (_, block) = self.cached_fragment.as_ref().expect("just cached");
        let range = offset as usize..offset as usize + len;
        let tail = block.get(range).ok_or_else(|| {
            corrupt(format!(
                "fragment #{index} is shorter than the file tail it holds"
            ))
        })?;
        out.clear();
        out.extend_from_slice(tail);
        Ok(())
    }
}

/// A file's body, decompressed one block at a time.
pub(crate) struct Body<'a> {
    data: &'a mut Data,
    layout: &'a FileLayout,
    pos: u64,
    next_block: usize,
    /// Bytes of the file produced so far (including `buf`).
    done: u64,
    buf: Vec<u8>,
    at: usize,
}

impl Body<'_> {
    fn refill(&mut self) -> io::Result<()> {
        let block_size = u64::from(self.data.block_size);
        let left = self.layout.size - self.done;
        let want = left.min(block_size) as usize;
        let mut buf = std::mem::take(&mut self.buf);
        if let Some(&stored) = self.layout.blocks.get(self.next_block) {
            if stored & !BLOCK_UNCOMPRESSED == 0 {
                buf.clear();
                buf.resize(want, 0); // a hole
            } else {
                self.data.block(self.pos, stored, &mut buf)?;
                self.pos += u64::from(stored & !BLOCK_UNCOMPRESSED);
            }
            self.next_block += 1;
        } else if self.layout.fragment != NO_FRAGMENT {
            let (index, offset) = (self.layout.fragment, self.layout.fragment_offset);
            self.data.fragment(index, offset, want, &mut buf)?;
        } else {
            return Err(corrupt("the file is longer than its blocks"));
        }
        if buf.len() != want {
            return Err(corrupt(format!(
                "a block holds {} bytes where the file needs {want}",
                buf.len()
            )));
        }
        self.done += want as u64;
        self.buf = buf;
        self.at = 0;
        Ok(())
    }
}

impl Read for Body<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.at == self.buf.len() {
            if self.done == self.layout.size || out.is_empty() {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}
