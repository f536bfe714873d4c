//! The plain pull against a tiny local server: resolving the manifest and config, downloading
//! layers into the cache once, verifying what the registry sent, and sharing one cache between
//! concurrent pulls.

mod support;

use std::sync::atomic::Ordering;

use support::client::{Env, amd64, latest, reference};
use support::{Fixture, Recorder, Reply, Server};
use wslbox_cache::BlobStore;
use wslbox_registry::RegistryError;

#[tokio::test]
async fn pull_resolves_config_and_downloads_layers_into_the_cache() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    let client = env.client();

    let resolved = env
        .resolve_with(&client, &latest(&server, &fx))
        .await
        .unwrap();
    assert_eq!(resolved.image.manifest_digest, fx.manifest_digest);
    assert_eq!(resolved.image.index_digest, None);
    assert_eq!(resolved.image.config_digest, fx.config_digest);
    assert_eq!(resolved.image.config.env, ["PATH=/usr/bin", "FIXTURE=1"]);
    assert_eq!(resolved.image.platform, amd64());
    assert_eq!(resolved.image.layers.len(), 1);
    assert_eq!(resolved.manifest.bytes, fx.manifest);
    // Manifest and config are cached as blobs.
    assert_eq!(
        env.store.read(&fx.manifest_digest).unwrap(),
        Some(fx.manifest.clone())
    );
    assert_eq!(
        env.store.read(&fx.config_digest).unwrap(),
        Some(fx.config.clone())
    );

    let recorder = Recorder::default();
    client
        .fetch_blobs(&resolved, &env.store, &recorder)
        .await
        .unwrap();
    assert!(
        env.store
            .verify(&fx.layer_digest, Some(fx.layer.len() as u64))
            .unwrap()
            .is_some()
    );
    assert_eq!(recorder.bytes.load(Ordering::SeqCst), fx.layer.len());
    let events = recorder.events.lock().unwrap().clone();
    assert!(
        events.contains(&format!("done {} cached=false", fx.layer_digest.short())),
        "{events:?}"
    );
    assert!(
        events.contains(&format!("done {} cached=true", fx.config_digest.short())),
        "{events:?}"
    );

    // A second pull downloads nothing.
    let before = server.seen().len();
    let again = Recorder::default();
    client
        .fetch_blobs(&resolved, &env.store, &again)
        .await
        .unwrap();
    assert_eq!(server.seen().len(), before);
    assert_eq!(again.bytes.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn user_agent_names_wslbox() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    env.resolve(&server, &fx).await.unwrap();
    let ua = server.seen()[0]
        .header("User-Agent")
        .unwrap_or_default()
        .to_owned();
    assert!(ua.starts_with("wslbox/"), "{ua}");
}

#[tokio::test]
async fn missing_tag_names_the_tag_and_repository() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    let err = env
        .resolve_with(&env.client(), &reference(&server, &fx, ":nope"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::ManifestNotFound { .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("nope") && msg.contains("test/img"), "{msg}");
}

#[tokio::test]
async fn manifest_not_matching_the_pinned_digest_is_rejected() {
    let env = Env::new();
    let fx = Fixture::new();
    let other = Fixture {
        manifest: b"{\"schemaVersion\":2}".to_vec(),
        ..fx.clone()
    };
    // The registry serves different bytes under the digest the user pinned.
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().contains("/manifests/") {
            return Reply::new(200)
                .header("Content-Type", support::MANIFEST_TYPE)
                .body(other.manifest.clone());
        }
        Reply::new(404)
    })
    .await;
    let pinned = reference(&server, &fx, &format!("@{}", fx.manifest_digest));
    let err = env.resolve_with(&env.client(), &pinned).await.unwrap_err();
    match &err {
        RegistryError::ManifestDigestMismatch { expected, .. } => {
            assert_eq!(expected, &fx.manifest_digest)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_layer_is_rejected_naming_both_digests_and_not_cached() {
    let env = Env::new();
    let fx = Fixture::new();
    let mut bad = fx.layer.clone();
    bad[1000] ^= 0xff;
    let (f, served) = (fx.clone(), bad.clone());
    let server = Server::start("127.0.0.1", move |req, _| {
        if f.is_layer(req) {
            return Reply::new(200).body(served.clone());
        }
        f.serve(req)
    })
    .await;
    let client = env.client();
    let resolved = env
        .resolve_with(&client, &latest(&server, &fx))
        .await
        .unwrap();
    let err = env.fetch(&client, &resolved).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&fx.layer_digest.to_string()), "{msg}");
    assert!(msg.contains(&support::sha256(&bad).to_string()), "{msg}");
    assert_eq!(env.store.get(&fx.layer_digest, None).unwrap(), None);
}

#[tokio::test]
async fn two_concurrent_pulls_into_one_cache_download_each_blob_once() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    // Two clients, as two wslbox processes would be, sharing one cache directory.
    let (a, b) = (env.client(), env.client());
    let store_b = BlobStore::open(env.store.root()).unwrap();
    let resolved = env.resolve_with(&a, &latest(&server, &fx)).await.unwrap();
    let (ra, rb) = (Recorder::default(), Recorder::default());
    let (x, y) = tokio::join!(
        a.fetch_blobs(&resolved, &env.store, &ra),
        b.fetch_blobs(&resolved, &store_b, &rb)
    );
    x.unwrap();
    y.unwrap();
    let layer_gets = server.requests_to(&fx.layer_digest).len();
    assert_eq!(
        layer_gets, 1,
        "the second pull waited for the first and reused its blob"
    );
    assert!(env.has_verified(&fx.layer_digest));
}
