//! What registration creates besides the registry key: the Start Menu shortcut and the
//! Windows Terminal fragment, as microsoft/WSL `src/windows/service/exe/LxssUserSession.cpp`
//! writes them in `_CreateDistributionShortcut` and `_CreateTerminalProfile` (WSL-FACTS.md,
//! "What registration creates"). Part of the test double, not real WSL.

use std::path::PathBuf;

use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_APARTMENTTHREADED, CoCreateInstance, CoInitializeEx, IPersistFile,
};
use windows::Win32::UI::Shell::{IShellLinkW, ShellLink};
use windows::core::{HSTRING, Interface};

fn env_dir(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// `FOLDERID_StartMenu\<name>.lnk` (`%APPDATA%\Microsoft\Windows\Start Menu`, the root, not
/// `Programs`), running wsl.exe with `--distribution-id {GUID} --cd ~`, as
/// `_CreateDistributionShortcut` does.
#[allow(unsafe_code)] // COM calls on interfaces we own.
pub fn create_shortcut(name: &str, guid: &str) -> Option<PathBuf> {
    let dir = env_dir("APPDATA").join(r"Microsoft\Windows\Start Menu");
    fs_err::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{name}.lnk"));
    let root = std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .unwrap_or_else(|| r"C:\Windows".into());
    let exe = root.join(r"System32\wsl.exe");
    // SAFETY: COM is initialized on this thread first; CoCreateInstance returns an owned
    // interface or an error; every string argument is an HSTRING that outlives its call.
    let saved = unsafe {
        let _ = CoInitializeEx(None, COINIT_APARTMENTTHREADED);
        let link: windows::core::Result<IShellLinkW> =
            CoCreateInstance(&ShellLink, None, CLSCTX_INPROC_SERVER);
        link.and_then(|link| {
            link.SetPath(&HSTRING::from(exe.as_os_str()))?;
            link.SetArguments(&HSTRING::from(format!("--distribution-id {guid} --cd ~")))?;
            link.SetDescription(&HSTRING::from(name))?;
            link.cast::<IPersistFile>()?
                .Save(&HSTRING::from(path.as_os_str()), true)
        })
    };
    saved.ok().map(|()| path)
}

/// RFC 4122 UUIDv5 over the UTF-16LE bytes of `text`, braced and lowercase: how
/// `_CreateTerminalProfile` derives its GUIDs.
fn uuid_v5(namespace: u128, text: &str) -> String {
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    uuid::Uuid::new_v5(&uuid::Uuid::from_u128(namespace), &bytes)
        .braced()
        .to_string()
}

/// `%LOCALAPPDATA%\Microsoft\Windows Terminal\Fragments\Microsoft.WSL\{P}.json`, as
/// `_CreateTerminalProfile` writes it: P = UUIDv5(`{BE9372FE-…}`, the distribution GUID in
/// lowercase) names the file and the profile; the first entry hides the profile Terminal
/// generates for the name, `{"updates": UUIDv5({2bde4a90-…}, name), "hidden": true}`.
pub fn create_fragment(name: &str, guid: &str) -> Option<PathBuf> {
    let dir = env_dir("LOCALAPPDATA").join(r"Microsoft\Windows Terminal\Fragments\Microsoft.WSL");
    fs_err::create_dir_all(&dir).ok()?;
    let profile = uuid_v5(
        0xBE93_72FE_59E1_4876_BDA9_C33C_8F2F_1AF1,
        &guid.to_lowercase(),
    );
    let hidden = uuid_v5(0x2bde_4a90_d05f_401c_9492_e408_84ea_d1d8, name);
    let path = dir.join(format!("{profile}.json"));
    let root = std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .unwrap_or_else(|| r"C:\Windows".into());
    let wsl = root.join(r"System32\wsl.exe");
    let fragment = serde_json::json!({
        "profiles": [
            {"updates": hidden, "hidden": true},
            {
                "guid": profile,
                "name": name,
                "commandline": format!("{} --distribution-id {guid}", wsl.display()),
                "startingDirectory": "~",
                "pathTranslationStyle": "wsl",
            },
        ]
    });
    let text = serde_json::to_string_pretty(&fragment).ok()?;
    fs_err::write(&path, text).ok()?;
    Some(path)
}
