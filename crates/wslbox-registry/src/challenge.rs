//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, distribution's token-auth spec).
//!
//! A header may hold several challenges, each a scheme followed by comma-separated
//! `name=value` parameters whose values are tokens or quoted strings (which may contain commas
//! and backslash escapes). Token68 forms are not used by registries and are ignored.

use std::collections::BTreeMap;

/// One parsed challenge: a lowercased scheme and its parameters (names lowercased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub scheme: String,
    pub params: BTreeMap<String, String>,
}

/// What a registry asked for, in the form the client acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthChallenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic {
        realm: Option<String>,
    },
}

impl AuthChallenge {
    /// Picks the challenge to answer from a header value, preferring Bearer over Basic.
    pub fn from_header(value: &str) -> Option<AuthChallenge> {
        let challenges = parse(value);
        let bearer = challenges
            .iter()
            .find(|c| c.scheme == "bearer")
            .and_then(|c| {
                let realm = c.params.get("realm")?.clone();
                Some(AuthChallenge::Bearer {
                    realm,
                    service: c.params.get("service").cloned(),
                    scope: c.params.get("scope").cloned(),
                })
            });
        bearer.or_else(|| {
            challenges
                .iter()
                .find(|c| c.scheme == "basic")
                .map(|c| AuthChallenge::Basic {
                    realm: c.params.get("realm").cloned(),
                })
        })
    }
}

/// Parses every challenge in a `WWW-Authenticate` value.
pub fn parse(value: &str) -> Vec<Challenge> {
    let mut p = Parser {
        s: value.as_bytes(),
        i: 0,
    };
    let mut out = Vec::new();
    loop {
        p.skip(|b| b == b' ' || b == b'\t' || b == b',');
        if p.eof() {
            return out;
        }
        let scheme = p.token();
        if scheme.is_empty() {
            p.i += 1; // not a token character: skip it rather than loop forever
            continue;
        }
        let mut params = BTreeMap::new();
        loop {
            let before = p.i;
            p.skip(|b| b == b' ' || b == b'\t' || b == b',');
            let name = p.token();
            p.skip(|b| b == b' ' || b == b'\t');
            if name.is_empty() || p.peek() != Some(b'=') {
                // Either the end, or the next challenge's scheme: leave it for the outer loop.
                p.i = before;
                break;
            }
            p.i += 1;
            p.skip(|b| b == b' ' || b == b'\t');
            let value = if p.peek() == Some(b'"') {
                p.quoted()
            } else {
                p.token()
            };
            params.insert(name.to_ascii_lowercase(), value);
        }
        out.push(Challenge {
            scheme: scheme.to_ascii_lowercase(),
            params,
        });
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn eof(&self) -> bool {
        self.i >= self.s.len()
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip(&mut self, f: impl Fn(u8) -> bool) {
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
    }

    /// An RFC 9110 `token` (tchar+).
    fn token(&mut self) -> String {
        let start = self.i;
        self.skip(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }

    /// A quoted-string starting at `"`; backslash escapes the next byte. An unterminated
    /// string runs to the end of the header.
    fn quoted(&mut self) -> String {
        self.i += 1;
        let mut out = Vec::new();
        while let Some(b) = self.peek() {
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    if let Some(next) = self.peek() {
                        out.push(next);
                        self.i += 1;
                    }
                }
                _ => out.push(b),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_with_realm_service_and_scope() {
        let h = r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#;
        assert_eq!(
            AuthChallenge::from_header(h),
            Some(AuthChallenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/alpine:pull".into()),
            })
        );
    }

    #[test]
    fn comma_inside_quoted_scope_is_kept() {
        let h =
            r#"Bearer realm="https://t/token", scope="repository:a/b:pull,push", service="reg""#;
        let c = &parse(h)[0];
        assert_eq!(c.params["scope"], "repository:a/b:pull,push");
        assert_eq!(c.params["service"], "reg");
    }

    #[test]
    fn escaped_quote_and_backslash_in_quoted_string() {
        let c = &parse(r#"Basic realm="say \"hi\" \\ ok""#)[0];
        assert_eq!(c.params["realm"], r#"say "hi" \ ok"#);
    }

    #[test]
    fn scheme_and_param_names_are_case_insensitive() {
        let h = r#"BEARER Realm="https://t/token",SERVICE=reg"#;
        assert_eq!(
            AuthChallenge::from_header(h),
            Some(AuthChallenge::Bearer {
                realm: "https://t/token".into(),
                service: Some("reg".into()),
                scope: None
            })
        );
    }

    #[test]
    fn several_challenges_prefer_bearer() {
        let h = r#"Basic realm="Registry Realm", Bearer realm="https://t/token",service="reg""#;
        let all = parse(h);
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].scheme, "basic");
        assert_eq!(all[0].params["realm"], "Registry Realm");
        assert!(matches!(
            AuthChallenge::from_header(h),
            Some(AuthChallenge::Bearer { .. })
        ));
    }

    #[test]
    fn basic_without_params() {
        assert_eq!(
            AuthChallenge::from_header("Basic"),
            Some(AuthChallenge::Basic { realm: None })
        );
    }

    #[test]
    fn whitespace_around_equals_is_tolerated() {
        let c = &parse(r#"Bearer realm = "r" , service = s"#)[0];
        assert_eq!(c.params["realm"], "r");
        assert_eq!(c.params["service"], "s");
    }

    #[test]
    fn bearer_without_realm_is_not_usable() {
        assert_eq!(AuthChallenge::from_header(r#"Bearer service="x""#), None);
    }

    #[test]
    fn garbage_does_not_panic() {
        for h in [
            "",
            ",,,",
            "=",
            "\"",
            "Bearer realm=\"unterminated",
            "Bearer ,=,",
            "(((",
            "Bearer realm=",
        ] {
            let _ = parse(h);
        }
        assert_eq!(
            parse("Bearer realm=\"unterminated")[0].params["realm"],
            "unterminated"
        );
    }
}
