//! Distribution name rules (WSL-FACTS.md "Name rules").
//!
//! WSL itself accepts more than this, but Microsoft's DistroLauncher (`DistributionInfo.h`)
//! restricts names to `^[a-zA-Z0-9._-]+$`, and names travel into `wsl -d NAME`, shortcut file
//! names and Terminal profiles, so we follow the stricter rule.

/// Longest distribution name we accept.
pub const MAX_NAME_LEN: usize = 64;

/// Why a distribution name was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    #[error("the distribution name is empty; pass a name such as `dev-ubuntu`")]
    Empty,
    #[error(
        "the distribution name `{name}` is {len} characters long; WSL names may have at most {MAX_NAME_LEN}"
    )]
    TooLong { name: String, len: usize },
    #[error(
        "the distribution name `{name}` contains `{ch}`; use only letters, digits, `.`, `_` and `-`"
    )]
    InvalidChar { name: String, ch: char },
    #[error(
        "a distribution named `{existing}` already exists (names are compared case-insensitively); pick another name or remove it first"
    )]
    Taken { name: String, existing: String },
}

/// Checks the syntax of a distribution name.
pub fn validate_name(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(ch) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(NameError::InvalidChar {
            name: name.to_owned(),
            ch,
        });
    }
    // All accepted characters are ASCII, so bytes == characters here.
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(())
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
    validate_name(name)?;
    match existing.into_iter().find(|e| same_name(e, name)) {
        Some(e) => Err(NameError::Taken {
            name: name.to_owned(),
            existing: e.to_owned(),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_launcher_charset() {
        validate_name("Ubuntu-24.04_dev").unwrap();
        validate_name(&"a".repeat(64)).unwrap();
    }

    #[test]
    fn empty_name_refused() {
        assert_eq!(validate_name(""), Err(NameError::Empty));
    }

    #[test]
    fn name_over_64_chars_refused() {
        let name = "a".repeat(65);
        assert_eq!(
            validate_name(&name),
            Err(NameError::TooLong {
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
                validate_name(name),
                Err(NameError::InvalidChar {
                    name: name.into(),
                    ch
                }),
                "{name}"
            );
        }
    }

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
}
