//! Which wsl.exe features are available, from `wsl --version` and the backup file extension.

use std::path::Path;

/// A parsed `wsl --version` (Store WSL). Inbox WSL (Windows 10's built-in) has no `--version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct WslVersion(pub [u32; 4]);

impl WslVersion {
    /// Parses the first dotted version in `wsl --version` output. The label in front of it is
    /// localized ("WSL version:", "WSL-Version:"), the number is not.
    pub fn parse(output: &str) -> Option<WslVersion> {
        let line = output.lines().next()?;
        let word = line
            .split(|c: char| c.is_whitespace() || c == ':')
            .find(|w| {
                w.contains('.')
                    && w.split('.')
                        .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            })?;
        let mut parts = [0u32; 4];
        for (slot, p) in parts.iter_mut().zip(word.split('.')) {
            *slot = p.parse().ok()?;
        }
        Some(WslVersion(parts))
    }

    /// `--import NAME DIR -` reads the tar from stdin (and `--export NAME -` writes to stdout).
    /// Every Store WSL has this; inbox WSL, which lacks `--version`, does not.
    pub fn supports_stdio_archives(self) -> bool {
        true
    }

    /// `wsl --manage NAME --move DIR` and `--set-default-user USER`. The threshold is
    /// deliberately conservative: an older WSL only costs us the registry/export fallback.
    pub fn supports_manage(self) -> bool {
        self >= WslVersion([2, 4, 0, 0])
    }

    /// `wsl --install --from-file FILE|-`, which registers with the `.wsl` first-run setup
    /// pending: it came with the `.wsl` format in WSL 2.4.4.
    pub fn supports_install_from_file(self) -> bool {
        self >= WslVersion([2, 4, 4, 0])
    }
}

impl std::fmt::Display for WslVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.0;
        write!(f, "{a}.{b}.{c}.{d}")
    }
}

/// `wsl --export --format` values, chosen from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Tar,
    TarGz,
    TarXz,
    Vhd,
}

impl ExportFormat {
    pub fn from_path(path: &Path) -> Option<ExportFormat> {
        let name = path.file_name()?.to_str()?.to_lowercase();
        [
            (".tar.gz", ExportFormat::TarGz),
            (".tgz", ExportFormat::TarGz),
            (".tar.xz", ExportFormat::TarXz),
            (".tar", ExportFormat::Tar),
            (".vhdx", ExportFormat::Vhd),
        ]
        .into_iter()
        .find(|(ext, _)| name.ends_with(ext))
        .map(|(_, f)| f)
    }

    /// The value for `wsl --export ... --format`.
    pub fn wsl_arg(self) -> &'static str {
        match self {
            ExportFormat::Tar => "tar",
            ExportFormat::TarGz => "tar.gz",
            ExportFormat::TarXz => "tar.xz",
            ExportFormat::Vhd => "vhd",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_from_file_needs_2_4_4() {
        assert!(!WslVersion([2, 4, 3, 0]).supports_install_from_file());
        assert!(!WslVersion([2, 3, 26, 0]).supports_install_from_file());
        assert!(WslVersion([2, 4, 4, 0]).supports_install_from_file());
        assert!(WslVersion([2, 7, 13, 0]).supports_install_from_file());
    }

    #[test]
    fn version_parsed_from_localized_label() {
        let out = "WSL-Version: 2.3.26.0\nKernelversion: 5.15.167.4-1\n";
        assert_eq!(WslVersion::parse(out), Some(WslVersion([2, 3, 26, 0])));
        assert_eq!(
            WslVersion::parse("WSL version: 2.4.4.0\n")
                .unwrap()
                .to_string(),
            "2.4.4.0"
        );
    }

    #[test]
    fn usage_text_is_no_version() {
        assert_eq!(
            WslVersion::parse("Invalid command line option: --version\nUsage: wsl.exe"),
            None
        );
    }

    #[test]
    fn manage_needs_recent_wsl() {
        assert!(!WslVersion([2, 3, 26, 0]).supports_manage());
        assert!(WslVersion([2, 4, 4, 0]).supports_manage());
    }

    #[test]
    fn export_format_from_extension() {
        let f = |p: &str| ExportFormat::from_path(Path::new(p));
        assert_eq!(f(r"C:\b\dev.tar"), Some(ExportFormat::Tar));
        assert_eq!(f("dev.TAR.GZ"), Some(ExportFormat::TarGz));
        assert_eq!(f("dev.tar.xz"), Some(ExportFormat::TarXz));
        assert_eq!(f("dev.vhdx"), Some(ExportFormat::Vhd));
        assert_eq!(f("dev.zip"), None);
        assert_eq!(ExportFormat::TarGz.wsl_arg(), "tar.gz");
    }
}
