//! `HKCU\Software\Microsoft\Windows\CurrentVersion\Lxss`: where WSL registers distributions
//! (WSL-FACTS.md, "Registry"). Each distribution is a subkey named by its GUID.

use windows_registry::{CURRENT_USER, Key, Value};

use crate::configured::{ConfiguredScript, format_value, parse_value};
use crate::distribution::{Distribution, FLAG_WSL2, State, os_label};
use crate::error::{Error, Result};
use crate::names::same_name;

pub const LXSS_KEY: &str = r"Software\Microsoft\Windows\CurrentVersion\Lxss";

/// Our own values on a distribution key.
pub const VALUE_IMAGE: &str = "WslboxImage";
pub const VALUE_DIGEST: &str = "WslboxDigest";
/// REG_MULTI_SZ: the setup scripts that ran successfully (format in `crate::configured`).
pub const VALUE_CONFIGURED: &str = "WslboxConfigured";
/// DWORD 1 when wslbox created the install folder (so `remove` may delete it).
pub const VALUE_CREATED_FOLDER: &str = "WslboxCreatedFolder";

/// Our values that describe the distribution's content rather than its install folder: a
/// clone or a re-import at another place keeps them.
pub const CONTENT_VALUES: [&str; 3] = [VALUE_IMAGE, VALUE_DIGEST, VALUE_CONFIGURED];

fn registry_error(key: &str, e: windows::core::Error) -> Error {
    Error::Registry {
        key: format!(r"HKCU\{key}"),
        message: e.message(),
    }
}

/// The Lxss key of the current user; `None` until WSL registers its first distribution.
pub struct Lxss {
    root: Option<Key>,
}

/// How many more times [`Lxss::guids`] reads the subkey list when reads disagree.
const STABLE_READS: usize = 8;

/// `ERROR_FILE_NOT_FOUND` as an HRESULT.
const HRESULT_FILE_NOT_FOUND: i32 = 0x8007_0002_u32 as i32;

impl Lxss {
    /// Opens the key without creating it: reading must not leave traces on machines without WSL.
    pub fn open() -> Result<Lxss> {
        match CURRENT_USER.options().read().open(LXSS_KEY) {
            Ok(root) => Ok(Lxss { root: Some(root) }),
            Err(e) if e.code().0 == HRESULT_FILE_NOT_FOUND => Ok(Lxss { root: None }),
            Err(e) => Err(registry_error(LXSS_KEY, e)),
        }
    }

    fn root(&self) -> Result<&Key> {
        self.root.as_ref().ok_or_else(|| Error::Registry {
            key: format!(r"HKCU\{LXSS_KEY}"),
            message: "missing: no WSL distribution was ever registered".into(),
        })
    }

    /// GUIDs of all registered distributions.
    ///
    /// Subkeys are enumerated by index (`RegEnumKeyExW`), so a distribution unregistered
    /// while we enumerate shifts the ones after it down and one of them is skipped. The list
    /// is read until two reads agree, so a concurrent `wsl --unregister` of one distribution
    /// never hides another.
    pub fn guids(&self) -> Result<Vec<String>> {
        let Some(root) = &self.root else {
            return Ok(Vec::new());
        };
        let read = || -> Result<Vec<String>> {
            let keys = root.keys().map_err(|e| registry_error(LXSS_KEY, e))?;
            let mut guids: Vec<String> = keys.filter(|k| k.starts_with('{')).collect();
            guids.sort_unstable();
            Ok(guids)
        };
        let mut last = read()?;
        for _ in 0..STABLE_READS {
            let next = read()?;
            if next == last {
                return Ok(next);
            }
            last = next;
        }
        Ok(last)
    }

    pub fn key(&self, guid: &str) -> Result<DistroKey> {
        // `Key::open` is read-only; we write DistributionName and our values.
        let key = self
            .root()?
            .options()
            .read()
            .write()
            .open(guid)
            .map_err(|e| registry_error(&format!(r"{LXSS_KEY}\{guid}"), e))?;
        Ok(DistroKey {
            guid: guid.to_owned(),
            key,
        })
    }

    pub fn default_guid(&self) -> Option<String> {
        self.root.as_ref()?.get_string("DefaultDistribution").ok()
    }

