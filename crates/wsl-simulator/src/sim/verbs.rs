//! The verbs other than `--import`.

use std::io::Write;
use std::path::Path;

use super::registry::{self, Distro, lxss};
use super::{
    Failure, Result, archive, fail, fault, has_install_from_file, has_manage, hold, invalid_option,
    say, version,
};

pub fn need<'a>(args: &'a [String], i: usize, what: &str) -> Result<&'a str> {
    args.get(i)
        .map(String::as_str)
        .ok_or_else(|| invalid_option(&format!("(missing {what})")))
}

/// Runs the command line; returns the exit code for success (a launch's is the command's).
pub fn dispatch(args: &[String]) -> Result<i32> {
    let first = args.first().map(String::as_str).unwrap_or("");
    if super::launch::is_launch(first) {
        return super::launch::launch(args);
    }
    verb(args).map(|()| 0)
}

fn verb(args: &[String]) -> Result {
    let verb = args.first().map(String::as_str).unwrap_or("");
    match verb {
        "--version" | "-v" => print_version(),
        "--import" => {
            let (name, dir, file) = (
                need(args, 1, "name")?,
                need(args, 2, "location")?,
                need(args, 3, "file")?,
            );
            let mut wsl_version = 2;
            let mut i = 4;
            while i < args.len() {
                match args[i].as_str() {
                    "--version" => {
                        wsl_version = match need(args, i + 1, "version")? {
                            "1" => 1,
                            "2" => 2,
                            v => {
                                return fail(
                                    format!("Invalid WSL version: {v}"),
                                    "Wsl/E_INVALIDARG",
                                );
                            }
                        };
                        i += 2;
                    }
                    other => return Err(invalid_option(other)),
                }
            }
            super::import::import(name, dir, file, wsl_version)
        }
        "--install" if has_install_from_file() => install(&args[1..]),
        "--unregister" => unregister(need(args, 1, "name")?),
        "--terminate" | "-t" => {
            let d = registry::get(need(args, 1, "name")?)?;
            // `WSL_SIM_FAIL=stuck@NAME`: a distribution that will not stop.
            if fault("stuck", &d.name) {
                return fail(
                    "The operation timed out because a response was not received from the virtual machine or container.",
                    "Wsl/Service/TerminateDistro/HCS_E_CONNECTION_TIMEOUT",
                );
            }
            registry::set_running(&d.guid, false);
            say("The operation completed successfully.");
            Ok(())
        }
        "--sim-run" => {
            let d = registry::get(need(args, 1, "name")?)?;
            registry::set_running(&d.guid, true);
            Ok(())
        }
        "--set-default" | "-s" => {
            let d = registry::get(need(args, 1, "name")?)?;
            let _ = lxss().set_string("DefaultDistribution", &d.guid);
            say("The operation completed successfully.");
            Ok(())
        }
        "--list" | "-l" => list(&args[1..]),
        "--export" => export(args),
        "--manage" if has_manage() => manage(args),
        other => Err(invalid_option(other)),
    }
}

/// `--install --from-file FILE|- [--name N] [--location DIR] [--version N] [--no-launch]`.
/// Only the from-file form exists here; the simulator launches nothing, so `--no-launch` is
/// accepted and a launch is never attempted.
fn install(args: &[String]) -> Result {
    let (mut file, mut name, mut dir, mut wsl_version) = (None, None, None, 2);
    let mut i = 0;
    while i < args.len() {
        let value = || need(args, i + 1, &args[i]);
        match args[i].as_str() {
            "--from-file" | "-f" => file = Some(value()?),
            "--name" => name = Some(value()?),
            "--location" | "-l" => dir = Some(value()?),
            "--version" => {
                wsl_version = match value()? {
                    "1" => 1,
                    "2" => 2,
                    v => return fail(format!("Invalid WSL version: {v}"), "Wsl/E_INVALIDARG"),
                }
            }
            "--no-launch" | "-n" => {
                i += 1;
                continue;
            }
            other => return Err(invalid_option(other)),
        }
        i += 2;
    }
    let Some(file) = file else {
        return fail(
            "wsl-simulator implements only `wsl --install --from-file`.",
            "Wsl/E_NOTIMPL",
        );
    };
    if file == "-" {
        super::say("Installing: <stdin>");
    } else {
        super::say(&format!("Installing: {file}"));
    }
    super::import::register(&super::import::Registration {
        name,
        dir,
        file,
        wsl_version,
        first_run: true,
    })
}

