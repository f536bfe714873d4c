//! `wslbox completion SHELL [--static]`.
//!
//! By default the script only registers wslbox as its own completer: on each TAB the shell runs
//! `WSLBOX_COMPLETE=<shell> wslbox -- <words>`, which `main` hands to clap_complete's
//! `CompleteEnv` before parsing anything. The answers then always match the installed binary
//! and can name what exists only at run time, such as the registered WSL distributions
//! (`cli::wsl`). `--static` prints clap_complete's fixed script instead, for packagers: no
//! process per TAB, but no distribution names either.

mod powershell;

use anyhow::{Context as _, bail};
use clap::CommandFactory;
use clap_complete::env::{self, EnvCompleter, Shells};
use clap_complete::{ArgValueCandidates, Shell};

use crate::cli::{Cli, CompletionArgs};

/// The shells `CompleteEnv` answers (`main`), and whose scripts `wslbox completion` writes.
pub const SHELLS: Shells<'static> = Shells(&[
    &env::Bash,
    &env::Elvish,
    &env::Fish,
    &powershell::Powershell,
    &env::Zsh,
]);

/// The variable that turns a run of wslbox into a completion request. clap_complete's default,
/// `COMPLETE`, is a name a user may well have set for something else.
pub const ENV_VAR: &str = "WSLBOX_COMPLETE";

/// The arguments that name a registered distribution, as (subcommand, argument id): TAB
/// proposes the registered names there. Not a new name (`import --name`, `rename`'s and
/// `clone`'s NEW).
const TAKE_A_DISTRIBUTION: &[(&str, &str)] = &[
    ("configure", "name"),
    ("rename", "old"),
    ("move", "name"),
    ("clone", "name"),
    ("backup", "name"),
    ("remove", "name"),
    ("set-user", "name"),
    ("set-default", "name"),
    ("upgrade", "name"),
    ("commit", "name"),
];

/// The command line the completion engine walks (`main`): the CLI's, with the registered
/// distributions proposed for [`TAKE_A_DISTRIBUTION`]. (Here rather than in `cli`, which only
/// declares, so `cli` needs nothing from `commands`.)
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    for &(sub, arg) in TAKE_A_DISTRIBUTION {
        // `mut_args`, not `mut_arg`, which moves the argument last: a positional's place is
        // its order.
        cmd = cmd.mut_subcommand(sub, |c| {
            c.mut_args(|a| match a.get_id() == arg {
                true => a.add(ArgValueCandidates::new(super::wsl::distribution_candidates)),
                false => a,
            })
        });
    }
    cmd
}

/// Writes the completion script for `args.shell` to stdout.
pub fn completion(args: CompletionArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let bin = cmd.get_name().to_owned();
    let mut out = std::io::stdout().lock();
    if args.static_script {
        clap_complete::generate(args.shell, &mut cmd, bin, &mut out);
        return Ok(());
    }
    let completer = completer_path(&bin);
    adapter(args.shell)?
        .write_registration(ENV_VAR, &bin, &bin, &completer, &mut out)
        .context("writing the completion script")?;
    Ok(())
}

/// The adapter between `shell` and `CompleteEnv`, from [`SHELLS`].
fn adapter(shell: Shell) -> anyhow::Result<&'static dyn EnvCompleter> {
    let name = shell.to_string();
    match SHELLS.0.iter().copied().find(|adapter| adapter.is(&name)) {
        Some(adapter) => Ok(adapter),
        None => bail!(
            "`wslbox completion {shell}` has no dynamic script; `wslbox completion {shell} --static` prints a static one (subcommands and options, no distribution names)"
        ),
    }
}

/// The program the script calls back on each TAB: this very executable, so the answers come
/// from the binary that wrote the script whatever PATH says later. (`CompleteEnv` would take
/// `argv[0]`, which cmd.exe passes as typed.) Windows names the path wslbox was started from
/// without resolving links, so a winget `Links\wslbox.exe` alias stays the alias; behind a
/// scoop shim it is the app's `current\wslbox.exe`. If it is unknown, PATH finds `wslbox`.
fn completer_path(bin: &str) -> String {
    std::env::current_exe()
        .map(|exe| exe.to_string_lossy().into_owned())
        .unwrap_or_else(|_| bin.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_distribution_argument_exists_and_is_positional() {
        // `mut_arg` on a missing id panics when clap checks the command: this builds it.
        let mut cmd = command();
        cmd.build();
        let mut declared = Cli::command();
        declared.build();
        for &(sub, arg) in TAKE_A_DISTRIBUTION {
            let sub = cmd.find_subcommand(sub).expect(sub);
            let found = sub.get_arguments().find(|a| a.get_id() == arg).expect(arg);
            assert!(found.is_positional(), "{found:?}");
            // Positionals keep their order (`rename OLD NEW`).
            let order = |c: &clap::Command| {
                c.get_positionals()
                    .map(|a| (a.get_id().to_string(), a.get_index()))
                    .collect::<Vec<_>>()
            };
            let before = declared.find_subcommand(sub.get_name()).unwrap();
            assert_eq!(order(sub), order(before), "{}", sub.get_name());
        }
    }
}
