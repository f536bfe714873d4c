//! `wslbox inspect`: what an image is — digests, platforms, layers, config — and, from its
//! flattened filesystem, which OS it is and how well it will work as a WSL distribution.

use std::collections::BTreeMap;

use anyhow::Context as _;
use wslbox_image::{LayerDescriptor, ResolvedImage};
use wslbox_reference::Platform;
use wslbox_rootfs::FlattenOptions;
use wslbox_rootfs::customize::{Warning, suitability};
use wslbox_rootfs::osrelease::{OsRelease, detect_os};

use super::{Context, source};
use crate::cli::InspectArgs;
use crate::{printer, reporters::Progress};

/// The documented `inspect --json` object (see README). Keys are stable; absent values are null.
#[derive(Debug, serde::Serialize)]
struct Inspection<'a> {
    reference: &'a str,
    manifest_digest: String,
    index_digest: Option<String>,
    platform: &'a Platform,
    platforms: &'a [Platform],
    config_digest: String,
    layers: Vec<Layer<'a>>,
    config: Config<'a>,
    os: Option<OsRelease>,
    warnings: Vec<Warning>,
}

#[derive(Debug, serde::Serialize)]
struct Layer<'a> {
    digest: String,
    size: u64,
    media_type: &'a str,
}

#[derive(Debug, serde::Serialize)]
struct Config<'a> {
    env: &'a [String],
    user: Option<&'a str>,
    working_dir: Option<&'a str>,
    entrypoint: &'a [String],
    cmd: &'a [String],
    labels: &'a BTreeMap<String, String>,
}

pub fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<()> {
    let progress = std::sync::Arc::new(Progress::new(ctx.quiet || args.json));
    let source = source::open(ctx, &args.image, &progress)?;
    let image = source.image.clone();
    progress.flatten_started(image.layers.len());
    let spool_dir = ctx.cache_dir.join("spool");
    fs_err::create_dir_all(&spool_dir)?;
    let opts = FlattenOptions::new(spool_dir);
    let tree = source.read_layers(|opener| {
        wslbox_rootfs::flatten(&image.layers, opener, &opts, &*progress)
            .with_context(|| format!("reading the filesystem of {}", image.reference))
    })?;
    progress.finish();
    let os = detect_os(&tree);
    let warnings = suitability(&tree, &image.config);
    let inspection = inspection(&image, os, warnings);
    if args.json {
        printer::json(&inspection)
    } else {
        print_text(&inspection)
    }
}

fn inspection(
    image: &ResolvedImage,
    os: Option<OsRelease>,
    warnings: Vec<Warning>,
) -> Inspection<'_> {
    let c = &image.config;
    Inspection {
        reference: &image.reference,
        manifest_digest: image.manifest_digest.to_string(),
        index_digest: image.index_digest.as_ref().map(ToString::to_string),
        platform: &image.platform,
        platforms: &image.platforms,
        config_digest: image.config_digest.to_string(),
        layers: image.layers.iter().map(layer).collect(),
        config: Config {
            env: &c.env,
            user: c.user.as_deref(),
            working_dir: c.working_dir.as_deref(),
            entrypoint: &c.entrypoint,
            cmd: &c.cmd,
            labels: &c.labels,
        },
        os,
        warnings,
    }
}

fn layer(l: &LayerDescriptor) -> Layer<'_> {
    Layer {
        digest: l.digest.to_string(),
        size: l.size,
        media_type: &l.media_type,
    }
}

fn print_text(i: &Inspection<'_>) -> anyhow::Result<()> {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    printer::line(format!("Reference:   {}", i.reference));
    printer::line(format!("Digest:      {}", i.manifest_digest));
    if let Some(index) = &i.index_digest {
        printer::line(format!("Index:       {index}"));
    }
    printer::line(format!("Platform:    {}", i.platform));
    let platforms: Vec<String> = i.platforms.iter().map(ToString::to_string).collect();
    printer::line(format!("Platforms:   {}", platforms.join(", ")));
    if let Some(os) = &i.os {
        printer::line(format!("OS:          {}", os.pretty_name));
    }
    printer::line(format!("Config:      {}", i.config_digest));
    printer::line(format!("  User:       {}", i.config.user.unwrap_or("-")));
    printer::line(format!(
        "  WorkingDir: {}",
        i.config.working_dir.unwrap_or("-")
    ));
    printer::line(format!("  Entrypoint: {}", list(i.config.entrypoint)));
    printer::line(format!("  Cmd:        {}", list(i.config.cmd)));
    printer::line("  Env:");
    for e in i.config.env {
        printer::line(format!("    {e}"));
    }
    if !i.config.labels.is_empty() {
        printer::line("  Labels:");
        for (k, v) in i.config.labels {
            printer::line(format!("    {k}={v}"));
        }
    }
    let total: u64 = i.layers.iter().map(|l| l.size).sum();
    printer::line(format!(
        "Layers:      {} ({})",
        i.layers.len(),
        printer::bytes(total)
    ));
    for l in &i.layers {
        printer::line(format!(
            "  {}  {:>10}  {}",
            l.digest,
            printer::bytes(l.size),
            l.media_type
        ));
    }
    for w in &i.warnings {
        printer::warn(&w.message);
    }
    Ok(())
}
