//! Running the distribution's own tools on an exported rootfs: extract as root the way WSL's
//! import does, then `chroot` in a private mount namespace.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cmd`, panicking with its output (and an install hint) unless it succeeds; returns
/// its stdout.
pub fn must_run(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {what} ({e}); install it with scripts/install-test-deps")
    });
    assert!(
        out.status.success(),
        "{what} failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// These checks extract as root and chroot, as WSL's import does.
pub fn require_root() {
    assert_eq!(
        must_run(Command::new("id").arg("-u"), "id").trim(),
        "0",
        "these tests extract as root and chroot, as WSL's import does; run them as root"
    );
}

/// A second layer, as `apt-get install sudo` would add: the host's own (bookworm) sudo
/// package files, plus a binary carrying a file capability to check that xattrs survive.
pub fn sudo_and_caps_layer(dir: &Path) -> PathBuf {
    let list = must_run(
        Command::new("dpkg").args(["-L", "sudo"]),
        "dpkg -L sudo (the host must have sudo installed)",
    );
    // Skip usrmerge compatibility paths (/lib is a symlink in the image) and the root itself.
    let files: Vec<&str> = list
        .lines()
        .filter_map(|l| l.strip_prefix('/'))
        .filter(|l| {
            !l.is_empty()
                && *l != "."
                && !["lib", "bin", "sbin"]
                    .iter()
                    .any(|p| l == p || l.starts_with(&format!("{p}/")))
        })
        .collect();
    let list_path = dir.join("sudo-files");
    fs_err::write(&list_path, files.join("\n")).unwrap();
    let tar = dir.join("layer2.tar");
    must_run(
        Command::new("tar")
            .args([
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "--no-recursion",
                "-C",
                "/",
                "-cf",
            ])
            .arg(&tar)
            .arg("-T")
            .arg(&list_path),
        "GNU tar of sudo's files",
    );
    let staging = dir.join("caps");
    fs_err::create_dir_all(staging.join("usr/local/bin")).unwrap();
    fs_err::copy("/usr/bin/true", staging.join("usr/local/bin/pinglike")).unwrap();
    must_run(
        Command::new("setcap")
            .arg("cap_net_raw+ep")
            .arg(staging.join("usr/local/bin/pinglike")),
        "setcap (libcap2-bin)",
    );
    must_run(
        Command::new("tar")
            .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-C"])
            .arg(&staging)
            .arg("-rf")
            .arg(&tar)
            .arg("usr/local/bin/pinglike"),
        "GNU tar append",
    );
    tar
}

/// Runs `script` with sh inside a chroot of `root`, with /proc and /dev in a private mount
/// namespace (gone when the command ends).
pub fn in_chroot(root: &Path, script: &str) -> String {
    let root = root.to_str().unwrap();
    let setup = format!(
        "mount -t proc proc '{root}/proc' && mount --rbind /dev '{root}/dev' && exec chroot '{root}' /bin/sh -c \"$0\""
    );
    must_run(
        Command::new("unshare").args(["--mount", "--fork", "sh", "-c", &setup, script]),
        &format!("in chroot: {script}"),
    )
}
