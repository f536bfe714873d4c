//! Every input of `wslbox export`/`import` as layers for the flattener.
//!
//! - [`SourceSpec`] is what the user typed, parsed: a registry [`Reference`], a local layout
//!   (`oci:`, `oci-archive:`, `docker-archive:`), `squashfs:FILE`, `tarball:FILE|URL|-`,
//!   `podman:IMAGE` or `docker-daemon:IMAGE`; a file given without a prefix is recognized by
//!   its magic.
//! - [`open`] turns a spec into a [`Source`]: what is known before reading ([`SourceInfo`]:
//!   image digests and config, or the file's location) and a way to read it.
//! - [`Source::flatten`] reads every layer (image layers through `wslbox-rootfs`'s tar reader,
//!   a SquashFS image entry by entry, a tarball as one layer without whiteouts) and applies
//!   them into a [`FlatTree`], completing the info with what reading learned (the sha256 of a
//!   file or download).
//!
//! `podman:`/`docker-daemon:` and `--via` run the engine's CLI and stream its `save` archive
//! (`engine`).
//!
//! Sources report through one [`Reporter`] (downloads, layers, warnings); the binary draws it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;

use wslbox_image::{ImageConfigSummary, LayerDescriptor};
use wslbox_reference::{Digest, Platform};
use wslbox_rootfs::{FlatTree, FlattenOptions, Output, PathMap};

mod checksum;
mod engine;
mod error;
mod local;
mod registry;
mod reporter;
mod spec;
mod squashfs;
mod tarball;

pub use error::SourceError;
pub use registry::{client, client_options, pull, runtime};

/// What is known about `spec` without reading its layers: a registry image's manifest and
/// config (one round trip per document, nothing else downloaded), a local layout's or an
/// engine image's metadata. `None` for tarballs and SquashFS images, which say nothing about
/// themselves until they are read.
pub fn describe(
    spec: &SourceSpec,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Option<SourceInfo>, SourceError> {
    spec.check_options(opts)?;
    match spec {
        SourceSpec::Registry(reference) if opts.via.is_none() => {
            registry::describe(reference, opts, reporter.as_ref()).map(Some)
        }
        SourceSpec::Squashfs(_) | SourceSpec::Tarball(_) => Ok(None),
        _ => Ok(Some(open(spec, opts, reporter)?.info().clone())),
    }
}
pub use reporter::{NoReporter, Reporter};
pub use spec::{Engine, SourceSpec, TarballLocation};

/// Which kind of input a source is; kebab-case in JSON (`registry`, `squashfs`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Registry,
    Oci,
    OciArchive,
    DockerArchive,
    Squashfs,
    Tarball,
    Podman,
    DockerDaemon,
}

/// What is known about a source. Image sources fill the digests, platform and config; file
/// sources (tarball, SquashFS) fill `sha256` once they were read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SourceInfo {
    pub kind: SourceKind,
    /// Canonical: `docker.io/library/alpine:latest`, `oci:/abs/dir:tag`,
    /// `squashfs:/abs/airootfs.sfs`, `tarball:https://…/rootfs.tar.xz`, `podman:localhost/dev:1`.
    pub reference: String,
    /// The platform manifest's digest (images).
    pub manifest_digest: Option<Digest>,
    /// The index the platform manifest was chosen from, if any.
    pub index_digest: Option<Digest>,
    pub config_digest: Option<Digest>,
    /// sha256 of the file or download (tarball, SquashFS): what `--sha256` is checked against.
    pub sha256: Option<Digest>,
    /// Whether `sha256` matched a checksum the user gave (`--sha256`, `--sha256-url`).
    pub checksum_verified: bool,
    /// Bytes of the file or download as read (tarball, SquashFS).
    pub size: Option<u64>,
    /// The image's platform; for file sources `None` (nothing records one).
    pub platform: Option<Platform>,
    /// Platforms an image index offers.
    pub platforms: Vec<Platform>,
    pub config: ImageConfigSummary,
    /// An image's layers (empty for file sources).
    pub layers: Vec<LayerDescriptor>,
    /// The engine that pulled a registry image (`--via`).
    pub via: Option<Engine>,
    /// Engine sources: the engine's own name for the image, the tag the typed name stands
    /// for (`podman:dev:1` → `localhost/dev:1`), or else its first tag or its ID.
    pub engine_image: Option<String>,
    /// Registry images: the mirror URL that served the manifest (`None`: the registry did).
    pub mirror: Option<String>,
}

impl SourceInfo {
    /// What reading it downloads or reads at most: an image's layers, or the file's size.
    pub fn compressed_size(&self) -> Option<u64> {
        if self.layers.is_empty() {
            self.size
        } else {
            Some(self.layers.iter().map(|l| l.size).sum())
        }
    }

    /// Info for a source nothing is known about yet but where it is.
    pub fn new(kind: SourceKind, reference: impl Into<String>) -> Self {
        Self {
            kind,
            reference: reference.into(),
            manifest_digest: None,
            index_digest: None,
            config_digest: None,
            sha256: None,
            checksum_verified: false,
            size: None,
            platform: None,
            platforms: Vec::new(),
            config: ImageConfigSummary::default(),
            layers: Vec::new(),
            via: None,
            engine_image: None,
            mirror: None,
        }
    }

