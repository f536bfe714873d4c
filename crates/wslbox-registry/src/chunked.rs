//! Big blobs over several connections: bounded `Range` chunks fetched at once, each retried on
//! its own, and handed to the cache writer strictly in order.
//!
//! In order means the digest is still hashed while streaming, and the partial file only ever
//! holds a prefix of the blob, so a later run resumes it exactly as it resumes a single-stream
//! download. Chunks that arrive early wait in memory; a chunk is only asked for while it lies
//! within a window of `jobs + 2` chunks past the written prefix, which bounds that memory.
//!
//! The first chunk doubles as the probe: only a `206` for exactly that range lets the other
//! connections start. A `200` (the server or its CDN ignores `Range`) hands the answer back to
//! the single-stream path, as does a later chunk answered without its range.
//!
//! When the registry redirected the probe to another host (a CDN's signed URL), the other
//! chunks go straight there, without credentials (the transport never sends them to another
//! origin anyway), saving a round trip to the registry per chunk. A refusal there (the
//! signature expired) sends that chunk, and the ones after it, through the registry again.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Instant;

use reqwest::header::{HeaderValue, RANGE};
use reqwest::{Response, StatusCode};
use tokio::sync::{SemaphorePermit, watch};
use wslbox_cache::BlobWriter;
use wslbox_reference::Reference;

use crate::auth::RegistryHost;
use crate::download::{Blob, content_range};
use crate::error::status_error;
use crate::session::Session;
use crate::transport::{Peer, Request, connection_error};
use crate::{RegistryError, Reporter};

/// One blob being fetched from a registry.
pub(crate) struct BlobFetch<'a> {
    pub reg: &'a RegistryHost,
    pub reference: &'a Reference,
    pub blob: &'a Blob,
    pub url: &'a url::Url,
    pub reporter: &'a dyn Reporter,
    /// Where the registry last redirected a request for this blob, on another origin.
    pub redirected: Mutex<Option<url::Url>>,
}

/// How a chunked download ended.
pub(crate) enum Chunked<'s> {
    /// Every byte is in the writer.
    Done,
    /// The server ignored a range: the single-stream path goes on from the writer's offset,
    /// with the answer already received for it and the connection it came on, if any.
    Unsupported(Option<(Response, SemaphorePermit<'s>)>),
}

enum ChunkError {
    Failed(RegistryError),
    /// A later chunk came back without its range: finish over one connection.
    NoRange,
}

impl From<RegistryError> for ChunkError {
    fn from(e: RegistryError) -> Self {
        ChunkError::Failed(e)
    }
}

/// What the connections share: the writer and the chunks waiting for their turn.
struct Order<'w> {
    writer: &'w mut BlobWriter,
    /// Start of the next chunk to hand out.
    next: u64,
    /// Early chunks by start offset.
    ready: BTreeMap<u64, Vec<u8>>,
}

struct Shared<'w> {
    order: Mutex<Order<'w>>,
    /// Bytes in the writer so far (the verified-in-order prefix).
    head: watch::Sender<u64>,
    chunk: u64,
    window: u64,
    size: u64,
}

