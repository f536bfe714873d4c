//! One SquashFS 4.0 image, read in place. backhand parses and checks the superblock, reads the
//! id and fragment tables and decompresses every metadata and data block; the inode and
//! directory tables are walked here, and file bodies are streamed here block by block.
//!
//! Why not backhand's `FilesystemReader`: its tree drops inode numbers (so hardlinks cannot be
//! told from deduplicated copies) and xattr indexes, its inode parser refuses symlink targets
//! of 256 bytes or more (`BasicSymlink`'s `target_size < 256` assertion fails the whole
//! image), and its fragment cache keeps every fragment block it decompressed until the reader
//! is dropped (bodies are read in `data`). Formats follow the squashfs-tools `squashfs_fs.h`
//! layout (all little-endian).

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use backhand::kind::Kind;
use backhand::v4::reader::SquashFsReader as _;
use backhand::v4::squashfs::NOT_SET;
use backhand::{BackhandError, Squashfs, SuperBlock};

use super::data::{CODECS, Data, FileLayout, NO_FRAGMENT};
use super::xattr::{Xattr, Xattrs};

/// A corrupt image: what was wrong, as an I/O error of kind `InvalidData`.
pub(crate) fn corrupt(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// backhand's errors as I/O errors (its own I/O errors unwrapped).
pub(crate) fn from_backhand(e: BackhandError) -> io::Error {
    match e {
        BackhandError::StdIo(e) => e,
        other => corrupt(other.to_string()),
    }
}

/// A decompressed metadata table: the blocks laid end to end, and where each on-disk block
/// (by its offset from the table start) begins among them.
#[derive(Default)]
pub(crate) struct Table {
    starts: HashMap<u64, u64>,
    pub(crate) bytes: Vec<u8>,
}

impl Table {
    pub(crate) fn read(
        reader: &mut BufReader<fs_err::File>,
        sb: &SuperBlock,
        kind: &Kind,
        start: u64,
        end: u64,
        what: &str,
    ) -> io::Result<Table> {
        if start > end {
            return Err(corrupt(format!("the {what} table starts after its end")));
        }
        let (starts, bytes) = reader
            .uncompress_metadatas(start, sb, end, kind)
            .map_err(|e| corrupt(format!("{what} table: {}", from_backhand(e))))?;
        Ok(Table {
            starts: starts.into_iter().collect(),
            bytes,
        })
    }

    /// The bytes from a reference: `block` is the on-disk offset of a metadata block from
    /// the table start, `offset` a position in its decompressed contents.
    pub(crate) fn at(&self, block: u64, offset: u64, what: &str) -> io::Result<&[u8]> {
        self.starts
            .get(&block)
            .map(|start| start + offset)
            .and_then(|pos| self.bytes.get(usize::try_from(pos).ok()?..))
            .ok_or_else(|| corrupt(format!("{what} points at no metadata ({block}:{offset})")))
    }
}

/// Little-endian fields from a byte slice; running short is corruption named by `what`.
pub(crate) struct Fields<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) what: &'a str,
}

impl<'a> Fields<'a> {
    pub(crate) fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(corrupt(format!("{} is cut short", self.what)));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }
    pub(crate) fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().expect("2 bytes"),
        ))
    }
    pub(crate) fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    pub(crate) fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// What an inode is.
#[derive(Debug, Clone)]
pub(crate) enum InodeKind {
    /// Where the listing is in the directory table; `size` counts 3 bytes more than it holds.
    Dir {
        block: u32,
        offset: u16,
        size: u32,
    },
    File(FileLayout),
    Symlink(Vec<u8>),
    /// Device numbers in the kernel's `new_encode_dev` form.
    Char(u32),
    Block(u32),
    Fifo,
    Socket,
}

/// One inode, ids resolved through the id table.
#[derive(Debug, Clone)]
pub(crate) struct Inode {
    /// Where it is in the inode table (`block << 16 | offset`): what every directory entry
    /// of a hardlinked inode shares.
    pub(crate) reference: u64,
    /// Permission bits with setuid/setgid/sticky.
    pub(crate) mode: u32,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) mtime: u32,
    pub(crate) kind: InodeKind,
    pub(crate) xattr: Option<u32>,
}

/// One directory entry: its name and where its inode is.
pub(crate) struct DirEntry {
    pub(crate) name: Vec<u8>,
    pub(crate) inode_block: u32,
    pub(crate) inode_offset: u16,
}

/// `new_decode_dev`: the major and minor numbers of a SquashFS device number.
pub(crate) fn device(dev: u32) -> (u32, u32) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

