//! Command-line grammar. Kept close to docker/podman: the same reference syntax, `--platform`,
//! `login`/`logout`, and `--json` for scripts (PowerShell's `ConvertFrom-Json`).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod push;
mod wsl;

pub use push::*;
pub use wsl::*;

/// `wslbox --version`: the version, the git commit and the target triple.
pub const LONG_VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("WSLBOX_COMMIT"),
    ", ",
    env!("WSLBOX_TARGET"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "wslbox",
    version = LONG_VERSION,
    about = "Pull container images and turn them into WSL distributions — no Docker needed"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Blob cache directory [default: %LOCALAPPDATA%\wslbox\cache or $XDG_CACHE_HOME/wslbox]
    #[arg(long, global = true, env = "WSLBOX_CACHE_DIR", value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Allow plain HTTP / unverified TLS for this registry (repeatable); loopback registries always may use HTTP
    #[arg(
        long = "insecure-registry",
        global = true,
        value_name = "HOST[:PORT]",
        env = "WSLBOX_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    pub insecure_registries: Vec<String>,
    /// Pull through this registry mirror first (repeatable): URL mirrors docker.io, REGISTRY=URL mirrors REGISTRY; a URL path is a prefix before the repository
    #[arg(
        long = "registry-mirror",
        global = true,
        value_name = "[REGISTRY=]URL",
        env = "WSLBOX_REGISTRY_MIRRORS",
        value_delimiter = ','
    )]
    pub registry_mirrors: Vec<String>,
    /// Print only the result
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// An extra image catalog (a team's list), merged over the built-in one; the user's own
    /// catalog.toml is merged over both
    #[arg(long, global = true, env = "WSLBOX_CATALOG", value_name = "FILE|URL")]
    pub catalog: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Download an image's manifest, config and layers into the cache
    Pull(PullArgs),
    /// Show an image's digests, platforms, layers and config
    Inspect(InspectArgs),
    /// Flatten an image, SquashFS image or rootfs tarball into one root-filesystem tar (or .wsl) for `wsl --import`
    Export(ExportArgs),
    /// Push any source as a single-layer image, WSL-ready, to a registry
    Push(PushArgs),
    /// List the images wslbox pulled, exported or imported
    Images(ImagesArgs),
    /// Forget images and remove the cached blobs nothing else needs
    Rmi(RmiArgs),
    /// Remove cached blobs no image needs, interrupted downloads and what killed processes left
    Prune(PruneArgs),
    /// Verify credentials against a registry and store them
    Login(LoginArgs),
    /// Remove stored credentials for a registry
    Logout(LogoutArgs),
    /// List the catalog: images that make good WSL distributions, and what to know about each
    Catalog(CatalogArgs),
    /// Print the shell completion script for SHELL (see the README for loading it)
    Completion(CompletionArgs),
    /// Print the version, git commit and target (with --json, and the WSL version on Windows)
    Version(VersionArgs),
    #[command(flatten)]
    Wsl(WslCommand),
}

#[derive(Debug, Args, Clone)]
pub struct ImageArgs {
    /// What to read: an image reference (`alpine`, `ghcr.io/org/img:tag@sha256:…`), a local
    /// layout (`oci:DIR[:TAG]`, `oci-archive:FILE`, `docker-archive:FILE`), a SquashFS image
    /// (`squashfs:FILE`), a rootfs tarball (`tarball:FILE`, `tarball:URL`, `tarball:-` for
    /// stdin; plain, gzip, xz, zstd or bzip2), or an image in a local engine (`podman:IMAGE`,
    /// `docker-daemon:IMAGE`). A SquashFS or tar file may also be given as a plain path.
    #[arg(value_name = "SOURCE")]
    pub image: String,
    #[command(flatten)]
    pub source: SourceArgs,
}

