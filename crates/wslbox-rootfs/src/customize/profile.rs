//! The image config's `Env` as `/etc/profile.d/wslbox-image.sh`, which login shells source
//! (`docker export` loses it). PATH is extended, never replaced: WSL appends the Windows PATH.

use super::staged::Staged;
use super::{Customization, CustomizeError, ImageFacts, Warning};

pub(crate) const PROFILE_PATH: &[u8] = b"etc/profile.d/wslbox-image.sh";

/// Set per session by login/WSL; the image's value (often HOME=/root) would be wrong.
const SESSION_VARS: &[&str] = &[
    "HOME", "USER", "LOGNAME", "SHELL", "PWD", "OLDPWD", "HOSTNAME", "TERM", "SHLVL",
];

pub(crate) fn apply(
    staged: &mut Staged,
    facts: &ImageFacts,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let Some(script) = render(&facts.config.env, facts.reference, &mut out.warnings) else {
        return Ok(());
    };
    let path = staged.dir_for_new(PROFILE_PATH)?;
    staged.put_file(path, script.into_bytes(), 0o644, 0, 0);
    let sources_profile_d = match staged.resolve(b"etc/profile") {
        Some((real, _)) => staged
            .read(&real)?
            .is_some_and(|t| String::from_utf8_lossy(&t).contains("profile.d")),
        None => false,
    };
    if !sources_profile_d {
        out.warnings.push(Warning::new(
            "profile-d-unused",
            "the image's /etc/profile does not read /etc/profile.d, so login shells will not see the image's Env",
        ));
    }
    Ok(())
}

/// The script, or `None` when the image sets nothing worth exporting.
pub(crate) fn render(
    env: &[String],
    reference: &str,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let mut exports = String::new();
    let mut path_dirs: Vec<&str> = Vec::new();
    for entry in env {
        let Some((name, value)) = entry.split_once('=') else {
            warnings.push(Warning::new(
                "env-skipped",
                format!("image Env entry `{entry}` has no `=`; skipped"),
            ));
            continue;
        };
        if !is_identifier(name) {
            warnings.push(Warning::new(
                "env-skipped",
                format!("image Env `{name}` is not a valid shell variable name; skipped"),
            ));
        } else if name == "PATH" {
            path_dirs.extend(value.split(':').filter(|d| !d.is_empty()));
        } else if SESSION_VARS.contains(&name) {
            warnings.push(Warning::new(
                "env-skipped",
                format!("image Env `{name}` is set by the login session; skipped"),
            ));
        } else {
            exports.push_str(&format!("export {name}={}\n", quote(value)));
        }
    }
    if exports.is_empty() && path_dirs.is_empty() {
        return None;
    }
    let mut script = format!(
        "# Written by wslbox: the Env of {} (docker export drops it).\n# Sourced by login shells; edit or delete freely.\n",
        reference.replace('\n', " ")
    );
    script.push_str(&exports);
    if !path_dirs.is_empty() {
        let dirs: Vec<String> = path_dirs.iter().map(|d| quote(d)).collect();
        // Prepend, in the image's order, the directories the current PATH lacks; WSL has already
        // appended the Windows PATH, which must survive.
        script.push_str(&format!(
            "wslbox_prepend=\nfor wslbox_dir in {}; do\n  case \":$PATH:\" in\n    *\":$wslbox_dir:\"*) ;;\n    *) wslbox_prepend=\"${{wslbox_prepend:+$wslbox_prepend:}}$wslbox_dir\" ;;\n  esac\ndone\nif [ -n \"$wslbox_prepend\" ]; then\n  PATH=\"$wslbox_prepend${{PATH:+:$PATH}}\"\n  export PATH\nfi\nunset wslbox_dir wslbox_prepend\n",
            dirs.join(" ")
        ));
    }
    Some(script)
}

/// POSIX single quoting: `'` becomes `'\''`.
pub(crate) fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn run_sh(script: &str, initial_path: &str, tail: &str) -> String {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{script}\n{tail}"))
            .env_clear()
            .env("PATH", initial_path)
            .output()
            .expect("sh must exist");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn values_with_quotes_and_dollars_survive_a_real_shell() {
        let env = vec![
            "WEIRD=it's $HOME `x` \"q\" \\n".to_string(),
            "EMPTY=".to_string(),
        ];
        let script = render(&env, "img", &mut Vec::new()).unwrap();
        let printed = run_sh(
            &script,
            "/usr/bin:/bin",
            "printf '%s|%s' \"$WEIRD\" \"${EMPTY-unset}\"",
        );
        assert_eq!(printed, "it's $HOME `x` \"q\" \\n|");
    }

    #[test]
    fn path_entries_are_prepended_without_clobbering_the_windows_path() {
        let env = vec!["PATH=/opt/tool/bin:/usr/local/bin:/usr/bin".to_string()];
        let script = render(&env, "img", &mut Vec::new()).unwrap();
        let printed = run_sh(
            &script,
            "/usr/local/bin:/usr/bin:/bin:/mnt/c/Windows",
            "printf %s \"$PATH\"",
        );
        assert_eq!(
            printed,
            "/opt/tool/bin:/usr/local/bin:/usr/bin:/bin:/mnt/c/Windows"
        );
    }

    #[test]
    fn invalid_names_and_session_variables_are_skipped_with_warnings() {
        let env = vec![
            "1BAD=x".into(),
            "HOME=/root".into(),
            "NOEQUALS".into(),
            "LANG=C.UTF-8".into(),
        ];
        let mut warnings = Vec::new();
        let script = render(&env, "img", &mut warnings).unwrap();
        assert!(script.contains("export LANG='C.UTF-8'\n"));
        assert!(!script.contains("HOME") && !script.contains("1BAD"));
        assert_eq!(warnings.len(), 3);
        assert!(warnings.iter().all(|w| w.code == "env-skipped"));
    }

    #[test]
    fn nothing_to_export_writes_no_script() {
        assert_eq!(render(&["HOME=/root".into()], "img", &mut Vec::new()), None);
    }
}
