//! Registry images through the shared cache. Downloads run on a background runtime while the
//! flattener reads each layer as its bytes arrive, so download, digest, decompression and
//! spooling overlap.
//!
//! Which bytes wait where: [`ArrivingBlobs`] hands out a layer that is already committed as a
//! file of the cache; a layer that this process is downloading right now as a
//! [`Follower`](wslbox_cache::Follower) over its partial file, which yields the in-order prefix
//! the cache writer has written and hashed, and waits for more. Its EOF comes only after the
//! writer's commit verified size and digest; a mismatch is a read error, so the flatten fails.
//! Unverified bytes thus reach the flattener's tree (spool files, entries) but never the
//! output: the output is written only after [`Source::flatten`] returns, and it returns only
//! after every download ended, a download error winning over whatever it caused.
//!
//! A follower cannot go on when the download restarts (the server ignored a `Range` request)
//! after it read bytes that are then thrown away. That flatten is repeated from the committed
//! cache once the downloads succeeded, so the race never reaches the user.

use std::collections::HashSet;
use std::io::{self, BufReader, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use wslbox_cache::{BlobStore, FollowError, Follower};
use wslbox_image::{BlobOpener, LayerDescriptor, ResolvedImage};
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_registry::{CachedBlobs, Client, ClientOptions, Resolved};
use wslbox_rootfs::{FlattenOptions, Output};

use crate::{Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind};

/// A registry client for `opts` (`--jobs`, foreign layers, insecure registries).
pub fn client(opts: &OpenOptions) -> Result<Client, SourceError> {
    Ok(Client::new(client_options(opts))?)
}

/// The registry client options `opts` stand for.
pub fn client_options(opts: &OpenOptions) -> ClientOptions {
    ClientOptions {
        insecure_registries: opts.insecure_registries.clone(),
        mirrors: opts.registry_mirrors.clone(),
        blocked: opts.blocked_registries.clone(),
        jobs: opts.jobs.max(1),
        allow_foreign_layers: opts.allow_foreign_layers,
        read_timeout: (opts.read_timeout).unwrap_or(ClientOptions::default().read_timeout),
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

/// The info of a resolved registry image; reports the mirrors that failed and the one that
/// served.
fn resolved_info(resolved: &Resolved, reporter: &dyn Reporter) -> SourceInfo {
    for warning in &resolved.warnings {
        reporter.warn(warning);
    }
    if let Some(mirror) = &resolved.mirror {
        reporter.warn(&format!(
            "pulling {} from mirror {mirror}",
            resolved.image.reference
        ));
    }
    SourceInfo {
        mirror: resolved.mirror.clone(),
        ..SourceInfo::from_image(SourceKind::Registry, &resolved.image)
    }
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
    Ok(resolved_info(&resolved, reporter))
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
    let info = resolved_info(&resolved, reporter.as_ref());

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
        store: store.clone(),
        opener: ArrivingBlobs {
            arrivals,
            cached,
            store,
            restarted: Arc::default(),
        },
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

    /// Flattens while downloads go on (see [`RegistrySource::flatten_streaming`]).
    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        self.flatten_streaming(opts, reporter, None)
    }

    fn flatten_into(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
        out: &mut Output,
    ) -> Result<Flattened, SourceError> {
        self.flatten_streaming(opts, reporter, Some(out))
    }
}

impl RegistrySource {
    /// Flattens while downloads go on, streaming into `out` if there is one. A download error,
    /// being the root cause, wins over the read error it provoked. A flatten that failed
    /// because a download restarted under a follower is repeated from the cache once every
    /// download succeeded (a stream that already received entries cannot be, and fails). A
    /// read error from the cache leads to a re-check that drops corrupt entries, so the next
    /// run downloads them again.
    fn flatten_streaming(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
        mut out: Option<&mut Output>,
    ) -> Result<Flattened, SourceError> {
        let layers = &self.info.layers;
        reporter.flatten_started(layers.len());
        let rootfs_reporter: &dyn wslbox_rootfs::Reporter = reporter.as_ref();
        let flatten = |opener: &dyn wslbox_image::BlobOpener, out: Option<&mut Output>| match out {
            Some(out) => wslbox_rootfs::flatten_into(layers, opener, opts, rootfs_reporter, out),
            None => wslbox_rootfs::flatten(layers, opener, opts, rootfs_reporter),
        };
        let mut result = flatten(&self.opener, out.as_deref_mut());
        self.downloads
            .join()
            .map_err(|_| SourceError::DownloadThread)??;
        if result.is_err() && self.opener.restarted.load(Ordering::SeqCst) {
            if out.as_deref_mut().is_some_and(|o| !o.rewind()) {
                return Err(SourceError::StreamStartedOver {
                    source: result.expect_err("checked above"),
                });
            }
            reporter.flatten_started(layers.len());
            result = flatten(&self.opener.cached, out);
        }
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
    /// Blobs whose first bytes were written: from then on a live writer may be followed.
    writing: HashSet<Digest>,
    failed: Option<String>,
}

/// How long a layer waits before looking for a live writer again without being told; a
/// backstop only, as the first progress of each blob wakes the waiters.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

impl Arrivals {
    fn writing(&self, digest: &Digest) {
        let first = self.state.lock().unwrap().writing.insert(digest.clone());
        if first {
            self.changed.notify_all();
        }
    }

    fn arrive(&self, digest: &Digest) {
        self.state.lock().unwrap().done.insert(digest.clone());
        self.changed.notify_all();
    }

    fn fail(&self, reason: String) {
        self.state.lock().unwrap().failed = Some(reason);
        self.changed.notify_all();
    }

    /// Waits until `digest` is committed (`None`) or `follow` finds its live writer.
    fn wait_for(
        &self,
        digest: &Digest,
        follow: impl Fn() -> io::Result<Option<Follower>>,
    ) -> io::Result<Option<Follower>> {
        let mut state = self.state.lock().unwrap();
        loop {
            if state.done.contains(digest) {
                return Ok(None);
            }
            if let Some(reason) = &state.failed {
                return Err(io::Error::other(format!(
                    "layer {digest} was not downloaded: {reason}"
                )));
            }
            if let Some(follower) = follow()? {
                return Ok(Some(follower));
            }
            state = self.changed.wait_timeout(state, FOLLOW_POLL).unwrap().0;
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
        self.arrivals.writing(digest);
    }
    fn on_blob_reset(&self, digest: &Digest) {
        self.reporter.on_blob_reset(digest);
    }
    fn on_endpoint_failed(&self, message: &str) {
        self.reporter.warn(message);
    }
    fn on_blob_interrupted(&self, message: &str) {
        self.reporter.warn(message);
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

/// Opens each layer as soon as it is committed or being written by this process: a
/// committed layer from the cache, one in flight through a [`Follower`].
struct ArrivingBlobs {
    arrivals: Arc<Arrivals>,
    cached: CachedBlobs,
    store: BlobStore,
    /// Set when a follower failed because its download restarted.
    restarted: Arc<AtomicBool>,
}

impl BlobOpener for ArrivingBlobs {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let follow = || self.store.follow(&layer.digest).map_err(io::Error::other);
        match self.arrivals.wait_for(&layer.digest, follow)? {
            None => self.cached.open(layer),
            Some(follower) => Ok(Box::new(Followed {
                inner: BufReader::with_capacity(256 * 1024, follower),
                restarted: Arc::clone(&self.restarted),
            })),
        }
    }

    /// After the flatten every layer is committed: read again from the cache.
    fn reopen(&self) -> Option<Arc<dyn BlobOpener>> {
        self.cached.reopen()
    }
}

/// A follower that records a restart, so the flatten it broke is repeated from the cache.
struct Followed {
    inner: BufReader<Follower>,
    restarted: Arc<AtomicBool>,
}

impl Read for Followed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|err| {
            let cause = err.get_ref().and_then(|e| e.downcast_ref::<FollowError>());
            if matches!(cause, Some(FollowError::Restarted { .. })) {
                self.restarted.store(true, Ordering::SeqCst);
            }
        })
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
    resolved_info(&resolved, reporter);
    let image = &resolved.image;
    reporter
        .downloads_started(resolved.config_size + image.layers.iter().map(|l| l.size).sum::<u64>());
    let result = rt.block_on(client.fetch_blobs(&resolved, &store, reporter));
    reporter.downloads_finished();
    result?;
    Ok(resolved.image)
}
