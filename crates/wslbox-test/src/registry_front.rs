//! A front server that sits between a client and a test [`Registry`] to stage situations a
//! plain registry never produces on its own:
//!
//! - **CDN redirects**: blob `GET`s get a 307 to a *different host* (`127.0.0.2`, the "CDN"),
//!   which serves the bytes from the registry's storage and records the headers it got, so a
//!   test can check that no `Authorization` header followed the redirect.
//! - **Interrupted downloads**: the first `GET` of one chosen blob is cut off after N body
//!   bytes (the connection just closes), so the client has to resume, ideally with `Range`.
//! - **Expiring tokens**: the first bearer token seen stops working after N repository requests;
//!   the front then forwards the request *without* its `Authorization`, so the registry answers
//!   with its genuine 401 challenge and the client must fetch a new token.
//!
//! - **Slow blobs**: blob bodies trickle at a fixed rate, so a test can act (kill the client,
//!   start another process) while a download is in flight.
//! - **No ranges**: `Range` headers are dropped, so a resumed download gets the whole blob
//!   again (200), as from a server that does not support ranges.
//!
//! - **A process killed at a byte count**: blob bodies stop, all together, once N bytes of
//!   them were sent, and the front holds the connections open until the client goes away, so
//!   that a test can kill the client with exactly that much downloaded.
//!
//! - **Dropped uploads**: one chosen upload `PATCH` reaches the registry with only its first
//!   N body bytes (or not at all), and the client's connection then closes without an answer,
//!   as when a link drops mid-upload; the client has to ask the registry how much it holds
//!   and resume from there, or start over when the registry cancelled the upload.
//!
//! Everything else is forwarded byte for byte.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use crate::front_faults::{Fault, Faulty};
use crate::registry::Registry;
pub use crate::registry_http::SeenRequest;
use crate::registry_http::{HttpServer, Request, Response, read_headers};

/// What the front changes.
#[derive(Debug, Clone, Default)]
pub struct FrontOptions {
    /// Answer blob `GET`s with a 307 to the CDN host.
    pub redirect_blobs: bool,
    /// Reject the first bearer token after it authorized this many repository requests.
    pub expire_first_token_after: Option<usize>,
    /// Cut the first `GET` of this blob (`sha256:<hex>`) after this many body bytes.
    pub truncate_blob: Option<(String, u64)>,
    /// Send blob bodies at this many bytes per second.
    pub blob_bytes_per_second: Option<u64>,
    /// Drop `Range` from every forwarded request.
    pub ignore_range: bool,
    /// Cut upload `PATCH` number `.0` (1-based): forward only its first `.1` body bytes (none:
    /// the request never reaches the registry), then hang up on the client unanswered.
    pub cut_patch: Option<(usize, usize)>,
    /// Stop every blob body once this many blob body bytes were sent in all, and hold the
    /// connections open until the client closes them ([`Front::held`] says when).
    pub hold_after_blob_bytes: Option<u64>,
    /// A lying or broken registry ([`crate::front_faults`]).
    pub fault: Option<Fault>,
}

/// A running front (and CDN host); stops when dropped.
pub struct Front {
    server: HttpServer,
    _cdn: HttpServer,
    _unauthorized: HttpServer,
    state: Arc<State>,
}

struct State {
    upstream: SocketAddr,
    options: FrontOptions,
    cdn: SocketAddr,
    forwarded: Mutex<Vec<SeenRequest>>,
    cdn_requests: Arc<Mutex<Vec<SeenRequest>>>,
    first_token: Mutex<Option<(String, usize)>>,
    rejected: Mutex<usize>,
    truncated: Mutex<bool>,
    /// Upload `PATCH`es seen, and whether one was cut.
    patches: Mutex<(usize, bool)>,
    /// Blob body bytes sent, and whether a body is held ([`FrontOptions::hold_after_blob_bytes`]).
    blob_bytes: Mutex<(u64, bool)>,
    /// Set by [`Front::stop_holding`].
    hold_stopped: std::sync::atomic::AtomicBool,
    fault: Option<Faulty>,
    /// The host that answers 401 to everything ([`Fault::RedirectToUnauthorized`]), and what
    /// it was sent.
    unauthorized: SocketAddr,
    unauthorized_requests: Arc<Mutex<Vec<SeenRequest>>>,
}

