//! The image catalog: container images that make good WSL distributions, and what wslbox
//! knows about each (family, package manager, admin group, whether systemd works, caveats).
//!
//! A [`Catalog`] starts as the built-in list ([`Catalog::builtin`], the crate's
//! `catalog.toml`), then [`Catalog::merge`]s lists in the same format: a team's
//! (`--catalog FILE|URL`) and the user's own ([`USER_FILE`] in wslbox's config folder). Each list is parsed by
//! [`Catalog::parse`] into [`Entry`]s; a malformed one is a [`CatalogError`] naming the file
//! and line. Export and import look the flattened image's os-release up with
//! [`Catalog::find_os`] to pick the admin group and warn about what will not work.
//!
//! Catalog names are labels, not references: `import` still takes Docker references.

use std::path::Path;

mod entry;
mod error;
mod parse;
#[cfg(test)]
mod tests;

pub use entry::{ADMIN_GROUPS, Entry, OsMatch};
pub use error::CatalogError;

/// The built-in list, checked by the crate's tests.
const BUILTIN: &str = include_str!("../catalog.toml");

/// The user's own list, in wslbox's config folder (`%APPDATA%\wslbox`, `~/.config/wslbox`).
pub const USER_FILE: &str = "catalog.toml";

/// The origin of built-in entries.
pub const BUILTIN_ORIGIN: &str = "built-in";

/// Entries in merge order; see the crate docs.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    entries: Vec<Entry>,
}

impl Catalog {
    /// The list that ships with wslbox.
    pub fn builtin() -> Self {
        let entries = Self::parse(BUILTIN, BUILTIN_ORIGIN)
            .unwrap_or_else(|e| panic!("the built-in catalog is invalid: {e}"));
        Catalog { entries }
    }

    /// Parses a catalog file's text; `origin` (a path or URL) names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
        parse::parse(text, origin)
    }

    /// Reads and parses a catalog file; `Ok(None)` when it does not exist.
    pub fn read_file(path: &Path) -> Result<Option<Vec<Entry>>, CatalogError> {
        let origin = path.display().to_string();
        match fs_err::read_to_string(path) {
            Ok(text) => Self::parse(&text, &origin).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(CatalogError::Read {
                path: origin,
                source,
            }),
        }
    }

    /// Adds `entries`: one with the name of an existing entry replaces it, new names are
    /// added. Either way the entry moves to the end, where [`Catalog::find_os`] looks first.
    pub fn merge(&mut self, entries: Vec<Entry>) {
        for entry in entries {
            self.entries.retain(|e| e.name != entry.name);
            self.entries.push(entry);
        }
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// The entry for an os-release: the one listing `id`, else the one listing the first
    /// `id_like` value that any entry lists (ID_LIKE is ordered closest first). Entries merged
    /// later win, so a user's entry beats the built-in one for the same ID.
    pub fn find_os<'a>(&'a self, id: &str, id_like: &'a [String]) -> Option<OsMatch<'a>> {
        let listing = |id: &str| {
            self.entries
                .iter()
                .rev()
                .find(|e| e.os_ids.iter().any(|i| i == id))
        };
        if let Some(entry) = listing(id) {
            return Some(OsMatch { entry, like: None });
        }
        id_like.iter().find_map(|like| {
            listing(like).map(|entry| OsMatch {
                entry,
                like: Some(like.as_str()),
            })
        })
    }
}
