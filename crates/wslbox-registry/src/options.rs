//! Client options: what the binary decides from flags and environment.

use std::time::Duration;

use crate::credentials::CredentialStore;
use crate::{Blocked, Mirror};

/// How the client talks to registries. [`ClientOptions::default`] reads proxies and
/// credential locations from the environment, like Docker does.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Registries (`host` or `host:port`) that may be reached over plain HTTP
    /// (`--insecure-registry`, `WSLBOX_INSECURE_REGISTRIES`). Loopback registries always may.
    pub insecure_registries: Vec<String>,
    /// Mirrors tried, in order, before the registry they mirror, for pulls only (never pushes).
    pub mirrors: Vec<Mirror>,
    /// Registry prefixes pulls are refused from (registries.conf's `blocked = true`).
    pub blocked: Vec<Blocked>,
    pub proxy: ProxyConfig,
    pub retry: RetryPolicy,
    /// Connections open at once for blob downloads, in total (`--jobs`): several blobs over
    /// one connection each, or one big blob over several (see [`ChunkPolicy`]).
    pub jobs: usize,
    pub chunks: ChunkPolicy,
    /// Fetch foreign (non-distributable) layers from the URLs in their descriptors.
    pub allow_foreign_layers: bool,
    pub credentials: CredentialStore,
    pub user_agent: String,
    pub connect_timeout: Duration,
    /// Longest silence while reading a response before it counts as a dropped connection.
    pub read_timeout: Duration,
    /// Host names pinned to addresses, bypassing DNS (like curl's `--resolve`); the port in
    /// the URL still applies. Mostly for tests that need a non-loopback name.
    pub resolve: Vec<(String, std::net::IpAddr)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            insecure_registries: Vec::new(),
            mirrors: Vec::new(),
            blocked: Vec::new(),
            proxy: ProxyConfig::from_env(),
            retry: RetryPolicy::default(),
            jobs: 8,
            chunks: ChunkPolicy::default(),
            allow_foreign_layers: false,
            credentials: CredentialStore::from_env(),
            user_agent: concat!("wslbox/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
            resolve: Vec::new(),
        }
    }
}

/// When and how a blob is fetched as bounded `Range` chunks over several connections.
///
/// One TCP connection to a far-away CDN gets a fraction of the line, and most OS base images
/// are a single big layer, so parallel layers alone do not fill the link. Chunks are bounded
/// (`bytes=A-B`): an open-ended range makes many servers stream the whole rest of the blob
/// (containerd #12476).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkPolicy {
    /// Bytes asked for per request.
    pub chunk_size: u64,
    /// A blob with fewer bytes left to fetch than this comes over one connection.
    pub min_blob: u64,
}

impl Default for ChunkPolicy {
    /// 4 MiB chunks: at 8 MB/s a request costs one round trip per half second of transfer,
    /// and the chunks held out of order stay a few tens of MiB.
    fn default() -> Self {
        ChunkPolicy {
            chunk_size: 4 << 20,
            min_blob: 8 << 20,
        }
    }
}

/// Proxy settings, as in `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`. Loopback hosts are never
/// proxied (as in Go's `ProxyFromEnvironment`, which Docker uses).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyConfig {
    /// Proxy for `http://` URLs.
    pub http: Option<String>,
    /// Proxy for `https://` URLs.
    pub https: Option<String>,
    /// Comma-separated hosts, domains (`.corp`, `corp`), IPs and CIDRs that bypass the proxy; `*` for all.
    pub no_proxy: Option<String>,
}

impl ProxyConfig {
    /// No proxy at all.
    pub fn none() -> Self {
        ProxyConfig::default()
    }

    /// Reads `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (upper case first, then
    /// lower case), ignoring empty values.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            [name.to_owned(), name.to_ascii_lowercase()]
                .into_iter()
                .find_map(|n| std::env::var(n).ok().filter(|v| !v.trim().is_empty()))
        };
        let all = var("ALL_PROXY");
        ProxyConfig {
            http: var("HTTP_PROXY").or_else(|| all.clone()),
            https: var("HTTPS_PROXY").or(all),
            no_proxy: var("NO_PROXY"),
        }
    }
}

/// Bounds on retrying connection errors, 429 and 5xx answers, and interrupted downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total for one request (1 = no retry).
    pub max_attempts: u32,
    /// The first backoff; each retry doubles it.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
    /// No retry starts once this much time has passed since the first attempt; a
    /// `Retry-After` that would end past it is not waited for.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            max_total: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 2u32.saturating_pow(retry.saturating_sub(1));
        self.initial_backoff
            .saturating_mul(factor)
            .min(self.max_backoff)
    }
}
