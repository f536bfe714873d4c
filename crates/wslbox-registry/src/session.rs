//! One client's shared state (transport, auth state, options) and the authenticated request
//! every registry call goes through. `client` (manifests), `download` (blobs) and `login`
//! build on it; it knows nothing of them.

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Response, StatusCode};
use tokio::sync::Semaphore;
use wslbox_reference::Reference;

use crate::auth::{Authenticator, RegistryHost};
use crate::challenge::AuthChallenge;
use crate::transport::{Request, Transport};
use crate::{ClientOptions, RegistryError};

/// What clones of one [`Client`](crate::Client) share: connections, tokens and credentials.
pub(crate) struct Session {
    pub transport: Transport,
    pub auth: Authenticator,
    pub options: ClientOptions,
    /// One permit per blob connection open at once (`ClientOptions::jobs`), shared by every
    /// download of this client.
    pub connections: Semaphore,
}

impl Session {
    pub fn new(options: ClientOptions) -> Result<Self, RegistryError> {
        let transport = Transport::new(&options)?;
        let auth = Authenticator::new(options.credentials.clone());
        Ok(Session {
            transport,
            auth,
            connections: Semaphore::new(options.jobs.max(1)),
            options,
        })
    }

    /// The registry `reference` names, with the API base URL its scheme was probed for.
    pub(crate) async fn registry_host(
        &self,
        reference: &Reference,
    ) -> Result<RegistryHost, RegistryError> {
        let base = self.transport.base_url(reference.api_host()).await?;
        Ok(RegistryHost {
            name: reference.registry().to_owned(),
            base,
        })
    }

    /// Sends a request to a registry, answering its auth challenge: a 401 makes us learn the
    /// challenge (or refresh an expired token) and retry once.
    pub(crate) async fn registry_request(
        &self,
        reg: &RegistryHost,
        repo: &str,
        request: &Request,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let scope = format!("repository:{repo}:pull");
        let mut retried = false;
        loop {
            let auth = self.auth.header(&self.transport, reg, Some(&scope)).await?;
            let response = self.transport.send(request, auth.as_ref()).await?;
            match response.status() {
                StatusCode::UNAUTHORIZED => {
                    let challenge = response
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(AuthChallenge::from_header);
                    let has_credential = self.auth.credential(reg)?.is_some();
                    let unauthorized = |reason: &str| RegistryError::Unauthorized {
                        registry: reg.name.clone(),
                        what: what.to_owned(),
                        reason: reason.to_owned(),
                    };
                    let Some(challenge) = challenge.filter(|_| !retried) else {
                        return Err(unauthorized(if has_credential {
                            "the stored credentials were not accepted"
                        } else {
                            "anonymous access was refused: the repository may not exist, or it needs credentials and none are stored"
                        }));
                    };
                    if matches!(challenge, AuthChallenge::Basic { .. }) && !has_credential {
                        return Err(unauthorized(
                            "it requires a user name and password and none are stored",
                        ));
                    }
                    self.auth.challenged(reg, challenge, Some(&scope));
                    retried = true;
                }
                StatusCode::FORBIDDEN => {
                    return Err(RegistryError::Denied {
                        registry: reg.name.clone(),
                        what: what.to_owned(),
                    });
                }
                _ => return Ok(response),
            }
        }
    }
}
