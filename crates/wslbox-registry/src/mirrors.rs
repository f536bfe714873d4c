//! Registry mirrors: the `[REGISTRY=]URL` grammar of `--registry-mirror` and
//! `WSLBOX_REGISTRY_MIRRORS`, and the endpoints a pull tries in order (mirrors, then origin).
//!
//! A URL's path is a location prefix, as in containers-registries.conf: repository
//! `library/debian` through `https://m.corp/dockerhub` is `https://m.corp/v2/dockerhub/library/debian`.

use url::Url;
use wslbox_reference::{DOCKER_HUB_REGISTRY, Reference};

/// One mirror of one registry (or of a namespace in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    /// What is mirrored: a registry as references name it (`docker.io`, `127.0.0.1:5000`),
    /// or, from registries.conf, a registry and namespace (`docker.io/library`).
    pub registry: String,
    /// `scheme://host[:port]/` of the mirror's API.
    pub base: Url,
    /// Whether the scheme was written; without one, HTTPS is used, or for loopback and
    /// insecure registries whichever answers (as for registries themselves).
    pub scheme_given: bool,
    /// Path prefix that replaces `registry` before the repository (`dockerhub`), without
    /// slashes at its ends.
    pub prefix: String,
    /// Which references the mirror is used for.
    pub pull: PullFrom,
}

/// registries.conf's `pull-from-mirror` (and `mirror-by-digest-only = true`, which is
/// `DigestOnly`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PullFrom {
    #[default]
    All,
    /// Only references pinned with `@sha256:`: a tag read from a mirror cannot be verified.
    DigestOnly,
    TagOnly,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "invalid registry mirror `{entry}`: {reason}; mirrors look like https://mirror.example[/prefix] (for docker.io) or REGISTRY=URL, e.g. ghcr.io=https://ghcr-mirror.corp"
)]
pub struct MirrorError {
    pub entry: String,
    pub reason: String,
}

impl Mirror {
    /// Parses `URL` (a docker.io mirror) or `REGISTRY=URL`. A URL without scheme is HTTPS.
    pub fn parse(entry: &str) -> Result<Mirror, MirrorError> {
        let entry = entry.trim();
        let bad = |reason: &str| MirrorError {
            entry: entry.to_owned(),
            reason: reason.to_owned(),
        };
        let (registry, location) = match entry.split_once('=') {
            Some((r, l)) => (r.trim().to_ascii_lowercase(), l.trim()),
            None => (DOCKER_HUB_REGISTRY.to_owned(), entry),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB_REGISTRY.to_owned(),
            _ => registry,
        };
        if registry.is_empty() || registry.contains('/') {
            return Err(bad("the registry before `=` must be a host[:port]"));
        }
        if location.is_empty() {
            return Err(bad("the URL is empty"));
        }
        let with_scheme = if location.contains("://") {
            location.to_owned()
        } else {
            format!("https://{location}")
        };
        let url = Url::parse(&with_scheme).map_err(|e| bad(&e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("the URL has no host"));
        }
        if url.query().is_some()
            || url.fragment().is_some()
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(bad(
                "the URL may not have a query, fragment, user or password",
            ));
        }
        // A leading `v2` path element is the API root, not a prefix; `v2ray` is a prefix.
        let path = url.path().trim_matches('/');
        let prefix = match path.split_once('/') {
            _ if path == "v2" => "",
            Some(("v2", rest)) => rest.trim_start_matches('/'),
            _ => path,
        };
        let prefix = prefix.to_owned();
        let mut base = url.clone();
        base.set_path("/");
        Ok(Mirror {
            registry,
            base,
            scheme_given: location.contains("://"),
            prefix,
            pull: PullFrom::All,
        })
    }

    /// `host[:port]` of the mirror: the name its own credentials are stored under.
    pub fn authority(&self) -> String {
        match self.base.port() {
            Some(p) => format!("{}:{p}", self.base.host_str().unwrap_or_default()),
            None => self.base.host_str().unwrap_or_default().to_owned(),
        }
    }

    /// The mirror's repository for `repository` of the origin: the part of it below
    /// [`registry`](Self::registry)'s namespace, after [`prefix`](Self::prefix).
    pub fn repository(&self, repository: &str) -> String {
        let namespace = self.registry.split_once('/').map_or("", |(_, ns)| ns);
        let rest = repository
            .strip_prefix(namespace)
            .map_or(repository, |r| r.trim_start_matches('/'));
        match (self.prefix.is_empty(), rest.is_empty()) {
            (true, _) => rest.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rest}", self.prefix),
        }
    }

    /// The mirror as the user wrote it, without the registry: `https://m.corp/dockerhub`.
    pub fn url(&self) -> String {
        let base = self.base.as_str().trim_end_matches('/');
        if self.prefix.is_empty() {
            base.to_owned()
        } else {
            format!("{base}/{}", self.prefix)
        }
    }
}

/// Whether `reference`'s `registry/repository` is under `prefix` (a registry, or a registry
/// and namespace as registries.conf writes them), whole path elements only, ignoring case.
pub(crate) fn under_prefix(reference: &Reference, prefix: &str) -> bool {
    let name = format!("{}/{}", reference.registry(), reference.repository()).to_ascii_lowercase();
    let prefix = prefix.to_ascii_lowercase();
    name == prefix || name.starts_with(&format!("{prefix}/"))
}

