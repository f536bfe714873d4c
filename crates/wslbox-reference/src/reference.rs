//! Docker's reference grammar (`distribution/reference`) and its normalization.
//!
//! Parsing follows `ParseNormalizedNamed` followed by `TagNameOnly`: the first path element is a
//! registry only when it is `localhost`, contains `.` or `:`, or has an uppercase letter; Docker
//! Hub names gain `library/` when they have a single component; `latest` is added when there is
//! neither tag nor digest. The grammar is checked by hand rather than with a regex so that every
//! error can say which part is wrong and where.

use std::fmt;
use std::str::FromStr;

use crate::Digest;

/// The registry name Docker Hub references normalize to.
pub const DOCKER_HUB_REGISTRY: &str = "docker.io";
/// Where Docker Hub's registry API actually answers.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

/// Docker Hub's legacy name, canonicalized to [`DOCKER_HUB_REGISTRY`].
const LEGACY_HUB_REGISTRY: &str = "index.docker.io";
/// Namespace of Docker Hub's official images.
const OFFICIAL_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// distribution/reference limits the repository path (without the registry) to 255 characters.
const MAX_REPOSITORY_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;
const HINT: &str = "references look like [registry[:port]/]repository[:tag][@digest], \
                    e.g. alpine:3.20 or ghcr.io/owner/image@sha256:<64 hex>";

/// A normalized image reference: registry, repository, and a tag and/or digest.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReferenceError {
    #[error("invalid reference `{input}`: {reason}")]
    Invalid { input: String, reason: String },
}

impl Reference {
    /// The registry as written in the reference (`docker.io`, `ghcr.io`, `localhost:5000`, `[::1]:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }
    /// `host[:port]` to send API requests to: `registry-1.docker.io` for Docker Hub.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB_REGISTRY {
            DOCKER_HUB_API_HOST
        } else {
            &self.registry
        }
    }
    /// The repository path, e.g. `library/alpine`.
    pub fn repository(&self) -> &str {
        &self.repository
    }
    /// The tag; `latest` is filled in by normalization when neither tag nor digest is given.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
    /// What to ask the registry for: the digest when there is one, else the tag.
    pub fn manifest_selector(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => DEFAULT_TAG.into(),
        }
    }
    /// The same repository pinned to `digest` (tag kept for display).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference {
            digest: Some(digest),
            ..self.clone()
        }
    }

    /// The short form Docker shows: `alpine:latest`, `user/app:1`, `ghcr.io/o/i@sha256:…`
    /// (Docker Hub's registry and the `library/` namespace dropped).
    ///
    /// The registry stays when leaving it out would change the image: a Docker Hub namespace
    /// such as `localhost` or `foo.bar` would otherwise be read as a registry.
    pub fn familiar(&self) -> String {
        let mut name = String::new();
        let namespace = self.repository.split('/').next().unwrap_or_default();
        let namespace_looks_like_registry = self.repository.contains('/')
            && (namespace == "localhost" || namespace.contains(['.', ':']));
        if self.registry != DOCKER_HUB_REGISTRY || namespace_looks_like_registry {
            name.push_str(&self.registry);
            name.push('/');
        }
        match self.repository.strip_prefix(OFFICIAL_PREFIX) {
            Some(rest) if self.registry == DOCKER_HUB_REGISTRY && !rest.contains('/') => {
                name.push_str(rest)
            }
            _ => name.push_str(&self.repository),
        }
        if let Some(t) = &self.tag {
            name.push(':');
            name.push_str(t);
        }
        if let Some(d) = &self.digest {
            name.push('@');
            name.push_str(&d.to_string());
        }
        name
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map_err(|problem| ReferenceError::Invalid {
            input: s.into(),
            reason: problem.describe(s),
        })
    }
}

impl fmt::Display for Reference {
    /// The canonical, fully-qualified form: `docker.io/library/alpine:latest`,
    /// `ghcr.io/o/i:tag@sha256:…`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// What is wrong, and the byte offset in the input where it starts (when one place is to blame).
struct Problem {
    what: String,
    at: Option<usize>,
}

impl Problem {
    fn at(at: usize, what: impl Into<String>) -> Self {
        Problem {
            what: what.into(),
            at: Some(at),
        }
    }
    fn whole(what: impl Into<String>) -> Self {
        Problem {
            what: what.into(),
            at: None,
        }
    }

