//! The pull protocol against a tiny local server: auth challenges, token refresh, redirects
//! that must not carry credentials, retries, resumable downloads and verification.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use support::{Fixture, Recorder, Reply, Server, range_reply};
use wslbox_cache::{Acquired, BlobStore};
use wslbox_reference::{Platform, Reference};
use wslbox_registry::{
    Client, ClientOptions, CredentialStore, ProxyConfig, RegistryError, RetryPolicy,
};

fn quick_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
        max_total: Duration::from_secs(30),
    }
}

fn options(config_dir: &Path) -> ClientOptions {
    ClientOptions {
        proxy: ProxyConfig::none(),
        retry: quick_retry(3),
        credentials: CredentialStore {
            docker_config_dir: Some(config_dir.to_owned()),
            podman_auth_files: Vec::new(),
            helper_path: Some("".into()),
        },
        ..ClientOptions::default()
    }
}

struct Env {
    _dir: tempfile::TempDir,
    config_dir: std::path::PathBuf,
    store: BlobStore,
}

fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().join("cache")).unwrap();
    let config_dir = dir.path().join("docker");
    Env {
        config_dir,
        store,
        _dir: dir,
    }
}

fn write_auths(config_dir: &Path, registry: &str, user: &str, pass: &str) {
    fs_err::create_dir_all(config_dir).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
    let json = serde_json::json!({ "auths": { registry: { "auth": auth } } });
    fs_err::write(config_dir.join("config.json"), json.to_string()).unwrap();
}

fn reference(server: &Server, fx: &Fixture, selector: &str) -> Reference {
    format!("{}/{}{selector}", server.authority(), fx.repo)
        .parse()
        .unwrap()
}

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

#[tokio::test]
async fn pull_resolves_config_and_downloads_layers_into_the_cache() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let reference = reference(&server, &fx, ":latest");

    let resolved = client
        .resolve(&reference, &amd64(), &env.store)
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
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    let ua = server.seen()[0]
        .header("User-Agent")
        .unwrap_or_default()
        .to_owned();
    assert!(ua.starts_with("wslbox/"), "{ua}");
}

#[tokio::test]
async fn authorization_is_not_sent_to_a_redirect_target_on_another_host() {
    let env = env();
    let fx = Fixture::new();
    let layer = fx.layer.clone();
    let cdn = Server::start("127.0.0.2", move |req, _| range_reply(req, &layer)).await;
    let cdn_url = format!("http://{}/blobs/layer?sig=abc", cdn.authority());
    let f = fx.clone();
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("alice:s3cret")
    );
    let exp = expected.clone();
    let registry = Server::start("127.0.0.1", move |req, _| {
        if req.header("Authorization") != Some(exp.as_str()) {
            return Reply::new(401).header("WWW-Authenticate", r#"Basic realm="test""#);
        }
        if req.path().contains(&f.layer_digest.to_string()) {
            return Reply::new(307).header("Location", cdn_url.clone());
        }
        f.serve(req)
    })
    .await;
    write_auths(&env.config_dir, &registry.authority(), "alice", "s3cret");
    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference(&registry, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    client
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap();

    let layer_requests: Vec<_> = registry
        .seen()
        .into_iter()
        .filter(|r| r.path().contains(&fx.layer_digest.to_string()))
        .collect();
    assert!(
        layer_requests
            .iter()
            .any(|r| r.header("Authorization") == Some(expected.as_str()))
    );
    let cdn_requests = cdn.seen();
    assert_eq!(cdn_requests.len(), 1, "{cdn_requests:?}");
    assert_eq!(
        cdn_requests[0].header("Authorization"),
        None,
        "credentials leaked to the CDN host"
    );
    assert_eq!(cdn_requests[0].path(), "/blobs/layer?sig=abc");
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());
}

