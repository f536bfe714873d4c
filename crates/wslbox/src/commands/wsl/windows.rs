//! The Windows implementations: argument plumbing into `wslbox_wsl::host` and printing.
#![cfg(windows)]

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, bail};
use wslbox_wsl::host::{self, ImportOptions, Produced, RenameOptions, Report, WslExe};
use wslbox_wsl::{Script, Stream};

use super::table;
use crate::cli::{ImportArgs, WslCommand};
use crate::commands::{Context, export};
use crate::printer;

pub fn wsl_version() -> Option<String> {
    WslExe::locate().version().map(|v| v.to_string())
}

pub fn run(cmd: WslCommand, ctx: &Context) -> anyhow::Result<()> {
    let wsl = WslExe::locate();
    // A wsl.exe we start is stopped with us; what a killed wslbox left half done is put right
    // before anything else looks at the distributions.
    host::children_die_with_this_process();
    let recovered = host::recover(&wsl);
    recovered.changes.iter().for_each(|c| printer::note(c));
    recovered.warnings.iter().for_each(|w| printer::warn(w));
    let (report, json) = match cmd {
        WslCommand::List(args) => {
            if ctx.quiet && !args.json {
                // As `list` does, a machine without WSL is told so (TAB, below, stays quiet).
                wsl.ensure_present()?;
                distribution_names()?.iter().for_each(printer::line);
                return Ok(());
            }
            let distros = host::list(&wsl)?;
            if args.json {
                return printer::json(&distros);
            }
            if distros.is_empty() {
                printer::note(
                    "No WSL distributions are registered; create one with `wslbox import IMAGE --name NAME`.",
                );
            } else {
                print!("{}", table::render(&distros));
            }
            return Ok(());
        }
        WslCommand::Import(args) => {
            // Read before anything is downloaded: a missing script stops the import early.
            let scripts = read_scripts(&args.configure)?;
            let imported = import(ctx, &wsl, &args)?;
            let report = if scripts.is_empty() {
                imported
            } else {
                if !args.json {
                    print_report(ctx, &imported, false)?;
                }
                let configured = configure(ctx, &wsl, &args.name, &scripts, args.json)
                    .with_context(|| {
                        format!(
                            "`{}` was imported (the import is kept), but configuring it failed",
                            args.name
                        )
                    })?;
                if args.json {
                    merge(imported, configured)
                } else {
                    configured
                }
            };
            print_report(ctx, &report, args.json)?;
            if !args.json && !ctx.quiet {
                printer::line(format!("Start it with: wsl -d {}", args.name));
            }
            return Ok(());
        }
        WslCommand::Configure(args) => {
            let scripts = read_scripts(&args.scripts)?;
            (
                configure(ctx, &wsl, &args.name, &scripts, args.json)?,
                args.json,
            )
        }
        WslCommand::Rename(args) => {
            let opts = RenameOptions {
                terminate: args.terminate,
                terminal: !args.no_terminal,
                shortcut: !args.no_shortcut,
            };
            (host::rename(&wsl, &args.old, &args.new, &opts)?, args.json)
        }
        WslCommand::Move(args) => (host::move_to(&wsl, &args.name, &args.dir)?, args.json),
        WslCommand::Clone(args) => (
            host::clone(&wsl, &args.name, &args.new, args.location.clone())?,
            args.json,
        ),
        WslCommand::Backup(args) => (host::backup(&wsl, &args.name, &args.output)?, args.json),
        WslCommand::Remove(args) => {
            confirm(
                args.yes,
                &format!(
                    "Remove the WSL distribution `{}` and delete its disk? This cannot be undone.",
                    args.name
                ),
                &format!("remove `{}`", args.name),
                &format!("`{}` is unchanged", args.name),
            )?;
            (host::remove(&wsl, &args.name)?, args.json)
        }
        WslCommand::Upgrade(args) => match super::upgrade::run(ctx, &wsl, &args)? {
            Some(report) => (report, args.json),
            None => return Ok(()),
        },
        WslCommand::Commit(args) => return super::commit::run(ctx, &wsl, &args),
        WslCommand::SetUser(args) => (host::set_user(&wsl, &args.name, &args.user)?, args.json),
        WslCommand::SetDefault(args) => (host::set_default(&wsl, &args.name)?, args.json),
    };
    print_report(ctx, &report, json)
}

