//! Registry errors. Each names the registry, repository, reference or digest involved and,
//! where the user can act, says how.

use reqwest::Response;
use wslbox_reference::Digest;

use crate::credentials::CredentialError;

/// Only so many characters of an unexpected error body go into an error message.
const BODY_EXCERPT: usize = 300;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    #[error(
        "{registry} refused the request for {what} ({reason}); if it needs credentials, run `wslbox login {registry}`"
    )]
    Unauthorized {
        registry: String,
        what: String,
        reason: String,
    },
    #[error(
        "{host} refused {what} with HTTP {status}; {registry} had redirected the request there, and credentials are never sent to another host, so the redirect must work without them: run it again (the redirect may have expired), or tell the registry's operator"
    )]
    RedirectRefused {
        registry: String,
        host: String,
        what: String,
        status: u16,
    },
    #[error(
        "{registry} denied access to {what} (HTTP 403); check that your account may pull it, or run `wslbox login {registry}`"
    )]
    Denied { registry: String, what: String },
    #[error(
        "{registry} refused to let you push to {repository} ({reason}); run `wslbox login {registry}` with an account that may push there, and check the repository name"
    )]
    PushRefused {
        registry: String,
        repository: String,
        reason: String,
    },
    /// The registry forgot an upload after its connection broke; only sending the whole blob
    /// again can help.
    #[error(
        "{registry} dropped the upload to {repository} after the connection broke ({reason}); run the push again"
    )]
    UploadLost {
        registry: String,
        repository: String,
        reason: String,
    },
    #[error("uploading {what} to {registry}/{repository} failed: {reason}")]
    Upload {
        registry: String,
        repository: String,
        what: String,
        reason: String,
    },
    #[error(
        "{} was not found in repository {repository} on {registry}",
        describe_selector(selector)
    )]
    ManifestNotFound {
        registry: String,
        repository: String,
        selector: String,
    },
    #[error("blob {digest} was not found in repository {repository} on {registry}")]
    BlobNotFound {
        registry: String,
        repository: String,
        digest: Digest,
    },
    #[error("could not connect to {host}: {reason}{hint}")]
    Connection {
        host: String,
        reason: String,
        hint: &'static str,
    },
    #[error(
        "could not get a token for {registry} from the token service it names, {realm}: {reason}; check that this host is reachable from here and your proxy settings (HTTP_PROXY/NO_PROXY)"
    )]
    TokenServiceUnreachable {
        registry: String,
        realm: String,
        reason: String,
    },
    #[error("{url} answered HTTP {status}: {body}{hint}")]
    Status {
        url: String,
        status: u16,
        body: String,
        hint: &'static str,
    },
    #[error("too many redirects fetching {url}")]
    TooManyRedirects { url: String },
    #[error("invalid response from {url}: {reason}")]
    InvalidResponse { url: String, reason: String },
    #[error("manifest digest mismatch for {reference}: expected {expected}, got {actual}")]
    ManifestDigestMismatch {
        reference: String,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "{registry} sent a manifest for {reference} whose digest is {actual}, but its Docker-Content-Digest header says {header}: something between you and the registry changed the manifest, or the registry is broken; pull by digest ({reference}@<digest>) from a registry you trust"
    )]
    ManifestHeaderMismatch {
        registry: String,
        reference: String,
        header: Digest,
        actual: Digest,
    },
    /// `source_name` is the manifest's digest or URL.
    #[error("manifest {source_name} of {reference} is {size} bytes, over the {limit}-byte limit")]
    ManifestTooLarge {
        reference: String,
        source_name: String,
        size: u64,
        limit: u64,
    },
    #[error(
        "layer {digest} is a foreign (non-distributable) layer served from {url}, not by the registry; pass --allow-foreign-layers to download it from there"
    )]
    ForeignLayer { digest: Digest, url: String },
    #[error("layer {digest} of {reference}: {source}")]
    Blob {
        reference: String,
        digest: Digest,
        #[source]
        source: wslbox_cache::CacheError,
    },
    #[error(transparent)]
    Cache(#[from] wslbox_cache::CacheError),
    #[error(transparent)]
    Manifest(#[from] wslbox_image::manifest::ManifestError),
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    #[error("cannot use {registry} as a registry: {reason}")]
    InvalidRegistry { registry: String, reason: String },
    #[error("pulling {reference} is blocked: {source_file} sets `blocked = true` for `{prefix}`")]
    Blocked {
        reference: String,
        prefix: String,
        source_file: String,
    },
    /// Every mirror and then the origin failed; `failures` has one line per mirror.
    #[error(
        "no endpoint could serve {what}:\n{failures}  origin {registry}: {origin}\ncheck the mirror URLs (--registry-mirror, WSLBOX_REGISTRY_MIRRORS)"
    )]
    AllEndpointsFailed {
        what: String,
        failures: String,
        registry: String,
        origin: Box<RegistryError>,
    },
    #[error("could not set up the HTTP client: {reason}")]
    Setup { reason: String },
}

