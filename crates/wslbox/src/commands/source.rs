//! Where an image comes from: a local layout (`oci:`, `oci-archive:`, `docker-archive:`) or a
//! registry through the cache.
//!
//! For registries, downloads run on a background runtime while the flattener already reads
//! the layers that have arrived: [`ArrivingBlobs`] hands out layer `i` as soon as its blob is
//! committed to the cache, so download, digest, decompression and spooling overlap.

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use anyhow::Context as _;
use wslbox_cache::BlobStore;
use wslbox_image::{BlobOpener, LayerDescriptor, ResolvedImage};
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_registry::{CachedBlobs, Client, ClientOptions, Resolved};

use super::Context;
use crate::cli::ImageArgs;
use crate::reporters::Progress;

/// A resolved image and a way to read its layers.
pub struct Source {
    pub image: ResolvedImage,
    pub opener: Box<dyn BlobOpener>,
    /// For registry images: the cache the layers land in, and the downloads filling it.
    registry: Option<(BlobStore, JoinHandle<anyhow::Result<()>>)>,
}

impl Source {
    /// Runs `read` over the layers while downloads go on. A download error, being the root
    /// cause, wins over the read error it provoked; a read error from the cache leads to a
    /// re-check that drops corrupt entries, so the next run downloads them again.
    pub fn read_layers<T>(
        self,
        read: impl FnOnce(&dyn BlobOpener) -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let result = read(self.opener.as_ref());
        let Some((store, downloads)) = self.registry else {
            return result;
        };
        downloads
            .join()
            .map_err(|_| anyhow::anyhow!("the download thread panicked"))??;
        result.map_err(|err| match drop_corrupt(&store, &self.image.layers) {
            Ok(dropped) if !dropped.is_empty() => err.context(format!(
                "the cached copy of layer {} was corrupt and has been removed from the cache; \
                 run the command again to download it",
                dropped.join(", ")
            )),
            _ => err,
        })
    }
}

/// Re-hashes the cached layers, removing the ones that no longer match their digest.
fn drop_corrupt(store: &BlobStore, layers: &[LayerDescriptor]) -> anyhow::Result<Vec<String>> {
    let mut dropped = Vec::new();
    for layer in layers {
        if store.get(&layer.digest, Some(layer.size))?.is_some()
            && store.verify(&layer.digest, Some(layer.size))?.is_none()
        {
            dropped.push(layer.digest.to_string());
        }
    }
    Ok(dropped)
}

pub fn platform(args: &ImageArgs) -> anyhow::Result<Platform> {
    match &args.platform {
        Some(p) => Ok(p.parse()?),
        None => Ok(Platform::host_default()),
    }
}

