//! HTTP transport: TLS from the OS store, proxies, plain HTTP only where allowed, retries with
//! bounded backoff, and redirects followed by hand so credentials never leave their host.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RETRY_AFTER};
use reqwest::{Method, Response, StatusCode};
use url::Url;

use crate::error::{connection_hint, describe, tls_failure};
use crate::{ClientOptions, ProxyConfig, RegistryError, RetryPolicy};

const MAX_REDIRECTS: usize = 10;
const LOOPBACK_NO_PROXY: &str = "localhost,127.0.0.0/8,::1";

/// One request, re-sent as is on retries and redirects.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub headers: HeaderMap,
    pub form: Option<Vec<(String, String)>>,
    /// A request body (uploads), re-sent as is on retries and `307`/`308` redirects.
    pub body: Option<bytes::Bytes>,
    /// Whether transient failures are retried here. Off for upload chunks: after a dropped
    /// `PATCH` the registry may hold part of it, so the uploader asks where to go on from.
    pub retry: bool,
    /// Send it over an HTTP/1.1 connection of its own instead of sharing an HTTP/2 one: the
    /// chunks of one blob are fetched in parallel to get more than one TCP connection's share
    /// of the line, which HTTP/2 multiplexing would undo.
    pub own_connection: bool,
    /// Who answers: what a connection failure's hint talks about.
    pub peer: Peer,
}

/// The kind of server a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    /// A registry (or its token service, or the storage it redirects to).
    Registry,
    /// A web server holding a file (`tarball:URL`, `--sha256-url`, `--catalog URL`).
    FileServer,
}

impl Request {
    pub fn get(url: Url) -> Self {
        Request {
            method: Method::GET,
            url,
            headers: HeaderMap::new(),
            form: None,
            body: None,
            retry: true,
            own_connection: false,
            peer: Peer::Registry,
        }
    }
}

/// An `Authorization` value bound to the origin it was obtained for.
#[derive(Clone)]
pub(crate) struct Auth {
    header: HeaderValue,
    origin: (String, u16),
}

impl Auth {
    pub fn new(mut header: HeaderValue, for_url: &Url) -> Self {
        header.set_sensitive(true);
        Auth {
            header,
            origin: origin(for_url),
        }
    }

    fn applies_to(&self, url: &Url) -> bool {
        origin(url) == self.origin
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

fn origin(url: &Url) -> (String, u16) {
    (
        url.host_str().unwrap_or_default().to_ascii_lowercase(),
        url.port_or_known_default().unwrap_or(0),
    )
}

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    /// HTTP/1.1 only, for requests that want a connection of their own.
    http1: reqwest::Client,
    retry: RetryPolicy,
    insecure: Vec<String>,
    schemes: Mutex<HashMap<String, &'static str>>,
}

impl Transport {
    pub fn new(options: &ClientOptions) -> Result<Self, RegistryError> {
        let client = |alpn: &[&[u8]], http1_only: bool| {
            let builder = reqwest::Client::builder()
                .tls_backend_preconfigured(tls_config(alpn)?)
                .redirect(reqwest::redirect::Policy::none())
                .user_agent(options.user_agent.clone())
                .connect_timeout(options.connect_timeout)
                .read_timeout(options.read_timeout);
            let builder = if http1_only {
                builder.http1_only()
            } else {
                builder
            };
            let builder = options
                .resolve
                .iter()
                .fold(builder, |b, (host, ip)| b.resolve(host, (*ip, 0).into()));
            apply_proxy(builder, &options.proxy)?
                .build()
                .map_err(|e| RegistryError::Setup {
                    reason: describe(&e),
                })
        };
        Ok(Transport {
            http: client(&[b"h2", b"http/1.1"], false)?,
            http1: client(&[b"http/1.1"], true)?,
            retry: options.retry.clone(),
            insecure: options
                .insecure_registries
                .iter()
                .map(|r| r.trim().to_ascii_lowercase())
                .collect(),
            schemes: Mutex::new(HashMap::new()),
        })
    }