impl RegistryError {
    /// The error for `what` when every mirror failed (`failures`: label and reason each) and
    /// then the origin with `origin`; just `origin` when there were no mirrors.
    pub(crate) fn all_failed(
        what: &str,
        registry: &str,
        failures: Vec<(String, String)>,
        origin: RegistryError,
    ) -> RegistryError {
        if failures.is_empty() {
            return origin;
        }
        let failures = failures
            .iter()
            .map(|(label, reason)| format!("  {label}: {reason}\n"))
            .collect();
        RegistryError::AllEndpointsFailed {
            what: what.to_owned(),
            failures,
            registry: registry.to_owned(),
            origin: Box::new(origin),
        }
    }
}

/// `tag `x`` or `manifest sha256:…` for messages.
fn describe_selector(selector: &str) -> String {
    if selector.contains(':') {
        format!("manifest {selector}")
    } else {
        format!("tag `{selector}`")
    }
}

/// Hint appended to connection errors.
pub(crate) fn connection_hint(
    err: &reqwest::Error,
    https: bool,
    peer: crate::transport::Peer,
) -> &'static str {
    if peer == crate::transport::Peer::FileServer {
        return if https && tls_failure(err) {
            "; if the server uses a private CA, add it to the system store or set SSL_CERT_FILE"
        } else if https {
            "; check the URL, your network and proxy settings (HTTPS_PROXY/NO_PROXY)"
        } else {
            "; check the URL, your network and proxy settings (HTTP_PROXY/NO_PROXY)"
        };
    }
    if https && tls_failure(err) {
        "; if the registry uses a private CA, add it to the system store or set SSL_CERT_FILE; if it only speaks HTTP, pass --insecure-registry"
    } else if https {
        "; check the host name, your network and proxy settings (HTTPS_PROXY/NO_PROXY); for a plain-HTTP registry pass --insecure-registry"
    } else {
        "; check that the registry is running and your proxy settings (HTTP_PROXY/NO_PROXY)"
    }
}

/// Whether the TLS handshake failed (untrusted certificate, or a peer that does not speak
/// TLS): retrying cannot help.
pub(crate) fn tls_failure(err: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        // io::Errors nest (hyper wraps rustls' io::Error in another), and their `source()`
        // skips the wrapped error itself, so unwrap them by hand.
        let mut current = e;
        loop {
            if current.is::<rustls::Error>() {
                return true;
            }
            match current
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => current = inner,
                None => break,
            }
        }
        source = e.source();
    }
    false
}

/// The whole error chain of a reqwest error in one line (its Display hides the cause).
pub(crate) fn describe(err: &reqwest::Error) -> String {
    // reqwest names the whole URL (password, signed query and all); the callers name the host.
    let mut out = err.to_string();
    if let Some(url) = err.url() {
        out = out.replace(&format!(" for url ({url})"), "");
    }
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// An error for an unexpected status, with what the body explains: the registry's error codes
/// and messages, or the start of a text body; an HTML page (a proxy's or load balancer's error
/// page) is only named, not printed.
pub(crate) async fn status_error(url: &url::Url, response: Response) -> RegistryError {
    let status = response.status();
    let html = (response.headers().get(reqwest::header::CONTENT_TYPE))
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("html"));
    let text = response.text().await.unwrap_or_default();
    RegistryError::Status {
        url: crate::redact_url(url),
        status: status.as_u16(),
        body: explain_body(status, &text, html),
        hint: status_hint(status.as_u16()),
    }
}

/// The part of an error body worth a user's line.
fn explain_body(status: reqwest::StatusCode, text: &str, html: bool) -> String {
    let text = text.trim();
    let reason = status.canonical_reason().unwrap_or("error");
    if let Ok(body) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(errors) = body.get("errors").and_then(|e| e.as_array())
        && !errors.is_empty()
    {
        let field = |e: &serde_json::Value, key: &str| {
            e.get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        let described: Vec<String> = errors
            .iter()
            .map(|e| {
                format!("{} {}", field(e, "code"), field(e, "message"))
                    .trim()
                    .to_owned()
            })
            .collect();
        return excerpt(&described.join("; "));
    }
    if html || text.starts_with('<') {
        return format!(
            "{reason} (an HTML page, not a registry answer: a proxy or load balancer may stand in front of the registry)"
        );
    }
    if text.is_empty() {
        return format!("{reason} (empty body)");
    }
    excerpt(text)
}

fn excerpt(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control())
        .take(BODY_EXCERPT)
        .collect()
}

/// What to do about a status no retry got past.
fn status_hint(status: u16) -> &'static str {
    match status {
        429 => {
            "; the registry limits requests: wait a while and run it again, `wslbox login` for a higher limit, or pull through a mirror (--registry-mirror)"
        }
        500..=599 => {
            "; the registry is failing: try again later, or pull through a mirror (--registry-mirror)"
        }
        _ => "",
    }
}
