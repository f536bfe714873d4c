//! Driving wsl.exe: `%SystemRoot%\System32\wsl.exe`, or `WSLBOX_WSL_EXE` (the tests point it at
//! the wsl.exe simulator). Always run with `WSL_UTF8=1`; output is still sniffed for UTF-16LE
//! because old builds ignore the variable.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

use crate::capabilities::{ExportFormat, WslVersion};
use crate::error::{Error, ProducerError, Result};
use crate::output::decode_output;
use crate::script::{OutputSink, Stream};
use crate::wsl_error::WslFailure;

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
            let source = std::io::Error::from(std::io::ErrorKind::NotFound);
            return Err(Error::WslSpawn {
                path: self.path.clone(),
                source,
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

    /// Runs wsl.exe with `input` on its stdin (written whole, then closed) and hands its stdout
    /// and stderr to `sink` as they arrive, read on two threads so that neither pipe fills up
    /// while we write. Returns wsl.exe's exit code; when wsl.exe runs a Linux command, that is
    /// the command's own (see `host::configure`).
    pub fn run_streaming<S: AsRef<OsStr>>(
        &self,
        args: &[S],
        input: &[u8],
        sink: &OutputSink<'_>,
    ) -> Result<i32> {
        let mut child = self.spawn(
            self.command(args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let (stdin, stdout, stderr) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take());
        let written = std::thread::scope(|scope| {
            scope.spawn(|| forward(stdout, Stream::Stdout, sink));
            scope.spawn(|| forward(stderr, Stream::Stderr, sink));
            // Dropping the pipe closes it: the shell sees the end of the script.
            let written = stdin.map_or(Ok(()), |mut pipe| pipe.write_all(input));
            match written {
                // The command quit without reading all of its input (a script's early
                // `exit`); its exit code says how that went.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => {
                    // Never let the command go on with half of its input.
                    let _ = child.kill();
                    Err(e)
                }
                Ok(()) => Ok(()),
            }
        });
        let status = child.wait().map_err(|e| self.spawn_error(e))?;
        written.map_err(|source| Error::WslInput {
            args: shown_args(args),
            source,
        })?;
        Ok(status.code().unwrap_or(-1))
    }

    /// `--import NAME DIR FILE --version N`.
    pub fn import_file(&self, name: &str, dir: &Path, file: &Path, version: u8) -> Result<()> {
        let args = import_args(name, dir, file.as_os_str(), version);
        self.run(&args).map(drop)
    }

    /// `--import NAME DIR - --version N`, with `producer` writing the tar to wsl.exe's stdin.
    ///
    /// The producer owns a handle to the pipe, but the pipe is closed only after it returns:
    /// on failure wsl.exe is killed first, so it never sees a truncated archive end cleanly.
    pub fn import_stream<T>(
        &self,
        name: &str,
        dir: &Path,
        version: u8,
        producer: impl FnOnce(Box<dyn Write + Send>) -> std::result::Result<T, ProducerError>,
    ) -> Result<T> {
        self.register_stream(import_args(name, dir, OsStr::new("-"), version), producer)
    }

    /// `--install --from-file - --name NAME --location DIR --version N --no-launch`: as
    /// [`WslExe::import_stream`], but WSL leaves the `.wsl` first-run setup pending for the
    /// first interactive launch. `--no-launch`, because wsl.exe would otherwise start a shell
    /// on our pipe right away (`WslClient.cpp`, `Install`).
    pub fn install_stream<T>(
        &self,
        name: &str,
        dir: &Path,
        version: u8,
        producer: impl FnOnce(Box<dyn Write + Send>) -> std::result::Result<T, ProducerError>,
    ) -> Result<T> {
        let args: Vec<OsString> = vec![
            "--install".into(),
            "--from-file".into(),
            "-".into(),
            "--name".into(),
            name.into(),
            "--location".into(),
            dir.as_os_str().to_owned(),
            "--version".into(),
            version.to_string().into(),
            "--no-launch".into(),
        ];
        self.register_stream(args, producer)
    }

    /// Runs a registration that reads the tar from stdin, fed by `producer`.
    fn register_stream<T>(
        &self,
        args: Vec<OsString>,
        producer: impl FnOnce(Box<dyn Write + Send>) -> std::result::Result<T, ProducerError>,
    ) -> Result<T> {
        let mut child = self.spawn(
            self.command(&args)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let readers = Readers::start(&mut child);
        let stdin = SharedPipe(Arc::new(Mutex::new(child.stdin.take())));
        let produced = producer(Box::new(stdin.clone()));
        // If wsl.exe already quit (a taken name, a bad folder), the producer only saw a broken
        // pipe and wsl.exe's own message is the one worth showing.
        let mut quit_first = None;
        if produced.is_err() {
            quit_first = child.try_wait().ok().flatten();
            if quit_first.is_none() {
                let _ = child.kill();
            }
        }
        stdin.close();
        let status = child.wait().map_err(|e| self.spawn_error(e))?;
        let output = readers.finish();
        match produced {
            Err(_) if quit_first.is_some_and(|s| !s.success()) => Err(failure(&args, &output)),
            Err(e) => Err(Error::Producer(e)),
            Ok(_) if !status.success() => Err(failure(&args, &output)),
            Ok(p) => Ok(p),
        }
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

    /// `--export OLD - | --import NEW DIR - --version N`: a clone without a temp file.
    pub fn export_into_import(&self, from: &str, to: &str, dir: &Path, version: u8) -> Result<()> {
        let export_args = ["--export", from, "-", "--format", "tar"];
        let mut export = self.spawn(
            self.command(&export_args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let pipe = export.stdout.take().expect("stdout is piped");
        let export_err = spawn_reader(export.stderr.take());
        let import_args = import_args(to, dir, OsStr::new("-"), version);
        let import = self.spawn(
            self.command(&import_args)
                .stdin(Stdio::from(pipe))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        );
        let mut import = match import {
            Ok(child) => child,
            Err(e) => {
                let _ = export.kill();
                let _ = export.wait();
                return Err(e);
            }
        };
        let readers = Readers::start(&mut import);
        let import_status = import.wait().map_err(|e| self.spawn_error(e));
        let export_status = export.wait().map_err(|e| self.spawn_error(e))?;
        let import_output = readers.finish();
        let export_output = join_reader(export_err);
        match (export_status.success(), import_status?.success()) {
            (true, true) => Ok(()),
            (false, true) => Err(failure(&export_args, &export_output)),
            (true, false) => Err(failure(&import_args, &import_output)),
            // Either may have caused the other's failure (a closed or truncated pipe): show both.
            (false, false) => {
                let Error::Wsl { args, mut failure } = failure(&import_args, &import_output) else {
                    unreachable!("failure() builds Error::Wsl")
                };
                let export = WslFailure::parse(&export_output);
                failure.message =
                    format!("{}\n(the export also failed: {export})", failure.message);
                Err(Error::Wsl { args, failure })
            }
        }
    }

    /// `--export NAME - --format tar` started; read the tar from the returned stream, then
    /// [`ExportStream::finish`].
    pub fn export_stream(&self, name: &str) -> Result<(ExportStream, ExportReader)> {
        let args: Vec<String> = ["--export", name, "-", "--format", "tar"]
            .map(String::from)
            .to_vec();
        let mut child = self.spawn(
            self.command(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped()),
        )?;
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = spawn_reader(child.stderr.take());
        let path = self.path.clone();
        let ended = Arc::new(AtomicBool::new(false));
        let reader = ExportReader {
            pipe: stdout,
            ended: ended.clone(),
        };
        Ok((
            ExportStream {
                child,
                path,
                args,
                stderr,
                ended,
            },
            reader,
        ))
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

/// wsl.exe's own failure of `args`, from its decoded output.
pub(super) fn shown_args<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy())
        .collect::<Vec<_>>()
        .join(" ")
}

pub(super) fn failure<S: AsRef<OsStr>>(args: &[S], output: &str) -> Error {
    Error::Wsl {
        args: shown_args(args),
        failure: WslFailure::parse(output),
    }
}

/// A running `wsl --export NAME -`.
pub struct ExportStream {
    child: Child,
    path: PathBuf,
    args: Vec<String>,
    stderr: Reader,
    /// Whether the reader saw the end of the stream.
    ended: Arc<AtomicBool>,
}

/// The export's output; remembers whether it was read to its end.
pub struct ExportReader {
    pipe: std::process::ChildStdout,
    ended: Arc<AtomicBool>,
}

impl Read for ExportReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.pipe.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.store(true, Ordering::SeqCst);
        }
        Ok(n)
    }
}

impl ExportStream {
    /// Waits for the export to end and returns its failure. An export whose output was not
    /// read to its end (the reader gave up) is killed, since it would block on a full pipe
    /// forever, and its failure is no cause of anything; one that closed its output first
    /// has said what it had to, and its exit status tells whether that was all.
    pub fn finish(mut self) -> Result<()> {
        if !self.ended.load(Ordering::SeqCst) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            return Ok(());
        }
        let status = self.child.wait().map_err(|source| Error::WslSpawn {
            path: self.path.clone(),
            source,
        })?;
        if status.success() {
            return Ok(());
        }
        Err(failure(&self.args, &join_reader(self.stderr)))
    }
}

/// Hands everything read from `pipe` to `sink`, chunk by chunk, until it closes.
fn forward(pipe: Option<impl Read>, stream: Stream, sink: &OutputSink<'_>) {
    let Some(mut pipe) = pipe else { return };
    let mut buf = [0u8; 8192];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => sink(stream, &buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

type Reader = Option<JoinHandle<Vec<u8>>>;

fn spawn_reader(pipe: Option<impl Read + Send + 'static>) -> Reader {
    pipe.map(|mut p| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = p.read_to_end(&mut buf);
            buf
        })
    })
}

fn join_reader(reader: Reader) -> String {
    reader
        .and_then(|h| h.join().ok())
        .map(|b| decode_output(&b))
        .unwrap_or_default()
}

/// Drains a child's stdout and stderr on threads so it never blocks on a full pipe while we
/// feed its stdin.
struct Readers(Reader, Reader);

impl Readers {
    fn start(child: &mut Child) -> Readers {
        Readers(
            spawn_reader(child.stdout.take()),
            spawn_reader(child.stderr.take()),
        )
    }

    fn finish(self) -> String {
        format!("{}\n{}", join_reader(self.0), join_reader(self.1))
    }
}

/// wsl.exe's stdin, shared between the producer and us so that we decide when it closes.
#[derive(Clone)]
struct SharedPipe(Arc<Mutex<Option<ChildStdin>>>);

impl SharedPipe {
    fn close(&self) {
        drop(self.0.lock().unwrap_or_else(|e| e.into_inner()).take());
    }
}

impl Write for SharedPipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(pipe) => pipe.write(buf),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            Some(pipe) => pipe.flush(),
            None => Ok(()),
        }
    }
}
