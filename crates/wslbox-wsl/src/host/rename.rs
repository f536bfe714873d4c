//! `wslbox rename OLD NEW`: WSL has no rename verb, so this rewrites what registration created
//! (WSL-FACTS.md, "Renaming"): `DistributionName`, the Terminal fragment and `settings.json`
//! profiles, and the Start Menu shortcut. Every step is undone if a later one fails.

use std::path::{Path, PathBuf};

use super::files::{TerminalFile, rename_file, rename_in_json_file, terminal_settings_files};
use super::lxss::Lxss;
use super::shortcut;
use super::wsl_exe::WslExe;
use crate::args::{lines_mentioning, rewrite_distribution_args};
use crate::error::{Error, Result};
use crate::names::{check_new_name, same_name};
use crate::report::Report;
use crate::transaction::{Transaction, UndoLog};

#[derive(Debug, Clone)]
pub struct RenameOptions {
    /// Stop a running distribution instead of refusing.
    pub terminate: bool,
    /// Edit Windows Terminal files (`--no-terminal` clears it).
    pub terminal: bool,
    /// Rename the Start Menu shortcut (`--no-shortcut` clears it).
    pub shortcut: bool,
}

impl Default for RenameOptions {
    fn default() -> Self {
        RenameOptions {
            terminate: false,
            terminal: true,
            shortcut: true,
        }
    }
}

pub fn rename(wsl: &WslExe, old: &str, new: &str, opts: &RenameOptions) -> Result<Report> {
    UndoLog::run(|log| {
        let lxss = Lxss::open()?;
        let distro = lxss.get(old)?;
        let others = lxss.names()?;
        // A case-only rename of the same distribution is allowed.
        check_new_name(
            new,
            others
                .iter()
                .map(String::as_str)
                .filter(|n| *n != distro.name),
        )?;
        let old = distro.name.clone();

        let mut changes = Vec::new();
        if wsl.running()?.iter().any(|r| same_name(r, &old)) {
            if !opts.terminate {
                return Err(Error::Running { name: old });
            }
            wsl.terminate(&old)?;
            changes.push(format!("stopped `{old}` (wsl --terminate)"));
        }

        let key = lxss.key(&distro.guid)?;
        let mut tx = Transaction::new(log);
        key.set_string("DistributionName", new)?;
        tx.done(
            format!("registry: DistributionName `{old}` → `{new}`"),
            || key.set_string("DistributionName", &old),
        );

        if opts.terminal {
            if let Some(fragment) = distro.terminal_profile_path.as_deref().map(Path::new)
                && fragment.is_file()
            {
                rename_in_json_file(
                    &mut tx,
                    fragment,
                    &distro.guid,
                    &old,
                    new,
                    TerminalFile::Fragment,
                )?;
            }
            for settings in terminal_settings_files() {
                rename_in_json_file(
                    &mut tx,
                    &settings,
                    &distro.guid,
                    &old,
                    new,
                    TerminalFile::Settings,
                )?;
            }
        }

        if opts.shortcut
            && let Some(link) = distro.shortcut_path.as_deref().map(PathBuf::from)
            && link.is_file()
        {
            let args = shortcut::arguments(&link)?;
            if let Some(rewritten) = rewrite_distribution_args(&args, &old, new) {
                shortcut::set_arguments(&link, &rewritten)?;
                let undo_link = link.clone();
                tx.done(
                    format!("shortcut arguments: `{args}` → `{rewritten}`"),
                    move || shortcut::set_arguments(&undo_link, &args),
                );
            }
            let stem_is_old = link
                .file_stem()
                .and_then(|s| s.to_str())
                .is_some_and(|s| same_name(s, &old));
            if stem_is_old {
                let target = link.with_file_name(format!("{new}.lnk"));
                let what = format!("shortcut: {} → {}", link.display(), target.display());
                rename_file(&mut tx, what, &link, &target)?;
                let target_text = target.display().to_string();
                key.set_string("ShortcutPath", &target_text)?;
                let before = link.display().to_string();
                let key = &key;
                tx.done(
                    format!("registry: ShortcutPath → {target_text}"),
                    move || key.set_string("ShortcutPath", &before),
                );
            }
        }

        changes.extend(tx.commit());
        Ok(Report {
            changes,
            warnings: mentions_elsewhere(&old, new),
        })
    })
}

/// Files we know may name a distribution but do not edit.
fn mentions_elsewhere(old: &str, new: &str) -> Vec<String> {
    let Some(profile) = std::env::var_os("USERPROFILE").map(PathBuf::from) else {
        return Vec::new();
    };
    [".wslconfig", ".wslgconfig"]
        .into_iter()
        .map(|f| profile.join(f))
        .filter_map(|path| {
            let text = fs_err::read_to_string(&path).ok()?;
            let lines = lines_mentioning(&text, old);
            (!lines.is_empty()).then(|| {
                let lines = lines
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ");
                format!(
                    "{} mentions `{old}` (line {lines}); update it to `{new}` by hand",
                    path.display()
                )
            })
        })
        .collect()
}
