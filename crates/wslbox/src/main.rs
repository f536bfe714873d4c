//! The `wslbox` binary: parses arguments and maps errors to exit codes. All logic lives in the
//! library crates; `commands/` glues them together, `reporters` draws progress, `printer` writes
//! text or `--json` results.

use std::process::ExitCode;

use clap::Parser;

mod cli;
mod commands;
mod config;
mod interrupt;
mod printer;
mod reporters;
mod table;

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A shell asking for completions (`commands::completion`): answer and exit. Otherwise this
    // only looks at one environment variable (and the working directory) and returns.
    clap_complete::CompleteEnv::with_factory(commands::completion::command)
        .var(commands::completion::ENV_VAR)
        .shells(commands::completion::SHELLS)
        .complete();
    let cli = cli::Cli::parse();
    interrupt::install();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if interrupt::interrupted() => {
            printer::note("interrupted; nothing was left behind");
            ExitCode::from(interrupt::EXIT_CODE)
        }
        Err(err) => {
            printer::error(&err);
            ExitCode::FAILURE
        }
    }
}
