//! Layer streams for the flattener, read from the cache and verified as they are read.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use wslbox_cache::BlobStore;
use wslbox_image::{BlobOpener, LayerDescriptor, VerifyingReader};
use wslbox_reference::Digest;

/// Opens cached layers (committed by [`Client::fetch_blobs`](crate::Client::fetch_blobs)),
/// re-verifying each as it is read, so a blob corrupted on disk since it was committed fails
/// the read instead of reaching the output. Blobs marked with [`trust`](Self::trust)
/// (verified while downloaded in this run) only get the cheap size check.
#[derive(Debug, Clone)]
pub struct CachedBlobs {
    store: BlobStore,
    trusted: Arc<Mutex<HashSet<Digest>>>,
}

impl CachedBlobs {
    pub fn new(store: BlobStore) -> Self {
        CachedBlobs {
            store,
            trusted: Arc::default(),
        }
    }

    /// Skips re-hashing `digest` on open: it was verified on its way into the cache during
    /// this run (e.g. a reporter's `on_blob_done` with `cached == false`).
    pub fn trust(&self, digest: Digest) {
        self.trusted.lock().expect("trusted set").insert(digest);
    }
}

impl BlobOpener for CachedBlobs {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let path = self
            .store
            .get(&layer.digest, Some(layer.size))
            .map_err(io::Error::other)?
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!(
                        "layer {} is not in the cache at {}; pull the image again",
                        layer.digest,
                        self.store.root().display()
                    ),
                )
            })?;
        let file = fs_err::File::open(path)?;
        if self
            .trusted
            .lock()
            .expect("trusted set")
            .contains(&layer.digest)
        {
            return Ok(Box::new(io::BufReader::with_capacity(256 * 1024, file)));
        }
        Ok(Box::new(VerifyingReader::layer(
            io::BufReader::with_capacity(256 * 1024, file),
            layer,
        )))
    }

    /// Cached blobs are files: reading one twice costs only decoding.
    fn reopen(&self) -> Option<Arc<dyn BlobOpener>> {
        Some(Arc::new(self.clone()))
    }
}
