//! The token response's fuzzing invariant (`wslbox_registry::Token::parse`, the JSON a token
//! server returns), shared by the `token_response` cargo-fuzz target and
//! `crates/wslbox-registry/tests/fuzz_registry_parsers.rs`.
//!
//! Any body: no panic. An accepted one gives `Bearer <non-empty token>` taken from `token` or
//! else `access_token`, a lifetime of at least a second that can be added to any plausible
//! issue time without overflow (however large `expires_in` is), and a `Debug` that does not
//! show the token.

use std::time::{Duration, Instant};

use wslbox_registry::Token;

/// Panics when parsing `body` breaks the invariant; returns whether it was accepted.
pub fn check_body(body: &[u8]) -> bool {
    let Ok(token) = Token::parse(body) else {
        return false;
    };
    let auth = token.authorization();
    let secret = auth
        .strip_prefix(b"Bearer ")
        .expect("the header is `Bearer <token>`");
    assert!(!secret.is_empty(), "empty token accepted");
    if let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(body) {
        let field = |k: &str| {
            doc.get(k)
                .and_then(|v| v.as_str())
                .filter(|t| !t.is_empty())
        };
        let want = field("token").or(field("access_token"));
        assert_eq!(
            want.map(str::as_bytes),
            Some(secret),
            "token taken from the wrong field"
        );
    }
    assert!(token.lifetime() >= Duration::from_secs(1));
    let now = Instant::now();
    // Also a day from now: a cached token's expiry is compared long after it was issued.
    for issued in [now, now + Duration::from_secs(86_400)] {
        assert!(token.expires(issued) > issued);
    }
    // A fixed text but for the lifetime: no token, however it is crafted, can show in it.
    assert_eq!(
        format!("{token:?}"),
        format!(
            "Token {{ header: \"Bearer <redacted>\", lifetime: {:?} }}",
            token.lifetime()
        )
    );
    true
}
