//! The registry-side fuzz targets' invariants on stable, over their committed seed corpora and
//! generated cases: `WWW-Authenticate` (`fuzz/src/challenge.rs`), token responses
//! (`fuzz/src/token.rs`), and the credential files config.json / auth.json and
//! registries.conf (`fuzz/src/credentials.rs`).

#[allow(dead_code)]
#[path = "../../../fuzz/src/cases.rs"]
mod cases;
#[path = "../../../fuzz/src/challenge.rs"]
mod challenge_check;
#[path = "../../../fuzz/src/credentials.rs"]
mod credentials_check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;
#[path = "../../../fuzz/src/token.rs"]
mod token_check;

use base64::Engine as _;
use cases::{chance, mutate, string};
use challenge_check::Style;
use rng::Rng;
use serde_json::{Value, json};

const TOKEN_CHARS: &str = "abcXYZ019!#$%&'*+-.^_`|~";
const VALUE_CHARS: &str = "ab:/=,; \t\"\\é\u{1}xyz.?&";

fn style(rng: &mut Rng) -> Style {
    Style {
        quote: chance(rng, 2),
        escape_all: chance(rng, 8),
        space_before_comma: chance(rng, 6),
        space_after_comma: chance(rng, 2),
        space_around_equals: chance(rng, 8),
    }
}

type Challenges = Vec<(String, Vec<(String, String)>)>;

fn challenges(rng: &mut Rng) -> Challenges {
    (0..1 + rng.below(3))
        .map(|_| {
            let scheme = match rng.below(4) {
                0 => "Bearer".to_owned(),
                1 => "basic".to_owned(),
                _ => {
                    let len = 1 + rng.below(8);
                    string(rng, TOKEN_CHARS, len)
                }
            };
            let mut seen = std::collections::BTreeSet::new();
            let params = (0..rng.below(5))
                .filter_map(|_| {
                    let name = match rng.below(4) {
                        0 => "realm".to_owned(),
                        1 => "Service".to_owned(),
                        2 => "scope".to_owned(),
                        _ => {
                            let len = 1 + rng.below(6);
                            string(rng, TOKEN_CHARS, len)
                        }
                    };
                    let value = match rng.below(3) {
                        0 => "https://auth.docker.io/token".to_owned(),
                        1 => "repository:library/alpine:pull,push".to_owned(),
                        _ => {
                            let len = rng.below(12);
                            string(rng, VALUE_CHARS, len)
                        }
                    };
                    seen.insert(name.to_ascii_lowercase())
                        .then_some((name, value))
                })
                .collect();
            (scheme, params)
        })
        .collect()
}

#[test]
fn www_authenticate_seed_corpus_keeps_the_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "www_authenticate") {
        eprintln!("{name}");
        challenge_check::check_bytes(&bytes);
    }
}

#[test]
fn generated_www_authenticate_headers_round_trip() {
    let mut rng = Rng(0x5eed_0000_0000_00c1);
    for case in 0..5000 {
        let c = challenges(&mut rng);
        let styles: Vec<Style> = (0..3).map(|_| style(&mut rng)).collect();
        challenge_check::check_round_trip(&c, &styles);
        if case % 2 == 1 {
            let header = challenge_check::render(&c, &styles);
            let bytes = mutate(&mut rng, header.into_bytes(), &["\"", "\\", ",", "=", " "]);
            challenge_check::check_bytes(&bytes);
        }
    }
}

#[test]
fn token_response_seed_corpus_keeps_the_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "token_response") {
        eprintln!("{name}");
        token_check::check_body(&bytes);
    }
}

#[test]
fn generated_token_responses_keep_the_invariant() {
    let mut rng = Rng(0x5eed_0000_0000_00c2);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..4000 {
        let mut doc = serde_json::Map::new();
        for key in ["token", "access_token"] {
            if chance(&mut rng, 2) {
                let v = match rng.below(8) {
                    0 => json!(""),
                    1 => json!(42),
                    2 => json!("tok\nen"),
                    _ => {
                        let len = 1 + rng.below(40);
                        json!(string(&mut rng, "abcXYZ0189-_.=", len))
                    }
                };
                doc.insert(key.into(), v);
            }
        }
        if chance(&mut rng, 2) {
            let v = match rng.below(7) {
                0 => json!(u64::MAX),
                1 => json!(0),
                2 => json!(-1),
                3 => json!(1.5),
                4 => json!(u64::MAX / 1000),
                _ => json!(rng.below(100_000)),
            };
            doc.insert("expires_in".into(), v);
        }
        doc.insert("issued_at".into(), json!("2024-01-01T00:00:00Z"));
        let mut body = serde_json::to_vec(&Value::Object(doc)).unwrap();
        if case % 3 == 2 {
            body = mutate(&mut rng, body, &["\"", "9", "{", "}", "e9"]);
        }
        total += 1;
        if token_check::check_body(&body) {
            accepted += 1;
        }
    }
    assert!(accepted * 4 > total, "only {accepted} of {total} accepted");
}

