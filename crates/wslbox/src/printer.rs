//! Where results go: stdout for results (text or `--json`), stderr for errors and notes.

use std::io::Write;

/// Prints an error and its causes to stderr, one per line, as `error: …` / `  caused by: …`.
pub fn error(err: &anyhow::Error) {
    let mut stderr = std::io::stderr().lock();
    let mut shown = err.to_string();
    let _ = writeln!(stderr, "error: {shown}");
    for cause in err.chain().skip(1) {
        // Many library errors already quote their source in their own message.
        let cause = cause.to_string();
        if shown.contains(&cause) {
            continue;
        }
        let _ = writeln!(stderr, "  caused by: {cause}");
        shown = cause;
    }
}

/// A warning or hint for the user on stderr (kept off stdout so `-o -` and `--json` stay clean).
pub fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "warning: {msg}");
}

pub fn note(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}

/// Writes a value as pretty JSON on stdout. A reader that stops reading (`| Select-Object
/// -First 1`, `| head`) is not an error: it had what it wanted, as with ripgrep or jq. (Data
/// streamed with `-o -` does not come here: a cut archive is reported.)
pub fn json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out))
        .and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => Ok(written?),
    }
}

/// A result line on stdout.
pub fn line(msg: impl std::fmt::Display) {
    let _ = writeln!(std::io::stdout().lock(), "{msg}");
}

/// `1.5 MiB`-style sizes.
pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}
