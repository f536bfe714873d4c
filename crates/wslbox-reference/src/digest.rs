//! Content digests (OCI image-spec `descriptor.md#digests`).

use std::fmt;
use std::str::FromStr;

/// A digest algorithm wslbox can verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha256,
    Sha512,
}

impl Algorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the lowercase hex encoding.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated digest such as `sha256:4b8f…`.
///
/// Construction checks the algorithm and that the encoded part is lowercase hex of the exact
/// length, so [`Digest::hex`] is safe to use as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DigestError {
    #[error("invalid digest `{digest}`: expected `sha256:` or `sha512:` followed by hex")]
    Format { digest: String },
    #[error(
        "unsupported digest algorithm `{algorithm}` in `{digest}` (wslbox verifies sha256 and sha512)"
    )]
    Algorithm { digest: String, algorithm: String },
    #[error("invalid digest `{digest}`: expected {expected} lowercase hex characters")]
    Encoded { digest: String, expected: usize },
}

impl Digest {
    /// Builds a digest from an algorithm and the raw hash output.
    pub fn from_bytes(algorithm: Algorithm, hash: &[u8]) -> Self {
        let mut hex = String::with_capacity(hash.len() * 2);
        for b in hash {
            hex.push_str(&format!("{b:02x}"));
        }
        debug_assert_eq!(hex.len(), algorithm.hex_len());
        Digest { algorithm, hex }
    }

    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The encoded part, validated lowercase hex: safe as a path component.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The first 12 hex characters, as Docker shows short IDs.
    pub fn short(&self) -> &str {
        &self.hex[..12]
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (alg, hex) = s
            .split_once(':')
            .ok_or_else(|| DigestError::Format { digest: s.into() })?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ if !alg.is_empty()
                && alg.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b)
                }) =>
            {
                return Err(DigestError::Algorithm {
                    digest: s.into(),
                    algorithm: alg.into(),
                });
            }
            _ => return Err(DigestError::Format { digest: s.into() }),
        };
        if hex.len() != algorithm.hex_len()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(DigestError::Encoded {
                digest: s.into(),
                expected: algorithm.hex_len(),
            });
        }
        Ok(Digest {
            algorithm,
            hex: hex.into(),
        })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.as_str(), self.hex)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_path_traversal_in_encoded_part() {
        let bad = format!("sha256:../../{}", "a".repeat(58));
        assert!(matches!(
            bad.parse::<Digest>(),
            Err(DigestError::Encoded { .. })
        ));
    }

    #[test]
    fn rejects_uppercase_hex() {
        let bad = format!("sha256:{}", "A".repeat(64));
        assert!(bad.parse::<Digest>().is_err());
    }

    #[test]
    fn names_unsupported_algorithm() {
        let err = "md5:abc".parse::<Digest>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unsupported digest algorithm `md5` in `md5:abc` (wslbox verifies sha256 and sha512)"
        );
    }

    #[test]
    fn round_trips() {
        let s = format!("sha256:{}", "0123456789abcdef".repeat(4));
        let d: Digest = s.parse().unwrap();
        assert_eq!(d.to_string(), s);
        assert_eq!(d.short(), "0123456789ab");
    }
}
