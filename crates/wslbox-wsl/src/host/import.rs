//! `wslbox import` and `wslbox clone`: registering a distribution from a tar stream.
//!
//! Transactional: the install folder is created (and removed again) by us, and whenever
//! wsl.exe got as far as registering the name, a later failure unregisters it. A failure
//! before registration leaves nothing behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use wslbox_rootfs::customize::DefaultUser;

use super::journal::{Entry, Journal, recover};
use super::lxss::{CONTENT_VALUES, Lxss, VALUE_CREATED_FOLDER, VALUE_DIGEST, VALUE_IMAGE};
use super::wsl_exe::WslExe;
use crate::capabilities::ExportFormat;
use crate::error::IoContext;
use crate::error::{Error, ProducerError, Result};
use crate::names::check_new_name;
use crate::report::Report;
use crate::transaction::{Transaction, UndoLog};

#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub name: String,
    /// Install folder; default `%LOCALAPPDATA%\wslbox\distros\NAME`.
    pub location: Option<PathBuf>,
    /// WSL version, 1 or 2.
    pub version: u8,
    /// `--first-run`: register with `wsl --install --from-file -`, so the `.wsl` first-run
    /// setup (`/etc/wsl-distribution.conf`) runs on the first launch and sets the default
    /// user. The producer must write a `.wsl` tree. Needs [`WslExe::supports_install_from_file`].
    pub first_run: bool,
}

/// What the producer learned while writing the tar: provenance and the default user.
#[derive(Debug, Clone, Default)]
pub struct Produced {
    /// Stored as `WslboxImage`.
    pub image: Option<String>,
    /// Stored as `WslboxDigest`.
    pub digest: Option<String>,
    pub default_user: Option<DefaultUser>,
}

/// `%LOCALAPPDATA%\wslbox\distros\NAME`; an error when `LOCALAPPDATA` names no folder
/// (never the temp folder: temp cleaners would delete the distribution's disk).
pub fn default_location(name: &str) -> Result<PathBuf> {
    let data = wslbox_dirs::local_data().map_err(|source| Error::NoFolder {
        source,
        fix: "it holds the install folders of distributions; pass --location DIR",
    })?;
    Ok(data.join("distros").join(name))
}

/// Refuses an invalid or taken name. Call it before downloading anything.
pub fn check_new_distribution(name: &str) -> Result<()> {
    let names = Lxss::open()?.names()?;
    Ok(check_new_name(name, names.iter().map(String::as_str))?)
}

/// Creates the install folder if needed (undone on failure). Returns whether we created it.
pub(super) fn prepare_folder<'a>(tx: &mut Transaction<'a>, dir: &Path) -> Result<bool> {
    if dir.exists() {
        if fs_err::read_dir(dir).at(dir)?.next().is_some() {
            return Err(Error::FolderNotEmpty {
                path: dir.to_owned(),
            });
        }
        return Ok(false);
    }
    fs_err::create_dir_all(dir).at(dir)?;
    let undo_dir = dir.to_owned();
    tx.done(format!("created {}", dir.display()), move || {
        if undo_dir.exists() {
            fs_err::remove_dir_all(&undo_dir).at(&undo_dir)?;
        }
        Ok(())
    });
    Ok(true)
}

/// After wsl.exe ran (successfully or not): if `name` is registered now, undoing means
/// unregistering it.
pub(super) fn guard_registration<'a>(
    tx: &mut Transaction<'a>,
    wsl: &'a WslExe,
    name: &'a str,
) -> Result<()> {
    if Lxss::open()?.find(name)?.is_some() {
        tx.done(format!("registered `{name}`"), move || wsl.unregister(name));
    }
    Ok(())
}

/// Pulls nothing itself: `producer` writes the root filesystem tar into the writer it is
/// given (wsl.exe's stdin, or a temp file for WSL without `--import -`).
pub fn import(
    wsl: &WslExe,
    opts: &ImportOptions,
    producer: impl FnOnce(Box<dyn Write + Send>) -> std::result::Result<Produced, ProducerError>,
) -> Result<Report> {
    UndoLog::run(|log| {
        let name = opts.name.as_str();
        wsl.ensure_present()?;
        let recovered = recover(wsl);
        check_new_distribution(name)?;
        let dir = match &opts.location {
            Some(dir) => dir.clone(),
            None => default_location(name)?,
        };
        let stdio = wsl.supports_stdio_archives();
        let temp = (!opts.first_run && !stdio).then(|| temp_tar("import"));
        let _journal = Journal::begin(&Entry::Import {
            verb: "import".into(),
            name: name.to_owned(),
            dir: dir.clone(),
            dir_existed: dir.exists(),
            temp: temp.clone(),
        })?;
        let mut tx = Transaction::new(log);
        let created = prepare_folder(&mut tx, &dir)?;

        let registered = if opts.first_run {
            if !wsl.supports_install_from_file() {
                return Err(Error::FirstRunUnsupported {
                    version: wsl.version().map(|v| v.to_string()),
                });
            }
            wsl.install_stream(name, &dir, opts.version, producer)
        } else if let Some(temp) = temp {
            import_via_temp_file(wsl, name, &dir, temp, opts.version, producer)
        } else {
            wsl.import_stream(name, &dir, opts.version, producer)
        };
        guard_registration(&mut tx, wsl, name)?;
        let produced = registered?;

        let lxss = Lxss::open()?;
        let distro = lxss.get(name)?;
        let mut produced = produced;
        if opts.first_run {
            // The first-run setup sets the default user (`[oobe] defaultUid`).
            produced.default_user = None;
        }
        let warnings = record_produced(wsl, &lxss, &distro, &produced, &mut tx)?;
        lxss.key(&distro.guid)?
            .set_u32(VALUE_CREATED_FOLDER, u32::from(created))?;
        let mut changes = recovered.changes;
        changes.push(format!(
            "imported `{name}` ({}) into {}",
            distro.guid,
            dir.display()
        ));
        changes.extend(tx.commit());
        Ok(Report {
            changes,
            warnings: [recovered.warnings, warnings].concat(),
        })
    })
}

