//! The flatten pipeline: worker threads read layers (phase 1) while this thread applies them
//! in order as soon as each is ready (phase 2), so reading overlaps applying. When the opener
//! can open the layers again, big bodies stay in them and the output reads them again.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use wslbox_image::{BlobOpener, LayerDescriptor};

use crate::error::FlattenError;
use crate::layer::{LayerBuilder, LayerOptions, ParsedLayer};
use crate::output::Output;
use crate::read::{read_layer, read_tar_into};
use crate::report::Reporter;
use crate::stream::{Shadow, Streaming};
use crate::tree::{FlatTree, Reread};

/// How to flatten.
#[derive(Debug, Clone)]
pub struct FlattenOptions {
    /// Directory for the spool files holding file bodies (unnamed temp files, gone on exit).
    /// Needs free space for the uncompressed image, unless the opener can read layers again
    /// ([`BlobOpener::reopen`]): then at most `spool_budget` bytes.
    pub spool_dir: PathBuf,
    /// How many layers to read at once (at least 1).
    pub jobs: usize,
    /// Bytes of small file bodies (configuration files, scripts: what customization reads)
    /// spooled in all when layers can be read again; every other body stays in its layer.
    pub spool_budget: u64,
    /// Tree paths whose files [`flatten_into`] never streams, because what comes after the
    /// flatten replaces files below them: customization's
    /// ([`crate::customize::REPLACED`]), and an upgrade's kept paths. Their bodies are
    /// spooled whatever their size while the budget lasts.
    pub hold: Vec<Vec<u8>>,
}

impl FlattenOptions {
    /// Spools to `spool_dir` (at most 128 MiB when layers can be read again), reading as many
    /// layers at once as there are cores.
    pub fn new(spool_dir: PathBuf) -> Self {
        let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            spool_dir,
            jobs,
            spool_budget: 128 << 20,
            hold: crate::customize::REPLACED
                .iter()
                .map(|p| p.as_bytes().to_vec())
                .collect(),
        }
    }
}

/// Like [`flatten`], and streams the biggest layer's file bodies into `out` while that layer
/// is read, when they are certain to survive (see the crate docs); the rest of the tree
/// follows with [`Output::finish`]. Layers are read again for the output only when the opener
/// can open them again; otherwise this is [`flatten`].
///
/// The other layers are read first (the lower ones applied), so the streamed layer, the one
/// whose download ends last, is read as it arrives.
pub fn flatten_into(
    layers: &[LayerDescriptor],
    opener: &dyn BlobOpener,
    opts: &FlattenOptions,
    reporter: &dyn Reporter,
    out: &mut Output,
) -> Result<FlatTree, FlattenError> {
    let reopen = opener.reopen();
    let Some(streamed) = (0..layers.len()).max_by_key(|&i| (layers[i].size, i)) else {
        return flatten(layers, opener, opts, reporter);
    };
    let Some(reopen) = reopen else {
        return flatten(layers, opener, opts, reporter);
    };
    let mut tree = FlatTree::new();
    let budget = opts.spool_budget / layers.len() as u64;
    let others: Vec<usize> = (0..layers.len()).filter(|&i| i != streamed).collect();
    let cancel = AtomicBool::new(false);
    read_with(
        layers,
        &others,
        opener,
        opts,
        Some(budget),
        reporter,
        &cancel,
        |readers| {
            for want in 0..streamed {
                if reporter.cancelled() {
                    return Err(FlattenError::Interrupted);
                }
                tree.apply(readers.take(want)?)?;
            }
            let uppers = (streamed + 1..layers.len())
                .map(|i| readers.take(i))
                .collect::<Result<Vec<_>, _>>()?;
            let shadow = Shadow::of(&uppers);
            let layer = &layers[streamed];
            let label = format!("layer {}", layer.digest);
            reporter.layer_started(streamed, layer);
            let raw = opener.open(layer).map_err(|source| FlattenError::Read {
                layer: label.clone(),
                source,
            })?;
            let builder = LayerBuilder::new(label, &opts.spool_dir, LayerOptions::image_layer())?
                .rereadable(budget)
                .holding(&opts.hold);
            let mut streaming =
                Streaming::new(builder, &mut tree, shadow, &opts.hold, out, reporter);
            let progress = |bytes| reporter.layer_progress(streamed, bytes);
            read_tar_into(raw, layer.compression, &mut streaming, &progress, &cancel)?;
            let entries = streaming.finish()?;
            reporter.layer_finished(streamed, entries as u64);
            for upper in uppers {
                tree.apply(upper)?;
            }
            Ok(())
        },
    )?;
    tree.reread = Some(Reread {
        opener: reopen,
        layers: layers.to_vec(),
    });
    Ok(tree)
}

