//! What wslbox prints, records and publishes for a URL: never its user, password or query.
//!
//! A URL carries credentials in two places: its user info (`https://user:token@host/…`, or a
//! token alone as the user, as GitHub takes it) and its query (the signatures of S3, GCS and
//! Azure presigned URLs, and the blob URLs registries redirect to). wslbox sends them to the
//! URL's own host, but prints `https://***@host/path?***` in messages, progress, `--json`,
//! the image store and pushed labels, so a CI log or a shared registry never holds them.

use url::Url;

/// `url` without its user info and query, each replaced by `***` when there was one.
pub fn redact_url(url: &Url) -> String {
    let mut shown = url.clone();
    let had_user = !url.username().is_empty() || url.password().is_some();
    // A URL that cannot have user info (`data:`, `mailto:`) has none to hide.
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if had_user && let Some(at) = text.find("://") {
        text.insert_str(at + 3, "***@");
    }
    if url.query().is_some() {
        text.push_str("?***");
    }
    text
}

/// [`redact_url`] for text that may be a URL (a `Location` header, a proxy setting, a layer's
/// `urls`, a source as typed). Text with `://` that does not parse (a bad port, a typo) loses
/// its user info and query the same way; a relative reference loses its query. Text without
/// `://` keeps any `@` (`alpine@sha256:…` is a reference, not user info).
pub fn redact_url_text(text: &str) -> String {
    if let Ok(url) = Url::parse(text)
        && url.has_authority()
    {
        return redact_url(&url);
    }
    let (rest, query) = match text.split_once('?') {
        Some((rest, _)) => (rest, "?***"),
        None => (text, ""),
    };
    let Some((scheme, after)) = rest.split_once("://") else {
        return format!("{rest}{query}");
    };
    let authority_end = after.find('/').unwrap_or(after.len());
    let after = match after[..authority_end].rfind('@') {
        Some(at) => &after[at + 1..],
        None => return format!("{scheme}://{after}{query}"),
    };
    format!("{scheme}://***@{after}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(text: &str) -> String {
        redact_url(&Url::parse(text).unwrap())
    }

    #[test]
    fn user_info_and_query_are_hidden() {
        assert_eq!(
            shown("https://alice:s3cr3t@example.com/x.tar?X-Amz-Signature=dead&X-Amz-Date=1"),
            "https://***@example.com/x.tar?***"
        );
        assert_eq!(
            shown("https://ghp_token@raw.example.com/r.tar"),
            "https://***@raw.example.com/r.tar"
        );
        assert_eq!(shown("http://:pw@h:8080/a"), "http://***@h:8080/a");
        assert_eq!(shown("https://h/a?sig=1#frag"), "https://h/a?***");
    }

    #[test]
    fn a_url_without_secrets_is_shown_as_it_is() {
        for url in [
            "https://example.com/rootfs.tar.xz",
            "http://127.0.0.1:5000/v2/team/dev/blobs/sha256:abc",
            "https://[::1]:443/x",
        ] {
            assert_eq!(shown(url), Url::parse(url).unwrap().to_string(), "{url}");
        }
    }

    #[test]
    fn urls_given_as_text_lose_the_same_parts() {
        assert_eq!(redact_url_text("not a url"), "not a url");
        assert_eq!(
            redact_url_text("https://u:p@h/x?q=1"),
            "https://***@h/x?***"
        );
        // Relative `Location`s and settings that do not parse.
        assert_eq!(redact_url_text("/v2/blob?sig=1"), "/v2/blob?***");
        assert_eq!(
            redact_url_text("http://user:p@ss@proxy:bad-port"),
            "http://***@proxy:bad-port"
        );
        assert_eq!(
            redact_url_text("/a/b@c"),
            "/a/b@c",
            "an @ in the path is kept"
        );
        // References are not URLs: their `@` is a digest's.
        for reference in ["alpine@sha256:abc", "host:5000/a@sha256:abc", "debian:13"] {
            assert_eq!(redact_url_text(reference), reference);
        }
    }
}
