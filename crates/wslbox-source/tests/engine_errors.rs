//! What goes wrong with engines, and what wslbox says: no engine on PATH, no such image, no
//! daemon, and — through a fault-injection double of `podman` — a tampered layer, an engine
//! dying mid-stream, and Ctrl-C while the engine stalls.

mod common;

use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wslbox_reference::{Algorithm, Hasher};
use wslbox_source::{Engine, NoReporter, Reporter, SourceError, SourceSpec};
use wslbox_test::engine_image::ENGINE_IMAGE;
use wslbox_test::oracle::Scratch;
use wslbox_test::podman::Podman;

use common::FakeEngine;

fn error_of(spec: &str, opts: &wslbox_source::OpenOptions, scratch: &Scratch) -> SourceError {
    let spec = SourceSpec::parse(spec).unwrap();
    match common::flatten(&spec, opts, scratch, Arc::new(NoReporter)) {
        Ok(_) => panic!("{spec} should fail"),
        Err(e) => e,
    }
}

#[test]
fn missing_engine_is_named_with_the_fix() {
    let scratch = Scratch::new().unwrap();
    let empty = scratch.path("empty-bin");
    fs_err::create_dir_all(&empty).unwrap();
    let mut opts = common::options(&scratch, vec![("PATH", empty.into())]);
    let err = error_of("podman:localhost/dev:1", &opts, &scratch).to_string();
    assert_eq!(
        err,
        "podman: podman is not installed or not on PATH; install it (Debian package `podman`), \
         or save the image where podman runs and read the file as docker-archive:FILE"
    );
    let err = error_of("docker-daemon:dev:1", &opts, &scratch).to_string();
    assert!(
        err.contains("docker is not installed or not on PATH"),
        "{err}"
    );
    assert!(err.contains("`docker.io`"), "{err}");
    opts.via = Some(Engine::Podman);
    let err = error_of("127.0.0.1:5000/dev:1", &opts, &scratch).to_string();
    assert!(
        err.ends_with("or use wslbox's own registry client (drop --via)"),
        "{err}"
    );
}

#[test]
fn missing_image_says_pull_it_first() {
    let scratch = Scratch::new().unwrap();
    let podman = Podman::new().unwrap();
    let opts = common::options(&scratch, podman.envs());
    let err = error_of("podman:localhost/nope:1", &opts, &scratch).to_string();
    assert!(
        err.starts_with("podman: there is no image `localhost/nope:1` in podman's store ("),
        "{err}"
    );
    assert!(err.contains("image not known"), "podman's own words: {err}");
    assert!(
        err.ends_with(
            "pull it first with `podman pull localhost/nope:1`, or check the name with `podman images`"
        ),
        "{err}"
    );
}

#[test]
fn failed_pull_via_podman_says_what_podman_said() {
    let scratch = Scratch::new().unwrap();
    let podman = Podman::new().unwrap();
    let mut opts = common::options(&scratch, podman.envs());
    opts.via = Some(Engine::Podman);
    // Port 1 on loopback: nothing listens there.
    let err = error_of("127.0.0.1:1/nope:1", &opts, &scratch).to_string();
    assert!(
        err.starts_with(
            "podman: `podman pull --quiet --tls-verify=false 127.0.0.1:1/nope:1` failed: "
        ),
        "{err}"
    );
    assert!(
        err.contains("connection refused"),
        "podman's own words: {err}"
    );
    assert!(
        err.ends_with("(its own credentials, mirrors and proxies apply)"),
        "{err}"
    );
}

#[test]
fn unreachable_docker_daemon_says_how_to_point_at_one() {
    let scratch = Scratch::new().unwrap();
    let mut host: OsString = "unix://".into();
    host.push(scratch.path("no-daemon.sock"));
    let opts = common::options(&scratch, vec![("DOCKER_HOST", host)]);
    let err = error_of("docker-daemon:dev:1", &opts, &scratch).to_string();
    assert!(err.contains("Cannot connect to the Docker daemon"), "{err}");
    assert!(err.ends_with("point DOCKER_HOST at a running one"), "{err}");
}

