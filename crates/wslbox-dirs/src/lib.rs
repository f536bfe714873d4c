//! Where wslbox keeps its files when no flag or variable says: one rule for each folder, so
//! the cache, the config file, the catalog, the install folders and the crash journal can
//! never disagree about where "the user's folder" is.
//!
//! | folder | Windows | elsewhere |
//! |---|---|---|
//! | [`cache`] | `%LOCALAPPDATA%\wslbox\cache` | `$XDG_CACHE_HOME/wslbox`, else `~/.cache/wslbox` |
//! | [`config_root`] | `%APPDATA%` | `$XDG_CONFIG_HOME`, else `~/.config` |
//! | [`config`] | `%APPDATA%\wslbox` | `$XDG_CONFIG_HOME/wslbox`, else `~/.config/wslbox` |
//! | [`local_data`] | `%LOCALAPPDATA%\wslbox` | `$XDG_DATA_HOME/wslbox`, else `~/.local/share/wslbox` |
//!
//! Only absolute values count: the XDG base-directory spec says a relative one is invalid and
//! must be ignored, and a relative `%LOCALAPPDATA%` would put a distribution's disk wherever
//! the command happened to run. There is no fallback to the temp folder (temp cleaners delete
//! what is there); a folder that cannot be found is an [`Unknown`] error naming the variables,
//! and callers add the flag that sets the folder instead.

use std::ffi::OsString;
use std::path::PathBuf;

#[cfg(test)]
mod tests;

/// No usable folder: the variables that name it are unset, empty or relative.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot find the {folder}: {vars} is not set to an absolute path")]
pub struct Unknown {
    /// What was looked for, e.g. "cache folder".
    pub folder: &'static str,
    /// The variables that were read, e.g. "LOCALAPPDATA" or "XDG_CACHE_HOME or HOME".
    pub vars: &'static str,
}

/// The variable lookup the rules read; the real environment in [`cache`] and the others.
type Env<'a> = &'a dyn Fn(&str) -> Option<OsString>;

fn real(name: &str) -> Option<OsString> {
    std::env::var_os(name)
}

/// The blob cache and image store root (before `--cache-dir` / `WSLBOX_CACHE_DIR`).
pub fn cache() -> Result<PathBuf, Unknown> {
    cache_in(&real)
}

/// The user's configuration root, shared with other tools (containers' `registries.conf`
/// lives in its `containers` folder).
pub fn config_root() -> Result<PathBuf, Unknown> {
    config_root_in(&real)
}

/// wslbox's own configuration folder: `config.json`, `catalog.toml`.
pub fn config() -> Result<PathBuf, Unknown> {
    Ok(config_root()?.join(APP))
}

/// wslbox's local (not roaming) data: install folders of distributions (`distros`) and the
/// crash journal (`journal`).
pub fn local_data() -> Result<PathBuf, Unknown> {
    local_data_in(&real)
}

const APP: &str = "wslbox";

fn absolute(env: Env, name: &str) -> Option<PathBuf> {
    env(name).map(PathBuf::from).filter(|p| p.is_absolute())
}

#[cfg(windows)]
fn cache_in(env: Env) -> Result<PathBuf, Unknown> {
    Ok(local_data_in(env)?.join("cache"))
}

#[cfg(not(windows))]
fn cache_in(env: Env) -> Result<PathBuf, Unknown> {
    xdg(env, "XDG_CACHE_HOME", ".cache")
        .map(|d| d.join(APP))
        .ok_or(Unknown {
            folder: "cache folder",
            vars: "XDG_CACHE_HOME or HOME",
        })
}

#[cfg(windows)]
fn config_root_in(env: Env) -> Result<PathBuf, Unknown> {
    absolute(env, "APPDATA").ok_or(Unknown {
        folder: "config folder",
        vars: "APPDATA",
    })
}

#[cfg(not(windows))]
fn config_root_in(env: Env) -> Result<PathBuf, Unknown> {
    xdg(env, "XDG_CONFIG_HOME", ".config").ok_or(Unknown {
        folder: "config folder",
        vars: "XDG_CONFIG_HOME or HOME",
    })
}

#[cfg(windows)]
fn local_data_in(env: Env) -> Result<PathBuf, Unknown> {
    absolute(env, "LOCALAPPDATA")
        .map(|d| d.join(APP))
        .ok_or(Unknown {
            folder: "local app data folder",
            vars: "LOCALAPPDATA",
        })
}

#[cfg(not(windows))]
fn local_data_in(env: Env) -> Result<PathBuf, Unknown> {
    xdg(env, "XDG_DATA_HOME", ".local/share")
        .map(|d| d.join(APP))
        .ok_or(Unknown {
            folder: "data folder",
            vars: "XDG_DATA_HOME or HOME",
        })
}

/// An XDG base directory: `$VAR` if absolute, else `$HOME/<under_home>` if `HOME` is.
#[cfg(not(windows))]
fn xdg(env: Env, var: &str, under_home: &str) -> Option<PathBuf> {
    absolute(env, var).or_else(|| absolute(env, "HOME").map(|h| h.join(under_home)))
}
