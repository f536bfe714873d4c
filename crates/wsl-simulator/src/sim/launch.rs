//! `wsl.exe [-d|--distribution NAME] [-u|--user USER] [--cd DIR] [--] COMMAND...`: running a
//! Linux command. Part of the test double, not real WSL: it runs no Linux. It checks what
//! wsl.exe checks before launching (the distribution and the user exist), reads stdin whole,
//! and then plays back what the test asked for (see `src/main.rs`):
//!
//! - the run is appended to `WSL_SIM_RUN_LOG` as one JSON line,
//!   `{"argv": [...], "stdin_hex": "..."}` (argv without the program name, stdin as lowercase
//!   hex, so a test can compare the bytes exactly);
//! - each stdin line that starts with `echo ` prints the rest of the line, byte for byte, to
//!   stdout, or to stderr when it ends in ` >&2`, as a shell running the script would;
//! - the exit code is `WSL_SIM_RUN_EXIT` (default 0): `N`, or `N@TEXT` to exit with N only
//!   when stdin contains TEXT (entries separated by `,`, the first match wins).
//!
//! Real wsl.exe exits with the Linux command's own exit code (`LaunchProcess` in microsoft/WSL
//! `src/windows/common/WslClient.cpp` returns what `SvcComm::LaunchProcess` in
//! `src/windows/common/svccomm.cpp` got from waiting for the process), and maps init's
//! "user not found" exit to `WSL_E_USER_NOT_FOUND`. Like WSL, a launch leaves the distribution
//! running (real WSL stops it once idle; the simulator keeps it running until `--terminate`).

use std::io::{Read, Write};

use super::registry::{self, Distro};
use super::verbs::need;
use super::{Result, archive, fail, invalid_option};

/// Whether `first` starts a launch rather than naming a verb.
pub fn is_launch(first: &str) -> bool {
    matches!(
        first,
        "-d" | "--distribution" | "-u" | "--user" | "--cd" | "--"
    )
}

struct Launch<'a> {
    distribution: Option<&'a str>,
    user: Option<&'a str>,
    command: &'a [String],
}

fn parse(args: &[String]) -> Result<Launch<'_>> {
    let mut launch = Launch {
        distribution: None,
        user: None,
        command: &[],
    };
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-d" | "--distribution" => launch.distribution = Some(need(args, i + 1, "name")?),
            "-u" | "--user" => launch.user = Some(need(args, i + 1, "user")?),
            // Recorded in the run log only: nothing runs, so there is no directory to enter.
            "--cd" => {
                need(args, i + 1, "directory")?;
            }
            "--" => {
                launch.command = &args[i + 1..];
                break;
            }
            other if other.starts_with('-') => return Err(invalid_option(other)),
            _ => {
                launch.command = &args[i..];
                break;
            }
        }
        i += 2;
    }
    Ok(launch)
}

fn distribution(name: Option<&str>) -> Result<Distro> {
    if let Some(name) = name {
        return registry::get(name);
    }
    let default = registry::default_guid();
    match registry::all()
        .into_iter()
        .find(|d| Some(&d.guid) == default.as_ref())
    {
        Some(d) => Ok(d),
        None => fail(
            "Windows Subsystem for Linux has no installed distributions.",
            "Wsl/WSL_E_DEFAULT_DISTRO_NOT_FOUND",
        ),
    }
}

/// Runs the launch in `args`; returns the exit code to end with.
pub fn launch(args: &[String]) -> Result<i32> {
    let launch = parse(args)?;
    let distro = distribution(launch.distribution)?;
    if let Some(user) = launch.user {
        let disk = fs_err::read(distro.disk()).unwrap_or_default();
        if archive::uid_of(&disk, user).is_none() {
            return fail(
                format!("User not found: {user}"),
                "Wsl/WSL_E_USER_NOT_FOUND",
            );
        }
    }
    if launch.command.is_empty() {
        return fail(
            "wsl-simulator cannot start an interactive shell; give a command after `--`.",
            "Wsl/E_NOTIMPL",
        );
    }
    let mut stdin = Vec::new();
    if std::io::stdin().read_to_end(&mut stdin).is_err() {
        return fail("Reading standard input failed.", "Wsl/E_FAIL");
    }
    registry::set_running(&distro.guid, true);
    record(args, &stdin)?;
    echo(&stdin);
    Ok(exit_code(&stdin))
}

/// Appends the run to `WSL_SIM_RUN_LOG`, if set.
fn record(args: &[String], stdin: &[u8]) -> Result {
    let Some(log) = std::env::var_os("WSL_SIM_RUN_LOG") else {
        return Ok(());
    };
    let hex: String = stdin.iter().map(|b| format!("{b:02x}")).collect();
    let line = serde_json::json!({"argv": args, "stdin_hex": hex}).to_string();
    let appended = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .and_then(|mut f| writeln!(f, "{line}"));
    if appended.is_err() {
        return fail(
            format!(
                "wsl-simulator could not append to WSL_SIM_RUN_LOG ({}).",
                log.display()
            ),
            "Wsl/E_FAIL",
        );
    }
    Ok(())
}

/// Prints what the script's `echo ` lines would.
fn echo(stdin: &[u8]) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for line in stdin.split(|b| *b == b'\n') {
        let Some(text) = line.strip_prefix(b"echo ") else {
            continue;
        };
        let _ = match text.strip_suffix(b" >&2") {
            Some(text) => err.write_all(text).and_then(|()| err.write_all(b"\n")),
            None => out.write_all(text).and_then(|()| out.write_all(b"\n")),
        };
    }
    let _ = out.flush();
}

/// `WSL_SIM_RUN_EXIT`: `N` or `N@TEXT` entries; 0 when none applies.
fn exit_code(stdin: &[u8]) -> i32 {
    let Ok(spec) = std::env::var("WSL_SIM_RUN_EXIT") else {
        return 0;
    };
    let input = String::from_utf8_lossy(stdin);
    spec.split(',')
        .find_map(|entry| {
            let (code, text) = entry.split_once('@').unwrap_or((entry, ""));
            input.contains(text).then(|| code.trim().parse().ok())?
        })
        .unwrap_or(0)
}
