//! `wslbox --version`, `wslbox version [--json]`, `wslbox completion SHELL [--static]` and the
//! answers to a shell's TAB (`WSLBOX_COMPLETE=SHELL wslbox -- WORDS`).

use std::process::Command;

fn wslbox(args: &[&str]) -> String {
    wslbox_env(args, &[])
}

fn wslbox_env(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wslbox"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "wslbox {args:?}: {stderr}");
    // A shell shows stderr right in the command line being edited.
    assert!(
        stderr.is_empty(),
        "wslbox {args:?} wrote to stderr: {stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the binary under test calls itself in a registration script (`current_exe`, which
/// resolves symlinks on Linux).
fn exe() -> String {
    fs_err::canonicalize(env!("CARGO_BIN_EXE_wslbox"))
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned()
}

/// The values PowerShell's registration takes from `WSLBOX_COMPLETE=powershell wslbox -- WORDS`
/// (one per line, a tab before the help). A last word `""` is a TAB after a space: the script
/// does not pass it (Windows PowerShell 5.1 would drop it) but sets WSLBOX_COMPLETE_NEW_WORD.
fn powershell_tab(words: &[&str]) -> Vec<String> {
    let (words, new_word) = match words.split_last() {
        Some((&"", before)) => (before, "1"),
        _ => (words, ""),
    };
    let out = wslbox_env(
        &[&["--", "wslbox"], words].concat(),
        &[
            ("WSLBOX_COMPLETE", "powershell"),
            ("WSLBOX_COMPLETE_NEW_WORD", new_word),
        ],
    );
    out.lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .collect()
}

/// The same through bash's registration, which passes every word and says which one is being
/// completed in `_CLAP_COMPLETE_INDEX`; values come back separated by its IFS (`\v`).
fn bash_tab(words: &[&str]) -> Vec<String> {
    let index = words.len().to_string();
    let out = wslbox_env(
        &[&["--", "wslbox"], words].concat(),
        &[
            ("WSLBOX_COMPLETE", "bash"),
            ("_CLAP_COMPLETE_INDEX", &index),
            ("_CLAP_COMPLETE_COMP_TYPE", "9"),
            ("_CLAP_COMPLETE_SPACE", "false"),
            ("_CLAP_IFS", "\u{b}"),
        ],
    );
    out.split('\u{b}').map(str::to_owned).collect()
}

/// The subcommands `wslbox --help` lists (`help` aside).
fn subcommands() -> Vec<String> {
    let help = wslbox(&["--help"]);
    let section = help
        .split("Commands:")
        .nth(1)
        .and_then(|rest| rest.split("Options:").next())
        .expect("a Commands: section");
    section
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

#[test]
fn version_names_the_commit_and_the_target() {
    let json: serde_json::Value = serde_json::from_str(&wslbox(&["version", "--json"])).unwrap();
    let version = json["version"].as_str().unwrap();
    let commit = json["commit"].as_str().unwrap();
    let target = json["target"].as_str().unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // This test runs from the repository, so the commit is known.
    assert!(
        commit.len() >= 12 && commit.chars().all(|c| c.is_ascii_hexdigit()),
        "{commit:?}"
    );
    assert!(target.contains(std::env::consts::ARCH), "{target:?}");
    assert!(json.get("wsl").is_none(), "no WSL off Windows: {json}");
    let expected = format!("wslbox {version} ({commit}, {target})\n");
    assert_eq!(wslbox(&["--version"]), expected);
    assert_eq!(wslbox(&["version"]), expected);
}

#[test]
fn powershell_completion_names_every_subcommand() {
    let script = wslbox(&["completion", "powershell", "--static"]);
    assert!(script.contains("Register-ArgumentCompleter -Native -CommandName 'wslbox'"));
    let commands = subcommands();
    assert!(commands.len() >= 20, "{commands:?}");
    for name in &commands {
        assert!(
            script.contains(&format!("[CompletionResult]::new('{name}', '{name}'")),
            "`{name}` is not completed"
        );
    }
    // Options of a subcommand complete too.
    assert!(script.contains("'--no-stream'"));
    assert!(
        !script.contains("WSLBOX_COMPLETE"),
        "a static script asks nobody"
    );
}

#[test]
fn powershell_script_calls_wslbox_back_with_wslbox_complete() {
    let script = wslbox(&["completion", "powershell"]);
    assert!(
        script.contains(
            "Register-ArgumentCompleter -Native -CommandName 'wslbox', 'wslbox.exe' -ScriptBlock"
        ),
        "{script}"
    );
    assert!(
        script.contains(r#"$env:WSLBOX_COMPLETE = "powershell""#),
        "{script}"
    );
    // An empty word is said in a variable, never passed as `''`.
    assert!(
        script.contains("$env:WSLBOX_COMPLETE_NEW_WORD = if ($wordToComplete -eq \"\")"),
        "{script}"
    );
    assert!(!script.contains("''"), "{script}");
    // The call operator runs this very binary (a single-quoted literal) with the words typed so
    // far after `--`.
    let exe = exe();
    let call = script
        .lines()
        .find(|l| l.starts_with("& "))
        .unwrap_or_else(|| panic!("no call back in {script}"));
    assert_eq!(call, format!("& '{exe}' -- $line"));
    // Nothing is listed in the script itself: the binary answers.
    assert!(!script.contains("'upgrade'"), "{script}");
}

#[test]
fn every_shell_gets_a_script_that_calls_wslbox_back() {
    let exe = exe();
    for (shell, registers) in [
        ("bash", "-F _clap_complete_wslbox wslbox"),
        ("zsh", "compdef _clap_dynamic_completer_wslbox wslbox"),
        ("fish", "complete --keep-order --exclusive --command wslbox"),
        ("elvish", "set edit:completion:arg-completer[wslbox]"),
        (
            "powershell",
            "Register-ArgumentCompleter -Native -CommandName 'wslbox', 'wslbox.exe'",
        ),
    ] {
        let script = wslbox(&["completion", shell]);
        assert!(script.contains(registers), "{shell}: {script}");
        assert!(
            script.contains(&format!("WSLBOX_COMPLETE=\"{shell}\""))
                || script.contains(&format!("WSLBOX_COMPLETE={shell} "))
                || script.contains(&format!("$env:WSLBOX_COMPLETE = \"{shell}\"")),
            "{shell} is not named in WSLBOX_COMPLETE: {script}"
        );
        assert!(script.contains(&exe), "{shell}: {script}");
        let fixed = wslbox(&["completion", shell, "--static"]);
        assert!(fixed.contains("wslbox"), "{shell}");
        assert!(fixed.contains("upgrade"), "{shell}: the Windows verbs");
    }
}

#[test]
fn tab_after_wslbox_proposes_every_subcommand_in_powershell_and_bash() {
    let commands = subcommands();
    assert!(commands.len() >= 20, "{commands:?}");
    for (shell, values) in [
        ("powershell", powershell_tab(&[""])),
        ("bash", bash_tab(&[""])),
    ] {
        for name in &commands {
            assert!(values.contains(name), "{shell}: `{name}` not in {values:?}");
        }
        assert!(
            values.iter().any(|v| v == "--cache-dir"),
            "{shell}: {values:?}"
        );
    }
}

#[test]
fn tab_completes_a_subcommand_option_in_powershell_and_bash() {
    assert_eq!(powershell_tab(&["export", "--no-s"]), ["--no-stream"]);
    assert_eq!(bash_tab(&["export", "--no-s"]), ["--no-stream"]);
    assert_eq!(powershell_tab(&["completion", "--st"]), ["--static"]);
}

#[test]
fn a_new_word_in_powershell_completes_the_next_argument_not_the_last_one() {
    // TAB right after `wslbox export` (no space) completes the word `export` itself ...
    let same = powershell_tab(&["export"]);
    assert_eq!(same, ["export"]);
    // ... and after a space, with the empty word not passed, the next one: export's options.
    let next = powershell_tab(&["export", ""]);
    assert!(next.iter().any(|v| v == "--no-stream"), "{next:?}");
    assert!(!next.iter().any(|v| v == "export"), "{next:?}");
    // PowerShell 7.3+ would pass the `''` itself: it is not doubled.
    let passed = wslbox_env(
        &["--", "wslbox", "export", ""],
        &[
            ("WSLBOX_COMPLETE", "powershell"),
            ("WSLBOX_COMPLETE_NEW_WORD", "1"),
        ],
    );
    let passed: Vec<&str> = passed
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(passed, next);
}

#[test]
fn tab_after_a_windows_verb_off_windows_proposes_only_options_and_says_nothing() {
    // No WSL here: no names, and no error message in the command line (`wslbox_env` checks
    // stderr is empty).
    let values = powershell_tab(&["remove", ""]);
    assert!(values.iter().any(|v| v == "--yes"), "{values:?}");
    assert!(values.iter().all(|v| v.starts_with('-')), "{values:?}");
}

#[test]
fn a_users_own_complete_variable_leaves_wslbox_alone() {
    let version = wslbox_env(&["--version"], &[("COMPLETE", "powershell")]);
    assert!(version.starts_with("wslbox "), "{version}");
}
