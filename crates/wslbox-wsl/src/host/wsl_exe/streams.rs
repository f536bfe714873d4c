//! The wsl.exe runs that stream: archives into `--import -` and `--install --from-file -`
//! (fed by a producer), out of `--export NAME -`, one into the other (`clone`), and commands
//! whose stdin we write and whose output we forward as it arrives (setup scripts). Output
//! pipes are always drained on threads, so wsl.exe never blocks on a full pipe while we write.

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::{WslExe, failure, import_args, shown_args};
use crate::error::{Error, ProducerError, Result};
use crate::output::decode_output;
use crate::script::{OutputSink, Stream};
use crate::wsl_error::WslFailure;

impl WslExe {
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

    /// `--export OLD - | --import NEW DIR - --version N`: a clone without a temp file.
    pub fn export_into_import(&self, from: &str, to: &str, dir: &Path, version: u8) -> Result<()> {
        let (mut export, reader) = self.export_stream(from)?;
        let pipe = reader.pipe;
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
                let _ = export.child.kill();
                let _ = export.child.wait();
                return Err(e);
            }
        };
        let readers = Readers::start(&mut import);
        let import_status = import.wait().map_err(|e| self.spawn_error(e));
        let export_status = export.child.wait().map_err(|e| self.spawn_error(e))?;
        let import_output = readers.finish();
        let export_output = join_reader(export.stderr);
        match (export_status.success(), import_status?.success()) {
            (true, true) => Ok(()),
            (false, true) => Err(failure(&export.args, &export_output)),
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
}

impl WslExe {
    /// `--export NAME - --format tar` as one stream whose end is wsl.exe's verdict: a reader
    /// that takes the tar's end for a whole export (`wslbox commit`, which pushes it) gets
    /// wsl.exe's failure as the error of its last read instead.
    pub fn export_checked(&self, name: &str) -> Result<CheckedExport> {
        let (export, reader) = self.export_stream(name)?;
        Ok(CheckedExport {
            reader,
            export: Some(export),
        })
    }
}

/// The output of a running `wsl --export NAME -`, whose last read waits for wsl.exe and fails
/// when it did. Dropped before its end, the export is stopped.
pub struct CheckedExport {
    reader: ExportReader,
    export: Option<ExportStream>,
}

impl Read for CheckedExport {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.reader.read(buf)?;
        if n == 0
            && !buf.is_empty()
            && let Some(export) = self.export.take()
        {
            export.finish().map_err(std::io::Error::other)?;
        }
        Ok(n)
    }
}

impl Drop for CheckedExport {
    fn drop(&mut self) {
        if let Some(export) = self.export.take() {
            let _ = export.finish();
        }
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
