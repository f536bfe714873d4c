//! What registration creates besides the registry key: the Start Menu shortcut and the
//! Windows Terminal fragment (WSL-FACTS.md, "What registration creates").

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

/// `%APPDATA%\Microsoft\Windows\Start Menu\Programs\<name>.lnk`, running
/// `%SystemRoot%\System32\wsl.exe` like the shortcuts real WSL creates.
#[allow(unsafe_code)] // COM calls on interfaces we own.
pub fn create_shortcut(name: &str, guid: &str) -> Option<PathBuf> {
    let dir = env_dir("APPDATA").join(r"Microsoft\Windows\Start Menu\Programs");
    fs_err::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{name}.lnk"));
    let root = std::env::var_os("SystemRoot")
        .map(PathBuf::from)
        .unwrap_or_else(|| r"C:\Windows".into());
    let exe = root.join(r"System32\wsl.exe");
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

/// `%LOCALAPPDATA%\Microsoft\Windows Terminal\Fragments\Microsoft.WSL\{guid}.json`.
pub fn create_fragment(name: &str, guid: &str) -> Option<PathBuf> {
    let dir = env_dir("LOCALAPPDATA").join(r"Microsoft\Windows Terminal\Fragments\Microsoft.WSL");
    fs_err::create_dir_all(&dir).ok()?;
    let path = dir.join(format!("{guid}.json"));
    let fragment = serde_json::json!({
        "profiles": [{
            "guid": guid,
            "name": name,
            "commandline": format!("wsl.exe --distribution-id {guid}"),
            "startingDirectory": "~",
            "hidden": false,
        }]
    });
    let text = serde_json::to_string_pretty(&fragment).ok()?;
    fs_err::write(&path, text).ok()?;
    Some(path)
}