#[tokio::test]
async fn anonymous_token_is_scoped_and_refreshed_after_a_401_mid_pull() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let revoked = Arc::new(AtomicBool::new(false));
    let rev = revoked.clone();
    // One server plays registry and token realm; tokens are numbered by issue order.
    let server = Server::start("127.0.0.1", move |req, _| {
        let path = req.path();
        if path.starts_with("/token") {
            // The second token comes as `access_token`, which must be accepted too.
            return if rev.load(Ordering::SeqCst) {
                Reply::json(r#"{"access_token":"second","expires_in":300}"#)
            } else {
                Reply::json(r#"{"token":"first","expires_in":300}"#)
            };
        }
        let challenge = format!(
            r#"Bearer realm="http://{}/token",service="tiny",scope="repository:test/img:pull""#,
            req.header("Host").unwrap()
        );
        match req.header("Authorization") {
            Some("Bearer first")
                if path.contains("/blobs/") && !rev.swap(true, Ordering::SeqCst) =>
            {
                // The first token is revoked just as the blob downloads start.
                Reply::new(401).header("WWW-Authenticate", challenge)
            }
            Some("Bearer first") if !rev.load(Ordering::SeqCst) => f.serve(req),
            Some("Bearer second") => f.serve(req),
            _ => Reply::new(401).header("WWW-Authenticate", challenge),
        }
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    client
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap();
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());

    let tokens: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|r| r.path().starts_with("/token"))
        .collect();
    assert_eq!(
        tokens.len(),
        2,
        "one token, then exactly one refresh: {tokens:?}"
    );
    for t in &tokens {
        assert!(t.target.contains("service=tiny"), "{}", t.target);
        assert!(
            t.target.contains("scope=repository%3Atest%2Fimg%3Apull"),
            "{}",
            t.target
        );
        assert_eq!(
            t.header("Authorization"),
            None,
            "anonymous token requests carry no credentials"
        );
    }
}

#[tokio::test]
async fn token_request_uses_stored_credentials() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("bob:pw")
    );
    let b = basic.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().starts_with("/token") {
            return if req.header("Authorization") == Some(b.as_str()) {
                Reply::json(r#"{"token":"ok"}"#)
            } else {
                Reply::new(401)
            };
        }
        if req.header("Authorization") == Some("Bearer ok") {
            return f.serve(req);
        }
        Reply::new(401).header(
            "WWW-Authenticate",
            format!(
                r#"Bearer realm="http://{}/token",service="tiny""#,
                req.header("Host").unwrap()
            ),
        )
    })
    .await;
    write_auths(&env.config_dir, &server.authority(), "bob", "pw");
    let client = Client::new(options(&env.config_dir)).unwrap();
    client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    let token_req = server
        .seen()
        .into_iter()
        .find(|r| r.path().starts_with("/token"))
        .unwrap();
    assert!(
        token_req.target.contains("account=bob"),
        "{}",
        token_req.target
    );
}

#[tokio::test]
async fn refused_credentials_name_the_registry_and_suggest_login() {
    let env = env();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| {
        Reply::new(401).header("WWW-Authenticate", r#"Basic realm="r""#)
    })
    .await;
    write_auths(&env.config_dir, &server.authority(), "eve", "wrong");
    let client = Client::new(options(&env.config_dir)).unwrap();
    let err = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&server.authority()) && msg.contains("wslbox login"),
        "{msg}"
    );
}

#[tokio::test]
async fn basic_registry_without_credentials_suggests_login() {
    let env = env();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| {
        Reply::new(401).header("WWW-Authenticate", r#"Basic realm="r""#)
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let err = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("wslbox login {}", server.authority())),
        "{err}"
    );
}