fn print_version() -> Result {
    let Some(v) = version() else {
        return Err(invalid_option("--version"));
    };
    say(&format!(
        "WSL version: {v}\nKernel version: 5.15.167.4-1\nWSLg version: 1.0.65\nWindows version: 10.0.26100.1\n(wsl-simulator: a test double, not WSL)"
    ));
    Ok(())
}

fn unregister(name: &str) -> Result {
    let d = registry::get(name)?;
    hold("unregister", &d.name)?;
    if fault("unregister", &d.name) {
        return fail(
            "Simulated unregister failure (WSL_SIM_FAIL).",
            "Wsl/Service/UnregisterDistro/E_FAIL",
        );
    }
    say("Unregistering.");
    let _ = fs_err::remove_file(d.disk());
    for value in ["ShortcutPath", "TerminalProfilePath"] {
        if let Ok(path) = d.key.get_string(value) {
            let _ = fs_err::remove_file(path);
        }
    }
    registry::set_running(&d.guid, false);
    let root = lxss();
    if root.remove_tree(&d.guid).is_err() {
        return fail(
            "Access is denied.",
            "Wsl/Service/UnregisterDistro/E_ACCESSDENIED",
        );
    }
    if registry::default_guid().as_deref() == Some(d.guid.as_str()) {
        match registry::all().first() {
            Some(next) => drop(root.set_string("DefaultDistribution", &next.guid)),
            None => drop(root.remove_value("DefaultDistribution")),
        }
    }
    say("The operation completed successfully.");
    Ok(())
}

fn list(flags: &[String]) -> Result {
    let (mut verbose, mut running_only, mut quiet) = (false, false, false);
    for f in flags {
        match f.as_str() {
            "--verbose" | "-v" => verbose = true,
            "--running" => running_only = true,
            "--quiet" | "-q" => quiet = true,
            "--all" => {}
            other => return Err(invalid_option(other)),
        }
    }
    let all = registry::all();
    if all.is_empty() {
        return fail(
            "Windows Subsystem for Linux has no installed distributions.\nYou can resolve this by installing a distribution with the instructions below:\nUse 'wsl.exe --list --online' to list available distributions",
            "Wsl/WSL_E_DEFAULT_DISTRO_NOT_FOUND",
        );
    }
    let default = registry::default_guid();
    let shown: Vec<&Distro> = all
        .iter()
        .filter(|d| !running_only || registry::is_running(&d.guid) || fault("stuck", &d.name))
        .collect();
    if quiet {
        let text: String = shown.iter().map(|d| format!("{}\n", d.name)).collect();
        super::print(&text, false);
    } else if running_only && shown.is_empty() {
        say("There are no running distributions.");
    } else if verbose {
        let mut text = format!("  {:<24}{:<16}{}\n", "NAME", "STATE", "VERSION");
        for d in shown {
            let mark = if default.as_deref() == Some(d.guid.as_str()) {
                '*'
            } else {
                ' '
            };
            let state = if registry::is_running(&d.guid) {
                "Running"
            } else {
                "Stopped"
            };
            let v = if d.key.get_u32("Flags").unwrap_or(0xF) & 0x8 != 0 {
                2
            } else {
                1
            };
            text.push_str(&format!("{mark} {:<24}{state:<16}{v}\n", d.name));
        }
        super::print(&text, false);
    } else {
        let mut text = String::from("Windows Subsystem for Linux Distributions:\n");
        for d in shown {
            let suffix = if default.as_deref() == Some(d.guid.as_str()) {
                " (Default)"
            } else {
                ""
            };
            text.push_str(&format!("{}{suffix}\n", d.name));
        }
        super::print(&text, false);
    }
    Ok(())
}

