//! Blob downloads into the cache: parallel, skipping cached blobs, verified while streaming,
//! resumed with `Range` after an interruption. Big blobs come in chunks (`chunked`); the rest,
//! and servers that ignore `Range`, over one connection each. Every connection holds one of
//! the session's `jobs` permits.

use std::time::Instant;

use futures_util::{TryStreamExt, stream};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, HeaderValue, RANGE};
use wslbox_cache::{Acquired, BlobStore, BlobWriter, CacheError};
use wslbox_image::ResolvedImage;
use wslbox_reference::{Digest, Reference};

use crate::auth::RegistryHost;
use crate::chunked::{BlobFetch, Chunked};
use crate::error::status_error;
use crate::session::{Endpoint, Session};
use crate::transport::{Peer, Request, connection_error};
use crate::{RegistryError, Reporter};

/// One blob to fetch.
#[derive(Debug, Clone)]
pub(crate) struct Blob {
    pub digest: Digest,
    pub size: u64,
    /// Foreign-layer URLs; empty for ordinary blobs.
    pub urls: Vec<String>,
}

/// The blobs an image needs: its config, then each distinct layer.
pub(crate) fn image_blobs(image: &ResolvedImage, config_size: u64) -> Vec<Blob> {
    let mut blobs = vec![Blob {
        digest: image.config_digest.clone(),
        size: config_size,
        urls: Vec::new(),
    }];
    for layer in &image.layers {
        if blobs.iter().any(|b: &Blob| b.digest == layer.digest) {
            continue;
        }
        blobs.push(Blob {
            digest: layer.digest.clone(),
            size: layer.size,
            urls: layer.urls.clone(),
        });
    }
    blobs
}

impl Session {
    /// Fetches `blobs` of `reference` into `store`, `jobs` at a time, each from the first of
    /// `endpoints` that serves it.
    pub(crate) async fn fetch_all(
        &self,
        endpoints: &[Endpoint],
        reference: &Reference,
        blobs: &[Blob],
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let jobs = self.options.jobs.max(1);
        stream::iter(blobs.iter().map(Ok))
            .try_for_each_concurrent(jobs, |blob| async move {
                self.fetch_from_endpoints(endpoints, reference, blob, store, reporter)
                    .await
            })
            .await
    }

    /// Tries each endpoint in turn. A failed or wrong download from a mirror was thrown away
    /// (the cache verifies before it commits), so the next endpoint starts from what is left.
    async fn fetch_from_endpoints(
        &self,
        endpoints: &[Endpoint],
        reference: &Reference,
        blob: &Blob,
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let mut failures = Vec::new();
        for (i, endpoint) in endpoints.iter().enumerate() {
            let result = self
                .fetch_blob(&endpoint.reg, &endpoint.reference, blob, store, reporter)
                .await;
            match result {
                Ok(_) => return Ok(()),
                Err(e) if endpoint.mirror.is_some() => {
                    let (label, next) = (endpoint.label(), endpoints[i + 1].label());
                    reporter.on_endpoint_failed(&format!(
                        "{label}: blob {}: {e}; trying {next}",
                        blob.digest
                    ));
                    reporter.on_blob_reset(&blob.digest);
                    failures.push((label, e.to_string()));
                }
                Err(e) => {
                    let what = format!("blob {} of {reference}", blob.digest);
                    return Err(RegistryError::all_failed(
                        &what,
                        reference.registry(),
                        failures,
                        e,
                    ));
                }
            }
        }
        unreachable!("the origin is always the last endpoint")
    }

