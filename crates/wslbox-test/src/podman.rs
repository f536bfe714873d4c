//! Podman with storage of its own, for `podman:IMAGE` and `--via podman` tests: every
//! [`Podman`] gets a fresh directory under [`fixtures_dir`] holding `storage.conf` (graphroot
//! and runroot inside it), `containers.conf`, `registries.conf` and an auth file, passed by
//! environment ([`Podman::envs`]), so tests in parallel processes never share a store (nor
//! container locks: `lock_type = "file"` keeps them in the instance's `tmp_dir`, where the
//! default is one shared-memory segment per machine for every store), and the
//! machine's `/var/lib/containers` stays untouched (except podman's blob-info cache under
//! `/var/lib/containers/cache`, which root podman always uses; it only records digests).
//!
//! There is no network but loopback, so base images come from local tars
//! ([`Podman::import_debian_minbase`] for a base with a shell, so `RUN` works). Runs as root.
//!
//! Storage drivers differ in the layers they write, which is why both are offered: `vfs`
//! (the default) diffs naively and writes one `.wh.NAME` per removed child when a directory is
//! removed and recreated; `overlay` writes `DIR/.wh..wh..opq` for the same step.
//!
//! `runtime = "runc"`: this machine has hybrid cgroups (v1 controllers plus a v2 mount), which
//! crun 1.8 refuses ("cgroups in hybrid mode not supported").

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;
use tempfile::TempDir;

use crate::layers::{debian_minbase_tar, fixtures_dir};
use crate::oracle::{self, Snapshot};
use crate::registry::Registry;
use crate::tool;

/// Where podman keeps layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageDriver {
    Vfs,
    Overlay,
}

impl StorageDriver {
    pub fn name(self) -> &'static str {
        match self {
            Self::Vfs => "vfs",
            Self::Overlay => "overlay",
        }
    }
}

/// An isolated podman; its storage is deleted on drop.
pub struct Podman {
    dir: TempDir,
    driver: StorageDriver,
}

impl Podman {
    /// A fresh vfs store.
    pub fn new() -> anyhow::Result<Self> {
        Self::with_driver(StorageDriver::Vfs)
    }

    pub fn with_driver(driver: StorageDriver) -> anyhow::Result<Self> {
        tool::require_root("podman runs as root here (vfs/overlay storage, runc)")?;
        let base = fixtures_dir().join("podman");
        fs_err::create_dir_all(&base)?;
        let dir = tempfile::Builder::new().prefix("p-").tempdir_in(base)?;
        let d = dir.path();
        fs_err::write(
            d.join("storage.conf"),
            format!(
                "[storage]\ndriver = \"{}\"\ngraphroot = \"{}\"\nrunroot = \"{}\"\n",
                driver.name(),
                d.join("graph").display(),
                d.join("run").display()
            ),
        )?;
        fs_err::write(
            d.join("containers.conf"),
            format!(
                "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nlock_type = \"file\"\n\
                 events_logger = \"file\"\nevents_logfile_path = \"{}\"\ntmp_dir = \"{}\"\n\
                 [network]\nnetwork_config_dir = \"{}\"\n",
                d.join("events.log").display(),
                d.join("tmp").display(),
                d.join("networks").display()
            ),
        )?;
        fs_err::write(
            d.join("registries.conf"),
            "unqualified-search-registries = []\nshort-name-mode = \"disabled\"\n",
        )?;
        fs_err::write(d.join("auth.json"), "{}\n")?;
        Ok(Self { dir, driver })
    }

    pub fn driver(&self) -> StorageDriver {
        self.driver
    }

    /// The directory holding the configuration files and the store.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The store's graphroot, `DIR/graph`.
    pub fn graphroot(&self) -> PathBuf {
        self.dir.path().join("graph")
    }

