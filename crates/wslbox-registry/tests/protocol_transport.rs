//! How the client reaches a registry, against a tiny local server: HTTPS unless a registry is
//! marked insecure, HTTP and HTTPS proxies with `NO_PROXY`, refused connections, and foreign
//! layers fetched from their own URLs only when allowed.

mod support;

use std::net::IpAddr;

use support::client::{Env, latest};
use support::{Fixture, Reply, Server};
use wslbox_reference::Reference;
use wslbox_registry::{Client, ClientOptions, ProxyConfig, RegistryError};

/// `registry.example:<port of server>`, and `fx`'s `:latest` under that name.
fn example_name(server: &Server, fx: &Fixture) -> (String, Reference) {
    let name = format!("registry.example:{}", server.addr.port());
    let reference = format!("{name}/{}:latest", fx.repo).parse().unwrap();
    (name, reference)
}

/// Resolves `registry.example` to 127.0.0.1: the local server under a name the client must
/// treat as a remote registry.
fn example_on_loopback() -> Vec<(String, IpAddr)> {
    vec![("registry.example".to_owned(), "127.0.0.1".parse().unwrap())]
}

#[tokio::test]
async fn refused_connection_names_the_host_and_gives_a_hint() {
    let env = Env::new();
    // Bind and drop to get a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let reference: Reference = format!("127.0.0.1:{port}/a/b:latest").parse().unwrap();
    let err = env
        .resolve_with(&env.client(), &reference)
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
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::serving(&fx).await;
    let (name, reference) = example_name(&server, &fx);

    let secure = Client::new(ClientOptions {
        resolve: example_on_loopback(),
        ..env.options()
    })
    .unwrap();
    let err = env.resolve_with(&secure, &reference).await.unwrap_err();
    assert!(err.to_string().contains("--insecure-registry"), "{err}");
    assert!(
        server.seen().is_empty(),
        "no plain HTTP request without --insecure-registry"
    );

    let insecure = Client::new(ClientOptions {
        resolve: example_on_loopback(),
        insecure_registries: vec![name.clone()],
        ..env.options()
    })
    .unwrap();
    env.resolve_with(&insecure, &reference).await.unwrap();
    assert!(!server.seen().is_empty());
}

#[tokio::test]
async fn http_proxy_is_used_except_for_no_proxy_hosts() {
    let env = Env::new();
    let fx = Fixture::new();
    let registry = Server::serving(&fx).await;
    let proxy = Server::serving(&fx).await;
    let (name, reference) = example_name(&registry, &fx);
    let base = ClientOptions {
        resolve: example_on_loopback(),
        insecure_registries: vec![name.clone()],
        ..env.options()
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
    env.resolve_with(&client, &reference).await.unwrap();
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
    env.resolve_with(&client, &reference).await.unwrap();
    assert_eq!(
        proxy.seen().len(),
        before,
        "NO_PROXY host went through the proxy"
    );
    assert!(!registry.seen().is_empty());
}

#[tokio::test]
async fn https_proxy_tunnels_https_registries_with_connect() {
    let env = Env::new();
    // The "proxy" refuses the tunnel; what matters is that it was asked for one.
    let proxy = Server::start("127.0.0.1", |_, _| Reply::new(502)).await;
    let client = Client::new(ClientOptions {
        proxy: ProxyConfig {
            http: None,
            https: Some(format!("http://{}", proxy.authority())),
            no_proxy: None,
        },
        ..env.options()
    })
    .unwrap();
    let reference: Reference = "registry.example/a/b:latest".parse().unwrap();
    let err = env.resolve_with(&client, &reference).await.unwrap_err();
    assert!(matches!(err, RegistryError::Connection { .. }), "{err:?}");
    let seen = proxy.seen();
    assert_eq!(seen[0].method, "CONNECT");
    assert_eq!(seen[0].target, "registry.example:443");
}

#[tokio::test]
async fn foreign_layer_is_refused_unless_allowed() {
    let env = Env::new();
    let fx = Fixture::new();
    let foreign = Server::other_host_serving_layer(&fx).await;
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
    let registry = Server::serving(&fx).await;

    let client = env.client();
    let resolved = env
        .resolve_with(&client, &latest(&registry, &fx))
        .await
        .unwrap();
    let err = env.fetch(&client, &resolved).await.unwrap_err();
    assert!(matches!(err, RegistryError::ForeignLayer { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&fx.layer_digest.to_string()),
        "{err}"
    );

    let allowing = Client::new(ClientOptions {
        allow_foreign_layers: true,
        ..env.options()
    })
    .unwrap();
    env.fetch(&allowing, &resolved).await.unwrap();
    assert_eq!(foreign.seen().len(), 1);
    assert!(env.has_verified(&fx.layer_digest));
}
