//! `CachedBlobs` hands the flattener verified layer streams from the cache.

use std::io::Read;

use wslbox_cache::BlobStore;
use wslbox_image::{BlobOpener, Compression, LayerDescriptor};
use wslbox_reference::Algorithm;
use wslbox_reference::Hasher;
use wslbox_registry::CachedBlobs;

fn layer(store: &BlobStore, bytes: &[u8]) -> LayerDescriptor {
    let digest = Hasher::digest(Algorithm::Sha256, bytes);
    store.put(&digest, bytes).unwrap();
    LayerDescriptor {
        digest,
        size: bytes.len() as u64,
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        compression: Compression::None,
        urls: Vec::new(),
    }
}

#[test]
fn cached_layer_reads_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let l = layer(&store, b"layer content");
    let mut out = Vec::new();
    CachedBlobs::new(store)
        .open(&l)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, b"layer content");
}

#[test]
fn layer_corrupted_on_disk_fails_the_read_naming_the_digest() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let l = layer(&store, b"layer content");
    fs_err::write(store.blob_path(&l.digest), b"LAYER CONTENT").unwrap();
    let err = CachedBlobs::new(store)
        .open(&l)
        .unwrap()
        .read_to_end(&mut Vec::new())
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(err.to_string().contains(&l.digest.to_string()), "{err}");
}

#[test]
fn missing_layer_is_not_found_and_says_to_pull() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path()).unwrap();
    let other = BlobStore::open(dir.path().join("other")).unwrap();
    let l = layer(&other, b"elsewhere");
    let err = CachedBlobs::new(store).open(&l).err().expect("not cached");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().contains("pull"), "{err}");
}
