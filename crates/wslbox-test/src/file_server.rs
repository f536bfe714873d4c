//! Loopback HTTP file servers for `tarball:URL` sources, on the same thread-per-connection
//! toolkit as the registry fixtures ([`crate::registry_http`]).
//!
//! A [`FileServer`] serves bytes or a file at a path ([`FileServer::serve`]) with a chosen
//! behaviour ([`Serve`]): plain 200 with `Content-Length` (a `Range` header is ignored, as a
//! server without range support does), or `Range` support (one range → 206 with
//! `Content-Range`, past the end → 416), a connection cut after N body bytes once or on every
//! response ([`Cut`]), or one byte flipped (same length, wrong SHA-256). It also answers
//! redirects ([`FileServer::redirect`], to a path or to another server, e.g. `localhost`
//! instead of `127.0.0.1`, so tests can check no `Authorization` follows), fixed statuses,
//! and `SHA256SUMS` files ([`sha256sums`]). Every request is recorded
//! ([`FileServer::requests`]).

use std::collections::BTreeMap;
use std::io::{self, Read as _, Seek as _, SeekFrom, Write as _};
use std::net::{IpAddr, Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};

pub use crate::registry_http::SeenRequest;
use crate::registry_http::{HttpServer, Request, Response, write_head};

/// What a path serves.
#[derive(Debug, Clone)]
pub enum Body {
    Bytes(Arc<[u8]>),
    /// Streamed from disk, for fixtures too large to hold in memory.
    File(PathBuf),
}

impl Body {
    fn len(&self) -> io::Result<u64> {
        match self {
            Self::Bytes(b) => Ok(b.len() as u64),
            Self::File(p) => Ok(fs_err::metadata(p)?.len()),
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v.into())
    }
}

impl From<&[u8]> for Body {
    fn from(v: &[u8]) -> Self {
        Self::Bytes(v.into())
    }
}

impl From<&str> for Body {
    fn from(v: &str) -> Self {
        Self::Bytes(v.as_bytes().into())
    }
}

impl From<String> for Body {
    fn from(v: String) -> Self {
        Self::Bytes(v.into_bytes().into())
    }
}

/// Closing the connection after `after` body bytes of a response (its headers announced the
/// full length), for the first `times` responses, or for every one when `times` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cut {
    pub after: u64,
    pub times: Option<usize>,
}

impl Cut {
    /// Only the first `GET` is cut, so a resumed or retried download succeeds.
    pub fn once(after: u64) -> Self {
        Self {
            after,
            times: Some(1),
        }
    }

    /// Every `GET` is cut: each response (ranged or not) delivers at most `after` bytes.
    pub fn always(after: u64) -> Self {
        Self { after, times: None }
    }
}

/// How a path is served; the default is a plain 200 with `Content-Length`.
#[derive(Debug, Clone, Default)]
pub struct Serve {
    /// Honour a single `bytes=` range (206/416) and announce `Accept-Ranges: bytes`.
    pub ranges: bool,
    pub cut: Option<Cut>,
    /// Flip the byte in the middle: same length, wrong content.
    pub corrupt: bool,
}

impl Serve {
    pub fn plain() -> Self {
        Self::default()
    }
    pub fn ranges() -> Self {
        Self {
            ranges: true,
            ..Self::default()
        }
    }
    pub fn cut(mut self, cut: Cut) -> Self {
        self.cut = Some(cut);
        self
    }
    pub fn corrupt(mut self) -> Self {
        self.corrupt = true;
        self
    }
}

#[derive(Debug, Clone)]
enum Route {
    File {
        body: Body,
        serve: Serve,
        cuts_done: usize,
    },
    Redirect {
        status: u16,
        location: String,
    },
    Status(u16),
}

#[derive(Default)]
struct State {
    routes: Mutex<BTreeMap<String, Route>>,
    requests: Mutex<Vec<SeenRequest>>,
}

/// A running file server on a free loopback port; stops when dropped.
pub struct FileServer {
    server: HttpServer,
    state: Arc<State>,
}

