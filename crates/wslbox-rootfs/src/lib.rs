//! Turns an image's layers into one root-filesystem tar, made ready for WSL.
//!
//! Data flows one way:
//!
//! 1. [`flatten`] reads each layer stream (in parallel, `read`), recording headers and where
//!    each file body is, then applies the layers in order (`apply`) to an in-memory model of
//!    the tree (`tree`: paths → inodes) with image-spec whiteout, opaque and hardlink
//!    semantics, reproducing `umoci raw unpack` run as root.
//! 2. The model, a [`FlatTree`], is a [`TreeView`]: OS detection and WSL customization read
//!    files from it and return [`Overlay`]s — files to add or replace — which
//!    [`FlatTree::apply_overlays`] merges without a second pass over the layers.
//! 3. [`write_output`] writes the final tree as one tar stream (`write`: directories before
//!    their contents, hardlinks after their targets, PAX where ustar is not enough), optionally
//!    gzip (parallel members, `pgzip`) or xz (liblzma multithreaded) compressed, atomically.
//!    With [`flatten_into`], the [`Output`] is opened first and the biggest layer's files go
//!    into it while that layer is read (`stream`); [`Output::finish`] writes the rest.
//!
//! ## Which bytes wait where
//!
//! Memory grows with the number of paths, never with layer or file sizes. File bodies wait in
//! one of two places until the output is written, or in none:
//!
//! - **In their layer**, when the opener can open the layers again
//!   ([`BlobOpener::reopen`](wslbox_image::BlobOpener::reopen): cached blobs, OCI layouts and
//!   archives, all on disk). The first reading only notes each body's entry number. The
//!   output is then written in two parts: a walk of the tree (directories, symlinks, devices,
//!   and the bodies that were spooled), then each layer read again, bottom first, writing the
//!   bodies of the files that survived, in archive order, each followed by its other names as
//!   hardlinks (`write/left`, `reread`). Reading a layer twice costs decoding it twice; it
//!   saves writing and reading back the whole uncompressed image in the temp directory.
//! - **In the spool** (`spool`, unnamed files in [`FlattenOptions::spool_dir`] that vanish
//!   with the [`FlatTree`]): bodies of at most 64 KiB while the layer's share of
//!   [`FlattenOptions::spool_budget`] (128 MiB in all) lasts, in archive order so the choice
//!   is the same on every run — the configuration files customization reads — and, in a
//!   streamed layer, the bodies below [`FlattenOptions::hold`] whatever their size, and sparse
//!   files. A source read only once (a stream) spools every body, so its spool needs room
//!   for the uncompressed image.
//!
//! A body that customization reads but that stayed in its layer is decoded again on demand;
//! the rare big one (an ELF header for platform detection) costs a partial decode.
//!
//! - **Nowhere**, for the files of the biggest layer that [`flatten_into`] streams: their
//!   header and body go to the output the moment the layer's reader reaches them, so the
//!   output grows while that layer still downloads, and the layer is decoded once. Any layer
//!   may delete or replace what a lower one wrote, so only what is certain to survive goes
//!   early (module `stream`): the other layers are read first, the upper ones decide by their
//!   own paths, files below [`FlattenOptions::hold`] (what customization replaces) wait, and
//!   a path the layer names a second time makes a file output start over and a stream fail.
//!   These files come first in the tar, before the root directory's entry; their directories
//!   follow with the tree walk (extractors create missing parents and set their metadata when
//!   the entry comes).
//!
//! Deliberate differences from umoci: a `..` component or a hardlink leaving the root is an
//! error ([`FlattenError::UnsafePath`]) where umoci clamps it; old GNU sparse entries and PAX
//! global headers, which umoci 0.4.7 refuses, are expanded and ignored respectively.
//!
//! ```no_run
//! # fn demo(image: &wslbox_image::ResolvedImage, opener: &dyn wslbox_image::BlobOpener) -> Result<(), Box<dyn std::error::Error>> {
//! use wslbox_rootfs::{FlattenOptions, NoReporter, OutputDest, OutputFormat};
//! let opts = FlattenOptions::new(std::env::temp_dir());
//! let tree = wslbox_rootfs::flatten(&image.layers, opener, &opts, &NoReporter)?;
//! let dest = OutputDest::File("rootfs.tar.gz".into());
//! let format = OutputFormat::from_path("rootfs.tar.gz".as_ref()).unwrap_or(OutputFormat::Tar);
//! let stats = wslbox_rootfs::write_output(&tree, dest, format, &NoReporter)?;
//! # let _ = stats; Ok(()) }
//! ```

mod apply;
mod arch;
mod encode;
mod error;
mod flatten;
mod keep;
mod layer;
mod output;
mod path;
mod pgzip;
mod read;
mod report;
mod reread;
mod resolve;
mod sparse;
mod spool;
mod stream;
mod tree;
mod write;

pub mod customize;
pub mod osrelease;

pub use arch::detect_platform;
pub use encode::{LayerCompression, LayerEncoder};
pub use error::{FlattenError, OutputError};
pub use flatten::{FlattenOptions, flatten, flatten_into};
pub use keep::{ALWAYS_KEPT, KeepPathError, KeepPaths, Kept, read_kept};
pub use layer::{EntryData, EntryMeta, LayerBuilder, LayerOptions, ParsedLayer, PathMap};
pub use output::{Output, OutputDest, OutputFormat, Stats, write_output, write_tar};
pub use read::read_tar;
pub use report::{NoReporter, Reporter};
pub use tree::FlatTree;

/// The kind of a node in the flattened tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Dir,
    File,
    Symlink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// Metadata of one path in the flattened tree (symlinks are not followed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub kind: NodeKind,
    /// Permission bits including setuid/setgid/sticky (no file-type bits).
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: i64,
    /// Symlink target, verbatim.
    pub link_target: Option<Vec<u8>>,
}

/// Read access to the flattened tree. Paths are relative, without a leading `/` or `./`
/// (`etc/os-release`); the root is the empty path.
pub trait TreeView {
    /// The node at `path`, without following a final symlink.
    fn lookup(&self, path: &[u8]) -> Option<NodeInfo>;
    /// The contents of the regular file at `path` (no symlink following), if it is one.
    fn read(&self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>>;
    /// Names of the direct children of the directory at `path`, sorted.
    fn children(&self, path: &[u8]) -> Vec<Vec<u8>>;
}

/// What an [`Overlay`] puts at its path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayContent {
    File(Vec<u8>),
    /// A regular file with the same contents as another path in the tree (e.g. `/etc/skel`).
    CopyOf(Vec<u8>),
    Dir,
    Symlink(Vec<u8>),
}

/// A file, directory or symlink that customization adds to the output or replaces in it.
/// Parents must exist in the tree or come earlier in the overlay list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overlay {
    pub path: Vec<u8>,
    pub content: OverlayContent,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: i64,
}
