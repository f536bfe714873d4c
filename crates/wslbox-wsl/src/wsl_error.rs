//! Understanding wsl.exe failures.
//!
//! Modern wsl.exe ends a failure with a line `Error code: Wsl/<component>/<code>`, e.g.
//! `Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS`. The text before it is
//! localized; the code is not, so hints are keyed on the code.

/// A failed wsl.exe invocation, as reported to users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WslFailure {
    /// The `Wsl/...` code, when wsl.exe printed one.
    pub code: Option<String>,
    /// wsl.exe's own message lines (without the code line).
    pub message: String,
}

impl WslFailure {
    /// Parses wsl.exe's decoded stdout+stderr.
    pub fn parse(output: &str) -> Self {
        let mut code = None;
        let mut lines = Vec::new();
        for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
            match line.split_once("Error code:") {
                Some((_, rest)) if rest.trim().starts_with("Wsl/") => {
                    code = Some(rest.trim().to_owned());
                }
                _ => lines.push(line),
            }
        }
        WslFailure {
            code,
            message: lines.join("\n"),
        }
    }

    /// What the user can do about it, for the codes we know.
    pub fn hint(&self) -> Option<&'static str> {
        let code = self.code.as_deref()?;
        let last = code.rsplit('/').next().unwrap_or(code);
        Some(match last {
            "WSL_E_DISTRO_NOT_FOUND" => "no distribution has that name; see `wslbox list`",
            "ERROR_ALREADY_EXISTS" | "ERROR_FILE_EXISTS" | "WSL_E_DISTRO_ALREADY_EXISTS" => {
                "the name or the install folder is already in use; pick another name or --location"
            }
            "WSL_E_DEFAULT_DISTRO_NOT_FOUND" => "no default distribution is set",
            "ERROR_SHARING_VIOLATION" | "WSL_E_DISTRO_RUNNING" => {
                "the distribution is in use; stop it with `wsl --terminate NAME` and retry"
            }
            "WSL_E_USER_NOT_FOUND" => "that user does not exist inside the distribution",
            // microsoft/WSL src/linux/init/main.cpp refuses a root filesystem with neither
            // /etc nor /bin/sh.
            "WSL_E_NOT_A_LINUX_DISTRO" => {
                "WSL found neither /etc nor /bin/sh in the root filesystem, so it is not a Linux distribution; check the image, or the archive's layout (--subdir / --strip-components)"
            }
            "WSL_E_IMPORT_FAILED" | "WSL_E_EXPORT_FAILED" => {
                "WSL could not read or write the root filesystem archive"
            }
            "HCS_E_HYPERV_NOT_INSTALLED" | "WSL_E_VIRTUAL_MACHINE_PLATFORM_REQUIRED" => {
                "WSL 2 needs the Virtual Machine Platform feature; enable it or use --version 1"
            }
            "WSL_E_WSL_OPTIONAL_COMPONENT_REQUIRED" | "WSL_E_NOT_INSTALLED" => {
                "WSL is not installed; run `wsl --install --no-distribution` first"
            }
            "E_ACCESSDENIED" | "ERROR_ACCESS_DENIED" => {
                "access denied; check the folder permissions (or run from an unelevated shell)"
            }
            "E_INVALIDARG" | "WSL_E_INVALID_USAGE" => {
                "wsl.exe rejected the arguments; it may be too old (run `wsl --update`)"
            }
            _ => return None,
        })
    }
}

impl std::fmt::Display for WslFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let message = if self.message.is_empty() {
            "no message"
        } else {
            &self.message
        };
        write!(f, "{message}")?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if let Some(hint) = self.hint() {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_code_line_parsed_and_hinted() {
        let out = "A distribution with the supplied name already exists. Use --name to choose a different name.\n\
                   Error code: Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS\n";
        let f = WslFailure::parse(out);
        assert_eq!(
            f.code.as_deref(),
            Some("Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS")
        );
        assert!(
            f.message
                .starts_with("A distribution with the supplied name")
        );
        let shown = f.to_string();
        assert!(
            shown.contains("(Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS)"),
            "{shown}"
        );
        assert!(shown.contains("pick another name"), "{shown}");
    }

    #[test]
    fn not_a_linux_distro_says_what_wsl_looked_for() {
        let f = WslFailure::parse(
            "The imported file is not a valid Linux distribution.\nError code: Wsl/Service/RegisterDistro/WSL_E_NOT_A_LINUX_DISTRO\n",
        );
        let shown = f.to_string();
        assert!(
            shown.contains("neither /etc nor /bin/sh") && shown.contains("--subdir"),
            "{shown}"
        );
    }

    #[test]
    fn output_without_code_kept_verbatim() {
        let f = WslFailure::parse(
            "Invalid command line option: --manage\nUsage: wsl.exe [option] ...\n",
        );
        assert_eq!(f.code, None);
        assert_eq!(f.hint(), None);
        assert_eq!(
            f.to_string(),
            "Invalid command line option: --manage\nUsage: wsl.exe [option] ..."
        );
    }

    #[test]
    fn unknown_code_has_no_hint() {
        let f = WslFailure::parse("boom\nError code: Wsl/Service/E_UNEXPECTED");
        assert_eq!(f.hint(), None);
        assert_eq!(f.to_string(), "boom (Wsl/Service/E_UNEXPECTED)");
    }
}
