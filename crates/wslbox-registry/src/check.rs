//! Whether a tag moved: one `HEAD` on the manifest, as `wslbox images --check` asks. No
//! manifest body, config or layer is downloaded.

use reqwest::header::HeaderName;
use reqwest::{Method, StatusCode};
use wslbox_reference::{Digest, Reference};

use crate::error::status_error;
use crate::{Client, RegistryError};

const DOCKER_CONTENT_DIGEST: HeaderName = HeaderName::from_static("docker-content-digest");

impl Client {
    /// The digest `reference` points at now: the registry's `Docker-Content-Digest` for a
    /// `HEAD` of its manifest. A registry that sends no such header gets one `GET`, and the
    /// digest is computed from the body.
    pub async fn current_digest(&self, reference: &Reference) -> Result<Digest, RegistryError> {
        let reg = self.inner.registry_host(reference).await?;
        let repo = reference.repository();
        let selector = reference.manifest_selector();
        let request = Self::manifest_request(&reg, repo, &selector, Method::HEAD)?;
        let response = self
            .inner
            .registry_request(&reg, repo, &request, &format!("manifest {reference}"))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestNotFound {
                registry: reg.name.clone(),
                repository: repo.to_owned(),
                selector,
            });
        }
        if !response.status().is_success() {
            return Err(status_error(&request.url, response).await);
        }
        let header = response
            .headers()
            .get(DOCKER_CONTENT_DIGEST)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<Digest>().ok());
        match header {
            Some(digest) => Ok(digest),
            None => Ok(self
                .fetch_manifest(&reg, repo, &selector, None, &reference.to_string())
                .await?
                .digest),
        }
    }
}