/// How to read a source: platform, parallelism, tarball paths and checksums, engines.
#[derive(Debug, Args, Clone)]
pub struct SourceArgs {
    /// Platform to select from a multi-platform image [default: linux/<host arch>]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Connections for downloads, in total: several layers at once, and big layers in
    /// parallel ranges
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Download non-distributable ("foreign") layers from the URLs their manifest names
    #[arg(long)]
    pub allow_foreign_layers: bool,
    /// export, import, upgrade: write nothing before every layer is read (normally the
    /// biggest layer's files go to the output while it downloads)
    #[arg(long)]
    pub no_stream: bool,
    /// Tarball/SquashFS: drop the first N path components, as `tar --strip-components` does
    #[arg(long, value_name = "N", conflicts_with = "subdir")]
    pub strip_components: Option<usize>,
    /// Tarball/SquashFS: use this directory of the archive as the root (e.g. `root.x86_64`)
    #[arg(long, value_name = "PATH")]
    pub subdir: Option<String>,
    /// Tarball: the expected sha256 (hex); verified while reading, and the download cached
    #[arg(long, value_name = "HEX", conflicts_with = "sha256_url")]
    pub sha256: Option<String>,
    /// Tarball: a SHA256SUMS-style file (URL or path; GNU or BSD lines) that lists the tarball
    #[arg(long, value_name = "URL")]
    pub sha256_url: Option<String>,
    /// Registry references: let a local engine pull the image (its credentials, mirrors and
    /// proxies), then read it from there
    #[arg(long, value_name = "ENGINE")]
    pub via: Option<ViaArg>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ViaArg {
    Podman,
    Docker,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    #[command(flatten)]
    pub image: ImageArgs,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Print one JSON object (stable keys, see README)
    #[arg(long)]
    pub json: bool,
    /// Download and read the layers to learn the OS and suitability now (by default they come
    /// from the image store, known once the image was exported or imported)
    #[arg(long)]
    pub deep: bool,
}

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only images matching this: a name (`alpine`, every tag), `NAME:TAG`, a digest prefix
    /// (`sha256:ab12…`), or a source such as `tarball:/srv/rootfs.tar.xz`
    #[arg(value_name = "FILTER")]
    pub filter: Option<String>,
    /// Print a JSON array (stable keys, see README)
    #[arg(long)]
    pub json: bool,
    /// Ask each registry whether the tag now points at another digest (one HEAD request per
    /// image; no layers are downloaded)
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Images to forget: `NAME[:TAG]` (`:latest` when no tag is given), a digest prefix, or a
    /// source as `wslbox images` shows it
    #[arg(value_name = "IMAGE", required = true)]
    pub images: Vec<String>,
    /// Forget images a WSL distribution was made from too (the distribution keeps working;
    /// only the cached copy is lost)
    #[arg(short, long)]
    pub force: bool,
    /// Print what was removed as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Forget every image too, and remove all their blobs
    #[arg(short, long)]
    pub all: bool,
    /// Only say what would be removed
    #[arg(long)]
    pub dry_run: bool,
    /// Print what was removed as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args, Clone)]
pub struct ExportArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Output file; `-` writes a tar to stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Output format [default: from the extension: .tar, .tar.gz/.tgz, .tar.xz/.txz, .wsl]
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// Export time in Unix seconds: the mtime of the files wslbox writes and the `exported_at`
    /// of /etc/wslbox-image, so that exports of the same image are the same bytes
    /// [default: now]
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH")]
    pub timestamp: Option<i64>,
    /// Write the image's filesystem exactly as its layers define it, without WSL customization
    #[arg(long, conflicts_with_all = ["user", "systemd", "hostname", "icon", "terminal_profile"])]
    pub raw: bool,
    #[command(flatten)]
    pub wsl: WslOptionArgs,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
    /// Print a fixed script (for packagers' completion files) instead of one that asks wslbox
    /// on each TAB: subcommands and options complete, distribution names do not
    #[arg(long = "static")]
    pub static_script: bool,
}

#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Print it as JSON (for bug reports)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    Tar,
    #[value(name = "tar.gz")]
    TarGz,
    #[value(name = "tar.xz")]
    TarXz,
    Wsl,
}

/// Options that make the root filesystem WSL-ready; shared by `export` and `import`.
#[derive(Debug, Args, Clone, Default)]
pub struct WslOptionArgs {
    /// Create (or reuse) this user and make it the default: NAME[:UID]
    #[arg(long, value_name = "NAME[:UID]")]
    pub user: Option<String>,
    /// Let the user run sudo without a password
    #[arg(long, requires = "user")]
    pub sudo_nopasswd: bool,
    /// Read the user's password from stdin
    #[arg(long, requires = "user")]
    pub password_stdin: bool,
    /// Enable systemd in /etc/wsl.conf
    #[arg(long)]
    pub systemd: bool,
    /// Set [network] hostname in /etc/wsl.conf
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Icon for the .wsl Start Menu shortcut (.ico, at most 1 MiB)
    #[arg(long, value_name = "FILE")]
    pub icon: Option<PathBuf>,
    /// Windows Terminal profile template for .wsl output (JSON)
    #[arg(long, value_name = "FILE")]
    pub terminal_profile: Option<PathBuf>,
    /// Export even if the image looks unusable as a WSL distribution (e.g. no /bin/sh)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Registry host[:port], e.g. ghcr.io [default: docker.io]
    pub registry: Option<String>,
    #[arg(short, long)]
    pub username: String,
    /// Read the password (or token) from stdin
    #[arg(long, required = true)]
    pub password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct CatalogArgs {
    /// Print a JSON array (stable keys, see README)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Registry host[:port] [default: docker.io]
    pub registry: Option<String>,
}
