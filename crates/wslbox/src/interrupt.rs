//! Ctrl-C. When nothing needs undoing (downloads resume from their partials, spool files are
//! unnamed), the process exits at once with 130. Inside a [`Guard`] — an output file being
//! written, an import being registered — the work is asked to stop instead, so the temp file is
//! removed or the registration rolled back on the way out. A second Ctrl-C exits at once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static GUARDS: AtomicUsize = AtomicUsize::new(0);

/// Exit code for a run stopped by Ctrl-C, as shells report SIGINT.
pub const EXIT_CODE: u8 = 130;

pub fn install() {
    // Without a handler Ctrl-C still ends the process; only the cleanup would be lost.
    let _ = ctrlc::set_handler(|| {
        if GUARDS.load(Ordering::SeqCst) > 0 && !INTERRUPTED.swap(true, Ordering::SeqCst) {
            eprintln!("\ninterrupted: cleaning up (Ctrl-C again to quit at once)");
        } else {
            std::process::exit(i32::from(EXIT_CODE));
        }
    });
}

/// Whether Ctrl-C was pressed inside a guarded section.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// While alive, Ctrl-C asks the work to stop rather than ending the process.
pub struct Guard(());

impl Guard {
    pub fn new() -> Self {
        GUARDS.fetch_add(1, Ordering::SeqCst);
        Guard(())
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        GUARDS.fetch_sub(1, Ordering::SeqCst);
    }
}
