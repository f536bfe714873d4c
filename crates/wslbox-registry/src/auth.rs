//! Answering registry challenges: Basic credentials, or Bearer tokens from the realm the
//! registry names (distribution's token-auth spec), cached per repository scope until they
//! expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use reqwest::StatusCode;
use reqwest::header::HeaderValue;
use url::Url;

use crate::RegistryError;
use crate::challenge::AuthChallenge;
use crate::credentials::{Credential, CredentialStore};
use crate::error::status_error;
use crate::transport::{Auth, Request, Transport};

/// A registry as the client addresses it.
#[derive(Debug, Clone)]
pub(crate) struct RegistryHost {
    /// As written in references and credential stores (`docker.io`, `localhost:5000`).
    pub name: String,
    /// `scheme://host[:port]/` API requests go to.
    pub base: Url,
    /// A mirror: a manifest request that fails is not retried, since the next endpoint is
    /// there to be tried at once (a mirror that is down must not cost the retry budget).
    pub mirror: bool,
}

/// Tokens without `expires_in` live this long (distribution's token spec default).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// Tokens are used at most this long, whatever `expires_in` says: a longer-lived one is only
/// fetched again sooner, and an `Instant` cannot hold an expiry centuries away.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
/// Refresh a little before expiry so a token does not run out mid-request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);
/// Used as `client_id` in OAuth2 refresh-token requests.
const CLIENT_ID: &str = "wslbox";

#[derive(Default)]
struct RegistryState {
    challenge: Option<AuthChallenge>,
    credential: Option<Option<Credential>>,
    tokens: HashMap<String, (HeaderValue, Instant)>,
}

/// Per-registry auth state shared by all requests of one client.
pub(crate) struct Authenticator {
    credentials: CredentialStore,
    state: Mutex<HashMap<String, RegistryState>>,
}

/// A token server's answer, checked: the `Authorization` value to send and how long it lasts.
/// `Debug` never shows the token.
pub struct Token {
    header: HeaderValue,
    lifetime: Duration,
}

