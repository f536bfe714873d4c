//! Blob downloads into the cache: parallel, skipping cached blobs, verified while streaming,
//! resumed with `Range` after an interruption.

use std::time::Instant;

use futures_util::{TryStreamExt, stream};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_RANGE, HeaderValue, RANGE};
use wslbox_cache::{Acquired, BlobStore, BlobWriter, CacheError};
use wslbox_image::ResolvedImage;
use wslbox_reference::{Digest, Reference};

use crate::auth::RegistryHost;
use crate::error::status_error;
use crate::session::Session;
use crate::transport::{Request, connection_error};
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
    /// Fetches `blobs` of `reference` into `store`, `jobs` at a time.
    pub(crate) async fn fetch_all(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blobs: &[Blob],
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let jobs = self.options.jobs.max(1);
        stream::iter(blobs.iter().map(Ok))
            .try_for_each_concurrent(jobs, |blob| async move {
                self.fetch_blob(reg, reference, blob, store, reporter)
                    .await
                    .map(drop)
            })
            .await
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
                url: blob.urls[0].clone(),
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

    /// Streams the blob into `writer`, resuming after interruptions within the retry budget.
    async fn download(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        blob: &Blob,
        writer: &mut BlobWriter,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let digest = &blob.digest;
        let repo = reference.repository();
        let url = match blob.urls.first() {
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
        };
        let blob_error = |source| RegistryError::Blob {
            reference: reference.to_string(),
            digest: digest.clone(),
            source,
        };
        if writer.offset() > 0 {
            reporter.on_blob_progress(digest, writer.offset());
        }
        let policy = &self.options.retry;
        // The retry budget covers consecutive attempts without progress, so a long download
        // that drops now and then keeps resuming.
        let mut start = Instant::now();
        let mut attempt = 1;
        while writer.offset() < blob.size {
            let offset = writer.offset();
            let mut request = Request::get(url.clone());
            if offset > 0 {
                let range = HeaderValue::from_str(&format!("bytes={offset}-"))
                    .expect("digits are a valid header");
                request.headers.insert(RANGE, range);
            }
            let mut response = if blob.urls.is_empty() {
                self.registry_request(reg, repo, &request, &format!("blob {digest}"))
                    .await?
            } else {
                self.transport.send(&request, None).await?
            };
            let status = response.status();
            let resumed = status == StatusCode::PARTIAL_CONTENT
                && offset > 0
                && range_starts_at(&response, offset);
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
                return Err(status_error(url.as_str(), response).await);
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
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                None => {
                    return Err(match interrupted {
                        Some(e) => connection_error(response.url(), &e),
                        None => RegistryError::InvalidResponse {
                            url: url.to_string(),
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

/// Whether a 206 answer continues at `offset` (`Content-Range: bytes N-…/…`).
fn range_starts_at(response: &reqwest::Response, offset: u64) -> bool {
    response
        .headers()
        .get(CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().strip_prefix("bytes "))
        .and_then(|v| v.split('-').next())
        .and_then(|start| start.trim().parse::<u64>().ok())
        == Some(offset)
}
