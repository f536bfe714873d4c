//! `wslbox push` (and the Windows-only `commit`, in `wsl.rs`): what to push and how.

use std::collections::BTreeMap;

use clap::Args;

use super::{ImageArgs, WslOptionArgs};

#[derive(Debug, Args, Clone)]
pub struct PushArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Where to push: a registry reference (`ghcr.io/team/dev:2026-12`)
    #[arg(value_name = "REF")]
    pub target: String,
    #[command(flatten)]
    pub push: PushOptionArgs,
    /// Push the filesystem exactly as the source defines it, without WSL customization
    #[arg(long, conflicts_with_all = ["user", "systemd", "hostname", "icon", "terminal_profile"])]
    pub raw: bool,
    #[command(flatten)]
    pub wsl: WslOptionArgs,
}

/// `wslbox commit NAME REF` (Windows): a distribution, as `wsl --export NAME -` streams it.
#[derive(Debug, Args, Clone)]
pub struct CommitArgs {
    /// The WSL distribution to push
    pub name: String,
    /// Where to push: a registry reference (`ghcr.io/team/dev:2026-12`)
    #[arg(value_name = "REF")]
    pub target: String,
    #[command(flatten)]
    pub push: PushOptionArgs,
    /// Push the files exactly as exported: its DefaultUid does not become the image's default
    /// user and /etc/wsl.conf is left as it is
    #[arg(long)]
    pub raw: bool,
}

/// What `push` and `commit` share.
#[derive(Debug, Args, Clone)]
pub struct PushOptionArgs {
    /// Layer compression
    #[arg(long, value_enum, default_value = "gzip")]
    pub compression: CompressionArg,
    /// Add or override a label in the image config (repeatable)
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Build and upload the layer even when an earlier push of the same source made it
    #[arg(long)]
    pub no_cache: bool,
    /// Build time in Unix seconds: the image's `created` and the mtime of the files wslbox
    /// writes, so that the same source gives the same digest [default: now]
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH")]
    pub timestamp: Option<i64>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

impl PushOptionArgs {
    pub fn label_map(&self) -> BTreeMap<String, String> {
        self.labels.iter().cloned().collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressionArg {
    Gzip,
    Zstd,
}

fn parse_label(input: &str) -> Result<(String, String), String> {
    match input.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!(
            "`{input}` is not KEY=VALUE, e.g. --label org.opencontainers.image.version=1.2"
        )),
    }
}