fn export(args: &[String]) -> Result {
    let d = registry::get(need(args, 1, "name")?)?;
    let file = need(args, 2, "file")?;
    let mut format = "tar";
    if let Some(i) = args.iter().position(|a| a == "--format") {
        format = need(args, i + 1, "format")?;
    }
    if file == "-" && version().is_none() {
        return Err(invalid_option("-"));
    }
    let context = format!("{}|{file}", d.name);
    hold("export", &context)?;
    if fault("export", &context) {
        return fail(
            "Simulated export failure (WSL_SIM_FAIL).",
            "Wsl/Service/WSL_E_EXPORT_FAILED",
        );
    }
    let Ok(tar) = fs_err::read(d.disk()) else {
        return fail(
            "The system cannot find the file specified.",
            "Wsl/Service/WSL_E_EXPORT_FAILED",
        );
    };
    let bytes = match format {
        // The stand-in disk is the tar itself, so a vhd export is a copy of it.
        "tar" | "vhd" => tar,
        "tar.gz" => {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar)
                .and_then(|()| gz.finish())
                .map_err(|_| Failure {
                    message: "Compressing the export failed.".into(),
                    code: "Wsl/Service/WSL_E_EXPORT_FAILED".into(),
                })?
        }
        "tar.xz" => {
            return fail(
                "wsl-simulator does not implement --format tar.xz.",
                "Wsl/E_NOTIMPL",
            );
        }
        other => return fail(format!("Invalid format: {other}"), "Wsl/E_INVALIDARG"),
    };
    // `WSL_SIM_FAIL=export-cut@TEXT`: half of the archive, then a failure;
    // `export-late@TEXT`: all of it, then a failure.
    for (step, part, what) in [
        ("export-cut", bytes.len() / 2, "after half of the archive"),
        ("export-late", bytes.len(), "after the whole archive"),
    ] {
        if fault(step, &context) {
            let mut out = std::io::stdout();
            let _ = out.write_all(&bytes[..part]).and_then(|()| out.flush());
            return fail(
                format!("Simulated export failure {what} (WSL_SIM_FAIL)."),
                "Wsl/Service/WSL_E_EXPORT_FAILED",
            );
        }
    }
    let written = if file == "-" {
        let mut out = std::io::stdout();
        out.write_all(&bytes).and_then(|()| out.flush())
    } else {
        fs_err::write(file, &bytes)
    };
    if written.is_err() {
        return fail(
            "Writing the export failed.",
            "Wsl/Service/WSL_E_EXPORT_FAILED",
        );
    }
    if file != "-" {
        say(
            "Export in progress, this may take a few minutes.\nThe operation completed successfully.",
        );
    }
    Ok(())
}

fn manage(args: &[String]) -> Result {
    let d = registry::get(need(args, 1, "name")?)?;
    match need(args, 2, "option")? {
        "--move" => {
            if registry::is_running(&d.guid) {
                return fail(
                    "The operation could not be completed because the distribution is running.",
                    "Wsl/Service/MoveDistro/WSL_E_DISTRO_RUNNING",
                );
            }
            let target = std::path::absolute(Path::new(need(args, 3, "location")?))
                .map_err(|_| invalid_option("--move"))?;
            let disk = d.disk();
            let new_disk = target.join(disk.file_name().expect("disk file name"));
            if new_disk.exists() {
                return fail(
                    "The file exists.",
                    "Wsl/Service/MoveDistro/ERROR_FILE_EXISTS",
                );
            }
            // `WSL_SIM_FAIL=move-no-op`: claims success and moves nothing.
            if fault("move-no-op", &d.name) {
                say("The operation completed successfully.");
                return Ok(());
            }
            let moved =
                fs_err::create_dir_all(&target).and_then(|()| fs_err::rename(&disk, &new_disk));
            if moved.is_err() {
                return fail("Access is denied.", "Wsl/Service/MoveDistro/E_ACCESSDENIED");
            }
            // WSL 2.7.x has moved the disk and left BasePath at the old folder (WSL#40716);
            // `WSL_SIM_FAIL=move-stale-basepath` stages that.
            if !fault("move-stale-basepath", &d.name) {
                let _ = d
                    .key
                    .set_string("BasePath", format!(r"\\?\{}", target.display()));
            }
            say("The operation completed successfully.");
            Ok(())
        }
        "--set-default-user" => {
            let user = need(args, 3, "user")?;
            let tar = fs_err::read(d.disk()).unwrap_or_default();
            let Some(uid) = archive::uid_of(&tar, user) else {
                return fail(
                    format!("User not found: {user}"),
                    "Wsl/Service/WSL_E_USER_NOT_FOUND",
                );
            };
            let _ = d.key.set_u32("DefaultUid", uid);
            say("The operation completed successfully.");
            Ok(())
        }
        other => Err(invalid_option(other)),
    }
}