    /// The digest that identifies the content: the manifest's for images; the image ID (the
    /// config digest) for an engine's image, whose `save` archive has no manifest; the file's
    /// sha256 otherwise.
    pub fn digest(&self) -> Option<&Digest> {
        self.manifest_digest
            .as_ref()
            .or(self.config_digest.as_ref())
            .or(self.sha256.as_ref())
    }
}

impl SourceKind {
    /// The kebab-case name JSON output and the image store use.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Registry => "registry",
            SourceKind::Oci => "oci",
            SourceKind::OciArchive => "oci-archive",
            SourceKind::DockerArchive => "docker-archive",
            SourceKind::Squashfs => "squashfs",
            SourceKind::Tarball => "tarball",
            SourceKind::Podman => "podman",
            SourceKind::DockerDaemon => "docker-daemon",
        }
    }
}

impl serde::Serialize for SourceKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A checksum to verify a tarball against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checksum {
    /// `--sha256 HEX`.
    Sha256(Digest),
    /// `--sha256-url URL`: a `SHA256SUMS`-style file listing the tarball's name.
    Sha256Url(String),
}

/// How to open sources.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// The shared cache (blobs, verified downloads, spool).
    pub cache_dir: PathBuf,
    pub insecure_registries: Vec<String>,
    /// `--registry-mirror` / `WSLBOX_REGISTRY_MIRRORS`: tried before the registry they mirror.
    pub registry_mirrors: Vec<wslbox_registry::Mirror>,
    /// registries.conf's `blocked = true` prefixes.
    pub blocked_registries: Vec<wslbox_registry::Blocked>,
    /// `--platform`; `None` means the host's (a single-platform image for another one is then
    /// only a warning).
    pub platform: Option<Platform>,
    /// Download connections in total (layers at once, and chunks of big layers).
    pub jobs: usize,
    /// How long a registry connection may send nothing before it counts as stalled (then it
    /// is retried, resuming); `None` is the client's default.
    pub read_timeout: Option<std::time::Duration>,
    pub allow_foreign_layers: bool,
    /// `--strip-components`/`--subdir` (tarballs and SquashFS).
    pub paths: PathMap,
    pub checksum: Option<Checksum>,
    /// `--via podman|docker`: let an engine pull registry references.
    pub via: Option<Engine>,
    /// Variables added to wslbox's own environment for the engine's commands (`DOCKER_HOST`,
    /// `CONTAINERS_STORAGE_CONF`, `PATH`, …); empty means the engine sees what wslbox sees.
    pub engine_env: Vec<(OsString, OsString)>,
    /// What `tarball:-` reads instead of standard input (`wslbox commit` gives the stream of
    /// `wsl --export NAME -`), and the name it goes by.
    pub stdin: Option<InputStream>,
}

/// A stream read once in place of standard input, by the name the source then goes by
/// (`wsl:dev`).
#[derive(Clone)]
pub struct InputStream {
    pub name: String,
    reader: Arc<std::sync::Mutex<Option<Box<dyn std::io::Read + Send>>>>,
}

impl InputStream {
    pub fn new(name: impl Into<String>, reader: Box<dyn std::io::Read + Send>) -> Self {
        InputStream {
            name: name.into(),
            reader: Arc::new(std::sync::Mutex::new(Some(reader))),
        }
    }

    /// The stream, the first time only.
    pub(crate) fn take(&self) -> Option<Box<dyn std::io::Read + Send>> {
        self.reader.lock().expect("input stream").take()
    }
}

impl std::fmt::Debug for InputStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputStream")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl OpenOptions {
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            insecure_registries: Vec::new(),
            registry_mirrors: Vec::new(),
            blocked_registries: Vec::new(),
            platform: None,
            jobs: 8,
            read_timeout: None,
            allow_foreign_layers: false,
            paths: PathMap::default(),
            checksum: None,
            via: None,
            engine_env: Vec::new(),
            stdin: None,
        }
    }

    /// The platform to select: `--platform` or the host's.
    pub fn wanted_platform(&self) -> Platform {
        self.platform.clone().unwrap_or_else(Platform::host_default)
    }
}

/// A source's flattened tree and what reading it learned.
pub struct Flattened {
    pub tree: FlatTree,
    pub info: SourceInfo,
}

/// An opened input: its info now, its tree on [`Source::flatten`].
pub trait Source: Send {
    fn info(&self) -> &SourceInfo;
    /// Reads and applies every layer. Spool files go to `opts.spool_dir`.
    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError>;

    /// [`Source::flatten`], streaming file bodies into `out` while the biggest layer is read
    /// ([`wslbox_rootfs::flatten_into`]) where the source can read its layers again (registry
    /// images and image layouts); the others stream nothing.
    fn flatten_into(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
        out: &mut Output,
    ) -> Result<Flattened, SourceError> {
        let _ = out;
        self.flatten(opts, reporter)
    }
}

/// Opens `spec`. Registry sources start downloading at once (layers are flattened as they
/// arrive); nothing else is read before [`Source::flatten`].
pub fn open(
    spec: &SourceSpec,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    spec.check_options(opts)?;
    match spec {
        SourceSpec::Registry(reference) => match opts.via {
            Some(engine) => engine::open_via(engine, reference, opts, reporter),
            None => registry::open(reference, opts, reporter),
        },
        SourceSpec::Local(spec) => local::open(spec, opts, reporter),
        SourceSpec::Squashfs(path) => squashfs::open(path, opts),
        SourceSpec::Tarball(location) => tarball::open(location, opts),
        SourceSpec::Engine { engine, image } => engine::open(*engine, image, opts, reporter),
    }
}
