//! Running an engine's CLI: one-shot commands (`image inspect`, `pull`) and the `save` stream,
//! whose child is killed and reaped however reading ends.

use std::ffi::OsString;
use std::io::{self, Read};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;

use crate::{Engine, SourceError};

/// How much of an engine's stderr is kept for messages (the tail).
const STDERR_TAIL: usize = 64 << 10;

/// Why wslbox runs the engine: decides what to suggest when it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// `podman:IMAGE` / `docker-daemon:IMAGE`.
    Local,
    /// `--via podman|docker`.
    Via,
}

/// One engine's CLI, with the environment the caller added (`DOCKER_HOST`, …).
#[derive(Debug, Clone)]
pub(crate) struct Cli {
    pub engine: Engine,
    purpose: Purpose,
    env: Vec<(OsString, OsString)>,
}

impl Cli {
    pub fn new(engine: Engine, purpose: Purpose, env: &[(OsString, OsString)]) -> Self {
        Self {
            engine,
            purpose,
            env: env.to_vec(),
        }
    }

    pub fn error(&self, reason: impl Into<String>) -> SourceError {
        SourceError::Engine {
            engine: self.engine.command(),
            reason: reason.into(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(self.engine.command());
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// What to say when the engine cannot be started at all.
    fn spawn_error(&self, e: &io::Error) -> SourceError {
        if e.kind() != io::ErrorKind::NotFound {
            return self.error(format!("cannot run `{}`: {e}", self.engine.command()));
        }
        let package = match self.engine {
            Engine::Podman => "podman",
            Engine::Docker => "docker.io",
        };
        let instead = match self.purpose {
            Purpose::Via => "use wslbox's own registry client (drop --via)".to_owned(),
            Purpose::Local => format!(
                "save the image where {} runs and read the file as docker-archive:FILE",
                self.engine.command()
            ),
        };
        self.error(format!(
            "{} is not installed or not on PATH; install it (Debian package `{package}`), or {instead}",
            self.engine.command()
        ))
    }

    /// Runs `args` to completion; returns stdout, or the exit status and stderr.
    pub fn output(&self, args: &[&str]) -> Result<Result<Vec<u8>, Failure>, SourceError> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| self.spawn_error(&e))?;
        if out.status.success() {
            return Ok(Ok(out.stdout));
        }
        Ok(Err(Failure {
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }))
    }

    /// Starts `args` with stdout as a pipe to read; stderr is collected on a thread.
    pub fn spawn(&self, args: &[&str]) -> Result<Running, SourceError> {
        let mut child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| self.spawn_error(&e))?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let collector = std::thread::spawn(move || {
            let mut tail = Vec::new();
            let mut buf = [0u8; 8192];
            while let Ok(n) = stderr.read(&mut buf) {
                if n == 0 {
                    break;
                }
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            String::from_utf8_lossy(&tail).into_owned()
        });
        Ok(Running {
            command: format!("{} {}", self.engine.command(), args.join(" ")),
            child: Mutex::new(child),
            stdout: Some(stdout),
            stderr: Some(collector),
            reaped: false,
        })
    }
}

/// A command that ran and failed.
#[derive(Debug)]
pub(crate) struct Failure {
    pub status: String,
    pub stderr: String,
}

impl Failure {
    /// The engine's own words, shortened: its last few non-empty stderr lines, without the
    /// `Error: ` prefixes both CLIs print and without log lines (podman's retry warnings).
    pub fn summary(&self) -> String {
        summarize(&self.stderr).unwrap_or_else(|| format!("it exited with {}", self.status))
    }
}

pub(crate) fn summarize(stderr: &str) -> Option<String> {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !is_log_line(l))
        .map(|l| l.strip_prefix("Error: ").unwrap_or(l))
        .collect();
    if lines.is_empty() {
        return None;
    }
    let mut text = lines[lines.len().saturating_sub(3)..].join("; ");
    if text.len() > 600 {
        let mut cut = 600;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    Some(text)
}

/// `time="…" level=warning msg="…"`: logrus lines, which podman prints for retries.
fn is_log_line(line: &str) -> bool {
    line.starts_with("time=\"")
        && ["level=debug", "level=info", "level=warning"]
            .iter()
            .any(|l| line.contains(l))
}

/// A running engine command whose stdout is being read. Dropping it kills and reaps the child,
/// so an error or Ctrl-C never leaves a `podman save` behind.
pub(crate) struct Running {
    pub command: String,
    /// Behind a lock so a watcher can kill it while another thread is blocked reading.
    child: Mutex<Child>,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    reaped: bool,
}

impl Running {
    pub fn take_stdout(&mut self) -> ChildStdout {
        self.stdout.take().expect("stdout is taken once")
    }

    /// Kills the child (it may already have exited); reading its stdout then ends.
    pub fn kill(&self) {
        let _ = self.child.lock().expect("child lock").kill();
    }

    /// Waits for the child; a non-zero exit is a [`Failure`] with its stderr.
    pub fn finish(mut self) -> Result<Result<(), Failure>, io::Error> {
        self.stdout = None;
        let status = self.child.lock().expect("child lock").wait()?;
        self.reaped = true;
        let stderr = self.stderr.take().map(|h| h.join().unwrap_or_default());
        if status.success() {
            return Ok(Ok(()));
        }
        Ok(Err(Failure {
            status: status.to_string(),
            stderr: stderr.unwrap_or_default(),
        }))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        self.stdout = None;
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::summarize;

    #[test]
    fn stderr_is_summarized_to_its_last_lines() {
        let err =
            "Trying to pull x...\n\nError: initializing source: pinging: connection refused\n";
        assert_eq!(
            summarize(err).unwrap(),
            "Trying to pull x...; initializing source: pinging: connection refused"
        );
        assert_eq!(summarize("\n \n"), None);
        let retried = "time=\"2026-01-01T00:00:00Z\" level=warning msg=\"Failed, retrying in 1s\"\n\
                       Error: pinging container registry: connection refused\n";
        assert_eq!(
            summarize(retried).unwrap(),
            "pinging container registry: connection refused"
        );
        let long = "é".repeat(1000);
        assert!(summarize(&long).unwrap().ends_with('…'));
    }
}
