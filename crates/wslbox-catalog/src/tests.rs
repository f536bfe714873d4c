use super::*;

const ENTRY: &str = r#"
[[entry]]
name = "void"
image = "ghcr.io/void-linux/void-glibc:latest"
family = "void"
os_ids = ["void"]
package_manager = "xbps"
admin_group = "wheel"
systemd = false
caveats = ["runit, not systemd"]
"#;

fn parse_err(text: &str) -> (String, usize, String) {
    match Catalog::parse(text, "/home/u/.config/wslbox/catalog.toml") {
        Err(CatalogError::Invalid {
            origin,
            line,
            message,
        }) => (origin, line, message),
        other => panic!("expected an Invalid error, got {other:?}"),
    }
}

#[test]
fn builtin_catalog_lists_every_image_the_issue_names() {
    let catalog = Catalog::builtin();
    let wanted = [
        ("archlinux", "docker.io/library/archlinux:latest"),
        ("fedora", "docker.io/library/fedora:latest"),
        ("rockylinux", "docker.io/rockylinux/rockylinux:9"),
        ("almalinux", "docker.io/library/almalinux:latest"),
        ("amazonlinux", "docker.io/library/amazonlinux:2023"),
        ("oraclelinux", "docker.io/library/oraclelinux:9"),
        (
            "opensuse-tumbleweed",
            "docker.io/opensuse/tumbleweed:latest",
        ),
        ("opensuse-leap", "docker.io/opensuse/leap:latest"),
        ("debian", "docker.io/library/debian:latest"),
        ("ubuntu", "docker.io/library/ubuntu:latest"),
        ("alpine", "docker.io/library/alpine:latest"),
        ("kali-rolling", "docker.io/kalilinux/kali-rolling:latest"),
        ("gentoo", "docker.io/gentoo/stage3:systemd"),
        ("clearlinux", "docker.io/library/clearlinux:latest"),
    ];
    for (name, image) in wanted {
        let entry = catalog.get(name).unwrap_or_else(|| panic!("no `{name}`"));
        assert_eq!(entry.image, image, "{name}");
        assert_eq!(entry.origin, BUILTIN_ORIGIN);
        assert!(entry.docs.starts_with("https://"), "{name} cites no docs");
        assert!(!entry.os_ids.is_empty(), "{name} matches no os-release");
    }
    assert_eq!(catalog.entries().len(), wanted.len());
}

#[test]
fn builtin_facts_follow_each_family() {
    let catalog = Catalog::builtin();
    for e in catalog.entries() {
        let expected = if e.family == "debian" {
            "sudo"
        } else {
            "wheel"
        };
        assert_eq!(e.admin_group, expected, "{}", e.name);
    }
    let alpine = catalog.get("alpine").unwrap();
    assert!(!alpine.systemd, "Alpine uses OpenRC");
    assert!(alpine.caveats.iter().any(|c| c.contains("musl")));
    assert!(catalog.get("gentoo").unwrap().systemd, "the :systemd tag");
    assert_eq!(catalog.get("clearlinux").unwrap().package_manager, "swupd");
}

#[test]
fn find_os_prefers_the_id_then_id_like_in_order() {
    let catalog = Catalog::builtin();
    let hit = catalog.find_os("rocky", &[]).unwrap();
    assert_eq!((hit.entry.name.as_str(), hit.like), ("rockylinux", None));

    // Linux Mint: ID=linuxmint, ID_LIKE="ubuntu debian".
    let like = ["ubuntu".to_owned(), "debian".to_owned()];
    let hit = catalog.find_os("linuxmint", &like).unwrap();
    assert_eq!(
        (hit.entry.name.as_str(), hit.like),
        ("ubuntu", Some("ubuntu"))
    );

    assert!(catalog.find_os("nixos", &[]).is_none());
}

#[test]
fn merge_replaces_an_entry_of_the_same_name_and_adds_new_ones() {
    let mut catalog = Catalog::builtin();
    let before = catalog.entries().len();
    let user = format!(
        "{ENTRY}\n[[entry]]\nname = \"fedora\"\nimage = \"registry.example/team/fedora:41\"\n\
         family = \"fedora/rhel\"\nos_ids = [\"fedora\"]\npackage_manager = \"dnf\"\n\
         admin_group = \"wheel\"\nsystemd = true\n"
    );
    let entries = Catalog::parse(&user, "team.toml").unwrap();
    catalog.merge(entries);

    assert_eq!(catalog.entries().len(), before + 1, "one new, one replaced");
    let fedora = catalog.get("fedora").unwrap();
    assert_eq!(fedora.image, "registry.example/team/fedora:41");
    assert_eq!(fedora.origin, "team.toml");
    assert!(fedora.caveats.is_empty(), "the whole entry is replaced");
    let void = catalog.get("void").unwrap();
    assert_eq!(void.image, "ghcr.io/void-linux/void-glibc:latest");
    assert_eq!(catalog.find_os("void", &[]).unwrap().entry.name, "void");
}

