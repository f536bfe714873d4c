//! File edits that can be undone: Terminal JSON rewrites (with a kept backup) and renames.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use wslbox_fs::AtomicFile;

use crate::error::IoContext;
use crate::error::{Error, Result};
use crate::terminal_profiles::rename_in_terminal_json;
use crate::transaction::Transaction;

/// Suffix of the copy kept next to a `settings.json` before wslbox edits it.
pub const BACKUP_SUFFIX: &str = ".wslbox-backup";

/// Where Windows Terminal keeps `settings.json`: Store (stable, preview) and unpackaged installs.
pub fn terminal_settings_files() -> Vec<PathBuf> {
    let Some(local) = std::env::var_os("LOCALAPPDATA").map(PathBuf::from) else {
        return Vec::new();
    };
    let packages = local.join("Packages");
    [
        packages.join(r"Microsoft.WindowsTerminal_8wekyb3d8bbwe\LocalState\settings.json"),
        packages.join(r"Microsoft.WindowsTerminalPreview_8wekyb3d8bbwe\LocalState\settings.json"),
        local.join(r"Microsoft\Windows Terminal\settings.json"),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .collect()
}

/// Writes `text` beside `path` and renames it over ([`AtomicFile`]), so a crash never leaves
/// half a file, and a killed wslbox leaves no partial the next edit does not sweep. A symlinked
/// file (dotfile setups) is written through, keeping the link.
pub fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let resolved;
    let path = if path.is_symlink() {
        resolved = fs_err::canonicalize(path).at(path)?;
        resolved.as_path()
    } else {
        path
    };
    let mut file = AtomicFile::create(path).at(path)?;
    file.file_mut().write_all(text.as_bytes()).at(path)?;
    file.commit().at(path)?;
    Ok(())
}

/// Which Terminal JSON file an edit is for; they are written differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TerminalFile {
    /// `settings.json`, the user's own: a backup is kept and the edit lands atomically.
    Settings,
    /// WSL's fragment: rewritten in place, as WSL writes it (WSL-FACTS.md): a file moved into
    /// place by an elevated process would belong to Administrators, and Terminal, running as
    /// the user, could no longer read it.
    Fragment,
}

/// Truncates and rewrites `path` itself, keeping its owner and ACL.
fn write_in_place(path: &Path, text: &str) -> Result<()> {
    fs_err::write(path, text).at(path)?;
    Ok(())
}

/// Renames distribution `guid` from `old` to `new` in one Terminal JSON file, recording an undo.
/// Returns whether the file changed.
pub fn rename_in_json_file<'a>(
    tx: &mut Transaction<'a>,
    path: &Path,
    guid: &str,
    old: &str,
    new: &str,
    file: TerminalFile,
) -> Result<bool> {
    edit_json_file(tx, path, file, "renamed the profile", |src| {
        rename_in_terminal_json(src, guid, old, new)
    })
}

/// Applies `edit` to one Terminal JSON file (`None`: nothing to change), written as `file`
/// says, recording an undo. Returns whether the file changed.
pub fn edit_json_file<'a>(
    tx: &mut Transaction<'a>,
    path: &Path,
    file: TerminalFile,
    did: &str,
    edit: impl FnOnce(&str) -> std::result::Result<Option<String>, crate::jsonc::JsoncError>,
) -> Result<bool> {
    let original = fs_err::read_to_string(path).at(path)?;
    let edited = edit(&original).map_err(|source| Error::Terminal {
        path: path.to_owned(),
        source,
    })?;
    let Some(edited) = edited else {
        return Ok(false);
    };
    let mut what = format!("Windows Terminal: {did} in {}", path.display());
    let write: fn(&Path, &str) -> Result<()> = match file {
        TerminalFile::Settings => {
            let backup = PathBuf::from(format!("{}{BACKUP_SUFFIX}", path.display()));
            fs_err::write(&backup, &original).at(&backup)?;
            what.push_str(&format!(" (backup: {})", backup.display()));
            write_atomically
        }
        TerminalFile::Fragment => write_in_place,
    };
    write(path, &edited)?;
    let path = path.to_owned();
    tx.done(what, move || write(&path, &original));
    Ok(true)
}

/// Renames a file, recording the rename back as its undo.
pub fn rename_file<'a>(
    tx: &mut Transaction<'a>,
    what: String,
    from: &Path,
    to: &Path,
) -> Result<()> {
    fs_err::rename(from, to).at(from)?;
    let (from, to) = (from.to_owned(), to.to_owned());
    tx.done(what, move || fs_err::rename(&to, &from).at(&to));
    Ok(())
}