    /// Fetches one blob into the store unless it is already there. Returns whether it was
    /// cached.
    pub(crate) async fn fetch_blob(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blob: &Blob,
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<bool, RegistryError> {
        let digest = &blob.digest;
        reporter.on_blob_start(digest, blob.size);
        if store.get(digest, Some(blob.size))?.is_some() {
            reporter.on_blob_done(digest, true);
            return Ok(true);
        }
        if !blob.urls.is_empty() && !self.options.allow_foreign_layers {
            return Err(RegistryError::ForeignLayer {
                digest: digest.clone(),
                url: crate::redact_url_text(&blob.urls[0]),
            });
        }
        // Waiting for another process's download blocks: keep it off the async workers.
        let acquired = {
            let (store, digest) = (store.clone(), digest.clone());
            let size = blob.size;
            tokio::task::spawn_blocking(move || store.acquire(&digest, Some(size)))
                .await
                .map_err(|e| {
                    RegistryError::Cache(CacheError::Io {
                        source: std::io::Error::other(e),
                    })
                })??
        };
        let mut writer = match acquired {
            Acquired::Cached(_) => {
                reporter.on_blob_done(digest, true);
                return Ok(true);
            }
            Acquired::Write(w) => w,
        };
        let blob_error = |source| RegistryError::Blob {
            reference: reference.to_string(),
            digest: digest.clone(),
            source,
        };
        self.download(reg, reference, blob, &mut writer, reporter)
            .await?;
        writer.commit().map_err(blob_error)?;
        reporter.on_blob_done(digest, false);
        Ok(false)
    }

    /// Fetches the blob into `writer`: in bounded chunks over several connections when it is
    /// big and the server honours `Range`, else over one connection.
    async fn download(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blob: &Blob,
        writer: &mut BlobWriter,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let url = self.blob_url(reg, reference, blob)?;
        if writer.offset() > 0 {
            reporter.on_blob_progress(&blob.digest, writer.offset());
        }
        let chunks = &self.options.chunks;
        let (mut first, mut connection) = (None, None);
        if blob.urls.is_empty() && blob.size - writer.offset().min(blob.size) >= chunks.min_blob {
            let fetch = BlobFetch {
                reg,
                reference,
                blob,
                url: &url,
                reporter,
                redirected: Default::default(),
            };
            match self.download_chunks(&fetch, writer).await? {
                Chunked::Done => return Ok(()),
                // The server answered without honouring the range: go on with that answer,
                // on the connection it came on.
                Chunked::Unsupported(Some((response, permit))) => {
                    (first, connection) = (Some(response), Some(permit));
                }
                Chunked::Unsupported(None) => {}
            }
        }
        let _connection = match connection {
            Some(permit) => permit,
            None => self.connection().await,
        };
        self.stream_whole(reg, reference, blob, &url, writer, reporter, first)
            .await
    }

    /// Where a blob is fetched from: the registry, or a foreign layer's first URL.
    fn blob_url(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blob: &Blob,
    ) -> Result<url::Url, RegistryError> {
        let digest = &blob.digest;
        let repo = reference.repository();
        Ok(match blob.urls.first() {
            Some(foreign) => {
                url::Url::parse(foreign).map_err(|e| RegistryError::InvalidResponse {
                    url: foreign.clone(),
                    reason: format!("layer {digest} has an invalid URL: {e}"),
                })?
            }
            None => reg
                .base
                .join(&format!("v2/{repo}/blobs/{digest}"))
                .map_err(|e| RegistryError::InvalidRegistry {
                    registry: reg.name.clone(),
                    reason: e.to_string(),
                })?,
        })
    }

    /// Streams the blob into `writer` over one connection, resuming after interruptions within
    /// the retry budget. `first` is an answer already received for the current offset.
    #[allow(clippy::too_many_arguments)]
    async fn stream_whole(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blob: &Blob,
        url: &url::Url,
        writer: &mut BlobWriter,
        reporter: &dyn Reporter,
        mut first: Option<reqwest::Response>,
    ) -> Result<(), RegistryError> {
        let digest = &blob.digest;
        let repo = reference.repository();
        let blob_error = |source| RegistryError::Blob {
            reference: reference.to_string(),
            digest: digest.clone(),
            source,
        };
        let policy = &self.options.retry;
        // The retry budget covers consecutive attempts without progress, so a long download
        // that drops now and then keeps resuming.
        let mut start = Instant::now();
        let mut attempt = 1;
        while writer.offset() < blob.size {
            let offset = writer.offset();
            let mut response = match first.take() {
                Some(response) => response,
                None => {
                    let mut request = Request::get(url.clone());
                    if offset > 0 {
                        let range = HeaderValue::from_str(&format!("bytes={offset}-"))
                            .expect("digits are a valid header");
                        request.headers.insert(RANGE, range);
                    }
                    if blob.urls.is_empty() {
                        self.registry_request(reg, repo, &request, &format!("blob {digest}"))
                            .await?
                    } else {
                        self.transport.send(&request, None).await?
                    }
                }
            };
            let status = response.status();
            let resumed = status == StatusCode::PARTIAL_CONTENT
                && offset > 0
                && content_range(&response).is_some_and(|r| r.start == offset);
            if status == StatusCode::OK && offset > 0 {
                // The server ignored the Range request: start over.
                writer.restart().map_err(blob_error)?;
                reporter.on_blob_reset(digest);
            } else if offset > 0
                && !resumed
                && matches!(
                    status,
                    StatusCode::PARTIAL_CONTENT | StatusCode::RANGE_NOT_SATISFIABLE
                )
            {
                // An unusable resume: throw the partial away and ask for the whole blob.
                writer.restart().map_err(blob_error)?;
                reporter.on_blob_reset(digest);
                continue;
            } else if status == StatusCode::NOT_FOUND && blob.urls.is_empty() {
                return Err(RegistryError::BlobNotFound {
                    registry: reg.name.clone(),
                    repository: repo.to_owned(),
                    digest: digest.clone(),
                });
            } else if status != StatusCode::OK && !resumed {
                return Err(status_error(url, response).await);
            }
            let interrupted = loop {
                match response.chunk().await {
                    Ok(Some(chunk)) => {
                        writer.write_chunk(&chunk).map_err(blob_error)?;
                        reporter.on_blob_progress(digest, chunk.len() as u64);
                    }
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            if writer.offset() >= blob.size {
                break;
            }
            // The body ended early or the connection dropped: resume if the budget allows.
            if writer.offset() > offset {
                start = Instant::now();
                attempt = 1;
            }
            match policy.next_wait(attempt, start.elapsed(), None) {
                Some(wait) => {
                    let why = match &interrupted {
                        Some(e) if e.is_timeout() => format!(
                            "stalled (nothing for {}s; WSLBOX_READ_TIMEOUT sets how long)",
                            self.options.read_timeout.as_secs_f64()
                        ),
                        Some(e) => format!("was cut off ({})", crate::error::describe(e)),
                        None => "ended early".to_owned(),
                    };
                    reporter.on_blob_interrupted(&format!(
                        "the download of {digest} from {} {why} at {} of {} bytes; resuming",
                        reg.name,
                        writer.offset(),
                        blob.size
                    ));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return Err(match interrupted {
                        Some(e) => connection_error(response.url(), &e, Peer::Registry),
                        None => RegistryError::InvalidResponse {
                            url: crate::redact_url(url),
                            reason: format!(
                                "the download of layer {digest} kept ending early ({} of {} bytes)",
                                writer.offset(),
                                blob.size
                            ),
                        },
                    });
                }
            }
        }
        Ok(())
    }
}

/// A `Content-Range: bytes START-END/TOTAL` answer header (`TOTAL` may be `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ContentRange {
    pub start: u64,
    /// Inclusive, as in the header.
    pub end: u64,
    pub total: Option<u64>,
}

pub(crate) fn content_range(response: &reqwest::Response) -> Option<ContentRange> {
    parse_content_range(response.headers().get(CONTENT_RANGE)?.to_str().ok()?)
}

fn parse_content_range(value: &str) -> Option<ContentRange> {
    let (range, total) = value.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let (start, end) = (start.trim().parse().ok()?, end.trim().parse().ok()?);
    let total = match total.trim() {
        "*" => None,
        n => Some(n.parse().ok()?),
    };
    (start <= end).then_some(ContentRange { start, end, total })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_parsed_strictly() {
        let r = |start, end, total| Some(ContentRange { start, end, total });
        assert_eq!(parse_content_range("bytes 0-99/1000"), r(0, 99, Some(1000)));
        assert_eq!(parse_content_range("bytes 10-10/*"), r(10, 10, None));
        assert_eq!(parse_content_range(" bytes 5 - 9 / 10 "), r(5, 9, Some(10)));
        for bad in [
            "bytes 9-5/10",
            "bytes */10",
            "items 0-1/2",
            "bytes 0-/10",
            "bytes 0-1",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad}");
        }
    }
}
