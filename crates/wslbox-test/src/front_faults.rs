//! A lying or broken registry, on request: the faults a [`Front`](crate::registry_front::Front)
//! plays in front of the real registry ([`FrontOptions::fault`](crate::registry_front::FrontOptions)).
//! Each is what a real server, proxy or link has been seen to do; requests a fault does not
//! touch are forwarded as usual.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::registry_http::{Request, Response, read_headers};

/// The kind of request a fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `GET`/`HEAD` of `/v2/<name>/manifests/<ref>`.
    Manifest,
    /// `GET` of `/v2/<name>/blobs/<digest>`.
    Blob,
    /// Any request under `/v2/<name>/` (manifests and blobs).
    Any,
}

impl Phase {
    fn matches(self, request: &Request) -> bool {
        let path = request.path();
        let manifest = path.contains("/manifests/");
        let blob = request.method == "GET" && path.contains("/blobs/sha256:");
        match self {
            Phase::Manifest => manifest,
            Phase::Blob => blob,
            Phase::Any => manifest || blob,
        }
    }
}

/// What the front does wrong.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer the first `times` requests of `phase` with `status` and this body (an HTML error
    /// page, a 429 without end), then forward again.
    Answer {
        phase: Phase,
        status: u16,
        content_type: &'static str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
        times: usize,
    },
    /// Blob answers declare a `Content-Length` this far off the body they carry.
    ContentLength { delta: i64 },
    /// Manifest answers carry this `Docker-Content-Digest` instead of the true one.
    DigestHeader(String),
    /// Manifest `GET`s get these bytes (with the registry's headers, less its
    /// `Docker-Content-Digest`, and the length fixed).
    ManifestBody(Vec<u8>),
    /// Requests of `phase` are redirected to themselves, without end.
    RedirectLoop(Phase),
    /// Blob `GET`s are redirected to another host that answers 401 with a challenge.
    RedirectToUnauthorized,
    /// The first blob body longer than `after` bytes stops there and the front sends nothing
    /// more, holding the connection for `hold`; other requests are served whole.
    Stall { after: u64, hold: Duration },
    /// The first request of `phase` is cut: the connection is reset (RST) before an answer.
    Reset(Phase),
}

/// A fault and what it has done so far.
#[derive(Debug)]
pub(crate) struct Faulty {
    pub(crate) fault: Fault,
    hits: AtomicUsize,
}

impl Faulty {
    pub(crate) fn new(fault: Fault) -> Self {
        Faulty {
            fault,
            hits: AtomicUsize::new(0),
        }
    }

    /// How many requests the fault changed.
    pub(crate) fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn hit(&self) -> usize {
        self.hits.fetch_add(1, Ordering::SeqCst)
    }

