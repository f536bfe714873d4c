//! The store on a real directory: records, corrupt files, rmi and prune against the blob cache.

use wslbox_reference::{Algorithm, Digest, Hasher};
use wslbox_store::{ImageStore, Query, Record};

fn put(store: &ImageStore, bytes: &[u8]) -> Digest {
    let digest = Hasher::digest(Algorithm::Sha256, bytes);
    store.blobs().put(&digest, bytes).unwrap();
    digest
}

fn image(store: &ImageStore, tag: &str, blobs: &[Digest]) -> Record {
    let mut r = Record::new("registry", format!("docker.io/library/alpine:{tag}"), 100);
    r.repository = Some("docker.io/library/alpine".into());
    r.tag = Some(tag.into());
    r.platform = Some("linux/amd64".into());
    r.manifest_digest = Some(blobs[0].clone());
    r.blobs = blobs.to_vec();
    store.record(r).unwrap()
}

#[test]
fn records_round_trip_and_name_only_blobs_in_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let manifest = put(&store, b"manifest");
    let missing = Hasher::digest(Algorithm::Sha256, b"never stored");
    let stored = image(&store, "3", &[manifest.clone(), missing]);
    assert_eq!(stored.blobs, [manifest]);
    let listing = store.list().unwrap();
    assert_eq!(listing.records, [stored]);
    assert!(listing.skipped.is_empty());
}

#[test]
fn a_corrupt_record_is_skipped_with_a_reason_then_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let m = put(&store, b"m1");
    image(&store, "3", std::slice::from_ref(&m));
    let records = dir.path().join("images-v1/records");
    let file = fs_err::read_dir(&records)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json"))
        .unwrap();
    let full = fs_err::read(&file).unwrap();
    fs_err::write(&file, &full[..full.len() / 2]).unwrap();
    let listing = store.list().unwrap();
    assert!(listing.records.is_empty());
    assert_eq!(listing.skipped.len(), 1);
    assert!(
        listing.skipped[0].reason.contains("not valid JSON"),
        "{:?}",
        listing.skipped
    );

    let mut newer: serde_json::Value = serde_json::from_slice(&full).unwrap();
    newer["version"] = 2.into();
    fs_err::write(&file, serde_json::to_vec(&newer).unwrap()).unwrap();
    let listing = store.list().unwrap();
    assert!(
        listing.skipped[0].reason.contains("record version 2"),
        "{:?}",
        listing.skipped
    );

    image(&store, "3", std::slice::from_ref(&m));
    let listing = store.list().unwrap();
    assert_eq!(
        listing.records.len(),
        1,
        "recording the image again rebuilt it"
    );
    assert!(listing.skipped.is_empty());
}

#[test]
fn rmi_frees_exactly_the_blobs_no_other_record_needs() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let shared = put(&store, b"shared base layer");
    let (m1, only1) = (put(&store, b"m1"), put(&store, b"layer of 3.19"));
    let m2 = put(&store, b"m2");
    let unrecorded = put(&store, b"pulled by an older wslbox");
    let old = image(&store, "3.19", &[m1.clone(), shared.clone(), only1.clone()]);
    image(&store, "3.20", &[m2.clone(), shared.clone()]);

    let listing = store.list().unwrap();
    let named = Query::parse("alpine:3.19")
        .select("alpine:3.19", &listing.records, false)
        .unwrap();
    assert_eq!(named, [&old]);
    let gc = store
        .collect(|| panic!("nothing else holds a lease"))
        .unwrap();
    let summary = store.remove(&[old], &gc).unwrap();
    let mut freed: Vec<_> = summary
        .blobs
        .removed
        .iter()
        .map(|p| p.digest.clone())
        .collect();
    freed.sort();
    let mut expected = vec![m1, only1];
    expected.sort();
    assert_eq!(freed, expected);
    for kept in [&shared, &m2, &unrecorded] {
        assert!(
            store.blobs().get(kept, None).unwrap().is_some(),
            "{kept} must stay"
        );
    }
    assert_eq!(store.list().unwrap().records.len(), 1);
}

#[test]
fn prune_keeps_recorded_blobs_and_all_forgets_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let m = put(&store, b"m");
    let unrecorded = put(&store, b"unrecorded blob");
    image(&store, "3", std::slice::from_ref(&m));
    let stray = dir.path().join("images-v1/records/.record-abc.tmp");
    fs_err::write(&stray, b"{\"half").unwrap();
    let spool = store.blobs().spool_dir().unwrap().join("left-by-a-kill");
    fs_err::write(&spool, b"0123456789").unwrap();

    let gc = store.collect(|| {}).unwrap();
    let dry = store.prune(false, true, &gc).unwrap();
    assert_eq!(dry.blobs.removed.len(), 1);
    assert!(
        stray.exists() && spool.exists(),
        "a dry run removes nothing"
    );
    let done = store.prune(false, false, &gc).unwrap();
    assert_eq!(done.bytes(), dry.bytes());
    assert_eq!(done.blobs.removed[0].digest, unrecorded);
    assert_eq!(done.bytes(), 15 + 6 + 10);
    assert!(!stray.exists() && !spool.exists());
    assert!(store.blobs().get(&m, None).unwrap().is_some());

    let all = store.prune(true, false, &gc).unwrap();
    assert_eq!(all.forgotten.len(), 1);
    assert_eq!(all.blobs.removed[0].digest, m);
    assert!(store.list().unwrap().records.is_empty());
}
