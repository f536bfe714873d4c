//! What an `import`, `clone` or `upgrade` is doing, written down before it changes anything,
//! so that when its process is killed (Task Manager, a closed console, a CI timeout) the next
//! wslbox command can finish or undo it.
//!
//! An entry is a hidden partial file in `%LOCALAPPDATA%\wslbox\journal` (a
//! [`wslbox_fs::AtomicFile`] that is never committed): held open without shared deletion by
//! its writer, removed when the operation ends, whichever way it ends. One that is left and no
//! longer held belongs to a process that is gone; [`recover`] reads it and puts the
//! distributions it names into a whole state: an import that did not finish is unregistered
//! and its folder removed; an upgrade killed before the swap loses its half-built new
//! distribution, one killed during the swap gets the old distribution its name back, and one
//! killed after the swap is finished (the old one unregistered).
//!
//! Each entry is written once, whole, before the first change, with every name and path the
//! operation will touch; recovery works out from the registry how far it got.

use std::fs::File;
use std::io::{Read, Write};
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use wslbox_fs::AtomicFile;

use super::lxss::{Lxss, VALUE_CREATED_FOLDER};
use super::wsl_exe::WslExe;
use crate::distribution::Distribution;
use crate::error::{Error, IoContext, Result};
use crate::names::same_name;
use crate::report::Report;

/// One interrupted operation.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(super) enum Entry {
    /// `import` or `clone` (`verb`) of a new distribution `name` into `dir`.
    Import {
        verb: String,
        name: String,
        dir: PathBuf,
        /// The folder was there before (then it is emptied by unregistering, not removed).
        dir_existed: bool,
        /// The temp tar of a WSL without `--import -`.
        temp: Option<PathBuf>,
    },
    /// `upgrade` of `name` (registration `guid`), building `new_name` in `new_dir`, the old
    /// one renamed to `old_name` during the swap.
    Upgrade {
        name: String,
        guid: String,
        new_name: String,
        old_name: String,
        new_dir: PathBuf,
        new_dir_existed: bool,
        /// The old distribution's folder takes the new disk at the end (not for Store ones).
        move_back: bool,
    },
}

impl Entry {
    fn file_name(&self) -> String {
        match self {
            Entry::Import { verb, name, .. } => format!("{verb}-{}.json", name.to_lowercase()),
            Entry::Upgrade { name, .. } => format!("upgrade-{}.json", name.to_lowercase()),
        }
    }
}

/// `%LOCALAPPDATA%\wslbox\journal`; an error when `LOCALAPPDATA` names no folder. (Not the
/// temp folder: a journal there could be cleaned away before the next command reads it.)
fn journal_dir() -> Result<PathBuf> {
    let data = wslbox_dirs::local_data().map_err(|source| Error::NoFolder {
        source,
        fix: "wslbox keeps the journal that undoes an interrupted import or upgrade there; set it to your local app data folder",
    })?;
    Ok(data.join("journal"))
}

/// An entry held by this process; dropping it (the operation ended) removes it.
#[must_use = "the entry is removed when dropped"]
pub(super) struct Journal {
    _file: AtomicFile,
}

impl Journal {
    /// Writes `entry`, before the operation changes anything. Run [`recover`] first: this
    /// entry sweeps a dead one of the same name.
    pub(super) fn begin(entry: &Entry) -> Result<Journal> {
        let dir = journal_dir()?;
        fs_err::create_dir_all(&dir).at(&dir)?;
        let dest = dir.join(entry.file_name());
        let mut file = AtomicFile::create_named(&dest).at(&dest)?;
        let json = serde_json::to_vec_pretty(entry).expect("a journal entry serializes");
        let partial = file.partial().unwrap_or(&dest).to_owned();
        file.file_mut().write_all(&json).at(&partial)?;
        file.file_mut().sync_all().at(&partial)?;
        Ok(Journal { _file: file })
    }
}

/// Finishes or undoes the operations whose processes were killed. What it did is in the
/// report's changes; what it could not do, with the fix, in its warnings (the entry stays, so
/// the next command tries again).
pub fn recover(wsl: &WslExe) -> Report {
    let mut report = Report::default();
    // No journal folder: no journal can have been written to recover from.
    let Ok(dir) = journal_dir() else {
        return report;
    };
    let Ok(dead) = wslbox_fs::sweep_dir(&dir, true) else {
        return report;
    };
    for path in dead {
        // Held exclusively while we recover: a second wslbox recovering at the same time
        // skips it.
        let Ok(mut file) = File::options().read(true).share_mode(0).open(&path) else {
            continue;
        };
        let mut text = String::new();
        let entry = file
            .read_to_string(&mut text)
            .ok()
            .and_then(|_| serde_json::from_str::<Entry>(&text).ok());
        let outcome = match &entry {
            // Killed while writing the entry itself: nothing was changed yet.
            None => Ok(Vec::new()),
            Some(entry) => recover_entry(wsl, entry),
        };
        drop(file);
        match outcome {
            Ok(changes) => {
                report.changes.extend(changes);
                let _ = fs_err::remove_file(&path);
            }
            Err(e) => report.warnings.push(format!(
                "an interrupted wslbox operation ({}) could not be put right: {e}; the next wslbox command tries again",
                path.display()
            )),
        }
    }
    report
}

