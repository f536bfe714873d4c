//! `reference_test.go` (TestReferenceParse) with normalized outcomes, and the tag and registry
//! grammar it relies on.

use super::*;

#[test]
fn reference_parse_table_normalized() {
    let f = format!("sha256:{HEX64}");
    let f = f.as_str();
    let sha512 = format!("sha512:{HEX64}{HEX64}");
    check(vec![
        (s("test_com"), hub("library/test_com")),
        (
            s("test.com:tag"),
            ok("docker.io", "library/test.com", Some("tag"), None),
        ),
        (
            s("test.com:5000"),
            ok("docker.io", "library/test.com", Some("5000"), None),
        ),
        (
            s("test.com/repo:tag"),
            ok("test.com", "repo", Some("tag"), None),
        ),
        (s("test:5000/repo"), at("test:5000", "repo")),
        (
            s("test:5000/repo:tag"),
            ok("test:5000", "repo", Some("tag"), None),
        ),
        (
            format!("test:5000/repo@{f}"),
            ok("test:5000", "repo", None, Some(f)),
        ),
        (
            format!("test:5000/repo:tag@{f}"),
            ok("test:5000", "repo", Some("tag"), Some(f)),
        ),
        (
            s(""),
            Expect::Err("repository name must have at least one component"),
        ),
        (s(":justtag"), Expect::Err("missing repository name")),
        (format!("@{f}"), Expect::Err("missing repository name")),
        (
            s("repo@sha256:ffffffffffffffffffffffffffffffffff"),
            Expect::Err("expected 64 lowercase hex characters"),
        ),
        (
            format!("validname@invaliddigest:{HEX64}"),
            Expect::Err("unsupported digest algorithm `invaliddigest`"),
        ),
        (
            s("Uppercase:tag"),
            Expect::Err("repository name must be lowercase"),
        ),
        // Docker's FIXME: an uppercase first element is a registry, so this passes.
        (
            s("Uppercase/lowercase:tag"),
            ok("Uppercase", "lowercase", Some("tag"), None),
        ),
        (
            s("test:5000/Uppercase/lowercase:tag"),
            Expect::Err("repository name must be lowercase"),
        ),
        (
            s("lowercase:Uppercase"),
            ok("docker.io", "library/lowercase", Some("Uppercase"), None),
        ),
        (
            format!("domain/{}:tag", "a".repeat(256)),
            Expect::Err("must not be more than 255 characters"),
        ),
        (
            format!("{}a:tag", "a/".repeat(128)),
            Expect::Err("must not be more than 255 characters"),
        ),
        (
            format!("{}a:tag-puts-this-over-max", "a/".repeat(127)),
            ok(
                "docker.io",
                &format!("{}a", "a/".repeat(127)),
                Some("tag-puts-this-over-max"),
                None,
            ),
        ),
        (
            s("aa/asdf$$^/aa"),
            Expect::Err("character `$` is not allowed"),
        ),
        (
            s("sub-dom1.foo.com/bar/baz/quux"),
            at("sub-dom1.foo.com", "bar/baz/quux"),
        ),
        (
            s("sub-dom1.foo.com/bar/baz/quux:some-long-tag"),
            ok(
                "sub-dom1.foo.com",
                "bar/baz/quux",
                Some("some-long-tag"),
                None,
            ),
        ),
        (
            s("b.gcr.io/test.example.com/my-app:test.example.com"),
            ok(
                "b.gcr.io",
                "test.example.com/my-app",
                Some("test.example.com"),
                None,
            ),
        ),
        (
            s("xn--n3h.com/myimage:xn--n3h.com"),
            ok("xn--n3h.com", "myimage", Some("xn--n3h.com"), None),
        ),
        (
            format!("xn--7o8h.com/myimage:xn--7o8h.com@{sha512}"),
            ok(
                "xn--7o8h.com",
                "myimage",
                Some("xn--7o8h.com"),
                Some(&sha512),
            ),
        ),
        (
            s("foo_bar.com:8080"),
            ok("docker.io", "library/foo_bar.com", Some("8080"), None),
        ),
        (
            s("foo/foo_bar.com:8080"),
            ok("docker.io", "foo/foo_bar.com", Some("8080"), None),
        ),
        (s("192.168.1.1"), hub("library/192.168.1.1")),
        (
            s("192.168.1.1:tag"),
            ok("docker.io", "library/192.168.1.1", Some("tag"), None),
        ),
        (
            s("192.168.1.1:5000"),
            ok("docker.io", "library/192.168.1.1", Some("5000"), None),
        ),
        (s("192.168.1.1/repo"), at("192.168.1.1", "repo")),
        (s("192.168.1.1:5000/repo"), at("192.168.1.1:5000", "repo")),
        (
            s("192.168.1.1:5000/repo:5050"),
            ok("192.168.1.1:5000", "repo", Some("5050"), None),
        ),
        (s("[2001:db8::1]"), Expect::Err("not allowed")),
        (s("[2001:db8::1]:5000"), Expect::Err("not allowed")),
        (s("[2001:db8::1]:tag"), Expect::Err("not allowed")),
        (s("[2001:db8::1]/repo"), at("[2001:db8::1]", "repo")),
        (
            s("[2001:db8:1:2:3:4:5:6]/repo:tag"),
            ok("[2001:db8:1:2:3:4:5:6]", "repo", Some("tag"), None),
        ),
        (
            s("[2001:db8::1]:5000/repo"),
            at("[2001:db8::1]:5000", "repo"),
        ),
        (
            s("[2001:db8::1]:5000/repo:tag"),
            ok("[2001:db8::1]:5000", "repo", Some("tag"), None),
        ),
        (
            format!("[2001:db8::1]:5000/repo@{f}"),
            ok("[2001:db8::1]:5000", "repo", None, Some(f)),
        ),
        (
            format!("[2001:db8::1]:5000/repo:tag@{f}"),
            ok("[2001:db8::1]:5000", "repo", Some("tag"), Some(f)),
        ),
        (s("[2001:db8::]:5000/repo"), at("[2001:db8::]:5000", "repo")),
        (s("[::1]:5000/repo"), at("[::1]:5000", "repo")),
        (s("[fe80::1%eth0]:5000/repo"), Expect::Err("no zone IDs")),
        (
            s("[fe80::1%@invalidzone]:5000/repo"),
            Expect::Err("invalid digest"),
        ),
        (
            format!("example.com/{}:tag", "a".repeat(255)),
            ok("example.com", &"a".repeat(255), Some("tag"), None),
        ),
    ]);
}