impl Session {
    /// A permit for one blob connection; held for the length of one request.
    pub(crate) async fn connection(&self) -> SemaphorePermit<'_> {
        self.connections
            .acquire()
            .await
            .expect("the connection semaphore is never closed")
    }

    /// Fetches the rest of the blob in chunks over up to `jobs` connections.
    pub(crate) async fn download_chunks(
        &self,
        fetch: &BlobFetch<'_>,
        writer: &mut BlobWriter,
    ) -> Result<Chunked<'_>, RegistryError> {
        let size = fetch.blob.size;
        let chunk = self.options.chunks.chunk_size.max(1);
        let start = writer.offset();
        let first_end = (start + chunk).min(size);
        let permit = self.connection().await;
        let response = self.request_range(fetch, start, first_end).await?;
        if !answers_range(&response, start, first_end, size) {
            return Ok(Chunked::Unsupported(Some((response, permit))));
        }
        let workers = self.options.jobs.max(1);
        let (head, _) = watch::channel(start);
        let shared = Shared {
            order: Mutex::new(Order {
                writer,
                next: first_end,
                ready: BTreeMap::new(),
            }),
            head,
            chunk,
            window: chunk.saturating_mul(workers as u64 + 2),
            size,
        };
        let mut first = Some((start, first_end, response, permit));
        let connections =
            (0..workers).map(|_| self.connection_worker(fetch, &shared, first.take()));
        match futures_util::future::try_join_all(connections).await {
            Ok(_) => {}
            Err(ChunkError::Failed(e)) => return Err(e),
            Err(ChunkError::NoRange) => {
                // What is in the writer is a good prefix; the single-stream path resumes it.
                let offset = shared
                    .order
                    .into_inner()
                    .expect("order lock")
                    .writer
                    .offset();
                fetch.reporter.on_blob_reset(&fetch.blob.digest);
                fetch.reporter.on_blob_progress(&fetch.blob.digest, offset);
                return Ok(Chunked::Unsupported(None));
            }
        }
        let order = shared.order.into_inner().expect("order lock");
        debug_assert_eq!(order.writer.offset(), size);
        Ok(Chunked::Done)
    }

    /// One connection's loop: claim the next chunk in the window, fetch it, hand it over.
    async fn connection_worker<'p>(
        &'p self,
        fetch: &BlobFetch<'_>,
        shared: &Shared<'_>,
        mut first: Option<(u64, u64, Response, SemaphorePermit<'p>)>,
    ) -> Result<(), ChunkError> {
        loop {
            let (start, end, response, permit) = match first.take() {
                Some((start, end, response, permit)) => (start, end, Some(response), permit),
                None => {
                    let Some((start, end)) = shared.claim().await else {
                        return Ok(());
                    };
                    (start, end, None, self.connection().await)
                }
            };
            let bytes = self.fetch_chunk(fetch, start, end, response).await?;
            drop(permit);
            shared.deliver(start, bytes).map_err(|source| {
                ChunkError::Failed(RegistryError::Blob {
                    reference: fetch.reference.to_string(),
                    digest: fetch.blob.digest.clone(),
                    source,
                })
            })?;
        }
    }

    /// Receives `[start, end)`, re-asking for the rest after a drop within the retry budget
    /// (counted in attempts without progress, as for whole blobs).
    async fn fetch_chunk(
        &self,
        fetch: &BlobFetch<'_>,
        start: u64,
        end: u64,
        mut response: Option<Response>,
    ) -> Result<Vec<u8>, ChunkError> {
        let digest = &fetch.blob.digest;
        let len = usize::try_from(end - start).expect("a chunk fits in memory");
        let mut buf = Vec::with_capacity(len);
        let policy = &self.options.retry;
        let mut since = Instant::now();
        let mut attempt = 1;
        loop {
            let at = start + buf.len() as u64;
            let mut answer = match response.take() {
                Some(answer) => answer,
                None => {
                    let answer = self.request_range(fetch, at, end).await?;
                    if answer.status() == StatusCode::OK {
                        return Err(ChunkError::NoRange);
                    }
                    if !answers_range(&answer, at, end, fetch.blob.size) {
                        return Err(self.bad_range(fetch, answer).await.into());
                    }
                    answer
                }
            };
            let before = buf.len();
            let interrupted = loop {
                match answer.chunk().await {
                    Ok(Some(bytes)) => {
                        if buf.len() + bytes.len() > len {
                            return Err(RegistryError::InvalidResponse {
                                url: crate::redact_url(answer.url()),
                                reason: format!(
                                    "the server sent more of layer {digest} than the range \
                                     bytes={at}-{} asked for",
                                    end - 1
                                ),
                            }
                            .into());
                        }
                        buf.extend_from_slice(&bytes);
                        fetch.reporter.on_blob_progress(digest, bytes.len() as u64);
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if buf.len() == len {
                return Ok(buf);
            }
            if buf.len() > before {
                since = Instant::now();
                attempt = 1;
            }
            match policy.next_wait(attempt, since.elapsed(), None) {
                Some(wait) => {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return Err(match interrupted {
                        Some(e) => connection_error(answer.url(), &e, Peer::Registry),
                        None => RegistryError::InvalidResponse {
                            url: crate::redact_url(fetch.url),
                            reason: format!(
                                "the download of layer {digest} kept ending early (bytes \
                                 {start}-{} of {}: got {})",
                                end - 1,
                                fetch.blob.size,
                                buf.len()
                            ),
                        },
                    }
                    .into());
                }
            }
        }
    }

    /// `GET` of `[start, end)` with a bounded range: at the redirect target learned earlier,
    /// else through the registry (learning where it redirects to).
    async fn request_range(
        &self,
        fetch: &BlobFetch<'_>,
        start: u64,
        end: u64,
    ) -> Result<Response, RegistryError> {
        let range = HeaderValue::from_str(&format!("bytes={start}-{}", end - 1))
            .expect("digits are a valid header");
        let direct = fetch.redirected.lock().expect("redirect lock").clone();
        if let Some(url) = direct {
            let mut request = Request::get(url);
            request.own_connection = true;
            request.headers.insert(RANGE, range.clone());
            let response = self.transport.send(&request, None).await?;
            if !response.status().is_client_error() {
                return Ok(response);
            }
            // Most likely an expired signature: ask the registry for a fresh location.
            *fetch.redirected.lock().expect("redirect lock") = None;
        }
        let mut request = Request::get(fetch.url.clone());
        request.own_connection = true;
        request.headers.insert(RANGE, range);
        let response = self.blob_request(fetch, &request).await?;
        if response.url().origin() != fetch.url.origin() {
            *fetch.redirected.lock().expect("redirect lock") = Some(response.url().clone());
        }
        Ok(response)
    }

    async fn blob_request(
        &self,
        fetch: &BlobFetch<'_>,
        request: &Request,
    ) -> Result<Response, RegistryError> {
        let digest = &fetch.blob.digest;
        let repo = fetch.reference.repository();
        let response = self
            .registry_request(fetch.reg, repo, request, &format!("blob {digest}"))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::BlobNotFound {
                registry: fetch.reg.name.clone(),
                repository: repo.to_owned(),
                digest: digest.clone(),
            });
        }
        Ok(response)
    }

    /// The error for an answer that is neither `200` nor the `206` asked for.
    async fn bad_range(&self, fetch: &BlobFetch<'_>, answer: Response) -> RegistryError {
        if answer.status() != StatusCode::PARTIAL_CONTENT {
            let url = answer.url().clone();
            return status_error(&url, answer).await;
        }
        RegistryError::InvalidResponse {
            url: crate::redact_url(answer.url()),
            reason: format!(
                "a range of layer {} came back as {:?} instead of the bytes asked for",
                fetch.blob.digest,
                content_range(&answer)
            ),
        }
    }
}

