//! Following a blob while a writer of this process writes it: the follower sees the bytes as
//! they land, EOF only after a verified commit, and an error for every other end.

use std::io::{self, Read};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use wslbox_cache::{Acquired, BlobStore, BlobWriter, FollowError, Follower};
use wslbox_reference::{Algorithm, Digest, Hasher};

fn sha256(bytes: &[u8]) -> Digest {
    Hasher::digest(Algorithm::Sha256, bytes)
}

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().join("cache")).unwrap();
    (dir, store)
}

fn writer(store: &BlobStore, digest: &Digest, size: u64) -> BlobWriter {
    match store.acquire(digest, Some(size)).unwrap() {
        Acquired::Write(w) => *w,
        Acquired::Cached(p) => panic!("unexpectedly cached at {}", p.display()),
    }
}

fn follower(store: &BlobStore, digest: &Digest) -> Follower {
    store
        .follow(digest)
        .unwrap()
        .expect("a live writer to follow")
}

/// Reads the follower to its end on another thread.
fn read_to_end(mut follower: Follower) -> mpsc::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = tx.send(follower.read_to_end(&mut bytes).map(|_| bytes));
    });
    rx
}

fn follow_error(err: &io::Error) -> &FollowError {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<FollowError>())
        .unwrap_or_else(|| panic!("not a FollowError: {err}"))
}

