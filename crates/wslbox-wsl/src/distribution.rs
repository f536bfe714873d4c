//! What `wslbox list` reports about a registered distribution (platform-neutral data).

use serde::Serialize;

use crate::configured::ConfiguredScript;

/// Lifecycle state of a distribution: the registry's `State` value, refined by wsl.exe's
/// running list (WSL-FACTS.md: 1 Installed, 2 Running, 3 Installing, 4 Uninstalling,
/// 5 Converting, 6 Exporting).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum State {
    Stopped,
    Running,
    Installing,
    Uninstalling,
    Converting,
    Exporting,
    Unknown(u32),
}

impl State {
    /// From the registry `State` value plus whether wsl.exe lists it as running.
    pub fn from_registry(value: u32, running: bool) -> State {
        match value {
            1 | 2 if running => State::Running,
            1 | 2 => State::Stopped,
            3 => State::Installing,
            4 => State::Uninstalling,
            5 => State::Converting,
            6 => State::Exporting,
            n => State::Unknown(n),
        }
    }
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            State::Unknown(n) => write!(f, "Unknown({n})"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// `Flags` bit meaning "runs in the WSL 2 VM".
pub const FLAG_WSL2: u32 = 0x8;

/// One registered distribution. Serializes to the `wslbox list --json` object.
#[derive(Debug, Clone, Serialize)]
pub struct Distribution {
    pub name: String,
    /// The registry key name, with braces.
    pub guid: String,
    #[serde(serialize_with = "state_text")]
    pub state: State,
    /// 1 or 2, from `Flags & 0x8`.
    pub version: u8,
    pub default: bool,
    pub base_path: String,
    /// The disk file (`VhdFileName`), for WSL 2 distributions.
    pub vhd: Option<String>,
    pub default_uid: Option<u32>,
    /// `Flavor OsVersion`, when WSL recorded them.
    pub os: Option<String>,
    /// `WslboxImage`: the image reference this distribution was made from.
    pub image: Option<String>,
    /// `WslboxDigest`: the manifest digest of that image.
    pub image_digest: Option<String>,
    /// `WslboxConfigured`: the setup scripts that ran successfully, in order; `None` when the
    /// distribution was never configured or its last configure run failed.
    pub configured: Option<Vec<ConfiguredScript>>,
    #[serde(skip)]
    pub flags: u32,
    #[serde(skip)]
    pub shortcut_path: Option<String>,
    #[serde(skip)]
    pub terminal_profile_path: Option<String>,
    /// wslbox created `base_path` and may delete it on removal.
    #[serde(skip)]
    pub created_folder: bool,
}

fn state_text<S: serde::Serializer>(state: &State, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(state)
}

/// `Flavor` and `OsVersion` as one label.
pub fn os_label(flavor: Option<&str>, version: Option<&str>) -> Option<String> {
    match (
        flavor.filter(|s| !s.is_empty()),
        version.filter(|s| !s.is_empty()),
    ) {
        (Some(f), Some(v)) => Some(format!("{f} {v}")),
        (Some(f), None) => Some(f.to_owned()),
        (None, Some(v)) => Some(v.to_owned()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_list_refines_installed_state() {
        assert_eq!(State::from_registry(1, true), State::Running);
        assert_eq!(State::from_registry(1, false), State::Stopped);
        assert_eq!(State::from_registry(3, false), State::Installing);
        assert_eq!(State::from_registry(9, false).to_string(), "Unknown(9)");
    }

    #[test]
    fn json_has_the_documented_keys() {
        let d = Distribution {
            name: "dev".into(),
            guid: "{g}".into(),
            state: State::Stopped,
            version: 2,
            default: true,
            base_path: r"C:\d".into(),
            vhd: Some("ext4.vhdx".into()),
            default_uid: Some(1000),
            os: os_label(Some("ubuntu"), Some("24.04")),
            image: Some("ubuntu:24.04".into()),
            image_digest: Some("sha256:ab".into()),
            configured: None,
            flags: 0xF,
            shortcut_path: None,
            terminal_profile_path: None,
            created_folder: true,
        };
        let v = serde_json::to_value(&d).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = vec![
            "name",
            "guid",
            "state",
            "version",
            "default",
            "base_path",
            "vhd",
            "default_uid",
            "os",
            "image",
            "image_digest",
            "configured",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(v["state"], "Stopped");
        assert_eq!(v["os"], "ubuntu 24.04");
        assert_eq!(v["configured"], serde_json::Value::Null);
    }
}