fn auth_entry(rng: &mut Rng, secret: &str) -> Value {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    match rng.below(7) {
        0 => json!({ "auth": b64(&format!("user:{secret}")) }),
        1 => json!({ "auth": format!(" {} ", b64(&format!("user:{secret}"))) }),
        2 => json!({ "auth": format!("{secret}!!") }),
        3 => json!({ "auth": b64(secret) }),
        4 => json!({ "username": "user", "password": secret }),
        5 => json!({ "identitytoken": secret, "auth": b64(&format!("u:{secret}")) }),
        _ => json!({ "username": "user", "password": secret, "email": "e@example.com" }),
    }
}

fn config_json(rng: &mut Rng) -> Value {
    let keys = [
        "https://index.docker.io/v1/",
        "docker.io",
        "ghcr.io",
        "https://ghcr.io",
        "localhost:5000",
        "quay.io/org",
        "registry.example.com",
    ];
    let mut auths = serde_json::Map::new();
    for _ in 0..rng.below(4) {
        let secret = format!("s3cr3t-{}", string(rng, "abcdef0123", 10));
        auths.insert(rng.pick(&keys).to_string(), auth_entry(rng, &secret));
    }
    let mut doc = json!({ "auths": auths });
    if chance(rng, 4) {
        doc["credsStore"] = json!(rng.pick(&["desktop", "", "pass"]));
    }
    if chance(rng, 4) {
        doc["credHelpers"] = json!({ rng.pick(&keys).to_string(): "ecr-login" });
    }
    if chance(rng, 10) {
        doc["auths"] = json!(["not", "an", "object"]);
    }
    doc
}

#[test]
fn credential_config_seed_corpus_keeps_the_invariant() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "credential_config") {
        eprintln!("{name}");
        credentials_check::check_config_json(&bytes, dir.path());
    }
}

#[test]
fn generated_credential_configs_never_show_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x5eed_0000_0000_00c3);
    let mut found = 0;
    for case in 0..1500 {
        let mut text = serde_json::to_vec_pretty(&config_json(&mut rng)).unwrap();
        if case % 3 == 2 {
            text = mutate(&mut rng, text, &["\"", ":", "{", "}", "\\u0000", "=="]);
        }
        found += credentials_check::check_config_json(&text, dir.path());
    }
    assert!(found > 500, "only {found} lookups found a credential");
}

fn registries_conf(rng: &mut Rng) -> String {
    let mut s = String::new();
    if chance(rng, 5) {
        s.push_str("unqualified-search-registries = [\"docker.io\"]\n");
    }
    for _ in 0..1 + rng.below(3) {
        s.push_str("[[registry]]\n");
        let prefix = rng.pick(&[
            "docker.io",
            "docker.io/library",
            "quay.io",
            "",
            "  x.io/ ",
            "*.example.com",
        ]);
        s.push_str(&format!(
            "{} = \"{prefix}\"\n",
            rng.pick(&["prefix", "location"])
        ));
        for flag in ["insecure", "blocked", "mirror-by-digest-only"] {
            if chance(rng, 4) {
                s.push_str(&format!("{flag} = true\n"));
            }
        }
        for _ in 0..rng.below(3) {
            let location = rng.pick(&[
                "mirror.example.com",
                "mirror.example.com:5000/dockerhub",
                "https://m.corp/v2/hub/",
                "http://127.0.0.1:5001",
                "m.corp/v2ray",
                "https://user@m.corp",
                "https://:secret@m.corp/p",
                "https://m.corp/?q=1",
                "ftp://m.corp",
                "hub=m.corp",
                "",
            ]);
            s.push_str(&format!("[[registry.mirror]]\nlocation = \"{location}\"\n"));
            if chance(rng, 3) {
                s.push_str("insecure = true\n");
            }
            if chance(rng, 3) {
                let pull = rng.pick(&["all", "digest-only", "tag-only", "never"]);
                s.push_str(&format!("pull-from-mirror = \"{pull}\"\n"));
            }
        }
    }
    s
}

#[test]
fn registries_conf_seed_corpus_keeps_the_invariant() {
    for (name, bytes) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "registries_conf") {
        eprintln!("{name}");
        let text = String::from_utf8_lossy(&bytes);
        credentials_check::check_registries_conf(&text);
    }
}

#[test]
fn generated_registries_confs_have_only_valid_mirrors() {
    let mut rng = Rng(0x5eed_0000_0000_00c4);
    let (mut mirrors, mut accepted) = (0, 0);
    for case in 0..3000 {
        let mut text = registries_conf(&mut rng).into_bytes();
        if case % 3 == 2 {
            text = mutate(&mut rng, text, &["\"", "=", "[", "]", "\n", "/", "@", ":"]);
        }
        let text = String::from_utf8_lossy(&text);
        if let Some(n) = credentials_check::check_registries_conf(&text) {
            accepted += 1;
            mirrors += n;
        }
        for line in text.lines() {
            if let Some(loc) = line.strip_prefix("location = ") {
                credentials_check::check_mirror(loc.trim_matches('"'));
            }
        }
    }
    assert!(
        accepted > 300 && mirrors > 300,
        "{accepted} files, {mirrors} mirrors accepted"
    );
}