/// The registered distributions' names: what `list --quiet` prints and TAB proposes. Only the
/// registry is read (the running state, which needs wsl.exe, is not shown), so it is quick.
pub fn distribution_names() -> anyhow::Result<Vec<String>> {
    let distros = host::Lxss::open()?.list(&[])?;
    Ok(distros.into_iter().map(|d| d.name).collect())
}

/// See `super::distributions_by_image`.
pub fn distributions_by_image() -> anyhow::Result<Vec<(String, String)>> {
    let distros = host::Lxss::open()?.list(&[])?;
    Ok(distros
        .into_iter()
        .filter_map(|d| Some((d.name, d.image_digest?)))
        .collect())
}

fn import(ctx: &Context, wsl: &WslExe, args: &ImportArgs) -> anyhow::Result<Report> {
    // Refuse a bad or taken name before downloading anything.
    host::check_new_distribution(&args.name)?;
    let first_run = args.first_run && wsl.supports_install_from_file();
    if args.first_run && !first_run {
        let version = wsl
            .version()
            .map_or("the Windows 10 inbox WSL".to_owned(), |v| {
                format!("WSL {v}")
            });
        printer::warn(&format!(
            "--first-run: {version} has no `wsl --install --from-file`, so `{}` is imported with `wsl --import` and no first-run setup runs; {}. Run `wsl --update` for the first-run setup",
            args.name,
            if args.wsl.user.is_some() {
                "wslbox sets up the --user account instead"
            } else {
                "it logs in as root (pass --user NAME to have wslbox create a user)"
            }
        ));
    }
    let opts = export::wsl_options(&args.wsl, first_run, true, Some(args.name.clone()))?;
    let import_opts = ImportOptions {
        name: args.name.clone(),
        location: args.location.clone(),
        version: args.wsl_version,
        first_run,
    };
    // Ctrl-C during an import unwinds through the transaction, which unregisters.
    let _guard = crate::interrupt::Guard::new();
    let report = host::import(wsl, &import_opts, |out| {
        let summary = export::write_rootfs(ctx, &args.image, opts, out, None)?;
        Ok(Produced {
            image: Some(summary.reference),
            digest: summary.manifest_digest,
            default_user: summary.default_user,
        })
    })?;
    Ok(report)
}

/// Reads every setup script up front, warning about Windows line ends.
fn read_scripts(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<Script>> {
    let scripts = Script::read_all(paths)?;
    for warning in scripts.iter().filter_map(Script::crlf_warning) {
        printer::warn(&warning);
    }
    Ok(scripts)
}

/// Runs the scripts in `name`, their output streaming to our stdout and stderr as it arrives
/// (all of it to stderr with `--json`, so stdout stays one JSON document; none with `-q`).
fn configure(
    ctx: &Context,
    wsl: &WslExe,
    name: &str,
    scripts: &[Script],
    json: bool,
) -> anyhow::Result<Report> {
    let quiet = ctx.quiet;
    let sink = move |stream: Stream, chunk: &[u8]| {
        if quiet {
            return;
        }
        // Unflushed output would hide a prompt or a progress line until the next newline.
        let _ = if json || stream == Stream::Stderr {
            let mut err = std::io::stderr().lock();
            err.write_all(chunk).and_then(|()| err.flush())
        } else {
            let mut out = std::io::stdout().lock();
            out.write_all(chunk).and_then(|()| out.flush())
        };
    };
    Ok(host::configure(
        wsl,
        name,
        scripts,
        &sink,
        wslbox_store::unix_now,
    )?)
}

/// One report of an import and the configuring after it, for `--json`.
fn merge(mut first: Report, then: Report) -> Report {
    first.changes.extend(then.changes);
    first.warnings.extend(then.warnings);
    first
}

/// Asks `question` on the terminal; without one, `--yes` (`yes`) is required. `action` and
/// `unchanged` finish the refusals: "refusing to {action} without confirmation", "not done:
/// {unchanged}".
pub fn confirm(yes: bool, question: &str, action: &str, unchanged: &str) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to {action} without confirmation: stdin is not a terminal; pass --yes");
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if !matches!(answer.trim().to_lowercase().as_str(), "y" | "yes") {
        bail!("not done: {unchanged}");
    }
    Ok(())
}

fn print_report(ctx: &Context, report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        return printer::json(report);
    }
    for w in &report.warnings {
        printer::warn(w);
    }
    if !ctx.quiet {
        for change in &report.changes {
            printer::line(format!("  {change}"));
        }
    }
    Ok(())
}
