//! Start Menu shortcuts (`.lnk`) through the shell's `IShellLinkW`, which Wine implements too.

use std::path::Path;

use windows::Win32::System::Com::{
    CLSCTX_INPROC_SERVER, COINIT_APARTMENTTHREADED, CoCreateInstance, CoInitializeEx, IPersistFile,
    STGM_READ,
};
use windows::Win32::UI::Shell::{IShellLinkW, ShellLink};
use windows::core::{HSTRING, Interface, PCWSTR};

use crate::error::{Error, Result};

fn shortcut_error(path: &Path, e: windows::core::Error) -> Error {
    Error::Shortcut {
        path: path.to_owned(),
        message: e.message(),
    }
}

#[allow(unsafe_code)] // COM calls; each is a plain call on an interface we own.
fn load(path: &Path) -> windows::core::Result<(IShellLinkW, IPersistFile)> {
    // SAFETY: COM is initialized on this thread first; CoCreateInstance returns an owned
    // interface (released on drop) or an error; `cast` is QueryInterface on it; Load gets a
    // valid, NUL-terminated HSTRING that outlives the call.
    unsafe {
        // S_FALSE (already initialized) is fine; a different apartment model is too, since the
        // ShellLink object is free to be used from either.
        let _ = CoInitializeEx(None, COINIT_APARTMENTTHREADED);
        let link: IShellLinkW = CoCreateInstance(&ShellLink, None, CLSCTX_INPROC_SERVER)?;
        let file: IPersistFile = link.cast()?;
        file.Load(&HSTRING::from(path.as_os_str()), STGM_READ)?;
        Ok((link, file))
    }
}

/// The shortcut's command-line arguments.
#[allow(unsafe_code)]
pub fn arguments(path: &Path) -> Result<String> {
    let (link, _) = load(path).map_err(|e| shortcut_error(path, e))?;
    let mut buf = vec![0u16; 4096];
    // SAFETY: GetArguments writes at most `buf.len()` UTF-16 units into the buffer we own.
    unsafe { link.GetArguments(&mut buf) }.map_err(|e| shortcut_error(path, e))?;
    let len = buf.iter().position(|c| *c == 0).unwrap_or(buf.len());
    Ok(String::from_utf16_lossy(&buf[..len]))
}

/// Replaces the shortcut's arguments and saves it in place.
#[allow(unsafe_code)]
pub fn set_arguments(path: &Path, args: &str) -> Result<()> {
    let (link, file) = load(path).map_err(|e| shortcut_error(path, e))?;
    // SAFETY: both interfaces come from `load` and are alive; SetArguments gets a valid
    // HSTRING that outlives the call; Save with a null name saves to the loaded file.
    unsafe {
        link.SetArguments(&HSTRING::from(args))
            .and_then(|()| file.Save(PCWSTR::null(), true))
    }
    .map_err(|e| shortcut_error(path, e))
}
