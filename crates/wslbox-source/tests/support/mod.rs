//! Shared by the source tests: open a spec, flatten it, write our tar; a reporter that keeps
//! warnings.

#![allow(dead_code)]

use std::path::Path;
use std::sync::{Arc, Mutex};

use wslbox_rootfs::{FlattenOptions, OutputDest, OutputFormat};
use wslbox_source::{Flattened, OpenOptions, Reporter, SourceError, SourceSpec};

/// Keeps every warning; reports nothing else.
#[derive(Default)]
pub struct Recorder {
    pub warnings: Mutex<Vec<String>>,
}

impl wslbox_rootfs::Reporter for Recorder {}
impl wslbox_registry::Reporter for Recorder {}
impl Reporter for Recorder {
    fn warn(&self, message: &str) {
        self.warnings.lock().unwrap().push(message.to_owned());
    }
}

pub fn options(cache: &Path) -> OpenOptions {
    OpenOptions::new(cache.to_owned())
}

/// Opens and flattens `spec` with `opts`, spooling under the cache.
pub fn flatten(
    spec: &str,
    opts: &OpenOptions,
    recorder: &Arc<Recorder>,
) -> Result<Flattened, SourceError> {
    let reporter: Arc<dyn Reporter> = recorder.clone();
    let spec = SourceSpec::parse(spec)?;
    let source = wslbox_source::open(&spec, opts, &reporter)?;
    let spool = opts.cache_dir.join("spool");
    fs_err::create_dir_all(&spool).unwrap();
    source.flatten(&FlattenOptions::new(spool), &reporter)
}

/// Flattens `spec` and writes the tree, unchanged, as a plain tar at `out`.
pub fn export_raw(spec: &str, opts: &OpenOptions, out: &Path) -> Result<Flattened, SourceError> {
    let flattened = flatten(spec, opts, &Arc::default())?;
    wslbox_rootfs::write_output(
        &flattened.tree,
        OutputDest::File(out.to_owned()),
        OutputFormat::Tar,
        &wslbox_rootfs::NoReporter,
    )
    .expect("writing our tar");
    Ok(flattened)
}