impl Shared<'_> {
    /// The next chunk to fetch, waiting while it lies beyond the window; `None` when every
    /// chunk is handed out.
    async fn claim(&self) -> Option<(u64, u64)> {
        let mut head = self.head.subscribe();
        loop {
            let need = {
                let mut order = self.order.lock().expect("order lock");
                if order.next >= self.size {
                    return None;
                }
                let start = order.next;
                if start < *head.borrow_and_update() + self.window {
                    let end = (start + self.chunk).min(self.size);
                    order.next = end;
                    return Some((start, end));
                }
                start + 1 - self.window
            };
            if head.wait_for(|&h| h >= need).await.is_err() {
                return None;
            }
        }
    }

    /// Files a received chunk and writes every chunk that is next in order.
    fn deliver(&self, start: u64, bytes: Vec<u8>) -> Result<(), wslbox_cache::CacheError> {
        let mut order = self.order.lock().expect("order lock");
        order.ready.insert(start, bytes);
        loop {
            let head = order.writer.offset();
            let Some(bytes) = order.ready.remove(&head) else {
                break;
            };
            order.writer.write_chunk(&bytes)?;
        }
        self.head.send_replace(order.writer.offset());
        Ok(())
    }
}

/// Whether `response` is the `206` for exactly `[start, end)` of a blob of `size` bytes.
fn answers_range(response: &Response, start: u64, end: u64, size: u64) -> bool {
    response.status() == StatusCode::PARTIAL_CONTENT
        && content_range(response).is_some_and(|r| {
            r.start == start && r.end + 1 == end && r.total.is_none_or(|t| t == size)
        })
}
