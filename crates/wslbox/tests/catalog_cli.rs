//! `wslbox catalog` and the catalog's say in `export`, through the real binary: the built-in
//! list, the user's `catalog.toml` under `XDG_CONFIG_HOME`, a team's `--catalog FILE|URL`,
//! errors with file:line, and the admin group and `--systemd` warning it decides on export.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wslbox_test::file_server::{FileServer, Serve};
use wslbox_test::layers::{Entry, Layer};
use wslbox_test::registry_env::CliEnv;

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// One entry in the catalog file format.
fn entry(name: &str, image: &str, os_id: &str, admin_group: &str) -> String {
    format!(
        "[[entry]]\nname = \"{name}\"\nimage = \"{image}\"\nfamily = \"test\"\nos_ids = [\"{os_id}\"]\n\
         package_manager = \"apt\"\nadmin_group = \"{admin_group}\"\nsystemd = true\n\
         caveats = [\"a caveat of {name}\"]\n"
    )
}

/// The user's own catalog, where `XDG_CONFIG_HOME` (set by `CliEnv`) puts it.
fn write_user_catalog(env: &CliEnv, text: &str) -> PathBuf {
    let path = env.root().join("config/wslbox/catalog.toml");
    fs_err::create_dir_all(path.parent().unwrap()).unwrap();
    fs_err::write(&path, text).unwrap();
    path
}

fn catalog_json(env: &CliEnv, extra: &[&str]) -> Vec<Value> {
    let mut args = extra.to_vec();
    args.extend(["catalog", "--json"]);
    env.run(&args).success().json().as_array().unwrap().clone()
}

fn find<'a>(entries: &'a [Value], name: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no `{name}` in {entries:#?}"))
}

#[test]
fn catalog_json_lists_the_builtin_images_with_stable_keys() {
    let entries = catalog_json(&cli(), &[]);
    for name in [
        "archlinux",
        "fedora",
        "rockylinux",
        "almalinux",
        "amazonlinux",
        "oraclelinux",
        "opensuse-tumbleweed",
        "opensuse-leap",
        "debian",
        "ubuntu",
        "alpine",
        "kali-rolling",
        "gentoo",
        "clearlinux",
    ] {
        let e = find(&entries, name);
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "admin_group",
                "caveats",
                "description",
                "docs",
                "family",
                "image",
                "name",
                "origin",
                "os_ids",
                "package_manager",
                "systemd"
            ],
            "{name}"
        );
        assert_eq!(e["origin"], "built-in");
    }
    let alpine = find(&entries, "alpine");
    assert_eq!(alpine["image"], "docker.io/library/alpine:latest");
    assert_eq!(alpine["systemd"], false);
    assert_eq!(find(&entries, "debian")["admin_group"], "sudo");
}

#[test]
fn catalog_table_has_the_documented_columns() {
    let out = cli().run(&["catalog"]).success().stdout.clone();
    let mut lines = out.lines();
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME", "IMAGE", "FAMILY", "PKG", "ADMIN", "SYSTEMD", "CAVEATS"
        ]
    );
    let alpine = lines.find(|l| l.starts_with("alpine ")).expect(&out);
    assert!(
        alpine.contains("docker.io/library/alpine:latest"),
        "{alpine}"
    );
    assert!(alpine.contains(" apk "), "{alpine}");
    assert!(alpine.contains(" no "), "{alpine}");
}

#[test]
fn user_file_in_the_config_directory_replaces_and_adds_entries() {
    let env = cli();
    let text = format!(
        "{}\n{}",
        entry(
            "fedora",
            "registry.example/team/fedora:41",
            "fedora",
            "wheel"
        ),
        entry("void", "ghcr.io/void-linux/void-glibc", "void", "wheel"),
    );
    let path = write_user_catalog(&env, &text);
    let builtin = catalog_json(&cli(), &[]).len();
    let entries = catalog_json(&env, &[]);
    assert_eq!(entries.len(), builtin + 1);
    let fedora = find(&entries, "fedora");
    assert_eq!(fedora["image"], "registry.example/team/fedora:41");
    assert_eq!(fedora["origin"], path.display().to_string());
    let void = find(&entries, "void");
    assert_eq!(void["image"], "ghcr.io/void-linux/void-glibc:latest");
    assert_eq!(find(&entries, "debian")["origin"], "built-in");
}

