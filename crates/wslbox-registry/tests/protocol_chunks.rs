//! Big blobs in bounded `Range` chunks over several connections, against a tiny local server
//! that can misbehave per request: byte-exact and verified, within the `--jobs` budget, one
//! stream when the server ignores `Range`, a dropped chunk re-asked for its rest, a corrupt
//! chunk failing the digest with nothing left behind, and a partial resumed in chunks.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use support::client::{Env, basic, latest};
use support::{Fixture, Reply, Seen, Server, range_reply, requested_range};
use wslbox_cache::{Acquired, CacheError};
use wslbox_registry::{ChunkPolicy, Client, RegistryError};

/// 64 KiB chunks, so the fixture's 300,000-byte layer comes in five.
const CHUNK: u64 = 64 * 1024;

fn chunked_client(env: &Env, jobs: usize) -> Client {
    Client::new(wslbox_registry::ClientOptions {
        jobs,
        chunks: ChunkPolicy {
            chunk_size: CHUNK,
            min_blob: 100_000,
        },
        ..env.options()
    })
    .unwrap()
}

/// Every range the layer was asked for, in request order (`None`: no `Range` header).
fn layer_ranges(server: &Server, fx: &Fixture) -> Vec<Option<String>> {
    server
        .requests_to(&fx.layer_digest)
        .into_iter()
        .map(|r| r.header("Range").map(str::to_owned))
        .collect()
}

fn chunk_starting_at(req: &Seen, fx: &Fixture, start: usize) -> bool {
    fx.is_layer(req) && requested_range(req, fx.layer.len()).is_some_and(|(s, _)| s == start)
}

async fn fetch(
    env: &Env,
    client: &Client,
    server: &Server,
    fx: &Fixture,
) -> Result<(), RegistryError> {
    let resolved = env.resolve_with(client, &latest(server, fx)).await.unwrap();
    env.fetch(client, &resolved).await
}

#[tokio::test]
async fn big_blob_comes_in_bounded_chunks_over_several_connections_within_the_budget() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        let mut reply = f.serve(req);
        if f.is_layer(req) {
            reply.pause = Some(Duration::from_millis(150)); // so the chunks overlap in time
        }
        reply
    })
    .await;
    fetch(&env, &chunked_client(&env, 3), &server, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));

    let mut ranges: Vec<String> = layer_ranges(&server, &fx)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ranges.sort_by_key(|r| r[6..].split('-').next().unwrap().parse::<u64>().unwrap());
    let expected: Vec<String> = [0u64, 65536, 131072, 196608, 262144]
        .iter()
        .map(|&s| format!("bytes={s}-{}", (s + CHUNK).min(300_000) - 1))
        .collect();
    assert_eq!(ranges, expected, "each chunk once, every range bounded");
    let most = server.max_in_flight();
    assert!(
        (2..=3).contains(&most),
        "{most} answers at once with --jobs 3"
    );
}

#[tokio::test]
async fn a_blob_below_the_threshold_comes_over_one_plain_request() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    // The default threshold (8 MiB) is far above the fixture's layer.
    fetch(&env, &env.client(), &server, &fx).await.unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    assert_eq!(layer_ranges(&server, &fx), vec![None]);
}

#[tokio::test]
async fn a_registry_that_ignores_range_is_read_in_one_stream() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if f.is_layer(req) {
            return Reply::new(200).body(f.layer.clone()); // Range ignored, as some servers do
        }
        f.serve(req)
    })
    .await;
    fetch(&env, &chunked_client(&env, 4), &server, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    // The first chunk was the probe; its whole-blob answer was used as the stream.
    assert_eq!(
        layer_ranges(&server, &fx),
        vec![Some(format!("bytes=0-{}", CHUNK - 1))]
    );
}

#[tokio::test]
async fn a_later_chunk_answered_whole_falls_back_to_one_stream_from_the_written_prefix() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if chunk_starting_at(req, &f, 131072) {
            return Reply::new(200).body(f.layer.clone()); // this CDN node ignores Range
        }
        f.serve(req)
    })
    .await;
    fetch(&env, &chunked_client(&env, 1), &server, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    // One connection: chunks 0 and 1 in order, chunk 2 answered whole, then one stream
    // resuming after the two chunks already written.
    assert_eq!(
        layer_ranges(&server, &fx),
        vec![
            Some("bytes=0-65535".to_owned()),
            Some("bytes=65536-131071".to_owned()),
            Some("bytes=131072-196607".to_owned()),
            Some("bytes=131072-".to_owned()),
        ]
    );
}