#[test]
fn tags_follow_docker_tag_grammar() {
    check(vec![
        (
            format!("alpine:{}", "a".repeat(128)),
            ok("docker.io", "library/alpine", Some(&"a".repeat(128)), None),
        ),
        (
            format!("alpine:{}", "a".repeat(129)),
            Expect::Err("the limit is 128"),
        ),
        (
            s("alpine:_x.y-z"),
            ok("docker.io", "library/alpine", Some("_x.y-z"), None),
        ),
        (
            s("alpine:-x"),
            Expect::Err("must start with a letter, digit or `_`"),
        ),
        (
            s("alpine:.x"),
            Expect::Err("must start with a letter, digit or `_`"),
        ),
        (s("alpine:"), Expect::Err("empty tag after `:`")),
        (s("alpine:Ta g"), Expect::Err("invalid tag `Ta g`")),
        (s("alpine@"), Expect::Err("empty digest after `@`")),
    ]);
}

#[test]
fn registries_that_are_not_host_names_are_refused() {
    // Docker would accept these with an empty domain (the whole string as a path); wslbox cannot
    // pull from an empty registry, so it says what is wrong instead.
    check(vec![
        (
            s("foo_bar.com/x"),
            Expect::Err("character `_` is not allowed in a host name"),
        ),
        (s("a..b/x"), Expect::Err("empty host name label")),
    ]);
}
