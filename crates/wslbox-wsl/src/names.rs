//! Distribution names: the syntax rule lives in wslbox-rootfs
//! ([`validate_distro_name`], WSL-FACTS.md "Name rules"), because `.wsl` output needs it too;
//! here is what only the host knows, the names already registered.

use wslbox_rootfs::customize::{DistroNameError, MAX_DISTRO_NAME_LEN, validate_distro_name};

/// Why a distribution name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    #[error(transparent)]
    Invalid(#[from] DistroNameError),
    #[error(
        "a distribution named `{existing}` already exists (names are compared case-insensitively); pick another name or remove it first"
    )]
    Taken { name: String, existing: String },
}

/// WSL compares names case-insensitively.
pub fn same_name(a: &str, b: &str) -> bool {
    a.to_lowercase() == b.to_lowercase()
}

/// Checks the syntax of `name` and that no existing distribution already uses it.
pub fn check_new_name<'a>(
    name: &str,
    existing: impl IntoIterator<Item = &'a str>,
) -> Result<(), NameError> {
    validate_distro_name(name)?;
    match existing.into_iter().find(|e| same_name(e, name)) {
        Some(e) => Err(NameError::Taken {
            name: name.to_owned(),
            existing: e.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The temporary names of an upgrade of `name` (GUID `guid`): the new distribution's until
/// the swap, and the old one's during it. They say what they are in `wsl -l`; a name too long
/// for the suffix uses the GUID instead.
pub fn temporary_names(name: &str, guid: &str) -> (String, String) {
    let suffixed = |s: &str| format!("{name}.wslbox-{s}");
    if suffixed("new").len() <= MAX_DISTRO_NAME_LEN {
        return (suffixed("new"), suffixed("old"));
    }
    let short: String = guid
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(8)
        .collect();
    (format!("wslbox-new-{short}"), format!("wslbox-old-{short}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_compared_case_insensitively() {
        let err = check_new_name("UBUNTU", ["Debian", "ubuntu"]).unwrap_err();
        assert_eq!(
            err,
            NameError::Taken {
                name: "UBUNTU".into(),
                existing: "ubuntu".into()
            }
        );
        assert!(err.to_string().contains("`ubuntu` already exists"));
        check_new_name("ubuntu2", ["Debian", "ubuntu"]).unwrap();
    }

    #[test]
    fn syntax_is_checked_before_existing_names() {
        let err = check_new_name("a b", ["a b"]).unwrap_err();
        assert_eq!(
            err,
            NameError::Invalid(DistroNameError::InvalidChar {
                name: "a b".into(),
                ch: ' '
            })
        );
        assert!(err.to_string().contains("contains ` `"), "{err}");
    }

    #[test]
    fn upgrade_names_are_valid_and_say_what_they_are() {
        let guid = "{2c4de342-38b7-51cf-b940-2309a097f518}";
        assert_eq!(
            temporary_names("dev", guid),
            ("dev.wslbox-new".to_owned(), "dev.wslbox-old".to_owned())
        );
        let long = "a".repeat(60);
        let (new, old) = temporary_names(&long, guid);
        assert_eq!(
            (new.as_str(), old.as_str()),
            ("wslbox-new-2c4de342", "wslbox-old-2c4de342")
        );
        for n in [new, old, temporary_names(&"b".repeat(53), guid).0] {
            validate_distro_name(&n).unwrap();
        }
    }
}