#[test]
fn team_catalog_file_adds_entries_and_the_user_file_wins_over_it() {
    let env = cli();
    let team = env.root().join("team.toml");
    fs_err::write(
        &team,
        format!(
            "{}\n{}",
            entry("devbox", "ghcr.io/team/devbox:1", "devbox", "sudo"),
            entry("tools", "ghcr.io/team/tools:1", "tools", "sudo"),
        ),
    )
    .unwrap();
    let team_arg = team.to_str().unwrap();
    let entries = catalog_json(&env, &["--catalog", team_arg]);
    assert_eq!(find(&entries, "devbox")["origin"], team_arg);
    assert_eq!(find(&entries, "tools")["image"], "ghcr.io/team/tools:1");

    write_user_catalog(
        &env,
        &entry("devbox", "ghcr.io/me/devbox:2", "devbox", "wheel"),
    );
    let mut env = env;
    env.set_var("WSLBOX_CATALOG", &team);
    let entries = catalog_json(&env, &[]);
    assert_eq!(find(&entries, "devbox")["image"], "ghcr.io/me/devbox:2");
    assert_eq!(
        find(&entries, "tools")["origin"],
        team_arg,
        "from WSLBOX_CATALOG"
    );
}

#[test]
fn team_catalog_url_is_fetched_from_a_loopback_server() {
    let server = FileServer::start();
    let text = entry("devbox", "ghcr.io/team/devbox:1", "devbox", "sudo");
    server.serve("/team/catalog.toml", text, Serve::plain());
    let url = server.url("/team/catalog.toml");
    let entries = catalog_json(&cli(), &["--catalog", &url]);
    assert_eq!(find(&entries, "devbox")["origin"], url.as_str());

    let missing = server.url("/team/missing.toml");
    let out = cli().run(&["--catalog", &missing, "catalog"]);
    out.failure();
    assert!(out.stderr.contains(&missing), "{}", out.stderr);
}

#[test]
fn team_catalog_over_plain_http_to_another_host_is_refused() {
    // TEST-NET-1: never contacted, the refusal comes first.
    let out = cli().run(&["--catalog", "http://192.0.2.1/catalog.toml", "catalog"]);
    out.failure();
    assert!(
        out.stderr.contains("refusing plain HTTP")
            && out.stderr.contains("--insecure-registry 192.0.2.1"),
        "{}",
        out.stderr
    );
}

#[test]
fn malformed_user_file_fails_naming_the_file_and_line() {
    let env = cli();
    let text = entry("void", "ghcr.io/void-linux/void-glibc", "void", "wheel")
        .replace("family =", "famly =");
    let path = write_user_catalog(&env, &text);
    let out = env.run(&["catalog"]);
    out.failure();
    let wanted = format!("{}:4: unknown field `famly`", path.display());
    assert!(out.stderr.contains(&wanted), "{}", out.stderr);

    // export reads the same catalog and stops on the same error.
    let work = tempfile::tempdir().unwrap();
    let rootfs = rootfs(work.path(), "fedora", "root:x:0:\nwheel:x:10:\n");
    let out = env.run(&[
        "export",
        &format!("tarball:{}", rootfs.display()),
        "-o",
        work.path().join("x.tar").to_str().unwrap(),
    ]);
    out.failure();
    assert!(out.stderr.contains(&wanted), "{}", out.stderr);
}

#[test]
fn missing_team_catalog_file_is_an_error_naming_it() {
    let out = cli().run(&["--catalog", "/nonexistent/team.toml", "catalog"]);
    out.failure();
    assert!(
        out.stderr.contains("/nonexistent/team.toml"),
        "{}",
        out.stderr
    );
}

