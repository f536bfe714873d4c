//! Progress of opening and reading sources. One trait for everything a source reports —
//! downloads (the registry client's [`wslbox_registry::Reporter`]), layers (the flattener's
//! [`wslbox_rootfs::Reporter`]) and warnings — implemented by the binary's progress bars.

/// Receives progress from sources; every method has a no-op default.
pub trait Reporter: wslbox_rootfs::Reporter + wslbox_registry::Reporter {
    /// Downloads totalling `bytes` begin (cached blobs count as they are found).
    fn downloads_started(&self, bytes: u64) {
        let _ = bytes;
    }
    /// Every download ended (done or failed).
    fn downloads_finished(&self) {}
    /// Reading `layers` layers begins (again, when a flatten is repeated from the cache).
    fn flatten_started(&self, layers: usize) {
        let _ = layers;
    }
    /// Something the user should know that does not stop the work (e.g. an unverified
    /// download, a platform that may not run here).
    fn warn(&self, message: &str) {
        let _ = message;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReporter;

impl wslbox_rootfs::Reporter for NoReporter {}
impl wslbox_registry::Reporter for NoReporter {}
impl Reporter for NoReporter {}
