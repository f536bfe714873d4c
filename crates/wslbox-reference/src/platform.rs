//! `os/arch[/variant]` platforms. Filled in by the reference work; the signatures are the contract.

use std::fmt;
use std::str::FromStr;

/// A platform as in an OCI index entry. Architecture names are normalized the way containerd's
/// `platforms.Normalize` does (`aarch64` → `arm64`, `x86_64` → `amd64`, arm64's default variant `v8`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    #[error("invalid platform `{input}`: {reason} (expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7)")]
    Invalid { input: String, reason: String },
}

impl Platform {
    /// The platform wslbox pulls by default: always Linux, with the host's CPU
    /// (linux/amd64 on x86_64, linux/arm64 on aarch64, also on Windows on ARM).
    pub fn host_default() -> Self {
        todo!("reference work")
    }

    /// Whether an index entry's platform satisfies this requested platform.
    pub fn matches(&self, candidate: &Platform) -> bool {
        let _ = candidate;
        todo!("reference work")
    }
}

impl FromStr for Platform {
    type Err = PlatformError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let _ = s;
        todo!("reference work")
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}
