//! The push side of the distribution spec: `HEAD` a blob to skip it, mount it from another
//! repository of the same registry, upload it in one `PUT` or in `PATCH` chunks that resume
//! after a dropped connection, and `PUT` the manifest last.
//!
//! Every request asks for a `push,pull` token on the target repository
//! ([`Session::push_request`]); a refusal is a [`RegistryError::PushRefused`] naming the
//! registry and the fix.

use bytes::Bytes;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderValue, LOCATION, RANGE};
use reqwest::{Method, Response, StatusCode};
use url::Url;
use wslbox_reference::{Digest, Reference};

use crate::auth::RegistryHost;
use crate::error::status_error;
use crate::session::Session;
use crate::transport::Request;
use crate::{Client, RegistryError};

/// A repository to push into, with its registry's API base resolved.
#[derive(Debug, Clone)]
pub struct PushTarget {
    pub(crate) reg: RegistryHost,
    /// The reference pushed to (its tag or digest names the manifest).
    pub reference: Reference,
}

impl PushTarget {
    pub fn repository(&self) -> &str {
        self.reference.repository()
    }

    pub fn registry(&self) -> &str {
        &self.reg.name
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.reg
            .base
            .join(&format!("v2/{}/{path}", self.repository()))
            .map_err(|e| RegistryError::InvalidRegistry {
                registry: self.reg.name.clone(),
                reason: e.to_string(),
            })
    }

    pub(crate) fn upload_error(&self, what: &str, reason: impl Into<String>) -> RegistryError {
        RegistryError::Upload {
            registry: self.reg.name.clone(),
            repository: self.repository().to_owned(),
            what: what.to_owned(),
            reason: reason.into(),
        }
    }
}

/// An upload the registry opened (`POST …/blobs/uploads/`): where to send the next bytes,
/// and how many it holds.
#[derive(Debug, Clone)]
pub(crate) struct UploadSession {
    pub location: Url,
    pub offset: u64,
}

impl Client {
    /// The repository `reference` names, ready for uploads.
    pub async fn push_target(&self, reference: &Reference) -> Result<PushTarget, RegistryError> {
        Ok(PushTarget {
            reg: self.inner.registry_host(reference).await?,
            reference: reference.clone(),
        })
    }

    /// Whether the repository already holds `digest` (`HEAD …/blobs/<digest>`).
    pub async fn blob_exists(
        &self,
        target: &PushTarget,
        digest: &Digest,
    ) -> Result<bool, RegistryError> {
        let mut request = Request::get(target.url(&format!("blobs/{digest}"))?);
        request.method = Method::HEAD;
        let what = format!("blob {digest}");
        let response = self
            .inner
            .push_request(&target.reg, target.repository(), &[], &request, &what)
            .await?;
        match response.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(&request.url, response).await),
        }
    }

    /// Asks the registry to link `digest` from repository `from` into the target
    /// (`POST …/blobs/uploads/?mount=&from=`). `false` when it would not (it then opened an
    /// upload instead, which is left to expire).
    pub async fn mount_blob(
        &self,
        target: &PushTarget,
        digest: &Digest,
        from: &str,
    ) -> Result<bool, RegistryError> {
        let mut url = target.url("blobs/uploads/")?;
        url.query_pairs_mut()
            .append_pair("mount", &digest.to_string())
            .append_pair("from", from);
        let mut request = Request::get(url);
        request.method = Method::POST;
        request.headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
        let what = format!("blob {digest} from {from}");
        let response = self
            .inner
            .push_request(&target.reg, target.repository(), &[from], &request, &what)
            .await?;
        match response.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => Ok(false),
            // Registries without cross-repository mounts, or a source repository we may not read.
            s if s.is_client_error() => Ok(false),
            _ => Err(status_error(&request.url, response).await),
        }
    }

    /// Uploads `bytes` as blob `digest` in one `PUT` (small blobs: the config, a small layer).
    pub async fn upload_blob(
        &self,
        target: &PushTarget,
        digest: &Digest,
        bytes: Bytes,
    ) -> Result<(), RegistryError> {
        let session = self.inner.start_upload(target).await?;
        self.inner
            .finish_upload(target, &session, digest, Some(bytes))
            .await
    }

    /// `PUT`s a manifest under the target's tag (or digest) and returns its digest, checked
    /// against the one the registry reports.
    pub async fn put_manifest(
        &self,
        target: &PushTarget,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<Digest, RegistryError> {
        let digest = wslbox_reference::Hasher::digest(wslbox_reference::Algorithm::Sha256, &bytes);
        let selector = target.reference.manifest_selector();
        let mut request = Request::get(target.url(&format!("manifests/{selector}"))?);
        request.method = Method::PUT;
        request.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_str(media_type).map_err(|_| {
                target.upload_error("the manifest", format!("bad media type `{media_type}`"))
            })?,
        );
        request.body = Some(bytes);
        let what = format!("manifest {}", target.reference);
        let response = self.inner.push_ok(target, &request, &what).await?;
        check_reported_digest(target, "the manifest", response.headers(), &digest)?;
        Ok(digest)
    }
}