    /// `scheme://authority/` for a registry. HTTPS unless the registry is loopback or listed
    /// as insecure; then HTTPS is tried once and plain HTTP used if it does not answer,
    /// as Docker does.
    pub async fn base_url(&self, authority: &str) -> Result<Url, RegistryError> {
        let parse = |scheme: &str| {
            Url::parse(&format!("{scheme}://{authority}/")).map_err(|e| {
                RegistryError::InvalidRegistry {
                    registry: authority.to_owned(),
                    reason: e.to_string(),
                }
            })
        };
        let https = parse("https")?;
        if !self.allows_http(&https, authority) {
            return Ok(https);
        }
        if let Some(scheme) = self.schemes.lock().expect("scheme cache").get(authority) {
            return parse(scheme);
        }
        let probe = self
            .http
            .get(https.join("v2/").expect("static path"))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        let scheme = if probe.is_ok() { "https" } else { "http" };
        self.schemes
            .lock()
            .expect("scheme cache")
            .insert(authority.to_owned(), scheme);
        parse(scheme)
    }

    fn allows_http(&self, url: &Url, authority: &str) -> bool {
        let host = url.host_str().unwrap_or_default();
        allows_http(authority, host, &self.insecure)
    }

    /// Sends `req`, retrying transient failures and following redirects. `auth` is attached
    /// only while the URL is on the origin the credential was obtained for.
    pub async fn send(
        &self,
        req: &Request,
        auth: Option<&Auth>,
    ) -> Result<Response, RegistryError> {
        let mut url = req.url.clone();
        let mut method = req.method.clone();
        for _ in 0..=MAX_REDIRECTS {
            let auth = auth.filter(|a| a.applies_to(&url));
            let response = self.send_retrying(&method, &url, req, auth).await?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let Some(location) = response
                .headers()
                .get(LOCATION)
                .and_then(|l| l.to_str().ok())
            else {
                return Ok(response);
            };
            url = url
                .join(location)
                .map_err(|e| RegistryError::InvalidResponse {
                    url: crate::redact_url(&url),
                    reason: format!(
                        "bad redirect location `{}`: {e}",
                        crate::redact_url_text(location)
                    ),
                })?;
            if response.status() == StatusCode::SEE_OTHER {
                method = Method::GET;
            }
        }
        Err(RegistryError::TooManyRedirects {
            url: crate::redact_url(&req.url),
        })
    }

    async fn send_retrying(
        &self,
        method: &Method,
        url: &Url,
        req: &Request,
        auth: Option<&Auth>,
    ) -> Result<Response, RegistryError> {
        let start = Instant::now();
        let mut attempt = 1;
        loop {
            let http = if req.own_connection {
                &self.http1
            } else {
                &self.http
            };
            let mut builder = http
                .request(method.clone(), url.clone())
                .headers(req.headers.clone());
            if let Some(auth) = auth {
                builder = builder.header(AUTHORIZATION, auth.header.clone());
            }
            if let Some(form) = &req.form {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(form)
                    .finish();
                builder = builder
                    .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body);
            }
            if let Some(body) = &req.body {
                builder = builder.body(body.clone());
            }
            let result = builder.send().await;
            let wait = match &result {
                Ok(r) if is_retryable_status(r.status()) => Some(retry_after(r.headers())),
                Ok(_) => None,
                Err(e) if !e.is_builder() && !tls_failure(e) => Some(None),
                Err(_) => None,
            };
            let next = wait
                .filter(|_| req.retry)
                .and_then(|hint| self.retry.next_wait(attempt, start.elapsed(), hint));
            match next {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => return result.map_err(|e| connection_error(url, &e, req.peer)),
            }
        }
    }
}

impl RetryPolicy {
    /// How long to wait before another attempt after `attempt` failed, or `None` when the
    /// budget (attempts or total time) is spent. `hint` is a server's `Retry-After`.
    pub(crate) fn next_wait(
        &self,
        attempt: u32,
        elapsed: Duration,
        hint: Option<Duration>,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let wait = hint.unwrap_or_else(|| self.backoff(attempt));
        (elapsed + wait <= self.max_total).then_some(wait)
    }
}

