//! An isolated environment for running the `wslbox` binary against test registries.
//!
//! [`CliEnv`] gives every run its own HOME, DOCKER_CONFIG, XDG directories, cache dir and a
//! `bin/` directory prepended to PATH (for credential helpers), and clears everything else
//! from the environment, so neither the developer's credentials nor proxies leak in.
//! [`CredentialHelper`] installs `docker-credential-<name>`: a real script speaking Docker's
//! credential-helper protocol, storing secrets as files and logging each call.

use std::ffi::OsString;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::registry_fixture::sha256_digest;

/// The result of one `wslbox` run.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The command line, for assertion messages.
    pub command: String,
}

impl Outcome {
    fn from_output(command: String, output: Output) -> Self {
        Self {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            command,
        }
    }

    /// Panics with the full output unless the exit code was 0.
    #[track_caller]
    pub fn success(&self) -> &Self {
        assert_eq!(self.code, Some(0), "`{}` failed:\n{self}", self.command);
        self
    }

    /// Panics unless the run failed with exit code 1 and an `error:` message on stderr.
    #[track_caller]
    pub fn failure(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "`{}` should fail with exit code 1:\n{self}",
            self.command
        );
        assert!(
            self.stderr.lines().any(|line| line.starts_with("error:")),
            "`{}` should print `error:` on stderr:\n{self}",
            self.command
        );
        self
    }

    /// The value of the first stdout line starting with `prefix` (e.g. `Digest: `).
    pub fn stdout_field(&self, prefix: &str) -> Option<&str> {
        self.stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .map(str::trim)
    }

    /// stdout parsed as one JSON document.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("`{}` printed no JSON ({err}):\n{self}", self.command))
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code: {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// A scratch HOME for one test; removed on drop.
pub struct CliEnv {
    dir: TempDir,
    binary: PathBuf,
    vars: Vec<(String, OsString)>,
}

impl CliEnv {
    /// `binary` is the wslbox executable (`env!("CARGO_BIN_EXE_wslbox")` in its tests).
    pub fn new(binary: impl Into<PathBuf>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wslbox-cli-")
            .tempdir()
            .expect("create CLI temp dir");
        for sub in [
            "home",
            "docker",
            "config",
            "cache-home",
            "data",
            "runtime",
            "bin",
            "cache",
        ] {
            fs_err::create_dir_all(dir.path().join(sub)).expect("create CLI env dir");
        }
        fs_err::write(dir.path().join("registries.conf"), "").expect("write registries.conf");
        Self {
            dir,
            binary: binary.into(),
            vars: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// `$DOCKER_CONFIG`.
    pub fn docker_config_dir(&self) -> PathBuf {
        self.root().join("docker")
    }

    /// The `--cache-dir` every run gets.
    pub fn cache_dir(&self) -> PathBuf {
        self.root().join("cache")
    }

    /// Prepended to PATH; credential helpers go here.
    pub fn bin_dir(&self) -> PathBuf {
        self.root().join("bin")
    }

    /// Sets an extra environment variable for every later run.
    pub fn set_var(&mut self, name: &str, value: impl Into<OsString>) -> &mut Self {
        self.vars.push((name.to_owned(), value.into()));
        self
    }

    /// `wslbox --cache-dir CACHE ARGS...` with the isolated environment, not yet run.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut path = OsString::from(self.bin_dir());
        if let Some(system) = std::env::var_os("PATH") {
            path.push(":");
            path.push(system);
        }
        let root = self.root();
        let mut command = Command::new(&self.binary);
        command
            .env_clear()
            .env("PATH", path)
            .env("HOME", root.join("home"))
            .env("DOCKER_CONFIG", self.docker_config_dir())
            .env("XDG_CONFIG_HOME", root.join("config"))
            .env("XDG_CACHE_HOME", root.join("cache-home"))
            .env("XDG_DATA_HOME", root.join("data"))
            .env("XDG_RUNTIME_DIR", root.join("runtime"))
            .env("NO_COLOR", "1")
            // Never the machine's /etc/containers/registries.conf: an empty file of our own.
            .env("CONTAINERS_REGISTRIES_CONF", root.join("registries.conf"))
            .arg("--cache-dir")
            .arg(self.cache_dir())
            .args(args)
            .stdin(Stdio::null());
        for (name, value) in &self.vars {
            command.env(name, value);
        }
        command
    }

    /// Runs `wslbox ARGS...` to completion.
    pub fn run(&self, args: &[&str]) -> Outcome {
        let output = self
            .command(args)
            .output()
            .unwrap_or_else(|err| panic!("cannot run wslbox: {err}"));
        Outcome::from_output(format!("wslbox {}", args.join(" ")), output)
    }

    /// Runs `wslbox ARGS...` with `stdin` piped in (e.g. `--password-stdin`).
    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Outcome {
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run wslbox: {err}"));
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("write wslbox stdin");
        let output = child.wait_with_output().expect("wait for wslbox");
        Outcome::from_output(format!("wslbox {}", args.join(" ")), output)
    }

    /// Writes `$DOCKER_CONFIG/config.json`.
    pub fn write_docker_config(&self, config: &Value) {
        fs_err::write(
            self.docker_config_dir().join("config.json"),
            config.to_string(),
        )
        .expect("write config.json");
    }

    /// Reads `$DOCKER_CONFIG/config.json`, if it exists.
    pub fn docker_config(&self) -> Option<Value> {
        let text = fs_err::read_to_string(self.docker_config_dir().join("config.json")).ok()?;
        Some(serde_json::from_str(&text).expect("config.json is JSON"))
    }

    /// Docker's `auth` value: base64 of `user:password`.
    pub fn encode_auth(user: &str, password: &str) -> String {
        STANDARD.encode(format!("{user}:{password}"))
    }

    /// Writes `{"auths": {REGISTRY: {"auth": base64(user:password)}}}` to `path`.
    pub fn write_auths_file(path: &Path, registry: &str, user: &str, password: &str) {
        let config = json!({"auths": {registry: {"auth": Self::encode_auth(user, password)}}});
        fs_err::write(path, config.to_string()).expect("write auth file");
    }

    /// Installs `docker-credential-NAME` into [`CliEnv::bin_dir`].
    pub fn install_credential_helper(&self, name: &str) -> CredentialHelper {
        let store = self.root().join(format!("helper-{name}"));
        fs_err::create_dir_all(&store).expect("create helper store");
        let script = HELPER_SCRIPT.replace("@STORE@", &store.display().to_string());
        let path = self.bin_dir().join(format!("docker-credential-{name}"));
        fs_err::write(&path, script).expect("write credential helper");
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .expect("chmod credential helper");
        CredentialHelper { store }
    }

    /// Every regular file under the cache directory.
    pub fn cache_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut pending = vec![self.cache_dir()];
        while let Some(dir) = pending.pop() {
            let Ok(entries) = fs_err::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        files
    }

    /// Cache files named exactly like the digest's hex (the cache's blob entries for it).
    pub fn cache_entries_named(&self, digest: &str) -> Vec<PathBuf> {
        let hex = digest.trim_start_matches("sha256:");
        self.cache_files()
            .into_iter()
            .filter(|p| p.file_name().is_some_and(|n| n == hex))
            .collect()
    }

    /// Panics unless every cache file named like a sha256 hex digest holds exactly those bytes.
    #[track_caller]
    pub fn assert_cache_consistent(&self) {
        for path in self.cache_files() {
            let name = path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            if name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                let bytes = fs_err::read(&path).unwrap_or_else(|err| panic!("{err}"));
                assert_eq!(
                    sha256_digest(&bytes),
                    format!("sha256:{name}"),
                    "corrupt cache entry {}",
                    path.display()
                );
            }
        }
    }
}

/// A credential helper's on-disk store and call log.
#[derive(Debug, Clone)]
pub struct CredentialHelper {
    store: PathBuf,
}

impl CredentialHelper {
    /// Stores credentials for `server` as if `docker login` had run.
    pub fn put(&self, server: &str, user: &str, secret: &str) {
        let record = json!({"ServerURL": server, "Username": user, "Secret": secret});
        fs_err::write(self.entry(server), record.to_string()).expect("write helper entry");
    }

    /// The stored `(Username, Secret)` for `server`.
    pub fn get(&self, server: &str) -> Option<(String, String)> {
        let text = fs_err::read_to_string(self.entry(server)).ok()?;
        let record: Value = serde_json::from_str(&text).ok()?;
        Some((
            record["Username"].as_str()?.to_owned(),
            record["Secret"].as_str()?.to_owned(),
        ))
    }

    /// `ACTION SERVER` lines, one per invocation.
    pub fn calls(&self) -> Vec<String> {
        fs_err::read_to_string(self.store.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn entry(&self, server: &str) -> PathBuf {
        let name: String = server
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        self.store.join(format!("entry-{name}"))
    }
}

/// Docker's helper protocol: `get`/`erase` read the server URL on stdin, `store` reads
/// `{"ServerURL","Username","Secret"}`; a missing entry prints the canonical message, exits 1.
const HELPER_SCRIPT: &str = r#"#!/bin/sh
store='@STORE@'
entry() { printf '%s/entry-%s' "$store" "$(printf '%s' "$1" | tr -c 'A-Za-z0-9.' '_')"; }
input=$(cat)
case "$1" in
  store)
    server=$(printf '%s' "$input" | sed -n 's/.*"ServerURL"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p')
    echo "store $server" >> "$store/calls.log"
    printf '%s' "$input" > "$(entry "$server")" ;;
  get)
    echo "get $input" >> "$store/calls.log"
    if [ -f "$(entry "$input")" ]; then cat "$(entry "$input")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  erase)
    echo "erase $input" >> "$store/calls.log"
    if [ -f "$(entry "$input")" ]; then rm -f "$(entry "$input")"; else echo "credentials not found in native keychain"; exit 1; fi ;;
  list)
    echo "list" >> "$store/calls.log"
    echo '{}' ;;
  *) echo "unknown action $1" >&2; exit 1 ;;
esac
"#;
