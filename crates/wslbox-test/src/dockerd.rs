//! A private Docker daemon per test, for `docker-daemon:IMAGE` and `--via docker` tests.
//!
//! [`Dockerd::start`] runs Debian's `dockerd` (docker.io 20.10) with everything of its own:
//! `--data-root` under [`fixtures_dir`] (vfs storage), and `--exec-root`, `--pidfile` and the
//! API socket in a short directory under `/tmp` (a unix socket path must stay under ~108
//! bytes, and containerd's socket lives below the exec-root). No iptables, no bridge, an
//! empty `--config-file`, so it neither touches the host's network nor reads
//! `/etc/docker/daemon.json`. It starts its own managed containerd. Tests in parallel
//! processes each get their own daemon. Dropping it stops the daemon (SIGTERM, then SIGKILL).
//!
//! The client is `/usr/bin/docker` from the same package (a newer stray CLI may sit earlier
//! on PATH), with a private `DOCKER_CONFIG`. Docker already treats `127.0.0.0/8` registries as
//! insecure (plain HTTP); [`Dockerd::start_with`] adds `--insecure-registry` for others.

use std::ffi::OsString;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tempfile::TempDir;

use crate::layers::fixtures_dir;
use crate::oracle::{self, Snapshot};
use crate::tool;

const DOCKERD: &str = "/usr/sbin/dockerd";

/// What `docker create` adds to every container (its init layer), so `docker export` holds
/// them whatever the image has.
pub const DOCKER_INIT_PATHS: &[&str] = &[
    ".dockerenv",
    "dev",
    "dev/console",
    "dev/pts",
    "dev/shm",
    "etc/hostname",
    "etc/hosts",
    "etc/mtab",
    "etc/resolv.conf",
    "proc",
    "sys",
];
const DOCKER: &str = "/usr/bin/docker";

/// A running private `dockerd`; stopped on drop.
pub struct Dockerd {
    child: Child,
    data: TempDir,
    run: TempDir,
    /// How long `dockerd` took to answer `docker info`.
    pub startup: Duration,
}

impl Dockerd {
    /// Starts a daemon and waits (up to 60 s) until `docker info` answers.
    pub fn start() -> anyhow::Result<Self> {
        Self::start_with(&[])
    }

    /// Like [`Dockerd::start`], trusting plain-HTTP registries at `insecure_registries`
    /// (`host:port`).
    pub fn start_with(insecure_registries: &[&str]) -> anyhow::Result<Self> {
        tool::require_root("dockerd runs as root")?;
        if !Path::new(DOCKERD).exists() {
            bail!("{DOCKERD} not found: install Debian's docker.io (scripts/install-test-deps)");
        }
        let base = fixtures_dir().join("dockerd");
        fs_err::create_dir_all(&base)?;
        let data = tempfile::Builder::new().prefix("d-").tempdir_in(base)?;
        let run = tempfile::Builder::new()
            .prefix("wslbox-dk-")
            .tempdir_in("/tmp")?;
        let r = run.path();
        fs_err::write(r.join("daemon.json"), "{}\n")?;
        fs_err::create_dir_all(r.join("config"))?;
        let log = fs_err::File::create(r.join("dockerd.log"))?;
        let stderr = log.file().try_clone()?;
        let mut cmd = Command::new(DOCKERD);
        cmd.arg("--config-file")
            .arg(r.join("daemon.json"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--storage-driver=vfs",
            ])
            .arg("--data-root")
            .arg(data.path())
            .arg("--exec-root")
            .arg(r.join("x"))
            .arg("--pidfile")
            .arg(r.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", r.join("d.sock").display()));
        for registry in insecure_registries {
            cmd.arg("--insecure-registry").arg(registry);
        }
        let started = Instant::now();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log.into_parts().0)
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {DOCKERD} (Debian package docker.io)"))?;
        let mut daemon = Self {
            child,
            data,
            run,
            startup: Duration::ZERO,
        };
        daemon.wait_ready()?;
        daemon.startup = started.elapsed();
        Ok(daemon)
    }

