//! The `WslboxConfigured` registry value: which setup scripts ran successfully in a
//! distribution, and when.
//!
//! It is a REG_MULTI_SZ with one string per script, in the order they ran:
//! `<sha256 hex> <unix seconds>`, e.g. `ba7816bf…15ad 1767225600`. wslbox writes it only once
//! every script of a run succeeded (adding to what earlier runs recorded); it removes it before
//! the first script starts, so after a failed or interrupted run the distribution has no value
//! at all: it is unconfigured, and no entry claims a script that failed.

use serde::Serialize;

/// One script that ran successfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfiguredScript {
    /// The script file's sha256, lowercase hex (as `sha256sum` prints it).
    pub sha256: String,
    /// When it finished, in seconds since the Unix epoch.
    pub at: i64,
}

impl ConfiguredScript {
    /// The registry string for this entry.
    pub fn to_value(&self) -> String {
        format!("{} {}", self.sha256, self.at)
    }

    /// Parses one registry string; `None` for anything wslbox does not write.
    pub fn parse(entry: &str) -> Option<ConfiguredScript> {
        let (sha256, at) = entry.trim().split_once(' ')?;
        let hex = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        Some(ConfiguredScript {
            sha256: hex.then(|| sha256.to_owned())?,
            at: at.trim().parse().ok()?,
        })
    }
}

/// The entries of a `WslboxConfigured` value. Strings in another format (a hand edit) are
/// skipped, so a damaged value still lists what it can.
pub fn parse_value(strings: &[String]) -> Vec<ConfiguredScript> {
    strings
        .iter()
        .filter_map(|s| ConfiguredScript::parse(s))
        .collect()
}

/// The strings of a `WslboxConfigured` value.
pub fn format_value(scripts: &[ConfiguredScript]) -> Vec<String> {
    scripts.iter().map(ConfiguredScript::to_value).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(c: char, at: i64) -> ConfiguredScript {
        ConfiguredScript {
            sha256: c.to_string().repeat(64),
            at,
        }
    }

    #[test]
    fn value_round_trips_in_order() {
        let scripts = vec![entry('a', 1_767_225_600), entry('0', 1_767_229_200)];
        let strings = format_value(&scripts);
        assert_eq!(strings[0], format!("{} 1767225600", "a".repeat(64)));
        assert_eq!(parse_value(&strings), scripts);
    }

    #[test]
    fn strings_wslbox_does_not_write_are_skipped() {
        let good = entry('f', 7).to_value();
        let strings = [
            String::new(),
            "not a hash 12".into(),
            format!("{} soon", "a".repeat(64)),
            format!("{} 5", "A".repeat(64)),
            format!("{} 5", "a".repeat(63)),
            good,
        ];
        assert_eq!(parse_value(&strings), [entry('f', 7)]);
    }

    #[test]
    fn json_has_sha256_and_at() {
        let v = serde_json::to_value(entry('b', 42)).unwrap();
        assert_eq!(v, serde_json::json!({"sha256": "b".repeat(64), "at": 42}));
    }
}
