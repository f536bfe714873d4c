//! Why a source could not be opened or read. Every variant names the input and, where there
//! is one, the fix.

use wslbox_reference::Digest;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    #[error("`{input}` is not a source wslbox can read: {reason}")]
    InvalidSpec { input: String, reason: String },
    #[error("{option} does not apply to {source_spec}")]
    OptionNotApplicable {
        option: &'static str,
        source_spec: String,
    },
    /// A file or URL that is not what its prefix says.
    #[error("{what} is not {expected}: {reason}")]
    NotA {
        what: String,
        expected: &'static str,
        reason: String,
    },
    /// `--subdir` names nothing that can be the root.
    #[error(
        "{what} has no directory `{subdir}` to use as the root: {reason}; check --subdir (paths are relative to the top of the source)"
    )]
    NoSubdir {
        what: String,
        subdir: String,
        reason: String,
    },
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
    /// The content is not the content the user vouched for.
    #[error(
        "checksum mismatch for {what}: expected {expected}, got {actual}; nothing was written — check the checksum, or the download was tampered with or truncated"
    )]
    Checksum {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    /// A podman/docker engine could not be used.
    #[error("{engine}: {reason}")]
    Engine {
        engine: &'static str,
        reason: String,
    },
    #[error(
        "{reference} is only available for {available}, not for the requested platform {wanted}; drop --platform or pick another image"
    )]
    PlatformMismatch {
        reference: String,
        available: String,
        wanted: String,
    },
    #[error(
        "{source}\nthe cached copy of layer {layers} was corrupt and has been removed from the cache; run the command again to download it"
    )]
    CorruptCache {
        layers: String,
        source: wslbox_rootfs::FlattenError,
    },
    /// A download started over after part of its layer had gone to a stream (standard
    /// output, `wsl --import`), which cannot be taken back.
    #[error(
        "{source}
the output had already received part of it and cannot be taken back; every layer is cached now, so run the command again"
    )]
    StreamStartedOver { source: wslbox_rootfs::FlattenError },
    #[error("pulling {reference}: {source}")]
    Pull {
        reference: String,
        source: Box<wslbox_registry::RegistryError>,
    },
    #[error("the download thread stopped unexpectedly")]
    DownloadThread,
    #[error(transparent)]
    Registry(Box<wslbox_registry::RegistryError>),
    #[error(transparent)]
    Layout(#[from] wslbox_image::LayoutError),
    #[error(transparent)]
    Cache(#[from] wslbox_cache::CacheError),
    #[error(transparent)]
    Reference(#[from] wslbox_reference::ReferenceError),
    #[error(transparent)]
    Flatten(#[from] wslbox_rootfs::FlattenError),
}

impl From<wslbox_registry::RegistryError> for SourceError {
    fn from(e: wslbox_registry::RegistryError) -> Self {
        SourceError::Registry(Box::new(e))
    }
}

impl SourceError {
    /// Whether the user interrupted (Ctrl-C).
    pub fn is_interrupted(&self) -> bool {
        matches!(self, SourceError::Flatten(e) if e.is_interrupted())
    }
}
