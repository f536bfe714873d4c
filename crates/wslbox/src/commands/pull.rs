//! `wslbox pull`: manifest, config and layers into the cache.

use std::sync::Arc;

use anyhow::bail;
use wslbox_source::SourceSpec;

use super::{Context, source};
use crate::cli::PullArgs;
use crate::{printer, reporters::Progress};

pub fn run(ctx: &Context, args: PullArgs) -> anyhow::Result<()> {
    let (spec, opts) = source::parse(ctx, &args.image)?;
    let SourceSpec::Registry(reference) = spec else {
        bail!(
            "`wslbox pull` downloads registry images; {spec} is read where it is, so export or inspect it directly"
        );
    };
    let progress = Arc::new(Progress::new(ctx.quiet));
    let image = wslbox_pipeline::pull(&reference, &opts, &args.image.image, progress.as_ref())?;
    progress.finish();
    printer::line(format!("Pulled {}", image.reference));
    printer::line(format!("Digest: {}", image.manifest_digest));
    printer::line(format!("Platform: {}", image.platform));
    Ok(())
}
