//! Colon-separated account databases (`/etc/passwd`, `group`, `shadow`, `gshadow`) edited line
//! by line: every byte we do not touch is kept, malformed lines are preserved verbatim and
//! skipped, and an error is raised only when the entry we must edit is itself malformed.

use std::collections::BTreeSet;

use super::CustomizeError;
use super::staged::{Staged, display};
use crate::NodeInfo;

/// Layout of one database: how many fields a line has and which must be numbers.
#[derive(Clone, Copy)]
pub(crate) struct Schema {
    pub path: &'static str,
    pub fields: usize,
    pub numeric: &'static [usize],
}

pub(crate) const PASSWD: Schema = Schema {
    path: "etc/passwd",
    fields: 7,
    numeric: &[2, 3],
};
pub(crate) const GROUP: Schema = Schema {
    path: "etc/group",
    fields: 4,
    numeric: &[2],
};
pub(crate) const SHADOW: Schema = Schema {
    path: "etc/shadow",
    fields: 9,
    numeric: &[],
};
pub(crate) const GSHADOW: Schema = Schema {
    path: "etc/gshadow",
    fields: 4,
    numeric: &[],
};
pub(crate) const SUBUID: Schema = Schema {
    path: "etc/subuid",
    fields: 3,
    numeric: &[1, 2],
};
pub(crate) const SUBGID: Schema = Schema {
    path: "etc/subgid",
    fields: 3,
    numeric: &[1, 2],
};

/// A valid entry: its 0-based line index and fields.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub index: usize,
    pub fields: Vec<Vec<u8>>,
}

impl Entry {
    pub fn name(&self) -> &[u8] {
        &self.fields[0]
    }