/// Writes what the producer learned onto a fresh registration: the default user (through
/// `wsl --manage --set-default-user`, else `DefaultUid`) and the provenance values. Returns
/// warnings for the report.
pub(super) fn record_produced(
    wsl: &WslExe,
    lxss: &Lxss,
    distro: &crate::Distribution,
    produced: &Produced,
    tx: &mut Transaction<'_>,
) -> Result<Vec<String>> {
    let name = distro.name.as_str();
    let key = lxss.key(&distro.guid)?;
    let mut warnings = Vec::new();
    if let Some(user) = &produced.default_user {
        if wsl.supports_manage() {
            wsl.manage_set_default_user(name, &user.name)?;
            tx.note(format!(
                "default user: {} (wsl --manage --set-default-user)",
                user.name
            ));
        } else if let Some(uid) = user.uid {
            key.set_u32("DefaultUid", uid)?;
            tx.note(format!("default user: {} (DefaultUid {uid})", user.name));
        } else {
            warnings.push(format!(
                "this WSL has no `--manage --set-default-user` and the uid of `{}` is unknown; \
                 /etc/wsl.conf [user] default decides, or run `wslbox set-user {name} UID`",
                user.name
            ));
        }
    }
    if let Some(image) = &produced.image {
        key.set_string(VALUE_IMAGE, image)?;
    }
    if let Some(digest) = &produced.digest {
        key.set_string(VALUE_DIGEST, digest)?;
    }
    Ok(warnings)
}

/// A fresh temp tar path for a WSL without `--import -`/`--export -`, named before it is
/// made so that the journal can name it (a killed run's temp tar is removed by the next).
fn temp_tar(verb: &str) -> PathBuf {
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(std::process::id());
    std::env::temp_dir().join(format!("wslbox-{verb}-{random:016x}.tar"))
}

/// Creates the temp tar at `path`, removed again when the returned guard drops.
fn create_temp(path: PathBuf) -> Result<(fs_err::File, tempfile::TempPath)> {
    let file = fs_err::File::create_new(&path).at(&path)?;
    let guard = tempfile::TempPath::try_from_path(&path).at(&path)?;
    Ok((file, guard))
}

/// For WSL without `--import -`: the tar goes through a temp file, deleted afterwards.
fn import_via_temp_file(
    wsl: &WslExe,
    name: &str,
    dir: &Path,
    temp: PathBuf,
    version: u8,
    producer: impl FnOnce(Box<dyn Write + Send>) -> std::result::Result<Produced, ProducerError>,
) -> Result<Produced> {
    let (file, path) = create_temp(temp)?;
    let produced = producer(Box::new(file.into_parts().0)).map_err(Error::Producer)?;
    wsl.import_file(name, dir, &path, version)?;
    Ok(produced)
}

/// `wslbox clone NAME NEW`: export streamed into import; keeps the default user, provenance and
/// the record of setup scripts (the copy has their effects).
pub fn clone(wsl: &WslExe, name: &str, new: &str, location: Option<PathBuf>) -> Result<Report> {
    UndoLog::run(|log| {
        let recovered = recover(wsl);
        let lxss = Lxss::open()?;
        let source = lxss.get(name)?;
        check_new_distribution(new)?;
        let dir = match location {
            Some(dir) => dir,
            None => default_location(new)?,
        };
        let temp = (!wsl.supports_stdio_archives()).then(|| temp_tar("clone"));
        let _journal = Journal::begin(&Entry::Import {
            verb: "clone".into(),
            name: new.to_owned(),
            dir: dir.clone(),
            dir_existed: dir.exists(),
            temp: temp.clone(),
        })?;
        let mut tx = Transaction::new(log);
        let created = prepare_folder(&mut tx, &dir)?;

        let registered = match temp {
            None => wsl.export_into_import(&source.name, new, &dir, source.version),
            Some(temp) => {
                let (file, tmp) = create_temp(temp)?;
                drop(file);
                wsl.export_file(&source.name, &tmp, ExportFormat::Tar)
                    .and_then(|()| wsl.import_file(new, &dir, &tmp, source.version))
            }
        };
        guard_registration(&mut tx, wsl, new)?;
        registered?;

        let copy = lxss.get(new)?;
        let key = lxss.key(&copy.guid)?;
        let from = lxss.key(&source.guid)?;
        for value in ["DefaultUid", "Flags"] {
            if let Some(v) = from.u32(value) {
                key.set_u32(value, v)?;
            }
        }
        for value in CONTENT_VALUES {
            key.put_value(value, from.value(value).as_ref())?;
        }
        key.set_u32(VALUE_CREATED_FOLDER, u32::from(created))?;
        let mut changes = recovered.changes;
        changes.push(format!(
            "cloned `{}` into `{new}` ({}) at {}",
            source.name,
            copy.guid,
            dir.display()
        ));
        changes.extend(tx.commit());
        Ok(Report {
            changes,
            warnings: recovered.warnings,
        })
    })
}
