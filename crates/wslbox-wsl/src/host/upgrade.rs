//! `wslbox upgrade NAME`: a new root filesystem under the same distribution name, keeping the
//! users' files.
//!
//! 1. The old distribution is streamed out (`wsl --export NAME - --format tar`) into the
//!    producer, which keeps what it must from it while it builds the new rootfs, streamed into
//!    `wsl --import NAME.wslbox-new DIR.wslbox-new -`. Nothing of the old one changes yet; a
//!    failure here unregisters the new one and removes its folder.
//! 2. The swap: the old one is stopped and (with `--backup`) exported to a file; it is renamed
//!    to `NAME.wslbox-old` and the new one to `NAME` (registry, Terminal fragment and shortcut,
//!    as `rename` does). If the second rename fails, the old one gets its name back.
//! 3. Only then is the old one unregistered, and the new disk moved into the old folder.
//!    Failures from here on are warnings: the new distribution already works under its name.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::Produced;
use super::files::{TerminalFile, edit_json_file, terminal_settings_files};
use super::import::{default_location, guard_registration, prepare_folder, record_produced};
use super::journal::{Entry, Journal, recover};
use super::lxss::{Lxss, VALUE_CREATED_FOLDER};
use super::manage::{backup, check_backup, move_to};
use super::rename::{RenameOptions, rename};
use super::wsl_exe::WslExe;
use crate::distribution::Distribution;
use crate::error::{Error, ProducerError, Result};
use crate::names::temporary_names;
use crate::report::Report;
use crate::terminal_ids::fragment_profile_guid;
use crate::terminal_profiles::repoint_profile;
use crate::transaction::{Transaction, UndoLog};

#[derive(Debug, Clone, Default)]
pub struct UpgradeOptions {
    /// `--backup FILE`: the old distribution exported there before it is unregistered.
    pub backup: Option<PathBuf>,
}

/// Upgrades `name`. `producer` gets the old distribution's export (read it to the end) and
/// the new distribution's import stream.
pub fn upgrade(
    wsl: &WslExe,
    name: &str,
    opts: &UpgradeOptions,
    producer: impl FnOnce(
        Box<dyn Read + Send>,
        Box<dyn Write + Send>,
    ) -> std::result::Result<Produced, ProducerError>,
) -> Result<Report> {
    UndoLog::run(|log| {
        wsl.ensure_present()?;
        if !wsl.supports_stdio_archives() {
            return Err(Error::UpgradeNeedsStdio);
        }
        let recovered = recover(wsl);
        let lxss = Lxss::open()?;
        let old = lxss.get(name)?;
        if let Some(file) = &opts.backup {
            // Refused now, not after the new distribution was built.
            check_backup(&old, file)?;
        }
        let (new_name, old_name) = temporary_names(&old.name, &old.guid);
        for leftover in [&new_name, &old_name] {
            if lxss.find(leftover)?.is_some() {
                return Err(Error::UpgradeLeftover {
                    name: leftover.clone(),
                    of: old.name.clone(),
                });
            }
        }
        let old_dir = PathBuf::from(&old.base_path);
        // A Store distribution's folder belongs to its app package (and goes when the app is
        // uninstalled): the new one lives where wslbox puts distributions instead.
        let store = lxss.key(&old.guid)?.string("PackageFamilyName").is_some();
        let new_dir = if store {
            default_location(&old.name)?
        } else {
            sibling(&old_dir, "wslbox-new")
        };

        let _journal = Journal::begin(&Entry::Upgrade {
            name: old.name.clone(),
            guid: old.guid.clone(),
            new_name: new_name.clone(),
            old_name: old_name.clone(),
            new_dir: new_dir.clone(),
            new_dir_existed: new_dir.exists(),
            move_back: !store,
        })?;

        // 1. The new distribution, beside the old one.
        let mut tx = Transaction::new(log);
        let created = prepare_folder(&mut tx, &new_dir)?;
        let (export, stdout) = wsl.export_stream(&old.name)?;
        let mut export = Some(export);
        let built = wsl.import_stream(&new_name, &new_dir, old.version, |out| {
            let result = producer(Box::new(stdout), out);
            // The producer reads the export to its end; one that failed early stopped reading.
            let exported = export.take().expect("once").finish();
            match (result, exported) {
                (Ok(produced), Ok(())) => Ok(produced),
                // A failed export is the cause of whatever the producer made of its output.
                (_, Err(e)) => Err(e.into()),
                (Err(e), Ok(())) => Err(e),
            }
        });
        guard_registration(&mut tx, wsl, &new_name)?;
        let produced = built.map_err(export_failure_first)?;
        let fresh = lxss.get(&new_name)?;
        let mut report = recovered;
        report.changes.push(format!(
            "built the new `{}` as `{new_name}` in {}",
            old.name,
            new_dir.display()
        ));
        let warnings = record_produced(wsl, &lxss, &fresh, &produced, &mut tx)?;
        report.warnings.extend(warnings);
        carry_settings(&lxss, &old, &fresh, created)?;

        // 2. The swap.
        wsl.terminate(&old.name)?;
        report.changes.push(format!("stopped `{}`", old.name));
        if let Some(file) = &opts.backup {
            report.changes.extend(backup(wsl, &old.name, file)?.changes);
        }
        let full = RenameOptions {
            terminate: true,
            ..RenameOptions::default()
        };
        rename(wsl, &old.name, &old_name, &full)?;
        if let Err(e) = rename(wsl, &new_name, &old.name, &full) {
            return Err(match rename(wsl, &old_name, &old.name, &full) {
                Ok(_) => e,
                Err(restore) => Error::UpgradeSwapFailed {
                    name: old.name.clone(),
                    old_name: old_name.clone(),
                    error: Box::new(e),
                    restore: Box::new(restore),
                },
            });
        }
        // The new distribution holds the name: nothing may be rolled back from here.
        report.changes.extend(tx.commit());
        report.changes.push(format!(
            "`{}` is now the new distribution ({})",
            old.name, fresh.guid
        ));

        if old.configured.is_some() {
            report.warnings.push(format!(
                "the setup scripts recorded for `{}` ran on the old image only; run them on the new one with `wslbox configure {} SCRIPT…`",
                old.name, old.name
            ));
        }
        after_swap(wsl, &lxss, &old, &old_name, &new_dir, !store, &mut report);
        if store {
            report.changes.push(format!(
                "`{}` now lives in {} (not in its Store app's folder)",
                old.name,
                new_dir.display()
            ));
        }
        Ok(report)
    })
}