    /// Numeric field `i` (validated when parsed).
    pub fn id(&self, i: usize) -> u32 {
        std::str::from_utf8(&self.fields[i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(u32::MAX)
    }
}

enum Parsed {
    Entry(Vec<Vec<u8>>),
    Ignored,
    Malformed(String),
}

/// One database file, loaded from the staged tree and written back when changed.
pub(crate) struct DbFile {
    pub schema: Schema,
    /// Real path (symlinks followed) to write to.
    path: Vec<u8>,
    pub existing: Option<NodeInfo>,
    content: Vec<u8>,
    changed: bool,
}

impl DbFile {
    pub fn load(staged: &mut Staged, schema: Schema) -> Result<Self, CustomizeError> {
        let target = staged.file_for_edit(schema.path.as_bytes())?;
        let (existing, content) = match target.existing {
            Some((info, content)) => (Some(info), content),
            None => (None, Vec::new()),
        };
        Ok(Self {
            schema,
            path: target.path,
            existing,
            content,
            changed: false,
        })
    }

    /// A database read from bytes that are not in the tree (the old distribution's, for
    /// `wslbox upgrade`); it is only read, never stored.
    pub fn from_bytes(schema: Schema, content: Vec<u8>) -> Self {
        Self {
            schema,
            path: schema.path.as_bytes().to_vec(),
            existing: None,
            content,
            changed: false,
        }
    }

    pub fn exists(&self) -> bool {
        self.existing.is_some()
    }

    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        let body = self.content.strip_suffix(b"\n").unwrap_or(&self.content);
        let empty = self.content.is_empty();
        body.split(|&b| b == b'\n').filter(move |_| !empty)
    }

    fn parse(&self, line: &[u8]) -> Parsed {
        // A CRLF line ending is kept on write but is not part of the last field.
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.trim_ascii().is_empty() || line[0] == b'#' || line[0] == b'+' || line[0] == b'-' {
            return Parsed::Ignored;
        }
        let fields: Vec<Vec<u8>> = line.split(|&b| b == b':').map(<[u8]>::to_vec).collect();
        if fields.len() != self.schema.fields {
            return Parsed::Malformed(format!(
                "{} fields instead of {}",
                fields.len(),
                self.schema.fields
            ));
        }
        if fields[0].is_empty() {
            return Parsed::Malformed("empty name".into());
        }
        for &i in self.schema.numeric {
            if std::str::from_utf8(&fields[i])
                .ok()
                .and_then(|s| s.parse::<u32>().ok())
                .is_none()
            {
                return Parsed::Malformed(format!("field {} is not a number", i + 1));
            }
        }
        Parsed::Entry(fields)
    }

    /// All valid entries, in file order.
    pub fn entries(&self) -> Vec<Entry> {
        self.lines()
            .enumerate()
            .filter_map(|(index, line)| match self.parse(line) {
                Parsed::Entry(fields) => Some(Entry { index, fields }),
                _ => None,
            })
            .collect()
    }

    /// The entry named `name`; an error if a malformed line carries that name, since we could
    /// neither tell whether it exists nor edit it safely.
    pub fn find(&self, name: &str) -> Result<Option<Entry>, CustomizeError> {
        for (index, line) in self.lines().enumerate() {
            match self.parse(line) {
                Parsed::Entry(fields) if fields[0] == name.as_bytes() => {
                    return Ok(Some(Entry { index, fields }));
                }
                Parsed::Malformed(problem)
                    if line.split(|&b| b == b':').next() == Some(name.as_bytes()) =>
                {
                    return Err(CustomizeError::MalformedEntry {
                        path: display(&self.path),
                        line: index + 1,
                        problem,
                        text: String::from_utf8_lossy(line).into_owned(),
                    });
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// Ids in numeric field `i`, including from malformed lines where that field parses, so a
    /// broken line never makes us hand out an id that is really taken.
    pub fn used_ids(&self, i: usize) -> BTreeSet<u32> {
        self.lines()
            .filter_map(|line| line.split(|&b| b == b':').nth(i))
            .filter_map(|f| std::str::from_utf8(f).ok()?.parse().ok())
            .collect()
    }

    /// Appends a line, first adding the newline a file without a trailing one lacks.
    pub fn append(&mut self, line: &[u8]) {
        if !self.content.is_empty() && !self.content.ends_with(b"\n") {
            self.content.push(b'\n');
        }
        self.content.extend_from_slice(line);
        self.content.push(b'\n');
        self.changed = true;
    }

    /// Replaces field `field` of the entry, keeping the rest of the file byte-for-byte.
    pub fn set_field(&mut self, entry: &Entry, field: usize, value: &[u8]) {
        let mut fields = entry.fields.clone();
        fields[field] = value.to_vec();
        self.set_fields(entry, &fields);
    }

    /// Replaces the entry's line with `fields`, keeping the rest of the file byte-for-byte.
    pub fn set_fields(&mut self, entry: &Entry, fields: &[Vec<u8>]) {
        let mut new_line = fields.join(&b':');
        let start: usize = self.lines().take(entry.index).map(|l| l.len() + 1).sum();
        let Some(old) = self.lines().nth(entry.index) else {
            return;
        };
        let len = old.len();
        if old.ends_with(b"\r") {
            new_line.push(b'\r');
        }
        self.content.splice(start..start + len, new_line);
        self.changed = true;
    }

    /// Adds `member` to the comma-separated member list in field `field` if missing.
    pub fn add_member(&mut self, entry: &Entry, field: usize, member: &str) {
        let current = &entry.fields[field];
        if current
            .split(|&b| b == b',')
            .any(|m| m == member.as_bytes())
        {
            return;
        }
        let mut value = current.clone();
        if !value.is_empty() {
            value.push(b',');
        }
        value.extend_from_slice(member.as_bytes());
        self.set_field(entry, field, &value);
    }

    /// Stages the file when it changed, keeping the image's mode and owner; new files get
    /// `mode`, `uid` and `gid`.
    pub fn store(self, staged: &mut Staged, mode: u32, uid: u64, gid: u64) {
        if !self.changed {
            return;
        }
        let (mode, uid, gid) = match &self.existing {
            Some(info) => (info.mode, info.uid, info.gid),
            None => (mode, uid, gid),
        };
        staged.put_file(self.path, self.content, mode, uid, gid);
    }
}
