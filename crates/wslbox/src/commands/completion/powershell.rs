//! The PowerShell side of dynamic completion: clap_complete's adapter, with its script written
//! for Windows.
//!
//! clap_complete's own script (`clap_complete::env::Powershell`) has three problems there:
//! - on TAB after a space it passes the new, empty word as `''`, and Windows PowerShell 5.1 (the
//!   one every Windows 10/11 has) drops empty arguments to a native program (PowerShell 7.3
//!   changed that: `$PSNativeCommandArgumentPassing`), so wslbox would complete the previous
//!   word again. This script says "a new word starts here" in [`NEW_WORD_VAR`] instead, and
//!   [`Powershell::write_complete`] adds the empty word;
//! - it quotes the program's path for a POSIX shell, inside an expandable here-string, so a `$`
//!   or a backtick in the path is expanded; here it is a single-quoted PowerShell literal, with
//!   `` ` `` and `$` escaped for the here-string;
//! - it cuts the command line at `$cursorPosition`, which counts from the start of the whole
//!   input, not of this command (`cd x; wslbox rm <TAB>`); here the command's own offset is
//!   taken off.
//!
//! The answers (one value a line, a tab before its help) are clap_complete's own.

use std::ffi::OsString;
use std::io::Write;

use clap_complete::env::EnvCompleter;

/// Set by the script when the word being completed is empty (TAB after a space).
pub const NEW_WORD_VAR: &str = "WSLBOX_COMPLETE_NEW_WORD";

#[derive(Debug, Clone, Copy)]
pub struct Powershell;

/// `path` as a PowerShell single-quoted literal inside an expandable here-string.
fn literal(path: &str) -> String {
    let quoted = format!("'{}'", path.replace('\'', "''"));
    quoted.replace('`', "``").replace('$', "`$")
}

impl EnvCompleter for Powershell {
    fn name(&self) -> &'static str {
        clap_complete::env::Powershell.name()
    }

    fn is(&self, name: &str) -> bool {
        clap_complete::env::Powershell.is(name)
    }

    fn write_registration(
        &self,
        var: &str,
        _name: &str,
        bin: &str,
        completer: &str,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let completer = literal(completer);
        let names = format!("'{bin}', '{bin}.exe'");
        writeln!(
            buf,
            r#"
Register-ArgumentCompleter -Native -CommandName {names} -ScriptBlock {{
    param($wordToComplete, $commandAst, $cursorPosition)

    $prevShell = $env:{var}
    $prevNewWord = $env:{NEW_WORD_VAR}
    $env:{var} = "powershell"
    $env:{NEW_WORD_VAR} = if ($wordToComplete -eq "") {{ "1" }} else {{ "" }}

    $line = $commandAst.Extent.Text
    $upto = $cursorPosition - $commandAst.Extent.StartOffset
    $line = $line.Substring(0, [math]::Max(0, [math]::Min($upto, $line.Length)))

    $results = Invoke-Expression @"
& {completer} -- $line
"@

    $env:{var} = $prevShell
    $env:{NEW_WORD_VAR} = $prevNewWord
    $results | ForEach-Object {{
        $value, $help = $_.Split("`t", 2)
        if (-not $help) {{ $help = $value }}
        [System.Management.Automation.CompletionResult]::new($value, $value, 'ParameterValue', $help)
    }}
}}"#
        )
    }

    fn write_complete(
        &self,
        cmd: &mut clap::Command,
        mut args: Vec<OsString>,
        current_dir: Option<&std::path::Path>,
        buf: &mut dyn Write,
    ) -> std::io::Result<()> {
        let new_word = std::env::var_os(NEW_WORD_VAR).is_some_and(|v| v == "1");
        if new_word && args.last().is_none_or(|last| !last.is_empty()) {
            args.push(OsString::new());
        }
        clap_complete::env::Powershell.write_complete(cmd, args, current_dir, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::literal;

    #[test]
    fn a_path_is_a_literal_in_the_here_string() {
        assert_eq!(literal(r"C:\Tools\wslbox.exe"), r"'C:\Tools\wslbox.exe'");
        assert_eq!(
            literal(r"C:\Users\o'brien\$x`y\wslbox.exe"),
            r"'C:\Users\o''brien\`$x``y\wslbox.exe'"
        );
    }
}