#[tokio::test]
async fn a_chunk_dropped_mid_way_is_asked_again_for_its_rest_only() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let cut = AtomicBool::new(false);
    let server = Server::start("127.0.0.1", move |req, _| {
        let mut reply = range_reply(req, &f.layer);
        if !f.is_layer(req) {
            return f.serve(req);
        }
        if chunk_starting_at(req, &f, 131072) && !cut.swap(true, Ordering::SeqCst) {
            reply.cut_after = Some(10_000); // the connection drops mid-chunk
        }
        reply
    })
    .await;
    fetch(&env, &chunked_client(&env, 2), &server, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    let ranges = layer_ranges(&server, &fx);
    assert_eq!(ranges.len(), 6, "{ranges:?}");
    assert!(
        ranges.contains(&Some("bytes=141072-196607".to_owned())),
        "the retry asks for the rest of that chunk: {ranges:?}"
    );
}

#[tokio::test]
async fn a_corrupt_chunk_fails_the_digest_and_leaves_nothing_behind() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        let mut reply = f.serve(req);
        if chunk_starting_at(req, &f, 65536) {
            reply.body[100] ^= 0xff; // one flipped byte in the second chunk
        }
        reply
    })
    .await;
    let err = fetch(&env, &chunked_client(&env, 4), &server, &fx)
        .await
        .unwrap_err();
    match &err {
        RegistryError::Blob {
            digest,
            source: CacheError::DigestMismatch { .. },
            ..
        } => assert_eq!(digest, &fx.layer_digest),
        other => panic!("expected a digest mismatch for the layer, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&fx.layer_digest.to_string()),
        "{err}"
    );
    assert!(env.store.get(&fx.layer_digest, None).unwrap().is_none());
    let left: Vec<_> = walk(env.store.root())
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(fx.layer_digest.hex()))
        .filter(|p| !p.to_string_lossy().ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "nothing of the layer may stay: {left:?}");
}

#[tokio::test]
async fn a_partial_from_an_earlier_run_is_resumed_in_chunks() {
    let env = Env::new();
    let fx = Fixture::new();
    match env
        .store
        .acquire(&fx.layer_digest, Some(fx.layer.len() as u64))
        .unwrap()
    {
        Acquired::Write(mut w) => w.write_chunk(&fx.layer[..100_000]).unwrap(),
        Acquired::Cached(_) => unreachable!(),
    }
    let server = Server::serving(&fx).await;
    fetch(&env, &chunked_client(&env, 2), &server, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    let mut ranges: Vec<String> = layer_ranges(&server, &fx)
        .into_iter()
        .map(Option::unwrap)
        .collect();
    ranges.sort();
    assert_eq!(
        ranges,
        vec![
            "bytes=100000-165535".to_owned(),
            "bytes=165536-231071".to_owned(),
            "bytes=231072-296607".to_owned(),
            "bytes=296608-299999".to_owned(),
        ]
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs_err::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}

#[tokio::test]
async fn chunks_go_straight_to_the_redirect_target_until_it_refuses() {
    let env = Env::new();
    let fx = Fixture::new();
    let layer = fx.layer.clone();
    let refused = AtomicBool::new(false);
    // A CDN on another host whose signed URL "expires" once, on the third chunk.
    let cdn = Server::start("127.0.0.2", move |req, _| {
        if requested_range(req, layer.len()).is_some_and(|(s, _)| s == 131072)
            && !refused.swap(true, Ordering::SeqCst)
        {
            return Reply::new(403).body("Request has expired");
        }
        range_reply(req, &layer)
    })
    .await;
    let cdn_url = format!("http://{}/blobs/layer?sig=abc", cdn.authority());
    let f = fx.clone();
    let registry = Server::start("127.0.0.1", move |req, _| {
        if req.header("Authorization") != Some(basic("alice", "s3cret").as_str()) {
            return Reply::challenge(r#"Basic realm="test""#);
        }
        if f.is_layer(req) {
            return Reply::new(307).header("Location", cdn_url.clone());
        }
        f.serve(req)
    })
    .await;
    env.write_auths(&registry.authority(), "alice", "s3cret");
    fetch(&env, &chunked_client(&env, 1), &registry, &fx)
        .await
        .unwrap();
    assert!(env.has_verified(&fx.layer_digest));
    // The probe and the refused chunk went through the registry; the rest did not.
    let through_registry = registry
        .requests_to(&fx.layer_digest)
        .into_iter()
        .filter(|r| r.header("Authorization").is_some())
        .count();
    assert_eq!(through_registry, 2);
    let cdn_ranges: Vec<_> = cdn
        .seen()
        .iter()
        .map(|r| r.header("Range").unwrap().to_owned())
        .collect();
    assert_eq!(
        cdn_ranges,
        [
            "bytes=0-65535",
            "bytes=65536-131071",
            "bytes=131072-196607",
            "bytes=131072-196607",
            "bytes=196608-262143",
            "bytes=262144-299999",
        ]
    );
    assert!(
        cdn.seen()
            .iter()
            .all(|r| r.header("Authorization").is_none())
    );
}
