//! Authentication in the pull protocol against a tiny local server: Basic and Bearer
//! challenges, anonymous and credentialed token requests, token refresh after a 401, OAuth2
//! identity tokens, refusals that say what to do, and credentials that must not follow a
//! redirect to another host.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::client::{Env, basic};
use support::{Fixture, Reply, Seen, Server};
use wslbox_registry::RegistryError;

/// A Bearer challenge naming the `/token` realm on the server that got `req`.
fn bearer_challenge(req: &Seen) -> String {
    format!(
        r#"Bearer realm="http://{}/token",service="tiny""#,
        req.header("Host").unwrap()
    )
}

/// A registry with its token realm at `/token`, answered by `token`. Repository requests
/// bearing `token_value` get `fx`; all others get [`bearer_challenge`].
async fn token_registry(
    fx: &Fixture,
    token_value: &str,
    token: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> Server {
    let fx = fx.clone();
    let authorization = format!("Bearer {token_value}");
    Server::start("127.0.0.1", move |req, _| {
        if req.path().starts_with("/token") {
            return token(req);
        }
        if req.header("Authorization") == Some(authorization.as_str()) {
            return fx.serve(req);
        }
        Reply::challenge(bearer_challenge(req))
    })
    .await
}

/// A registry that answers everything with a Basic challenge and accepts no credentials.
async fn refusing_basic_registry() -> Server {
    Server::start("127.0.0.1", |_, _| Reply::challenge(r#"Basic realm="r""#)).await
}

#[tokio::test]
async fn authorization_is_not_sent_to_a_redirect_target_on_another_host() {
    let env = Env::new();
    let fx = Fixture::new();
    let cdn = Server::other_host_serving_layer(&fx).await;
    let cdn_url = format!("http://{}/blobs/layer?sig=abc", cdn.authority());
    let f = fx.clone();
    let expected = basic("alice", "s3cret");
    let exp = expected.clone();
    let registry = Server::start("127.0.0.1", move |req, _| {
        if req.header("Authorization") != Some(exp.as_str()) {
            return Reply::challenge(r#"Basic realm="test""#);
        }
        if f.is_layer(req) {
            return Reply::new(307).header("Location", cdn_url.clone());
        }
        f.serve(req)
    })
    .await;
    env.write_auths(&registry.authority(), "alice", "s3cret");
    env.pull(&registry, &fx).await;

    let layer_requests = registry.requests_to(&fx.layer_digest);
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
    assert!(env.has_verified(&fx.layer_digest));
}

#[tokio::test]
async fn anonymous_token_is_scoped_and_refreshed_after_a_401_mid_pull() {
    let env = Env::new();
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
            r#"{},scope="repository:test/img:pull""#,
            bearer_challenge(req)
        );
        match req.header("Authorization") {
            Some("Bearer first")
                if path.contains("/blobs/") && !rev.swap(true, Ordering::SeqCst) =>
            {
                // The first token is revoked just as the blob downloads start.
                Reply::challenge(challenge)
            }
            Some("Bearer first") if !rev.load(Ordering::SeqCst) => f.serve(req),
            Some("Bearer second") => f.serve(req),
            _ => Reply::challenge(challenge),
        }
    })
    .await;
    env.pull(&server, &fx).await;
    assert!(env.has_verified(&fx.layer_digest));

    let tokens = server.token_requests();
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
    let env = Env::new();
    let fx = Fixture::new();
    let b = basic("bob", "pw");
    let server = token_registry(&fx, "ok", move |req| {
        if req.header("Authorization") == Some(b.as_str()) {
            Reply::json(r#"{"token":"ok"}"#)
        } else {
            Reply::new(401)
        }
    })
    .await;
    env.write_auths(&server.authority(), "bob", "pw");
    env.resolve(&server, &fx).await.unwrap();
    let token_req = server.token_requests().remove(0);
    assert!(
        token_req.target.contains("account=bob"),
        "{}",
        token_req.target
    );
}

#[tokio::test]
async fn identity_token_is_exchanged_with_an_oauth2_refresh_token_post() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = token_registry(&fx, "from-refresh", |req| {
        if req.method == "POST" {
            Reply::json(r#"{"access_token":"from-refresh"}"#)
        } else {
            Reply::new(405)
        }
    })
    .await;
    env.write_docker_config(
        serde_json::json!({ "auths": { server.authority(): { "identitytoken": "refresh-secret" } } }),
    );
    env.resolve(&server, &fx).await.unwrap();

    let post = server.token_requests().remove(0);
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
async fn refused_credentials_name_the_registry_and_suggest_login() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = refusing_basic_registry().await;
    env.write_auths(&server.authority(), "eve", "wrong");
    let err = env.resolve(&server, &fx).await.unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains(&server.authority()) && msg.contains("wslbox login"),
        "{msg}"
    );
}

#[tokio::test]
async fn basic_registry_without_credentials_suggests_login() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = refusing_basic_registry().await;
    let err = env.resolve(&server, &fx).await.unwrap_err();
    assert!(
        err.to_string()
            .contains(&format!("wslbox login {}", server.authority())),
        "{err}"
    );
}
