//! The `WWW-Authenticate` parser's fuzzing invariant (`wslbox_registry::challenge`), shared by
//! the `www_authenticate` cargo-fuzz target and
//! `crates/wslbox-registry/tests/fuzz_registry_parsers.rs`.
//!
//! Any header string: no panic, schemes and parameter names come out lowercased tokens, and
//! `AuthChallenge::from_header` agrees with `parse` (Bearer with a realm wins over Basic).
//! A header *built* from random challenges, with quoting, escapes and optional whitespace,
//! parses back to exactly those schemes and parameters ([`check_round_trip`]).

use std::collections::BTreeMap;

use wslbox_registry::challenge::{self, AuthChallenge, Challenge};

const TCHAR: &[u8] = b"!#$%&'*+-.^_`|~";

fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || TCHAR.contains(&b))
}

/// Panics when parsing `header` breaks the invariant.
pub fn check_header(header: &str) {
    let parsed = challenge::parse(header);
    for c in &parsed {
        assert!(is_token(&c.scheme), "scheme {:?} of {header:?}", c.scheme);
        assert_eq!(c.scheme, c.scheme.to_ascii_lowercase());
        for name in c.params.keys() {
            assert!(is_token(name), "param {name:?} of {header:?}");
            assert_eq!(*name, name.to_ascii_lowercase());
        }
    }
    let bearer = parsed
        .iter()
        .find(|c| c.scheme == "bearer")
        .and_then(|c| c.params.get("realm").map(|r| (c, r)));
    let expected = match bearer {
        Some((c, realm)) => Some(AuthChallenge::Bearer {
            realm: realm.clone(),
            service: c.params.get("service").cloned(),
            scope: c.params.get("scope").cloned(),
        }),
        None => parsed
            .iter()
            .find(|c| c.scheme == "basic")
            .map(|c| AuthChallenge::Basic {
                realm: c.params.get("realm").cloned(),
            }),
    };
    assert_eq!(AuthChallenge::from_header(header), expected, "{header:?}");
}

/// How [`render`] writes a value and the spaces around separators.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Quote the value even when it is a token.
    pub quote: bool,
    /// Escape every character inside quotes, not only `"` and `\`.
    pub escape_all: bool,
    pub space_before_comma: bool,
    pub space_after_comma: bool,
    pub space_around_equals: bool,
}

/// Writes `challenges` as a `WWW-Authenticate` value. Names must be tokens; parameter names
/// must be unique within a challenge (case-insensitively), as the parser keeps the last.
pub fn render(challenges: &[(String, Vec<(String, String)>)], style: &[Style]) -> String {
    let mut out = String::new();
    let mut k = 0;
    let mut next = || {
        k += 1;
        style[k % style.len()]
    };
    for (i, (scheme, params)) in challenges.iter().enumerate() {
        let s = next();
        if i > 0 {
            out.push_str(if s.space_before_comma { " ," } else { "," });
            out.push_str(if s.space_after_comma { " " } else { "" });
        }
        out.push_str(scheme);
        for (j, (name, value)) in params.iter().enumerate() {
            let s = next();
            if j == 0 {
                out.push(' ');
            } else {
                out.push_str(if s.space_before_comma { " ," } else { "," });
                out.push_str(if s.space_after_comma { " " } else { "" });
            }
            out.push_str(name);
            out.push_str(if s.space_around_equals { " = " } else { "=" });
            if !s.quote && is_token(value) {
                out.push_str(value);
            } else {
                out.push('"');
                for c in value.chars() {
                    if s.escape_all || c == '"' || c == '\\' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            }
        }
    }
    out
}

/// Panics unless the rendered `challenges` parse back to themselves.
pub fn check_round_trip(challenges: &[(String, Vec<(String, String)>)], style: &[Style]) {
    let header = render(challenges, style);
    check_header(&header);
    let want: Vec<Challenge> = challenges
        .iter()
        .map(|(scheme, params)| Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params: params
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        })
        .collect();
    assert_eq!(challenge::parse(&header), want, "{header}");
}

/// Fuzz input: bytes as a header (lossy UTF-8), and the same bytes read as a recipe for a
/// generated header whose round trip is checked.
pub fn check_bytes(data: &[u8]) {
    check_header(&String::from_utf8_lossy(data));
    check_round_trip(&recipe(data), &styles(data));
}

fn styles(data: &[u8]) -> Vec<Style> {
    let mut v: Vec<Style> = data
        .iter()
        .take(8)
        .map(|&b| Style {
            quote: b & 1 != 0,
            escape_all: b & 2 != 0,
            space_before_comma: b & 4 != 0,
            space_after_comma: b & 8 != 0,
            space_around_equals: b & 16 != 0,
        })
        .collect();
    if v.is_empty() {
        v.push(Style {
            quote: true,
            escape_all: false,
            space_before_comma: false,
            space_after_comma: true,
            space_around_equals: false,
        });
    }
    v
}

/// Challenges from bytes: `|` separates challenges, `;` parameters, the first `=` a name
/// from its value; scheme and names keep only their token characters.
fn recipe(data: &[u8]) -> Vec<(String, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(data);
    let token = |s: &str| -> String {
        s.chars()
            .filter(|c| c.is_ascii_alphanumeric() || TCHAR.contains(&(*c as u8)) && c.is_ascii())
            .collect()
    };
    let mut out = Vec::new();
    for part in text.split('|').take(4) {
        let mut fields = part.split(';');
        let scheme = token(fields.next().unwrap_or_default());
        if scheme.is_empty() {
            continue;
        }
        let mut seen = std::collections::BTreeSet::new();
        let mut params = Vec::new();
        for f in fields.take(6) {
            let (n, v) = f.split_once('=').unwrap_or((f, ""));
            let n = token(n);
            if n.is_empty() || !seen.insert(n.to_ascii_lowercase()) {
                continue;
            }
            params.push((n, v.to_owned()));
        }
        out.push((scheme, params));
    }
    out
}
