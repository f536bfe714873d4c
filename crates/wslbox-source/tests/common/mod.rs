//! Shared by the `squashfs:` tests: a recording reporter, and flattening an image through the
//! public `open`/`flatten` API into an output tar.

#![allow(dead_code)] // each test binary uses a different part

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use wslbox_rootfs::{FlattenOptions, NoReporter, OutputDest, OutputFormat, PathMap};
use wslbox_source::{Flattened, OpenOptions, Reporter, SourceError, SourceSpec};

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
    let spool = work.join("spool");
    fs_err::create_dir_all(&spool).unwrap();
    let mut opts = OpenOptions::new(work.join("cache"));
    opts.paths = paths;
    let reporter: Arc<dyn Reporter> = reporter;
    let spec = SourceSpec::Squashfs(image.to_owned());
    let source = wslbox_source::open(&spec, &opts, &reporter)?;
    source.flatten(&FlattenOptions::new(spool), &reporter)
}

pub fn flatten(image: &Path, work: &Path) -> Result<Flattened, SourceError> {
    flatten_with(image, PathMap::default(), work, Arc::default())
}

/// Writes the flattened tree as a plain tar at `out`.
pub fn write_tar(flattened: &Flattened, out: &Path) {
    wslbox_rootfs::write_output(
        &flattened.tree,
        OutputDest::File(out.to_owned()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .expect("writing the output tar");
}
