//! `wslbox push`: arguments → `wslbox_pipeline::push` → the pushed digest, as text or JSON.
//! `wslbox commit` (Windows) pushes a distribution through the same function.

use std::sync::Arc;

use anyhow::Context as _;
use wslbox_pipeline::{LayerTransfer, PushRequest, PushSummary};
use wslbox_reference::Reference;
use wslbox_rootfs::LayerCompression;
use wslbox_rootfs::customize::WslOptions;
use wslbox_source::{OpenOptions, SourceSpec};

use super::{Context, catalog, export, source};
use crate::cli::{CompressionArg, PushArgs, PushOptionArgs};
use crate::{printer, reporters::Progress};

/// Bytes per upload `PATCH` unless `WSLBOX_PUSH_CHUNK_SIZE` says otherwise (MiB).
const DEFAULT_CHUNK_MIB: usize = 16;

pub fn run(ctx: &Context, args: PushArgs) -> anyhow::Result<()> {
    let (spec, opts) = source::parse(ctx, &args.image)?;
    let wsl = export::wsl_options(&args.wsl, false, false, None)?;
    let summary = push(
        ctx,
        &spec,
        &opts,
        &args.image.image,
        &args.target,
        &args.push,
        args.raw,
        wsl,
    )?;
    report(ctx, &args.push, &summary)
}

/// Pushes `spec` to `target` (for `push` and `commit`).
#[allow(clippy::too_many_arguments)]
pub fn push(
    ctx: &Context,
    spec: &SourceSpec,
    opts: &OpenOptions,
    typed: &str,
    target: &str,
    args: &PushOptionArgs,
    raw: bool,
    wsl: WslOptions,
) -> anyhow::Result<PushSummary> {
    let target: Reference = target
        .parse()
        .with_context(|| format!("`{target}` is not an image reference to push to"))?;
    let request = PushRequest {
        target,
        compression: match args.compression {
            CompressionArg::Gzip => LayerCompression::Gzip,
            CompressionArg::Zstd => LayerCompression::Zstd,
        },
        raw,
        wsl,
        labels: args.label_map(),
        typed: typed.to_owned(),
        catalog: Some(catalog::load(ctx)?),
        stream: true,
        chunk_size: chunk_size()?,
        reuse: !args.no_cache,
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        timestamp: args.timestamp,
    };
    let progress: Arc<dyn wslbox_pipeline::Reporter> = Arc::new(Progress::new(ctx.quiet));
    Ok(wslbox_pipeline::push(spec, opts, request, &progress)?)
}

fn chunk_size() -> anyhow::Result<usize> {
    match std::env::var("WSLBOX_PUSH_CHUNK_SIZE") {
        Ok(v) if !v.trim().is_empty() => {
            let mib: usize = v.trim().parse().with_context(|| {
                format!("WSLBOX_PUSH_CHUNK_SIZE=`{v}` is not a whole number of MiB")
            })?;
            Ok(mib.max(1) << 20)
        }
        _ => Ok(DEFAULT_CHUNK_MIB << 20),
    }
}

pub fn report(ctx: &Context, args: &PushOptionArgs, s: &PushSummary) -> anyhow::Result<()> {
    if args.json {
        return printer::json(s);
    }
    if ctx.quiet {
        printer::line(format!("{}@{}", s.reference, s.digest));
        return Ok(());
    }
    let os = s
        .source
        .os
        .as_ref()
        .map_or("unknown OS", |os| os.pretty_name.as_str());
    printer::line(format!("Pushed {} ({}, {os})", s.reference, s.platform));
    let layer = &s.layer;
    let how = match layer.transfer {
        LayerTransfer::Uploaded => format!("uploaded {}", printer::bytes(s.uploaded_bytes)),
        LayerTransfer::Existed => "already in the repository".to_owned(),
        LayerTransfer::Mounted => format!(
            "mounted from {}",
            layer
                .mounted_from
                .as_deref()
                .unwrap_or("another repository")
        ),
    };
    printer::line(format!(
        "Layer: {} ({}, {} tar): {how}",
        layer.digest,
        printer::bytes(layer.size),
        printer::bytes(layer.tar_bytes)
    ));
    if let Some(user) = &s.source.default_user {
        printer::line(format!("Default user: {}", user.name));
    }
    printer::line(format!("Digest: {}", s.digest));
    Ok(())
}
