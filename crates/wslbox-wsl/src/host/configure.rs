//! `wslbox configure NAME SCRIPT...` and `wslbox import --configure`: setup scripts run as root
//! inside a distribution, `wsl.exe -d NAME -u root --cd / -- /bin/sh -s` with the preamble and
//! the script on stdin (`crate::script`).
//!
//! wsl.exe exits with the Linux command's exit code: microsoft/WSL's `LaunchProcess` in
//! `src/windows/common/WslClient.cpp` returns what `SvcComm::LaunchProcess`
//! (`src/windows/common/svccomm.cpp`) got from waiting for the Linux process. wsl.exe's own
//! failures (no such distribution, the VM did not start) end with an `Error code: Wsl/...`
//! line and an exit code no Linux process can have (-1).
//!
//! `WslboxConfigured` is removed before the first script starts and written only when all of
//! them succeeded (`crate::configured`), so a failure, or a run that was killed, leaves the
//! distribution registered and unconfigured. Nothing else is undone: a script's changes inside
//! the distribution cannot be.

use std::path::PathBuf;
use std::sync::Mutex;

use super::lxss::{Lxss, VALUE_CONFIGURED};
use super::wsl_exe::{WslExe, failure};
use crate::configured::ConfiguredScript;
use crate::error::{Error, Result};
use crate::report::Report;
use crate::script::{OutputSink, SHELL_ARGS, Script, Stream, retry_command, shell_input};
use crate::tail::{OutputTail, TAIL_LINES};

/// How one script's run ended.
#[derive(Debug, Clone)]
pub struct ScriptOutcome {
    /// wsl.exe's exit code: the script's, or -1 when wsl.exe itself failed.
    pub code: i32,
    /// The last [`TAIL_LINES`] lines of its stdout and stderr.
    pub tail: Vec<String>,
}

impl ScriptOutcome {
    /// Whether wsl.exe failed rather than the script: Linux exit codes are 0 to 255.
    fn wsl_failed(&self) -> bool {
        !(0..=255).contains(&self.code)
    }
}

/// wsl.exe's arguments for running a script in `name`.
fn script_args(name: &str) -> Vec<&str> {
    let mut args = vec!["-d", name];
    args.extend(SHELL_ARGS);
    args
}

/// Runs one script in the distribution `name` (as registered), its output going to `sink` as
/// it arrives. A non-zero exit is an outcome here, not an error.
pub fn run_script(
    wsl: &WslExe,
    name: &str,
    script: &Script,
    sink: &OutputSink<'_>,
) -> Result<ScriptOutcome> {
    let tail = Mutex::new(OutputTail::new(TAIL_LINES));
    let tee = |stream: Stream, chunk: &[u8]| {
        tail.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stream, chunk);
        sink(stream, chunk);
    };
    let code = wsl.run_streaming(&script_args(name), &shell_input(&script.bytes), &tee)?;
    let tail = tail
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .finish();
    Ok(ScriptOutcome { code, tail })
}

/// Runs `scripts` in order in the distribution `name`; the first failure stops. On success,
/// records them in `WslboxConfigured` after what earlier runs recorded, each with the time
/// `clock` gives when it finished.
pub fn configure(
    wsl: &WslExe,
    name: &str,
    scripts: &[Script],
    sink: &OutputSink<'_>,
    clock: fn() -> i64,
) -> Result<Report> {
    wsl.ensure_present()?;
    let lxss = Lxss::open()?;
    let distro = lxss.get(name)?;
    let key = lxss.key(&distro.guid)?;
    let mut recorded = key.configured().unwrap_or_default();
    key.remove(VALUE_CONFIGURED)?;
    let mut report = Report::default();
    for (i, script) in scripts.iter().enumerate() {
        let outcome = run_script(wsl, &distro.name, script, sink)?;
        if outcome.wsl_failed() {
            return Err(failure(
                &script_args(&distro.name),
                &outcome.tail.join("\n"),
            ));
        }
        if outcome.code != 0 {
            let rest: Vec<PathBuf> = scripts[i..].iter().map(|s| s.path.clone()).collect();
            return Err(Error::ConfigureFailed {
                name: distro.name.clone(),
                script: script.path.clone(),
                code: outcome.code,
                tail: outcome.tail,
                retry: retry_command(&distro.name, &rest),
            });
        }
        recorded.push(ConfiguredScript {
            sha256: script.sha256.clone(),
            at: clock(),
        });
        report.changes.push(format!(
            "ran {} in `{}` as root (sha256 {})",
            script.path.display(),
            distro.name,
            script.short_sha256()
        ));
    }
    key.set_configured(&recorded)?;
    report.changes.push(format!(
        "recorded {} setup script{} in {VALUE_CONFIGURED}",
        recorded.len(),
        if recorded.len() == 1 { "" } else { "s" }
    ));
    Ok(report)
}
