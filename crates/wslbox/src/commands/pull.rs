//! `wslbox pull`: manifest, config and layers into the cache.

use std::sync::Arc;

use wslbox_cache::BlobStore;
use wslbox_reference::Reference;

use super::{Context, source};
use crate::cli::PullArgs;
use crate::{printer, reporters::Progress};

pub fn run(ctx: &Context, args: PullArgs) -> anyhow::Result<()> {
    let platform = source::platform(&args.image)?;
    let reference: Reference = args.image.image.parse()?;
    let store = BlobStore::open(&ctx.cache_dir)?;
    let client = source::client(ctx, Some(&args.image))?;
    let progress = Arc::new(Progress::new(ctx.quiet));
    let rt = source::runtime()?;
    let resolved = rt.block_on(client.resolve(&reference, &platform, &store))?;
    let total: u64 =
        resolved.config_size + resolved.image.layers.iter().map(|l| l.size).sum::<u64>();
    progress.downloads_started(total);
    rt.block_on(client.fetch_blobs(&resolved, &store, &*progress))?;
    progress.finish();
    printer::line(format!("Pulled {}", resolved.image.reference));
    printer::line(format!("Digest: {}", resolved.image.manifest_digest));
    printer::line(format!("Platform: {}", resolved.image.platform));
    Ok(())
}
