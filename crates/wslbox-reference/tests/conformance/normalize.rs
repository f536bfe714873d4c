//! `normalize_test.go`: names, remote names, repository info, familiar forms, any-reference
//! parsing and hostname splitting.

use super::*;

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
