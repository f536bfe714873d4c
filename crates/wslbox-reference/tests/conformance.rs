//! Conformance with Docker's `distribution/reference`: the case data of its own test tables
//! (`normalize_test.go`: TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo,
//! TestParseReferenceWithTagAndDigest, TestParseAnyReference, TestNormalizedSplitHostname;
//! `reference_test.go`: TestReferenceParse), restated as input → expected normalized result.
//!
//! Every input goes through `ParseNormalizedNamed` + `TagNameOnly` semantics, which is what
//! `docker pull` does; TestReferenceParse cases (written for the un-normalized `Parse`) are
//! restated with their normalized outcome.

use wslbox_reference::{Reference, ReferenceError};

const HEX64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const ID: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

/// Expected outcome of parsing one input.
enum Expect {
    /// registry, repository, tag, digest.
    Ok(String, String, Option<String>, Option<String>),
    /// A fragment the error's reason must contain.
    Err(&'static str),
}

fn ok(registry: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) -> Expect {
    Expect::Ok(
        registry.into(),
        repository.into(),
        tag.map(Into::into),
        digest.map(Into::into),
    )
}

/// Docker Hub, `:latest` added.
fn hub(repository: &str) -> Expect {
    ok("docker.io", repository, Some("latest"), None)
}

fn at(registry: &str, repository: &str) -> Expect {
    ok(registry, repository, Some("latest"), None)
}

fn check(cases: Vec<(String, Expect)>) {
    let mut failures = Vec::new();
    for (input, expect) in &cases {
        let got = input.parse::<Reference>();
        match (expect, &got) {
            (Expect::Ok(registry, repository, tag, digest), Ok(r)) => {
                let same = r.registry() == registry
                    && r.repository() == repository
                    && r.tag() == tag.as_deref()
                    && r.digest().map(ToString::to_string) == *digest;
                if !same {
                    failures.push(format!(
                        "`{input}`: got {}|{}|{:?}|{:?}, expected {registry}|{repository}|{tag:?}|{digest:?}",
                        r.registry(),
                        r.repository(),
                        r.tag(),
                        r.digest().map(ToString::to_string)
                    ));
                }
                // The canonical form must parse back to itself.
                let again: Reference = r.to_string().parse().expect("canonical form parses");
                if again != *r {
                    failures.push(format!("`{input}`: canonical `{r}` does not round-trip"));
                }
            }
            (
                Expect::Err(fragment),
                Err(ReferenceError::Invalid {
                    reason,
                    input: echoed,
                }),
            ) => {
                if !reason.contains(fragment) || echoed != input {
                    failures.push(format!("`{input}`: error `{reason}` lacks `{fragment}`"));
                }
            }
            (Expect::Ok(..), Err(e)) => failures.push(format!("`{input}`: unexpected error: {e}")),
            (Expect::Err(fragment), Ok(r)) => failures.push(format!(
                "`{input}`: parsed as {r}, expected error `{fragment}`"
            )),
            (_, Err(e)) => failures.push(format!("`{input}`: unexpected error kind: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn s(x: &str) -> String {
    x.to_owned()
}

#[test]
fn validate_reference_name_valid_names() {
    check(vec![
        (s("docker/docker"), hub("docker/docker")),
        (s("library/debian"), hub("library/debian")),
        (s("debian"), hub("library/debian")),
        (s("docker.io/docker/docker"), hub("docker/docker")),
        (s("docker.io/library/debian"), hub("library/debian")),
        (s("docker.io/debian"), hub("library/debian")),
        (s("index.docker.io/docker/docker"), hub("docker/docker")),
        (s("index.docker.io/library/debian"), hub("library/debian")),
        (s("index.docker.io/debian"), hub("library/debian")),
        (
            s("127.0.0.1:5000/docker/docker"),
            at("127.0.0.1:5000", "docker/docker"),
        ),
        (
            s("127.0.0.1:5000/library/debian"),
            at("127.0.0.1:5000", "library/debian"),
        ),
        (s("127.0.0.1:5000/debian"), at("127.0.0.1:5000", "debian")),
        // A single element is a Docker Hub name even when it looks like a host.
        (s("192.168.0.1"), hub("library/192.168.0.1")),
        (
            s("192.168.0.1:80"),
            ok("docker.io", "library/192.168.0.1", Some("80"), None),
        ),
        (s("192.168.0.1:8/debian"), at("192.168.0.1:8", "debian")),
        (
            s("192.168.0.2:25000/debian"),
            at("192.168.0.2:25000", "debian"),
        ),
        (
            s("thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
            hub("library/thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev"),
        ),
        (s("[fc00::1]:5000/docker"), at("[fc00::1]:5000", "docker")),
        (
            s("[fc00::1]:5000/docker/docker"),
            at("[fc00::1]:5000", "docker/docker"),
        ),
        (
            s("[fc00:1:2:3:4:5:6:7]:5000/library/debian"),
            at("[fc00:1:2:3:4:5:6:7]:5000", "library/debian"),
        ),
        // With a registry in front a 64-hex name is no longer ambiguous.
        (format!("docker.io/{ID}"), hub(&format!("library/{ID}"))),
        // An uppercase first element is taken as a registry.
        (s("Docker/docker"), at("Docker", "docker")),
        (s("DOCKER/docker"), at("DOCKER", "docker")),
    ]);
}

#[test]
fn validate_reference_name_invalid_names() {
    check(vec![
        (
            s("https://github.com/docker/docker"),
            Expect::Err("registry `https:` has an invalid port"),
        ),
        (
            s("docker/Docker"),
            Expect::Err("repository name must be lowercase"),
        ),
        (
            s("-docker"),
            Expect::Err("must start with a lowercase letter or digit"),
        ),
        (
            s("-docker/docker"),
            Expect::Err("must start with a lowercase letter or digit"),
        ),
        (
            s("-docker.io/docker/docker"),
            Expect::Err("must not start or end with `-`"),
        ),
        (s("docker///docker"), Expect::Err("empty path component")),
        (
            s("docker.io/docker/Docker"),
            Expect::Err("repository name must be lowercase"),
        ),
        (
            s("docker.io/docker///docker"),
            Expect::Err("empty path component"),
        ),
        (s("[fc00::1]"), Expect::Err("character `[` is not allowed")),
        (
            s("[fc00::1]:5000"),
            Expect::Err("character `[` is not allowed"),
        ),
        (s("fc00::1:5000/debian"), Expect::Err("invalid port")),
        (s("[fe80::1%eth0]:5000/debian"), Expect::Err("no zone IDs")),
        (
            s("[2001:db8:3:4::192.0.2.33]:5000/debian"),
            Expect::Err("embedded IPv4"),
        ),
        (s(ID), Expect::Err("ambiguous with an image ID")),
    ]);
}

#[test]
fn validate_remote_name() {
    check(vec![
        (s("docker-rules/docker"), hub("docker-rules/docker")),
        (s("docker---rules/docker"), hub("docker---rules/docker")),
        (s("doc/docker"), hub("doc/docker")),
        (s("d/docker"), hub("d/docker")),
        (s("jess/t"), hub("jess/t")),
        (s("dock__er/docker"), hub("dock__er/docker")),
        (
            s("docker-/docker"),
            Expect::Err("must not end with a separator"),
        ),
        (
            s("-docker-/docker"),
            Expect::Err("must start with a lowercase letter or digit"),
        ),
        (
            s("____/____"),
            Expect::Err("must start with a lowercase letter or digit"),
        ),
        (
            s("_docker/_docker"),
            Expect::Err("must start with a lowercase letter or digit"),
        ),
        (s("dock___er/docker"), Expect::Err("too many separators")),
        // A `.` makes the first element a registry, so these fail as host names.
        (
            s("dock..er/docker"),
            Expect::Err("registry `dock..er`: empty host name label"),
        ),
        (
            s("dock_.er/docker"),
            Expect::Err("character `_` is not allowed in a host name"),
        ),
        (
            s("dock-.er/docker"),
            Expect::Err("must not start or end with `-`"),
        ),
        (s("ns/dock..er"), Expect::Err("too many separators")),
        (s("ns/dock_.er"), Expect::Err("too many separators")),
        (s("ns/dock-.er"), Expect::Err("too many separators")),
        (s("docker/"), Expect::Err("empty path component")),
        (
            format!(
                "{}/docker",
                ["this_is_not_a_valid_namespace_because_its_lenth_is_greater_than_255"; 4]
                    .join("_")
            ),
            Expect::Err("must not be more than 255 characters"),
        ),
    ]);
}

#[test]
fn parse_repository_info_familiar_full_and_ambiguous_forms() {
    // (registry, path, spellings that must all normalize to it)
    let table: &[(&str, &str, &[&str])] = &[
        (
            "docker.io",
            "fooo/bar",
            &["fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar"],
        ),
        (
            "docker.io",
            "library/ubuntu",
            &["ubuntu", "docker.io/library/ubuntu", "library/ubuntu"],
        ),
        (
            "docker.io",
            "nonlibrary/ubuntu",
            &["nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu"],
        ),
        (
            "docker.io",
            "other/library",
            &["other/library", "docker.io/other/library"],
        ),
        (
            "127.0.0.1:8000",
            "private/moonbase",
            &["127.0.0.1:8000/private/moonbase"],
        ),
        (
            "127.0.0.1:8000",
            "privatebase",
            &["127.0.0.1:8000/privatebase"],
        ),
        (
            "example.com",
            "private/moonbase",
            &["example.com/private/moonbase"],
        ),
        ("example.com", "privatebase", &["example.com/privatebase"]),
        (
            "example.com:8000",
            "private/moonbase",
            &["example.com:8000/private/moonbase"],
        ),
        (
            "example.com:8000",
            "privatebasee",
            &["example.com:8000/privatebasee"],
        ),
        (
            "docker.io",
            "library/ubuntu-12.04-base",
            &[
                "ubuntu-12.04-base",
                "docker.io/library/ubuntu-12.04-base",
                "index.docker.io/library/ubuntu-12.04-base",
            ],
        ),
        (
            "docker.io",
            "library/foo",
            &["foo", "docker.io/library/foo", "docker.io/foo"],
        ),
        (
            "docker.io",
            "library/foo/bar",
            &["library/foo/bar", "docker.io/library/foo/bar"],
        ),
        (
            "docker.io",
            "store/foo/bar",
            &["store/foo/bar", "docker.io/store/foo/bar"],
        ),
        ("Foo", "bar", &["Foo/bar"]),
        ("FOO", "bar", &["FOO/bar"]),
    ];
    check(
        table
            .iter()
            .flat_map(|(registry, path, spellings)| {
                spellings.iter().map(move |sp| (s(sp), at(registry, path)))
            })
            .collect(),
    );
}

#[test]
fn familiar_names_match_docker_ui() {
    for (input, familiar) in [
        ("docker.io/fooo/bar", "fooo/bar:latest"),
        ("docker.io/library/ubuntu", "ubuntu:latest"),
        (
            "127.0.0.1:8000/privatebase",
            "127.0.0.1:8000/privatebase:latest",
        ),
        ("docker.io/library/foo/bar", "library/foo/bar:latest"),
        ("FOO/bar", "FOO/bar:latest"),
    ] {
        assert_eq!(
            input.parse::<Reference>().unwrap().familiar(),
            familiar,
            "{input}"
        );
    }
}

#[test]
fn tag_and_digest_are_both_kept() {
    let d = "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
    let r: Reference = format!("busybox:latest@{d}").parse().unwrap();
    assert_eq!(
        r.to_string(),
        format!("docker.io/library/busybox:latest@{d}")
    );
    assert_eq!(r.familiar(), format!("busybox:latest@{d}"));
    assert_eq!(
        r.manifest_selector(),
        d,
        "a digest wins over the tag when fetching"
    );
}

#[test]
fn parse_any_reference_named_cases() {
    let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    check(vec![
        (s("redis"), hub("library/redis")),
        (s("redis:latest"), hub("library/redis")),
        (s("docker.io/library/redis:latest"), hub("library/redis")),
        (
            format!("redis@{d}"),
            ok("docker.io", "library/redis", None, Some(d)),
        ),
        (
            format!("docker.io/library/redis@{d}"),
            ok("docker.io", "library/redis", None, Some(d)),
        ),
        (s("dmcgowan/myapp"), hub("dmcgowan/myapp")),
        (s("dmcgowan/myapp:latest"), hub("dmcgowan/myapp")),
        (s("docker.io/mcgowan/myapp:latest"), hub("mcgowan/myapp")),
        (
            format!("dmcgowan/myapp@{d}"),
            ok("docker.io", "dmcgowan/myapp", None, Some(d)),
        ),
        (
            format!("docker.io/dmcgowan/myapp@{d}"),
            ok("docker.io", "dmcgowan/myapp", None, Some(d)),
        ),
        // ParseAnyReference reads a bare 64-hex string as an ID; a name parser must refuse it.
        (s(&d[7..]), Expect::Err("ambiguous with an image ID")),
        // `sha256:<hex>` as a *name* is the repository `sha256` with a tag, as in Docker.
        (s(d), ok("docker.io", "library/sha256", Some(&d[7..]), None)),
        // 63 hex characters are an ordinary name.
        (s(&d[7..70]), hub(&format!("library/{}", &d[7..70]))),
        (s("dbcc1"), hub("library/dbcc1")),
    ]);
}

#[test]
fn normalized_split_hostname() {
    check(vec![
        (s("test.com/foo"), at("test.com", "foo")),
        (s("test_com/foo"), hub("test_com/foo")),
        (s("docker/migrator"), hub("docker/migrator")),
        (s("test.com:8080/foo"), at("test.com:8080", "foo")),
        (s("test-com:8080/foo"), at("test-com:8080", "foo")),
        (s("foo"), hub("library/foo")),
        (s("xn--n3h.com/foo"), at("xn--n3h.com", "foo")),
        (s("xn--n3h.com:18080/foo"), at("xn--n3h.com:18080", "foo")),
        (s("docker.io/foo"), hub("library/foo")),
        (s("docker.io/library/foo"), hub("library/foo")),
        (s("docker.io/library/foo/bar"), hub("library/foo/bar")),
        // localhost is always a registry, with or without a port; bare it is a Hub name.
        (s("localhost/foo"), at("localhost", "foo")),
        (s("localhost:5000/foo"), at("localhost:5000", "foo")),
        (s("localhost"), hub("library/localhost")),
    ]);
}

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