#[tokio::test]
async fn missing_tag_names_the_tag_and_repository() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let err = client
        .resolve(&reference(&server, &fx, ":nope"), &amd64(), &env.store)
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
    let env = env();
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
    let client = Client::new(options(&env.config_dir)).unwrap();
    let pinned = reference(&server, &fx, &format!("@{}", fx.manifest_digest));
    let err = client
        .resolve(&pinned, &amd64(), &env.store)
        .await
        .unwrap_err();
    match &err {
        RegistryError::ManifestDigestMismatch { expected, .. } => {
            assert_eq!(expected, &fx.manifest_digest)
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn corrupt_layer_is_rejected_naming_both_digests_and_not_cached() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().contains(&f.layer_digest.to_string()) {
            let mut bad = f.layer.clone();
            bad[1000] ^= 0xff;
            return Reply::new(200).body(bad);
        }
        f.serve(req)
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    let err = client
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap_err();
    let msg = err.to_string();
    let mut bad = fx.layer.clone();
    bad[1000] ^= 0xff;
    assert!(msg.contains(&fx.layer_digest.to_string()), "{msg}");
    assert!(msg.contains(&support::sha256(&bad).to_string()), "{msg}");
    assert_eq!(env.store.get(&fx.layer_digest, None).unwrap(), None);
}

#[tokio::test]
async fn interrupted_layer_download_resumes_with_a_range_request() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let cut = AtomicBool::new(false);
    let server = Server::start("127.0.0.1", move |req, _| {
        let mut reply = f.serve(req);
        if req.path().contains(&f.layer_digest.to_string()) && !cut.swap(true, Ordering::SeqCst) {
            reply.cut_after = Some(100_000); // the connection drops mid-body
        }
        reply
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    client
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap();
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());
    let ranges: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|r| r.path().contains(&fx.layer_digest.to_string()))
        .map(|r| r.header("Range").map(str::to_owned))
        .collect();
    assert_eq!(ranges.len(), 2, "{ranges:?}");
    assert_eq!(ranges[0], None);
    let resumed_at: u64 = ranges[1]
        .as_deref()
        .unwrap()
        .strip_prefix("bytes=")
        .unwrap()
        .trim_end_matches('-')
        .parse()
        .unwrap();
    assert!(resumed_at > 0 && resumed_at <= 100_000, "{resumed_at}");
}

#[tokio::test]
async fn partial_from_an_earlier_run_restarts_when_the_server_ignores_range() {
    let env = env();
    let fx = Fixture::new();
    // An earlier, interrupted run left a partial behind.
    match env
        .store
        .acquire(&fx.layer_digest, Some(fx.layer.len() as u64))
        .unwrap()
    {
        Acquired::Write(mut w) => w.write_chunk(&fx.layer[..5000]).unwrap(),
        Acquired::Cached(_) => unreachable!(),
    }
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().contains(&f.layer_digest.to_string()) {
            return Reply::new(200).body(f.layer.clone()); // no Range support
        }
        f.serve(req)
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    let recorder = Recorder::default();
    client
        .fetch_blobs(&resolved, &env.store, &recorder)
        .await
        .unwrap();
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());
    let layer_req = server
        .seen()
        .into_iter()
        .find(|r| r.path().contains(&fx.layer_digest.to_string()))
        .unwrap();
    assert_eq!(layer_req.header("Range"), Some("bytes=5000-"));
    assert!(
        recorder
            .events
            .lock()
            .unwrap()
            .contains(&format!("reset {}", fx.layer_digest.short()))
    );
}

#[tokio::test]
async fn rate_limit_is_retried_after_the_servers_retry_after() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, n| {
        if n == 0 {
            return Reply::new(429).header("Retry-After", "1");
        }
        f.serve(req)
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].path(),
        seen[1].path(),
        "the rate-limited request was repeated"
    );
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let env = env();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| Reply::new(503).body("try later")).await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let err = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("try later"), "{err}");
    assert_eq!(server.seen().len(), 3, "max_attempts is 3");
}

#[tokio::test]
async fn retry_after_beyond_the_time_budget_is_not_waited_for() {
    let env = env();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| {
        Reply::new(429).header("Retry-After", "3600")
    })
    .await;
    let client = Client::new(options(&env.config_dir)).unwrap();
    let err = client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn refused_connection_names_the_host_and_gives_a_hint() {
    let env = env();
    // Bind and drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new(options(&env.config_dir)).unwrap();
    let reference: Reference = format!("127.0.0.1:{port}/a/b:latest").parse().unwrap();
    let err = client
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Connection { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("check"),
        "{msg}"
    );
}

