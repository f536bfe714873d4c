//! `tarball:URL` over a loopback file server: plain, with Range resume after a cut, through
//! a redirect, with a checksum (verified while streaming, cached by digest and reused), and
//! serving the wrong bytes (refused, nothing cached).

mod common;

use std::io::Write;
use std::sync::Arc;

use wslbox_reference::Digest;
use wslbox_rootfs::TreeView;
use wslbox_source::{Checksum, Flattened, SourceError};
use wslbox_test::file_server::{Cut, FileServer, Serve};
use wslbox_test::oracle::Scratch;

/// A gzip tarball big enough to be cut mid-way (≈ 1 MiB of incompressible body).
fn rootfs() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: &str, body: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, body).unwrap();
    };
    add(
        "etc/os-release",
        b"ID=testos\nNAME=\"Test OS\"\nPRETTY_NAME=\"Test OS 1\"\n",
    );
    let mut noise = Vec::with_capacity(1 << 20);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while noise.len() < 1 << 20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.extend_from_slice(&x.to_le_bytes());
    }
    add("usr/share/noise", &noise);
    let tar = b.into_inner().unwrap();
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(&tar).unwrap();
    e.finish().unwrap()
}

fn sha256(bytes: &[u8]) -> Digest {
    wslbox_reference::Hasher::digest(wslbox_reference::Algorithm::Sha256, bytes)
}

/// Flattens `tarball:` of `path` on `server` with a fresh cache and no checksum.
fn fetch(server: &FileServer, path: &str) -> Result<Flattened, SourceError> {
    let scratch = Scratch::new().unwrap();
    let spec = format!("tarball:{}", server.url(path));
    let opts = common::file_options(&scratch.path("cache"));
    common::flatten_spec(&spec, &opts, &Default::default())
}

fn has_os_release(f: &Flattened) -> bool {
    f.tree.read(b"etc/os-release").unwrap().is_some()
}

#[test]
fn plain_download_without_checksum_warns_and_records_the_sha256() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve("/rootfs.tar.gz", body.clone(), Serve::plain());
    let scratch = Scratch::new().unwrap();
    let recorder = Arc::new(common::Recorder::default());
    let spec = format!("tarball:{}", server.url("/rootfs.tar.gz"));
    let f = common::flatten_spec(
        &spec,
        &common::file_options(&scratch.path("cache")),
        &recorder,
    )
    .unwrap();
    assert!(has_os_release(&f));
    assert_eq!(f.info.sha256, Some(sha256(&body)));
    assert!(!f.info.checksum_verified);
    let warnings = recorder.warnings.lock().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("nothing verified") && w.contains("--sha256")),
        "{warnings:?}"
    );
}

#[test]
fn a_cut_connection_resumes_with_range_from_the_last_byte() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve(
        "/r.tar.gz",
        body.clone(),
        Serve::ranges().cut(Cut::once(300_000)),
    );
    let f = fetch(&server, "/r.tar.gz").unwrap();
    assert_eq!(
        f.info.sha256,
        Some(sha256(&body)),
        "the resumed stream is whole"
    );
    let ranges: Vec<String> = server
        .requests_for("/r.tar.gz")
        .iter()
        .filter_map(|r| r.header("range").map(str::to_owned))
        .collect();
    assert_eq!(ranges, ["bytes=300000-"], "one resume, at the cut");
}

#[test]
fn a_server_without_ranges_is_read_again_skipping_what_was_delivered() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve(
        "/r.tar.gz",
        body.clone(),
        Serve::plain().cut(Cut::once(250_000)),
    );
    let f = fetch(&server, "/r.tar.gz").unwrap();
    assert_eq!(f.info.sha256, Some(sha256(&body)));
    assert_eq!(server.requests_for("/r.tar.gz").len(), 2);
}

#[test]
fn a_connection_cut_every_time_gives_up_with_the_url() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve("/r.tar.gz", body, Serve::plain().cut(Cut::always(100_000)));
    let err = fetch(&server, "/r.tar.gz")
        .err()
        .expect("never completes")
        .to_string();
    assert!(
        err.contains("rootfs tarball") && err.contains("/r.tar.gz"),
        "{err}"
    );
}

