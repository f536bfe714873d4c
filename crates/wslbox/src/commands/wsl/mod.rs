//! The Windows verbs: `import`, `configure`, `list`, `rename`, `move`, `clone`, `backup`,
//! `remove`, `set-user`, `set-default`, `upgrade`, `commit`. They drive `wslbox_wsl::host` on Windows; elsewhere each one
//! stops with a "needs Windows" error.

use clap_complete::CompletionCandidate;

use super::Context;
use crate::cli::WslCommand;

#[cfg(windows)]
mod commit;
mod table;
#[cfg(windows)]
mod upgrade;
#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub fn run(cmd: WslCommand, ctx: &Context) -> anyhow::Result<()> {
    windows::run(cmd, ctx)
}

#[cfg(not(windows))]
pub fn run(cmd: WslCommand, _ctx: &Context) -> anyhow::Result<()> {
    Err(needs_windows(cmd.verb()))
}

/// The installed WSL's version (`wsl --version`), for `wslbox version`; `None` off Windows and
/// for inbox WSL.
#[cfg(windows)]
pub fn wsl_version() -> Option<String> {
    windows::wsl_version()
}

#[cfg(not(windows))]
pub fn wsl_version() -> Option<String> {
    None
}

/// The WSL distributions wslbox made, each with the digest of the image it was made from
/// (`WslboxDigest`). Only the registry is read; off Windows there are none.
#[cfg(windows)]
pub fn distributions_by_image() -> anyhow::Result<Vec<(String, String)>> {
    windows::distributions_by_image()
}

#[cfg(not(windows))]
pub fn distributions_by_image() -> anyhow::Result<Vec<(String, String)>> {
    Ok(Vec::new())
}

/// The registered distributions' names, for TAB after a verb that takes one (`cli::wsl`).
/// Completion must stay quiet: when they cannot be read (no WSL, off Windows) there are none.
pub fn distribution_candidates() -> Vec<CompletionCandidate> {
    distribution_names()
        .unwrap_or_default()
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

#[cfg(windows)]
fn distribution_names() -> anyhow::Result<Vec<String>> {
    windows::distribution_names()
}

#[cfg(not(windows))]
fn distribution_names() -> anyhow::Result<Vec<String>> {
    Ok(Vec::new())
}

/// The names in `distros` (from [`distributions_by_image`]) made from `record`'s content.
pub fn made_from<'a>(
    distros: &'a [(String, String)],
    record: &wslbox_store::Record,
) -> Vec<&'a str> {
    let Some(digest) = record.digest().map(ToString::to_string) else {
        return Vec::new();
    };
    distros
        .iter()
        .filter(|(_, d)| *d == digest)
        .map(|(name, _)| name.as_str())
        .collect()
}

#[cfg_attr(windows, allow(dead_code))]
fn needs_windows(verb: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "`wslbox {verb}` needs Windows (it manages WSL distributions); on Linux use `wslbox export` to write a root filesystem tar for `wsl --import`"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn needs_windows_message_names_the_verb_and_the_alternative() {
        let msg = super::needs_windows("rename").to_string();
        assert!(msg.starts_with("`wslbox rename` needs Windows"), "{msg}");
        assert!(msg.contains("use `wslbox export`"), "{msg}");
    }
}
