//! Docker's `config.json` and podman's `auth.json`: the same `auths` / `credHelpers` /
//! `credsStore` shape. Unknown keys are preserved when the file is rewritten.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use super::{Credential, CredentialError, keys};

pub(super) struct ConfigFile {
    path: PathBuf,
    root: Map<String, Value>,
}

/// The path and the top-level keys only: the file holds secrets (`auths`, identity tokens).
impl std::fmt::Debug for ConfigFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigFile")
            .field("path", &self.path)
            .field("keys", &self.root.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ConfigFile {
    pub(super) fn empty(path: &Path) -> Self {
        ConfigFile {
            path: path.to_owned(),
            root: Map::new(),
        }
    }

    /// `None` when the file does not exist.
    pub(super) fn load(path: &Path) -> Result<Option<Self>, CredentialError> {
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if text.trim().is_empty() {
            return Ok(Some(ConfigFile::empty(path)));
        }
        match serde_json::from_str(&text) {
            Ok(Value::Object(root)) => Ok(Some(ConfigFile {
                path: path.to_owned(),
                root,
            })),
            Ok(_) => Err(bad(path, "expected a JSON object")),
            Err(e) => Err(bad(path, &e.to_string())),
        }
    }

    /// The helper for `registry`: its `credHelpers` entry, else `credsStore`.
    pub(super) fn helper_for(&self, registry: &str) -> Option<String> {
        let per_registry = self.object("credHelpers").and_then(|helpers| {
            helpers
                .iter()
                .find(|(k, _)| keys::matches(k, registry))
                .and_then(|(_, v)| v.as_str())
        });
        per_registry
            .or_else(|| self.root.get("credsStore").and_then(Value::as_str))
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
    }

    /// The `auths` entry for `registry`, preferring its canonical key over aliases.
    pub(super) fn auth_for(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let Some(auths) = self.object("auths") else {
            return Ok(None);
        };
        let canonical = keys::canonical(registry);
        let entry = auths.get(&canonical).or_else(|| {
            auths
                .iter()
                .find(|(k, _)| keys::matches(k, registry))
                .map(|e| e.1)
        });
        let Some(entry) = entry.and_then(Value::as_object) else {
            return Ok(None);
        };
        let field = |name: &str| {
            entry
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        if let Some(token) = field("identitytoken") {
            return Ok(Some(Credential::IdentityToken {
                token: token.to_owned(),
            }));
        }
        if let Some(auth) = field("auth") {
            let decoded = STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.split_once(':').map(|(u, p)| Credential::basic(u, p)));
            return match decoded {
                Some(cred) => Ok(Some(cred)),
                None => Err(bad(
                    &self.path,
                    &format!("the `auth` entry for {canonical} is not base64 of `user:password`"),
                )),
            };
        }
        match (field("username"), field("password")) {
            (Some(u), Some(p)) => Ok(Some(Credential::basic(u, p))),
            _ => Ok(None),
        }
    }

    pub(super) fn set_auth(&mut self, registry: &str, credential: &Credential) {
        self.remove_auth(registry);
        let entry = match credential {
            Credential::Basic { username, password } => {
                serde_json::json!({ "auth": STANDARD.encode(format!("{username}:{password}")) })
            }
            Credential::IdentityToken { token } => serde_json::json!({ "identitytoken": token }),
        };
        let auths = self
            .root
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(map) = auths {
            map.insert(keys::canonical(registry), entry);
        }
    }

    /// Removes every `auths` entry naming `registry`; returns whether one had credentials.
    pub(super) fn remove_auth(&mut self, registry: &str) -> bool {
        let Some(Value::Object(auths)) = self.root.get_mut("auths") else {
            return false;
        };
        let before = auths.len();
        auths.retain(|k, _| !keys::matches(k, registry));
        auths.len() != before
    }

    /// Writes the file atomically ([`wslbox_fs::AtomicFile`]: a kill leaves the old file and
    /// no partial), readable only by its owner from its creation.
    pub(super) fn save(&self) -> Result<(), CredentialError> {
        let path = self.path.as_path();
        let dir = path.parent().unwrap_or(Path::new("."));
        fs_err::create_dir_all(dir)?;
        let mut text = serde_json::to_string_pretty(&Value::Object(self.root.clone()))
            .expect("JSON values serialize");
        text.push('\n');
        let mut file = wslbox_fs::AtomicFile::create_private(path)?;
        file.file_mut().write_all(text.as_bytes())?;
        file.file().sync_all()?;
        file.commit()?;
        Ok(())
    }

    fn object(&self, key: &str) -> Option<&Map<String, Value>> {
        self.root.get(key).and_then(Value::as_object)
    }
}

fn bad(path: &Path, reason: &str) -> CredentialError {
    CredentialError::BadConfig {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}