/// The mirrors for `reference`, in the order given: those of the longest matching
/// registry prefix (as in registries.conf), that may serve a tag or a digest reference.
pub(crate) fn mirrors_for<'m>(mirrors: &'m [Mirror], reference: &Reference) -> Vec<&'m Mirror> {
    let matching: Vec<&Mirror> = mirrors
        .iter()
        .filter(|m| under_prefix(reference, &m.registry))
        .collect();
    let longest = matching.iter().map(|m| m.registry.len()).max().unwrap_or(0);
    let by_digest = reference.digest().is_some();
    matching
        .into_iter()
        .filter(|m| m.registry.len() == longest)
        .filter(|m| match m.pull {
            PullFrom::All => true,
            PullFrom::DigestOnly => by_digest,
            PullFrom::TagOnly => !by_digest,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_url_mirrors_docker_hub() {
        let m = Mirror::parse("https://mirror.example.com").unwrap();
        assert_eq!(m.registry, "docker.io");
        assert_eq!(m.base.as_str(), "https://mirror.example.com/");
        assert_eq!(m.prefix, "");
        assert_eq!(m.url(), "https://mirror.example.com");
        assert_eq!(m.repository("library/debian"), "library/debian");
    }

    #[test]
    fn url_without_scheme_is_https_and_keeps_its_prefix() {
        let m = Mirror::parse("mirror.example.com/prefix/").unwrap();
        assert_eq!(m.registry, "docker.io");
        assert_eq!(m.base.as_str(), "https://mirror.example.com/");
        assert_eq!(m.repository("library/debian"), "prefix/library/debian");
        assert_eq!(m.url(), "https://mirror.example.com/prefix");
    }

    #[test]
    fn registry_form_names_the_registry() {
        let m = Mirror::parse("GHCR.io=https://ghcr-mirror.corp/v2/gh").unwrap();
        assert_eq!(m.registry, "ghcr.io");
        assert_eq!(m.prefix, "gh");
        let m = Mirror::parse("127.0.0.1:5000=http://127.0.0.1:6000").unwrap();
        assert_eq!(m.registry, "127.0.0.1:5000");
        assert_eq!(m.authority(), "127.0.0.1:6000");
        assert_eq!(m.base.scheme(), "http");
        let m = Mirror::parse("index.docker.io=m.example").unwrap();
        assert_eq!(m.registry, "docker.io");
    }

    #[test]
    fn bad_entries_are_refused_with_the_entry() {
        for bad in [
            "",
            "ghcr.io=",
            "=https://m",
            "ftp://m.example",
            "https://u@m.example",
            "a/b=https://m",
        ] {
            let e = Mirror::parse(bad).unwrap_err();
            assert_eq!(e.entry, bad.trim(), "{bad}");
        }
    }

    /// Found by the stable `registries_conf` fuzz cases (seed `mirror-password`).
    #[test]
    fn mirror_url_with_only_a_password_is_refused() {
        let e = Mirror::parse("https://:secret@m.example/p").unwrap_err();
        assert!(e.reason.contains("password"), "{e}");
    }

    /// Found by the stable `registries_conf` fuzz cases (seed `mirror-v2-path`).
    #[test]
    fn path_element_starting_with_v2_is_a_prefix() {
        assert_eq!(Mirror::parse("m.corp/v2ray").unwrap().prefix, "v2ray");
        assert_eq!(Mirror::parse("m.corp/v2/hub/").unwrap().prefix, "hub");
        assert_eq!(Mirror::parse("m.corp/v2").unwrap().prefix, "");
    }

    #[test]
    fn mirrors_are_chosen_by_registry_in_order() {
        let list: Vec<Mirror> = [
            " https://a.example",
            "ghcr.io=https://b.example",
            "https://c.example",
        ]
        .into_iter()
        .map(|e| Mirror::parse(e).unwrap())
        .collect();
        let r = |s: &str| s.parse::<Reference>().unwrap();
        let hub: Vec<_> = mirrors_for(&list, &r("alpine"))
            .iter()
            .map(|m| m.url())
            .collect();
        assert_eq!(hub, ["https://a.example", "https://c.example"]);
        assert_eq!(mirrors_for(&list, &r("ghcr.io/o/i")).len(), 1);
        assert!(mirrors_for(&list, &r("quay.io/o/i")).is_empty());
    }

    #[test]
    fn longest_prefix_wins_and_replaces_the_namespace() {
        let mut hub = Mirror::parse("m.example/hub").unwrap();
        let mut library = Mirror::parse("m.example/official").unwrap();
        library.registry = "docker.io/library".into();
        assert_eq!(library.repository("library/debian"), "official/debian");
        hub.pull = PullFrom::DigestOnly;
        let list = [hub, library];
        let r = |s: &str| s.parse::<Reference>().unwrap();
        let urls = |s: &str| -> Vec<String> {
            mirrors_for(&list, &r(s)).iter().map(|m| m.url()).collect()
        };
        assert_eq!(urls("debian"), ["https://m.example/official"]);
        assert!(
            urls("someone/app").is_empty(),
            "digest-only mirror for a tag"
        );
        let pinned = format!("someone/app@sha256:{}", "a".repeat(64));
        assert_eq!(urls(&pinned), ["https://m.example/hub"]);
        assert!(
            urls("docker.io/libraryx/a").is_empty(),
            "whole path elements only"
        );
    }
}
