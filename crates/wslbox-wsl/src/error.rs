//! Errors of WSL host operations.

use std::path::{Path, PathBuf};

use crate::names::NameError;
use crate::wsl_error::WslFailure;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("no WSL distribution is named `{name}`; see `wslbox list`")]
    NotFound { name: String },
    #[error("`{name}` is running; stop it first or pass --terminate")]
    Running { name: String },
    #[error("`wsl.exe {args}` failed: {failure}")]
    Wsl { args: String, failure: WslFailure },
    #[error(
        "WSL is not installed: there is no {}; install it with `wsl --install` in an administrator terminal, then restart Windows (or set WSLBOX_WSL_EXE to another wsl.exe)",
        path.display()
    )]
    WslMissing { path: PathBuf },
    #[error("could not run {}: {source}; is WSL installed? (set WSLBOX_WSL_EXE to use another wsl.exe)", path.display())]
    WslSpawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("writing to `wsl.exe {args}` failed: {source}")]
    WslInput {
        args: String,
        source: std::io::Error,
    },
    #[error("registry {key}: {message}")]
    Registry { key: String, message: String },
    #[error("Start Menu shortcut {}: {message}", path.display())]
    Shortcut { path: PathBuf, message: String },
    #[error("Windows Terminal settings {}: {source}; fix the file or pass --no-terminal", path.display())]
    Terminal {
        path: PathBuf,
        source: crate::jsonc::JsoncError,
    },
    /// A folder wslbox keeps its own files in (install folders, the crash journal) is unknown.
    #[error("{source}; {fix}")]
    NoFolder {
        source: wslbox_dirs::Unknown,
        fix: &'static str,
    },
    #[error("the install folder {} already exists and is not empty; choose a new or empty folder", path.display())]
    FolderNotEmpty { path: PathBuf },
    #[error(
        "after `wsl --manage {name} --move`, the disk {disk} is neither in the folder the registry names ({base_path}) nor in {}; WSL did not finish the move. Find the file and run `wslbox move {name} FOLDER` again, or restore it from a backup", dir.display()
    )]
    DiskLostAfterMove {
        name: String,
        disk: String,
        base_path: String,
        dir: PathBuf,
    },
    #[error(
        "`wsl --manage {name} --move` reported success, but the disk is still {}; the distribution is unchanged there. Run `wslbox move` again, or update WSL (`wsl --update`)", disk.display()
    )]
    DiskNotMoved { name: String, disk: PathBuf },
    #[error(
        "after `wsl --manage {name} --move`, {} cannot be opened ({source}); WSL 2.7 has left moved disks owned by Administrators (WSL#40159): give your user access to the file (icacls), then start the distribution", path.display()
    )]
    DiskInaccessible {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("producing the root filesystem failed: {}", chain(.0.as_ref()))]
    Producer(ProducerError),
    #[error(
        "this WSL ({}) has no `wsl --install --from-file`, which --first-run needs; run `wsl --update` (2.4.4 or later), or import without --first-run", version.as_deref().unwrap_or("the Windows 10 inbox version")
    )]
    FirstRunUnsupported { version: Option<String> },
    #[error(
        "`wslbox upgrade` streams the old distribution out of `wsl --export NAME -`, which this WSL lacks; install WSL from the Store (`wsl --update`)"
    )]
    UpgradeNeedsStdio,
    #[error(
        "`{name}` is registered: an earlier `wslbox upgrade` of `{of}` was interrupted. Check it (`wsl -d {name}`), then remove it (`wslbox remove {name}`) and upgrade again"
    )]
    UpgradeLeftover { name: String, of: String },
    #[error(
        "upgrading `{name}` failed while swapping the names ({error}), and giving the old distribution its name back failed too ({restore}): it is registered as `{old_name}`; rename it back with `wslbox rename {old_name} {name}`"
    )]
    UpgradeSwapFailed {
        name: String,
        old_name: String,
        error: Box<Error>,
        restore: Box<Error>,
    },
    #[error("cannot tell the backup format of {}; name it .tar, .tar.gz, .tar.xz or .vhdx", path.display())]
    UnknownBackupFormat { path: PathBuf },
    #[error("`{name}` is a WSL 1 distribution and has no .vhdx; use .tar")]
    NoVhdForWsl1 { name: String },
    #[error(
        "this WSL cannot look up user `{user}` (no `wsl --manage --set-default-user`); pass the numeric uid, e.g. `wslbox set-user {name} 1000`, or run `wsl --update`"
    )]
    UserLookupUnsupported { name: String, user: String },
    #[error("cannot read the setup script: {source}; nothing was imported or run")]
    ScriptUnreadable {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", configure_failed(.name, .script, .code, .tail, .retry))]
    ConfigureFailed {
        name: String,
        script: PathBuf,
        /// The script's exit code, as wsl.exe passed it on.
        code: i32,
        /// The last lines the script printed (stdout and stderr).
        tail: Vec<String>,
        /// The `wslbox configure` command that runs this script and the ones after it (those
        /// before it succeeded).
        retry: String,
    },
    #[error("{error}\nand the cleanup was incomplete:\n  {}", failures.join("\n  "))]
    Incomplete {
        error: Box<Error>,
        /// The undo steps that failed, newest first.
        failures: Vec<String>,
    },
    #[error("{}", io_message(path, source))]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn configure_failed(name: &str, script: &Path, code: &i32, tail: &[String], retry: &str) -> String {
    let mut text = format!(
        "the setup script {} failed in `{name}` with exit code {code}",
        script.display()
    );
    match tail.len() {
        0 => text.push_str(" and printed nothing"),
        1 => text.push_str("; its last line:"),
        n => text.push_str(&format!("; its last {n} lines:")),
    }
    for line in tail {
        text.push_str(&format!("\n    | {line}"));
    }
    text.push_str(&format!(
        "\n`{name}` exists and stays registered, marked unconfigured; fix the script and \
         retry from it with `{retry}`"
    ));
    text
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a root-filesystem producer (the export pipeline, in the binary) fails with.
pub type ProducerError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// fs_err's messages name the path already; others get it in front.
fn io_message(path: &std::path::Path, source: &std::io::Error) -> String {
    let text = source.to_string();
    let shown = path.display().to_string();
    if text.contains(&shown) {
        text
    } else {
        format!("{shown}: {text}")
    }
}

/// Puts the path on an I/O error.
#[cfg_attr(not(windows), allow(dead_code))]
pub(crate) trait IoContext<T> {
    fn at(self, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
    }
}

/// `error: cause: cause`, as anyhow's `{:#}` prints a chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_name_their_path_once() {
        let path = std::path::Path::new("/tmp/x.tar");
        let plain = Error::Io {
            path: path.into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(plain.to_string(), "/tmp/x.tar: disk full");
        let fs_err = fs_err::File::open("/nonexistent/wslbox-test").unwrap_err();
        let named = Error::Io {
            path: "/nonexistent/wslbox-test".into(),
            source: fs_err,
        };
        assert_eq!(
            named
                .to_string()
                .matches("/nonexistent/wslbox-test")
                .count(),
            1,
            "{named}"
        );
    }

    #[test]
    fn configure_failure_names_the_distribution_script_code_tail_and_retry() {
        let err = Error::ConfigureFailed {
            name: "dev".into(),
            script: PathBuf::from("b.sh"),
            code: 3,
            tail: vec!["E: Unable to locate package nope".into(), "bye".into()],
            retry: "wslbox configure dev b.sh c.sh".into(),
        };
        assert_eq!(
            err.to_string(),
            "the setup script b.sh failed in `dev` with exit code 3; its last 2 lines:\n    \
             | E: Unable to locate package nope\n    | bye\n\
             `dev` exists and stays registered, marked unconfigured; fix the script and \
             retry from it with `wslbox configure dev b.sh c.sh`"
        );
    }

    #[test]
    fn producer_errors_show_their_whole_chain() {
        let inner: ProducerError = anyhow::anyhow!("connection reset")
            .context("pulling alpine")
            .into();
        assert_eq!(
            Error::Producer(inner).to_string(),
            "producing the root filesystem failed: pulling alpine: connection reset"
        );
    }

    #[test]
    fn silent_configure_failure_says_so() {
        let err = Error::ConfigureFailed {
            name: "dev".into(),
            script: PathBuf::from("a.sh"),
            code: 1,
            tail: Vec::new(),
            retry: "wslbox configure dev a.sh".into(),
        };
        let shown = err.to_string();
        assert!(
            shown.starts_with(
                "the setup script a.sh failed in `dev` with exit code 1 and printed nothing\n"
            ),
            "{shown}"
        );
    }
}