fn is_retryable_status(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

/// `Retry-After` in seconds (the HTTP-date form falls back to our own backoff).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

pub(crate) fn connection_error(url: &Url, err: &reqwest::Error, peer: Peer) -> RegistryError {
    let host = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    RegistryError::Connection {
        host,
        reason: describe(err),
        hint: connection_hint(err, url.scheme() == "https", peer),
    }
}

/// Whether a registry (`host[:port]`) may be spoken to without verified TLS: loopback, or
/// listed in `insecure_registries` (by authority or by host). The one rule for wslbox's client
/// and for the engines it lets pull (`podman pull --tls-verify=false`).
pub fn is_insecure_registry(authority: &str, insecure_registries: &[String]) -> bool {
    let insecure: Vec<String> = insecure_registries
        .iter()
        .map(|r| r.trim().to_ascii_lowercase())
        .collect();
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    allows_http(authority, host, &insecure)
}

/// `insecure` is trimmed and lowercase.
fn allows_http(authority: &str, host: &str, insecure: &[String]) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let authority = authority.to_ascii_lowercase();
    is_loopback(&host) || insecure.iter().any(|i| *i == authority || *i == host)
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// TLS from the OS store, offering the application protocols `alpn`.
fn tls_config(alpn: &[&[u8]]) -> Result<rustls::ClientConfig, RegistryError> {
    let mut roots = rustls::RootCertStore::empty();
    // Honours SSL_CERT_FILE / SSL_CERT_DIR; unreadable entries are skipped like curl does.
    let found = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(found.certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Setup {
            reason: e.to_string(),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

fn apply_proxy(
    builder: reqwest::ClientBuilder,
    proxy: &ProxyConfig,
) -> Result<reqwest::ClientBuilder, RegistryError> {
    // Explicit configuration only, so what is tested is what runs.
    let mut builder = builder.no_proxy();
    let no_proxy = match proxy
        .no_proxy
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(list) => format!("{list},{LOOPBACK_NO_PROXY}"),
        None => LOOPBACK_NO_PROXY.to_owned(),
    };
    let bad = |url: &str, e: reqwest::Error| RegistryError::Setup {
        reason: format!(
            "invalid proxy `{}`: {}",
            crate::redact_url_text(url),
            e.without_url()
        ),
    };
    if let Some(url) = &proxy.http {
        let p = reqwest::Proxy::http(url).map_err(|e| bad(url, e))?;
        builder = builder.proxy(p.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
    }
    if let Some(url) = &proxy.https {
        let p = reqwest::Proxy::https(url).map_err(|e| bad(url, e))?;
        builder = builder.proxy(p.no_proxy(reqwest::NoProxy::from_string(&no_proxy)));
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insecure_registries_by_authority_or_host() {
        let listed = [
            "Registry.Example:5000".to_owned(),
            "plain.example".to_owned(),
        ];
        assert!(is_insecure_registry("127.0.0.1:5000", &[]));
        assert!(is_insecure_registry("[::1]:5000", &[]));
        assert!(is_insecure_registry("localhost", &[]));
        assert!(is_insecure_registry("registry.example:5000", &listed));
        assert!(is_insecure_registry("plain.example:443", &listed));
        assert!(!is_insecure_registry("registry.example:5001", &listed));
        assert!(!is_insecure_registry("docker.io", &listed));
    }

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "reg.localhost",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["example.com", "10.0.0.1", "::2", "localhost.example.com"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
            max_total: Duration::from_secs(60),
        };
        let waits: Vec<_> = (1..=4).map(|r| p.backoff(r).as_millis()).collect();
        assert_eq!(waits, [100, 200, 350, 350]);
    }

    #[test]
    fn retries_stop_at_max_attempts_and_total_time() {
        let p = RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(8),
            max_total: Duration::from_secs(10),
        };
        assert_eq!(
            p.next_wait(1, Duration::ZERO, None),
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            p.next_wait(3, Duration::ZERO, None),
            None,
            "attempt budget spent"
        );
        assert_eq!(
            p.next_wait(1, Duration::from_secs(9), Some(Duration::from_secs(5))),
            None,
            "time budget spent"
        );
        assert_eq!(
            p.next_wait(2, Duration::ZERO, Some(Duration::from_secs(7))),
            Some(Duration::from_secs(7))
        );
    }

    #[test]
    fn retry_after_seconds_are_read() {
        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, HeaderValue::from_static(" 3 "));
        assert_eq!(retry_after(&h), Some(Duration::from_secs(3)));
        h.insert(
            RETRY_AFTER,
            HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
        );
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn auth_applies_only_to_its_origin() {
        let reg = Url::parse("https://reg.example:443/v2/").unwrap();
        let auth = Auth::new(HeaderValue::from_static("Bearer x"), &reg);
        assert!(auth.applies_to(&Url::parse("https://REG.example/v2/a/blobs/x").unwrap()));
        assert!(!auth.applies_to(&Url::parse("https://cdn.example/blob").unwrap()));
        assert!(!auth.applies_to(&Url::parse("https://reg.example:5000/v2/").unwrap()));
    }
}