impl Front {
    /// Starts a front for `registry` on 127.0.0.1 and a CDN host on 127.0.0.2.
    pub fn start(registry: &Registry, options: FrontOptions) -> Self {
        let blobs = registry
            .storage_dir()
            .join("docker/registry/v2/blobs/sha256");
        let cdn_requests: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let cdn_seen = Arc::clone(&cdn_requests);
        let cdn = HttpServer::start(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            Arc::new(move |request: Request, mut stream| {
                cdn_seen.lock().expect("cdn log").push(seen(&request));
                let _ = serve_cdn_blob(&blobs, &request)
                    .write_to(&mut stream, request.method == "HEAD");
            }),
        )
        .expect("start the CDN fixture on 127.0.0.2");
        let unauthorized_requests: Arc<Mutex<Vec<SeenRequest>>> = Arc::default();
        let unauthorized_seen = Arc::clone(&unauthorized_requests);
        let unauthorized = HttpServer::start(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            Arc::new(move |request: Request, mut stream: TcpStream| {
                (unauthorized_seen.lock().expect("401 log")).push(seen(&request));
                if let Ok(addr) = stream.local_addr() {
                    let _ = crate::front_faults::unauthorized(addr)
                        .write_to(&mut stream, request.method == "HEAD");
                }
            }),
        )
        .expect("start the 401 host on 127.0.0.3");
        let fault = options.fault.clone().map(Faulty::new);
        let state = Arc::new(State {
            upstream: registry.addr(),
            options,
            cdn: cdn.addr(),
            forwarded: Mutex::default(),
            cdn_requests,
            first_token: Mutex::default(),
            rejected: Mutex::default(),
            truncated: Mutex::default(),
            patches: Mutex::default(),
            blob_bytes: Mutex::default(),
            hold_stopped: Default::default(),
            fault,
            unauthorized: unauthorized.addr(),
            unauthorized_requests,
        });
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(
            Ipv4Addr::LOCALHOST.into(),
            Arc::new(move |request: Request, stream| {
                let _ = handler_state.handle(request, stream);
            }),
        )
        .expect("start the registry front");
        Self {
            server,
            _cdn: cdn,
            _unauthorized: unauthorized,
            state,
        }
    }

    /// `127.0.0.1:PORT`: use this as the registry in image references.
    pub fn host(&self) -> String {
        self.server.addr().to_string()
    }

    /// `host/NAME`.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    /// The CDN host's address (`127.0.0.2:PORT`).
    pub fn cdn_addr(&self) -> SocketAddr {
        self.state.cdn
    }

    /// Requests the CDN host received so far.
    pub fn cdn_requests(&self) -> Vec<SeenRequest> {
        self.state.cdn_requests.lock().expect("cdn log").clone()
    }

    /// Requests the front forwarded to the registry (after any header changes).
    pub fn forwarded(&self) -> Vec<SeenRequest> {
        self.state.forwarded.lock().expect("front log").clone()
    }

    /// Whether an upload `PATCH` was cut ([`FrontOptions::cut_patch`]).
    pub fn patch_was_cut(&self) -> bool {
        self.state.patches.lock().expect("front patch state").1
    }

    /// How many requests [`FrontOptions::fault`] changed.
    pub fn fault_hits(&self) -> usize {
        self.state.fault.as_ref().map_or(0, Faulty::hits)
    }

    /// Requests the 401 host ([`Fault::RedirectToUnauthorized`]) received.
    pub fn unauthorized_requests(&self) -> Vec<SeenRequest> {
        self.state
            .unauthorized_requests
            .lock()
            .expect("401 log")
            .clone()
    }

    /// Blob body bytes the front sent so far.
    pub fn blob_bytes_sent(&self) -> u64 {
        self.state.blob_bytes.lock().expect("front byte count").0
    }

    /// Whether a blob body is being held at [`FrontOptions::hold_after_blob_bytes`].
    pub fn held(&self) -> bool {
        self.state.blob_bytes.lock().expect("front byte count").1
    }

