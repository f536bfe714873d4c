//! The simulator's state lives where WSL's does: `HKCU\...\Lxss`. Running distributions,
//! which real WSL keeps in its service, are values under `HKCU\Software\WslSimulator\Running`.

use windows_registry::{CURRENT_USER, Key};

use super::{Result, fail};

pub const LXSS: &str = r"Software\Microsoft\Windows\CurrentVersion\Lxss";
const RUNNING: &str = r"Software\WslSimulator\Running";

pub fn lxss() -> Key {
    CURRENT_USER.create(LXSS).expect("HKCU Lxss key")
}

pub struct Distro {
    pub guid: String,
    pub name: String,
    pub key: Key,
}

impl Distro {
    pub fn base_path(&self) -> std::path::PathBuf {
        let p = self.key.get_string("BasePath").unwrap_or_default();
        p.strip_prefix(r"\\?\").unwrap_or(&p).into()
    }

    /// The file standing in for the disk (the imported tar).
    pub fn disk(&self) -> std::path::PathBuf {
        let file = self
            .key
            .get_string("VhdFileName")
            .unwrap_or_else(|_| "rootfs.tar".into());
        self.base_path().join(file)
    }
}

/// The subkey names of the Lxss key, read until two reads agree.
///
/// Real WSL enumerates under its session lock, so a concurrent unregister cannot shift the
/// enumeration (microsoft/WSL `src/windows/service/exe/LxssUserSession.cpp`,
/// `LxssUserSessionImpl::EnumerateDistributions` takes `m_instanceLock`). The simulator has
/// no service; two simulators running at once would otherwise skip the key after one that
/// goes while they enumerate it.
fn subkeys(root: &Key) -> Vec<String> {
    let read = || {
        let mut keys: Vec<String> = root.keys().map(|keys| keys.collect()).unwrap_or_default();
        keys.sort_unstable();
        keys
    };
    let mut last = read();
    for _ in 0..8 {
        let next = read();
        if next == last {
            break;
        }
        last = next;
    }
    last
}

pub fn all() -> Vec<Distro> {
    let root = lxss();
    let mut out: Vec<Distro> = subkeys(&root)
        .into_iter()
        .filter_map(|guid| {
            let key = root.options().read().write().open(&guid).ok()?;
            let name = key.get_string("DistributionName").ok()?;
            Some(Distro { guid, name, key })
        })
        .collect();
    out.sort_by_key(|d| d.name.to_lowercase());
    out
}

pub fn find(name: &str) -> Option<Distro> {
    all()
        .into_iter()
        .find(|d| d.name.eq_ignore_ascii_case(name))
}

pub fn get(name: &str) -> Result<Distro> {
    match find(name) {
        Some(d) => Ok(d),
        None => fail(
            "There is no distribution with the supplied name.",
            "Wsl/Service/WSL_E_DISTRO_NOT_FOUND",
        ),
    }
}

pub fn default_guid() -> Option<String> {
    lxss().get_string("DefaultDistribution").ok()
}

pub fn is_running(guid: &str) -> bool {
    CURRENT_USER
        .open(RUNNING)
        .is_ok_and(|k| k.get_u32(guid).is_ok())
}

pub fn set_running(guid: &str, running: bool) {
    let key = CURRENT_USER.create(RUNNING).expect("simulator running key");
    let _ = if running {
        key.set_u32(guid, 1)
    } else {
        key.remove_value(guid)
    };
}
