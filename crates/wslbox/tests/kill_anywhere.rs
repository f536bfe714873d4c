//! Kill anywhere, lose nothing: the real wslbox process is killed with SIGKILL at points chosen
//! by seeded random delays and by byte counts at a counting front (which holds every blob body
//! once N bytes were sent, so the kill lands with exactly that much downloaded). After each
//! kill the on-disk state is checked:
//!
//! - no partial output file beside the destination, and the old destination untouched;
//! - the cache verifies: every committed blob hashes to its name, every interrupted download is
//!   a prefix of its blob (resumable), nothing else is there;
//! - the image store is readable;
//! - a rerun succeeds, gives the output a run never killed gives, and downloads no blob that
//!   was already committed.
//!
//! CI runs `WSLBOX_KILL_SEEDS` seeds per operation (default 6); `scripts/kill-soak` runs more.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use wslbox_test::dir_names;
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::CliEnv;
use wslbox_test::registry_fixture::{Image, ImageSpec, noise, sha256_digest};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::skopeo::PushOptions;

/// With a fixed export time, so that every export of an image is the same bytes.
fn cli() -> CliEnv {
    let mut env = CliEnv::new(env!("CARGO_BIN_EXE_wslbox"));
    env.set_var("SOURCE_DATE_EPOCH", "1764547200");
    env
}

/// xorshift64*: the same seed gives the same kill points on every machine.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn seeds() -> std::ops::Range<u64> {
    let count = std::env::var("WSLBOX_KILL_SEEDS").map_or(6, |v| v.parse().expect("a number"));
    let base = std::env::var("WSLBOX_KILL_SEED_BASE").map_or(1, |v| v.parse().expect("a number"));
    base..base + count
}

/// Where a run is killed.
#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// This long after it started.
    Delay(Duration),
    /// Once the front has sent this many blob body bytes.
    Bytes(u64),
}

/// A registry holding `app:v1` (three layers, about 2.3 MB, incompressible) and `app:v2`
/// (which shares the first layer).
struct Fixture {
    registry: Registry,
    v1: Image,
    v2: Image,
}

impl Fixture {
    fn start() -> Self {
        let registry = Registry::start(Auth::None);
        let mut spec = ImageSpec::small("amd64");
        spec.layers = vec![
            vec![("usr/lib/big.bin".to_owned(), noise(1, 1_500_000))],
            vec![
                ("srv/mid.bin".to_owned(), noise(2, 600_000)),
                ("etc/motd".to_owned(), b"hello\n".to_vec()),
            ],
            vec![("srv/small.bin".to_owned(), noise(3, 200_000))],
        ];
        let v1 = registry.push_image("app:v1", &spec, &PushOptions::default());
        spec.layers[2] = vec![("srv/other.bin".to_owned(), noise(4, 300_000))];
        let v2 = registry.push_image("app:v2", &spec, &PushOptions::default());
        Fixture { registry, v1, v2 }
    }

    /// The bytes of a blob the registry holds.
    fn blob(&self, digest: &str) -> Vec<u8> {
        fs_err::read(self.registry.blob_data_path(digest)).unwrap()
    }

    fn blob_bytes(image: &Image) -> u64 {
        image.layers.iter().map(|l| l.size).sum::<u64>() + image.config.size
    }
}

/// A front for one seed: holding at the byte count, or slowed down so that a delay lands
/// while blobs are in flight.
fn front_for(fixture: &Fixture, kill: KillAt) -> Front {
    let options = match kill {
        KillAt::Bytes(n) => FrontOptions {
            hold_after_blob_bytes: Some(n),
            ..FrontOptions::default()
        },
        KillAt::Delay(_) => FrontOptions {
            blob_bytes_per_second: Some(4_000_000),
            ..FrontOptions::default()
        },
    };
    Front::start(&fixture.registry, options)
}

