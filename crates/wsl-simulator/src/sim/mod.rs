//! The simulator proper (Windows only): argument dispatch and wsl.exe-style output.
#![cfg(windows)]

mod archive;
mod import;
mod launch;
mod registry;
mod shell;
mod verbs;

use std::io::Write;

/// A wsl.exe-style failure: message lines plus the `Error code: Wsl/...` line.
pub struct Failure {
    pub message: String,
    pub code: String,
}

pub type Result<T = ()> = std::result::Result<T, Failure>;

pub fn fail<T>(message: impl Into<String>, code: &str) -> Result<T> {
    Err(Failure {
        message: message.into(),
        code: code.to_owned(),
    })
}

/// Prints the way wsl.exe does: UTF-16LE unless `WSL_UTF8=1`, CRLF line ends.
pub fn print(text: &str, to_stderr: bool) {
    let text = text.replace('\n', "\r\n");
    let bytes: Vec<u8> = if std::env::var("WSL_UTF8").as_deref() == Ok("1") {
        text.into_bytes()
    } else {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    };
    let _ = if to_stderr {
        std::io::stderr().write_all(&bytes)
    } else {
        let mut out = std::io::stdout();
        out.write_all(&bytes).and_then(|()| out.flush())
    };
}

pub fn say(text: &str) {
    print(&format!("{text}\n"), false);
}

/// The simulated WSL version, or `None` for inbox WSL.
pub fn version() -> Option<String> {
    match std::env::var("WSL_SIM_VERSION") {
        Ok(v) if v == "inbox" => None,
        Ok(v) => Some(v),
        Err(_) => Some("2.4.4.0".to_owned()),
    }
}

/// Whether `--install --from-file` (and the `.wsl` format) exists: WSL 2.4.4 and later.
pub fn has_install_from_file() -> bool {
    version().is_some_and(|v| {
        let parts: Vec<u32> = v.split('.').map(|p| p.parse().unwrap_or(0)).collect();
        parts.get(..3).unwrap_or(&[0, 0, 0]) >= &[2, 4, 4][..]
    })
}

/// Whether `--manage` exists in the simulated version (added in 2.4 as far as wslbox assumes).
pub fn has_manage() -> bool {
    version().is_some_and(|v| {
        let mut parts = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (2, 4)
    })
}

/// Whether `WSL_SIM_FAIL` asks to break `step`. An entry `step@TEXT` breaks it only when
/// `context` (e.g. the install folder) contains TEXT.
pub fn fault(step: &str, context: &str) -> bool {
    std::env::var("WSL_SIM_FAIL").is_ok_and(|f| {
        f.split(',').any(|entry| match entry.split_once('@') {
            Some((s, text)) => s == step && context.contains(text),
            None => entry == step,
        })
    })
}

/// `WSL_SIM_HOLD=STEP@TEXT`: at `step`, when `context` contains TEXT, the simulator writes
/// `context` to the file `WSL_SIM_HOLD_MARK` (again every 100 ms) and waits there, for a test to kill its caller
/// (whose job object then ends the simulator too). A simulator still waiting after a minute
/// fails the step: its caller was not killed, or the kill did not reach it.
pub fn hold(step: &str, context: &str) -> Result<()> {
    let Ok(spec) = std::env::var("WSL_SIM_HOLD") else {
        return Ok(());
    };
    let wanted = spec.split(',').any(|entry| {
        entry
            .split_once('@')
            .is_some_and(|(s, text)| s == step && context.contains(text))
    });
    if !wanted {
        return Ok(());
    }
    // Rewritten while it waits, so a test can tell whether it is still alive.
    let mark = std::env::var_os("WSL_SIM_HOLD_MARK");
    for _ in 0..600 {
        if let Some(mark) = &mark {
            let _ = fs_err::write(mark, context);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    fail(
        "Simulated hold expired: nothing killed the caller (WSL_SIM_HOLD).",
        "Wsl/E_UNEXPECTED",
    )
}

pub fn invalid_option(option: &str) -> Failure {
    Failure {
        message: format!(
            "Invalid command line option: {option}\nUsage: wsl.exe [Argument] [Options...] [CommandLine]"
        ),
        code: "Wsl/E_INVALIDARG".to_owned(),
    }
}

pub fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match verbs::dispatch(&args) {
        Ok(code) => std::process::exit(code),
        Err(f) => {
            print(&format!("{}\nError code: {}\n", f.message, f.code), true);
            // wsl.exe exits with -1 (0xFFFFFFFF) on failure.
            std::process::exit(-1);
        }
    }
}