/// Rewrites the content of `/opt/app/keep` ("keep") inside its layer member, keeping every
/// size and header checksum valid: only the layer's digest gives it away. Returns the new
/// archive and that member's new sha256.
fn tamper(archive: &[u8], layer: &str) -> (Vec<u8>, String) {
    let mut out = tar::Builder::new(Vec::new());
    let mut tampered_digest = None;
    for entry in tar::Archive::new(archive).entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header().clone();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if path == layer {
            let inner = data.clone();
            for e in tar::Archive::new(inner.as_slice()).entries().unwrap() {
                let e = e.unwrap();
                if e.path().unwrap() == Path::new("opt/app/keep") {
                    let at = e.raw_file_position() as usize;
                    data[at..at + 4].copy_from_slice(b"KEEP");
                }
            }
            assert_ne!(data, inner, "{layer} holds opt/app/keep");
            tampered_digest = Some(Hasher::digest(Algorithm::Sha256, &data).to_string());
        }
        out.append(&header, data.as_slice()).unwrap();
    }
    (out.into_inner().unwrap(), tampered_digest.unwrap())
}

#[test]
fn tampered_layer_in_the_stream_is_named_by_both_digests() {
    let scratch = Scratch::new().unwrap();
    let (archive, inspect, layers) = common::real_archive();
    let (tampered, actual) = tamper(&archive, &layers[1]);
    let fake = FakeEngine::new(
        &scratch,
        "podman",
        &tampered,
        &inspect,
        "cat \"$D/archive.tar\"",
    );
    let err = error_of(
        &format!("podman:{ENGINE_IMAGE}"),
        &fake.options(&scratch),
        &scratch,
    )
    .to_string();
    let expected = format!("sha256:{}", layers[1].trim_end_matches(".tar"));
    assert!(
        err.contains(&format!(
            "layer `{}` is corrupt: expected {expected} (rootfs.diff_ids[1] of the config), got {actual}",
            layers[1]
        )),
        "{err}"
    );
}

#[test]
fn engine_failing_mid_stream_reports_its_stderr() {
    let scratch = Scratch::new().unwrap();
    let (archive, inspect, _) = common::real_archive();
    let fake = FakeEngine::new(
        &scratch,
        "podman",
        &archive,
        &inspect,
        "head -c 5000000 \"$D/archive.tar\"; \
         echo 'Error: simulated: copying layer: writing blob: no space left on device' >&2; exit 125",
    );
    let err = error_of(
        &format!("podman:{ENGINE_IMAGE}"),
        &fake.options(&scratch),
        &scratch,
    )
    .to_string();
    assert!(
        err.starts_with("podman: `podman image save --format docker-archive sha256:"),
        "{err}"
    );
    assert!(
        err.ends_with("failed: simulated: copying layer: writing blob: no space left on device"),
        "{err}"
    );
}

/// Cancels a while after it was made, as Ctrl-C would.
struct CancelAfter {
    flag: Arc<AtomicBool>,
}

impl wslbox_rootfs::Reporter for CancelAfter {
    fn cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }
}
impl wslbox_registry::Reporter for CancelAfter {}
impl Reporter for CancelAfter {}

#[test]
fn interrupt_while_the_engine_stalls_kills_and_reaps_it() {
    let scratch = Scratch::new().unwrap();
    let (archive, inspect, _) = common::real_archive();
    // Half a layer, then silence with the pipe held open: only a kill ends the read.
    let fake = FakeEngine::new(
        &scratch,
        "podman",
        &archive,
        &inspect,
        "head -c 5000000 \"$D/archive.tar\"; exec sleep 600",
    );
    let flag = Arc::new(AtomicBool::new(false));
    let reporter: Arc<dyn Reporter> = Arc::new(CancelAfter {
        flag: Arc::clone(&flag),
    });
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        flag.store(true, Ordering::Relaxed);
    });
    let started = Instant::now();
    let spec = SourceSpec::parse(&format!("podman:{ENGINE_IMAGE}")).unwrap();
    let err = match common::flatten(&spec, &fake.options(&scratch), &scratch, reporter) {
        Ok(_) => panic!("the stalled stream cannot complete"),
        Err(e) => e,
    };
    setter.join().unwrap();
    assert!(err.is_interrupted(), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "stopped in {:?}",
        started.elapsed()
    );
    let pid = fake.save_pid();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "the engine process {pid} was killed and reaped (no zombie left)"
    );
}