impl Token {
    /// Parses a token server's JSON body (distribution's token spec: `token`, or OAuth2's
    /// `access_token`, and `expires_in` seconds). The error says what is wrong with it.
    pub fn parse(body: &[u8]) -> Result<Token, String> {
        let parsed: TokenResponse = serde_json::from_slice(body)
            .map_err(|e| format!("the token response is not valid JSON: {e}"))?;
        let token = parsed
            .token
            .filter(|t| !t.is_empty())
            .or(parsed.access_token.filter(|t| !t.is_empty()))
            .ok_or("the token response has neither `token` nor `access_token`")?;
        let header = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| "the token contains characters not allowed in a header")?;
        let lifetime = parsed
            .expires_in
            .filter(|&s| s > 0)
            .map_or(DEFAULT_TOKEN_LIFETIME, Duration::from_secs)
            .min(MAX_TOKEN_LIFETIME);
        Ok(Token { header, lifetime })
    }

    /// The `Authorization` header value, `Bearer <token>`. Secret.
    pub fn authorization(&self) -> &[u8] {
        self.header.as_bytes()
    }

    /// How long the token may be used.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// When a token issued at `issued` runs out.
    pub fn expires(&self, issued: Instant) -> Instant {
        issued + self.lifetime
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("header", &"Bearer <redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl Authenticator {
    pub fn new(credentials: CredentialStore) -> Self {
        Authenticator {
            credentials,
            state: Mutex::new(HashMap::new()),
        }
    }

    fn with_state<T>(&self, reg: &RegistryHost, f: impl FnOnce(&mut RegistryState) -> T) -> T {
        let mut map = self.state.lock().expect("auth state");
        f(map.entry(reg.base.to_string()).or_default())
    }

    /// The stored credential for a registry, looked up once per client.
    pub fn credential(&self, reg: &RegistryHost) -> Result<Option<Credential>, RegistryError> {
        if let Some(c) = self.with_state(reg, |s| s.credential.clone()) {
            return Ok(c);
        }
        let found = self.credentials.get(&reg.name)?;
        self.with_state(reg, |s| s.credential = Some(found.clone()));
        Ok(found)
    }

    /// Remembers the registry's challenge after a 401 and forgets the token for `scope`, so
    /// the next [`header`](Self::header) obtains a fresh one.
    pub fn challenged(&self, reg: &RegistryHost, challenge: AuthChallenge, scope: Option<&str>) {
        self.with_state(reg, |s| {
            s.challenge = Some(challenge);
            s.tokens.remove(scope.unwrap_or_default());
        });
    }

    /// The `Authorization` to send for `scope` (`repository:<repo>:pull`), or `None` before
    /// the registry has asked for any (or when a Basic registry has no credential for us).
    pub async fn header(
        &self,
        transport: &Transport,
        reg: &RegistryHost,
        scope: Option<&str>,
    ) -> Result<Option<Auth>, RegistryError> {
        let Some(challenge) = self.with_state(reg, |s| s.challenge.clone()) else {
            return Ok(None);
        };
        match challenge {
            AuthChallenge::Basic { .. } => match self.credential(reg)? {
                Some(Credential::Basic { username, password }) => {
                    Ok(Some(basic(&username, &password, &reg.base)))
                }
                _ => Ok(None),
            },
            AuthChallenge::Bearer { realm, service, .. } => {
                let key = scope.unwrap_or_default().to_owned();
                let cached = self.with_state(reg, |s| s.tokens.get(&key).cloned());
                if let Some((value, expires)) = cached
                    && Instant::now() + EXPIRY_MARGIN < expires
                {
                    return Ok(Some(Auth::new(value, &reg.base)));
                }
                let credential = self.credential(reg)?;
                let (value, lifetime) = fetch_token(
                    transport,
                    reg,
                    &realm,
                    service.as_deref(),
                    scope,
                    credential.as_ref(),
                )
                .await?;
                let expires = Instant::now() + lifetime;
                self.with_state(reg, |s| s.tokens.insert(key, (value.clone(), expires)));
                Ok(Some(Auth::new(value, &reg.base)))
            }
        }
    }
}

pub(crate) fn basic(username: &str, password: &str, for_url: &Url) -> Auth {
    let encoded = STANDARD.encode(format!("{username}:{password}"));
    Auth::new(
        HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header"),
        for_url,
    )
}

/// Asks the realm for a token: anonymously, with Basic credentials, or with an OAuth2
/// refresh token (identity token). Returns the header to send and the token's lifetime.
pub(crate) async fn fetch_token(
    transport: &Transport,
    reg: &RegistryHost,
    realm: &str,
    service: Option<&str>,
    scope: Option<&str>,
    credential: Option<&Credential>,
) -> Result<(HeaderValue, Duration), RegistryError> {
    let mut url = Url::parse(realm).map_err(|e| RegistryError::InvalidResponse {
        url: reg.base.to_string(),
        reason: format!("the auth challenge names an invalid token realm `{realm}`: {e}"),
    })?;
    let mut request = Request::get(url.clone());
    let mut auth = None;
    match credential {
        Some(Credential::IdentityToken { token }) => {
            let mut form = vec![
                ("grant_type".to_owned(), "refresh_token".to_owned()),
                ("refresh_token".to_owned(), token.clone()),
                ("client_id".to_owned(), CLIENT_ID.to_owned()),
            ];
            form.extend(service.map(|s| ("service".to_owned(), s.to_owned())));
            form.extend(scope.map(|s| ("scope".to_owned(), s.to_owned())));
            request.method = reqwest::Method::POST;
            request.form = Some(form);
        }
        other => {
            {
                let mut q = url.query_pairs_mut();
                if let Some(s) = service {
                    q.append_pair("service", s);
                }
                // Several scopes are several `scope` parameters (distribution's token spec).
                for s in scope.into_iter().flat_map(str::split_whitespace) {
                    q.append_pair("scope", s);
                }
                if let Some(Credential::Basic { username, .. }) = other {
                    q.append_pair("account", username);
                }
            }
            request.url = url.clone();
            if let Some(Credential::Basic { username, password }) = other {
                auth = Some(basic(username, password, &url));
            }
        }
    }
    let response = transport
        .send(&request, auth.as_ref())
        .await
        .map_err(|e| match e {
            RegistryError::Connection { reason, .. } => RegistryError::TokenServiceUnreachable {
                registry: reg.name.clone(),
                realm: realm.to_owned(),
                reason,
            },
            other => other,
        })?;
    let status = response.status();
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        let reason = match credential {
            Some(_) => format!(
                "the token server rejected the stored credentials (HTTP {})",
                status.as_u16()
            ),
            None => format!(
                "the token server refused anonymous access (HTTP {})",
                status.as_u16()
            ),
        };
        return Err(RegistryError::Unauthorized {
            registry: reg.name.clone(),
            what: scope.map_or_else(|| "a token".to_owned(), |s| format!("a token for {s}")),
            reason,
        });
    }
    let url_text = crate::redact_url(&request.url);
    if !status.is_success() {
        return Err(status_error(&request.url, response).await);
    }
    let invalid = |reason: String| RegistryError::InvalidResponse {
        url: url_text.clone(),
        reason,
    };
    let body = response
        .bytes()
        .await
        .map_err(|e| invalid(format!("reading the token response: {e}")))?;
    let token = Token::parse(&body).map_err(invalid)?;
    Ok((token.header, token.lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the stable `token_response` fuzz cases (seed `huge-expires-in`): the expiry
    /// `Instant` overflowed and panicked.
    #[test]
    fn huge_expires_in_is_capped_instead_of_overflowing() {
        let token = Token::parse(br#"{"token":"t","expires_in":18446744073709551615}"#).unwrap();
        assert_eq!(token.lifetime(), MAX_TOKEN_LIFETIME);
        assert!(token.expires(Instant::now()) > Instant::now());
    }

    #[test]
    fn empty_token_falls_back_to_access_token_and_debug_hides_it() {
        let token = Token::parse(br#"{"token":"","access_token":"sekrit-value"}"#).unwrap();
        assert_eq!(token.authorization(), b"Bearer sekrit-value");
        assert_eq!(token.lifetime(), DEFAULT_TOKEN_LIFETIME);
        assert!(!format!("{token:?}").contains("sekrit"));
    }
}