fn blob(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn follower_reads_bytes_while_they_are_written_and_ends_at_commit() {
    let (_dir, store) = store();
    let data = blob(300_000);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let mut f = follower(&store, &d);

    // The writer runs on its own thread, one chunk per go-ahead.
    let (go, next) = mpsc::channel::<()>();
    let chunks: Vec<Vec<u8>> = data.chunks(100_000).map(<[u8]>::to_vec).collect();
    let writing = thread::spawn(move || {
        for chunk in &chunks {
            next.recv().unwrap();
            w.write_chunk(chunk).unwrap();
        }
        next.recv().unwrap();
        w.commit().unwrap()
    });

    let mut seen = vec![0u8; 100_000];
    go.send(()).unwrap();
    f.read_exact(&mut seen).unwrap();
    assert_eq!(
        seen,
        data[..100_000],
        "the first chunk, before the second exists"
    );
    assert!(store.get(&d, None).unwrap().is_none(), "not committed yet");

    go.send(()).unwrap();
    go.send(()).unwrap();
    let rest = read_to_end(f);
    // Every byte is written, but EOF must wait for the verified commit.
    assert!(
        rest.recv_timeout(Duration::from_millis(300)).is_err(),
        "the follower ended before the commit"
    );
    go.send(()).unwrap();
    let path = writing.join().unwrap();
    seen.extend(rest.recv().unwrap().unwrap());
    assert_eq!(seen, data);
    assert_eq!(fs_err::read(path).unwrap(), data);
    assert!(
        store.follow(&d).unwrap().is_none(),
        "committed: nothing to follow"
    );
}

#[test]
fn follow_finds_nothing_for_an_unknown_or_committed_blob() {
    let (_dir, store) = store();
    let data = b"committed".to_vec();
    let d = sha256(&data);
    assert!(store.follow(&d).unwrap().is_none(), "never written");
    store.put(&d, &data).unwrap();
    assert!(store.follow(&d).unwrap().is_none(), "committed");
    assert!(store.follow(&sha256(b"other")).unwrap().is_none());
}

#[test]
fn clones_of_a_store_share_its_live_writers() {
    let (_dir, store) = store();
    let data = b"shared".to_vec();
    let d = sha256(&data);
    let mut w = writer(&store.clone(), &d, data.len() as u64);
    let f = follower(&store, &d);
    w.write_chunk(&data).unwrap();
    w.commit().unwrap();
    assert_eq!(read_to_end(f).recv().unwrap().unwrap(), data);
}

#[test]
fn digest_mismatch_at_commit_fails_the_follower_naming_the_digest() {
    let (_dir, store) = store();
    let data = blob(10_000);
    let d = sha256(&data);
    let mut wrong = data.clone();
    wrong[5_000] ^= 0xff;
    let mut w = writer(&store, &d, data.len() as u64);
    let mut f = follower(&store, &d);
    w.write_chunk(&wrong).unwrap();
    let mut seen = vec![0u8; wrong.len()];
    f.read_exact(&mut seen).unwrap();
    assert_eq!(
        seen, wrong,
        "unverified bytes are readable, but no EOF follows"
    );

    let rest = read_to_end(f);
    assert!(w.commit().is_err());
    let err = rest.recv().unwrap().unwrap_err();
    assert!(matches!(follow_error(&err), FollowError::Failed { digest, .. } if *digest == d));
    let message = err.to_string();
    assert!(message.contains(&d.to_string()), "{message}");
    assert!(message.contains(&sha256(&wrong).to_string()), "{message}");
    assert!(store.get(&d, None).unwrap().is_none());
    assert!(store.follow(&d).unwrap().is_none());
}

#[test]
fn discarded_writer_fails_the_follower() {
    let (_dir, store) = store();
    let data = blob(1_000);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let f = follower(&store, &d);
    w.write_chunk(&data[..500]).unwrap();
    let rest = read_to_end(f);
    w.discard().unwrap();
    let err = rest.recv().unwrap().unwrap_err();
    assert!(
        matches!(follow_error(&err), FollowError::Failed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("discarded"), "{err}");
}

#[test]
fn writer_dropped_before_commit_fails_the_follower_and_keeps_the_partial() {
    let (_dir, store) = store();
    let data = blob(1_000);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let f = follower(&store, &d);
    w.write_chunk(&data[..400]).unwrap();
    let rest = read_to_end(f);
    drop(w);
    let err = rest.recv().unwrap().unwrap_err();
    assert!(
        matches!(follow_error(&err), FollowError::Abandoned { digest } if *digest == d),
        "{err}"
    );
    assert!(store.follow(&d).unwrap().is_none());
    assert_eq!(
        writer(&store, &d, data.len() as u64).offset(),
        400,
        "kept for a resume"
    );
}

#[test]
fn restart_after_the_follower_read_bytes_is_a_distinct_error() {
    let (_dir, store) = store();
    let data = blob(2_000);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let mut f = follower(&store, &d);
    w.write_chunk(&data[..1_000]).unwrap();
    let mut first = [0u8; 10];
    f.read_exact(&mut first).unwrap();
    w.restart().unwrap();
    w.write_chunk(&data).unwrap();
    let err = f.read(&mut [0u8; 100]).unwrap_err();
    assert!(
        matches!(follow_error(&err), FollowError::Restarted { digest } if *digest == d),
        "{err}"
    );
    // The writer itself is fine: the blob commits and can be read from the cache.
    w.commit().unwrap();
    assert!(store.verify(&d, None).unwrap().is_some());
}

#[test]
fn restart_before_the_follower_read_anything_is_harmless() {
    let (_dir, store) = store();
    let data = blob(2_000);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let f = follower(&store, &d);
    w.write_chunk(b"bytes a server sent before it ignored the range")
        .unwrap();
    w.restart().unwrap();
    w.write_chunk(&data).unwrap();
    let rest = read_to_end(f);
    w.commit().unwrap();
    assert_eq!(rest.recv().unwrap().unwrap(), data);
}

#[test]
fn oversized_write_fails_the_follower() {
    let (_dir, store) = store();
    let data = blob(100);
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    let f = follower(&store, &d);
    let rest = read_to_end(f);
    assert!(w.write_chunk(&blob(101)).is_err());
    let err = rest.recv().unwrap().unwrap_err();
    assert!(err.to_string().contains("wrong size"), "{err}");
    assert!(store.follow(&d).unwrap().is_none());
}

#[test]
fn follower_of_a_resumed_download_reads_the_earlier_prefix_too() {
    let (_dir, store) = store();
    let data = blob(50_000);
    let d = sha256(&data);
    let mut first = writer(&store, &d, data.len() as u64);
    first.write_chunk(&data[..20_000]).unwrap();
    drop(first);

    let mut w = writer(&store, &d, data.len() as u64);
    assert_eq!(w.offset(), 20_000);
    let mut f = follower(&store, &d);
    let mut prefix = vec![0u8; 20_000];
    f.read_exact(&mut prefix).unwrap();
    assert_eq!(
        prefix,
        data[..20_000],
        "already there before this writer wrote"
    );
    let rest = read_to_end(f);
    w.write_chunk(&data[20_000..]).unwrap();
    w.commit().unwrap();
    prefix.extend(rest.recv().unwrap().unwrap());
    assert_eq!(prefix, data);
}