#[test]
fn a_later_entry_for_the_same_os_id_wins() {
    let mut catalog = Catalog::builtin();
    let mine = ENTRY
        .replace("\"void\"]", "\"debian\"]")
        .replace("name = \"void\"", "name = \"my-debian\"");
    catalog.merge(Catalog::parse(&mine, "mine.toml").unwrap());
    assert_eq!(
        catalog.find_os("debian", &[]).unwrap().entry.name,
        "my-debian"
    );
}

#[test]
fn short_references_are_stored_in_canonical_form() {
    let text = ENTRY.replace("ghcr.io/void-linux/void-glibc:latest", "fedora");
    let entries = Catalog::parse(&text, "x.toml").unwrap();
    assert_eq!(entries[0].image, "docker.io/library/fedora:latest");
}

#[test]
fn malformed_toml_names_the_file_and_line() {
    let text = "[[entry]]\nname = \"a\"\nimage = \"alpine\n";
    let (origin, line, message) = parse_err(text);
    assert_eq!(origin, "/home/u/.config/wslbox/catalog.toml");
    assert_eq!(line, 3, "{message}");
}

#[test]
fn an_unknown_key_names_its_line_and_the_key() {
    let text = ENTRY.replace("family = \"void\"", "famly = \"void\"");
    let (_, line, message) = parse_err(&text);
    assert_eq!(line, 5);
    assert!(message.contains("unknown field `famly`"), "{message}");
    let err = Catalog::parse(&text, "cat.toml").unwrap_err().to_string();
    assert!(
        err.starts_with("cat.toml:5: unknown field `famly`"),
        "{err}"
    );
}

#[test]
fn an_unknown_top_level_table_is_an_error() {
    let (_, line, message) = parse_err("\n[[image]]\nname = \"x\"\n");
    assert_eq!(line, 2);
    assert!(message.contains("unknown field `image`"), "{message}");
}

#[test]
fn a_bad_reference_names_its_line_and_the_reference() {
    let text = ENTRY.replace("ghcr.io/void-linux/void-glibc:latest", "Not A Reference");
    let (_, line, message) = parse_err(&text);
    assert_eq!(line, 4);
    assert!(message.contains("`Not A Reference`"), "{message}");
}

#[test]
fn an_unknown_admin_group_lists_the_known_ones() {
    let text = ENTRY.replace("admin_group = \"wheel\"", "admin_group = \"admins\"");
    let (_, line, message) = parse_err(&text);
    assert_eq!(line, 8);
    assert!(message.contains("`sudo` or `wheel`"), "{message}");
}

#[test]
fn a_missing_required_key_is_named() {
    let text = ENTRY.replace("systemd = false\n", "");
    let (_, line, message) = parse_err(&text);
    assert!(message.contains("missing field `systemd`"), "{message}");
    assert_eq!(line, 2, "the entry's table");
}

#[test]
fn bad_names_os_ids_and_duplicates_are_refused() {
    let (_, line, message) = parse_err(&ENTRY.replace("name = \"void\"", "name = \"My Void\""));
    assert_eq!(line, 3);
    assert!(message.contains("`My Void`"), "{message}");

    let (_, line, _) = parse_err(&ENTRY.replace("[\"void\"]", "[\"void\", \"Void Linux\"]"));
    assert_eq!(line, 6);

    let twice = format!("{ENTRY}{ENTRY}");
    let (_, line, message) = parse_err(&twice);
    assert_eq!(line, 13);
    assert!(message.contains("first at line 3"), "{message}");
}

#[test]
fn read_file_is_none_for_a_missing_file_and_names_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog.toml");
    assert!(Catalog::read_file(&path).unwrap().is_none());

    fs_err::write(&path, "[[entry]]\nname = 3\n").unwrap();
    let err = Catalog::read_file(&path).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
}
