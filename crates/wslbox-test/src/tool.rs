//! Running the external programs that the oracles, fixture builders and engine helpers drive.
//! A program that is missing is an error naming the Debian package that ships it (to install
//! with `scripts/install-test-deps`), never a skip; a failing one reports its stderr.

use std::process::Command;

use anyhow::{Context as _, bail};

/// Runs `cmd` to completion and returns its stdout (lossy UTF-8); `what` names it in errors.
pub fn run(cmd: &mut Command, what: &str, package: &str) -> anyhow::Result<String> {
    let out = cmd.output().with_context(|| {
        format!(
            "running {what}: is it installed? (Debian package `{package}`, see scripts/install-test-deps)"
        )
    })?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Fails unless this process runs as root (chown, mknod, trusted.* xattrs, engines need it).
pub fn require_root(why: &str) -> anyhow::Result<()> {
    let uid = run(Command::new("id").arg("-u"), "id -u", "coreutils")?;
    if uid.trim() != "0" {
        bail!("{why}: run the tests as root (uid is {})", uid.trim());
    }
    Ok(())
}
