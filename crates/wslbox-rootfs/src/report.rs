//! Progress reporting: a trait here, the progress bars in the binary.

use wslbox_image::LayerDescriptor;

/// Receives progress from [`crate::flatten`] and [`crate::write_output`]. Called from several
/// threads at once; every method has a no-op default.
pub trait Reporter: Send + Sync {
    /// Layer `index` starts being read.
    fn layer_started(&self, index: usize, layer: &LayerDescriptor) {
        let _ = (index, layer);
    }
    /// `bytes` more (compressed) bytes of layer `index` were read.
    fn layer_progress(&self, index: usize, bytes: u64) {
        let _ = (index, bytes);
    }
    /// Layer `index` was read completely; it had `entries` tar entries.
    fn layer_finished(&self, index: usize, entries: u64) {
        let _ = (index, entries);
    }
    /// One more output entry was written, with `bytes` more uncompressed tar bytes.
    fn output_progress(&self, entries: u64, bytes: u64) {
        let _ = (entries, bytes);
    }
    /// Polled between layers and between output entries: `true` (e.g. after Ctrl-C) stops
    /// the work with an `Interrupted` error, so temp files are removed on the way out.
    fn cancelled(&self) -> bool {
        false
    }
}

/// A [`Reporter`] that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoReporter;

impl Reporter for NoReporter {}