/// A registry client; `image` carries the per-pull options (`--jobs`, foreign layers).
pub fn client(ctx: &Context, image: Option<&ImageArgs>) -> anyhow::Result<Client> {
    let options = ClientOptions {
        insecure_registries: ctx.insecure_registries.clone(),
        jobs: image.map_or(1, |i| usize::from(i.jobs)),
        allow_foreign_layers: image.is_some_and(|i| i.allow_foreign_layers),
        ..ClientOptions::default()
    };
    Ok(Client::new(options)?)
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Resolves the image and starts making its layers readable.
pub fn open(ctx: &Context, args: &ImageArgs, progress: &Arc<Progress>) -> anyhow::Result<Source> {
    let platform = platform(args)?;
    if let Some((image, opener)) = wslbox_image::open_local(&args.image, &platform)? {
        return Ok(Source {
            image,
            opener,
            registry: None,
        });
    }
    let reference: Reference = args.image.parse()?;
    let store = BlobStore::open(&ctx.cache_dir)?;
    let client = client(ctx, Some(args))?;
    let rt = runtime()?;
    let resolved = rt.block_on(client.resolve(&reference, &platform, &store))?;
    let image = resolved.image.clone();
    check_platform(args, &platform, &image, progress)?;

    let arrivals = Arc::new(Arrivals::default());
    let total: u64 = resolved.config_size + image.layers.iter().map(|l| l.size).sum::<u64>();
    progress.downloads_started(total);
    let cached = CachedBlobs::new(store.clone());
    let reporter = DownloadReporter {
        progress: Arc::clone(progress),
        arrivals: Arc::clone(&arrivals),
        cached: cached.clone(),
    };
    let downloads = {
        let store = store.clone();
        std::thread::spawn(move || fetch(rt, client, resolved, store, reporter))
    };
    let opener = ArrivingBlobs { arrivals, cached };
    Ok(Source {
        image,
        opener: Box::new(opener),
        registry: Some((store, downloads)),
    })
}

/// A single-platform image (no index) can't be chosen by platform; like Docker, refuse it when
/// `--platform` asked for another one, and warn when the host default doesn't fit.
fn check_platform(
    args: &ImageArgs,
    wanted: &Platform,
    image: &ResolvedImage,
    progress: &Progress,
) -> anyhow::Result<()> {
    if wanted.matches(&image.platform) {
        return Ok(());
    }
    if args.platform.is_some() {
        anyhow::bail!(
            "{} is only available for {}, not for the requested platform {wanted}; drop --platform or pick another image",
            image.reference,
            image.platform
        );
    }
    progress.println(&format!(
        "warning: {} is built for {}, not for this machine ({wanted}); it may not run here",
        image.reference, image.platform
    ));
    Ok(())
}

fn fetch(
    rt: tokio::runtime::Runtime,
    client: Client,
    resolved: Resolved,
    store: BlobStore,
    reporter: DownloadReporter,
) -> anyhow::Result<()> {
    let result = rt.block_on(client.fetch_blobs(&resolved, &store, &reporter));
    reporter.progress.downloads_finished();
    match result {
        Ok(()) => Ok(()),
        Err(err) => {
            reporter.arrivals.fail(err.to_string());
            Err(err).with_context(|| format!("pulling {}", resolved.reference))
        }
    }
}

/// Which blobs are committed to the cache, or why downloading stopped.
#[derive(Default)]
struct Arrivals {
    state: Mutex<ArrivalState>,
    changed: Condvar,
}

#[derive(Default)]
struct ArrivalState {
    done: HashMap<Digest, ()>,
    failed: Option<String>,
}

impl Arrivals {
    fn arrive(&self, digest: &Digest) {
        self.state.lock().unwrap().done.insert(digest.clone(), ());
        self.changed.notify_all();
    }

    fn fail(&self, reason: String) {
        self.state.lock().unwrap().failed = Some(reason);
        self.changed.notify_all();
    }

    fn wait_for(&self, digest: &Digest) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        loop {
            if state.done.contains_key(digest) {
                return Ok(());
            }
            if let Some(reason) = &state.failed {
                return Err(io::Error::other(format!(
                    "layer {digest} was not downloaded: {reason}"
                )));
            }
            state = self.changed.wait(state).unwrap();
        }
    }
}

struct DownloadReporter {
    progress: Arc<Progress>,
    arrivals: Arc<Arrivals>,
    cached: CachedBlobs,
}

/// Draws download progress and tells the flattener which layers have arrived.
impl wslbox_registry::Reporter for DownloadReporter {
    fn on_blob_start(&self, digest: &Digest, total: u64) {
        self.progress.on_blob_start(digest, total);
    }
    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        self.progress.on_blob_progress(digest, bytes);
    }
    fn on_blob_reset(&self, digest: &Digest) {
        self.progress.on_blob_reset(digest);
    }
    fn on_blob_done(&self, digest: &Digest, cached: bool) {
        self.progress.on_blob_done(digest, cached);
        if !cached {
            // Verified on its way into the cache: reading it back needs no second hash.
            self.cached.trust(digest.clone());
        }
        self.arrivals.arrive(digest);
    }
}

/// Opens each layer from the cache as soon as its download is committed.
struct ArrivingBlobs {
    arrivals: Arc<Arrivals>,
    cached: CachedBlobs,
}

impl BlobOpener for ArrivingBlobs {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        self.arrivals.wait_for(&layer.digest)?;
        self.cached.open(layer)
    }
}
