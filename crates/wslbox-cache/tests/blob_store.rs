//! Behaviour of the blob store on a real filesystem: commit, verify, corruption, resume, races.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Barrier};

use wslbox_cache::{Acquired, BlobStore, CacheError};
use wslbox_reference::Hasher;
use wslbox_reference::{Algorithm, Digest};

fn sha256(bytes: &[u8]) -> Digest {
    Hasher::digest(Algorithm::Sha256, bytes)
}

fn store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().join("cache")).unwrap();
    (dir, store)
}

fn writer(store: &BlobStore, digest: &Digest, size: u64) -> wslbox_cache::BlobWriter {
    match store.acquire(digest, Some(size)).unwrap() {
        Acquired::Write(w) => *w,
        Acquired::Cached(p) => panic!("unexpectedly cached at {}", p.display()),
    }
}

#[test]
fn layout_carries_version_and_algorithm() {
    let (_dir, store) = store();
    let d = sha256(b"hello");
    let path = store.blob_path(&d);
    let rel = path.strip_prefix(store.root()).unwrap();
    assert_eq!(rel, Path::new("blobs-v1").join("sha256").join(d.hex()));
    assert!(store.root().join("tmp-v1").is_dir());
}

#[test]
fn verified_blob_is_committed_and_found() {
    let (_dir, store) = store();
    let data = b"layer bytes".to_vec();
    let d = sha256(&data);
    let mut w = writer(&store, &d, data.len() as u64);
    assert_eq!(w.offset(), 0);
    w.write_chunk(&data[..5]).unwrap();
    w.write_chunk(&data[5..]).unwrap();
    let path = w.commit().unwrap();
    assert_eq!(fs_err::read(&path).unwrap(), data);
    assert_eq!(
        store.get(&d, Some(data.len() as u64)).unwrap(),
        Some(path.clone())
    );
    assert_eq!(store.verify(&d, None).unwrap(), Some(path));
    assert!(matches!(
        store.acquire(&d, None).unwrap(),
        Acquired::Cached(_)
    ));
    // No partial is left behind.
    let leftovers: Vec<_> = fs_err::read_dir(store.root().join("tmp-v1"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn digest_mismatch_deletes_partial_and_names_both_digests() {
    let (_dir, store) = store();
    let claimed = sha256(b"what the manifest says");
    let mut w = writer(&store, &claimed, 8);
    w.write_chunk(b"tampered").unwrap();
    let err = w.commit().unwrap_err();
    let actual = sha256(b"tampered");
    match &err {
        CacheError::DigestMismatch {
            digest,
            actual: got,
        } => {
            assert_eq!(digest, &claimed);
            assert_eq!(got, &actual);
        }
        other => panic!("unexpected {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&claimed.to_string()) && msg.contains(&actual.to_string()),
        "{msg}"
    );
    assert_eq!(store.get(&claimed, None).unwrap(), None);
    // The next writer starts from scratch.
    assert_eq!(writer(&store, &claimed, 8).offset(), 0);
}

#[test]
fn short_blob_is_a_size_mismatch() {
    let (_dir, store) = store();
    let d = sha256(b"abcdef");
    let mut w = writer(&store, &d, 6);
    w.write_chunk(b"abc").unwrap();
    let err = w.commit().unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::SizeMismatch {
                expected: 6,
                actual: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(writer(&store, &d, 6).offset(), 0);
}

#[test]
fn writing_past_expected_size_fails_immediately() {
    let (_dir, store) = store();
    let d = sha256(b"abc");
    let mut w = writer(&store, &d, 3);
    let err = w.write_chunk(b"abcd").unwrap_err();
    assert!(
        matches!(
            err,
            CacheError::SizeMismatch {
                expected: 3,
                actual: 4,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn interrupted_download_resumes_from_rehashed_partial() {
    let (_dir, store) = store();
    let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let d = sha256(&data);
    let size = data.len() as u64;
    let mut w = writer(&store, &d, size);
    w.write_chunk(&data[..123_457]).unwrap();
    drop(w); // the connection died

    let mut w = writer(&store, &d, size);
    assert_eq!(w.offset(), 123_457);
    w.write_chunk(&data[123_457..]).unwrap();
    let path = w.commit().unwrap();
    assert_eq!(fs_err::read(path).unwrap(), data);
}

#[test]
fn restart_discards_partial_when_server_ignores_range() {
    let (_dir, store) = store();
    let data = b"0123456789".to_vec();
    let d = sha256(&data);
    let mut w = writer(&store, &d, 10);
    w.write_chunk(b"01234").unwrap();
    drop(w);
    let mut w = writer(&store, &d, 10);
    assert_eq!(w.offset(), 5);
    w.restart().unwrap();
    w.write_chunk(&data).unwrap();
    assert_eq!(fs_err::read(w.commit().unwrap()).unwrap(), data);
}

#[test]
fn wrong_size_blob_is_removed_by_get() {
    let (_dir, store) = store();
    let data = b"content";
    let d = sha256(data);
    let path = store.put(&d, data).unwrap();
    fs_err::write(&path, b"content plus junk").unwrap();
    assert_eq!(store.get(&d, Some(data.len() as u64)).unwrap(), None);
    assert!(!path.exists());
}

#[test]
fn corrupt_blob_of_right_size_is_caught_by_verify_and_refetched() {
    let (_dir, store) = store();
    let data = b"content";
    let d = sha256(data);
    let path = store.put(&d, data).unwrap();
    fs_err::write(&path, b"CONTENT").unwrap();
    // The cheap check cannot see it...
    assert!(store.get(&d, Some(7)).unwrap().is_some());
    // ...the full re-hash does, and removes it.
    assert_eq!(store.verify(&d, Some(7)).unwrap(), None);
    assert!(!path.exists());
    // So the next acquire hands out a writer and the blob is fetched again.
    let mut w = writer(&store, &d, 7);
    w.write_chunk(data).unwrap();
    w.commit().unwrap();
    assert_eq!(store.read(&d).unwrap().as_deref(), Some(&data[..]));
}

#[test]
fn read_rejects_and_removes_corrupt_small_blob() {
    let (_dir, store) = store();
    let d = sha256(b"{}");
    let path = store.put(&d, b"{}").unwrap();
    fs_err::write(&path, b"[]").unwrap();
    assert_eq!(store.read(&d).unwrap(), None);
    assert!(!path.exists());
}

#[test]
fn put_rejects_bytes_that_do_not_match_the_digest() {
    let (_dir, store) = store();
    let d = sha256(b"right");
    assert!(matches!(
        store.put(&d, b"wrong").unwrap_err(),
        CacheError::DigestMismatch { .. }
    ));
    assert_eq!(store.get(&d, None).unwrap(), None);
}

#[test]
fn sha512_blobs_are_verified_too() {
    let (_dir, store) = store();
    let d = Hasher::digest(Algorithm::Sha512, b"five twelve");
    let path = store.put(&d, b"five twelve").unwrap();
    assert!(path.starts_with(store.root().join("blobs-v1").join("sha512")));
    assert!(store.verify(&d, Some(11)).unwrap().is_some());
}

#[test]
fn try_acquire_reports_busy_while_another_writer_holds_the_lock() {
    let (_dir, store) = store();
    let d = sha256(b"x");
    let w = writer(&store, &d, 1);
    assert!(store.try_acquire(&d, Some(1)).unwrap().is_none());
    drop(w);
    assert!(matches!(
        store.try_acquire(&d, Some(1)).unwrap(),
        Some(Acquired::Write(_))
    ));
}

#[test]
fn two_threads_racing_on_one_digest_write_it_once() {
    let (_dir, store) = store();
    let data = vec![7u8; 1 << 20];
    let d = sha256(&data);
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (store, d, data, barrier) =
                (store.clone(), d.clone(), data.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                match store.acquire(&d, Some(data.len() as u64)).unwrap() {
                    Acquired::Cached(_) => false,
                    Acquired::Write(mut w) => {
                        for chunk in data.chunks(4096) {
                            w.write_all(chunk).unwrap();
                        }
                        w.commit().unwrap();
                        true
                    }
                }
            })
        })
        .collect();
    let wrote: Vec<bool> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(wrote.iter().filter(|w| **w).count(), 1, "{wrote:?}");
    assert!(store.verify(&d, Some(data.len() as u64)).unwrap().is_some());
}

const CHILD_ROOT: &str = "WSLBOX_CACHE_TEST_CHILD_ROOT";

/// Child side of `two_processes_racing_on_one_digest_write_it_once`; only run by that test.
#[test]
#[ignore = "run as a child process by two_processes_racing_on_one_digest_write_it_once"]
fn child_process_writer() {
    let root = std::env::var(CHILD_ROOT).expect("run by the racing test");
    let store = BlobStore::open(root).unwrap();
    let data = vec![42u8; 4 << 20];
    let d = sha256(&data);
    match store.acquire(&d, Some(data.len() as u64)).unwrap() {
        Acquired::Cached(_) => println!("RESULT=cached"),
        Acquired::Write(mut w) => {
            for chunk in data.chunks(1024) {
                w.write_all(chunk).unwrap();
            }
            w.commit().unwrap();
            println!("RESULT=wrote");
        }
    }
}

#[test]
fn two_processes_racing_on_one_digest_write_it_once() {
    let (_dir, store) = store();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "child_process_writer",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ROOT, store.root())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut results = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "child failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        // libtest prints the result on the same line as the test name.
        let result = stdout
            .split("RESULT=")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .expect("child printed a result");
        results.push(result.to_owned());
    }
    results.sort();
    assert_eq!(results, ["cached", "wrote"]);
    let d = sha256(&vec![42u8; 4 << 20]);
    assert!(store.verify(&d, Some(4 << 20)).unwrap().is_some());
}

#[test]
fn prune_removes_unkept_blobs_and_idle_partials_but_not_ones_being_written() {
    let (_dir, store) = store();
    let kept = sha256(b"kept");
    let dropped = sha256(b"dropped!");
    store.put(&kept, b"kept").unwrap();
    store.put(&dropped, b"dropped!").unwrap();
    // An abandoned partial, and one another writer is busy with.
    let abandoned = sha256(b"abandoned download");
    let mut w = writer(&store, &abandoned, 18);
    w.write_chunk(b"aband").unwrap();
    drop(w);
    let busy = sha256(b"busy download");
    let mut busy_writer = writer(&store, &busy, 13);
    busy_writer.write_chunk(b"busy").unwrap();
    // Not ours: left alone.
    fs_err::write(
        store.root().join("blobs-v1").join("sha256").join("README"),
        b"x",
    )
    .unwrap();

    let dry = store.prune(|d| *d == kept, true).unwrap();
    assert_eq!((dry.blobs(), dry.partials(), dry.bytes()), (1, 1, 8 + 5));
    assert!(
        store.get(&dropped, None).unwrap().is_some(),
        "a dry run removes nothing"
    );
    let report = store.prune(|d| *d == kept, false).unwrap();
    assert_eq!(
        report, dry,
        "the dry run named exactly what the real run removed"
    );
    let mut removed: Vec<_> = report
        .removed
        .iter()
        .map(|p| (p.digest.clone(), p.partial, p.bytes))
        .collect();
    removed.sort();
    let mut expected = vec![(dropped.clone(), false, 8), (abandoned.clone(), true, 5)];
    expected.sort();
    assert_eq!(removed, expected);
    assert!(store.get(&kept, Some(4)).unwrap().is_some());
    assert_eq!(store.get(&dropped, None).unwrap(), None);
    assert_eq!(
        writer(&store, &abandoned, 18).offset(),
        0,
        "the abandoned partial is gone"
    );
    assert!(
        store
            .root()
            .join("blobs-v1")
            .join("sha256")
            .join("README")
            .exists()
    );
    busy_writer.write_chunk(b" download").unwrap();
    busy_writer.commit().unwrap();
}

#[test]
fn collection_waits_for_leases_and_leases_wait_for_a_collection() {
    let (_dir, store) = store();
    let lease = store.lease().unwrap();
    let second = store.lease().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let collector = {
        let store = store.clone();
        std::thread::spawn(move || {
            let mut waited = false;
            let guard = store.collect(|| waited = true).unwrap();
            tx.send(waited).unwrap();
            drop(guard);
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        rx.try_recv().is_err(),
        "collect must wait while leases are held"
    );
    drop(lease);
    drop(second);
    assert!(rx.recv().unwrap(), "collect said it was waiting");
    collector.join().unwrap();
    let mut waited = false;
    let guard = store.collect(|| waited = true).unwrap();
    assert!(!waited, "nothing held a lease");
    drop(guard);
}