    fn wait_ready(&mut self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "dockerd exited ({status}) before answering; its log:\n{}",
                    self.log()
                );
            }
            if self.socket().exists()
                && self
                    .command()
                    .args(["info", "--format", "{{.ServerVersion}}"])
                    .output()
                    .is_ok_and(|o| o.status.success())
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "dockerd did not answer `docker info` within 60 s; its log:\n{}",
            self.log()
        )
    }

    /// The API socket.
    pub fn socket(&self) -> PathBuf {
        self.run.path().join("d.sock")
    }

    /// `unix:///tmp/wslbox-dk-…/d.sock`, for `docker -H` and `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    /// The data root (images, vfs layers).
    pub fn data_root(&self) -> &Path {
        self.data.path()
    }

    /// `DOCKER_HOST` and `DOCKER_CONFIG` for a client (e.g. the `wslbox` command under test).
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        vec![
            ("DOCKER_HOST", self.host().into()),
            ("DOCKER_CONFIG", self.run.path().join("config").into()),
        ]
    }

    /// `/usr/bin/docker -H unix://SOCK` with a private `DOCKER_CONFIG`.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(DOCKER);
        cmd.env("DOCKER_CONFIG", self.run.path().join("config"))
            .env_remove("DOCKER_HOST")
            .env_remove("DOCKER_CONTEXT")
            .arg("-H")
            .arg(self.host());
        cmd
    }

    /// Runs `docker -H … ARGS`, returning stdout.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        tool::run(
            self.command().args(args),
            &format!("docker {}", args.join(" ")),
            "docker.io",
        )
    }

    /// `docker load -i ARCHIVE` (a docker-archive); returns the names it reports loading.
    pub fn load(&self, archive: &Path) -> anyhow::Result<Vec<String>> {
        let out = tool::run(
            self.command().arg("load").arg("-i").arg(archive),
            &format!("docker load -i {}", archive.display()),
            "docker.io",
        )?;
        Ok(out
            .lines()
            .filter_map(|l| {
                l.strip_prefix("Loaded image: ")
                    .or_else(|| l.strip_prefix("Loaded image ID: "))
            })
            .map(str::to_owned)
            .collect())
    }

    pub fn tag(&self, source: &str, target: &str) -> anyhow::Result<()> {
        self.run(&["tag", source, target]).map(drop)
    }

    /// `docker pull REFERENCE` (plain HTTP for loopback and `--insecure-registry` hosts).
    pub fn pull(&self, reference: &str) -> anyhow::Result<()> {
        self.run(&["pull", "--quiet", reference]).map(drop)
    }

    /// `docker login --password-stdin` to a registry (stored in the private DOCKER_CONFIG).
    pub fn login(&self, registry: &str, user: &str, password: &str) -> anyhow::Result<()> {
        let mut child = self
            .command()
            .args(["login", "--username", user, "--password-stdin", registry])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running docker login (docker.io)")?;
        std::io::Write::write_all(
            &mut child.stdin.take().context("stdin")?,
            password.as_bytes(),
        )?;
        let out = child.wait_with_output()?;
        if !out.status.success() {
            bail!(
                "docker login {registry} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// `docker save -o OUT IMAGE` (a docker-archive).
    pub fn save(&self, image: &str, out: &Path) -> anyhow::Result<()> {
        tool::run(
            self.command().arg("save").arg("-o").arg(out).arg(image),
            &format!("docker save {image}"),
            "docker.io",
        )
        .map(drop)
    }

    /// `docker save IMAGE | tar -t`: the archive's member names.
    pub fn save_members(&self, image: &str) -> anyhow::Result<Vec<String>> {
        let mut save = self
            .command()
            .args(["save", image])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running docker save (docker.io)")?;
        let stdout = save.stdout.take().context("docker save stdout")?;
        let list = Command::new("tar")
            .arg("-t")
            .stdin(stdout)
            .output()
            .context("running tar -t")?;
        let mut stderr = String::new();
        if let Some(mut e) = save.stderr.take() {
            e.read_to_string(&mut stderr)?;
        }
        let status = save.wait()?;
        if !status.success() || !list.status.success() {
            bail!(
                "docker save {image} | tar -t failed ({status}): {stderr}{}",
                String::from_utf8_lossy(&list.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&list.stdout)
            .lines()
            .map(str::to_owned)
            .collect())
    }

    /// `docker image inspect --format {{.Id}}` (`sha256:` of the config).
    pub fn image_id(&self, image: &str) -> anyhow::Result<String> {
        Ok(self
            .run(&["image", "inspect", "--format", "{{.Id}}", image])?
            .trim()
            .to_owned())
    }

    /// The `docker-daemon:` oracle for an image's own content: `docker save`, `skopeo copy`
    /// to an OCI layout, `umoci raw unpack` into `dest`. Exactly the image's layers applied,
    /// nothing a container adds.
    pub fn image_tree(&self, image: &str, dest: &Path) -> anyhow::Result<Snapshot> {
        let scratch = tempfile::tempdir_in(self.data_root())?;
        let archive = scratch.path().join("image.tar");
        self.save(image, &archive)?;
        let layout = scratch.path().join("layout");
        crate::skopeo::copy(
            &format!("docker-archive:{}", archive.display()),
            &format!("oci:{}:latest", layout.display()),
            None,
            &crate::skopeo::PushOptions::default(),
        );
        oracle::umoci_unpack(&layout, "latest", dest)?;
        oracle::snapshot(dest)
    }

    /// `docker create` (never started), `docker export`, GNU tar into `dest`, `docker rm`.
    /// Like `podman export`: no `./` member, whole-second mtimes. Unlike it, the tree also
    /// holds the container's init layer ([`DOCKER_INIT_PATHS`]) and the config's WorkingDir,
    /// parents that the image's layers never listed come out 0600, not 0755, and a hardlink
    /// entry's header mode is applied to the shared inode (umoci ignores it).
    pub fn export_tree(&self, image: &str, dest: &Path) -> anyhow::Result<Snapshot> {
        let id = self
            .run(&["create", "--network=none", image, "true"])?
            .trim()
            .to_owned();
        let scratch = tempfile::tempdir_in(self.data_root())?;
        let tar = scratch.path().join("export.tar");
        let exported = tool::run(
            self.command().args(["export", "-o"]).arg(&tar).arg(&id),
            &format!("docker export {id}"),
            "docker.io",
        );
        let removed = self.run(&["rm", "--force", &id]);
        exported?;
        removed?;
        oracle::tar_extract_tree(&tar, dest, None)
    }

    /// The daemon's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs_err::read_to_string(self.run.path().join("dockerd.log")).unwrap_or_default()
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SIGTERM lets dockerd stop its managed containerd; SIGKILL would orphan it.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A killed dockerd leaves its managed containerd running; it is ours to stop.
        let pid_file = self.run.path().join("x/containerd/containerd.pid");
        if let Ok(pid) = fs_err::read_to_string(pid_file) {
            let _ = Command::new("kill").args(["-KILL", pid.trim()]).status();
        }
    }
}
