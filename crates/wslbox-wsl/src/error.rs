//! Errors of WSL host operations.

use std::path::PathBuf;

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
    #[error("could not run {}: {source}; is WSL installed? (set WSLBOX_WSL_EXE to use another wsl.exe)", path.display())]
    WslSpawn {
        path: PathBuf,
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
    #[error("the install folder {} already exists and is not empty; choose a new or empty folder", path.display())]
    FolderNotEmpty { path: PathBuf },
    #[error("producing the root filesystem failed: {0:#}")]
    Producer(anyhow::Error),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
