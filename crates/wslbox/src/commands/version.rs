//! `wslbox version`.

use crate::cli::{LONG_VERSION, VersionArgs};
use crate::printer;

/// What `wslbox version --json` prints.
#[derive(Debug, serde::Serialize)]
struct VersionInfo {
    version: &'static str,
    commit: &'static str,
    target: &'static str,
    /// `wsl --version` on Windows; absent elsewhere and for inbox WSL.
    #[serde(skip_serializing_if = "Option::is_none")]
    wsl: Option<String>,
}

pub fn version(args: VersionArgs) -> anyhow::Result<()> {
    let info = VersionInfo {
        version: env!("CARGO_PKG_VERSION"),
        commit: env!("WSLBOX_COMMIT"),
        target: env!("WSLBOX_TARGET"),
        wsl: super::wsl::wsl_version(),
    };
    if args.json {
        return printer::json(&info);
    }
    println!("wslbox {LONG_VERSION}");
    if let Some(wsl) = &info.wsl {
        println!("WSL {wsl}");
    }
    Ok(())
}
