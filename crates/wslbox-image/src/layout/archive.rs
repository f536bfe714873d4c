//! Tar archives read in place: one scan records where each member's data lies, and members are
//! then read as sections of the file. Symlinks and hardlinks between members (legacy
//! `docker save` links repeated layers) are followed.

use std::collections::HashMap;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::{LayoutError, Store};
use crate::Compression;

/// How many links a member path may go through before it counts as a loop.
const MAX_LINK_HOPS: usize = 16;

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Symlink(String),
    Hardlink(String),
}

/// A section of the archive: a member's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Section {
    pub offset: u64,
    pub size: u64,
}

/// The members of a tar archive by normalized path.
pub(super) struct ArchiveStore {
    path: PathBuf,
    members: HashMap<String, Member>,
}

/// An archive member's path as stored → the key it is looked up by: `./a//b/` → `a/b`.
pub fn member_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The member a link at `from` leads to: a hardlink names an archive path, a symlink is
/// relative to its own directory unless absolute (archives link repeated layers both ways).
pub fn link_destination(from: &str, target: &str, hard: bool) -> String {
    if hard || target.starts_with('/') {
        member_path(target)
    } else {
        let dir = from.rsplit_once('/').map_or("", |(d, _)| d);
        member_path(&format!("{dir}/{target}"))
    }
}

impl ArchiveStore {
    /// Scans `path` once, seeking over member data.
    pub(super) fn scan(path: &Path, image: &str) -> Result<Self, LayoutError> {
        let io_err = |source| LayoutError::Io {
            image: image.into(),
            source,
        };
        let mut file = fs_err::File::open(path).map_err(io_err)?;
        let mut magic = [0u8; Compression::MAGIC_LEN];
        let n = read_up_to(&mut file, &mut magic).map_err(io_err)?;
        let kind = Compression::sniff(&magic[..n]);
        if kind != Compression::None {
            return Err(LayoutError::NotALayout {
                image: image.into(),
                expected: "an uncompressed tar archive",
                reason: format!(
                    "it is {}-compressed; wslbox reads archives in place, so decompress it first",
                    kind.name()
                ),
            });
        }
        file.seek(SeekFrom::Start(0)).map_err(io_err)?;
        let bad = |e: io::Error| LayoutError::NotALayout {
            image: image.into(),
            expected: "a tar archive",
            reason: e.to_string(),
        };
        let mut archive = tar::Archive::new(BufReader::with_capacity(64 << 10, file));
        let mut members = HashMap::new();
        for entry in archive.entries_with_seek().map_err(bad)? {
            let entry = entry.map_err(bad)?;
            let name = member_path(&String::from_utf8_lossy(&entry.path_bytes()));
            let header = entry.header();
            let member = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                },
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let Some(target) = entry.link_name_bytes() else {
                        continue;
                    };
                    let target = String::from_utf8_lossy(&target).into_owned();
                    if header.entry_type() == tar::EntryType::Link {
                        Member::Hardlink(member_path(&target))
                    } else {
                        Member::Symlink(target)
                    }
                }
                _ => continue,
            };
            members.insert(name, member);
        }
        Ok(ArchiveStore {
            path: path.to_owned(),
            members,
        })
    }

    /// Where the data of `path` lies, following links.
    pub(super) fn section(&self, path: &str) -> io::Result<Section> {
        let mut current = member_path(path);
        for _ in 0..MAX_LINK_HOPS {
            match self.members.get(&current) {
                Some(Member::File { offset, size }) => {
                    return Ok(Section {
                        offset: *offset,
                        size: *size,
                    });
                }
                Some(Member::Hardlink(target)) => current = target.clone(),
                Some(Member::Symlink(target)) => {
                    current = link_destination(&current, target, false)
                }
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("`{current}` is not in the archive {}", self.path.display()),
                    ));
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "`{path}` in the archive {} is a link loop",
                self.path.display()
            ),
        ))
    }

    pub(super) fn contains(&self, path: &str) -> bool {
        self.section(path).is_ok()
    }

    /// A reader over one section, with its own file handle so streams are independent.
    pub(super) fn open_section(&self, section: Section) -> io::Result<Box<dyn Read + Send>> {
        let mut file = fs_err::File::open(&self.path)?;
        file.seek(SeekFrom::Start(section.offset))?;
        Ok(Box::new(
            BufReader::with_capacity(64 << 10, file).take(section.size),
        ))
    }
}

impl Store for ArchiveStore {
    fn open(&self, path: &str) -> io::Result<Box<dyn Read + Send>> {
        self.open_section(self.section(path)?)
    }
}

/// Fills as much of `buf` as the reader has.
pub(super) fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_drops_dots_and_doubled_slashes() {
        assert_eq!(member_path("./blobs//sha256/abc"), "blobs/sha256/abc");
        assert_eq!(member_path("a/b/../c/"), "a/c");
    }
}
