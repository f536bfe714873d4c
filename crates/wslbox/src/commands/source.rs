//! `SOURCE` and its options, parsed into what `wslbox-source` opens.

use anyhow::Context as _;
use wslbox_reference::Digest;
use wslbox_rootfs::PathMap;
use wslbox_source::{Checksum, Engine, OpenOptions, SourceSpec};

use super::Context;
use crate::cli::{ImageArgs, SourceArgs, ViaArg};

/// The source as typed and the options to open it with.
pub fn parse(ctx: &Context, args: &ImageArgs) -> anyhow::Result<(SourceSpec, OpenOptions)> {
    parse_source(ctx, &args.image, &args.source)
}

/// `image` as typed, read the way `args` say.
pub fn parse_source(
    ctx: &Context,
    image: &str,
    args: &SourceArgs,
) -> anyhow::Result<(SourceSpec, OpenOptions)> {
    let spec = SourceSpec::parse(image)?;
    let mut opts = ctx.open_options()?;
    opts.platform = args.platform.as_deref().map(str::parse).transpose()?;
    opts.jobs = usize::from(args.jobs);
    opts.allow_foreign_layers = args.allow_foreign_layers;
    opts.paths = match (&args.strip_components, &args.subdir) {
        (Some(n), _) => PathMap::strip_components(*n),
        (None, Some(dir)) => PathMap::subdir(dir).map_err(anyhow::Error::msg)?,
        (None, None) => PathMap::default(),
    };
    opts.checksum = match (&args.sha256, &args.sha256_url) {
        (Some(hex), _) => Some(Checksum::Sha256(sha256_arg(hex)?)),
        (None, Some(url)) => Some(Checksum::Sha256Url(url.clone())),
        (None, None) => None,
    };
    opts.via = args.via.map(|v| match v {
        ViaArg::Podman => Engine::Podman,
        ViaArg::Docker => Engine::Docker,
    });
    Ok((spec, opts))
}

/// `--sha256 HEX` (a `sha256:` prefix is accepted too).
fn sha256_arg(input: &str) -> anyhow::Result<Digest> {
    let hex = input.trim();
    let hex = hex
        .strip_prefix("sha256:")
        .unwrap_or(hex)
        .to_ascii_lowercase();
    format!("sha256:{hex}").parse::<Digest>().with_context(|| {
        format!(
            "--sha256 `{input}` is not a sha256 checksum; give the 64 hex digits `sha256sum` prints"
        )
    })
}
