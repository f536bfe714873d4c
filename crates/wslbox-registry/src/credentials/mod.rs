//! Registry credentials, found the way Docker and then podman find them.
//!
//! Lookup order for a registry ([`CredentialStore::get`]):
//! 1. Docker's `config.json` (`$DOCKER_CONFIG/config.json`, default `~/.docker/config.json`):
//!    `credHelpers[registry]`, then `credsStore`, then `auths` (base64 `auth`, or
//!    `username`/`password`, or `identitytoken`). Helpers are `docker-credential-<name>`
//!    programs on `PATH` speaking the standard protocol (`get`, `store`, `erase`).
//! 2. podman's auth files, first one that has an entry wins: `REGISTRY_AUTH_FILE`,
//!    `$XDG_RUNTIME_DIR/containers/auth.json`, `~/.config/containers/auth.json`.
//!
//! [`CredentialStore::store`] and [`CredentialStore::erase`] write where `docker login` /
//! `docker logout` would: the configured helper, else `config.json`'s `auths`.

mod config_file;
mod helper;
mod keys;

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

pub use keys::{DOCKER_HUB_CONFIG_KEY, is_docker_hub};

use config_file::ConfigFile;

/// A secret registry credential. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or personal access token).
    Basic { username: String, password: String },
    /// An OAuth2 refresh token (`identitytoken` in config.json; a helper's `<token>` user).
    IdentityToken { token: String },
}

impl Credential {
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credential::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name, when the credential has one.
    pub fn username(&self) -> Option<&str> {
        match self {
            Credential::Basic { username, .. } => Some(username),
            Credential::IdentityToken { .. } => None,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credential::IdentityToken { .. } => f
                .debug_struct("IdentityToken")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// Where a login was stored or a logout removed it from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialLocation {
    /// A credential helper, e.g. `desktop` for `docker-credential-desktop`.
    Helper(String),
    /// A config file (`config.json` or a podman `auth.json`).
    File(PathBuf),
}

impl fmt::Display for CredentialLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CredentialLocation::Helper(name) => {
                write!(f, "credential helper docker-credential-{name}")
            }
            CredentialLocation::File(path) => write!(f, "{}", path.display()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    #[error("could not read credentials file {path}: {reason}")]
    BadConfig { path: PathBuf, reason: String },
    #[error("could not write credentials file: {source}")]
    Io {
        #[from]
        source: std::io::Error,
    },
    #[error(
        "credential helper docker-credential-{helper} was not found on PATH (it is configured in {config})"
    )]
    HelperNotFound { helper: String, config: PathBuf },
    #[error(
        "{config} names the credential helper `{helper}`, which is not a helper name (letters, digits, `.`, `_` and `-`; no path): correct `credsStore` or `credHelpers` there"
    )]
    HelperNameInvalid { helper: String, config: PathBuf },
    #[error(
        "credential helper docker-credential-{helper} failed to {action} credentials for {registry}: {message}"
    )]
    HelperFailed {
        helper: String,
        action: &'static str,
        registry: String,
        message: String,
    },
    #[error("not logged in to {registry}")]
    NotLoggedIn { registry: String },
    #[error("cannot store credentials: no home directory and DOCKER_CONFIG is not set")]
    NoConfigDir,
}

/// Where credentials are looked up and stored. [`CredentialStore::from_env`] is what the
/// binary uses; tests build one with explicit paths.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    /// Directory holding Docker's `config.json`.
    pub docker_config_dir: Option<PathBuf>,
    /// podman auth files, in lookup order.
    pub podman_auth_files: Vec<PathBuf>,
    /// The `PATH` searched for `docker-credential-*` helpers (the process `PATH` when `None`).
    pub helper_path: Option<OsString>,
}

