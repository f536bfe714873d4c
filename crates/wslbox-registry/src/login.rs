//! `wslbox login`: check credentials against the registry, then store them.

use reqwest::StatusCode;
use reqwest::header::WWW_AUTHENTICATE;
use wslbox_reference::{DOCKER_HUB_API_HOST, DOCKER_HUB_REGISTRY};

use crate::auth::{RegistryHost, basic, fetch_token};
use crate::challenge::AuthChallenge;
use crate::credentials::{Credential, CredentialLocation, is_docker_hub};
use crate::error::status_error;
use crate::transport::{Auth, Request};
use crate::{Client, RegistryError};

impl Client {
    /// Verifies `username`/`password` against `registry` (pinging `/v2/` and completing its
    /// auth challenge; for token auth that means obtaining a token), then stores them where
    /// `docker login` would. `registry` is a host as in references (`ghcr.io`,
    /// `localhost:5000`, `docker.io`); a scheme or path is ignored.
    pub async fn login(
        &self,
        registry: &str,
        username: &str,
        password: &str,
    ) -> Result<CredentialLocation, RegistryError> {
        let name = registry_name(registry);
        let authority = if name == DOCKER_HUB_REGISTRY {
            DOCKER_HUB_API_HOST
        } else {
            name.as_str()
        };
        let transport = &self.inner.transport;
        let base = transport.base_url(authority).await?;
        let reg = RegistryHost {
            name: name.clone(),
            base: base.clone(),
            mirror: false,
        };
        let ping = Request::get(base.join("v2/").expect("static path"));
        let refused = |reason: String| RegistryError::Unauthorized {
            registry: name.clone(),
            what: "login".into(),
            reason,
        };
        let credential = Credential::basic(username, password);

        let response = transport.send(&ping, None).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .and_then(AuthChallenge::from_header)
                .ok_or_else(|| {
                    refused("it answered 401 without a usable WWW-Authenticate challenge".into())
                })?;
            let auth: Auth = match challenge {
                AuthChallenge::Basic { .. } => basic(username, password, &base),
                AuthChallenge::Bearer { realm, service, .. } => {
                    let (header, _) = fetch_token(
                        transport,
                        &reg,
                        &realm,
                        service.as_deref(),
                        None,
                        Some(&credential),
                    )
                    .await
                    .map_err(|e| match e {
                        RegistryError::Unauthorized { .. } => {
                            refused("wrong user name or password".into())
                        }
                        other => other,
                    })?;
                    Auth::new(header, &base)
                }
            };
            let check = transport.send(&ping, Some(&auth)).await?;
            match check.status() {
                s if s.is_success() => {}
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(refused("wrong user name or password".into()));
                }
                _ => return Err(status_error(&ping.url, check).await),
            }
        } else if !response.status().is_success() {
            return Err(status_error(&ping.url, response).await);
        }
        let store = self.inner.options.credentials.clone();
        Ok(store.store(&name, &credential)?)
    }

    /// Removes stored credentials for `registry` (see [`CredentialStore::erase`]).
    ///
    /// [`CredentialStore::erase`]: crate::CredentialStore::erase
    pub fn logout(&self, registry: &str) -> Result<Vec<CredentialLocation>, RegistryError> {
        Ok(self
            .inner
            .options
            .credentials
            .erase(&registry_name(registry))?)
    }
}

/// `host[:port]` from what a user typed after `login`/`logout`; Docker Hub's aliases become
/// `docker.io`.
pub fn registry_name(input: &str) -> String {
    let input = input.trim();
    if is_docker_hub(input) {
        return DOCKER_HUB_REGISTRY.to_owned();
    }
    let rest = input
        .strip_prefix("https://")
        .or_else(|| input.strip_prefix("http://"))
        .unwrap_or(input);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}
