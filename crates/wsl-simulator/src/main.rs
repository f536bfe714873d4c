//! **A SIMULATOR of `wsl.exe`, for tests only. It is not WSL and runs no Linux.**
//!
//! The Wine test suite cannot run the real wsl.exe, so this binary (named `wsl`) stands in
//! for it and follows wsl.exe's documented behaviour (WSL-FACTS.md) for the subset wslbox
//! uses: `--import NAME DIR FILE|- [--version N]`, `--install --from-file FILE|- [--name N]
//! [--location DIR] [--version N] [--no-launch]` (registration with the first-run setup
//! pending), `--unregister`, `--terminate`,
//! `--list [--verbose|--running|--quiet]`, `--export NAME FILE|- [--format F]`,
//! `--manage NAME --move DIR | --set-default-user USER`, `--set-default`, `--version`, and
//! launching a command, `[-d|--distribution NAME] [-u|--user USER] [--cd DIR] [--] COMMAND...`,
//! which checks that the distribution and the user exist, reads stdin whole and runs nothing
//! (`src/sim/launch.rs`); it exits with the code the test asks for, as wsl.exe exits with the
//! Linux command's.
//!
//! Registration writes what real WSL writes: a GUID-named key under `HKCU\...\Lxss` with the
//! usual values, a Start Menu shortcut `<name>.lnk` (a real shell link) running
//! `wsl.exe --distribution-id {GUID} --cd ~`, and a Windows Terminal fragment, with their paths
//! in `ShortcutPath` / `TerminalProfilePath`. Instead of a disk image, the imported tar itself
//! is stored in the install folder under the `VhdFileName` (`ext4.vhdx`); nothing is extracted.
//!
//! Output is UTF-16LE unless `WSL_UTF8=1`; failures print a message and an
//! `Error code: Wsl/...` line and exit with -1, like wsl.exe.
//!
//! Test-only controls (not part of wsl.exe):
//! - `WSL_SIM_FAIL=import-after-register|import-before-register|export|unregister` breaks
//!   that step (`STEP@TEXT` only when the folder, file or name involved contains TEXT);
//!   `export-cut@TEXT` writes half of the archive before failing, `export-late@TEXT` all of
//!   it (the export's TEXT is
//!   `NAME|FILE`); `stuck@NAME` lists the distribution as running and makes `--terminate` of it time out;
//!   `move-no-op` and `move-stale-basepath` stage WSL 2.7's `--manage --move` bugs;
//! - `WSL_SIM_HOLD=import-after-register|unregister|export@TEXT` stops at that step and waits,
//!   after writing the step's context to the file `WSL_SIM_HOLD_MARK`, for a test to kill
//!   wslbox there (fails after a minute);
//! - `WSL_SIM_VERSION=2.4.4.0` sets the reported version; `inbox` behaves like Windows 10's
//!   built-in wsl.exe (no `--version`, no `-` archives, no `--manage`);
//! - `wsl --sim-run NAME` marks a distribution running (until `--terminate`);
//! - `WSL_SIM_RUN_LOG=FILE`: each launch appends one JSON line to FILE,
//!   `{"argv": [...], "stdin_hex": "..."}` (the arguments after `wsl.exe`, and stdin's bytes in
//!   lowercase hex);
//! - a launch prints, for each stdin line that starts with `echo `, the rest of the line, to
//!   stdout, or to stderr when the line ends in ` >&2`;
//! - `WSL_SIM_RUN_EXIT=N` (default 0) is a launch's exit code; `N@TEXT` applies only when
//!   stdin contains TEXT (entries separated by `,`, the first match wins).

#[cfg(windows)]
mod sim;

#[cfg(windows)]
fn main() {
    sim::main()
}

#[cfg(not(windows))]
fn main() {
    eprintln!(
        "wsl-simulator is a Windows program; build it for x86_64-pc-windows-gnu and run it under Wine"
    );
    std::process::exit(2);
}
