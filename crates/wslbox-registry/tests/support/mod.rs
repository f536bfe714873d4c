//! A tiny HTTP/1.1 server on loopback for protocol edge cases a real registry does not
//! produce on demand (429s, dropped connections, redirects to another host, revoked tokens),
//! plus a one-layer fixture image it can serve.

#![allow(dead_code)] // each test file uses a different part

pub mod client;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use wslbox_reference::Digest;
use wslbox_registry::Reporter;

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path, whether the target is origin-form or (through a proxy) absolute-form.
    pub fn path(&self) -> &str {
        match self.target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
            None => &self.target,
        }
    }
}

/// What to answer.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send only this many body bytes (after a full Content-Length) and hang up.
    pub cut_after: Option<usize>,
    /// Wait this long before sending the body, so answers overlap in time.
    pub pause: Option<std::time::Duration>,
}

impl Reply {
    pub fn new(status: u16) -> Self {
        Reply {
            status,
            ..Default::default()
        }
    }
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
    pub fn header(mut self, k: &str, v: impl Into<String>) -> Self {
        self.headers.push((k.to_owned(), v.into()));
        self
    }
    /// 401 with `WWW-Authenticate: <challenge>`.
    pub fn challenge(challenge: impl Into<String>) -> Self {
        Reply::new(401).header("WWW-Authenticate", challenge)
    }
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Reply::new(200)
            .header("Content-Type", "application/json")
            .body(body)
    }
}

type Handler = dyn Fn(&Seen, usize) -> Reply + Send + Sync;

/// A running server; it stops with the test's runtime.
pub struct Server {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests being answered right now, and the most there ever were at once.
    busy: Arc<(AtomicUsize, AtomicUsize)>,
}

impl Server {
    /// Serves on `ip` (e.g. `127.0.0.1`, or `127.0.0.2` to be "another host"). The handler
    /// gets each request and its index among the requests this server has parsed.
    pub async fn start(
        ip: &str,
        handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) -> Server {
        let listener = TcpListener::bind((ip, 0))
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let count = Arc::new(AtomicUsize::new(0));
        let state = seen.clone();
        let busy = Arc::new((AtomicUsize::new(0), AtomicUsize::new(0)));
        let in_flight = busy.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let (handler, seen, count) = (handler.clone(), state.clone(), count.clone());
                let busy = in_flight.clone();
                tokio::spawn(async move {
                    let Some(req) = read_head(&mut sock).await else {
                        return;
                    };
                    seen.lock().unwrap().push(req.clone());
                    let now = busy.0.fetch_add(1, Ordering::SeqCst) + 1;
                    busy.1.fetch_max(now, Ordering::SeqCst);
                    let n = count.fetch_add(1, Ordering::SeqCst);
                    let reply = handler(&req, n);
                    let _ = write_reply(&mut sock, &req, reply).await;
                    busy.0.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        Server { addr, seen, busy }
    }

    /// The most requests this server was answering at once.
    pub fn max_in_flight(&self) -> usize {
        self.busy.1.load(Ordering::SeqCst)
    }

    /// A plain registry on 127.0.0.1 serving `fx` (see [`Fixture::serve`]).
    pub async fn serving(fx: &Fixture) -> Server {
        let fx = fx.clone();
        Server::start("127.0.0.1", move |req, _| fx.serve(req)).await
    }

    /// Another host (127.0.0.2, so credentials must not follow) serving `fx`'s layer at any
    /// path, with `Range` support: a CDN behind a redirect, or a foreign layer's URL.
    pub async fn other_host_serving_layer(fx: &Fixture) -> Server {
        let layer = fx.layer.clone();
        Server::start("127.0.0.2", move |req, _| range_reply(req, &layer)).await
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The requests, in order, whose path contains `fragment` (e.g. a digest).
    pub fn requests_to(&self, fragment: impl std::fmt::Display) -> Vec<Seen> {
        let fragment = fragment.to_string();
        self.seen()
            .into_iter()
            .filter(|r| r.path().contains(&fragment))
            .collect()
    }

    /// The requests, in order, to the token realm at `/token`.
    pub fn token_requests(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|r| r.path().starts_with("/token"))
            .collect()
    }

    pub fn authority(&self) -> String {
        self.addr.to_string()
    }
}

async fn read_head(sock: &mut tokio::net::TcpStream) -> Option<Seen> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        // A TLS ClientHello (the client probing for HTTPS): hang up, like a plain-HTTP server.
        if buf.is_empty() && chunk[0] == 0x16 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).into_owned();
            let mut lines = head.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let (method, target) = (first.next()?.to_owned(), first.next()?.to_owned());
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .collect();
            let body = buf[end + 4..].to_vec();
            let mut seen = Seen {
                method,
                target,
                headers,
                body,
            };
            let len = seen
                .header("Content-Length")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(0);
            while seen.body.len() < len {
                let n = sock.read(&mut chunk).await.ok()?;
                if n == 0 {
                    break;
                }
                seen.body.extend_from_slice(&chunk[..n]);
            }
            return Some(seen);
        }
    }
}

