//! `.wsl` output: `/etc/wsl-distribution.conf` (read by `wsl --install --from-file`), the
//! first-run script when no user was given, and the optional icon and Terminal template.
//! Microsoft's validator rules (WSL-FACTS.md) are followed: the script lives under
//! `/usr/lib/wsl`, `defaultUid` is 1000 unless the user chose otherwise (warned), and
//! `wsl.conf` does not also set `[user] default` (see `wslconf`).

use super::distro_name::{MAX_DISTRO_NAME_LEN, is_distro_name_char, validate_distro_name};
use super::ini::{Ini, LineBreak};
use super::staged::Staged;
use super::users::Accounts;
use super::{Customization, CustomizeError, ImageFacts, Warning, WslOptions};

const CONF_PATH: &[u8] = b"etc/wsl-distribution.conf";
const OOBE_PATH: &str = "/usr/lib/wsl/oobe.sh";
const ICON_PATH: &str = "/usr/lib/wsl/icon.ico";
const TEMPLATE_PATH: &str = "/usr/lib/wsl/terminal-profile.json";
const OOBE_SCRIPT: &str = include_str!("oobe.sh");
/// The UID the first-run script creates; Microsoft's validator expects 1000.
const OOBE_UID: u32 = 1000;
const MAX_ICON: usize = 1024 * 1024;

pub(crate) fn apply(
    staged: &mut Staged,
    facts: &ImageFacts,
    opts: &WslOptions,
    accounts: &Accounts,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    // Validate the user's files before writing anything.
    if let Some(icon) = &opts.icon {
        if icon.len() > MAX_ICON {
            return Err(CustomizeError::IconTooLarge { size: icon.len() });
        }
        if !icon.starts_with(&[0, 0, 1, 0]) {
            return Err(CustomizeError::IconNotIco);
        }
    }
    if let Some(template) = &opts.profile_template {
        serde_json::from_slice::<serde_json::Value>(template)
            .map_err(|source| CustomizeError::ProfileTemplateNotJson { source })?;
    }

    let target = staged.file_for_edit(CONF_PATH)?;
    let original = target.contents();
    let mut ini = Ini::parse(&original);
    if original.is_empty() {
        ini = Ini::parse(b"# Written by wslbox for `wsl --install --from-file`.\n");
    }

    match &accounts.default_user {
        Some((name, uid)) => {
            if ini.remove("oobe", "command") {
                out.warnings.push(Warning::new(
                    "oobe-command-removed",
                    format!("removed the image's own [oobe] command: `{name}` is already set up as the default user"),
                ));
            }
            ini.set("oobe", "defaultUid", &uid.to_string(), " = ")
                .map_err(refused)?;
            if *uid != OOBE_UID {
                out.warnings.push(Warning::new(
                    "default-uid-not-1000",
                    format!(
                        "the default user's UID is {uid}; Microsoft's .wsl validator expects 1000"
                    ),
                ));
            }
        }
        None => {
            if let Some(existing) = ini.get("oobe", "command") {
                out.notes.push(format!(
                    "keeping the image's own first-run command `{existing}`"
                ));
            } else {
                ini.set("oobe", "command", OOBE_PATH, " = ")
                    .map_err(refused)?;
                write_lib_file(staged, OOBE_PATH, OOBE_SCRIPT.as_bytes().to_vec(), 0o755)?;
            }
            ini.set("oobe", "defaultUid", &OOBE_UID.to_string(), " = ")
                .map_err(refused)?;
        }
    }
    match &opts.distro_name {
        Some(name) => ini
            .set("oobe", "defaultName", name, " = ")
            .map_err(refused)?,
        None if ini.get("oobe", "defaultName").is_none() => ini
            .set("oobe", "defaultName", &default_name(facts.reference), " = ")
            .map_err(refused)?,
        None => {}
    }

    ini.set("shortcut", "enabled", "true", " = ")
        .map_err(refused)?;
    if let Some(icon) = &opts.icon {
        write_lib_file(staged, ICON_PATH, icon.clone(), 0o644)?;
        ini.set("shortcut", "icon", ICON_PATH, " = ")
            .map_err(refused)?;
    }
    ini.set("windowsterminal", "enabled", "true", " = ")
        .map_err(refused)?;
    if let Some(template) = &opts.profile_template {
        write_lib_file(staged, TEMPLATE_PATH, template.clone(), 0o644)?;
        ini.set("windowsterminal", "profileTemplate", TEMPLATE_PATH, " = ")
            .map_err(refused)?;
    }

    target.replace(staged, ini.to_bytes(), 0o644);
    Ok(())
}

/// Every value is a constant, a number or a validated name.
fn refused(e: LineBreak) -> CustomizeError {
    CustomizeError::Unsupported {
        path: "/etc/wsl-distribution.conf".into(),
        reason: e.to_string(),
    }
}

fn write_lib_file(
    staged: &mut Staged,
    path: &str,
    data: Vec<u8>,
    mode: u32,
) -> Result<(), CustomizeError> {
    let real = staged.dir_for_new(path.trim_start_matches('/').as_bytes())?;
    staged.put_file(real, data, mode, 0, 0);
    Ok(())
}

/// A distribution name from the reference: `docker.io/library/debian:bookworm` →
/// `debian-bookworm`, made to pass [`validate_distro_name`]; `wslbox` when nothing usable
/// is left.
pub(crate) fn default_name(reference: &str) -> String {
    let without_digest = reference.split('@').next().unwrap_or(reference);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    let name: String = last
        .replace(':', "-")
        .chars()
        .map(|c| if is_distro_name_char(c) { c } else { '-' })
        .take(MAX_DISTRO_NAME_LEN)
        .collect();
    if validate_distro_name(&name).is_ok() {
        name
    } else {
        "wslbox".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_name_comes_from_the_last_repository_component_and_tag() {
        assert_eq!(
            default_name("docker.io/library/debian:bookworm"),
            "debian-bookworm"
        );
        assert_eq!(default_name("ghcr.io/o/tool@sha256:abcd"), "tool");
        assert_eq!(default_name("localhost:5000/my app:1"), "my-app-1");
        assert_eq!(default_name(""), "wslbox");
        assert_eq!(
            default_name("docker.io/someone/legacy@sha256:abcd"),
            "wslbox"
        );
    }
}