/// When the export failed, wsl.exe's import only saw a cut stream: the export's error is the
/// cause worth showing.
fn export_failure_first(e: Error) -> Error {
    match e {
        Error::Producer(inner) => match inner.downcast::<Error>() {
            Ok(wsl) => *wsl,
            Err(other) => Error::Producer(other),
        },
        other => other,
    }
}

/// `DIR.SUFFIX` beside `dir`.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir.file_name().unwrap_or_default().to_os_string();
    name.push(".");
    name.push(suffix);
    dir.with_file_name(name)
}

/// The old distribution's flags (interop, PATH, drive mounts) and default user when the
/// producer named none; whether wslbox created the new folder (so a move removes it).
fn carry_settings(
    lxss: &Lxss,
    old: &Distribution,
    fresh: &Distribution,
    created: bool,
) -> Result<()> {
    let key = lxss.key(&fresh.guid)?;
    key.set_u32("Flags", old.flags)?;
    if key.u32("DefaultUid").is_none_or(|uid| uid == 0)
        && let Some(uid) = old.default_uid
    {
        key.set_u32("DefaultUid", uid)?;
    }
    key.set_u32(VALUE_CREATED_FOLDER, u32::from(created))?;
    Ok(())
}

/// Points the user's `settings.json` entries for the old Terminal profile at the new one.
fn repoint_terminal_settings(old: &Distribution, lxss: &Lxss, report: &mut Report) {
    let Ok(fresh) = lxss.get(&old.name) else {
        return;
    };
    let (from, to) = (
        fragment_profile_guid(&old.guid),
        fragment_profile_guid(&fresh.guid),
    );
    for path in terminal_settings_files() {
        let result = UndoLog::run(|log| {
            let mut tx = Transaction::new(log);
            edit_json_file(
                &mut tx,
                &path,
                TerminalFile::Settings,
                "moved the settings of the old profile to the new one",
                |src| repoint_profile(src, &from, &to),
            )?;
            Ok(tx.commit())
        });
        match result {
            Ok(done) => report.changes.extend(done),
            Err(e) => report.warnings.push(format!(
                "Windows Terminal keeps its settings for the old profile in {} ({e}); the new profile {to} starts with the defaults",
                path.display()
            )),
        }
    }
}

/// What follows the swap: the Terminal settings move to the new profile, the old distribution
/// (renamed `old_name`) is unregistered, the new one becomes the default if the old one was, and
/// its disk moves into the old folder (`move_back`). What fails here is reported, since the
/// upgrade itself succeeded. Also how the journal finishes an upgrade killed after its swap.
pub(super) fn after_swap(
    wsl: &WslExe,
    lxss: &Lxss,
    old: &Distribution,
    old_name: &str,
    new_dir: &Path,
    move_back: bool,
    report: &mut Report,
) {
    repoint_terminal_settings(old, lxss, report);
    let unregistered = match wsl.unregister(old_name) {
        Ok(()) => {
            report.changes.push(format!(
                "unregistered the old `{}` (as `{old_name}`)",
                old.name
            ));
            true
        }
        Err(e) => {
            report.warnings.push(format!(
                "the old distribution is still registered as `{old_name}` ({e}); check it, then remove it with `wslbox remove {old_name}`"
            ));
            false
        }
    };
    // The default was the old registration's GUID.
    if old.default
        && let Err(e) = wsl.set_default(&old.name)
    {
        report.warnings.push(format!(
            "`{}` was the default distribution and could not be made it again: {e}; run `wslbox set-default {}`",
            old.name, old.name
        ));
    }
    if !unregistered || !move_back {
        return;
    }
    let old_dir = Path::new(&old.base_path);
    let empty = fs_err::read_dir(old_dir).map_or(true, |mut d| d.next().is_none());
    if !empty {
        report.warnings.push(format!(
            "{} still holds other files, so the new disk stays in {}; move it with `wslbox move {} FOLDER`",
            old_dir.display(),
            new_dir.display(),
            old.name
        ));
        return;
    }
    match move_to(wsl, &old.name, old_dir) {
        Ok(moved) => {
            report.changes.extend(moved.changes);
            report.warnings.extend(moved.warnings);
            if let Ok(d) = lxss.get(&old.name)
                && let Ok(key) = lxss.key(&d.guid)
            {
                let _ = key.set_u32(VALUE_CREATED_FOLDER, u32::from(old.created_folder));
            }
        }
        Err(e) => report.warnings.push(format!(
            "the new `{}` works from {}, but moving it into {} failed: {e}; run `wslbox move {} {}` later",
            old.name,
            new_dir.display(),
            old_dir.display(),
            old.name,
            old_dir.display()
        )),
    }
}
