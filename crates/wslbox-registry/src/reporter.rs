//! Progress reporting. The library calls a [`Reporter`]; the binary draws bars or lines.

use wslbox_reference::Digest;

/// Receives download and upload progress. Called concurrently from parallel downloads.
pub trait Reporter: Send + Sync {
    /// A blob is needed; `total` is its size in bytes.
    fn on_blob_start(&self, digest: &Digest, total: u64) {
        let _ = (digest, total);
    }
    /// `bytes` more bytes of the blob are on disk (a resumed download first reports what the
    /// partial file already held).
    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        let _ = (digest, bytes);
    }
    /// The bytes reported so far for this blob were thrown away (the server ignored a Range
    /// request); progress restarts from zero.
    fn on_blob_reset(&self, digest: &Digest) {
        let _ = digest;
    }
    /// The blob is verified and committed; `cached` when nothing had to be downloaded.
    fn on_blob_done(&self, digest: &Digest, cached: bool) {
        let _ = (digest, cached);
    }
    /// An endpoint (a mirror) could not serve a blob; the next one is tried. `message` is one
    /// line naming the mirror, the blob and why.
    fn on_endpoint_failed(&self, message: &str) {
        let _ = message;
    }
    /// A download broke off (it stalled past the read timeout, or the connection dropped) and
    /// is resumed where it stopped; `message` is one line naming the blob, the registry, why
    /// and where.
    fn on_blob_interrupted(&self, message: &str) {
        let _ = message;
    }
    /// `bytes` more of a blob being pushed reached the registry.
    fn on_upload_progress(&self, bytes: u64) {
        let _ = bytes;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl Reporter for NoReporter {}