/// Runs `args`, kills it at `kill`, and says whether the kill ended it (it may have finished
/// just before). A process killed after its last step may have put its output in place.
fn run_and_kill(env: &CliEnv, args: &[&str], kill: KillAt, front: &Front) -> bool {
    let mut child: Child = env
        .command(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start wslbox");
    let started = Instant::now();
    let deadline = started + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            return false; // it finished before the kill point
        }
        let due = match kill {
            KillAt::Delay(delay) => started.elapsed() >= delay,
            KillAt::Bytes(_) => front.held(),
        };
        if due {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{args:?} neither ended nor reached {kill:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    std::os::unix::process::ExitStatusExt::signal(&status) == Some(9)
}

/// The cache after a kill: committed blobs verify, interrupted downloads are prefixes of their
/// blob, and nothing else is there (a spool file would be a flatten's leftover).
fn assert_cache_clean(env: &CliEnv, fixture: &Fixture, context: &str) {
    let root = env.cache_dir();
    for path in env.cache_files() {
        let rel = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(hex) = rel.strip_prefix("blobs-v1/sha256/") {
            let bytes = fs_err::read(&path).unwrap();
            assert_eq!(
                sha256_digest(&bytes),
                format!("sha256:{hex}"),
                "{context}: corrupt {rel}"
            );
        } else if let Some(hex) = rel
            .strip_prefix("tmp-v1/sha256-")
            .and_then(|r| r.strip_suffix(".partial"))
        {
            let partial = fs_err::read(&path).unwrap();
            let blob = fixture.blob(&format!("sha256:{hex}"));
            assert!(
                blob.starts_with(&partial),
                "{context}: {rel} ({} bytes) is not a prefix of its blob",
                partial.len()
            );
        } else {
            let lock = name.ends_with(".lock");
            let record =
                rel.starts_with("images-v1/") && name.ends_with(".json") && !name.starts_with('.');
            assert!(
                lock || record,
                "{context}: unexpected file left in the cache: {rel}"
            );
        }
    }
}

/// `images --json` reads every record, with no warning about an unreadable one.
fn assert_store_readable(env: &CliEnv, context: &str) -> Vec<serde_json::Value> {
    let out = env.run(&["images", "--json"]);
    out.success();
    assert!(
        out.stderr.trim().is_empty(),
        "{context}: images warned:\n{out}"
    );
    out.json().as_array().expect("an array").clone()
}

/// Committed blobs, as `sha256:<hex>`.
fn committed(env: &CliEnv) -> BTreeSet<String> {
    let dir = env.cache_dir().join("blobs-v1/sha256");
    let Ok(entries) = fs_err::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .map(|e| format!("sha256:{}", e.unwrap().file_name().to_string_lossy()))
        .collect()
}

/// Blob digests the front fetched from the registry from request number `from` on.
fn fetched_since(front: &Front, from: usize) -> Vec<String> {
    front.forwarded()[from..]
        .iter()
        .filter(|r| r.method == "GET" && r.path().contains("/blobs/"))
        .filter_map(|r| r.path().rsplit_once('/').map(|(_, d)| d.to_owned()))
        .collect()
}

fn kill_point(rng: &mut Rng, total_bytes: u64, max_delay_ms: u64) -> KillAt {
    if rng.below(2) == 0 {
        KillAt::Bytes(rng.below(total_bytes))
    } else {
        KillAt::Delay(Duration::from_millis(rng.below(max_delay_ms)))
    }
}

/// The rerun after a kill: succeeds, and fetches no blob that was committed before it.
fn rerun_reusing(env: &CliEnv, front: &Front, args: &[&str], context: &str) {
    let before = committed(env);
    let from = front.forwarded().len();
    front.stop_holding();
    let out = env.run(args);
    out.success();
    let refetched: Vec<String> = fetched_since(front, from)
        .into_iter()
        .filter(|d| before.contains(d))
        .collect();
    assert!(
        refetched.is_empty(),
        "{context}: the rerun downloaded committed blobs again: {refetched:?}\n{out}"
    );
    let partials: Vec<PathBuf> = env
        .cache_files()
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(
        partials.is_empty(),
        "{context}: partials left after a good run: {partials:?}"
    );
}

#[test]
fn kill_anywhere_during_pull_loses_nothing() {
    let fixture = Fixture::start();
    let total = Fixture::blob_bytes(&fixture.v1);
    let mut killed = 0;
    for seed in seeds() {
        let mut rng = Rng::new(seed);
        let kill = kill_point(&mut rng, total, 700);
        let context = format!("pull, seed {seed}, {kill:?}");
        let front = front_for(&fixture, kill);
        let env = cli();
        let reference = front.image("app:v1");
        killed += usize::from(run_and_kill(&env, &["pull", &reference], kill, &front));
        assert_cache_clean(&env, &fixture, &context);
        assert_store_readable(&env, &context);
        rerun_reusing(&env, &front, &["pull", &reference], &context);
        assert_cache_clean(&env, &fixture, &context);
        let listed = assert_store_readable(&env, &context);
        assert_eq!(listed.len(), 1, "{context}: {listed:?}");
        for blob in fixture.v1.layers.iter().chain([&fixture.v1.config]) {
            assert!(
                committed(&env).contains(&blob.digest),
                "{context}: {} missing",
                blob.digest
            );
        }
    }
    eprintln!("pull: {killed} of {} runs killed mid-way", seeds().count());
}

/// The export every killed export's rerun must give: the same image exported through the same
/// front by a run left alone, in a cache of its own.
fn reference_export(front: &Front, file: &str) -> Vec<u8> {
    let env = cli();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join(file);
    let image = front.image("app:v1");
    env.run(&["export", &image, "-o", dest.to_str().unwrap()])
        .success();
    fs_err::read(dest).unwrap()
}

/// An export to `file` killed at seeded points, from a cold cache (the output is streamed while
/// the layers download) or a warm one (the kill lands in flatten and compression).
fn kill_exports(file: &str, warm: bool) {
    let fixture = Fixture::start();
    let total = Fixture::blob_bytes(&fixture.v1);
    let mut killed = 0;
    for seed in seeds() {
        let mut rng = Rng::new(seed);
        let kill = if warm {
            KillAt::Delay(Duration::from_millis(rng.below(1200)))
        } else {
            kill_point(&mut rng, total, 700)
        };
        let context = format!("export to {file}, seed {seed}, {kill:?}");
        let front = front_for(&fixture, kill);
        let env = cli();
        let reference = front.image("app:v1");
        if warm {
            front.stop_holding();
            env.run(&["pull", &reference]).success();
        }
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join(file);
        fs_err::write(&dest, b"the previous export").unwrap();
        let args = ["export", reference.as_str(), "-o", dest.to_str().unwrap()];
        killed += usize::from(run_and_kill(&env, &args, kill, &front));
        assert_eq!(
            dir_names(out.path()),
            [file],
            "{context}: something beside the output"
        );
        let then = fs_err::read(&dest).unwrap();
        assert_cache_clean(&env, &fixture, &context);
        assert_store_readable(&env, &context);
        rerun_reusing(&env, &front, &args, &context);
        // The old file, or the whole new one: never anything in between.
        let expected = reference_export(&front, file);
        let old = then == b"the previous export";
        assert!(
            old || then == expected,
            "{context}: neither the old nor the new output"
        );
        assert_eq!(dir_names(out.path()), [file], "{context}");
        let rerun = fs_err::read(&dest).unwrap();
        assert!(rerun == expected, "{context}: the rerun's output differs");
    }
    eprintln!(
        "export to {file}: {killed} of {} runs killed mid-way",
        seeds().count()
    );
}

#[test]
fn kill_anywhere_during_a_streamed_export_loses_nothing() {
    kill_exports("k.tar", false);
}

#[test]
fn kill_anywhere_during_a_compressed_export_from_the_cache_loses_nothing() {
    kill_exports("k.tar.xz", true);
}

/// The case found by hand: `export IMAGE -o k.tar` killed while it writes used to leave a
/// hidden `.k.tar.XXXXXX.partial`, as big as the output so far, that nothing removed.
#[test]
fn export_killed_while_writing_leaves_no_hidden_partial() {
    let fixture = Fixture::start();
    // Held after the big layer and half the next: the tar output holds more than a MB by then.
    let kill = KillAt::Bytes(Fixture::blob_bytes(&fixture.v1) * 3 / 4);
    let front = front_for(&fixture, kill);
    let env = cli();
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("k.tar");
    let reference = front.image("app:v1");
    let args = ["export", reference.as_str(), "-o", dest.to_str().unwrap()];
    assert!(
        run_and_kill(&env, &args, kill, &front),
        "killed while it wrote"
    );
    assert!(
        dir_names(out.path()).is_empty(),
        "left: {:?}",
        dir_names(out.path())
    );
}

/// `rmi` and `prune` killed at seeded points early in their run (they take milliseconds):
/// the store stays readable, no blob the other image needs goes, and a rerun finishes the job.
fn kill_removals(prune: bool) {
    let fixture = Fixture::start();
    let mut killed = 0;
    for seed in seeds() {
        let mut rng = Rng::new(seed);
        let kill = KillAt::Delay(Duration::from_micros(rng.below(40_000)));
        let op = if prune { "prune" } else { "rmi" };
        let context = format!("{op}, seed {seed}, {kill:?}");
        let env = cli();
        let v1 = fixture.registry.image("app:v1");
        let v2 = fixture.registry.image("app:v2");
        env.run(&["pull", &v1]).success();
        env.run(&["pull", &v2]).success();
        let args: Vec<&str> = if prune {
            env.run(&["rmi", &v1]).success();
            vec!["prune"]
        } else {
            vec!["rmi", &v1]
        };
        let dummy = Front::start(&fixture.registry, FrontOptions::default());
        killed += usize::from(run_and_kill(&env, &args, kill, &dummy));
        assert_cache_clean(&env, &fixture, &context);
        let listed = assert_store_readable(&env, &context);
        let kept = committed(&env);
        for blob in fixture.v2.layers.iter().chain([&fixture.v2.config]) {
            assert!(
                kept.contains(&blob.digest),
                "{context}: v2's {} went",
                blob.digest
            );
        }
        // The rerun: rmi again unless the image is gone already, then prune.
        if !prune && listed.iter().any(|r| r.to_string().contains("app:v1")) {
            env.run(&["rmi", &v1]).success();
        }
        env.run(&["prune"]).success();
        let listed = assert_store_readable(&env, &context);
        assert_eq!(listed.len(), 1, "{context}: only v2 is left: {listed:?}");
        let only_v1 = &fixture.v1.layers[2].digest;
        assert!(
            !committed(&env).contains(only_v1),
            "{context}: v1's own layer stayed"
        );
        assert_cache_clean(&env, &fixture, &context);
        env.run(&["export", &v2, "-o", "-"]).success();
    }
    eprintln!(
        "{}: {killed} of {} runs killed mid-way",
        if prune { "prune" } else { "rmi" },
        seeds().count()
    );
}

#[test]
fn kill_anywhere_during_rmi_loses_nothing() {
    kill_removals(false);
}

#[test]
fn kill_anywhere_during_prune_loses_nothing() {
    kill_removals(true);
}
