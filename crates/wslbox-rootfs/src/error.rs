//! Errors of flattening and output writing. Every variant names the layer (`layer sha256:…`, `rootfs tarball FILE`, …) and/or path.

use std::path::PathBuf;

/// Renders a path from a tar entry (arbitrary bytes) for messages.
pub(crate) fn show(path: &[u8]) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        format!("/{}", String::from_utf8_lossy(path))
    }
}

/// Why flattening an image's layers failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FlattenError {
    /// The layer could not be read, verified or decompressed (bad digest, corrupt gzip, I/O).
    /// The caller knows where the blob came from, and so what the fix is (the binary re-checks
    /// and drops corrupt cache entries).
    #[error("{layer} cannot be read: {source}")]
    Read {
        /// What was read, for messages: `layer sha256:…`, `rootfs tarball FILE`, ….
        layer: String,
        source: std::io::Error,
    },
    /// The layer's tar stream is malformed.
    #[error("{layer}: malformed tar stream: {source}")]
    Tar {
        /// What was read, for messages: `layer sha256:…`, `rootfs tarball FILE`, ….
        layer: String,
        source: std::io::Error,
    },
    /// An entry would write outside the root (`..` component, escaping hardlink).
    #[error(
        "{layer}: unsafe entry `{path}`: {reason}; refusing to extract an image that writes outside its root"
    )]
    UnsafePath {
        /// What was read, for messages: `layer sha256:…`, `rootfs tarball FILE`, ….
        layer: String,
        path: String,
        reason: String,
    },
    /// An entry cannot be applied (unsupported type, missing hardlink target, file in the way).
    #[error("{layer}: invalid entry `{path}`: {reason}")]
    InvalidEntry {
        /// What was read, for messages: `layer sha256:…`, `rootfs tarball FILE`, ….
        layer: String,
        path: String,
        reason: String,
    },
    /// Writing a file body to the spool directory failed (disk full?).
    #[error(
        "spooling {layer} to {dir}: {source}; check free space there or choose another temp directory"
    )]
    Spool {
        /// What was read, for messages: `layer sha256:…`, `rootfs tarball FILE`, ….
        layer: String,
        dir: PathBuf,
        source: std::io::Error,
    },
    /// The reporter asked to stop (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// An overlay from customization cannot be placed.
    #[error("cannot add `{path}` to the root filesystem: {reason}")]
    Overlay { path: String, reason: String },
    /// Writing a file streamed into the output while its layer was read failed.
    #[error(transparent)]
    Output(Box<OutputError>),
}

impl FlattenError {
    /// Whether the user interrupted (Ctrl-C), while reading or while streaming the output.
    pub fn is_interrupted(&self) -> bool {
        match self {
            FlattenError::Interrupted => true,
            FlattenError::Output(e) => matches!(**e, OutputError::Interrupted),
            _ => false,
        }
    }
}

/// What to do when writing the output failed for a reason the user can act on: its disk is full
/// (the output itself is gone already), or the program reading `-o -` went away.
fn output_hint(e: &std::io::Error) -> &'static str {
    match e.kind() {
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
            "; the disk that holds it is full (nothing was left there): free space, or write the output to another disk with -o PATH"
        }
        std::io::ErrorKind::BrokenPipe => {
            "; the program reading it stopped before the end, so what it got is cut short: see what that program said"
        }
        _ => "",
    }
}

/// Why writing the output failed. A failed write leaves no file at the destination.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OutputError {
    #[error("writing {dest}: {source}{}", output_hint(source))]
    Io {
        dest: String,
        source: std::io::Error,
    },
    /// The reporter asked to stop (Ctrl-C); the partial output was removed.
    #[error("interrupted; no output was written")]
    Interrupted,
    #[error("reading the body of `{path}` back from the spool: {source}")]
    Spool {
        path: String,
        source: std::io::Error,
    },
    /// A file written to the output while its layer was read did not survive: a later entry
    /// of that layer, or customization, replaced or removed it. Layers built by image tools
    /// name each path once; only a hand-made layer does this.
    #[error(
        "`{path}` went to the output while its layer was read, but a later entry of that layer replaced or removed it, and a stream cannot take it back; run again with --no-stream"
    )]
    Streamed { path: String },
    /// Reading a layer again for the file bodies left in it failed.
    #[error("reading layer {layer} again for its file bodies: {source}")]
    Layer {
        layer: String,
        source: std::io::Error,
    },
}
