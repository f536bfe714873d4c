//! Registry images through the shared cache. Downloads run on a background runtime while the
//! flattener already reads the layers that have arrived: [`ArrivingBlobs`] hands out layer `i`
//! as soon as its blob is committed, so download, digest, decompression and spooling overlap.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use wslbox_cache::BlobStore;
use wslbox_image::{BlobOpener, LayerDescriptor, ResolvedImage};
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_registry::{CachedBlobs, Client, ClientOptions, Resolved};
use wslbox_rootfs::FlattenOptions;

use crate::{Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind};

/// A registry client for `opts` (`--jobs`, foreign layers, insecure registries).
pub fn client(opts: &OpenOptions) -> Result<Client, SourceError> {
    Ok(Client::new(client_options(opts))?)
}

/// The registry client options `opts` stand for.
pub fn client_options(opts: &OpenOptions) -> ClientOptions {
    ClientOptions {
        insecure_registries: opts.insecure_registries.clone(),
        jobs: opts.jobs.max(1),
        allow_foreign_layers: opts.allow_foreign_layers,
        ..ClientOptions::default()
    }
}

/// A runtime for the registry client's async calls.
pub fn runtime() -> Result<tokio::runtime::Runtime, SourceError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|source| SourceError::Io {
            what: "starting the async runtime".into(),
            source,
        })
}

impl SourceInfo {
    /// Info for a resolved image, from any image source.
    pub fn from_image(kind: SourceKind, image: &ResolvedImage) -> SourceInfo {
        SourceInfo {
            manifest_digest: Some(image.manifest_digest.clone()),
            index_digest: image.index_digest.clone(),
            config_digest: Some(image.config_digest.clone()),
            platform: Some(image.platform.clone()),
            platforms: image.platforms.clone(),
            config: image.config.clone(),
            layers: image.layers.clone(),
            ..SourceInfo::new(kind, image.reference.clone())
        }
    }
}

/// A single-platform image (no index) can't be chosen by platform; like Docker, refuse it when
/// `--platform` asked for another one, and warn when the host default doesn't fit.
pub(crate) fn check_platform(
    opts: &OpenOptions,
    image: &ResolvedImage,
    reporter: &dyn Reporter,
) -> Result<(), SourceError> {
    check_image_platform(opts, &image.reference, &image.platform, reporter)
}

/// [`check_platform`] for any image source that has one platform.
pub(crate) fn check_image_platform(
    opts: &OpenOptions,
    reference: &str,
    platform: &Platform,
    reporter: &dyn Reporter,
) -> Result<(), SourceError> {
    let wanted = opts.wanted_platform();
    if wanted.matches(platform) {
        return Ok(());
    }
    if opts.platform.is_some() {
        return Err(SourceError::PlatformMismatch {
            reference: reference.to_owned(),
            available: platform.to_string(),
            wanted: wanted.to_string(),
        });
    }
    reporter.warn(&format!(
        "{reference} is built for {platform}, not for this machine ({wanted}); it may not run here"
    ));
    Ok(())
}

/// Resolves `reference` (manifest, index, config) without downloading any layer.
pub(crate) fn describe(
    reference: &Reference,
    opts: &OpenOptions,
    reporter: &dyn Reporter,
) -> Result<SourceInfo, SourceError> {
    let store = BlobStore::open(&opts.cache_dir)?;
    let client = client(opts)?;
    let resolved =
        runtime()?.block_on(client.resolve(reference, &opts.wanted_platform(), &store))?;
    check_platform(opts, &resolved.image, reporter)?;
    Ok(SourceInfo::from_image(
        SourceKind::Registry,
        &resolved.image,
    ))
}

/// Resolves `reference` and starts downloading its blobs into the cache.
pub(crate) fn open(
    reference: &Reference,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    let store = BlobStore::open(&opts.cache_dir)?;
    let client = client(opts)?;
    let rt = runtime()?;
    let resolved = rt.block_on(client.resolve(reference, &opts.wanted_platform(), &store))?;
    check_platform(opts, &resolved.image, reporter.as_ref())?;
    let info = SourceInfo::from_image(SourceKind::Registry, &resolved.image);

    let arrivals = Arc::new(Arrivals::default());
    let image = &resolved.image;
    let total: u64 = resolved.config_size + image.layers.iter().map(|l| l.size).sum::<u64>();
    reporter.downloads_started(total);
    let cached = CachedBlobs::new(store.clone());
    let downloads = {
        let forward = DownloadReporter {
            reporter: Arc::clone(reporter),
            arrivals: Arc::clone(&arrivals),
            cached: cached.clone(),
        };
        let store = store.clone();
        std::thread::spawn(move || fetch(rt, client, resolved, store, forward))
    };
    Ok(Box::new(RegistrySource {
        info,
        store,
        opener: ArrivingBlobs { arrivals, cached },
        downloads,
    }))
}