    fn describe(&self, input: &str) -> String {
        match self.at {
            // 1-based character position: what a person counts along the line.
            Some(at) => {
                let column = input[..at.min(input.len())].chars().count() + 1;
                format!("{} at position {column}; {HINT}", self.what)
            }
            None => format!("{}; {HINT}", self.what),
        }
    }
}

fn parse(s: &str) -> Result<Reference, Problem> {
    if s.is_empty() {
        return Err(Problem::whole(
            "repository name must have at least one component",
        ));
    }
    // A bare 64-hex string could be an image ID; Docker refuses to guess.
    if s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Problem::whole(
            "a 64-character hexadecimal name is ambiguous with an image ID (write a registry in front, \
             e.g. docker.io/<name>, or pin a digest with NAME@sha256:<hex>)",
        ));
    }

    let (rest, digest) = match s.find('@') {
        Some(at) => (&s[..at], Some(parse_digest(&s[at + 1..], at + 1)?)),
        None => (s, None),
    };
    // A tag can contain neither `/` nor `:`, a name has `:` only in its registry part: a colon after
    // the last slash therefore starts the tag.
    let (name, tag) = match rest.rfind(':') {
        Some(c) if rest.rfind('/').is_none_or(|slash| c > slash) => {
            (&rest[..c], Some((c + 1, &rest[c + 1..])))
        }
        _ => (rest, None),
    };
    if name.is_empty() {
        return Err(Problem::at(0, "missing repository name"));
    }

    let split = split_registry(name);
    if let Some((i, c)) = split.path.char_indices().find(|(_, c)| c.is_uppercase()) {
        return Err(Problem::at(
            split.path_at + i,
            format!(
                "repository name must be lowercase: `{}` has `{c}`",
                split.path
            ),
        ));
    }
    if split.registry_typed {
        check_registry(split.registry).map_err(|(i, what)| Problem::at(i, what))?;
    }
    check_path(split.path).map_err(|(i, what)| Problem::at(split.path_at + i, what))?;
    let repository = format!(
        "{}{}",
        if split.official { OFFICIAL_PREFIX } else { "" },
        split.path
    );
    if repository.len() > MAX_REPOSITORY_LEN {
        return Err(Problem::at(
            split.path_at,
            format!(
                "repository name must not be more than {MAX_REPOSITORY_LEN} characters (`{repository}` has {})",
                repository.len()
            ),
        ));
    }
    let tag = match tag {
        Some((at, t)) => Some(check_tag(t, at)?.to_owned()),
        None if digest.is_none() => Some(DEFAULT_TAG.to_owned()),
        None => None,
    };
    let registry = if split.registry == LEGACY_HUB_REGISTRY {
        DOCKER_HUB_REGISTRY
    } else {
        split.registry
    };
    Ok(Reference {
        registry: registry.into(),
        repository,
        tag,
        digest,
    })
}

/// A name split into registry and repository path the way `splitDockerDomain` does it.
struct Split<'a> {
    registry: &'a str,
    /// Whether the registry was written by the user (and so must be checked).
    registry_typed: bool,
    path: &'a str,
    /// Byte offset of `path` in the input.
    path_at: usize,
    /// Whether `library/` goes in front of `path` (single-component Docker Hub names).
    official: bool,
}

fn split_registry(name: &str) -> Split<'_> {
    let Some((first, rest)) = name.split_once('/') else {
        // A single element is always a Docker Hub name, even `localhost` or `example.com`.
        return Split {
            registry: DOCKER_HUB_REGISTRY,
            registry_typed: false,
            path: name,
            path_at: 0,
            official: true,
        };
    };
    let is_registry = first == "localhost"
        || first == LEGACY_HUB_REGISTRY
        || first.contains(['.', ':'])
        || first.chars().any(|c| c.is_uppercase());
    if is_registry {
        let hub = first == DOCKER_HUB_REGISTRY || first == LEGACY_HUB_REGISTRY;
        Split {
            registry: first,
            registry_typed: true,
            path: rest,
            path_at: first.len() + 1,
            official: hub && !rest.contains('/'),
        }
    } else {
        Split {
            registry: DOCKER_HUB_REGISTRY,
            registry_typed: false,
            path: name,
            path_at: 0,
            official: false,
        }
    }
}