impl FileServer {
    /// Starts on 127.0.0.1.
    pub fn start() -> Self {
        Self::start_on(Ipv4Addr::LOCALHOST.into())
    }

    /// Starts on another loopback address (e.g. 127.0.0.2, a different host to a client).
    pub fn start_on(ip: IpAddr) -> Self {
        let state = Arc::new(State::default());
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(
            ip,
            Arc::new(move |request: Request, stream| {
                let _ = handler_state.handle(&request, stream);
            }),
        )
        .unwrap_or_else(|e| panic!("start a file server on {ip}: {e}"));
        Self { server, state }
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://IP:PORT/path` (`path` starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// `http://localhost:PORT/path`: this server under another host name (another origin).
    pub fn localhost_url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr().port())
    }

    /// Serves `body` at `path` (exact match, query ignored), replacing any earlier route.
    pub fn serve(&self, path: &str, body: impl Into<Body>, serve: Serve) -> &Self {
        self.route(
            path,
            Route::File {
                body: body.into(),
                serve,
                cuts_done: 0,
            },
        )
    }

    /// Answers `path` with a 302 to `location` (a path, or another server's URL).
    pub fn redirect(&self, path: &str, location: impl Into<String>) -> &Self {
        self.redirect_with(path, 302, location)
    }

    /// A redirect with another status (301, 303, 307, 308).
    pub fn redirect_with(&self, path: &str, status: u16, location: impl Into<String>) -> &Self {
        self.route(
            path,
            Route::Redirect {
                status,
                location: location.into(),
            },
        )
    }

    /// Answers `path` with a bodiless `status` (e.g. 404, 500, 503).
    pub fn respond(&self, path: &str, status: u16) -> &Self {
        self.route(path, Route::Status(status))
    }

    /// Serves a `SHA256SUMS` file for `files` (see [`sha256sums`]) at `path`.
    pub fn serve_sha256sums(&self, path: &str, files: &[(&str, &[u8])]) -> &Self {
        self.serve(path, sha256sums(files), Serve::plain())
    }

    fn route(&self, path: &str, route: Route) -> &Self {
        assert!(path.starts_with('/'), "route {path:?} must start with /");
        self.state
            .routes
            .lock()
            .expect("routes")
            .insert(path.to_owned(), route);
        self
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        self.state.requests.lock().expect("request log").clone()
    }

    /// The requests for one path (query ignored).
    pub fn requests_for(&self, path: &str) -> Vec<SeenRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path() == path)
            .collect()
    }
}

/// `<sha256 hex>  <name>` lines, as `sha256sum` prints them (text mode, two spaces).
pub fn sha256sums(files: &[(&str, &[u8])]) -> String {
    files
        .iter()
        .map(|(name, bytes)| format!("{}  {name}\n", hex::encode(Sha256::digest(bytes))))
        .collect()
}

impl State {
    fn handle(&self, request: &Request, mut stream: TcpStream) -> io::Result<()> {
        self.requests
            .lock()
            .expect("request log")
            .push(SeenRequest::from(request));
        let head_only = request.method == "HEAD";
        if !head_only && request.method != "GET" {
            return Response::new(405).write_to(&mut stream, false);
        }
        // Decide under the lock (and count the cut), serve without it.
        let route = {
            let mut routes = self.routes.lock().expect("routes");
            let Some(route) = routes.get_mut(request.path()) else {
                return Response::new(404).write_to(&mut stream, head_only);
            };
            let snapshot = route.clone();
            if !head_only
                && let Route::File {
                    serve, cuts_done, ..
                } = route
                && serve
                    .cut
                    .is_some_and(|c| c.times.is_none_or(|t| *cuts_done < t))
            {
                *cuts_done += 1;
            }
            snapshot
        };
        match route {
            Route::Redirect { status, location } => Response::new(status)
                .header("Location", location)
                .write_to(&mut stream, head_only),
            Route::Status(status) => Response::new(status).write_to(&mut stream, head_only),
            Route::File {
                body,
                serve,
                cuts_done,
            } => {
                let cut_now = !head_only
                    && serve
                        .cut
                        .is_some_and(|c| c.times.is_none_or(|t| cuts_done < t));
                let limit = serve.cut.filter(|_| cut_now).map(|c| c.after);
                serve_file(request, &mut stream, &body, &serve, head_only, limit)
            }
        }
    }
}