#[test]
fn redirects_are_followed() {
    let body = rootfs();
    let server = FileServer::start();
    let other = FileServer::start();
    other.serve("/real.tar.gz", body.clone(), Serve::plain());
    server.redirect("/latest.tar.gz", other.localhost_url("/real.tar.gz"));
    let f = fetch(&server, "/latest.tar.gz").unwrap();
    assert_eq!(f.info.sha256, Some(sha256(&body)));
    for r in server.requests().iter().chain(other.requests().iter()) {
        assert!(r.header("authorization").is_none(), "no credentials: {r:?}");
    }
}

/// S3-style presigned URL parts and user info, which must never be shown.
const SECRETS: [&str; 3] = ["s3cr3t", "X-Amz-Signature", "deadbeef"];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

#[test]
fn credentials_in_a_url_go_to_its_host_only_and_are_never_shown() {
    let body = rootfs();
    let server = FileServer::start();
    let other = FileServer::start();
    other.serve("/real.tar.gz", body.clone(), Serve::plain());
    server.redirect("/latest.tar.gz", other.localhost_url("/real.tar.gz"));
    let scratch = Scratch::new().unwrap();
    let url = format!(
        "http://alice:s3cr3t@{}/latest.tar.gz?X-Amz-Signature=deadbeef",
        server.addr()
    );
    let recorder = Arc::new(common::Recorder::default());
    // A bare URL, as users type it: the same as `tarball:URL`.
    let f = common::flatten_spec(
        &url,
        &common::file_options(&scratch.path("cache")),
        &recorder,
    )
    .unwrap();
    assert_eq!(f.info.sha256, Some(sha256(&body)));
    assert_eq!(
        f.info.reference,
        format!("tarball:http://***@{}/latest.tar.gz?***", server.addr())
    );
    let warnings = recorder.warnings.lock().unwrap().join("\n");
    assert!(warnings.contains("nothing verified"), "{warnings}");
    assert_no_secret("the warning", &warnings);
    // Basic auth from the URL reached its host, and not the host it redirected to.
    let first = &server.requests_for("/latest.tar.gz")[0];
    assert_eq!(
        first.header("authorization"),
        Some("Basic YWxpY2U6czNjcjN0")
    );
    for r in other.requests() {
        assert!(r.header("authorization").is_none(), "sent on: {r:?}");
    }
}

#[test]
fn a_failing_url_with_credentials_is_named_without_them() {
    let server = FileServer::start();
    server.respond("/gone.tar.xz", 404);
    let scratch = Scratch::new().unwrap();
    let opts = common::file_options(&scratch.path("cache"));
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    for (url, expect) in [
        (
            format!(
                "http://alice:s3cr3t@{}/gone.tar.xz?X-Amz-Signature=deadbeef",
                server.addr()
            ),
            format!(
                "http://***@{}/gone.tar.xz?*** answered HTTP 404",
                server.addr()
            ),
        ),
        // Nothing listens there any more; reqwest's own message names the whole URL, which
        // wslbox drops for the host.
        (
            format!("http://alice:s3cr3t@{closed}/x.tar?X-Amz-Signature=deadbeef"),
            format!("could not connect to {closed}: "),
        ),
    ] {
        let err = common::flatten_spec(&url, &opts, &Default::default())
            .err()
            .expect("a failure")
            .to_string();
        assert!(err.contains(&expect), "{err}");
        assert!(
            !err.contains("registry"),
            "a web server, not a registry: {err}"
        );
        assert_no_secret("the error", &err);
    }
    // A checksum file's URL the same way.
    let spec = format!("tarball:{}", server.url("/gone.tar.xz"));
    let mut with_sums = opts.clone();
    with_sums.checksum = Some(Checksum::Sha256Url(format!(
        "http://alice:s3cr3t@{}/SHA256SUMS?X-Amz-Signature=deadbeef",
        server.addr()
    )));
    let err = common::flatten_spec(&spec, &with_sums, &Default::default())
        .err()
        .expect("no sums file")
        .to_string();
    assert!(err.contains("SHA256SUMS?***"), "{err}");
    assert_no_secret("the error", &err);
}

