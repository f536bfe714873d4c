//! The Windows side: wsl.exe, the Lxss registry, shortcuts, Terminal files, and the
//! operations built from them. Each operation returns a [`Report`] of what it changed.
#![cfg(windows)]

mod configure;
mod files;
mod import;
mod job;
mod journal;
mod lxss;
mod manage;
mod rename;
mod shortcut;
mod upgrade;
mod wsl_exe;

pub use crate::report::Report;
pub use configure::{ScriptOutcome, configure, run_script};
pub use files::{BACKUP_SUFFIX, terminal_settings_files};
pub use import::{
    ImportOptions, Produced, check_new_distribution, clone, default_location, import,
};
pub use job::children_die_with_this_process;
pub use journal::recover;
pub use lxss::{LXSS_KEY, Lxss, VALUE_CONFIGURED, VALUE_CREATED_FOLDER, VALUE_DIGEST, VALUE_IMAGE};
pub use manage::{backup, list, move_to, remove, set_default, set_user};
pub use rename::{RenameOptions, rename};
pub use shortcut::{arguments as shortcut_arguments, set_arguments as set_shortcut_arguments};
pub use upgrade::{UpgradeOptions, upgrade};
pub use wsl_exe::{CheckedExport, ExportReader, ExportStream, WSL_EXE_ENV, WslExe};
/// The type of [`Produced::default_user`], defined by wslbox-rootfs's customization.
pub use wslbox_rootfs::customize::DefaultUser;
