//! Reading the root filesystem tar the way an import would: fully, checking it is a tar, and
//! pulling out the few files WSL itself looks at (os-release, passwd).

use std::io::Read;

use super::{Result, fail};

/// Decompresses gzip (WSL accepts gzip tars) and checks the tar has entries, and that it
/// holds `/etc` or `/bin/sh`: microsoft/WSL `src/linux/init/main.cpp` refuses any other root
/// filesystem with `WSL_E_NOT_A_LINUX_DISTRO`.
pub fn load(mut bytes: Vec<u8>) -> Result<Vec<u8>> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .is_err()
        {
            return import_failed("the gzip stream is corrupt");
        }
        bytes = plain;
    }
    let mut archive = tar::Archive::new(&bytes[..]);
    let mut count = 0usize;
    let mut linux = false;
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return import_failed(&e.to_string()),
    };
    for entry in entries {
        match entry {
            Ok(mut e) => {
                count += 1;
                if let Ok(path) = e.path() {
                    let path = path.to_string_lossy();
                    let path = path.trim_start_matches("./").trim_start_matches('/');
                    linux |= path == "etc" || path.starts_with("etc/") || path == "bin/sh";
                }
                // Reading the data catches truncated archives.
                if let Err(err) = std::io::copy(&mut e, &mut std::io::sink()) {
                    return import_failed(&err.to_string());
                }
            }
            Err(e) => return import_failed(&e.to_string()),
        }
    }
    if count == 0 {
        return import_failed("the archive is empty");
    }
    if !linux {
        return fail(
            "The root filesystem is not a Linux distribution: it has neither /etc nor /bin/sh.",
            "Wsl/Service/RegisterDistro/WSL_E_NOT_A_LINUX_DISTRO",
        );
    }
    Ok(bytes)
}

fn import_failed<T>(why: &str) -> Result<T> {
    fail(
        format!("The root filesystem archive could not be imported: {why}."),
        "Wsl/Service/RegisterDistro/WSL_E_IMPORT_FAILED",
    )
}

/// The contents of `path` (without a leading `/`) in the tar, following nothing.
pub fn file(tar_bytes: &[u8], path: &str) -> Option<String> {
    let mut archive = tar::Archive::new(tar_bytes);
    for entry in archive.entries().ok()? {
        let mut e = entry.ok()?;
        let name = e
            .path()
            .ok()?
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        if name == path && e.header().entry_type().is_file() {
            let mut text = String::new();
            e.read_to_string(&mut text).ok()?;
            return Some(text);
        }
    }
    None
}

/// `ID` and `VERSION_ID` from os-release, which modern WSL stores as Flavor and OsVersion.
pub fn os_release(tar_bytes: &[u8]) -> (Option<String>, Option<String>) {
    let text = file(tar_bytes, "etc/os-release").or_else(|| file(tar_bytes, "usr/lib/os-release"));
    let Some(text) = text else {
        return (None, None);
    };
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .map(|v| v.trim().trim_matches('"').to_owned())
    };
    (field("ID"), field("VERSION_ID"))
}

/// The uid of `user` in the tar's /etc/passwd.
pub fn uid_of(tar_bytes: &[u8], user: &str) -> Option<u32> {
    let passwd = file(tar_bytes, "etc/passwd")?;
    passwd.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == user).then_some(())?;
        f.nth(1)?.parse().ok()
    })
}