/// A small root filesystem tar whose os-release `ID` is `os_id`.
fn rootfs(dir: &Path, os_id: &str, group: &str) -> PathBuf {
    let tar = Layer::new()
        .with(Entry::dir("bin"))
        .with(Entry::file("bin/sh", "#!/bin/true\n").mode(0o755))
        .with(Entry::dir("etc"))
        .with(Entry::file(
            "etc/os-release",
            format!("ID={os_id}\nPRETTY_NAME=\"Test {os_id}\"\n"),
        ))
        .with(Entry::file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"))
        .with(Entry::file("etc/group", group))
        .with(Entry::dir("home"))
        .finish();
    let path = dir.join(format!("{os_id}-rootfs.tar"));
    fs_err::write(&path, tar).unwrap();
    path
}

/// `export tarball:ROOTFS -o x.tar ARGS --json`: the summary and the exported /etc/group.
fn export(env: &CliEnv, os_id: &str, group: &str, args: &[&str]) -> (Value, String) {
    let work = tempfile::tempdir().unwrap();
    let source = format!("tarball:{}", rootfs(work.path(), os_id, group).display());
    let out = work.path().join("x.tar");
    let mut all = vec!["export", &source, "-o", out.to_str().unwrap(), "--json"];
    all.extend(args);
    let summary = env.run(&all).success().json();
    let tree = work.path().join("tree");
    fs_err::create_dir_all(&tree).unwrap();
    wslbox_test::oracle::bsdtar_extract(&out, &tree).unwrap();
    (
        summary,
        fs_err::read_to_string(tree.join("etc/group")).unwrap(),
    )
}

const BOTH_GROUPS: &str = "root:x:0:\nwheel:x:10:\nsudo:x:27:\n";

#[test]
fn export_user_joins_the_admin_group_the_catalog_names_for_the_os() {
    let env = cli();
    let (summary, group) = export(&env, "fedora", BOTH_GROUPS, &["--user", "alice"]);
    assert!(group.contains("wheel:x:10:alice\n"), "{group}");
    assert!(group.contains("sudo:x:27:\n"), "{group}");
    let notes: Vec<&str> = summary["notes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(notes.iter().any(|n| n.starts_with("fedora: ")), "{notes:?}");

    let (_, group) = export(&env, "debian", BOTH_GROUPS, &["--user", "alice"]);
    assert!(group.contains("sudo:x:27:alice\n"), "{group}");
    assert!(group.contains("wheel:x:10:\n"), "{group}");
}

#[test]
fn a_user_catalog_entry_changes_the_admin_group_on_export() {
    let env = cli();
    write_user_catalog(
        &env,
        &entry(
            "my-debian",
            "docker.io/library/debian:12",
            "debian",
            "wheel",
        ),
    );
    let (summary, group) = export(&env, "debian", BOTH_GROUPS, &["--user", "alice"]);
    assert!(group.contains("wheel:x:10:alice\n"), "{group}");
    assert!(
        summary["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "my-debian: a caveat of my-debian"),
        "{summary:#}"
    );
}

#[test]
fn admin_group_the_image_lacks_falls_back_with_a_warning() {
    let (summary, group) = export(
        &cli(),
        "fedora",
        "root:x:0:\nsudo:x:27:\n",
        &["--user", "alice"],
    );
    assert!(group.contains("sudo:x:27:alice\n"), "{group}");
    let codes: Vec<&Value> = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["code"])
        .collect();
    assert!(
        codes.iter().any(|c| *c == "admin-group-missing"),
        "{summary:#}"
    );
}

#[test]
fn systemd_on_alpine_warns_in_the_json_summary() {
    let env = cli();
    let (summary, _) = export(&env, "alpine", "root:x:0:\nwheel:x:10:\n", &["--systemd"]);
    let warning = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["code"] == "systemd-unsupported")
        .unwrap_or_else(|| panic!("no systemd-unsupported warning: {summary:#}"));
    assert!(
        warning["message"].as_str().unwrap().contains("`alpine`"),
        "{warning}"
    );
    assert!(
        summary["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().starts_with("alpine: musl libc")),
        "{summary:#}"
    );

    let (summary, _) = export(&env, "fedora", BOTH_GROUPS, &["--systemd"]);
    assert!(
        !summary["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["code"] == "systemd-unsupported"),
        "{summary:#}"
    );
}

#[test]
fn json_to_a_reader_that_went_away_ends_quietly() {
    let env = cli();
    // A pipe whose reader is gone, as after `| Select-Object -First 1` or `| head`.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = env
        .command(&["catalog", "--json"])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}
