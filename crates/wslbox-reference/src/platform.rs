//! `os/arch[/variant]` platforms, normalized like containerd's `platforms.Normalize`.

use std::fmt;
use std::str::FromStr;

/// A platform as in an OCI index entry. Architecture names are normalized the way containerd's
/// `platforms.Normalize` does (`aarch64` → `arm64`, `x86_64` → `amd64`, arm64's default variant `v8`).
///
/// Values parsed from text are normalized; values deserialized from an index keep what the index
/// says (so listings show `linux/arm64/v8` as published), and [`Platform::matches`] normalizes both
/// sides before comparing.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub variant: Option<String>,
}

/// How an index entry's platform satisfies a request, see [`Platform::fit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    /// The same platform once normalized (`arm64/v8` is `arm64`).
    Exact,
    /// An older variant the requested CPU also runs (`arm/v6` for `arm/v7`).
    Older,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    #[error(
        "invalid platform `{input}`: {reason} (expected os/arch[/variant], e.g. linux/amd64 or linux/arm/v7)"
    )]
    Invalid { input: String, reason: String },
}

impl Platform {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: variant.map(Into::into),
        }
    }

    /// The platform wslbox pulls by default: always Linux, with the host's CPU
    /// (linux/amd64 on x86_64, linux/arm64 on aarch64, also on Windows on ARM).
    pub fn host_default() -> Self {
        let arch = match std::env::consts::ARCH {
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            other => other,
        };
        Platform::new("linux", arch, None).normalize()
    }

    /// containerd's normal form: lowercase, canonical architecture names, default variants made
    /// explicit for 32-bit arm (`v7`) and dropped where they are the baseline (`arm64/v8`,
    /// `amd64/v1`).
    pub fn normalize(&self) -> Platform {
        let os = match self.os.to_ascii_lowercase().as_str() {
            "macos" => "darwin".to_owned(),
            other => other.to_owned(),
        };
        let variant = self
            .variant
            .as_deref()
            .map(str::to_ascii_lowercase)
            .filter(|v| !v.is_empty());
        let (architecture, variant) =
            normalize_arch(&self.architecture.to_ascii_lowercase(), variant.as_deref());
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// Whether an index entry's platform satisfies this requested platform: same OS and
    /// architecture, and the entry's variant is the requested one or an older one the requested
    /// CPU also runs (`arm/v7` runs `arm/v6`; `amd64/v3` runs `amd64/v2`). A request without a
    /// variant means the baseline (`arm64` = `arm64/v8`, `amd64` = `amd64/v1`).
    pub fn matches(&self, candidate: &Platform) -> bool {
        self.fit(candidate).is_some()
    }

    /// How well `candidate` fits this request; `None` when it cannot run.
    pub fn fit(&self, candidate: &Platform) -> Option<Fit> {
        let want = self.normalize();
        let have = candidate.normalize();
        if want.os != have.os || want.architecture != have.architecture {
            return None;
        }
        if want.variant == have.variant {
            return Some(Fit::Exact);
        }
        let level = |v: &Option<String>| variant_level(&want.architecture, v.as_deref());
        match (level(&want.variant), level(&have.variant)) {
            (Some(w), Some(h)) if h < w => Some(Fit::Older),
            _ => None,
        }
    }

    /// The variant's rank for compatibility ordering: higher runs lower. Only architectures whose
    /// variants form such a ladder have one.
    pub fn variant_rank(&self) -> Option<u32> {
        let p = self.normalize();
        variant_level(&p.architecture, p.variant.as_deref())
    }
}

/// Rank of a (normalized) variant on architectures where newer variants run older code.
fn variant_level(arch: &str, variant: Option<&str>) -> Option<u32> {
    let number = |v: &str| v.strip_prefix('v').and_then(|n| n.parse::<u32>().ok());
    match (arch, variant) {
        ("amd64", None) => Some(1),
        ("amd64", Some(v)) => number(v),
        ("arm64", None) => Some(8),
        ("arm64", Some(v)) => v
            .strip_prefix('v')
            .and_then(|n| n.split('.').next()?.parse().ok()),
        ("arm", Some(v)) => number(v),
        _ => None,
    }
}

fn normalize_arch(arch: &str, variant: Option<&str>) -> (String, Option<String>) {
    let keep = |v: Option<&str>| v.map(str::to_owned);
    let (arch, variant) = match arch {
        "i386" | "386" => ("386", None),
        "x86_64" | "x86-64" | "amd64" => ("amd64", keep(variant.filter(|v| *v != "v1"))),
        "aarch64" | "arm64" => match variant {
            None | Some("8" | "v8" | "v8.0") => ("arm64", None),
            Some(v) if !v.starts_with('v') => ("arm64", Some(format!("v{v}"))),
            other => ("arm64", keep(other)),
        },
        "armhf" => ("arm", Some("v7".into())),
        "armel" => ("arm", Some("v6".into())),
        "arm" => match variant {
            None | Some("7") => ("arm", Some("v7".into())),
            Some(v @ ("5" | "6" | "8")) => ("arm", Some(format!("v{v}"))),
            other => ("arm", keep(other)),
        },
        "loongarch64" => ("loong64", keep(variant)),
        // Unknown names pass through unchanged.
        other => (other, keep(variant)),
    };
    (arch.to_owned(), variant)
}

