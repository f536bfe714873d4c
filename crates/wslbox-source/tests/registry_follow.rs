//! A registry layer is flattened while it downloads: the flattener follows the cache's partial
//! file instead of waiting for the commit, and a blob that fails verification still fails the
//! flatten. The download is slowed by the byte-level shaper between wslbox and a real
//! `docker-registry` on loopback, so the overlap is wide enough to observe.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use wslbox_reference::Digest;
use wslbox_rootfs::FlattenOptions;
use wslbox_source::{Flattened, OpenOptions, Reporter, SourceError, SourceSpec};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_fixture::{ImageSpec, noise, sha256_digest as sha256};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::shaper::{Shaper, ShaperOptions};
use wslbox_test::skopeo::PushOptions;

/// The flattener's read-ahead chunk: it reports progress once per chunk.
const CHUNK: u64 = 1 << 20;

/// About 3 s per image at this rate, with its 3 MiB of incompressible payload.
fn slow() -> ShaperOptions {
    ShaperOptions {
        per_connection: 1_000_000,
        link: 1_000_000,
        rtt: Duration::from_millis(2),
    }
}

/// Records how many bytes of the watched layer the flattener read while its blob was not yet
/// committed to the cache, how many it had read when the download restarted and when it was
/// reported done, and how many flattens began.
struct Watch {
    digest: Digest,
    blob: PathBuf,
    read: AtomicU64,
    before_commit: AtomicU64,
    at_reset: Mutex<Option<u64>>,
    at_download_done: Mutex<Option<u64>>,
    flattens: AtomicU64,
}

impl Watch {
    fn new(digest: &str, cache: &std::path::Path) -> Arc<Self> {
        let digest: Digest = digest.parse().unwrap();
        Arc::new(Watch {
            blob: cache.join("blobs-v1/sha256").join(digest.hex()),
            digest,
            read: AtomicU64::new(0),
            before_commit: AtomicU64::new(0),
            at_reset: Mutex::new(None),
            at_download_done: Mutex::new(None),
            flattens: AtomicU64::new(0),
        })
    }
}

impl wslbox_rootfs::Reporter for Watch {
    fn layer_progress(&self, _index: usize, bytes: u64) {
        self.read.fetch_add(bytes, Ordering::SeqCst);
        // The commit is the rename to this name.
        if !self.blob.exists() {
            self.before_commit.fetch_add(bytes, Ordering::SeqCst);
        }
    }
}

impl wslbox_registry::Reporter for Watch {
    fn on_blob_done(&self, digest: &Digest, _cached: bool) {
        if *digest == self.digest {
            *self.at_download_done.lock().unwrap() = Some(self.read.load(Ordering::SeqCst));
        }
    }
    fn on_blob_reset(&self, digest: &Digest) {
        if *digest == self.digest {
            *self.at_reset.lock().unwrap() = Some(self.read.load(Ordering::SeqCst));
        }
    }
}

impl Reporter for Watch {
    fn flatten_started(&self, _layers: usize) {
        self.flattens.fetch_add(1, Ordering::SeqCst);
        self.read.store(0, Ordering::SeqCst);
    }
}

/// A registry holding `app:v1` with one layer: 3 MiB of noise in `payload.bin`.
fn registry_with_image() -> (Registry, String) {
    let registry = Registry::start(Auth::None);
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![("payload.bin".to_owned(), noise(21, 3 << 20))]];
    let image = registry.push_image("app:v1", &spec, &PushOptions::default());
    let layer = image.layers[0].digest.clone();
    (registry, layer)
}

/// [`registry_with_image`] (`corrupt`: one byte of the stored blob flipped), behind a slow
/// shaper. Returns the reference through the shaper.
fn slow_image(corrupt: bool) -> (Registry, Shaper, String, String, Option<String>) {
    let (registry, layer) = registry_with_image();
    let computed = corrupt.then(|| {
        let data = registry.blob_data_path(&layer);
        let mut bytes = fs_err::read(&data).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        fs_err::write(&data, &bytes).unwrap();
        sha256(&bytes)
    });
    let shaper = Shaper::start(0, registry.addr(), slow()).unwrap();
    let reference = format!("{}/app:v1", shaper.addr());
    (registry, shaper, reference, layer, computed)
}