    /// Serves later blob bodies whole, whatever [`FrontOptions::hold_after_blob_bytes`] says.
    pub fn stop_holding(&self) {
        (self.state.hold_stopped).store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// How many requests had an expired token stripped.
    pub fn rejected_tokens(&self) -> usize {
        *self.state.rejected.lock().expect("front counter")
    }
}

impl State {
    fn handle(&self, request: Request, mut client: TcpStream) -> io::Result<()> {
        if let Some(fault) = &self.fault {
            let played = fault.play(&request, &mut client, self.upstream, self.unauthorized)?;
            if played {
                self.forwarded
                    .lock()
                    .expect("front log")
                    .push(seen(&request));
                return Ok(());
            }
        }
        if self.options.redirect_blobs
            && request.method == "GET"
            && let Some(hex) = blob_hex(request.path())
        {
            self.forwarded
                .lock()
                .expect("front log")
                .push(seen(&request));
            let location = format!("http://{}/cdn/sha256/{hex}?signature=wslbox-test", self.cdn);
            return Response::new(307)
                .header("Location", location)
                .write_to(&mut client, false);
        }
        if let Some(keep) = self.patch_to_cut(&request) {
            return self.forward_cut_patch(request, keep);
        }
        let strip_auth = self.token_expired(&request);
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("connection"))
            .filter(|(name, _)| !(strip_auth && name.eq_ignore_ascii_case("authorization")))
            .filter(|(name, _)| !(self.options.ignore_range && name.eq_ignore_ascii_case("range")))
            .cloned()
            .collect();
        self.forwarded.lock().expect("front log").push(SeenRequest {
            method: request.method.clone(),
            target: request.target.clone(),
            headers: headers.clone(),
        });
        let mut upstream = TcpStream::connect(self.upstream)?;
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("Connection: close\r\n\r\n");
        upstream.write_all(head.as_bytes())?;
        upstream.write_all(&request.body)?;
        let mut reader = BufReader::new(upstream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line)?;
        let mut head = status_line;
        for (name, value) in read_headers(&mut reader)? {
            if !name.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        head.push_str("Connection: close\r\n\r\n");
        client.write_all(head.as_bytes())?;
        // The upstream closes after its response, so EOF ends the body whatever its framing.
        let limit = self.truncation(&request).unwrap_or(u64::MAX);
        let blob = request.method == "GET" && blob_hex(request.path()).is_some();
        let rate = self.options.blob_bytes_per_second.filter(|_| blob);
        let mut body = reader.take(limit);
        let hold = (self.options.hold_after_blob_bytes)
            .filter(|_| !self.hold_stopped.load(std::sync::atomic::Ordering::SeqCst));
        match (rate, hold) {
            (_, Some(hold)) if blob => self.send_until_held(&mut body, &mut client, hold)?,
            (Some(rate), _) => trickle(&mut body, &mut client, rate)?,
            _ if blob => {
                let sent = io::copy(&mut body, &mut client)?;
                self.blob_bytes.lock().expect("front byte count").0 += sent;
            }
            _ => {
                io::copy(&mut body, &mut client)?;
            }
        }
        client.flush()
    }

    /// Sends a blob body while the front-wide count stays within `hold`, then holds the
    /// connection open, sending nothing, until the client closes it.
    fn send_until_held(
        &self,
        body: &mut impl io::Read,
        client: &mut TcpStream,
        hold: u64,
    ) -> io::Result<()> {
        let mut chunk = vec![0u8; 16 * 1024];
        loop {
            let n = body.read(&mut chunk)?;
            if n == 0 {
                return Ok(());
            }
            let allowed = {
                let mut count = self.blob_bytes.lock().expect("front byte count");
                let allowed = (n as u64).min(hold.saturating_sub(count.0)) as usize;
                count.0 += allowed as u64;
                count.1 |= allowed < n;
                allowed
            };
            client.write_all(&chunk[..allowed])?;
            if allowed < n {
                client.flush()?;
                return wait_for_close(client);
            }
        }
    }

    /// The bytes to keep when this is the upload `PATCH` to cut.
    fn patch_to_cut(&self, request: &Request) -> Option<usize> {
        if request.method != "PATCH" {
            return None;
        }
        let mut patches = self.patches.lock().expect("front patch state");
        patches.0 += 1;
        let (nth, keep) = self.options.cut_patch?;
        if patches.0 != nth {
            return None;
        }
        patches.1 = true;
        Some(keep.min(request.body.len()))
    }