/// An open image: metadata in memory, bodies read on demand.
pub(crate) struct Image {
    sb: SuperBlock,
    inodes: Table,
    dirs: Table,
    ids: Vec<u32>,
    xattrs: Option<Xattrs>,
    pub(crate) data: Data,
}

impl Image {
    pub(crate) fn open(path: &Path) -> io::Result<Image> {
        let file = fs_err::File::open(path)?;
        let len = file.metadata()?.len();
        let mut reader = BufReader::with_capacity(1 << 17, file);
        let kind = Kind::new_v4(&CODECS);
        let (sb, _options) = Squashfs::superblock_and_compression_options(&mut reader, &kind)
            .map_err(|e| corrupt(format!("superblock: {}", from_backhand(e))))?;
        if sb.bytes_used > len {
            return Err(corrupt(format!(
                "the image is truncated: its superblock says {} bytes, the file has {len}",
                sb.bytes_used
            )));
        }
        let tables = [sb.inode_table, sb.dir_table, sb.id_table];
        if !tables.is_sorted() || sb.id_table >= sb.bytes_used {
            return Err(corrupt(
                "the superblock's table offsets are out of order or past the end",
            ));
        }
        let ids = reader
            .id(&sb, &kind)
            .map_err(|e| corrupt(format!("id table: {}", from_backhand(e))))?;
        let ids: Vec<u32> = ids.1.iter().map(|id| id.num).collect();
        if ids.len() < usize::from(sb.id_count) {
            return Err(corrupt("the id table is cut short"));
        }
        let fragments = if sb.frag_count > 0 && sb.frag_table != NOT_SET {
            reader
                .fragments(&sb, &kind)
                .map_err(|e| corrupt(format!("fragment table: {}", from_backhand(e))))?
                .map(|(_, table)| table)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        // The directory table ends where the next table's first metadata block begins
        // (fragment, export or id table, in the order mksquashfs writes them).
        let next = if sb.frag_count > 0 && sb.frag_table != NOT_SET {
            sb.frag_table
        } else if sb.nfs_export_table_exists() && sb.export_table != NOT_SET {
            sb.export_table
        } else {
            sb.id_table
        };
        let dir_end = first_block(&mut reader, next)?;
        let inodes = Table::read(
            &mut reader,
            &sb,
            &kind,
            sb.inode_table,
            sb.dir_table,
            "inode",
        )?;
        let dirs = Table::read(&mut reader, &sb, &kind, sb.dir_table, dir_end, "directory")?;
        let xattrs = Xattrs::read(&mut reader, &sb, &kind)?;
        let data = Data::new(reader, &sb, fragments);
        Ok(Image {
            sb,
            inodes,
            dirs,
            ids,
            xattrs,
            data,
        })
    }

    /// The root directory's inode.
    pub(crate) fn root(&self) -> io::Result<Inode> {
        let r = self.sb.root_inode;
        self.inode((r >> 16) as u32, (r & 0xffff) as u16)
    }

    /// The inode at a reference (metadata block, offset) into the inode table.
    pub(crate) fn inode(&self, block: u32, offset: u16) -> io::Result<Inode> {
        let what = format!("the inode at {block}:{offset}");
        let buf = self.inodes.at(u64::from(block), u64::from(offset), &what)?;
        let mut f = Fields { buf, what: &what };
        let (kind_id, mode, uid, gid) = (f.u16()?, f.u16()?, f.u16()?, f.u16()?);
        let (mtime, _number) = (f.u32()?, f.u32()?);
        let id = |index: u16| {
            self.ids
                .get(usize::from(index))
                .copied()
                .ok_or_else(|| corrupt(format!("{what} names id #{index}, past the id table")))
        };
        let block_size = u64::from(self.sb.block_size);
        let mut xattr = None;
        let kind = match kind_id {
            1 => {
                let (block, _links, size, offset) = (f.u32()?, f.u32()?, f.u16()?, f.u16()?);
                InodeKind::Dir {
                    block,
                    offset,
                    size: u32::from(size),
                }
            }
            8 => {
                let (_links, size, block, _parent) = (f.u32()?, f.u32()?, f.u32()?, f.u32()?);
                let (_index_count, offset) = (f.u16()?, f.u16()?);
                xattr = Some(f.u32()?);
                InodeKind::Dir {
                    block,
                    offset,
                    size,
                }
            }
            2 | 9 => {
                let (blocks_start, size, fragment, fragment_offset) = if kind_id == 2 {
                    let (start, frag, off, size) = (f.u32()?, f.u32()?, f.u32()?, f.u32()?);
                    (u64::from(start), u64::from(size), frag, off)
                } else {
                    let (start, size, _sparse, _links) = (f.u64()?, f.u64()?, f.u64()?, f.u32()?);
                    let (frag, off) = (f.u32()?, f.u32()?);
                    xattr = Some(f.u32()?);
                    (start, size, frag, off)
                };
                let count = if fragment == NO_FRAGMENT {
                    size.div_ceil(block_size)
                } else {
                    size / block_size
                };
                // Checked against the bytes left before allocating: a corrupt size must not
                // make a huge block list.
                let count = usize::try_from(count)
                    .ok()
                    .filter(|&c| c <= f.buf.len() / 4)
                    .ok_or_else(|| corrupt(format!("{what}: its block list is cut short")))?;
                let blocks = (0..count).map(|_| f.u32()).collect::<io::Result<_>>()?;
                InodeKind::File(FileLayout {
                    size,
                    blocks_start,
                    blocks,
                    fragment,
                    fragment_offset,
                })
            }
            3 | 10 => {
                let (_links, len) = (f.u32()?, f.u32()?);
                let target = f.take(len as usize)?.to_vec();
                if kind_id == 10 {
                    xattr = Some(f.u32()?);
                }
                InodeKind::Symlink(target)
            }
            4 | 5 | 11 | 12 => {
                let (_links, dev) = (f.u32()?, f.u32()?);
                if kind_id >= 11 {
                    xattr = Some(f.u32()?);
                }
                if kind_id % 7 == 4 {
                    InodeKind::Block(dev)
                } else {
                    InodeKind::Char(dev)
                }
            }
            6 | 7 | 13 | 14 => {
                let _links = f.u32()?;
                if kind_id >= 13 {
                    xattr = Some(f.u32()?);
                }
                if kind_id % 7 == 6 {
                    InodeKind::Fifo
                } else {
                    InodeKind::Socket
                }
            }
            other => return Err(corrupt(format!("{what} has unknown type {other}"))),
        };
        Ok(Inode {
            reference: u64::from(block) << 16 | u64::from(offset),
            mode: u32::from(mode) & 0o7777,
            uid: id(uid)?,
            gid: id(gid)?,
            mtime,
            kind,
            // 0xffffffff: none (extended inodes made for other reasons than xattrs).
            xattr: xattr.filter(|&x| x != u32::MAX),
        })
    }

    /// The entries of a directory, in the image's (sorted) order. Names are checked to be
    /// single path components.
    pub(crate) fn read_dir(&self, block: u32, offset: u16, size: u32) -> io::Result<Vec<DirEntry>> {
        let what = format!("the directory listing at {block}:{offset}");
        let Some(len) = size.checked_sub(3) else {
            return Err(corrupt(format!("{what} has size {size}, less than 3")));
        };
        if len == 0 {
            // Empty: nothing to read, and an image whose only directory is empty has no
            // directory table block for the listing to point at.
            return Ok(Vec::new());
        }
        let buf = self.dirs.at(u64::from(block), u64::from(offset), &what)?;
        let buf = buf
            .get(..len as usize)
            .ok_or_else(|| corrupt(format!("{what} runs past the directory table")))?;
        let mut f = Fields { buf, what: &what };
        let mut entries = Vec::new();
        while !f.buf.is_empty() {
            let (count, start, _base) = (f.u32()?, f.u32()?, f.u32()?);
            if count >= 256 {
                return Err(corrupt(format!("{what} has a header of {count} entries")));
            }
            for _ in 0..=count {
                let (offset, _inode_delta, _kind) = (f.u16()?, f.u16()?, f.u16()?);
                let name_len = usize::from(f.u16()?) + 1;
                let name = f.take(name_len)?.to_vec();
                if name == b"." || name == b".." || name.contains(&b'/') || name.contains(&0) {
                    return Err(corrupt(format!(
                        "{what} has an entry named `{}`",
                        String::from_utf8_lossy(&name).escape_default()
                    )));
                }
                entries.push(DirEntry {
                    name,
                    inode_block: start,
                    inode_offset: offset,
                });
            }
        }
        Ok(entries)
    }

    /// The xattrs an inode's xattr index names.
    pub(crate) fn xattrs(&self, index: u32) -> io::Result<Vec<Xattr>> {
        match &self.xattrs {
            Some(table) => table.get(index),
            None => Err(corrupt(format!(
                "xattr set #{index} is named, but the image has no xattr table"
            ))),
        }
    }
}

/// The location of a lookup table's first metadata block: the first pointer of its index.
fn first_block(reader: &mut BufReader<fs_err::File>, index: u64) -> io::Result<u64> {
    reader.seek(SeekFrom::Start(index))?;
    let mut ptr = [0u8; 8];
    reader.read_exact(&mut ptr)?;
    Ok(u64::from_le_bytes(ptr))
}