impl Session {
    /// Sends `request` (`what`, for messages) to `target`'s repository; any status but a
    /// success is an error.
    async fn push_ok(
        &self,
        target: &PushTarget,
        request: &Request,
        what: &str,
    ) -> Result<Response, RegistryError> {
        let response = self
            .push_request(&target.reg, target.repository(), &[], request, what)
            .await?;
        if !response.status().is_success() {
            return Err(status_error(&request.url, response).await);
        }
        Ok(response)
    }

    /// Opens an upload (`POST …/blobs/uploads/`).
    pub(crate) async fn start_upload(
        &self,
        target: &PushTarget,
    ) -> Result<UploadSession, RegistryError> {
        let mut request = Request::get(target.url("blobs/uploads/")?);
        request.method = Method::POST;
        request.headers.insert(CONTENT_LENGTH, HeaderValue::from(0));
        let response = self.push_ok(target, &request, "a blob upload").await?;
        let location = next_location(target, &request.url, &response)?;
        Ok(UploadSession {
            location,
            offset: 0,
        })
    }

    /// Sends one chunk (`PATCH` with `Content-Range`) not retried by the transport: on a
    /// dropped connection or a 5xx the registry is asked how much it holds, and the rest of
    /// the chunk is sent from there.
    pub(crate) async fn patch_chunk(
        &self,
        target: &PushTarget,
        session: &mut UploadSession,
        chunk: Bytes,
    ) -> Result<(), RegistryError> {
        let start = session.offset;
        let end = start + chunk.len() as u64;
        let mut attempt = 1;
        let begun = std::time::Instant::now();
        loop {
            let sent = (session.offset - start) as usize;
            let result = self.patch_once(target, session, chunk.slice(sent..)).await;
            let failure = match result {
                Ok(()) if session.offset == end => return Ok(()),
                Ok(()) => format!(
                    "the registry holds {} bytes after a chunk that should end at {end}",
                    session.offset
                ),
                Err(
                    e @ (RegistryError::PushRefused { .. } | RegistryError::Unauthorized { .. }),
                ) => {
                    return Err(e);
                }
                Err(e) => e.to_string(),
            };
            let wait = self
                .options
                .retry
                .next_wait(attempt, begun.elapsed(), None)
                .ok_or_else(|| target.upload_error("a layer chunk", failure.clone()))?;
            tokio::time::sleep(wait).await;
            attempt += 1;
            // Where the registry stands now; it may hold part of what was cut off.
            let held = match self.upload_status(target, session).await {
                Ok(held) => held,
                // distribution cancels an upload whose bytes no longer match its `_state`
                // (part of the cut chunk arrived): it is gone. From the first chunk on, every
                // byte is still here, so a fresh upload can take its place.
                Err(RegistryError::Status { status: 404, .. }) if start == 0 => {
                    *session = self.start_upload(target).await?;
                    continue;
                }
                Err(RegistryError::Status {
                    status: 404, body, ..
                }) => {
                    return Err(RegistryError::UploadLost {
                        registry: target.reg.name.clone(),
                        repository: target.repository().to_owned(),
                        reason: format!("{failure}; then {body}"),
                    });
                }
                Err(e) => return Err(e),
            };
            if held < start || held > end {
                return Err(target.upload_error(
                    "a layer chunk",
                    format!(
                        "{failure}; the registry now holds {held} bytes, outside the chunk being resent ({start}-{end}), so the upload cannot resume; run the push again"
                    ),
                ));
            }
            session.offset = held;
        }
    }