#[tokio::test]
async fn non_loopback_registry_uses_https_unless_marked_insecure() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let port = server.addr.port();
    let name = format!("registry.example:{port}");
    let reference: Reference = format!("{name}/{}:latest", fx.repo).parse().unwrap();
    let pinned = vec![("registry.example".to_owned(), "127.0.0.1".parse().unwrap())];

    let secure = Client::new(ClientOptions {
        resolve: pinned.clone(),
        ..options(&env.config_dir)
    })
    .unwrap();
    let err = secure
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("--insecure-registry"), "{err}");
    assert!(
        server.seen().is_empty(),
        "no plain HTTP request without --insecure-registry"
    );

    let insecure = Client::new(ClientOptions {
        resolve: pinned,
        insecure_registries: vec![name.clone()],
        ..options(&env.config_dir)
    })
    .unwrap();
    insecure
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap();
    assert!(!server.seen().is_empty());
}

#[tokio::test]
async fn http_proxy_is_used_except_for_no_proxy_hosts() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let registry = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let f = fx.clone();
    let proxy = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let port = registry.addr.port();
    let name = format!("registry.example:{port}");
    let reference: Reference = format!("{name}/{}:latest", fx.repo).parse().unwrap();
    let base = ClientOptions {
        resolve: vec![("registry.example".to_owned(), "127.0.0.1".parse().unwrap())],
        insecure_registries: vec![name.clone()],
        ..options(&env.config_dir)
    };
    let proxy_url = format!("http://{}", proxy.authority());

    let proxied = ProxyConfig {
        http: Some(proxy_url.clone()),
        https: None,
        no_proxy: Some("other.example".into()),
    };
    let client = Client::new(ClientOptions {
        proxy: proxied,
        ..base.clone()
    })
    .unwrap();
    client
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap();
    let via_proxy = proxy.seen();
    assert!(!via_proxy.is_empty());
    assert!(
        via_proxy[0]
            .target
            .starts_with(&format!("http://{name}/v2/")),
        "{}",
        via_proxy[0].target
    );
    assert!(registry.seen().is_empty());

    let bypass = ProxyConfig {
        http: Some(proxy_url),
        https: None,
        no_proxy: Some("foo.test, registry.example".into()),
    };
    let client = Client::new(ClientOptions {
        proxy: bypass,
        ..base
    })
    .unwrap();
    let before = proxy.seen().len();
    client
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap();
    assert_eq!(
        proxy.seen().len(),
        before,
        "NO_PROXY host went through the proxy"
    );
    assert!(!registry.seen().is_empty());
}

#[tokio::test]
async fn foreign_layer_is_refused_unless_allowed() {
    let env = env();
    let fx = Fixture::new();
    let layer = fx.layer.clone();
    let foreign = Server::start("127.0.0.2", move |req, _| range_reply(req, &layer)).await;
    let url = format!("http://{}/foreign.tar", foreign.authority());
    // Same image, but its layer is a foreign one with a URL.
    let mut manifest: serde_json::Value = serde_json::from_slice(&fx.manifest).unwrap();
    manifest["layers"][0]["urls"] = serde_json::json!([url]);
    manifest["layers"][0]["mediaType"] =
        "application/vnd.oci.image.layer.nondistributable.v1.tar".into();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let fx = Fixture {
        manifest_digest: support::sha256(&bytes),
        manifest: bytes,
        ..fx
    };
    let f = fx.clone();
    let registry = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let reference = reference(&registry, &fx, ":latest");

    let client = Client::new(options(&env.config_dir)).unwrap();
    let resolved = client
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap();
    let err = client
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::ForeignLayer { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&fx.layer_digest.to_string()),
        "{err}"
    );

    let allowing = Client::new(ClientOptions {
        allow_foreign_layers: true,
        ..options(&env.config_dir)
    })
    .unwrap();
    allowing
        .fetch_blobs(&resolved, &env.store, &Recorder::default())
        .await
        .unwrap();
    assert_eq!(foreign.seen().len(), 1);
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());
}

