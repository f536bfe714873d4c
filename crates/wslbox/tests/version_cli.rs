//! `wslbox --version`, `wslbox version [--json]` and `wslbox completion SHELL`.

use std::process::Command;

fn wslbox(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_wslbox"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "wslbox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
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
    let script = wslbox(&["completion", "powershell"]);
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
}

#[test]
fn every_shell_gets_a_script() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = wslbox(&["completion", shell]);
        assert!(script.contains("wslbox"), "{shell}");
        assert!(script.contains("upgrade"), "{shell}: the Windows verbs");
    }
}
