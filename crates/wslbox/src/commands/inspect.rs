//! `wslbox inspect`: arguments → `wslbox_pipeline::inspect` → text or the documented JSON.

use std::sync::Arc;

use super::{Context, source};
use crate::cli::InspectArgs;
use crate::{printer, reporters::Progress};

pub fn run(ctx: &Context, args: InspectArgs) -> anyhow::Result<()> {
    let (spec, opts) = source::parse(ctx, &args.image)?;
    let progress: Arc<dyn wslbox_pipeline::Reporter> =
        Arc::new(Progress::new(ctx.quiet || args.json));
    let inspection =
        wslbox_pipeline::inspect(&spec, &opts, args.deep, &args.image.image, &progress)?;
    if args.json {
        printer::json(&inspection)
    } else {
        print_text(&inspection)
    }
}

fn print_text(i: &wslbox_pipeline::Inspection) -> anyhow::Result<()> {
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(" ")
        }
    };
    let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    printer::line(format!("Reference:   {}", i.reference));
    if let Some(digest) = &i.manifest_digest {
        printer::line(format!("Digest:      {digest}"));
    }
    if let Some(sha256) = &i.source.sha256 {
        printer::line(format!("sha256:      {sha256}"));
    }
    if let Some(index) = &i.index_digest {
        printer::line(format!("Index:       {index}"));
    }
    printer::line(format!(
        "Platform:    {}",
        or_dash(i.platform.as_ref().map(ToString::to_string))
    ));
    let platforms: Vec<String> = i.platforms.iter().map(ToString::to_string).collect();
    printer::line(format!("Platforms:   {}", platforms.join(", ")));
    if let Some(os) = &i.os {
        printer::line(format!("OS:          {}", os.pretty_name));
    }
    printer::line(format!("Config:      {}", or_dash(i.config_digest.clone())));
    printer::line(format!("  User:       {}", or_dash(i.config.user.clone())));
    printer::line(format!(
        "  WorkingDir: {}",
        or_dash(i.config.working_dir.clone())
    ));
    printer::line(format!("  Entrypoint: {}", list(&i.config.entrypoint)));
    printer::line(format!("  Cmd:        {}", list(&i.config.cmd)));
    printer::line("  Env:");
    for e in &i.config.env {
        printer::line(format!("    {e}"));
    }
    if !i.config.labels.is_empty() {
        printer::line("  Labels:");
        for (k, v) in &i.config.labels {
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
    match &i.warnings {
        Some(warnings) => warnings.iter().for_each(|w| printer::warn(&w.message)),
        None => printer::note(
            "OS and suitability unknown until the image is exported or imported; `inspect --deep` reads its layers now",
        ),
    }
    Ok(())
}
