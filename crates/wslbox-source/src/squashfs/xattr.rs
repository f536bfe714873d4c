//! The xattr table (squashfs-tools `squashfs_fs.h`, `xattr.c`), which backhand does not read.
//!
//! At the superblock's `xattr_table`: the key/value area's start, the number of xattr sets and
//! the locations of the metadata blocks holding the set descriptors (16 bytes each: a
//! reference into the key/value area, the pair count, the size). A pair is a key (`u16` type
//! — 0 `user.`, 1 `trusted.`, 2 `security.`, plus 0x100 when the value is stored elsewhere —,
//! `u16` name size, the name without its prefix) and a value (`u32` size, bytes); an
//! out-of-line value is an 8-byte reference to a value stored once for several pairs.

use std::io::{self, BufReader, Read, Seek, SeekFrom};

use backhand::SuperBlock;
use backhand::kind::Kind;
use backhand::v4::metadata::{self, METADATA_MAXSIZE};
use backhand::v4::squashfs::NOT_SET;

use super::image::{Fields, Table, corrupt, from_backhand};

/// One xattr: full name (with its namespace prefix) and value.
pub(crate) type Xattr = (Vec<u8>, Vec<u8>);

const PREFIXES: [&[u8]; 3] = [b"user.", b"trusted.", b"security."];
const VALUE_OUT_OF_LINE: u16 = 0x100;
const SET_SIZE: u64 = 16;

struct Set {
    reference: u64,
    count: u32,
}

pub(crate) struct Xattrs {
    sets: Vec<Set>,
    pairs: Table,
}

impl Xattrs {
    /// The image's xattr table, if it has one.
    pub(crate) fn read(
        reader: &mut BufReader<fs_err::File>,
        sb: &SuperBlock,
        kind: &Kind,
    ) -> io::Result<Option<Xattrs>> {
        if sb.xattr_table == NOT_SET {
            return Ok(None);
        }
        let what = "the xattr table";
        reader.seek(SeekFrom::Start(sb.xattr_table))?;
        let mut head = [0u8; 16];
        reader.read_exact(&mut head)?;
        let mut f = Fields { buf: &head, what };
        let (pairs_start, count) = (f.u64()?, f.u32()?);
        let blocks = (u64::from(count) * SET_SIZE).div_ceil(METADATA_MAXSIZE as u64);
        if sb.xattr_table + 16 + blocks * 8 > sb.bytes_used || pairs_start > sb.xattr_table {
            return Err(corrupt(format!("{what} has an impossible size or start")));
        }
        let mut pointers = vec![0u8; blocks as usize * 8];
        reader.read_exact(&mut pointers)?;
        let Some(first) = pointers.first_chunk::<8>().map(|p| u64::from_le_bytes(*p)) else {
            return Ok(Some(Xattrs {
                sets: Vec::new(),
                pairs: Table::default(),
            }));
        };
        reader.seek(SeekFrom::Start(first))?;
        let mut raw = Vec::new();
        for _ in 0..blocks {
            let block = metadata::read_block(reader, sb, kind)
                .map_err(|e| corrupt(format!("{what}: {}", from_backhand(e))))?;
            raw.extend(block);
        }
        let mut f = Fields { buf: &raw, what };
        let sets = (0..count)
            .map(|_| {
                let (reference, count, _size) = (f.u64()?, f.u32()?, f.u32()?);
                Ok(Set { reference, count })
            })
            .collect::<io::Result<_>>()?;
        let pairs = Table::read(reader, sb, kind, pairs_start, first, "xattr")?;
        Ok(Some(Xattrs { sets, pairs }))
    }

    /// The pairs of set `index`, names with their prefixes.
    pub(crate) fn get(&self, index: u32) -> io::Result<Vec<Xattr>> {
        let what = format!("xattr set #{index}");
        let set = self
            .sets
            .get(index as usize)
            .ok_or_else(|| corrupt(format!("{what} is not in the xattr table")))?;
        let mut f = Fields {
            buf: self.at(set.reference, &what)?,
            what: &what,
        };
        let mut out = Vec::new();
        for _ in 0..set.count {
            let (kind, len) = (f.u16()?, f.u16()?);
            let prefix = PREFIXES
                .get(usize::from(kind & 0xff))
                .ok_or_else(|| corrupt(format!("{what} has an xattr of unknown type {kind}")))?;
            let name = [*prefix, f.take(usize::from(len))?].concat();
            let len = f.u32()? as usize;
            let value = if kind & VALUE_OUT_OF_LINE == 0 {
                f.take(len)?.to_vec()
            } else {
                let reference = f.u64()?;
                let mut v = Fields {
                    buf: self.at(reference, &what)?,
                    what: &what,
                };
                let len = v.u32()? as usize;
                v.take(len)?.to_vec()
            };
            out.push((name, value));
        }
        Ok(out)
    }

    fn at(&self, reference: u64, what: &str) -> io::Result<&[u8]> {
        self.pairs.at(reference >> 16, reference & 0xffff, what)
    }
}
