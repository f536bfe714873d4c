//! Records what `wslbox --version` reports besides the crate version: the git commit (from
//! `WSLBOX_COMMIT`, which a release build sets, or `git rev-parse`) and the target triple.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=WSLBOX_COMMIT");
    let commit = std::env::var("WSLBOX_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
        .or_else(|| {
            let out = Command::new("git")
                .args(["rev-parse", "--short=12", "HEAD"])
                .output()
                .ok()?;
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    // A new commit changes HEAD (or the ref it points at).
    for head in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(head).exists() {
            println!("cargo:rerun-if-changed={head}");
        }
    }
    println!("cargo:rustc-env=WSLBOX_COMMIT={commit}");
    println!(
        "cargo:rustc-env=WSLBOX_TARGET={}",
        std::env::var("TARGET").expect("cargo sets TARGET")
    );
}