    async fn patch_once(
        &self,
        target: &PushTarget,
        session: &mut UploadSession,
        body: Bytes,
    ) -> Result<(), RegistryError> {
        if body.is_empty() {
            return Ok(());
        }
        let len = body.len() as u64;
        let mut request = Request::get(session.location.clone());
        request.method = Method::PATCH;
        request.retry = false;
        let range = format!("{}-{}", session.offset, session.offset + len - 1);
        let headers = &mut request.headers;
        headers.insert(CONTENT_TYPE, octet_stream());
        headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        headers.insert(
            "Content-Range",
            HeaderValue::from_str(&range).expect("digits"),
        );
        request.body = Some(body);
        let response = self.push_ok(target, &request, "a layer chunk").await?;
        session.offset = held_bytes(response.headers()).unwrap_or(session.offset + len);
        session.location = next_location(target, &request.url, &response)?;
        Ok(())
    }

    /// How many bytes the registry holds of an upload (`GET` on its location: `Range: 0-N`).
    async fn upload_status(
        &self,
        target: &PushTarget,
        session: &mut UploadSession,
    ) -> Result<u64, RegistryError> {
        let request = Request::get(session.location.clone());
        let response = self
            .push_ok(target, &request, "the upload's status")
            .await?;
        let held = held_bytes(response.headers()).unwrap_or(0);
        session.location = next_location(target, &request.url, &response)?;
        Ok(held)
    }

    /// Completes an upload (`PUT <location>?digest=`), with `last` as its final bytes; the
    /// registry verifies the digest and answers 201.
    pub(crate) async fn finish_upload(
        &self,
        target: &PushTarget,
        session: &UploadSession,
        digest: &Digest,
        last: Option<Bytes>,
    ) -> Result<(), RegistryError> {
        let mut url = session.location.clone();
        url.query_pairs_mut()
            .append_pair("digest", &digest.to_string());
        let mut request = Request::get(url);
        request.method = Method::PUT;
        let len = last.as_ref().map_or(0, |b| b.len() as u64);
        request.headers.insert(CONTENT_TYPE, octet_stream());
        request
            .headers
            .insert(CONTENT_LENGTH, HeaderValue::from(len));
        request.body = last;
        let what = format!("blob {digest}");
        let response = self
            .push_request(&target.reg, target.repository(), &[], &request, &what)
            .await?;
        match response.status() {
            StatusCode::CREATED | StatusCode::NO_CONTENT | StatusCode::OK => {}
            StatusCode::BAD_REQUEST => {
                let body = response.text().await.unwrap_or_default();
                return Err(target.upload_error(
                    &what,
                    format!(
                        "the registry rejected the digest: {}",
                        body.trim().chars().take(300).collect::<String>()
                    ),
                ));
            }
            _ => return Err(status_error(&request.url, response).await),
        }
        check_reported_digest(target, &what, response.headers(), digest)
    }
}

fn octet_stream() -> HeaderValue {
    HeaderValue::from_static("application/octet-stream")
}

/// The upload's next URL: its `Location`, relative to the request it answered.
fn next_location(
    target: &PushTarget,
    request_url: &Url,
    response: &Response,
) -> Result<Url, RegistryError> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            target.upload_error(
                "a blob upload",
                "the registry's answer has no Location header",
            )
        })?;
    request_url.join(location).map_err(|e| {
        target.upload_error(
            "a blob upload",
            format!("bad upload location `{location}`: {e}"),
        )
    })
}

/// `Range: 0-<last>` of an upload: the bytes it holds.
fn held_bytes(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(RANGE)?.to_str().ok()?;
    let last: u64 = value.trim().rsplit_once('-')?.1.trim().parse().ok()?;
    // distribution answers `0-0` for an empty upload as well as for one byte; an empty
    // upload is what a fresh session has, and a one-byte chunk is then just sent again.
    Some(if value.trim() == "0-0" { 0 } else { last + 1 })
}

/// A registry that reports a different digest than the one we computed stored other bytes.
fn check_reported_digest(
    target: &PushTarget,
    what: &str,
    headers: &HeaderMap,
    expected: &Digest,
) -> Result<(), RegistryError> {
    let Some(reported) = headers
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(());
    };
    if reported.trim() == expected.to_string() {
        return Ok(());
    }
    Err(target.upload_error(
        what,
        format!("the registry stored {reported}, not {expected}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_headers_give_the_bytes_held() {
        let mut h = HeaderMap::new();
        assert_eq!(held_bytes(&h), None);
        h.insert(RANGE, HeaderValue::from_static("0-1048575"));
        assert_eq!(held_bytes(&h), Some(1 << 20));
        h.insert(RANGE, HeaderValue::from_static("0-0"));
        assert_eq!(held_bytes(&h), Some(0));
        h.insert(RANGE, HeaderValue::from_static("bytes=0-99"));
        assert_eq!(held_bytes(&h), Some(100));
    }
}