    /// The environment that points podman (and wslbox's `podman:` reader, which runs podman)
    /// at this store; give it to the `wslbox` command under test.
    pub fn envs(&self) -> Vec<(&'static str, OsString)> {
        let d = self.dir.path();
        vec![
            ("CONTAINERS_STORAGE_CONF", d.join("storage.conf").into()),
            ("CONTAINERS_CONF", d.join("containers.conf").into()),
            (
                "CONTAINERS_REGISTRIES_CONF",
                d.join("registries.conf").into(),
            ),
            ("REGISTRY_AUTH_FILE", d.join("auth.json").into()),
        ]
    }

    /// `podman` with [`Podman::envs`] set.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.envs(self.envs());
        cmd
    }

    /// Runs `podman ARGS`, returning stdout.
    pub fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        tool::run(
            self.command().args(args),
            &format!("podman {}", args.join(" ")),
            "podman",
        )
    }

    /// `podman import TAR TAG`: a one-layer image from a rootfs tar.
    pub fn import(&self, tar: &Path, tag: &str) -> anyhow::Result<()> {
        tool::run(
            self.command()
                .arg("import")
                .arg("--quiet")
                .arg(tar)
                .arg(tag),
            &format!("podman import {}", tar.display()),
            "podman",
        )?;
        Ok(())
    }

    /// The debootstrap minbase fixture imported as `tag` (e.g. `localhost/minbase:latest`):
    /// the local base with a shell that `RUN` steps need.
    pub fn import_debian_minbase(&self, tag: &str) -> anyhow::Result<()> {
        self.import(&debian_minbase_tar()?, tag)
    }

    /// `podman build --network=none --pull=never -t TAG CONTEXT` (the `Containerfile` in
    /// CONTEXT; its `FROM` must name a local image).
    pub fn build(&self, context_dir: &Path, tag: &str) -> anyhow::Result<()> {
        tool::run(
            self.command()
                .args([
                    "build",
                    "--quiet",
                    "--network=none",
                    "--pull=never",
                    "-t",
                    tag,
                ])
                .arg(context_dir),
            &format!("podman build {}", context_dir.display()),
            "podman",
        )?;
        Ok(())
    }

    /// `podman push --tls-verify=false IMAGE docker://REFERENCE` (e.g. a test registry's
    /// `127.0.0.1:PORT/name:tag`), with `--creds` when given.
    pub fn push(
        &self,
        image: &str,
        reference: &str,
        creds: Option<(String, String)>,
    ) -> anyhow::Result<()> {
        let mut cmd = self.command();
        cmd.args(["push", "--quiet", "--tls-verify=false"]);
        if let Some((user, password)) = creds {
            cmd.arg("--creds").arg(format!("{user}:{password}"));
        }
        cmd.arg(image).arg(format!("docker://{reference}"));
        tool::run(
            &mut cmd,
            &format!("podman push {image} {reference}"),
            "podman",
        )?;
        Ok(())
    }

    /// Pushes `image` to `registry` as `NAME` (`name:tag`) with its push credentials; returns
    /// the full reference (`127.0.0.1:PORT/name:tag`).
    pub fn push_to(&self, image: &str, registry: &Registry, name: &str) -> anyhow::Result<String> {
        let reference = registry.image(name);
        self.push(image, &reference, registry.push_credentials())?;
        Ok(reference)
    }

    /// `podman pull --tls-verify=false docker://REFERENCE`.
    pub fn pull(&self, reference: &str) -> anyhow::Result<()> {
        self.run(&[
            "pull",
            "--quiet",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])?;
        Ok(())
    }

    /// `podman save --format FORMAT -o OUT IMAGE` (`oci-archive`, `docker-archive`, `oci-dir`).
    pub fn save(&self, image: &str, format: &str, out: &Path) -> anyhow::Result<()> {
        tool::run(
            self.command()
                .args(["save", "--quiet", "--format", format, "-o"])
                .arg(out)
                .arg(image),
            &format!("podman save {image}"),
            "podman",
        )?;
        Ok(())
    }

    /// `podman save --format oci-dir --uncompressed`: gzip of a whole rootfs would dominate.
    fn save_oci_dir(&self, image: &str, dir: &Path) -> anyhow::Result<()> {
        tool::run(
            self.command()
                .args([
                    "save",
                    "--quiet",
                    "--format",
                    "oci-dir",
                    "--uncompressed",
                    "-o",
                ])
                .arg(dir)
                .arg(image),
            &format!("podman save --format oci-dir {image}"),
            "podman",
        )?;
        Ok(())
    }

    /// `image` as an OCI layout directory whose only manifest is tagged `tag` (podman names
    /// it after the image, which `umoci --image DIR:TAG` cannot parse), for the umoci oracle.
    pub fn save_oci_layout(&self, image: &str, dir: &Path, tag: &str) -> anyhow::Result<()> {
        self.save_oci_dir(image, dir)?;
        let index_path = dir.join("index.json");
        let mut index: serde_json::Value = serde_json::from_slice(&fs_err::read(&index_path)?)?;
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = tag.into();
        fs_err::write(&index_path, serde_json::to_vec(&index)?)?;
        Ok(())
    }

    /// How many containers exist (`podman ps --all`).
    pub fn containers(&self) -> anyhow::Result<usize> {
        Ok(self.run(&["ps", "--all", "--quiet"])?.lines().count())
    }

    /// `podman load -i ARCHIVE` (an oci-archive or docker-archive, e.g. from a fixture
    /// builder); returns what podman reports loading.
    pub fn load(&self, archive: &Path) -> anyhow::Result<Vec<String>> {
        let out = tool::run(
            self.command().args(["load", "-i"]).arg(archive),
            &format!("podman load -i {}", archive.display()),
            "podman",
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix("Loaded image: "))
            .map(str::to_owned)
            .collect())
    }

    /// `podman image inspect --format {{.Id}}`.
    pub fn image_id(&self, image: &str) -> anyhow::Result<String> {
        Ok(self
            .run(&["image", "inspect", "--format", "{{.Id}}", image])?
            .trim()
            .to_owned())
    }

    /// The member names of each layer of `image`, bottom first (to check which whiteouts a
    /// build wrote).
    pub fn layer_members(&self, image: &str) -> anyhow::Result<Vec<Vec<String>>> {
        let scratch = tempfile::tempdir_in(self.dir())?;
        let layout = scratch.path().join("oci");
        self.save_oci_dir(image, &layout)?;
        crate::layout_reader::layer_members(&layout)
    }

    /// The `podman:` oracle: see [`podman_export_tree`].
    pub fn export_tree(&self, image: &str, dest: &Path) -> anyhow::Result<Snapshot> {
        podman_export_tree(self, image, dest)
    }
}