    /// Plays the fault on `request` when it applies, and says whether it did (`false`: the
    /// front forwards the request as usual). `unauthorized` is the 401 host's address.
    pub(crate) fn play(
        &self,
        request: &Request,
        client: &mut TcpStream,
        upstream: SocketAddr,
        unauthorized: SocketAddr,
    ) -> io::Result<bool> {
        match &self.fault {
            Fault::Answer {
                phase,
                status,
                content_type,
                body,
                headers,
                times,
            } => {
                if !phase.matches(request) || self.hits() >= *times {
                    return Ok(false);
                }
                self.hit();
                let mut response = Response::new(*status)
                    .header("Content-Type", *content_type)
                    .body(body.clone());
                for (name, value) in headers {
                    response = response.header(name, value.clone());
                }
                response.write_to(client, request.method == "HEAD")?;
            }
            Fault::ContentLength { delta } => {
                if !Phase::Blob.matches(request) {
                    return Ok(false);
                }
                self.hit();
                let (status, headers, body) = fetch(upstream, request)?;
                let declared = (body.len() as i64 + delta).max(0);
                write_raw(client, &status, &headers, Some(declared as u64), &body)?;
            }
            Fault::DigestHeader(digest) => {
                if !Phase::Manifest.matches(request) {
                    return Ok(false);
                }
                self.hit();
                let (status, mut headers, body) = fetch(upstream, request)?;
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("docker-content-digest"));
                headers.push(("Docker-Content-Digest".to_owned(), digest.clone()));
                let length = if request.method == "HEAD" {
                    None
                } else {
                    Some(body.len() as u64)
                };
                write_raw(client, &status, &headers, length, &body)?;
            }
            Fault::ManifestBody(bytes) => {
                if !Phase::Manifest.matches(request) || request.method != "GET" {
                    return Ok(false);
                }
                self.hit();
                let (status, mut headers, _) = fetch(upstream, request)?;
                // A server that forges a manifest does not give itself away by its header.
                headers.retain(|(n, _)| !n.eq_ignore_ascii_case("docker-content-digest"));
                write_raw(client, &status, &headers, Some(bytes.len() as u64), bytes)?;
            }
            Fault::RedirectLoop(phase) => {
                if !phase.matches(request) {
                    return Ok(false);
                }
                self.hit();
                Response::new(302)
                    .header("Location", request.target.clone())
                    .write_to(client, false)?;
            }
            Fault::RedirectToUnauthorized => {
                if !Phase::Blob.matches(request) {
                    return Ok(false);
                }
                self.hit();
                Response::new(307)
                    .header(
                        "Location",
                        format!("http://{unauthorized}{}", request.target),
                    )
                    .write_to(client, false)?;
            }
            Fault::Stall { after, hold } => {
                if !Phase::Blob.matches(request) || self.hits() > 0 {
                    return Ok(false);
                }
                let (status, headers, body) = fetch(upstream, request)?;
                if body.len() as u64 <= *after {
                    write_raw(client, &status, &headers, Some(body.len() as u64), &body)?;
                    return Ok(true); // too short to stall: served whole
                }
                self.hit();
                let cut = *after as usize;
                write_raw(
                    client,
                    &status,
                    &headers,
                    Some(body.len() as u64),
                    &body[..cut],
                )?;
                client.flush()?;
                std::thread::sleep(*hold);
            }
            Fault::Reset(phase) => {
                if !phase.matches(request) || self.hits() > 0 {
                    return Ok(false);
                }
                self.hit();
                // SO_LINGER 0: close sends RST, not FIN.
                let socket = socket2::SockRef::from(&*client);
                socket.set_linger(Some(Duration::ZERO))?;
            }
        }
        Ok(true)
    }
}

/// The 401 host of [`Fault::RedirectToUnauthorized`] at `addr`: every request gets a 401 with
/// a bearer challenge whose token realm is that host itself, so a client that took the
/// challenge for its registry's would send it the user's credentials to get a token.
pub(crate) fn unauthorized(addr: std::net::SocketAddr) -> Response {
    Response::new(401)
        .header(
            "WWW-Authenticate",
            format!("Bearer realm=\"http://{addr}/token\",service=\"elsewhere\""),
        )
        .header("Content-Type", "application/json")
        .body(
            br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#.to_vec(),
        )
}

/// A status line, headers and body.
type Answer = (String, Vec<(String, String)>, Vec<u8>);

/// The registry's whole answer to `request`: status line, headers (without framing) and body.
fn fetch(upstream: SocketAddr, request: &Request) -> io::Result<Answer> {
    let mut stream = TcpStream::connect(upstream)?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !name.eq_ignore_ascii_case("connection") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    stream.write_all(&request.body)?;
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    let headers: Vec<(String, String)> = read_headers(&mut reader)?
        .into_iter()
        .filter(|(n, _)| {
            let framing = ["content-length", "transfer-encoding"].iter();
            // A HEAD answer keeps its length: it has no body to count.
            !(n.eq_ignore_ascii_case("connection")
                || request.method != "HEAD"
                    && framing.into_iter().any(|h| n.eq_ignore_ascii_case(h)))
        })
        .collect();
    let mut body = Vec::new();
    if request.method != "HEAD" {
        reader.read_to_end(&mut body)?;
    }
    Ok((status.trim_end().to_owned(), headers, body))
}

fn write_raw(
    client: &mut TcpStream,
    status: &str,
    headers: &[(String, String)],
    length: Option<u64>,
    body: &[u8],
) -> io::Result<()> {
    let mut head = format!("{status}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(length) = length {
        head.push_str(&format!("Content-Length: {length}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    client.write_all(head.as_bytes())?;
    client.write_all(body)
}
