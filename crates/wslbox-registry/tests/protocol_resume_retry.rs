//! Surviving a flaky registry, against a tiny local server: resuming a dropped download with
//! `Range`, restarting when the server ignores it, and retrying 429s and 5xx responses within
//! the attempt and time budgets.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};

use support::client::Env;
use support::{Fixture, Reply, Server};
use wslbox_cache::Acquired;
use wslbox_registry::RegistryError;

#[tokio::test]
async fn interrupted_layer_download_resumes_with_a_range_request() {
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let cut = AtomicBool::new(false);
    let server = Server::start("127.0.0.1", move |req, _| {
        let mut reply = f.serve(req);
        if f.is_layer(req) && !cut.swap(true, Ordering::SeqCst) {
            reply.cut_after = Some(100_000); // the connection drops mid-body
        }
        reply
    })
    .await;
    env.pull(&server, &fx).await;
    assert!(env.has_verified(&fx.layer_digest));
    let ranges: Vec<_> = server
        .requests_to(&fx.layer_digest)
        .into_iter()
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
    let env = Env::new();
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
        if f.is_layer(req) {
            return Reply::new(200).body(f.layer.clone()); // no Range support
        }
        f.serve(req)
    })
    .await;
    let recorder = env.pull(&server, &fx).await;
    assert!(env.has_verified(&fx.layer_digest));
    let layer_req = server.requests_to(&fx.layer_digest).remove(0);
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
    let env = Env::new();
    let fx = Fixture::new();
    let f = fx.clone();
    let server = Server::start("127.0.0.1", move |req, n| {
        if n == 0 {
            return Reply::new(429).header("Retry-After", "1");
        }
        f.serve(req)
    })
    .await;
    env.resolve(&server, &fx).await.unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].path(),
        seen[1].path(),
        "the rate-limited request was repeated"
    );
}

#[tokio::test]
async fn server_errors_are_retried_a_bounded_number_of_times() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| Reply::new(503).body("try later")).await;
    let err = env.resolve(&server, &fx).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("try later"), "{err}");
    assert_eq!(server.seen().len(), 3, "max_attempts is 3");
}

#[tokio::test]
async fn retry_after_beyond_the_time_budget_is_not_waited_for() {
    let env = Env::new();
    let fx = Fixture::new();
    let server = Server::start("127.0.0.1", |_, _| {
        Reply::new(429).header("Retry-After", "3600")
    })
    .await;
    let err = env.resolve(&server, &fx).await.unwrap_err();
    assert!(
        matches!(err, RegistryError::Status { status: 429, .. }),
        "{err:?}"
    );
    assert_eq!(server.seen().len(), 1);
}
