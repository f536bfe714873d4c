//! One file per verb. Each turns parsed arguments into library calls and hands results to the
//! printer.

use std::path::PathBuf;

use crate::cli::{Cli, Command, GlobalArgs};

mod catalog;
pub mod completion;
mod export;
mod images;
mod inspect;
mod login;
mod prune;
mod pull;
mod push;
mod source;
mod version;
pub mod wsl;

/// What every command needs from the global options.
pub struct Context {
    pub cache_dir: PathBuf,
    pub insecure_registries: Vec<String>,
    /// `--registry-mirror` / `WSLBOX_REGISTRY_MIRRORS`, as given.
    registry_mirrors: Vec<String>,
    pub quiet: bool,
    /// `--catalog FILE|URL`; read only by the commands that use the catalog.
    pub catalog: Option<String>,
}

impl Context {
    /// Source options from the global flags and the registry configuration (mirrors, blocked
    /// and insecure registries: [`crate::config::registries`], read only by commands that
    /// reach a registry); commands add their own.
    pub fn open_options(&self) -> anyhow::Result<wslbox_source::OpenOptions> {
        let registries = crate::config::registries(&self.registry_mirrors)?;
        let mut opts = wslbox_source::OpenOptions::new(self.cache_dir.clone());
        opts.insecure_registries = self.insecure_registries.clone();
        opts.insecure_registries.extend(registries.insecure);
        opts.registry_mirrors = registries.mirrors;
        opts.blocked_registries = registries.blocked;
        opts.read_timeout = crate::config::read_timeout()?;
        Ok(opts)
    }

    fn new(global: GlobalArgs) -> anyhow::Result<Self> {
        let cache_dir = match global.cache_dir {
            Some(dir) => dir,
            None => wslbox_dirs::cache().map_err(|e| {
                anyhow::anyhow!("{e}; pass --cache-dir DIR or set WSLBOX_CACHE_DIR")
            })?,
        };
        let insecure_registries = global
            .insecure_registries
            .into_iter()
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .collect();
        Ok(Context {
            cache_dir,
            insecure_registries,
            registry_mirrors: global.registry_mirrors,
            quiet: global.quiet,
            catalog: global.catalog.filter(|c| !c.trim().is_empty()),
        })
    }
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    // These need no cache.
    match cli.command {
        Command::Completion(args) => return completion::completion(args),
        Command::Version(args) => return version::version(args),
        _ => {}
    }
    let ctx = Context::new(cli.global)?;
    match cli.command {
        Command::Pull(args) => pull::run(&ctx, args),
        Command::Inspect(args) => inspect::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Push(args) => push::run(&ctx, args),
        Command::Images(args) => images::run(&ctx, args),
        Command::Rmi(args) => prune::rmi(&ctx, args),
        Command::Prune(args) => prune::prune(&ctx, args),
        Command::Login(args) => login::login(&ctx, args),
        Command::Logout(args) => login::logout(&ctx, args),
        Command::Catalog(args) => catalog::run(&ctx, args),
        Command::Completion(_) | Command::Version(_) => unreachable!("handled above"),
        Command::Wsl(cmd) => wsl::run(cmd, &ctx),
    }
}