/// `host[:port]` where host is a DNS-ish name, an IPv4 address or `[IPv6]` (no zone IDs).
fn check_registry(registry: &str) -> Result<(), (usize, String)> {
    let port_at = if let Some(inner) = registry.strip_prefix('[') {
        let close = inner
            .find(']')
            .ok_or_else(|| (0, format!("registry `{registry}` has an unclosed `[`")))?;
        let address = &inner[..close];
        if address.is_empty() {
            return Err((
                1,
                format!("registry `{registry}` has an empty IPv6 address"),
            ));
        }
        if let Some(i) = address.find(|c: char| !(c.is_ascii_hexdigit() || c == ':')) {
            return Err((
                1 + i,
                format!(
                    "registry `{registry}`: IPv6 addresses may contain only hex digits and `:` \
                     (no zone IDs or embedded IPv4)"
                ),
            ));
        }
        close + 2
    } else {
        let end = registry.find(':').unwrap_or(registry.len());
        check_host_name(&registry[..end])
            .map_err(|(i, what)| (i, format!("registry `{registry}`: {what}")))?;
        end
    };
    let port = &registry[port_at..];
    if port.is_empty() {
        return Ok(());
    }
    match port.strip_prefix(':') {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err((
            port_at,
            format!("registry `{registry}` has an invalid port `{port}` (expected `:` and digits)"),
        )),
    }
}

