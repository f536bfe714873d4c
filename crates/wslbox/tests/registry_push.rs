//! `wslbox push` against real `docker-registry` processes: the round trip through another
//! tool (skopeo + `umoci raw unpack`, compared with GNU `tar -xp` of the source), the default
//! user surviving an import, htpasswd and token auth (an anonymous token cannot push), a
//! second push that moves no layer bytes, a cross-repository mount, and an upload whose
//! connection drops mid-chunk.

use std::path::{Path, PathBuf};
use std::process::Command;

use wslbox_test::oracle::{self, Scratch};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::{CliEnv, Outcome};
use wslbox_test::registry_fixture::noise;
use wslbox_test::registry_front::{Front, FrontOptions, SeenRequest};
use wslbox_test::token_server::{TokenPolicy, TokenServer};
use wslbox_test::tool;
use wslbox_test::tree_builder::crafted_tree;

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

/// `tar -c` of `dir` as GNU tar writes it (POSIX format, xattrs, numeric owners).
fn gnu_tar(dir: &Path, out: &Path) -> PathBuf {
    wslbox_test::oracle::gnu_tar_create(dir, out, None).unwrap()
}

/// A small rootfs tarball with an os-release, accounts, a shell stand-in and `mib` MiB of
/// incompressible data (so the layer spans several upload chunks).
fn small_rootfs(work: &Path, mib: usize) -> PathBuf {
    let root = work.join("rootfs");
    for dir in ["etc", "bin", "data"] {
        fs_err::create_dir_all(root.join(dir)).unwrap();
    }
    fs_err::write(
        root.join("etc/os-release"),
        "ID=testos\nNAME=\"Test OS\"\nVERSION_ID=1.0\nPRETTY_NAME=\"Test OS 1.0\"\n",
    )
    .unwrap();
    fs_err::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs_err::write(root.join("etc/group"), "root:x:0:\nsudo:x:27:\n").unwrap();
    fs_err::write(root.join("etc/shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    fs_err::write(root.join("bin/sh"), "#!/bin/true\n").unwrap();
    fs_err::write(root.join("data/blob"), noise(7, mib << 20)).unwrap();
    gnu_tar(&root, &work.join("rootfs.tar"))
}

fn json_of(outcome: &Outcome) -> serde_json::Value {
    outcome.success().json()
}

/// `wslbox login HOST -u USER --password-stdin`.
fn login(env: &CliEnv, host: &str, user: &str, password: &str) {
    env.run_with_stdin(&["login", host, "-u", user, "--password-stdin"], password)
        .success();
}

#[test]
fn a_pushed_tarball_reads_back_through_skopeo_and_umoci_as_the_same_tree() {
    let scratch = Scratch::new().unwrap();
    let root = scratch.path("crafted");
    crafted_tree(&root).unwrap();
    let tarball = gnu_tar(&root, &scratch.path("crafted.tar"));
    let registry = Registry::start(Auth::None);
    let env = cli();
    let target = registry.image("team/crafted:1");
    let source = format!("tarball:{}", tarball.display());
    let summary = json_of(&env.run(&["push", &source, &target, "--raw", "--json"]));
    assert_eq!(summary["reference"], target);
    assert_eq!(summary["layer"]["transfer"], "uploaded");
    assert_eq!(
        summary["layer"]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    assert_eq!(
        summary["labels"]["com.kaweezle.wsl.rootfs.configured"],
        "false"
    );
    assert_eq!(summary["labels"]["io.wslbox.source"], source);

    // Another tool reads the pushed image: skopeo copies it out, umoci unpacks the layer.
    let layout = scratch.path("layout");
    wslbox_test::skopeo::pull_to_layout(&target, &layout, "1", None);
    let unpacked = scratch.path("umoci");
    oracle::umoci_unpack(&layout, "1", &unpacked).unwrap();
    let theirs = oracle::snapshot(&unpacked).unwrap();
    let source_tree = oracle::tar_extract_tree(&tarball, &scratch.path("tar-x"), None).unwrap();
    oracle::assert_same_as(
        "GNU tar -xp of the source tarball",
        &source_tree,
        &theirs,
        "the pushed image unpacked by umoci",
    );

    // And wslbox exports the pushed image as that tree too.
    let out = scratch.path("back.tar");
    env.run(&["export", &target, "--raw", "-o", out.to_str().unwrap()])
        .success();
    oracle::assert_output_matches("umoci raw unpack", &theirs, &out, &scratch.path("check"));
}

#[test]
fn a_pushed_debian_imports_with_its_default_user_and_wsl_manager_labels() {
    let minbase = wslbox_test::layers::debian_minbase_tar().expect("debootstrap fixture");
    let registry = Registry::start(Auth::None);
    let env = cli();
    let target = registry.image("team/dev:2026-12");
    let source = format!("tarball:{}", minbase.display());
    let summary = json_of(&env.run(&[
        "push",
        &source,
        &target,
        "--user",
        "dev:1500",
        "--compression",
        "zstd",
        "--label",
        "org.opencontainers.image.version=2026.12",
        "--json",
    ]));
    assert_eq!(
        summary["layer"]["media_type"],
        "application/vnd.oci.image.layer.v1.tar+zstd"
    );
    let labels = &summary["labels"];
    assert_eq!(labels["com.kaweezle.wsl.rootfs.configured"], "true");
    assert_eq!(labels["com.kaweezle.wsl.rootfs.username"], "dev");
    assert_eq!(labels["com.kaweezle.wsl.rootfs.uid"], "1500");
    assert_eq!(labels["io.wslbox.default-user"], "dev");
    assert_eq!(labels["org.opencontainers.image.flavor"], "debian");
    assert_eq!(labels["io.wslbox.os.id"], "debian");
    assert_eq!(
        labels["org.opencontainers.image.version"], "2026.12",
        "--label wins"
    );
    let created = labels["org.opencontainers.image.created"].as_str().unwrap();
    assert!(
        created.len() == 20 && created.ends_with('Z'),
        "RFC 3339: {created}"
    );

    // What `wslbox import` reads on Windows: the same rootfs, logging in as `dev`.
    let inspect = json_of(&env.run(&["inspect", &target, "--json"]));
    assert_eq!(inspect["config"]["user"], "dev", "{inspect}");
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("dev.tar");
    let export = json_of(&env.run(&["export", &target, "-o", out.to_str().unwrap(), "--json"]));
    assert_eq!(export["default_user"]["name"], "dev", "{export}");
    assert_eq!(export["default_user"]["uid"], 1500, "{export}");
    assert_eq!(export["os"]["id"], "debian");
    let listing = tool::run(
        Command::new("tar")
            .args(["--wildcards", "-xOf"])
            .arg(&out)
            .arg("*etc/wsl.conf"),
        "tar -xO",
        "tar",
    )
    .unwrap();
    assert!(
        listing.contains("default = dev") || listing.contains("default=dev"),
        "{listing}"
    );
}

#[test]
fn a_second_push_moves_no_layer_bytes_and_another_repository_mounts_the_layer() {
    let work = tempfile::tempdir().unwrap();
    let tarball = small_rootfs(work.path(), 3);
    let registry = Registry::start(Auth::None);
    let front = Front::start(&registry, FrontOptions::default());
    let mut env = cli();
    // A fixed build time (as CI pipelines set it): every build of this source is the same.
    env.set_var("SOURCE_DATE_EPOCH", "1764547200");
    let source = format!("tarball:{}", tarball.display());
    let first_target = front.image("team/a:1");
    let first = json_of(&env.run(&["push", &source, &first_target, "--json"]));
    assert_eq!(first["layer"]["transfer"], "uploaded");
    assert_eq!(
        first["labels"]["org.opencontainers.image.created"],
        "2025-12-01T00:00:00Z"
    );
    assert!(first["uploaded_bytes"].as_u64().unwrap() > 3 << 20);
    let uploads = |front: &Front| {
        front
            .forwarded()
            .iter()
            .filter(|r| r.method == "PATCH" || (r.method == "PUT" && r.path().contains("/blobs/")))
            .count()
    };
    let before = uploads(&front);
    assert!(before > 0);

    let again = json_of(&env.run(&["push", &source, &first_target, "--json"]));
    assert_eq!(again["layer"]["transfer"], "existed");
    assert_eq!(again["uploaded_bytes"], 0);
    assert_eq!(again["digest"], first["digest"], "the same image again");
    assert_eq!(
        uploads(&front),
        before,
        "no blob bytes went up the second time"
    );

    let second_target = front.image("team/b:1");
    let mounted = json_of(&env.run(&["push", &source, &second_target, "--json"]));
    assert_eq!(mounted["layer"]["transfer"], "mounted", "{mounted}");
    assert_eq!(mounted["layer"]["mounted_from"], "team/a");
    assert_eq!(uploads(&front), before, "mounted, not uploaded");
    assert!(
        front.forwarded().iter().any(|r| r.method == "POST"
            && r.target.contains("mount=")
            && r.target.contains("from=team%2Fa")),
        "a cross-repository mount was asked for"
    );
    // The mounted copy is a complete image.
    let out = work.path().join("b.tar");
    env.run(&["export", &second_target, "-o", out.to_str().unwrap()])
        .success();

    // --no-cache builds the layer again, byte for byte the same at the same build time (the
    // registry then has it: a small layer is `HEAD`ed once its digest is known, before it is
    // sent).
    let run = env.run(&["push", &source, &second_target, "--no-cache", "--json"]);
    let rebuilt = json_of(&run);
    assert!(run.stderr.contains("Flattening 1 layer"), "{run}");
    assert_eq!(rebuilt["layer"]["digest"], first["layer"]["digest"]);
    assert_eq!(rebuilt["digest"], first["digest"], "the same image");
    assert_eq!(rebuilt["layer"]["transfer"], "existed");
    assert_eq!(uploads(&front), before, "nothing sent");

    // Another build time is another image, and a build of its own.
    let run = env.run(&[
        "push",
        &source,
        &second_target,
        "--timestamp",
        "1764633600",
        "--json",
    ]);
    let later = json_of(&run);
    assert!(
        run.stderr.contains("Flattening 1 layer"),
        "not reused: {run}"
    );
    assert_ne!(later["layer"]["digest"], first["layer"]["digest"]);
    assert_eq!(later["layer"]["transfer"], "uploaded");
    assert_eq!(
        later["labels"]["org.opencontainers.image.created"],
        "2025-12-02T00:00:00Z"
    );
}

/// Pushes a 5 MiB layer in 1 MiB chunks through a front that cuts `PATCH` number `nth`
/// after `keep` bytes; returns the summary, the stderr and the requests the front forwarded.
fn push_through_a_cut(nth: usize, keep: usize) -> (serde_json::Value, String, Vec<SeenRequest>) {
    let work = tempfile::tempdir().unwrap();
    let tarball = small_rootfs(work.path(), 5);
    let registry = Registry::start(Auth::None);
    let front = Front::start(
        &registry,
        FrontOptions {
            cut_patch: Some((nth, keep)),
            ..FrontOptions::default()
        },
    );
    let mut env = cli();
    env.set_var("WSLBOX_PUSH_CHUNK_SIZE", "1");
    let target = front.image("team/flaky:1");
    let source = format!("tarball:{}", tarball.display());
    let run = env.run(&["push", &source, &target, "--json"]);
    let summary = json_of(&run);
    assert!(front.patch_was_cut(), "PATCH {nth} was cut");
    assert_eq!(summary["layer"]["transfer"], "uploaded");
    // The registry verified the digest of the whole layer; reading it back gives the file.
    let out = work.path().join("back.tar");
    env.run(&["export", &target, "--raw", "-o", out.to_str().unwrap()])
        .success();
    let extracted = work.path().join("x");
    fs_err::create_dir_all(&extracted).unwrap();
    tool::run(
        Command::new("tar")
            .arg("-xf")
            .arg(&out)
            .arg("-C")
            .arg(&extracted),
        "tar -x",
        "tar",
    )
    .unwrap();
    assert!(fs_err::read(extracted.join("data/blob")).unwrap() == noise(7, 5 << 20));
    (summary, run.stderr.clone(), front.forwarded())
}

fn status_checks(forwarded: &[SeenRequest]) -> usize {
    forwarded
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/blobs/uploads/"))
        .count()
}

fn upload_sessions(forwarded: &[SeenRequest]) -> usize {
    forwarded
        .iter()
        .filter(|r| r.method == "POST" && r.path().ends_with("/blobs/uploads/"))
        .count()
}

#[test]
fn an_upload_whose_chunk_never_arrived_resumes_in_the_same_session() {
    let (_, stderr, forwarded) = push_through_a_cut(3, 0);
    assert!(
        status_checks(&forwarded) >= 1,
        "the client asked where the upload stood"
    );
    assert_eq!(
        upload_sessions(&forwarded),
        2,
        "one for the layer, one for the config: {stderr}"
    );
}

#[test]
fn a_first_chunk_cut_midway_starts_a_fresh_upload_with_the_bytes_in_memory() {
    // distribution cancels an upload whose stored bytes no longer match its state.
    let (_, stderr, forwarded) = push_through_a_cut(1, 300_000);
    assert!(status_checks(&forwarded) >= 1);
    assert_eq!(
        upload_sessions(&forwarded),
        3,
        "the layer's twice, then the config: {stderr}"
    );
    assert!(!stderr.contains("again"), "no rebuild: {stderr}");
}

#[test]
fn a_later_chunk_cut_midway_builds_and_uploads_the_layer_again() {
    let (_, stderr, forwarded) = push_through_a_cut(3, 300_000);
    assert!(
        stderr.contains("dropped the upload to team/flaky after the connection broke")
            && stderr.contains("building and uploading the layer again"),
        "{stderr}"
    );
    assert_eq!(
        upload_sessions(&forwarded),
        3,
        "the layer's twice, then the config"
    );
}

#[test]
fn pushing_to_an_htpasswd_registry_needs_a_login_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let tarball = small_rootfs(work.path(), 1);
    let registry = Registry::start(Auth::htpasswd(USER, PASSWORD));
    let env = cli();
    let target = registry.image("team/dev:1");
    let source = format!("tarball:{}", tarball.display());
    let refused = env.run(&["push", &source, &target]);
    refused.failure();
    let host = registry.host();
    assert!(
        refused
            .stderr
            .contains(&format!("{host} refused to let you push to team/dev"))
            && refused.stderr.contains(&format!("wslbox login {host}")),
        "{refused}"
    );
    login(&env, &host, USER, PASSWORD);
    let pushed = json_of(&env.run(&["push", &source, &target, "--json"]));
    assert_eq!(pushed["layer"]["transfer"], "uploaded");
    assert!(!format!("{pushed}").contains(PASSWORD));
    env.run(&["pull", &target]).success();
}

#[test]
fn an_anonymous_token_cannot_push_and_a_login_gets_a_push_scope() {
    let work = tempfile::tempdir().unwrap();
    let tarball = small_rootfs(work.path(), 1);
    let server = TokenServer::start(TokenPolicy::default());
    let registry = Registry::start(Auth::token(&server));
    let (user, password) = server.first_user().expect("a token user");
    let env = cli();
    // Anonymous clients may pull `public/…`, never push there.
    let target = registry.image("public/dev:1");
    let source = format!("tarball:{}", tarball.display());
    let refused = env.run(&["push", &source, &target]);
    refused.failure();
    assert!(
        refused
            .stderr
            .contains("refused to let you push to public/dev"),
        "{refused}"
    );
    login(&env, &registry.host(), &user, &password);
    json_of(&env.run(&["push", &source, &target, "--json"]));
    let requests = server.requests();
    assert!(
        requests.iter().any(|r| r.authenticated
            && r.scopes
                .iter()
                .any(|s| s == "repository:public/dev:pull,push")
            && r.granted.iter().any(|g| g.contains("push"))),
        "{requests:#?}"
    );
    // A teammate pulls it anonymously.
    cli().run(&["pull", &target]).success();
}

/// A presigned-style URL with user info: what must never be printed, recorded or pushed.
const URL_SECRETS: [&str; 3] = ["s3cr3t", "X-Amz-Signature", "deadbeef"];

fn assert_no_url_secret(what: &str, text: &str) {
    for secret in URL_SECRETS {
        assert!(!text.contains(secret), "{what} shows `{secret}`: {text}");
    }
}

/// Every file under `dir`, read as text, checked for the URL's secrets.
fn assert_no_url_secret_in_files(what: &str, dir: &Path) {
    for entry in walk(dir) {
        let text = String::from_utf8_lossy(&fs_err::read(&entry).unwrap()).into_owned();
        assert_no_url_secret(&format!("{what} {}", entry.display()), &text);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs_err::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[test]
fn a_url_source_with_credentials_is_fetched_but_never_printed_recorded_or_pushed() {
    use wslbox_test::file_server::{FileServer, Serve};
    let work = tempfile::tempdir().unwrap();
    let tarball = small_rootfs(work.path(), 0);
    let server = FileServer::start();
    server.serve("/r.tar", fs_err::read(&tarball).unwrap(), Serve::ranges());
    let url = format!(
        "http://alice:s3cr3t@{}/r.tar?X-Amz-Signature=deadbeef",
        server.addr()
    );
    let shown = format!("http://***@{}/r.tar?***", server.addr());
    let env = cli();

    // export: the name in its output, its JSON and the rootfs' provenance file.
    let out = work.path().join("out.tar");
    let run = env.run(&["export", &url, "-o", out.to_str().unwrap(), "--json"]);
    let summary = run.success().json();
    assert_eq!(summary["source"]["reference"], format!("tarball:{shown}"));
    assert_no_url_secret("export's stdout", &run.stdout);
    assert_no_url_secret("export's stderr", &run.stderr);
    let provenance = tool::run(
        Command::new("tar")
            .arg("-xOf")
            .arg(&out)
            .arg("etc/wslbox-image"),
        "tar -xO",
        "tar",
    )
    .unwrap();
    assert!(provenance.contains(&shown), "{provenance}");
    assert_no_url_secret("/etc/wslbox-image", &provenance);
    // The basic auth went to the URL's host.
    let sent = server.requests_for("/r.tar");
    assert_eq!(
        sent[0].header("authorization"),
        Some("Basic YWxpY2U6czNjcjN0")
    );

    // The image store and cache hold it without the secrets, and `images` / `rmi` find it
    // by the URL as typed.
    let images = env.run(&["images", "--json"]).success().stdout.clone();
    assert!(images.contains(&shown), "{images}");
    assert_no_url_secret("images --json", &images);
    assert_no_url_secret_in_files("the cache file", &env.cache_dir());
    let filtered = env.run(&["images", &url, "--json"]).success().json();
    assert_eq!(filtered.as_array().map(Vec::len), Some(1), "{filtered}");

    // push: labels, history and the manifest as another tool reads them back.
    let registry = Registry::start(Auth::None);
    let target = registry.image("team/from-url:1");
    let run = env.run(&["push", &url, &target, "--json"]);
    let pushed = run.success().json();
    assert_eq!(
        pushed["labels"]["io.wslbox.source"],
        format!("tarball:{shown}")
    );
    assert_no_url_secret("push's output", &format!("{}{}", run.stdout, run.stderr));
    let layout = work.path().join("layout");
    wslbox_test::skopeo::pull_to_layout(&target, &layout, "1", None);
    let blobs = layout.join("blobs/sha256");
    let texts: Vec<PathBuf> = walk(&blobs)
        .into_iter()
        .filter(|p| fs_err::metadata(p).unwrap().len() < 64 << 10)
        .collect();
    assert!(texts.len() >= 2, "a manifest and a config: {texts:?}");
    let texts: Vec<String> = texts
        .iter()
        .filter_map(|p| fs_err::read_to_string(p).ok())
        .collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains(&format!("tarball:{shown}"))),
        "the config names the source: {texts:?}"
    );
    for text in &texts {
        assert_no_url_secret("a pushed blob", text);
    }

    let run = env.run(&["rmi", &url]);
    run.success();
    assert_no_url_secret("rmi's output", &format!("{}{}", run.stdout, run.stderr));
    let left = env.run(&["images", "--json"]).success().stdout.clone();
    assert!(!left.contains(&shown), "removed: {left}");
}