fn flatten(
    reference: &str,
    cache: &std::path::Path,
    watch: &Arc<Watch>,
) -> Result<Flattened, SourceError> {
    let reporter: Arc<dyn Reporter> = watch.clone();
    let spool = cache.join("spool");
    fs_err::create_dir_all(&spool).unwrap();
    let opts = OpenOptions::new(cache.to_owned());
    let source = wslbox_source::open(&SourceSpec::parse(reference)?, &opts, &reporter)?;
    source.flatten(&FlattenOptions::new(spool), &reporter)
}

/// The output holds `payload.bin` with the pushed bytes.
fn assert_payload(flattened: &Flattened) {
    let mut tar = Vec::new();
    wslbox_rootfs::write_tar(&flattened.tree, &mut tar, &wslbox_rootfs::NoReporter).unwrap();
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut payload = archive
        .entries()
        .unwrap()
        .map(Result::unwrap)
        .find(|e| e.path_bytes().as_ref() == b"payload.bin")
        .expect("the layer's file is in the output");
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut payload, &mut bytes).unwrap();
    assert!(
        bytes == noise(21, 3 << 20),
        "payload.bin has the pushed bytes"
    );
}

/// The error and all its sources, as one text.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        text.push_str(&format!(": {e}"));
        source = e.source();
    }
    text
}

#[test]
fn layer_is_flattened_while_its_download_is_still_arriving() {
    let (_registry, _shaper, reference, layer, _) = slow_image(false);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let watch = Watch::new(&layer, &cache);

    let flattened = flatten(&reference, &cache, &watch).unwrap();

    let before_commit = watch.before_commit.load(Ordering::SeqCst);
    assert!(
        before_commit >= CHUNK,
        "the flattener read only {before_commit} bytes of {layer} before its commit"
    );
    let at_done = watch.at_download_done.lock().unwrap().unwrap();
    assert!(
        at_done >= CHUNK,
        "only {at_done} bytes were flattened when the download of {layer} ended"
    );
    assert_eq!(flattened.info.layers[0].digest.to_string(), layer);
    assert_payload(&flattened);
    assert!(cache.join("blobs-v1/sha256").join(&layer[7..]).is_file());
}

#[test]
fn corrupt_blob_read_as_it_arrives_fails_the_flatten_and_is_not_cached() {
    let (_registry, _shaper, reference, layer, computed) = slow_image(true);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let watch = Watch::new(&layer, &cache);

    let err = flatten(&reference, &cache, &watch)
        .err()
        .expect("a corrupt layer must fail the flatten");

    let text = chain(&err);
    assert!(
        text.contains(&layer),
        "the expected digest is named: {text}"
    );
    assert!(
        text.contains(&computed.unwrap()),
        "the computed digest is named: {text}"
    );
    assert!(
        watch.read.load(Ordering::SeqCst) >= CHUNK,
        "the flattener was reading the layer as it arrived, not waiting for it"
    );
    assert!(!cache.join("blobs-v1/sha256").join(&layer[7..]).exists());
    let partials: Vec<_> = fs_err::read_dir(cache.join("tmp-v1"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(partials.is_empty(), "corrupt bytes kept: {partials:?}");
}

/// The first response is cut off after 1.5 MB, the resume's `Range` is dropped so the registry
/// sends the whole blob again, and the writer starts over after the flattener had read from
/// the first attempt: that flatten fails, and is repeated from the committed cache.
#[test]
fn download_restarted_under_the_flattener_is_flattened_again_from_the_cache() {
    let (registry, layer) = registry_with_image();
    let front = Front::start(
        &registry,
        FrontOptions {
            truncate_blob: Some((layer.clone(), 1_500_000)),
            ignore_range: true,
            blob_bytes_per_second: Some(1_000_000),
            ..FrontOptions::default()
        },
    );
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let watch = Watch::new(&layer, &cache);

    let flattened = flatten(&front.image("app:v1"), &cache, &watch).unwrap();

    let at_reset = watch
        .at_reset
        .lock()
        .unwrap()
        .expect("the download restarted");
    assert!(
        at_reset >= CHUNK,
        "the flattener had read only {at_reset} bytes when the download restarted"
    );
    assert_eq!(
        watch.flattens.load(Ordering::SeqCst),
        2,
        "flattened again from the cache"
    );
    assert_payload(&flattened);
}