#[test]
fn a_missing_url_names_the_status() {
    let server = FileServer::start();
    server.respond("/gone.tar.xz", 404);
    let err = fetch(&server, "/gone.tar.xz")
        .err()
        .expect("404")
        .to_string();
    assert!(err.contains("/gone.tar.xz") && err.contains("404"), "{err}");
}

#[test]
fn with_a_checksum_the_download_is_cached_and_reused() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve("/r.tar.gz", body.clone(), Serve::plain());
    let scratch = Scratch::new().unwrap();
    let mut opts = common::file_options(&scratch.path("cache"));
    opts.checksum = Some(Checksum::Sha256(sha256(&body)));
    let spec = format!("tarball:{}", server.url("/r.tar.gz"));
    let recorder = Arc::new(common::Recorder::default());
    let f = common::flatten_spec(&spec, &opts, &recorder).unwrap();
    assert!(f.info.checksum_verified);
    assert!(recorder.warnings.lock().unwrap().is_empty());
    let store = wslbox_cache::BlobStore::open(&opts.cache_dir).unwrap();
    assert!(
        store.get(&sha256(&body), None).unwrap().is_some(),
        "cached by digest"
    );

    // The server now fails: the cached copy is used, not the network.
    server.respond("/r.tar.gz", 500);
    let before = server.requests_for("/r.tar.gz").len();
    let f = common::flatten_spec(&spec, &opts, &Default::default()).unwrap();
    assert!(has_os_release(&f));
    assert_eq!(server.requests_for("/r.tar.gz").len(), before);
}

#[test]
fn sha256_url_is_looked_up_by_file_name() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve("/v1/rootfs.tar.gz", body.clone(), Serve::plain());
    server.serve_sha256sums(
        "/v1/SHA256SUMS",
        &[("other.tar.gz", b"x".as_slice()), ("rootfs.tar.gz", &body)],
    );
    let scratch = Scratch::new().unwrap();
    let mut opts = common::file_options(&scratch.path("cache"));
    opts.checksum = Some(Checksum::Sha256Url(server.url("/v1/SHA256SUMS")));
    let spec = format!("tarball:{}", server.url("/v1/rootfs.tar.gz"));
    let f = common::flatten_spec(&spec, &opts, &Default::default()).unwrap();
    assert!(f.info.checksum_verified);

    let missing = format!("tarball:{}", server.url("/v1/renamed.tar.gz"));
    let err = common::flatten_spec(&missing, &opts, &Default::default())
        .err()
        .expect("not listed")
        .to_string();
    assert!(
        err.contains("renamed.tar.gz") && err.contains("rootfs.tar.gz"),
        "{err}"
    );
}

#[test]
fn wrong_bytes_with_a_checksum_leave_nothing_in_the_cache() {
    let body = rootfs();
    let server = FileServer::start();
    server.serve("/r.tar.gz", body.clone(), Serve::plain().corrupt());
    let scratch = Scratch::new().unwrap();
    let mut opts = common::file_options(&scratch.path("cache"));
    opts.checksum = Some(Checksum::Sha256(sha256(&body)));
    let spec = format!("tarball:{}", server.url("/r.tar.gz"));
    let err = common::flatten_spec(&spec, &opts, &Default::default())
        .err()
        .expect("mismatch");
    assert!(
        matches!(err, SourceError::Checksum { .. }),
        "a checksum error, not whatever the bytes decoded to: {err}"
    );
    let store = wslbox_cache::BlobStore::open(&opts.cache_dir).unwrap();
    assert!(store.get(&sha256(&body), None).unwrap().is_none());
    let blobs = opts.cache_dir.join("blobs-v1");
    let leftovers: Vec<_> = walk(&blobs);
    assert!(
        leftovers.is_empty(),
        "nothing left in the cache: {leftovers:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = fs_err::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