fn serve_file(
    request: &Request,
    stream: &mut TcpStream,
    body: &Body,
    serve: &Serve,
    head_only: bool,
    limit: Option<u64>,
) -> io::Result<()> {
    let len = body.len()?;
    let mut headers = vec![(
        "Content-Type".to_owned(),
        "application/octet-stream".to_owned(),
    )];
    let accept = if serve.ranges { "bytes" } else { "none" };
    headers.push(("Accept-Ranges".to_owned(), accept.to_owned()));
    let range = request
        .header("range")
        .filter(|_| serve.ranges)
        .and_then(|r| parse_range(r, len));
    let (status, start, count) = match range {
        Some(Ok((start, end))) => {
            headers.push((
                "Content-Range".to_owned(),
                format!("bytes {start}-{end}/{len}"),
            ));
            (206, start, end - start + 1)
        }
        Some(Err(())) => {
            headers.push(("Content-Range".to_owned(), format!("bytes */{len}")));
            return Response {
                status: 416,
                headers,
                body: Vec::new(),
            }
            .write_to(stream, head_only);
        }
        None => (200, 0, len),
    };
    write_head(stream, status, &headers, count)?;
    if !head_only {
        let send = limit.map_or(count, |l| l.min(count));
        let flip = serve.corrupt.then_some(len / 2);
        copy_body(stream, body, start, send, flip)?;
        if send < count {
            stream.flush()?;
            return stream.shutdown(Shutdown::Both);
        }
    }
    stream.flush()
}

/// One `bytes=` range → inclusive `(start, end)`; `Err` when unsatisfiable; `None` when the
/// header is malformed or asks for several ranges (then the whole body is sent, as allowed).
fn parse_range(header: &str, len: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = header.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    if first.is_empty() {
        let suffix: u64 = last.parse().ok()?;
        if suffix == 0 || len == 0 {
            return Some(Err(()));
        }
        return Some(Ok((len.saturating_sub(suffix), len - 1)));
    }
    let start: u64 = first.parse().ok()?;
    let end = if last.is_empty() {
        len.saturating_sub(1)
    } else {
        last.parse::<u64>().ok()?.min(len.saturating_sub(1))
    };
    if start >= len || end < start {
        return Some(Err(()));
    }
    Some(Ok((start, end)))
}

/// Writes `count` bytes of `body` from `start`, XOR-ing the byte at `flip` with 0xff.
fn copy_body(
    stream: &mut TcpStream,
    body: &Body,
    start: u64,
    count: u64,
    flip: Option<u64>,
) -> io::Result<()> {
    let mut file = match body {
        Body::File(p) => {
            let mut f = fs_err::File::open(p)?;
            f.seek(SeekFrom::Start(start))?;
            Some(f)
        }
        Body::Bytes(_) => None,
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut pos = start;
    let end = start + count;
    while pos < end {
        let n = usize::try_from((end - pos).min(buf.len() as u64)).expect("chunk fits");
        match (&mut file, body) {
            (Some(f), _) => f.read_exact(&mut buf[..n])?,
            (None, Body::Bytes(b)) => {
                let at = usize::try_from(pos).expect("in-memory offset");
                buf[..n].copy_from_slice(&b[at..at + n]);
            }
            (None, Body::File(_)) => unreachable!("files are opened above"),
        }
        if let Some(f) = flip
            && (pos..pos + n as u64).contains(&f)
        {
            buf[usize::try_from(f - pos).expect("in chunk")] ^= 0xff;
        }
        stream.write_all(&buf[..n])?;
        pos += n as u64;
    }
    Ok(())
}