/// Dot-separated labels of letters, digits and inner hyphens.
fn check_host_name(host: &str) -> Result<(), (usize, String)> {
    let mut at = 0;
    for label in host.split('.') {
        if label.is_empty() {
            return Err((at, "empty host name label".into()));
        }
        if let Some(i) = label.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')) {
            let c = label[i..].chars().next().unwrap_or_default();
            return Err((
                at + i,
                format!("character `{c}` is not allowed in a host name"),
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            let i = if label.starts_with('-') {
                0
            } else {
                label.len() - 1
            };
            return Err((
                at + i,
                "host name labels must not start or end with `-`".into(),
            ));
        }
        at += label.len() + 1;
    }
    Ok(())
}

/// `component[/component]*`, each component lowercase letters and digits joined by one `.`,
/// one or two `_`, or any number of `-`.
fn check_path(path: &str) -> Result<(), (usize, String)> {
    let mut at = 0;
    for component in path.split('/') {
        check_path_component(component)
            .map_err(|(i, what)| (at + i, format!("repository `{path}`: {what}")))?;
        at += component.len() + 1;
    }
    Ok(())
}

fn check_path_component(c: &str) -> Result<(), (usize, String)> {
    let b = c.as_bytes();
    if b.is_empty() {
        return Err((
            0,
            "empty path component (check for a doubled or trailing `/`)".into(),
        ));
    }
    let alnum = |i: usize| {
        b.get(i)
            .is_some_and(|x| x.is_ascii_lowercase() || x.is_ascii_digit())
    };
    let mut i = 0;
    loop {
        let start = i;
        while alnum(i) {
            i += 1;
        }
        if i == start {
            return Err(match c[i..].chars().next() {
                Some(ch @ ('.' | '_' | '-')) if i == 0 => (
                    i,
                    format!(
                        "path component `{c}` must start with a lowercase letter or digit, not `{ch}`"
                    ),
                ),
                Some(ch @ ('.' | '_' | '-')) => (
                    i,
                    format!("path component `{c}` has too many separators (`{ch}`)"),
                ),
                Some(ch) => (
                    i,
                    format!("character `{ch}` is not allowed in a repository name"),
                ),
                None => (
                    i,
                    format!("path component `{c}` must not end with a separator"),
                ),
            });
        }
        match b.get(i) {
            None => return Ok(()),
            Some(b'.') => i += 1,
            Some(b'_') => i += if b.get(i + 1) == Some(&b'_') { 2 } else { 1 },
            Some(b'-') => {
                while b.get(i) == Some(&b'-') {
                    i += 1;
                }
            }
            Some(_) => {
                let ch = c[i..].chars().next().unwrap_or_default();
                return Err((
                    i,
                    format!("character `{ch}` is not allowed in a repository name"),
                ));
            }
        }
    }
}

/// `[\w][\w.-]{0,127}`.
fn check_tag(tag: &str, at: usize) -> Result<&str, Problem> {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let Some(first) = tag.chars().next() else {
        return Err(Problem::at(at, "empty tag after `:`"));
    };
    if !word(first) {
        return Err(Problem::at(
            at,
            format!("invalid tag `{tag}`: it must start with a letter, digit or `_`"),
        ));
    }
    if let Some((i, c)) = tag
        .char_indices()
        .find(|&(_, c)| !(word(c) || c == '.' || c == '-'))
    {
        return Err(Problem::at(
            at + i,
            format!(
                "invalid tag `{tag}`: character `{c}` is not allowed (tags use letters, digits, `_`, `.` and `-`)"
            ),
        ));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(Problem::at(
            at,
            format!(
                "invalid tag: {} characters, the limit is {MAX_TAG_LEN}",
                tag.len()
            ),
        ));
    }
    Ok(tag)
}

fn parse_digest(digest: &str, at: usize) -> Result<Digest, Problem> {
    if digest.is_empty() {
        return Err(Problem::at(at, "empty digest after `@`"));
    }
    digest
        .parse::<Digest>()
        .map_err(|e| Problem::at(at, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> String {
        match input.parse::<Reference>() {
            Err(ReferenceError::Invalid { reason, .. }) => reason,
            Ok(r) => panic!("`{input}` parsed as {r}"),
        }
    }

    #[test]
    fn bad_tag_error_names_tag_and_position() {
        let r = reason("alpine:Ta g");
        assert!(
            r.starts_with("invalid tag `Ta g`: character ` ` is not allowed"),
            "{r}"
        );
        assert!(r.contains("at position 10"), "{r}");
        assert!(
            r.contains("references look like [registry[:port]/]repository[:tag][@digest]"),
            "{r}"
        );
    }

    #[test]
    fn uppercase_error_points_at_first_uppercase_letter() {
        let r = reason("ghcr.io/Owner/app");
        assert!(
            r.starts_with("repository name must be lowercase: `Owner/app` has `O` at position 9"),
            "{r}"
        );
    }

    #[test]
    fn bad_port_error_names_registry() {
        let r = reason("localhost:50x0/app");
        assert!(
            r.starts_with("registry `localhost:50x0` has an invalid port `:50x0`"),
            "{r}"
        );
    }

    #[test]
    fn bad_digest_error_names_digest() {
        let r = reason("alpine@md5:abc");
        assert!(r.starts_with("unsupported digest algorithm `md5`"), "{r}");
        assert!(r.contains("at position 8"), "{r}");
    }

    #[test]
    fn position_counts_characters_not_bytes() {
        let r = reason("ghcr.io/é/x");
        assert!(r.contains("at position 9"), "{r}");
    }

    #[test]
    fn familiar_drops_hub_and_library() {
        let f = |s: &str| s.parse::<Reference>().unwrap().familiar();
        assert_eq!(f("docker.io/library/alpine"), "alpine:latest");
        assert_eq!(f("user/app:1"), "user/app:1");
        assert_eq!(f("library/foo/bar"), "library/foo/bar:latest");
        assert_eq!(f("localhost:5000/x:y"), "localhost:5000/x:y");
    }

    /// Found by the `reference` fuzz target's round trip (seed `hub-namespace-dotted`).
    #[test]
    fn familiar_keeps_docker_io_when_namespace_looks_like_a_registry() {
        for input in ["docker.io/localhost/foo", "docker.io/foo.bar/baz:1"] {
            let r: Reference = input.parse().unwrap();
            let familiar = r.familiar();
            assert!(familiar.starts_with("docker.io/"), "{familiar}");
            assert_eq!(familiar.parse::<Reference>().unwrap(), r);
        }
    }

    #[test]
    fn api_host_for_docker_hub() {
        let r: Reference = "index.docker.io/x".parse().unwrap();
        assert_eq!(r.registry(), "docker.io");
        assert_eq!(r.api_host(), "registry-1.docker.io");
    }
}
