//! The one distribution-name rule (WSL-FACTS.md "Name rules"), used for `[oobe] defaultName`
//! here and by wslbox-wsl before it registers a distribution.
//!
//! WSL's own rule (`s_ValidateDistroName` in microsoft/WSL `LxssUserSession.cpp`) is
//! `^[a-zA-Z0-9._-]{1,256}$` and not `Legacy` in any case. We also cap the length at 64,
//! because names become shortcut file names and Terminal profile names.

/// Longest distribution name we accept.
pub const MAX_DISTRO_NAME_LEN: usize = 64;

/// Why a distribution name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DistroNameError {
    #[error("the distribution name is empty; pass a name such as `dev-ubuntu`")]
    Empty,
    #[error(
        "the distribution name `{name}` is {len} characters long; WSL names may have at most {MAX_DISTRO_NAME_LEN}"
    )]
    TooLong { name: String, len: usize },
    #[error(
        "the distribution name `{name}` contains `{ch}`; use only letters, digits, `.`, `_` and `-`"
    )]
    InvalidChar { name: String, ch: char },
    #[error(
        "the distribution name `{name}` is reserved by WSL (`Legacy`, in any letter case); pick another name"
    )]
    Reserved { name: String },
}

/// Whether WSL allows `c` in a distribution name.
pub(crate) fn is_distro_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Checks `name` against the rule above.
pub fn validate_distro_name(name: &str) -> Result<(), DistroNameError> {
    if name.is_empty() {
        return Err(DistroNameError::Empty);
    }
    if let Some(ch) = name.chars().find(|&c| !is_distro_name_char(c)) {
        return Err(DistroNameError::InvalidChar {
            name: name.to_owned(),
            ch,
        });
    }
    // All accepted characters are ASCII, so bytes == characters here.
    if name.len() > MAX_DISTRO_NAME_LEN {
        return Err(DistroNameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    if name.eq_ignore_ascii_case("legacy") {
        return Err(DistroNameError::Reserved {
            name: name.to_owned(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_launcher_charset() {
        validate_distro_name("Ubuntu-24.04_dev").unwrap();
        validate_distro_name(&"a".repeat(64)).unwrap();
    }

    #[test]
    fn distro_names_follow_the_distrolauncher_rule() {
        assert!(validate_distro_name("debian-12.bookworm_x").is_ok());
        for bad in ["", "a b", "a/b", "a:b", &"x".repeat(65)] {
            assert!(validate_distro_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn empty_name_refused() {
        assert_eq!(validate_distro_name(""), Err(DistroNameError::Empty));
    }

    #[test]
    fn name_over_64_chars_refused() {
        let name = "a".repeat(65);
        assert_eq!(
            validate_distro_name(&name),
            Err(DistroNameError::TooLong {
                name: name.clone(),
                len: 65
            })
        );
    }

    #[test]
    fn forbidden_and_non_ascii_characters_refused() {
        for (name, ch) in [
            ("a b", ' '),
            ("a/b", '/'),
            ("a:b", ':'),
            ("é", 'é'),
            ("a*", '*'),
        ] {
            assert_eq!(
                validate_distro_name(name),
                Err(DistroNameError::InvalidChar {
                    name: name.into(),
                    ch
                }),
                "{name}"
            );
        }
    }

    #[test]
    fn legacy_is_reserved_in_any_case() {
        for name in ["Legacy", "legacy", "LEGACY"] {
            assert_eq!(
                validate_distro_name(name),
                Err(DistroNameError::Reserved { name: name.into() })
            );
        }
        validate_distro_name("Legacy2").unwrap();
    }
}