/// Reads `layers` (bottom first) through `opener` and applies them in order.
///
/// Fails with the first error in layer order; then no more layers are read.
pub fn flatten(
    layers: &[LayerDescriptor],
    opener: &dyn BlobOpener,
    opts: &FlattenOptions,
    reporter: &dyn Reporter,
) -> Result<FlatTree, FlattenError> {
    let mut tree = FlatTree::new();
    if layers.is_empty() {
        return Ok(tree);
    }
    let reopen = opener.reopen();
    // An equal share per layer, so which bodies are spooled never depends on thread timing.
    let budget = reopen
        .as_ref()
        .map(|_| opts.spool_budget / layers.len() as u64);
    let all: Vec<usize> = (0..layers.len()).collect();
    let cancel = AtomicBool::new(false);
    read_with(
        layers,
        &all,
        opener,
        opts,
        budget,
        reporter,
        &cancel,
        |readers| {
            for want in 0..layers.len() {
                if reporter.cancelled() {
                    return Err(FlattenError::Interrupted);
                }
                tree.apply(readers.take(want)?)?;
            }
            Ok(())
        },
    )?;
    tree.reread = reopen.map(|opener| Reread {
        opener,
        layers: layers.to_vec(),
    });
    Ok(tree)
}

type ReadLayer = (usize, Result<ParsedLayer, FlattenError>);

/// The layers worker threads have read, taken by index in any order.
struct Readers {
    rx: mpsc::Receiver<ReadLayer>,
    pending: BTreeMap<usize, Result<ParsedLayer, FlattenError>>,
}

impl Readers {
    /// Layer `want`, waiting for it if it is not read yet.
    fn take(&mut self, want: usize) -> Result<ParsedLayer, FlattenError> {
        loop {
            if let Some(p) = self.pending.remove(&want) {
                return p;
            }
            let (i, result) = self
                .rx
                .recv()
                .expect("a worker reports every layer it takes");
            self.pending.insert(i, result);
        }
    }
}

/// Runs `work` while worker threads (at most `opts.jobs`) read the layers `wanted`, in that
/// order. When `work` fails, `cancel` stops the readers and the rest is not read.
#[allow(clippy::too_many_arguments)]
fn read_with<T>(
    layers: &[LayerDescriptor],
    wanted: &[usize],
    opener: &dyn BlobOpener,
    opts: &FlattenOptions,
    budget: Option<u64>,
    reporter: &dyn Reporter,
    cancel: &AtomicBool,
    work: impl FnOnce(&mut Readers) -> Result<T, FlattenError>,
) -> Result<T, FlattenError> {
    let next = AtomicUsize::new(0);
    let workers = opts.jobs.clamp(1, wanted.len().max(1));
    // Readers may run at most this far ahead of the applier, bounding spool files in flight.
    let (tx, rx) = mpsc::sync_channel::<ReadLayer>(workers);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            scope.spawn(move || {
                loop {
                    let Some(&i) = wanted.get(next.fetch_add(1, Ordering::SeqCst)) else {
                        return;
                    };
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let result = read_layer(
                        i,
                        &layers[i],
                        opener,
                        &opts.spool_dir,
                        budget,
                        reporter,
                        cancel,
                    );
                    if tx.send((i, result)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut readers = Readers {
            rx,
            pending: BTreeMap::new(),
        };
        let result = work(&mut readers);
        if result.is_err() {
            cancel.store(true, Ordering::Relaxed);
            drain(readers.rx);
        }
        result
    })
}

/// Lets workers blocked on a full channel finish after a failure.
fn drain(rx: mpsc::Receiver<ReadLayer>) {
    while rx.recv().is_ok() {}
}