impl CredentialStore {
    /// Docker's and podman's locations from the environment (`DOCKER_CONFIG`, `HOME`/
    /// `USERPROFILE`, `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`).
    pub fn from_env() -> Self {
        let home = home_dir();
        let docker_config_dir = std::env::var_os("DOCKER_CONFIG")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".docker")));
        let mut podman_auth_files = Vec::new();
        if let Some(f) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|v| !v.is_empty()) {
            podman_auth_files.push(PathBuf::from(f));
        }
        if let Some(d) = std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            podman_auth_files.push(Path::new(&d).join("containers").join("auth.json"));
        }
        if let Some(h) = &home {
            podman_auth_files.push(h.join(".config").join("containers").join("auth.json"));
        }
        CredentialStore {
            docker_config_dir,
            podman_auth_files,
            helper_path: None,
        }
    }

    fn docker_config_path(&self) -> Option<PathBuf> {
        self.docker_config_dir
            .as_ref()
            .map(|d| d.join("config.json"))
    }

    /// The credential for `registry` (as written in a reference, e.g. `docker.io`,
    /// `ghcr.io`, `localhost:5000`), or `None` when nothing is configured for it.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let mut files = Vec::new();
        if let Some(path) = self.docker_config_path() {
            files.push(path);
        }
        files.extend(self.podman_auth_files.iter().cloned());
        for path in files {
            let Some(config) = ConfigFile::load(&path)? else {
                continue;
            };
            if let Some(helper) = config.helper_for(registry)
                && let Some(cred) = helper::get(&self.helper(&helper, &path)?, registry)?
            {
                return Ok(Some(cred));
            }
            if let Some(cred) = config.auth_for(registry)? {
                return Ok(Some(cred));
            }
        }
        Ok(None)
    }

    /// Stores a verified credential where `docker login` would: the helper configured in
    /// `config.json` for this registry (or `credsStore`), else its `auths`.
    pub fn store(
        &self,
        registry: &str,
        credential: &Credential,
    ) -> Result<CredentialLocation, CredentialError> {
        let path = self
            .docker_config_path()
            .ok_or(CredentialError::NoConfigDir)?;
        let mut config = ConfigFile::load(&path)?.unwrap_or_else(|| ConfigFile::empty(&path));
        if let Some(name) = config.helper_for(registry) {
            helper::store(&self.helper(&name, &path)?, registry, credential)?;
            return Ok(CredentialLocation::Helper(name));
        }
        config.set_auth(registry, credential);
        config.save()?;
        Ok(CredentialLocation::File(path))
    }

    /// Removes stored credentials for `registry` from the helper or `config.json`, and from
    /// podman's auth files. Errors with [`CredentialError::NotLoggedIn`] when there were none.
    pub fn erase(&self, registry: &str) -> Result<Vec<CredentialLocation>, CredentialError> {
        let mut removed = Vec::new();
        if let Some(path) = self.docker_config_path()
            && let Some(mut config) = ConfigFile::load(&path)?
        {
            if let Some(name) = config.helper_for(registry)
                && helper::erase(&self.helper(&name, &path)?, registry)?
            {
                removed.push(CredentialLocation::Helper(name));
            }
            if config.remove_auth(registry) {
                config.save()?;
                removed.push(CredentialLocation::File(path));
            }
        }
        for path in &self.podman_auth_files {
            if let Some(mut config) = ConfigFile::load(path)?
                && config.remove_auth(registry)
            {
                config.save()?;
                removed.push(CredentialLocation::File(path.clone()));
            }
        }
        if removed.is_empty() {
            return Err(CredentialError::NotLoggedIn {
                registry: registry.to_owned(),
            });
        }
        Ok(removed)
    }

    fn helper(&self, name: &str, config: &Path) -> Result<helper::Helper, CredentialError> {
        let path = self
            .helper_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))
            .unwrap_or_default();
        // The name becomes part of a program path: `../x` must not reach outside the search
        // path, nor a drive or separator pick another program.
        let valid = !name.is_empty()
            && name != "."
            && name != ".."
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && !name.contains("..");
        if !valid {
            return Err(CredentialError::HelperNameInvalid {
                helper: name.to_owned(),
                config: config.to_owned(),
            });
        }
        helper::Helper::find(name, &path).ok_or_else(|| CredentialError::HelperNotFound {
            helper: name.to_owned(),
            config: config.to_owned(),
        })
    }
}

fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}