impl FromStr for Platform {
    type Err = PlatformError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: String| PlatformError::Invalid {
            input: s.into(),
            reason,
        };
        let parts: Vec<&str> = s.split('/').collect();
        if parts.len() < 2 {
            let hint = if s.is_empty() {
                "it is empty".to_owned()
            } else {
                format!("`{s}` has no architecture")
            };
            return Err(invalid(format!("{hint}; give both, e.g. linux/{s}")));
        }
        if parts.len() > 3 {
            return Err(invalid(format!(
                "{} components, at most 3 are allowed",
                parts.len()
            )));
        }
        for (i, part) in parts.iter().enumerate() {
            let what = ["os", "architecture", "variant"][i];
            if part.is_empty() {
                return Err(invalid(format!("empty {what}")));
            }
            if let Some(c) = part
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || "_.-".contains(*c)))
            {
                return Err(invalid(format!(
                    "character `{c}` is not allowed in the {what} `{part}`"
                )));
            }
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()).normalize())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn normalizes_architecture_aliases() {
        assert_eq!(p("linux/x86_64"), Platform::new("linux", "amd64", None));
        assert_eq!(p("linux/x86-64"), Platform::new("linux", "amd64", None));
        assert_eq!(p("linux/aarch64"), Platform::new("linux", "arm64", None));
        assert_eq!(p("linux/arm64/v8"), p("linux/arm64"));
        assert_eq!(p("linux/armhf"), Platform::new("linux", "arm", Some("v7")));
        assert_eq!(p("linux/armel"), Platform::new("linux", "arm", Some("v6")));
        assert_eq!(p("linux/arm"), Platform::new("linux", "arm", Some("v7")));
        assert_eq!(p("linux/i386"), Platform::new("linux", "386", None));
        assert_eq!(p("Linux/AMD64"), Platform::new("linux", "amd64", None));
        assert_eq!(p("linux/amd64/v1"), p("linux/amd64"));
    }

    #[test]
    fn bare_architecture_is_rejected_with_a_hint() {
        let err = "amd64".parse::<Platform>().unwrap_err().to_string();
        assert!(
            err.contains("`amd64` has no architecture; give both, e.g. linux/amd64"),
            "{err}"
        );
    }

    #[test]
    fn rejects_empty_and_extra_components() {
        assert!("linux//v7".parse::<Platform>().is_err());
        assert!("linux/arm/v7/x".parse::<Platform>().is_err());
        assert!("linux/am d64".parse::<Platform>().is_err());
        assert!("".parse::<Platform>().is_err());
    }

    #[test]
    fn arm64_request_matches_index_entry_with_v8() {
        assert!(p("linux/arm64").matches(&Platform::new("linux", "arm64", Some("v8"))));
        assert!(p("linux/arm64").matches(&Platform::new("linux", "aarch64", None)));
    }

    #[test]
    fn arm_v7_runs_v6_but_not_v8() {
        assert!(p("linux/arm/v7").matches(&Platform::new("linux", "arm", Some("v6"))));
        assert!(!p("linux/arm/v7").matches(&Platform::new("linux", "arm", Some("v8"))));
        assert!(!p("linux/arm/v6").matches(&Platform::new("linux", "arm", Some("v7"))));
    }

    #[test]
    fn amd64_variants_order() {
        assert!(p("linux/amd64/v3").matches(&Platform::new("linux", "amd64", Some("v2"))));
        assert!(p("linux/amd64/v3").matches(&Platform::new("linux", "amd64", None)));
        assert!(!p("linux/amd64").matches(&Platform::new("linux", "amd64", Some("v3"))));
    }

    #[test]
    fn os_and_arch_must_match() {
        assert!(!p("linux/amd64").matches(&Platform::new("windows", "amd64", None)));
        assert!(!p("linux/amd64").matches(&Platform::new("linux", "arm64", None)));
        assert!(!p("linux/amd64").matches(&Platform::new("unknown", "unknown", None)));
    }

    #[test]
    fn host_default_is_linux_with_host_cpu() {
        let host = Platform::host_default();
        assert_eq!(host.os, "linux");
        let expected = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        assert_eq!(host.architecture, expected);
    }
}
