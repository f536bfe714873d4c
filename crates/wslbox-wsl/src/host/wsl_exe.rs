//! Driving wsl.exe: `%SystemRoot%\System32\wsl.exe`, or `WSLBOX_WSL_EXE` (the tests point it at
//! the wsl.exe simulator). Always run with `WSL_UTF8=1`; output is still sniffed for UTF-16LE
//! because old builds ignore the variable.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::capabilities::{ExportFormat, WslVersion};
use crate::error::{Error, Result};
use crate::output::decode_output;
use crate::wsl_error::WslFailure;

mod streams;

pub use streams::{CheckedExport, ExportReader, ExportStream};

/// Environment variable naming the wsl.exe to run instead of the system one.
pub const WSL_EXE_ENV: &str = "WSLBOX_WSL_EXE";

/// A wsl.exe we can run.
#[derive(Debug)]
pub struct WslExe {
    path: PathBuf,
    env: Vec<(OsString, OsString)>,
    version: OnceLock<Option<WslVersion>>,
}

impl WslExe {
    /// The system wsl.exe, or the one named by `WSLBOX_WSL_EXE`.
    pub fn locate() -> WslExe {
        let path = std::env::var_os(WSL_EXE_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                let root = std::env::var_os("SystemRoot").unwrap_or_else(|| r"C:\Windows".into());
                Path::new(&root).join("System32").join("wsl.exe")
            });
        WslExe::at(path)
    }

    pub fn at(path: impl Into<PathBuf>) -> WslExe {
        WslExe {
            path: path.into(),
            env: Vec::new(),
            version: OnceLock::new(),
        }
    }

    /// Adds an environment variable to every wsl.exe run (e.g. `WSL_SIM_FAIL` for the simulator).
    pub fn with_env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> WslExe {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails early (before any download) when wsl.exe is not there, i.e. WSL is not installed.
    pub fn ensure_present(&self) -> Result<()> {
        if self.path.is_absolute() && !self.path.is_file() {
            return Err(Error::WslMissing {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut cmd = Command::new(&self.path);
        cmd.args(args).env("WSL_UTF8", "1");
        cmd.envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Starts `cmd`. CreateProcess may fail with ERROR_INTERNAL_ERROR (1359) before the
    /// program ran (Wine does when several processes start at once); nothing ran, so a
    /// second or third attempt is safe.
    fn spawn(&self, cmd: &mut Command) -> Result<std::process::Child> {
        const ERROR_INTERNAL_ERROR: i32 = 1359;
        let mut attempt = 1;
        loop {
            match cmd.spawn() {
                Err(e) if e.raw_os_error() == Some(ERROR_INTERNAL_ERROR) && attempt < 3 => {
                    attempt += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                result => return result.map_err(|e| self.spawn_error(e)),
            }
        }
    }

    fn spawn_error(&self, source: std::io::Error) -> Error {
        if source.kind() == std::io::ErrorKind::NotFound {
            return Error::WslMissing {
                path: self.path.clone(),
            };
        }
        Error::WslSpawn {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs wsl.exe to completion and returns its decoded stdout.
    pub fn run<S: AsRef<OsStr>>(&self, args: &[S]) -> Result<String> {
        let child = self.spawn(
            self.command(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let out = child.wait_with_output().map_err(|e| self.spawn_error(e))?;
        let stdout = decode_output(&out.stdout);
        if out.status.success() {
            return Ok(stdout);
        }
        let all = format!("{stdout}\n{}", decode_output(&out.stderr));
        Err(failure(args, &all))
    }

    /// The installed WSL version; `None` for inbox WSL, which has no `--version`.
    pub fn version(&self) -> Option<WslVersion> {
        *self.version.get_or_init(|| {
            self.run(&["--version"])
                .ok()
                .and_then(|o| WslVersion::parse(&o))
        })
    }

    pub fn supports_stdio_archives(&self) -> bool {
        self.version()
            .is_some_and(WslVersion::supports_stdio_archives)
    }

    pub fn supports_manage(&self) -> bool {
        self.version().is_some_and(WslVersion::supports_manage)
    }

    pub fn supports_install_from_file(&self) -> bool {
        self.version()
            .is_some_and(WslVersion::supports_install_from_file)
    }

    /// Names of running distributions (`--list --running --quiet`).
    pub fn running(&self) -> Result<Vec<String>> {
        match self.run(&["--list", "--running", "--quiet"]) {
            Ok(out) => Ok(out
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect()),
            // With nothing registered, wsl.exe fails instead of printing an empty list.
            Err(Error::Wsl { failure, .. })
                if failure
                    .code
                    .as_deref()
                    .is_some_and(|c| c.ends_with("WSL_E_DEFAULT_DISTRO_NOT_FOUND")) =>
            {
                Ok(Vec::new())
            }
            Err(e) => Err(e),
        }
    }

    /// `--import NAME DIR FILE --version N`.
    pub fn import_file(&self, name: &str, dir: &Path, file: &Path, version: u8) -> Result<()> {
        let args = import_args(name, dir, file.as_os_str(), version);
        self.run(&args).map(drop)
    }

    /// `--export NAME FILE --format F`.
    pub fn export_file(&self, name: &str, file: &Path, format: ExportFormat) -> Result<()> {
        let args: Vec<&OsStr> = vec![
            "--export".as_ref(),
            name.as_ref(),
            file.as_os_str(),
            "--format".as_ref(),
            format.wsl_arg().as_ref(),
        ];
        self.run(&args).map(drop)
    }

    pub fn unregister(&self, name: &str) -> Result<()> {
        self.run(&["--unregister", name]).map(drop)
    }

    pub fn terminate(&self, name: &str) -> Result<()> {
        self.run(&["--terminate", name]).map(drop)
    }

    pub fn set_default(&self, name: &str) -> Result<()> {
        self.run(&["--set-default", name]).map(drop)
    }

    pub fn manage_move(&self, name: &str, dir: &Path) -> Result<()> {
        let args: Vec<&OsStr> = vec![
            "--manage".as_ref(),
            name.as_ref(),
            "--move".as_ref(),
            dir.as_os_str(),
        ];
        self.run(&args).map(drop)
    }

    pub fn manage_set_default_user(&self, name: &str, user: &str) -> Result<()> {
        self.run(&["--manage", name, "--set-default-user", user])
            .map(drop)
    }
}

fn import_args(name: &str, dir: &Path, file: &OsStr, version: u8) -> Vec<OsString> {
    vec![
        "--import".into(),
        name.into(),
        dir.as_os_str().to_owned(),
        file.to_owned(),
        "--version".into(),
        version.to_string().into(),
    ]
}

/// `args` as the user would type them.
fn shown_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

/// wsl.exe's own failure of `args`, from its decoded output.
pub(super) fn failure<S: AsRef<OsStr>>(args: &[S], output: &str) -> Error {
    Error::Wsl {
        args: shown_args(args),
        failure: WslFailure::parse(output),
    }
}
