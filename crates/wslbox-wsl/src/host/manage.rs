//! `list`, `move`, `backup`, `remove`, `set-user`, `set-default`.

use std::path::{Path, PathBuf};
use std::rc::Rc;

use super::import::{guard_registration, prepare_folder};
use super::lxss::{CONTENT_VALUES, Lxss, VALUE_CREATED_FOLDER};
use super::wsl_exe::WslExe;
use crate::capabilities::ExportFormat;
use crate::distribution::Distribution;
use crate::error::IoContext;
use crate::error::{Error, Result};
use crate::names::same_name;
use crate::report::Report;
use crate::transaction::{Transaction, UndoLog};

/// Every distribution, with its running state from wsl.exe.
pub fn list(wsl: &WslExe) -> Result<Vec<Distribution>> {
    let running = wsl.running()?;
    Lxss::open()?.list(&running)
}

fn refuse_running(wsl: &WslExe, name: &str) -> Result<()> {
    if wsl.running()?.iter().any(|r| same_name(r, name)) {
        return Err(Error::Running {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// Removes a folder wslbox created once it no longer holds the distribution.
fn remove_created_folder(distro: &Distribution, report: &mut Report) {
    let dir = Path::new(&distro.base_path);
    if !distro.created_folder || !dir.exists() {
        return;
    }
    match fs_err::remove_dir_all(dir) {
        Ok(()) => report.changes.push(format!("removed {}", dir.display())),
        Err(e) => report
            .warnings
            .push(format!("could not remove {}: {e}", dir.display())),
    }
}

/// `wslbox move NAME DIR`.
pub fn move_to(wsl: &WslExe, name: &str, dir: &Path) -> Result<Report> {
    UndoLog::run(|log| {
        let lxss = Lxss::open()?;
        let distro = lxss.get(name)?;
        refuse_running(wsl, &distro.name)?;
        let mut tx = Transaction::new(log);
        let created = prepare_folder(&mut tx, dir)?;
        let mut report = Report::default();
        if wsl.supports_manage() {
            wsl.manage_move(&distro.name, dir)?;
            tx.note(format!(
                "moved `{}` to {} (wsl --manage --move)",
                distro.name,
                dir.display()
            ));
            // From here the new folder holds the disk: nothing may be rolled back.
            report.changes.extend(tx.commit());
            tx = Transaction::new(log);
            report
                .changes
                .extend(verify_moved_disk(&lxss, &distro.name, dir)?);
        } else {
            move_by_reimport(wsl, &lxss, &distro, dir, &mut tx)?;
        }
        let moved = lxss.get(&distro.name)?;
        lxss.key(&moved.guid)?
            .set_u32(VALUE_CREATED_FOLDER, u32::from(created))?;
        report.changes.extend(tx.commit());
        remove_created_folder(&distro, &mut report);
        Ok(report)
    })
}

/// WSL 2.7's `--manage --move` has moved the disk but left `BasePath` at the old folder
/// (WSL#40716), or left the disk owned by Administrators (WSL#40159). Checks that the disk
/// is in `dir` and that `BasePath` says so, repairing `BasePath` when it does not; reports a
/// disk that did not move, is nowhere, or cannot be opened, rather than claiming success.
/// Returns what it changed.
fn verify_moved_disk(lxss: &Lxss, name: &str, dir: &Path) -> Result<Vec<String>> {
    let moved = lxss.get(name)?;
    let Some(vhd) = moved.vhd.clone() else {
        return Ok(Vec::new()); // WSL 1: no disk file to check.
    };
    let dir = std::path::absolute(dir).at(dir)?;
    let disk = dir.join(&vhd);
    let recorded = PathBuf::from(&moved.base_path);
    if !disk.is_file() {
        if recorded.join(&vhd).is_file() {
            return Err(Error::DiskNotMoved {
                name: name.to_owned(),
                disk: recorded.join(&vhd),
            });
        }
        return Err(Error::DiskLostAfterMove {
            name: name.to_owned(),
            disk: vhd,
            base_path: moved.base_path,
            dir,
        });
    }
    let mut changes = Vec::new();
    let same = |a: &Path, b: &Path| {
        a.to_string_lossy().trim_end_matches('\\').to_lowercase()
            == b.to_string_lossy().trim_end_matches('\\').to_lowercase()
    };
    if !same(&recorded, &dir) {
        lxss.key(&moved.guid)?
            .set_string("BasePath", &format!(r"\\?\{}", dir.display()))?;
        changes.push(format!(
            "repaired BasePath: WSL moved the disk to {} but left BasePath at {} (WSL#40716)",
            dir.display(),
            moved.base_path
        ));
    }
    if let Err(source) = fs_err::File::open(&disk) {
        return Err(Error::DiskInaccessible {
            name: name.to_owned(),
            path: disk,
            source,
        });
    }
    Ok(changes)
}

/// Settings that belong to the distribution rather than to its GUID; re-import loses them.
struct Carried {
    uids: Vec<(&'static str, u32)>,
    values: Vec<(&'static str, Option<windows_registry::Value>)>,
}

impl Carried {
    fn read(lxss: &Lxss, guid: &str) -> Result<Carried> {
        let key = lxss.key(guid)?;
        let uids = ["DefaultUid", "Flags", VALUE_CREATED_FOLDER]
            .into_iter()
            .filter_map(|v| key.u32(v).map(|n| (v, n)))
            .collect();
        let values = CONTENT_VALUES
            .into_iter()
            .map(|v| (v, key.value(v)))
            .collect();
        Ok(Carried { uids, values })
    }

    fn write(&self, lxss: &Lxss, name: &str) -> Result<()> {
        let key = lxss.key(&lxss.get(name)?.guid)?;
        for (v, n) in &self.uids {
            key.set_u32(v, *n)?;
        }
        for (v, value) in &self.values {
            key.put_value(v, value.as_ref())?;
        }
        Ok(())
    }
}

/// For WSL without `--manage --move`: export, unregister, import at the new place. If the
/// import fails, the distribution is imported back where it was.
fn move_by_reimport<'a>(
    wsl: &'a WslExe,
    lxss: &'a Lxss,
    distro: &'a Distribution,
    dir: &Path,
    tx: &mut Transaction<'a>,
) -> Result<()> {
    let carried = Rc::new(Carried::read(lxss, &distro.guid)?);
    let tar = Rc::new(
        tempfile::Builder::new()
            .prefix("wslbox-move-")
            .suffix(".tar")
            .tempfile()
            .at(&std::env::temp_dir())?
            .into_temp_path(),
    );
    wsl.export_file(&distro.name, &tar, ExportFormat::Tar)?;
    wsl.unregister(&distro.name)?;
    let old_dir = PathBuf::from(&distro.base_path);
    let (undo_tar, undo_carried) = (Rc::clone(&tar), Rc::clone(&carried));
    tx.done(
        format!("unregistered `{}` from {}", distro.name, old_dir.display()),
        move || {
            wsl.import_file(&distro.name, &old_dir, &undo_tar, distro.version)?;
            undo_carried.write(lxss, &distro.name)
        },
    );
    let imported = wsl.import_file(&distro.name, dir, &tar, distro.version);
    guard_registration(tx, wsl, &distro.name)?;
    imported?;
    carried.write(lxss, &distro.name)?;
    tx.note(format!(
        "re-imported `{}` at {} (export + import)",
        distro.name,
        dir.display()
    ));
    Ok(())
}

/// `wslbox backup NAME -o FILE`: `wsl --export` in the format the extension names.
/// The export format a backup of `distro` to `file` gets, or why there is none.
pub(super) fn check_backup(distro: &Distribution, file: &Path) -> Result<ExportFormat> {
    let format = ExportFormat::from_path(file).ok_or_else(|| Error::UnknownBackupFormat {
        path: file.to_owned(),
    })?;
    if format == ExportFormat::Vhd && distro.version != 2 {
        return Err(Error::NoVhdForWsl1 {
            name: distro.name.clone(),
        });
    }
    Ok(format)
}

pub fn backup(wsl: &WslExe, name: &str, file: &Path) -> Result<Report> {
    let distro = Lxss::open()?.get(name)?;
    let format = check_backup(&distro, file)?;
    let existed = file.exists();
    if let Err(e) = wsl.export_file(&distro.name, file, format) {
        if !existed && file.exists() {
            let _ = fs_err::remove_file(file);
        }
        return Err(e);
    }
    Ok(Report {
        changes: vec![format!(
            "exported `{}` to {} ({})",
            distro.name,
            file.display(),
            format.wsl_arg()
        )],
        warnings: Vec::new(),
    })
}

/// `wslbox remove NAME`: unregisters, then deletes the folder if wslbox created it. Asking for
/// confirmation is the caller's job.
pub fn remove(wsl: &WslExe, name: &str) -> Result<Report> {
    let distro = Lxss::open()?.get(name)?;
    wsl.unregister(&distro.name)?;
    let mut report = Report {
        changes: vec![format!("unregistered `{}`", distro.name)],
        warnings: Vec::new(),
    };
    if distro.created_folder {
        remove_created_folder(&distro, &mut report);
    } else if Path::new(&distro.base_path).exists() {
        report.warnings.push(format!(
            "kept {} (wslbox did not create it)",
            distro.base_path
        ));
    }
    Ok(report)
}

/// `wslbox set-user NAME USER`: `wsl --manage --set-default-user`, or `DefaultUid` when USER is
/// numeric and that verb is missing.
pub fn set_user(wsl: &WslExe, name: &str, user: &str) -> Result<Report> {
    let lxss = Lxss::open()?;
    let distro = lxss.get(name)?;
    if wsl.supports_manage() {
        wsl.manage_set_default_user(&distro.name, user)?;
    } else if let Ok(uid) = user.parse::<u32>() {
        lxss.key(&distro.guid)?.set_u32("DefaultUid", uid)?;
    } else {
        return Err(Error::UserLookupUnsupported {
            name: distro.name,
            user: user.to_owned(),
        });
    }
    Ok(Report {
        changes: vec![format!("default user of `{}`: {user}", distro.name)],
        warnings: Vec::new(),
    })
}

/// `wslbox set-default NAME`.
pub fn set_default(wsl: &WslExe, name: &str) -> Result<Report> {
    let distro = Lxss::open()?.get(name)?;
    wsl.set_default(&distro.name)?;
    Ok(Report {
        changes: vec![format!("default distribution: `{}`", distro.name)],
        warnings: Vec::new(),
    })
}