    /// Sends the registry the first `keep` bytes of the `PATCH` as a whole request of that
    /// length (so it stores them), then drops the client's connection unanswered.
    fn forward_cut_patch(&self, request: Request, keep: usize) -> io::Result<()> {
        let headers: Vec<(String, String)> = request
            .headers
            .iter()
            .filter(|(name, _)| {
                !["connection", "content-length", "content-range"]
                    .iter()
                    .any(|h| name.eq_ignore_ascii_case(h))
            })
            .cloned()
            .collect();
        self.forwarded.lock().expect("front log").push(SeenRequest {
            method: request.method.clone(),
            target: request.target.clone(),
            headers: headers.clone(),
        });
        if keep == 0 {
            return Ok(());
        }
        let mut upstream = TcpStream::connect(self.upstream)?;
        let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
        for (name, value) in &headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str(&format!(
            "Content-Length: {keep}\r\nConnection: close\r\n\r\n"
        ));
        upstream.write_all(head.as_bytes())?;
        upstream.write_all(&request.body[..keep])?;
        // Wait for the registry to have stored them, then hang up on the client.
        io::copy(&mut upstream, &mut io::sink())?;
        Ok(())
    }

    /// The byte limit when this is the first `GET` of the blob chosen for truncation.
    fn truncation(&self, request: &Request) -> Option<u64> {
        let (digest, limit) = self.options.truncate_blob.as_ref()?;
        let hex = blob_hex(request.path())?;
        if request.method != "GET" || digest.strip_prefix("sha256:") != Some(hex) {
            return None;
        }
        let mut truncated = self.truncated.lock().expect("front truncation state");
        (!std::mem::replace(&mut *truncated, true)).then_some(*limit)
    }

    /// Counts uses of the first bearer token on repository requests; true once it is "expired".
    fn token_expired(&self, request: &Request) -> bool {
        let Some(limit) = self.options.expire_first_token_after else {
            return false;
        };
        let Some(token) = request
            .header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        if request.path() == "/v2/" || request.path() == "/v2" {
            return false;
        }
        let mut first = self.first_token.lock().expect("front token state");
        let (first_token, uses) = first.get_or_insert_with(|| (token.to_owned(), 0));
        if first_token != token {
            return false;
        }
        *uses += 1;
        let expired = *uses > limit;
        if expired {
            *self.rejected.lock().expect("front counter") += 1;
        }
        expired
    }
}

/// Returns once the peer has closed `client` (or after ten minutes).
fn wait_for_close(client: &mut TcpStream) -> io::Result<()> {
    client.set_read_timeout(Some(std::time::Duration::from_millis(50)))?;
    let mut byte = [0u8; 1];
    for _ in 0..12_000 {
        match client.peek(&mut byte) {
            Ok(0) => return Ok(()),
            Ok(_) => {
                // The client sent something more: it is still there; drop it.
                let _ = io::Read::read(client, &mut byte);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Copies at about `rate` bytes per second, in 20 steps a second.
fn trickle(from: &mut impl io::Read, to: &mut TcpStream, rate: u64) -> io::Result<()> {
    let mut chunk = vec![0u8; (rate / 20).max(1) as usize];
    loop {
        let n = from.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&chunk[..n])?;
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `/v2/<name>/blobs/sha256:<hex>` → `<hex>`.
fn blob_hex(path: &str) -> Option<&str> {
    let (_, digest) = path.strip_prefix("/v2/")?.rsplit_once("/blobs/")?;
    let hex = digest.strip_prefix("sha256:")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

fn serve_cdn_blob(blobs: &std::path::Path, request: &Request) -> Response {
    let Some(hex) = request
        .path()
        .strip_prefix("/cdn/sha256/")
        .filter(|hex| hex.len() == 64)
    else {
        return Response::new(404);
    };
    let path: PathBuf = blobs.join(&hex[..2]).join(hex).join("data");
    match fs_err::read(&path) {
        Ok(bytes) => Response::new(200)
            .header("Content-Type", "application/octet-stream")
            .body(bytes),
        Err(_) => Response::new(404),
    }
}

fn seen(request: &Request) -> SeenRequest {
    SeenRequest::from(request)
}