    /// Every registered distribution; `running` is wsl.exe's running list.
    pub fn list(&self, running: &[String]) -> Result<Vec<Distribution>> {
        let default = self.default_guid();
        let mut out = Vec::new();
        for guid in self.guids()? {
            // A key being deleted concurrently is not an error for a listing.
            let Ok(key) = self.key(&guid) else { continue };
            let Some(name) = key.string("DistributionName") else {
                continue;
            };
            let is_running = running.iter().any(|r| same_name(r, &name));
            let flags = key.u32("Flags").unwrap_or(0x7);
            let version = if flags & FLAG_WSL2 != 0 { 2 } else { 1 };
            let base_path = key.string("BasePath").unwrap_or_default();
            out.push(Distribution {
                state: State::from_registry(key.u32("State").unwrap_or(1), is_running),
                version,
                default: default
                    .as_deref()
                    .is_some_and(|d| d.eq_ignore_ascii_case(&guid)),
                base_path: base_path
                    .strip_prefix(r"\\?\")
                    .unwrap_or(&base_path)
                    .to_owned(),
                vhd: (version == 2).then(|| {
                    key.string("VhdFileName")
                        .unwrap_or_else(|| "ext4.vhdx".into())
                }),
                default_uid: key.u32("DefaultUid"),
                os: os_label(
                    key.string("Flavor").as_deref(),
                    key.string("OsVersion").as_deref(),
                ),
                image: key.string(VALUE_IMAGE),
                image_digest: key.string(VALUE_DIGEST),
                configured: key.configured(),
                flags,
                shortcut_path: key.string("ShortcutPath"),
                terminal_profile_path: key.string("TerminalProfilePath"),
                created_folder: key.u32(VALUE_CREATED_FOLDER) == Some(1),
                name,
                guid: guid.clone(),
            });
        }
        out.sort_by_key(|d| d.name.to_lowercase());
        Ok(out)
    }

    /// The distribution named `name` (case-insensitively).
    pub fn find(&self, name: &str) -> Result<Option<Distribution>> {
        Ok(self
            .list(&[])?
            .into_iter()
            .find(|d| same_name(&d.name, name)))
    }

    pub fn get(&self, name: &str) -> Result<Distribution> {
        self.find(name)?.ok_or_else(|| Error::NotFound {
            name: name.to_owned(),
        })
    }

    pub fn names(&self) -> Result<Vec<String>> {
        Ok(self.list(&[])?.into_iter().map(|d| d.name).collect())
    }
}

/// One distribution's key.
pub struct DistroKey {
    guid: String,
    key: Key,
}

impl DistroKey {
    fn path(&self) -> String {
        format!(r"{LXSS_KEY}\{}", self.guid)
    }

    pub fn string(&self, name: &str) -> Option<String> {
        self.key.get_string(name).ok()
    }

    pub fn u32(&self, name: &str) -> Option<u32> {
        self.key.get_u32(name).ok()
    }

    pub fn set_string(&self, name: &str, value: &str) -> Result<()> {
        self.key
            .set_string(name, value)
            .map_err(|e| registry_error(&format!(r"{}\{name}", self.path()), e))
    }

    pub fn set_u32(&self, name: &str, value: u32) -> Result<()> {
        self.key
            .set_u32(name, value)
            .map_err(|e| registry_error(&format!(r"{}\{name}", self.path()), e))
    }

    /// `WslboxConfigured`, or `None` when the value is absent. (windows-registry returns the
    /// list's terminator as empty strings; `parse_value` skips them with anything malformed.)
    pub fn configured(&self) -> Option<Vec<ConfiguredScript>> {
        self.key
            .get_multi_string(VALUE_CONFIGURED)
            .ok()
            .map(|strings| parse_value(&strings))
    }

    pub fn set_configured(&self, scripts: &[ConfiguredScript]) -> Result<()> {
        let strings = format_value(scripts);
        let strings: Vec<&str> = strings.iter().map(String::as_str).collect();
        self.key
            .set_multi_string(VALUE_CONFIGURED, &strings)
            .map_err(|e| registry_error(&format!(r"{}\{VALUE_CONFIGURED}", self.path()), e))
    }

    /// A value of any type, for copying it to another key unchanged.
    pub fn value(&self, name: &str) -> Option<Value> {
        self.key.get_value(name).ok()
    }

    /// Sets a value of any type, or removes it for `None`.
    pub fn put_value(&self, name: &str, value: Option<&Value>) -> Result<()> {
        match value {
            Some(v) => self
                .key
                .set_value(name, v)
                .map_err(|e| registry_error(&format!(r"{}\{name}", self.path()), e)),
            None => self.remove(name),
        }
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        if self.key.get_type(name).is_err() {
            return Ok(());
        }
        self.key
            .remove_value(name)
            .map_err(|e| registry_error(&format!(r"{}\{name}", self.path()), e))
    }
}