async fn write_reply(
    sock: &mut tokio::net::TcpStream,
    req: &Seen,
    reply: Reply,
) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nConnection: close\r\nContent-Length: {}\r\n",
        reply.status,
        reply.body.len()
    );
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    sock.write_all(head.as_bytes()).await?;
    if let Some(pause) = reply.pause {
        tokio::time::sleep(pause).await;
    }
    if req.method != "HEAD" {
        let body = match reply.cut_after {
            Some(n) => &reply.body[..n.min(reply.body.len())],
            None => &reply.body[..],
        };
        sock.write_all(body).await?;
    }
    sock.flush().await?;
    sock.shutdown().await
}

pub fn sha256(bytes: &[u8]) -> Digest {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
        .parse()
        .unwrap()
}

/// A one-layer linux/amd64 OCI image.
#[derive(Debug, Clone)]
pub struct Fixture {
    pub repo: String,
    pub manifest: Vec<u8>,
    pub manifest_digest: Digest,
    pub config: Vec<u8>,
    pub config_digest: Digest,
    pub layer: Vec<u8>,
    pub layer_digest: Digest,
}

pub const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

impl Fixture {
    pub fn new() -> Self {
        let layer: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let layer_digest = sha256(&layer);
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Env": ["PATH=/usr/bin", "FIXTURE=1"], "Cmd": ["/bin/sh"], "Labels": { "k": "v" } },
            "rootfs": { "type": "layers", "diff_ids": [layer_digest.to_string()] }
        }))
        .unwrap();
        let config_digest = sha256(&config);
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest.to_string(), "size": config.len() },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest.to_string(), "size": layer.len() }]
        }))
        .unwrap();
        let manifest_digest = sha256(&manifest);
        Fixture {
            repo: "test/img".into(),
            manifest,
            manifest_digest,
            config,
            config_digest,
            layer,
            layer_digest,
        }
    }

    /// Whether `req` asks for the layer blob.
    pub fn is_layer(&self, req: &Seen) -> bool {
        req.path().contains(&self.layer_digest.to_string())
    }

    /// The standard registry answer for `req`: `/v2/`, the manifest by tag or digest, the
    /// config and the layer (with `Range` support). Unknown paths get a 404.
    pub fn serve(&self, req: &Seen) -> Reply {
        let path = req.path();
        let repo = &self.repo;
        if path == "/v2/" {
            return Reply::new(200);
        }
        if path == format!("/v2/{repo}/manifests/latest")
            || path == format!("/v2/{repo}/manifests/{}", self.manifest_digest)
        {
            return Reply::new(200)
                .header("Content-Type", MANIFEST_TYPE)
                .header("Docker-Content-Digest", self.manifest_digest.to_string())
                .body(self.manifest.clone());
        }
        if path == format!("/v2/{repo}/blobs/{}", self.config_digest) {
            return Reply::new(200).body(self.config.clone());
        }
        if path == format!("/v2/{repo}/blobs/{}", self.layer_digest) {
            return range_reply(req, &self.layer);
        }
        Reply::new(404)
            .header("Content-Type", "application/json")
            .body(r#"{"errors":[{"code":"MANIFEST_UNKNOWN"}]}"#)
    }
}

/// The byte range a request asks for, `[start, end)`, from `Range: bytes=N-` or `bytes=N-M`.
pub fn requested_range(req: &Seen, len: usize) -> Option<(usize, usize)> {
    let (start, end) = req
        .header("Range")?
        .strip_prefix("bytes=")?
        .split_once('-')?;
    let start: usize = start.parse().ok()?;
    let end = match end {
        "" => len,
        n => n.parse::<usize>().ok()?.saturating_add(1).min(len),
    };
    (start < end).then_some((start, end))
}

/// 206 for a satisfiable `Range: bytes=N-` or `bytes=N-M`, else 200 with everything.
pub fn range_reply(req: &Seen, data: &[u8]) -> Reply {
    match requested_range(req, data.len()) {
        Some((start, end)) => Reply::new(206)
            .header(
                "Content-Range",
                format!("bytes {start}-{}/{}", end - 1, data.len()),
            )
            .body(data[start..end].to_vec()),
        None => Reply::new(200).body(data.to_vec()),
    }
}

/// Records reporter calls.
#[derive(Debug, Default)]
pub struct Recorder {
    pub events: Mutex<Vec<String>>,
    pub bytes: AtomicUsize,
}

impl Reporter for Recorder {
    fn on_blob_start(&self, digest: &Digest, total: u64) {
        self.events
            .lock()
            .unwrap()
            .push(format!("start {} {total}", digest.short()));
    }
    fn on_blob_progress(&self, _digest: &Digest, bytes: u64) {
        self.bytes.fetch_add(bytes as usize, Ordering::SeqCst);
    }
    fn on_blob_reset(&self, digest: &Digest) {
        self.events
            .lock()
            .unwrap()
            .push(format!("reset {}", digest.short()));
    }
    fn on_blob_done(&self, digest: &Digest, cached: bool) {
        self.events
            .lock()
            .unwrap()
            .push(format!("done {} cached={cached}", digest.short()));
    }
}