/// Puts right what the operation in `entry` left; returns what it did.
fn recover_entry(wsl: &WslExe, entry: &Entry) -> Result<Vec<String>> {
    let lxss = Lxss::open()?;
    match entry {
        Entry::Import {
            verb,
            name,
            dir,
            dir_existed,
            temp,
        } => import(wsl, &lxss, verb, name, dir, *dir_existed, temp.as_deref()),
        Entry::Upgrade {
            name,
            guid,
            new_name,
            old_name,
            new_dir,
            new_dir_existed,
            move_back,
        } => upgrade(
            wsl,
            &lxss,
            &Names {
                name,
                guid,
                new_name,
                old_name,
            },
            new_dir,
            *new_dir_existed,
            *move_back,
        ),
    }
}

fn same_dir(base_path: &str, dir: &Path) -> bool {
    let base = base_path.strip_prefix(r"\\?\").unwrap_or(base_path);
    Path::new(base) == dir
}

/// A registration that got as far as wsl.exe but not to our last value
/// ([`VALUE_CREATED_FOLDER`], written last by import, clone and the upgrade's build).
fn unfinished(lxss: &Lxss, distro: &Distribution) -> Result<bool> {
    Ok(lxss.key(&distro.guid)?.u32(VALUE_CREATED_FOLDER).is_none())
}

fn import(
    wsl: &WslExe,
    lxss: &Lxss,
    verb: &str,
    name: &str,
    dir: &Path,
    dir_existed: bool,
    temp: Option<&Path>,
) -> Result<Vec<String>> {
    let mut done = Vec::new();
    let mut finished = false;
    if let Some(distro) = lxss.find(name)?
        && same_dir(&distro.base_path, dir)
    {
        if unfinished(lxss, &distro)? {
            wsl.unregister(name)?;
            done.push(format!(
                "unregistered `{name}`: a `wslbox {verb}` of it was stopped before it finished"
            ));
        } else {
            finished = true;
        }
    }
    if !finished && !dir_existed && dir.exists() {
        fs_err::remove_dir_all(dir).at(dir)?;
        done.push(format!(
            "removed {}, left by a stopped `wslbox {verb}` of `{name}`",
            dir.display()
        ));
    }
    remove_temp(temp)?;
    Ok(done)
}

fn remove_temp(temp: Option<&Path>) -> Result<()> {
    if let Some(temp) = temp
        && temp.exists()
    {
        fs_err::remove_file(temp).at(temp)?;
    }
    Ok(())
}

struct Names<'a> {
    name: &'a str,
    guid: &'a str,
    new_name: &'a str,
    old_name: &'a str,
}

fn upgrade(
    wsl: &WslExe,
    lxss: &Lxss,
    n: &Names<'_>,
    new_dir: &Path,
    new_dir_existed: bool,
    move_back: bool,
) -> Result<Vec<String>> {
    let all = lxss.list(&[])?;
    let Some(old) = all.iter().find(|d| d.guid.eq_ignore_ascii_case(n.guid)) else {
        // The old registration is gone: the upgrade got to its end (or the user removed it).
        return Ok(Vec::new());
    };
    let holder = all.iter().find(|d| same_name(&d.name, n.name));
    let mut done = Vec::new();
    let name = n.name;
    if same_name(&old.name, n.old_name) && holder.is_some_and(|h| h.guid != old.guid) {
        // Killed after the swap: the new one holds the name; do what the upgrade had left.
        let mut old = old.clone();
        old.name = name.to_owned();
        let mut report = Report::default();
        super::upgrade::after_swap(wsl, lxss, &old, n.old_name, new_dir, move_back, &mut report);
        done.push(format!("finished the stopped `wslbox upgrade` of `{name}`"));
        done.extend(report.changes);
        done.extend(report.warnings);
        return Ok(done);
    }
    if same_name(&old.name, n.old_name) {
        // Killed during the swap: the old one gets its name back.
        let opts = super::rename::RenameOptions {
            terminate: true,
            ..Default::default()
        };
        if let Some(holder) = holder {
            return Err(Error::UpgradeLeftover {
                name: holder.name.clone(),
                of: name.to_owned(),
            });
        }
        super::rename::rename(wsl, n.old_name, name, &opts)?;
        done.push(format!(
            "gave `{name}` its name back: a `wslbox upgrade` of it was stopped while swapping the names"
        ));
    }
    // Before (or undone) the swap: the half-built new one goes.
    if lxss.find(n.new_name)?.is_some() {
        wsl.unregister(n.new_name)?;
        done.push(format!(
            "unregistered `{}`, the new `{name}` a stopped `wslbox upgrade` was building",
            n.new_name
        ));
    }
    if !new_dir_existed && new_dir.exists() {
        fs_err::remove_dir_all(new_dir).at(new_dir)?;
        done.push(format!(
            "removed {}, left by a stopped `wslbox upgrade` of `{name}`",
            new_dir.display()
        ));
    }
    Ok(done)
}