#[tokio::test]
async fn two_concurrent_pulls_into_one_cache_download_each_blob_once() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| f.serve(req)).await;
    let reference = reference(&server, &fx, ":latest");
    // Two clients, as two wslbox processes would be, sharing one cache directory.
    let (a, b) = (
        Client::new(options(&env.config_dir)).unwrap(),
        Client::new(options(&env.config_dir)).unwrap(),
    );
    let store_b = BlobStore::open(env.store.root()).unwrap();
    let resolved = a.resolve(&reference, &amd64(), &env.store).await.unwrap();
    let (ra, rb) = (Recorder::default(), Recorder::default());
    let (x, y) = tokio::join!(
        a.fetch_blobs(&resolved, &env.store, &ra),
        b.fetch_blobs(&resolved, &store_b, &rb)
    );
    x.unwrap();
    y.unwrap();
    let layer_gets = server
        .seen()
        .iter()
        .filter(|r| r.path().contains(&fx.layer_digest.to_string()))
        .count();
    assert_eq!(
        layer_gets, 1,
        "the second pull waited for the first and reused its blob"
    );
    assert!(env.store.verify(&fx.layer_digest, None).unwrap().is_some());
}

#[tokio::test]
async fn identity_token_is_exchanged_with_an_oauth2_refresh_token_post() {
    let env = env();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().starts_with("/token") {
            return if req.method == "POST" {
                Reply::json(r#"{"access_token":"from-refresh"}"#)
            } else {
                Reply::new(405)
            };
        }
        if req.header("Authorization") == Some("Bearer from-refresh") {
            return f.serve(req);
        }
        let realm = format!("http://{}/token", req.header("Host").unwrap());
        Reply::new(401).header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{realm}",service="tiny""#),
        )
    })
    .await;
    fs_err::create_dir_all(&env.config_dir).unwrap();
    let config = serde_json::json!({ "auths": { server.authority(): { "identitytoken": "refresh-secret" } } });
    fs_err::write(env.config_dir.join("config.json"), config.to_string()).unwrap();
    let client = Client::new(options(&env.config_dir)).unwrap();
    client
        .resolve(&reference(&server, &fx, ":latest"), &amd64(), &env.store)
        .await
        .unwrap();

    let post = server
        .seen()
        .into_iter()
        .find(|r| r.path().starts_with("/token"))
        .unwrap();
    assert_eq!(post.method, "POST");
    assert_eq!(
        post.header("Content-Type"),
        Some("application/x-www-form-urlencoded")
    );
    let form: std::collections::HashMap<String, String> = url::form_urlencoded::parse(&post.body)
        .into_owned()
        .collect();
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "refresh-secret");
    assert_eq!(form["service"], "tiny");
    assert_eq!(form["scope"], "repository:test/img:pull");
}

#[tokio::test]
async fn https_proxy_tunnels_https_registries_with_connect() {
    let env = env();
    // The "proxy" refuses the tunnel; what matters is that it was asked for one.
    let proxy = Server::start("127.0.0.1", |_, _| Reply::new(502)).await;
    let options = ClientOptions {
        proxy: ProxyConfig {
            http: None,
            https: Some(format!("http://{}", proxy.authority())),
            no_proxy: None,
        },
        ..options(&env.config_dir)
    };
    let client = Client::new(options).unwrap();
    let reference: Reference = "registry.example/a/b:latest".parse().unwrap();
    let err = client
        .resolve(&reference, &amd64(), &env.store)
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Connection { .. }), "{err:?}");
    let seen = proxy.seen();
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, "registry.example:443");
}
