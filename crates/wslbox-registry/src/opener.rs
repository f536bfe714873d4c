//! Layer streams for the flattener, read from the cache and verified as they are read.

use std::io::{self, Read};

use wslbox_cache::BlobStore;
use wslbox_image::{BlobOpener, LayerDescriptor, VerifyingReader};

/// Opens cached layers (committed by [`Client::fetch_blobs`](crate::Client::fetch_blobs)),
/// re-verifying each as it is read, so a blob corrupted on disk since it was committed fails
/// the read instead of reaching the output.
#[derive(Debug, Clone)]
pub struct CachedBlobs {
    store: BlobStore,
}

impl CachedBlobs {
    pub fn new(store: BlobStore) -> Self {
        CachedBlobs { store }
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
        Ok(Box::new(VerifyingReader::layer(
            io::BufReader::with_capacity(256 * 1024, file),
            layer,
        )))
    }
}
