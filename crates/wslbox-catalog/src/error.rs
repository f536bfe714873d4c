//! Why a catalog could not be read: the file (or URL) and line, and what to change.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The text is not a valid catalog. `origin` is the file or URL as the user named it.
    #[error("{origin}:{line}: {message}")]
    Invalid {
        origin: String,
        line: usize,
        message: String,
    },
    #[error("reading the catalog {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}
