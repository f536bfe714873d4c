//! `/etc/wsl.conf`: the default user, systemd and hostname merged into the image's own file.

use super::ini::{Ini, LineBreak};
use super::staged::Staged;
use super::{Customization, CustomizeError, Warning, WslOptions};

pub(crate) fn apply(
    staged: &mut Staged,
    opts: &WslOptions,
    default_user: Option<&(String, u32)>,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let target = staged.file_for_edit(b"etc/wsl.conf")?;
    let original = target.contents();
    let mut ini = Ini::parse(&original);
    if let Some((name, _)) = default_user {
        if opts.wsl_format {
            // Microsoft's .wsl validator warns when wsl.conf sets [user] default: the
            // wsl-distribution.conf defaultUid chooses the user instead.
            if ini.remove("user", "default") {
                out.warnings.push(Warning::new(
                    "wslconf-user-removed",
                    "removed [user] default from the image's /etc/wsl.conf: a .wsl sets the default user through /etc/wsl-distribution.conf",
                ));
            }
        } else {
            ini.set("user", "default", name, "=").map_err(refused)?;
        }
    } else if opts.wsl_format && ini.get("user", "default").is_some() {
        out.warnings.push(Warning::new(
            "wslconf-user-default",
            "the image's /etc/wsl.conf sets [user] default, which Microsoft's .wsl validator warns about",
        ));
    }
    if opts.systemd {
        ini.set("boot", "systemd", "true", "=").map_err(refused)?;
    }
    if let Some(hostname) = &opts.hostname {
        ini.set("network", "hostname", hostname, "=")
            .map_err(refused)?;
    }
    let merged = ini.to_bytes();
    if merged != original {
        target.replace(staged, merged, 0o644);
    }
    Ok(())
}

/// Values come from validated options or the image's own `/etc/passwd`, which cannot hold a
/// line break; should one get through, the file is not written.
fn refused(e: LineBreak) -> CustomizeError {
    CustomizeError::Unsupported {
        path: "/etc/wsl.conf".into(),
        reason: e.to_string(),
    }
}

/// A hostname WSL can set: dot-separated RFC 1123 labels (letters, digits, inner `-`, 1-63
/// characters each), at most 253 characters.
pub(crate) fn validate_hostname(hostname: &str) -> Result<(), CustomizeError> {
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if hostname.len() <= 253 && hostname.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(CustomizeError::InvalidHostname {
            hostname: hostname.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_follow_rfc_1123() {
        for good in ["box", "dev-1", "a.b.c", "X9"] {
            assert!(validate_hostname(good).is_ok(), "{good}");
        }
        for bad in ["", "-a", "a-", "a_b", "a..b", "a b", &"a".repeat(64), "é"] {
            assert!(validate_hostname(bad).is_err(), "{bad}");
        }
    }
}
