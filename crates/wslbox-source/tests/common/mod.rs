//! Shared by the source tests: options pointing wslbox at a test engine or a cache, opening
//! and flattening a spec, our output as a tree on disk for the oracle comparison, and a
//! reporter that keeps warnings.

#![allow(dead_code)] // each test file uses a different part

use std::ffi::OsString;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wslbox_rootfs::{FlattenOptions, OutputDest, OutputFormat, PathMap};
use wslbox_source::{Flattened, NoReporter, OpenOptions, Reporter, SourceError, SourceSpec};
use wslbox_test::engine_image::{ENGINE_IMAGE, engine_image_archive};
use wslbox_test::oracle::{self, Scratch, Snapshot};

/// Options whose engine commands get `envs` (a test engine's `DOCKER_HOST`,
/// `CONTAINERS_STORAGE_CONF`, …) on top of the test's own environment.
pub fn options(scratch: &Scratch, envs: Vec<(&'static str, OsString)>) -> OpenOptions {
    let mut opts = OpenOptions::new(scratch.path("cache"));
    opts.engine_env = envs.into_iter().map(|(k, v)| (k.into(), v)).collect();
    opts
}

/// Opens and flattens `spec`, spooling under `scratch`.
pub fn flatten(
    spec: &SourceSpec,
    opts: &OpenOptions,
    scratch: &Scratch,
    reporter: Arc<dyn Reporter>,
) -> Result<Flattened, SourceError> {
    flatten_in(spec, opts, &scratch.path("spool"), &reporter)
}

fn flatten_in(
    spec: &SourceSpec,
    opts: &OpenOptions,
    spool: &Path,
    reporter: &Arc<dyn Reporter>,
) -> Result<Flattened, SourceError> {
    fs_err::create_dir_all(spool).unwrap();
    let source = wslbox_source::open(spec, opts, reporter)?;
    source.flatten(&FlattenOptions::new(spool.to_owned()), reporter)
}

/// Opens and flattens `spec`, writes our tar and extracts it (bsdtar and GNU tar, which must
/// agree) under `scratch/NAME`.
pub fn flatten_to_tree(
    spec: &SourceSpec,
    opts: &OpenOptions,
    scratch: &Scratch,
    name: &str,
) -> (Snapshot, wslbox_source::SourceInfo) {
    let flattened = flatten(spec, opts, scratch, Arc::new(NoReporter))
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    let tar = scratch.path(format!("{name}.tar"));
    let mut out = fs_err::File::create(&tar).unwrap();
    wslbox_rootfs::write_tar(&flattened.tree, &mut out, &wslbox_rootfs::NoReporter).unwrap();
    drop(out);
    let dir = scratch.path(name);
    fs_err::create_dir_all(&dir).unwrap();
    let tree = oracle::output_tree(&tar, &dir).unwrap();
    (tree, flattened.info)
}

/// The same tree without `paths` (exact paths, not their children).
pub fn without(mut snap: Snapshot, paths: &[&str]) -> Snapshot {
    for p in paths {
        snap.paths.remove(p.as_bytes());
    }
    snap
}

/// The names directly inside `dir`, sorted.
pub fn children(snap: &Snapshot, dir: &str) -> Vec<String> {
    let prefix = format!("{dir}/");
    snap.paths
        .keys()
        .filter_map(|p| std::str::from_utf8(p).ok()?.strip_prefix(prefix.as_str()))
        .filter(|rest| !rest.contains('/'))
        .map(str::to_owned)
        .collect()
}

/// What the engine image's build steps must have left (the whiteouts really applied).
pub fn assert_build_steps_applied(tree: &Snapshot) {
    for gone in ["etc/deleted-later", "opt/gone", "opt/app/cache/a"] {
        assert!(!tree.paths.contains_key(gone.as_bytes()), "{gone} survived");
    }
    assert_eq!(children(tree, "opt/app/cache"), ["b", "keep-link"]);
    assert_eq!(
        children(tree, "usr/share/doc"),
        ["README"],
        "the opaque dir"
    );
    let target = &tree.paths[b"opt/app/target".as_slice()];
    assert_eq!(target.mode, 0o4750);
    assert_eq!(
        target.link_group,
        [b"opt/app/hardlink".to_vec(), b"opt/app/target".to_vec()]
    );
    assert_eq!(tree.paths[b"usr/lib/os-release".as_slice()].mode, 0o600);
    assert_eq!(tree.paths[b"opt/app/fifo".as_slice()].kind, "fifo");
}

/// The engine image's archive, its `image inspect` as podman prints it (the fields wslbox
/// reads), and the layer paths in manifest order.
pub fn real_archive() -> (Vec<u8>, String, Vec<String>) {
    let archive = fs_err::read(engine_image_archive().unwrap()).unwrap();
    let mut manifest = None;
    let mut configs = std::collections::HashMap::new();
    for entry in tar::Archive::new(archive.as_slice()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if path.ends_with(".json") {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut bytes).unwrap();
            if path == "manifest.json" {
                manifest = Some(bytes);
            } else {
                configs.insert(path, bytes);
            }
        }
    }
    let manifest: serde_json::Value = serde_json::from_slice(&manifest.unwrap()).unwrap();
    let config_path = manifest[0]["Config"].as_str().unwrap();
    let config: serde_json::Value = serde_json::from_slice(&configs[config_path]).unwrap();
    let inspect = serde_json::json!([{
        "Id": config_path.trim_end_matches(".json"),
        "RepoTags": [ENGINE_IMAGE],
        "Os": "linux",
        "Architecture": "amd64",
        "RootFS": {"Type": "layers", "Layers": config["rootfs"]["diff_ids"]},
    }]);
    let layers = manifest[0]["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    (archive, inspect.to_string(), layers)
}

/// A DOUBLE, not an engine: a `podman` or `docker` script on PATH that answers `image inspect`
/// from a file and `save` with a prepared archive. For fault injection (a tampered, cut-off or
/// stalled stream, which a healthy engine never writes) and for archive layouts that no
/// engine installed here writes (Docker 25+'s).
pub struct FakeEngine {
    pub dir: std::path::PathBuf,
}

impl FakeEngine {
    /// `save` runs `emit` (sh), with `$D` the double's directory holding `archive.tar`.
    pub fn new(
        scratch: &Scratch,
        command: &str,
        archive: &[u8],
        inspect: &str,
        emit: &str,
    ) -> Self {
        let dir = scratch.path(format!("fake-{command}"));
        fs_err::create_dir_all(&dir).unwrap();
        fs_err::write(dir.join("archive.tar"), archive).unwrap();
        fs_err::write(dir.join("inspect.json"), inspect).unwrap();
        let script = format!(
            "#!/bin/sh\n\
             # A test double for {command} (see wslbox-source/tests/common).\n\
             D='{}'\n\
             case \"$1 $2\" in\n\
             'image inspect') cat \"$D/inspect.json\" ;;\n\
             'image save'|save\\ *) echo $$ > \"$D/save.pid\"; {emit} ;;\n\
             *) echo \"fake {command}: unexpected $*\" >&2; exit 2 ;;\n\
             esac\n",
            dir.display()
        );
        let bin = dir.join(command);
        fs_err::write(&bin, script).unwrap();
        fs_err::set_permissions(&bin, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Self { dir }
    }

    /// Options whose PATH finds the double first.
    pub fn options(&self, scratch: &Scratch) -> OpenOptions {
        let path = format!("{}:/usr/bin:/bin", self.dir.display());
        options(scratch, vec![("PATH", path.into())])
    }

    /// The pid `save` ran as.
    pub fn save_pid(&self) -> u32 {
        fs_err::read_to_string(self.dir.join("save.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

/// Options for file sources, caching (and spooling) under `cache`.
pub fn file_options(cache: &Path) -> OpenOptions {
    OpenOptions::new(cache.to_owned())
}

/// Parses, opens and flattens `spec` with `opts`, spooling under the cache.
pub fn flatten_spec(
    spec: &str,
    opts: &OpenOptions,
    recorder: &Arc<Recorder>,
) -> Result<Flattened, SourceError> {
    let reporter: Arc<dyn Reporter> = recorder.clone();
    let spec = SourceSpec::parse(spec)?;
    flatten_in(&spec, opts, &opts.cache_dir.join("spool"), &reporter)
}

/// Flattens `spec` and writes the tree, unchanged, as a plain tar at `out`.
pub fn export_raw(spec: &str, opts: &OpenOptions, out: &Path) -> Result<Flattened, SourceError> {
    let flattened = flatten_spec(spec, opts, &Arc::default())?;
    wslbox_rootfs::write_output(
        &flattened.tree,
        OutputDest::File(out.to_owned()),
        OutputFormat::Tar,
        &wslbox_rootfs::NoReporter,
    )
    .expect("writing our tar");
    Ok(flattened)
}

/// Records warnings; answers `cancelled()` with true from its `cancel_after`-th poll on.
#[derive(Default)]
pub struct Recorder {
    pub warnings: Mutex<Vec<String>>,
    pub cancel_after: Option<usize>,
    polls: AtomicUsize,
}

impl Recorder {
    pub fn cancelling_after(polls: usize) -> Self {
        Self {
            cancel_after: Some(polls),
            ..Self::default()
        }
    }
    pub fn polls(&self) -> usize {
        self.polls.load(Ordering::SeqCst)
    }
}

impl wslbox_rootfs::Reporter for Recorder {
    fn cancelled(&self) -> bool {
        let n = self.polls.fetch_add(1, Ordering::SeqCst);
        self.cancel_after.is_some_and(|after| n >= after)
    }
}
impl wslbox_registry::Reporter for Recorder {}
impl Reporter for Recorder {
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_owned());
    }
}

/// `squashfs:IMAGE` opened and flattened, spooling under `work`.
pub fn flatten_with(
    image: &Path,
    paths: PathMap,
    work: &Path,
    reporter: Arc<Recorder>,
) -> Result<Flattened, SourceError> {
    let mut opts = OpenOptions::new(work.join("cache"));
    opts.paths = paths;
    let reporter: Arc<dyn Reporter> = reporter;
    let spec = SourceSpec::Squashfs(image.to_owned());
    flatten_in(&spec, &opts, &work.join("spool"), &reporter)
}

pub fn flatten_squashfs(image: &Path, work: &Path) -> Result<Flattened, SourceError> {
    flatten_with(image, PathMap::default(), work, Arc::default())
}

/// Writes the flattened tree as a plain tar at `out`.
pub fn write_tar(flattened: &Flattened, out: &Path) {
    wslbox_rootfs::write_output(
        &flattened.tree,
        OutputDest::File(out.to_owned()),
        OutputFormat::Tar,
        &wslbox_rootfs::NoReporter,
    )
    .expect("writing the output tar");
}
