//! One client's shared state (transport, auth state, options) and the authenticated request
//! every registry call goes through. `client` (manifests), `download` (blobs) and `login`
//! build on it; it knows nothing of them.

use reqwest::header::WWW_AUTHENTICATE;
use reqwest::{Response, StatusCode};
use tokio::sync::Semaphore;
use wslbox_reference::Reference;

use crate::auth::{Authenticator, RegistryHost};
use crate::challenge::AuthChallenge;
use crate::mirrors::{Mirror, mirrors_for};
use crate::transport::{Request, Transport, is_insecure_registry};
use crate::{ClientOptions, RegistryError};

/// One place a pull may fetch from: a mirror or the origin registry.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The host requests go to; its own credentials are used (never the origin's on a mirror).
    pub reg: RegistryHost,
    /// The reference as this endpoint names it (a mirror's prefix before the repository).
    pub reference: Reference,
    /// The mirror's URL, `None` for the origin.
    pub mirror: Option<String>,
}

impl Endpoint {
    /// `mirror https://…` or `origin ghcr.io`, for messages.
    pub fn label(&self) -> String {
        match &self.mirror {
            Some(url) => format!("mirror {url}"),
            None => format!("origin {}", self.reg.name),
        }
    }
}

/// `repository` on the mirror at `authority`, as a reference (used for its repository path
/// and in messages). A host the grammar would not read as a registry is named `localhost`.
fn mirror_reference(origin: &Reference, authority: &str, repository: &str) -> Reference {
    let selector = match origin.digest() {
        Some(d) => format!("@{d}"),
        None => format!(":{}", origin.manifest_selector()),
    };
    let parse = |host: &str| {
        format!("{host}/{repository}{selector}")
            .parse::<Reference>()
            .ok()
    };
    parse(authority)
        .filter(|r| r.registry() == authority && r.repository() == repository)
        .or_else(|| parse("localhost"))
        .unwrap_or_else(|| origin.clone())
}

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
            mirror: false,
        })
    }

    /// Where a pull of `reference` is tried, in order: its registry's mirrors
    /// ([`ClientOptions::mirrors`]), then the registry itself.
    pub(crate) async fn endpoints(
        &self,
        reference: &Reference,
    ) -> Result<Vec<Endpoint>, RegistryError> {
        let mut endpoints = Vec::new();
        if let Some(blocked) = self.options.blocked.iter().find(|b| b.matches(reference)) {
            return Err(RegistryError::Blocked {
                reference: reference.to_string(),
                prefix: blocked.prefix.clone(),
                source_file: blocked.source.clone(),
            });
        }
        for mirror in mirrors_for(&self.options.mirrors, reference) {
            let authority = mirror.authority();
            if mirror.base.scheme() == "http"
                && !is_insecure_registry(&authority, &self.options.insecure_registries)
            {
                return Err(RegistryError::InvalidRegistry {
                    registry: mirror.url(),
                    reason: format!(
                        "a plain-HTTP mirror could rewrite tags; use https:// or pass --insecure-registry {authority}"
                    ),
                });
            }
            // Without a written scheme, the probed one (HTTP for a plain loopback mirror).
            let mirror = if mirror.scheme_given {
                mirror.clone()
            } else {
                Mirror {
                    base: self.transport.base_url(&authority).await?,
                    ..mirror.clone()
                }
            };
            endpoints.push(Endpoint {
                reference: mirror_reference(
                    reference,
                    &authority,
                    &mirror.repository(reference.repository()),
                ),
                mirror: Some(mirror.url()),
                reg: RegistryHost {
                    name: authority,
                    base: mirror.base,
                    mirror: true,
                },
            });
        }
        endpoints.push(Endpoint {
            reg: self.registry_host(reference).await?,
            reference: reference.clone(),
            mirror: None,
        });
        Ok(endpoints)
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
        self.scoped_request(reg, &scope, None, request, what).await
    }

    /// [`registry_request`](Self::registry_request) for an upload to `repo`: the token asks
    /// for `push,pull` there (and `pull` on each of `also_pull`, the repositories a blob may be
    /// mounted from), and a refusal says that pushing was refused.
    pub(crate) async fn push_request(
        &self,
        reg: &RegistryHost,
        repo: &str,
        also_pull: &[&str],
        request: &Request,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let mut scope = format!("repository:{repo}:pull,push");
        for from in also_pull {
            scope.push_str(&format!(" repository:{from}:pull"));
        }
        self.scoped_request(reg, &scope, Some(repo), request, what)
            .await
    }

    /// `scope` is one or more space-separated token scopes; `push_to` names the repository
    /// when this is an upload.
    async fn scoped_request(
        &self,
        reg: &RegistryHost,
        scope: &str,
        push_to: Option<&str>,
        request: &Request,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let scope = scope.to_owned();
        let mut retried = false;
        loop {
            let auth = self.auth.header(&self.transport, reg, Some(&scope)).await?;
            let response = self.transport.send(request, auth.as_ref()).await?;
            let status = response.status();
            // A refusal from a host a redirect led to is that host's: its challenge is never
            // taken for the registry's (it could name a token realm that would get the
            // user's credentials).
            if matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)
                && !same_origin(response.url(), &request.url)
            {
                return Err(RegistryError::RedirectRefused {
                    registry: reg.name.clone(),
                    host: (response.url().host_str().unwrap_or_default().to_owned())
                        + &response
                            .url()
                            .port()
                            .map(|p| format!(":{p}"))
                            .unwrap_or_default(),
                    what: what.to_owned(),
                    status: status.as_u16(),
                });
            }
            match status {
                StatusCode::UNAUTHORIZED => {
                    let challenge = response
                        .headers()
                        .get(WWW_AUTHENTICATE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(AuthChallenge::from_header);
                    let has_credential = self.auth.credential(reg)?.is_some();
                    let unauthorized = |reason: &str| match push_to {
                        Some(repo) => RegistryError::PushRefused {
                            registry: reg.name.clone(),
                            repository: repo.to_owned(),
                            reason: if has_credential {
                                "the stored credentials may not push there".to_owned()
                            } else {
                                "pushing needs credentials and none are stored".to_owned()
                            },
                        },
                        None => RegistryError::Unauthorized {
                            registry: reg.name.clone(),
                            what: what.to_owned(),
                            reason: reason.to_owned(),
                        },
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
                StatusCode::FORBIDDEN if push_to.is_some() => {
                    return Err(RegistryError::PushRefused {
                        registry: reg.name.clone(),
                        repository: push_to.unwrap_or_default().to_owned(),
                        reason: "HTTP 403: the account may not push there".to_owned(),
                    });
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

/// Same scheme, host and port.
fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin()
}
