//! `/etc/wslbox-image`: where a distribution came from, for later commands (list, upgrade).
//!
//! Format (version 1): UTF-8 lines of `key=value`, no quoting, values to the end of the line;
//! `#` lines are comments; unknown keys are ignored by readers so new ones can be added.
//!
//! ```text
//! # Written by wslbox: the image this distribution was exported from.
//! format=1
//! reference=docker.io/library/debian:bookworm
//! manifest_digest=sha256:…
//! platform=linux/amd64
//! exported_at=1763728000
//! ```

use super::staged::Staged;
use super::{CustomizeError, ImageFacts};

/// Where provenance lives in the tree (`/etc/wslbox-image`).
pub const PROVENANCE_PATH: &str = "etc/wslbox-image";

/// The contents of `/etc/wslbox-image`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Provenance {
    /// Canonical image reference as exported.
    pub reference: String,
    /// Digest of the platform manifest, e.g. `sha256:…`.
    pub manifest_digest: String,
    /// `os/arch[/variant]`.
    pub platform: String,
    /// Export time, Unix seconds.
    pub exported_at: i64,
}

impl Provenance {
    pub fn from_facts(facts: &ImageFacts) -> Self {
        Self {
            reference: facts.reference.to_string(),
            manifest_digest: facts.manifest_digest.to_string(),
            platform: facts.platform.to_string(),
            exported_at: facts.exported_at,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let one_line = |s: &str| s.replace(['\n', '\r'], " ");
        format!(
            "# Written by wslbox: the image this distribution was exported from.\nformat=1\nreference={}\nmanifest_digest={}\nplatform={}\nexported_at={}\n",
            one_line(&self.reference),
            one_line(&self.manifest_digest),
            one_line(&self.platform),
            self.exported_at
        )
        .into_bytes()
    }

    /// Reads the file back; `None` when a required key is missing or malformed.
    pub fn parse(data: &[u8]) -> Option<Self> {
        let text = String::from_utf8_lossy(data);
        let get = |key: &str| {
            text.lines()
                .filter(|l| !l.starts_with('#'))
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| *k == key)
                .map(|(_, v)| v.to_string())
        };
        Some(Self {
            reference: get("reference")?,
            manifest_digest: get("manifest_digest")?,
            platform: get("platform")?,
            exported_at: get("exported_at")?.parse().ok()?,
        })
    }
}

pub(crate) fn apply(staged: &mut Staged, facts: &ImageFacts) -> Result<(), CustomizeError> {
    let path = staged.dir_for_new(PROVENANCE_PATH.as_bytes())?;
    staged.put_file(path, Provenance::from_facts(facts).to_bytes(), 0o644, 0, 0);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provenance_round_trips_and_ignores_unknown_keys() {
        let p = Provenance {
            reference: "docker.io/library/debian:bookworm".into(),
            manifest_digest: format!("sha256:{}", "a".repeat(64)),
            platform: "linux/arm64/v8".into(),
            exported_at: 1_763_728_000,
        };
        let mut bytes = p.to_bytes();
        bytes.extend_from_slice(b"future_key=x=y\n");
        assert_eq!(Provenance::parse(&bytes), Some(p));
        assert_eq!(Provenance::parse(b"format=1\nreference=x\n"), None);
    }
}
