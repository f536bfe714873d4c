//! Why an export or inspection failed: the failing stage's own error, which names its input.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    #[error(transparent)]
    Source(#[from] wslbox_source::SourceError),
    #[error("making the root filesystem WSL-ready: {0}")]
    Customize(#[from] wslbox_rootfs::customize::CustomizeError),
    #[error(transparent)]
    Flatten(#[from] wslbox_rootfs::FlattenError),
    #[error(transparent)]
    Output(#[from] wslbox_rootfs::OutputError),
    #[error(transparent)]
    Cache(#[from] wslbox_cache::CacheError),
    /// Boxed: registry errors are large, and this one is only on the push path.
    #[error(transparent)]
    Registry(Box<wslbox_registry::RegistryError>),
    #[error("{what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

impl PipelineError {
    /// Whether the user interrupted (Ctrl-C) at any stage.
    pub fn is_interrupted(&self) -> bool {
        match self {
            PipelineError::Source(e) => e.is_interrupted(),
            PipelineError::Flatten(e) => e.is_interrupted(),
            PipelineError::Output(e) => matches!(e, wslbox_rootfs::OutputError::Interrupted),
            _ => false,
        }
    }
}

impl From<wslbox_registry::RegistryError> for PipelineError {
    fn from(e: wslbox_registry::RegistryError) -> Self {
        PipelineError::Registry(Box::new(e))
    }
}