struct RegistrySource {
    info: SourceInfo,
    store: BlobStore,
    opener: ArrivingBlobs,
    downloads: JoinHandle<Result<(), SourceError>>,
}

impl Source for RegistrySource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    /// Flattens while downloads go on. A download error, being the root cause, wins over the
    /// read error it provoked; a read error from the cache leads to a re-check that drops
    /// corrupt entries, so the next run downloads them again.
    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        let layers = &self.info.layers;
        reporter.flatten_started(layers.len());
        let rootfs_reporter: &dyn wslbox_rootfs::Reporter = reporter.as_ref();
        let result = wslbox_rootfs::flatten(layers, &self.opener, opts, rootfs_reporter);
        self.downloads
            .join()
            .map_err(|_| SourceError::DownloadThread)??;
        let tree = result.map_err(|err| {
            let dropped = drop_corrupt(&self.store, layers);
            if dropped.is_empty() {
                SourceError::Flatten(err)
            } else {
                SourceError::CorruptCache {
                    layers: dropped.join(", "),
                    source: err,
                }
            }
        })?;
        Ok(Flattened {
            tree,
            info: self.info,
        })
    }
}

/// Re-hashes the cached layers, removing (and naming) the ones that no longer match their
/// digest. A cache that cannot even be read drops nothing: the flatten error then stands.
fn drop_corrupt(store: &BlobStore, layers: &[LayerDescriptor]) -> Vec<String> {
    layers
        .iter()
        .filter(|l| {
            matches!(store.get(&l.digest, Some(l.size)), Ok(Some(_)))
                && matches!(store.verify(&l.digest, Some(l.size)), Ok(None))
        })
        .map(|l| l.digest.to_string())
        .collect()
}

fn fetch(
    rt: tokio::runtime::Runtime,
    client: Client,
    resolved: Resolved,
    store: BlobStore,
    forward: DownloadReporter,
) -> Result<(), SourceError> {
    let result = rt.block_on(client.fetch_blobs(&resolved, &store, &forward));
    forward.reporter.downloads_finished();
    result.map_err(|source| {
        forward.arrivals.fail(source.to_string());
        SourceError::Pull {
            reference: resolved.reference.to_string(),
            source: Box::new(source),
        }
    })
}

/// Which blobs are committed to the cache, or why downloading stopped.
#[derive(Default)]
struct Arrivals {
    state: Mutex<ArrivalState>,
    changed: Condvar,
}

#[derive(Default)]
struct ArrivalState {
    done: HashSet<Digest>,
    failed: Option<String>,
}

impl Arrivals {
    fn arrive(&self, digest: &Digest) {
        self.state.lock().unwrap().done.insert(digest.clone());
        self.changed.notify_all();
    }

    fn fail(&self, reason: String) {
        self.state.lock().unwrap().failed = Some(reason);
        self.changed.notify_all();
    }

    fn wait_for(&self, digest: &Digest) -> io::Result<()> {
        let mut state = self.state.lock().unwrap();
        loop {
            if state.done.contains(digest) {
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

/// Forwards download progress and tells the flattener which layers have arrived.
struct DownloadReporter {
    reporter: Arc<dyn Reporter>,
    arrivals: Arc<Arrivals>,
    cached: CachedBlobs,
}

impl wslbox_registry::Reporter for DownloadReporter {
    fn on_blob_start(&self, digest: &Digest, total: u64) {
        self.reporter.on_blob_start(digest, total);
    }
    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        self.reporter.on_blob_progress(digest, bytes);
    }
    fn on_blob_reset(&self, digest: &Digest) {
        self.reporter.on_blob_reset(digest);
    }
    fn on_blob_done(&self, digest: &Digest, cached: bool) {
        self.reporter.on_blob_done(digest, cached);
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

    /// After the flatten every layer is committed: read again from the cache.
    fn reopen(&self) -> Option<Arc<dyn BlobOpener>> {
        self.cached.reopen()
    }
}

/// `wslbox pull`: resolves `reference` and downloads its config and layers into the cache.
pub fn pull(
    reference: &Reference,
    opts: &OpenOptions,
    reporter: &dyn Reporter,
) -> Result<ResolvedImage, SourceError> {
    let store = BlobStore::open(&opts.cache_dir)?;
    let client = client(opts)?;
    let rt = runtime()?;
    let resolved = rt.block_on(client.resolve(reference, &opts.wanted_platform(), &store))?;
    check_platform(opts, &resolved.image, reporter)?;
    let image = &resolved.image;
    reporter
        .downloads_started(resolved.config_size + image.layers.iter().map(|l| l.size).sum::<u64>());
    let result = rt.block_on(client.fetch_blobs(&resolved, &store, reporter));
    reporter.downloads_finished();
    result?;
    Ok(resolved.image)
}
