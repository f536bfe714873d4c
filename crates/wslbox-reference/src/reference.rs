//! Docker's reference grammar (distribution/reference). Filled in by the reference work; the
//! signatures are the contract.

use std::fmt;
use std::str::FromStr;

use crate::Digest;

/// The registry name Docker Hub references normalize to.
pub const DOCKER_HUB_REGISTRY: &str = "docker.io";
/// Where Docker Hub's registry API actually answers.
pub const DOCKER_HUB_API_HOST: &str = "registry-1.docker.io";

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
        if self.registry == DOCKER_HUB_REGISTRY { DOCKER_HUB_API_HOST } else { &self.registry }
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
            (None, None) => "latest".into(),
        }
    }
    /// The same repository pinned to `digest` (tag kept for display).
    pub fn with_digest(&self, digest: Digest) -> Reference {
        Reference { digest: Some(digest), ..self.clone() }
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let _ = s;
        todo!("reference work: parse + normalize exactly like distribution/reference ParseNormalizedNamed + TagNameOnly")
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
