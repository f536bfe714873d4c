//! A file on a web server (a rootfs tarball, a `SHA256SUMS` list) as a blocking [`Read`], over
//! the registry client's transport: proxies, the OS and `SSL_CERT_FILE` CAs, retries, redirects
//! followed by hand. No credentials are sent, to any host. A connection that drops or a body
//! that ends early is resumed with `Range` from the last byte delivered, within the retry
//! budget; a server that ignores `Range` is read again from the start, skipping what was
//! already delivered. Verifying the content is the caller's job (checksums).

use std::io::{self, Read};
use std::time::Instant;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, HeaderValue, RANGE};
use reqwest::{Response, StatusCode};
use url::Url;

use crate::RegistryError;
use crate::client::Client;
use crate::error::status_error;
use crate::transport::{Peer, Request, connection_error};

/// A download in progress; see the module docs.
pub struct UrlReader {
    rt: tokio::runtime::Runtime,
    client: Client,
    url: Url,
    response: Option<Response>,
    chunk: Vec<u8>,
    pos: usize,
    /// Bytes handed to the reader so far.
    offset: u64,
    /// The file's size, when the server said.
    total: Option<u64>,
    /// Bytes still to drop from a response that restarted at 0.
    skip: u64,
    attempt: u32,
    since: Instant,
}

impl Client {
    /// Starts downloading `url`; a missing file or a refused connection fails here, before
    /// anything is read.
    pub fn open_url(&self, url: &Url) -> Result<UrlReader, RegistryError> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| RegistryError::InvalidResponse {
                url: crate::redact_url(url),
                reason: format!("cannot start the async runtime: {e}"),
            })?;
        let mut reader = UrlReader {
            rt,
            client: self.clone(),
            url: url.clone(),
            response: None,
            chunk: Vec::new(),
            pos: 0,
            offset: 0,
            total: None,
            skip: 0,
            attempt: 1,
            since: Instant::now(),
        };
        reader.connect()?;
        Ok(reader)
    }
}

impl UrlReader {
    /// The size the server announced, if any.
    pub fn total(&self) -> Option<u64> {
        self.total
    }

    /// (Re)requests the file from `offset` on.
    fn connect(&mut self) -> Result<(), RegistryError> {
        let mut request = Request::get(self.url.clone());
        request.peer = Peer::FileServer;
        if self.offset > 0 {
            let range = HeaderValue::from_str(&format!("bytes={}-", self.offset))
                .expect("digits are a valid header");
            request.headers.insert(RANGE, range);
        }
        let transport = &self.client.inner.transport;
        let response = self.rt.block_on(transport.send(&request, None))?;
        let status = response.status();
        match status {
            StatusCode::OK => {
                // A fresh copy: anything already delivered is dropped from it.
                self.skip = self.offset;
                self.total = header_u64(&response, CONTENT_LENGTH.as_str()).or(self.total);
            }
            StatusCode::PARTIAL_CONTENT if self.offset > 0 => {
                let (start, total) = content_range(&response).unwrap_or((u64::MAX, None));
                if start != self.offset {
                    return Err(RegistryError::InvalidResponse {
                        url: crate::redact_url(&self.url),
                        reason: format!(
                            "asked to resume at byte {}, the server answered from byte {start}",
                            self.offset
                        ),
                    });
                }
                self.total = total.or(self.total);
            }
            _ => return Err(self.rt.block_on(status_error(&self.url, response))),
        }
        self.response = Some(response);
        Ok(())
    }

    /// After a drop or an early end: waits and reconnects, or gives up when the budget is
    /// spent (the budget restarts whenever data arrived since the last retry).
    fn resume(&mut self, cause: Option<reqwest::Error>) -> Result<(), RegistryError> {
        self.response = None;
        let policy = &self.client.inner.options.retry;
        match policy.next_wait(self.attempt, self.since.elapsed(), None) {
            Some(wait) => {
                std::thread::sleep(wait);
                self.attempt += 1;
                self.connect()
            }
            None => Err(match cause {
                Some(e) => connection_error(&self.url, &e, Peer::FileServer),
                None => RegistryError::InvalidResponse {
                    url: crate::redact_url(&self.url),
                    reason: format!(
                        "the download kept ending early ({} of {} bytes)",
                        self.offset,
                        self.total.map_or("?".into(), |t| t.to_string())
                    ),
                },
            }),
        }
    }

    fn next_chunk(&mut self) -> Result<bool, RegistryError> {
        loop {
            let Some(response) = self.response.as_mut() else {
                self.connect()?;
                continue;
            };
            match self.rt.block_on(response.chunk()) {
                Ok(Some(bytes)) => {
                    let drop = usize::try_from(self.skip.min(bytes.len() as u64)).unwrap_or(0);
                    self.skip -= drop as u64;
                    if drop == bytes.len() {
                        continue; // bytes already delivered: no progress
                    }
                    self.attempt = 1;
                    self.since = Instant::now();
                    self.chunk = bytes[drop..].to_vec();
                    self.pos = 0;
                    return Ok(true);
                }
                Ok(None) if self.total.is_some_and(|t| self.offset < t) => self.resume(None)?,
                Ok(None) => return Ok(false),
                Err(e) => self.resume(Some(e))?,
            }
        }
    }
}

impl Read for UrlReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.pos == self.chunk.len() && !self.next_chunk().map_err(io::Error::other)? {
            return Ok(0);
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        self.offset += n as u64;
        Ok(n)
    }
}

fn header_u64(response: &Response, name: &str) -> Option<u64> {
    response
        .headers()
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// `Content-Range: bytes START-END/TOTAL` → (START, TOTAL unless `*`).
fn content_range(response: &Response) -> Option<(u64, Option<u64>)> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    let start = range.split('-').next()?.trim().parse().ok()?;
    Some((start, total.trim().parse().ok()))
}
