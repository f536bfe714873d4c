//! Progress for people: indicatif bars on a terminal, plain lines otherwise, nothing with
//! `--quiet`. The libraries report through their `Reporter` traits; only this file knows indicatif.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use wslbox_image::LayerDescriptor;
use wslbox_reference::Digest;

use crate::printer;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Bars,
    Lines,
    Quiet,
}

/// Draws download, flatten and write progress on stderr.
pub struct Progress {
    mode: Mode,
    multi: MultiProgress,
    downloads: Mutex<HashMap<Digest, (ProgressBar, u64)>>,
    total: Mutex<Option<ProgressBar>>,
    layers: Mutex<Option<ProgressBar>>,
    output: Mutex<Option<ProgressBar>>,
    /// `upgrade`: reading the kept paths out of the old distribution.
    keeping: Mutex<Option<ProgressBar>>,
    /// `push`: layer bytes the registry received.
    upload: Mutex<Option<ProgressBar>>,
    entries: AtomicU64,
    /// Held from the start of the output until this reporter is dropped (the command is
    /// over): Ctrl-C then stops the work so the partial output is removed.
    writing: Mutex<Option<crate::interrupt::Guard>>,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        };
        let target = if mode == Mode::Bars {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        Progress {
            mode,
            multi: MultiProgress::with_draw_target(target),
            downloads: Mutex::default(),
            total: Mutex::default(),
            layers: Mutex::default(),
            output: Mutex::default(),
            keeping: Mutex::default(),
            upload: Mutex::default(),
            entries: AtomicU64::new(0),
            writing: Mutex::default(),
        }
    }

    /// A line for the user that doesn't tear the bars.
    pub fn println(&self, msg: &str) {
        match self.mode {
            Mode::Bars => {
                let _ = self.multi.println(msg);
            }
            Mode::Lines => printer::note(msg),
            Mode::Quiet => {}
        }
    }

    fn bytes_style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>14} [{bar:30}] {bytes:>10}/{total_bytes:<10} {bytes_per_sec:>12} eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> ")
    }

    /// Registry downloads totalling `bytes` begin (cached blobs count as they are found).
    pub fn downloads_started(&self, bytes: u64) {
        match self.mode {
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::new(bytes));
                bar.set_style(Self::bytes_style());
                bar.set_prefix("total");
                *self.total.lock().unwrap() = Some(bar);
            }
            // Plain lines name each blob as it completes; cached ones are silent.
            Mode::Lines | Mode::Quiet => {}
        }
    }

    pub fn downloads_finished(&self) {
        if let Some(bar) = self.total.lock().unwrap().take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Flattening of `count` layers begins.
    pub fn flatten_started(&self, count: usize) {
        match self.mode {
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::new(count as u64));
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>14} [{bar:30}] {pos}/{len} layers {msg}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
                bar.set_prefix("flatten");
                bar.enable_steady_tick(Duration::from_millis(200));
                // A flatten repeated from the cache starts its count again.
                if let Some(old) = self.layers.lock().unwrap().replace(bar) {
                    old.finish_and_clear();
                    self.multi.remove(&old);
                }
            }
            Mode::Lines => printer::note(&format!(
                "Flattening {count} layer{}",
                if count == 1 { "" } else { "s" }
            )),
            Mode::Quiet => {}
        }
    }

    pub fn output_started(&self, dest: &str) {
        *self.writing.lock().unwrap() = Some(crate::interrupt::Guard::new());
        if let Some(bar) = self.layers.lock().unwrap().take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
        match self.mode {
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::no_length());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>14} {spinner} {msg} {bytes} ({bytes_per_sec})",
                    )
                    .expect("valid template"),
                );
                bar.set_prefix("write");
                bar.enable_steady_tick(Duration::from_millis(120));
                *self.output.lock().unwrap() = Some(bar);
            }
            Mode::Lines => printer::note(&format!("Writing {dest}")),
            Mode::Quiet => {}
        }
    }

    /// `bytes` more of a pushed layer reached the registry.
    pub fn upload_progress(&self, bytes: u64) {
        if self.mode != Mode::Bars {
            return;
        }
        let mut slot = self.upload.lock().unwrap();
        let bar = slot.get_or_insert_with(|| {
            let bar = self.multi.add(ProgressBar::no_length());
            bar.set_style(
                ProgressStyle::with_template("{prefix:>14} {spinner} {bytes} ({bytes_per_sec})")
                    .expect("valid template"),
            );
            bar.set_prefix("upload");
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        bar.inc(bytes);
    }

    pub fn keeping_started(&self, paths: &[String]) {
        let what = format!("{} from the old distribution", paths.join(", "));
        match self.mode {
            Mode::Bars => {
                let bar = self.multi.add(ProgressBar::no_length());
                bar.set_style(
                    ProgressStyle::with_template("{prefix:>14} {spinner} {msg} {bytes} read")
                        .expect("valid template"),
                );
                bar.set_prefix("keep");
                bar.set_message(what);
                bar.enable_steady_tick(Duration::from_millis(120));
                *self.keeping.lock().unwrap() = Some(bar);
            }
            Mode::Lines => printer::note(&format!("Reading {what}")),
            Mode::Quiet => {}
        }
    }

    pub fn keeping_progress(&self, bytes: u64) {
        if let Some(bar) = self.keeping.lock().unwrap().as_ref() {
            bar.inc(bytes);
        }
    }

    pub fn finish(&self) {
        for slot in [
            &self.layers,
            &self.output,
            &self.total,
            &self.keeping,
            &self.upload,
        ] {
            if let Some(bar) = slot.lock().unwrap().take() {
                bar.finish_and_clear();
                self.multi.remove(&bar);
            }
        }
    }
}

impl wslbox_registry::Reporter for Progress {
    fn on_blob_start(&self, digest: &Digest, total: u64) {
        let bar = match self.mode {
            Mode::Bars => {
                let bar = self.multi.insert_from_back(1, ProgressBar::new(total));
                bar.set_style(Self::bytes_style());
                bar.set_prefix(digest.short().to_string());
                bar
            }
            _ => ProgressBar::hidden(),
        };
        self.downloads
            .lock()
            .unwrap()
            .insert(digest.clone(), (bar, total));
    }

    fn on_blob_progress(&self, digest: &Digest, bytes: u64) {
        if let Some((bar, _)) = self.downloads.lock().unwrap().get(digest) {
            bar.inc(bytes);
        }
        if let Some(total) = &*self.total.lock().unwrap() {
            total.inc(bytes);
        }
    }

    /// The download restarts from zero: take back what it had counted.
    fn on_endpoint_failed(&self, message: &str) {
        wslbox_source::Reporter::warn(self, message);
    }
    fn on_blob_interrupted(&self, message: &str) {
        wslbox_source::Reporter::warn(self, message);
    }
    fn on_blob_reset(&self, digest: &Digest) {
        if let Some((bar, _)) = self.downloads.lock().unwrap().get(digest) {
            if let Some(total) = &*self.total.lock().unwrap() {
                total.set_position(total.position().saturating_sub(bar.position()));
            }
            bar.set_position(0);
        }
    }

    fn on_blob_done(&self, digest: &Digest, cached: bool) {
        let Some((bar, size)) = self.downloads.lock().unwrap().remove(digest) else {
            return;
        };
        if let Some(total) = &*self.total.lock().unwrap() {
            // Cached blobs count as done; downloaded ones were counted as they came.
            total.inc(size.saturating_sub(bar.position()));
        }
        bar.finish_and_clear();
        self.multi.remove(&bar);
        if self.mode == Mode::Lines && !cached {
            printer::note(&format!(
                "Downloaded {} ({})",
                digest.short(),
                printer::bytes(size)
            ));
        }
    }
}

impl wslbox_rootfs::Reporter for Progress {
    fn layer_started(&self, _index: usize, _layer: &LayerDescriptor) {}

    fn layer_finished(&self, _index: usize, _entries: u64) {
        if let Some(bar) = &*self.layers.lock().unwrap() {
            bar.inc(1);
        }
    }

    fn cancelled(&self) -> bool {
        crate::interrupt::interrupted()
    }

    fn output_progress(&self, entries: u64, bytes: u64) {
        if let Some(bar) = &*self.output.lock().unwrap() {
            let total = self.entries.fetch_add(entries, Ordering::Relaxed) + entries;
            bar.inc(bytes);
            bar.set_message(format!("{total} entries"));
        }
    }
}

impl wslbox_source::Reporter for Progress {
    fn downloads_started(&self, bytes: u64) {
        Progress::downloads_started(self, bytes);
    }
    fn downloads_finished(&self) {
        Progress::downloads_finished(self);
    }
    fn flatten_started(&self, layers: usize) {
        Progress::flatten_started(self, layers);
    }
    fn warn(&self, message: &str) {
        self.println(&format!("warning: {message}"));
    }
}

impl wslbox_pipeline::Reporter for Progress {
    fn output_started(&self, dest: &str) {
        Progress::output_started(self, dest);
    }
    fn keeping_started(&self, paths: &[String]) {
        Progress::keeping_started(self, paths);
    }
    fn keeping_progress(&self, bytes: u64) {
        Progress::keeping_progress(self, bytes);
    }
    fn keeping_finished(&self) {
        if let Some(bar) = self.keeping.lock().unwrap().take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }
    fn upload_progress(&self, bytes: u64) {
        Progress::upload_progress(self, bytes);
    }
    fn finish(&self) {
        Progress::finish(self);
    }
}
