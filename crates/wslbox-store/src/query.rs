//! Which records a user's argument names: one rule for `images FILTER` and `rmi IMAGE`.
//!
//! - `sha256:<hex prefix>`, or a bare hex prefix of at least 12 digits: any record whose
//!   manifest, index, config or file digest starts with it (`docker rmi <id>`).
//! - An image reference (`alpine`, `alpine:3.20`, `ghcr.io/o/i@sha256:…`), normalized as
//!   Docker does. Without a tag it means every tag for `images` (as `docker images alpine`)
//!   and `:latest` for `rmi` (as `docker rmi alpine`).
//! - Anything else: a record whose canonical or typed reference is exactly the argument
//!   (`tarball:/srv/rootfs.tar.xz`, `oci:/abs/layout:tag`).

use wslbox_reference::{Digest, Reference};

use crate::Record;

const MIN_BARE_HEX: usize = 12;

/// A parsed argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    DigestPrefix(String),
    Reference {
        reference: Reference,
        /// The user typed a tag or digest; without one, what a bare name means depends on
        /// the command ([`Query::matches`]).
        pinned: bool,
        /// As typed: a file name like `rootfs.tar` also parses as a reference.
        input: String,
    },
    Exact(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    #[error(
        "`{0}` is ambiguous: it names {1} images; give more of the digest or the full reference"
    )]
    Ambiguous(String, usize),
}

impl Query {
    pub fn parse(input: &str) -> Query {
        let input = input.trim();
        if let Some(hex) = input.strip_prefix("sha256:")
            && is_hex(hex)
        {
            return Query::DigestPrefix(format!("sha256:{hex}"));
        }
        if input.len() >= MIN_BARE_HEX && is_hex(input) {
            return Query::DigestPrefix(format!("sha256:{input}"));
        }
        // `docker://` is skopeo's name for a registry reference.
        let input = input.strip_prefix("docker://").unwrap_or(input);
        if !has_source_prefix(input)
            && let Ok(reference) = input.parse::<Reference>()
        {
            let name = input.split('@').next().unwrap_or(input);
            let last = name.rsplit('/').next().unwrap_or(name);
            let pinned = input.contains('@') || last.contains(':');
            return Query::Reference {
                reference,
                pinned,
                input: input.to_owned(),
            };
        }
        Query::Exact(input.to_owned())
    }

    /// Whether `record` is named. `bare_means_all_tags`: `images alpine` lists every tag;
    /// `rmi alpine` removes only `alpine:latest`.
    pub fn matches(&self, record: &Record, bare_means_all_tags: bool) -> bool {
        match self {
            Query::DigestPrefix(prefix) => [
                &record.manifest_digest,
                &record.index_digest,
                &record.config_digest,
                &record.sha256,
            ]
            .into_iter()
            .flatten()
            .any(|d: &Digest| d.to_string().starts_with(prefix.as_str())),
            Query::Reference {
                reference,
                pinned,
                input,
            } => {
                if record.kind != "registry" {
                    return record.reference == *input || record.typed == *input;
                }
                let repository = format!("{}/{}", reference.registry(), reference.repository());
                if record.repository.as_deref() != Some(repository.as_str()) {
                    return false;
                }
                if !pinned && bare_means_all_tags {
                    return true;
                }
                if let Some(digest) = reference.digest() {
                    return record.manifest_digest.as_ref() == Some(digest)
                        || record.index_digest.as_ref() == Some(digest);
                }
                record.tag.as_deref() == reference.tag()
            }
            Query::Exact(text) => record.reference == *text || record.typed == *text,
        }
    }

    /// The records named, or an error when a digest prefix is ambiguous (names content of
    /// more than one image; several platforms of one image are fine).
    pub fn select<'a>(
        &self,
        input: &str,
        records: &'a [Record],
        bare_means_all_tags: bool,
    ) -> Result<Vec<&'a Record>, QueryError> {
        let found: Vec<&Record> = records
            .iter()
            .filter(|r| self.matches(r, bare_means_all_tags))
            .collect();
        if let Query::DigestPrefix(_) = self {
            let mut distinct: Vec<&str> = found.iter().map(|r| r.reference.as_str()).collect();
            distinct.sort_unstable();
            distinct.dedup();
            if distinct.len() > 1 {
                return Err(QueryError::Ambiguous(input.to_owned(), distinct.len()));
            }
        }
        Ok(found)
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `oci:`, `tarball:` and the like: never a registry reference, though some parse as one.
fn has_source_prefix(input: &str) -> bool {
    const PREFIXES: [&str; 7] = [
        "oci:",
        "oci-archive:",
        "docker-archive:",
        "squashfs:",
        "tarball:",
        "podman:",
        "docker-daemon:",
    ];
    PREFIXES.iter().any(|p| input.starts_with(p))
        || input.starts_with('/')
        || input.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(reference: &str, tag: Option<&str>, manifest: &str) -> Record {
        let mut r = Record::new("registry", reference, 0);
        let name = reference.split([':', '@']).next().unwrap();
        r.repository = Some(name.into());
        r.tag = tag.map(Into::into);
        r.manifest_digest = Some(
            format!("sha256:{}", manifest.repeat(64 / manifest.len()))
                .parse()
                .unwrap(),
        );
        r
    }

    #[test]
    fn bare_names_mean_all_tags_for_images_and_latest_for_rmi() {
        let records = [
            image("docker.io/library/alpine:latest", Some("latest"), "a"),
            image("docker.io/library/alpine:3.20", Some("3.20"), "b"),
            image("ghcr.io/o/alpine:latest", Some("latest"), "c"),
        ];
        let q = Query::parse("alpine");
        let all = q.select("alpine", &records, true).unwrap();
        assert_eq!(all.len(), 2);
        let latest = q.select("alpine", &records, false).unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(latest[0].tag.as_deref(), Some("latest"));
        let pinned = Query::parse("docker://docker.io/library/alpine:3.20");
        assert_eq!(
            pinned.select("", &records, true).unwrap()[0].tag.as_deref(),
            Some("3.20")
        );
    }

    #[test]
    fn digest_prefixes_match_and_ambiguity_is_an_error() {
        let records = [
            image("docker.io/library/alpine:latest", Some("latest"), "ab"),
            image("docker.io/library/debian:12", Some("12"), "ac"),
        ];
        let q = Query::parse("sha256:ab");
        assert_eq!(q.select("sha256:ab", &records, false).unwrap().len(), 1);
        assert_eq!(
            Query::parse("abababababab"),
            Query::DigestPrefix("sha256:abababababab".into())
        );
        assert!(matches!(
            Query::parse("sha256:a").select("sha256:a", &records, false),
            Err(QueryError::Ambiguous(_, 2))
        ));
        assert!(
            matches!(Query::parse("beef"), Query::Reference { .. }),
            "short hex is a name"
        );
    }

    #[test]
    fn source_references_match_exactly() {
        let mut tar = Record::new("tarball", "tarball:/srv/rootfs.tar", 0);
        tar.typed = "rootfs.tar".into();
        let records = [tar];
        assert_eq!(
            Query::parse("tarball:/srv/rootfs.tar")
                .select("", &records, false)
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            Query::parse("rootfs.tar")
                .select("", &records, false)
                .unwrap()
                .len(),
            1
        );
        assert!(
            Query::parse("tarball:/srv/other.tar")
                .select("", &records, false)
                .unwrap()
                .is_empty()
        );
    }
}