/// `podman create` a container from `image` (never started), `podman export` it, extract the
/// tar with GNU tar ([`oracle::tar_extract_tree`]) into `dest`, and remove the container.
/// What it cannot represent: `podman export` writes no `./` member (the root stays 0755
/// root:root), whole-second mtimes only, and no `trusted.*` xattrs (`security.*` and `user.*`
/// survive). Apart from that its tree equals umoci's for the same image (checked in
/// `tests/podman_engine.rs`).
pub fn podman_export_tree(podman: &Podman, image: &str, dest: &Path) -> anyhow::Result<Snapshot> {
    let id = podman
        .run(&["create", "--network=none", image, "true"])?
        .trim()
        .to_owned();
    let scratch = tempfile::tempdir_in(podman.dir())?;
    let tar = scratch.path().join("export.tar");
    let exported = tool::run(
        podman.command().args(["export", "-o"]).arg(&tar).arg(&id),
        &format!("podman export {id}"),
        "podman",
    );
    let removed = podman.run(&["rm", "--force", &id]);
    exported?;
    removed.with_context(|| format!("removing container {id}"))?;
    oracle::tar_extract_tree(&tar, dest, None)
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Nothing stays mounted with vfs; an overlay container a failed test left mounted
        // would make the directory impossible to delete.
        if self.driver == StorageDriver::Overlay {
            let _ = self.command().args(["unmount", "--all"]).output();
            let _ = self.command().args(["image", "unmount", "--all"]).output();
        }
    }
}
