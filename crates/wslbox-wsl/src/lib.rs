//! The WSL host on Windows: wsl.exe, the Lxss registry, Terminal fragments and Start Menu
//! shortcuts.
//!
//! Platform-neutral pieces (tested everywhere):
//! - [`names`]: new names against registered ones (the syntax rule is wslbox-rootfs's);
//! - [`output`] and [`wsl_error`]: decoding wsl.exe output and its `Error code: Wsl/...` lines;
//! - [`jsonc`] and [`terminal_profiles`]: comment-preserving edits of Windows Terminal JSON;
//! - [`args`]: `-d OLD` rewriting in shortcut arguments and Terminal command lines;
//! - [`capabilities`]: what the installed wsl.exe supports, export formats;
//! - [`distribution`]: the [`Distribution`] record that `wslbox list` prints;
//! - [`script`], [`tail`] and [`configured`]: setup scripts (read, hashed, fed to `/bin/sh -s`
//!   behind a preamble), the bounded tail of their output, and the `WslboxConfigured` value;
//! - [`transaction`] and [`report`]: undo-on-failure steps and the list of changes made.
//!
//! On Windows, the `host` module does the work: `host::WslExe` drives wsl.exe (or the test
//! simulator named by `WSLBOX_WSL_EXE`), `host::Lxss` reads and writes `HKCU\...\Lxss`, and the
//! operations (`import`, `configure`, `rename`, `move_to`, `clone`, `backup`, `remove`,
//! `set_user`, `set_default`) run as [`transaction::Transaction`]s that undo completed steps when a later
//! one fails, returning a [`Report`].

pub mod args;
pub mod capabilities;
pub mod configured;
pub mod distribution;
pub mod error;
pub mod jsonc;
pub mod names;
pub mod output;
pub mod report;
pub mod script;
pub mod tail;
pub mod terminal_ids;
pub mod terminal_profiles;
pub mod transaction;
pub mod wsl_error;

#[cfg(windows)]
pub mod host;

pub use distribution::{Distribution, State};
pub use error::{Error, ProducerError, Result};
pub use report::Report;
pub use script::{OutputSink, Script, Stream};
