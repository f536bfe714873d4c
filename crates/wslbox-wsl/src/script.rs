//! Setup scripts for `--configure` and `wslbox configure`: read up front, hashed, and fed to
//! `/bin/sh -s` inside the distribution behind a one-line [`PREAMBLE`].
//!
//! The command line is always [`SHELL_ARGS`] after `-d NAME`; the script travels on stdin, so
//! no quoting is involved and its bytes reach the shell exactly as they are in the file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// What follows `-d NAME` on wsl.exe's command line: run `/bin/sh` as root in `/`, reading the
/// script from stdin.
pub const SHELL_ARGS: [&str; 7] = ["-u", "root", "--cd", "/", "--", "/bin/sh", "-s"];

/// Written to the shell's stdin before the script, so that the script sees what a login shell
/// would: root's `HOME`, `USER`, `LOGNAME` and `SHELL`, and whatever `/etc/profile` sets,
/// including the image's `Env` (which wslbox writes to `/etc/profile.d/wslbox-image.sh`).
///
/// It keeps the script's starting state otherwise unchanged: shell options are saved with
/// `set +o` and restored after `/etc/profile` (so a profile's `set -e` or `set -u` does not
/// leak into the script), the positional parameters are reset to none (as `sh -s` starts
/// them), the working directory is `/` again, and its helper variable is unset. The last
/// command is `cd /`, so `$?` is 0 when the script starts.
///
/// It is a single line, so the shell numbers the script's lines one higher in its messages
/// (script line 3 is reported as line 4).
pub const PREAMBLE: &str = "_wslbox_opts=$(set +o); export HOME=/root USER=root LOGNAME=root SHELL=/bin/sh; \
if [ -r /etc/profile ]; then . /etc/profile; fi; eval \"$_wslbox_opts\"; unset _wslbox_opts; set --; cd /\n";

/// The bytes written to the shell's stdin: the preamble, then the script exactly.
pub fn shell_input(script: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(PREAMBLE.len() + script.len());
    input.extend_from_slice(PREAMBLE.as_bytes());
    input.extend_from_slice(script);
    input
}

/// Which of the child's output streams a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Where a running script's output goes, chunk by chunk as it arrives.
pub type OutputSink<'a> = dyn Fn(Stream, &[u8]) + Sync + 'a;

/// A setup script, read whole before anything is imported or run.
#[derive(Debug, Clone)]
pub struct Script {
    /// The path as the user gave it, for messages and the retry hint.
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    /// Lowercase hex, as `sha256sum` prints it.
    pub sha256: String,
}

impl Script {
    /// Reads `path`; a missing or unreadable file is [`Error::ScriptUnreadable`].
    pub fn read(path: &Path) -> Result<Script> {
        let bytes = fs_err::read(path).map_err(|source| Error::ScriptUnreadable {
            path: path.to_owned(),
            source,
        })?;
        Ok(Script::new(path, bytes))
    }

    pub fn new(path: &Path, bytes: Vec<u8>) -> Script {
        Script {
            path: path.to_owned(),
            sha256: hex::encode(Sha256::digest(&bytes)),
            bytes,
        }
    }

    /// Reads every script in order, stopping at the first that cannot be read.
    pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Script>> {
        paths.iter().map(|p| Script::read(p)).collect()
    }

    /// The first 12 hex digits of the sha256, for reports.
    pub fn short_sha256(&self) -> &str {
        &self.sha256[..12]
    }

    /// A warning when the script has Windows line ends: `/bin/sh` would see a `\r` at the end
    /// of every command (`not found` errors, `$'\r'` in file names).
    pub fn crlf_warning(&self) -> Option<String> {
        self.bytes.windows(2).any(|w| w == b"\r\n").then(|| {
            format!(
                "{} has Windows (CRLF) line ends; /bin/sh reads the `\\r` as part of each command. Convert it to LF (e.g. `dos2unix`, or `git config core.autocrlf false`)",
                self.path.display()
            )
        })
    }
}

/// `wslbox configure NAME SCRIPT...` as a user would type it, paths quoted when they need it.
pub fn retry_command(name: &str, scripts: &[PathBuf]) -> String {
    let mut line = format!("wslbox configure {name}");
    for path in scripts {
        let path = path.display().to_string();
        if path.contains(char::is_whitespace) || path.is_empty() {
            line.push_str(&format!(" \"{path}\""));
        } else {
            line.push(' ');
            line.push_str(&path);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_input_is_the_preamble_then_the_script_bytes_unchanged() {
        let script = b"echo hi\r\nprintf '\xff'\n";
        let input = shell_input(script);
        assert_eq!(&input[..PREAMBLE.len()], PREAMBLE.as_bytes());
        assert_eq!(&input[PREAMBLE.len()..], script);
    }

    #[test]
    fn preamble_is_one_line_that_restores_options_and_arguments() {
        assert_eq!(PREAMBLE.matches('\n').count(), 1);
        assert!(PREAMBLE.ends_with("cd /\n"));
        let save = PREAMBLE.find("$(set +o)").unwrap();
        let profile = PREAMBLE.find(". /etc/profile").unwrap();
        let restore = PREAMBLE.find("eval \"$_wslbox_opts\"").unwrap();
        let reset_args = PREAMBLE.find("set --;").unwrap();
        assert!(save < profile && profile < restore && restore < reset_args);
        assert!(PREAMBLE.contains("[ -r /etc/profile ]"));
    }

    #[test]
    fn shell_args_run_sh_as_root_in_the_root_directory() {
        assert_eq!(
            SHELL_ARGS.join(" "),
            "-u root --cd / -- /bin/sh -s",
            "the command line the README documents"
        );
    }

    #[test]
    fn script_hash_is_sha256_of_the_file_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("setup.sh");
        fs_err::write(&path, b"abc").unwrap();
        let script = Script::read(&path).unwrap();
        assert_eq!(
            script.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(script.short_sha256(), "ba7816bf8f01");
        assert_eq!(script.bytes, b"abc");
    }

    #[test]
    fn missing_script_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.sh");
        fs_err::write(&ok, b"true\n").unwrap();
        let missing = dir.path().join("no-such-setup.sh");
        let err = Script::read_all(&[ok, missing.clone()]).unwrap_err();
        assert!(
            matches!(&err, Error::ScriptUnreadable { path, .. } if *path == missing),
            "{err:?}"
        );
        let shown = err.to_string();
        assert!(shown.contains("no-such-setup.sh"), "{shown}");
        assert!(shown.contains("nothing was imported or run"), "{shown}");
    }

    #[test]
    fn crlf_scripts_are_warned_about() {
        let crlf = Script::new(Path::new("win.sh"), b"apk add git\r\n".to_vec());
        let warning = crlf.crlf_warning().unwrap();
        assert!(
            warning.starts_with("win.sh has Windows (CRLF)"),
            "{warning}"
        );
        assert_eq!(
            Script::new(Path::new("unix.sh"), b"a\nb\r".to_vec()).crlf_warning(),
            None
        );
    }

    #[test]
    fn retry_command_quotes_paths_with_spaces() {
        let scripts = [PathBuf::from("b.sh"), PathBuf::from(r"C:\My Scripts\c.sh")];
        assert_eq!(
            retry_command("dev", &scripts),
            r#"wslbox configure dev b.sh "C:\My Scripts\c.sh""#
        );
    }
}
