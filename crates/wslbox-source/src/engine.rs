//! Images in a container engine: `podman:IMAGE`, `docker-daemon:IMAGE`, and registry
//! references an engine pulls for wslbox (`--via podman|docker`).
//!
//! [`open`] asks the engine about the image (`image inspect`: its ID, names, platform, layer
//! count); [`EngineSource::flatten`] then reads `podman image save --format docker-archive ID`
//! / `docker save ID` as a stream from the engine's stdout — never a temp file of the whole
//! archive — parsing each layer as it goes by (`stream`), and afterwards verifies and applies
//! the layers in the order `manifest.json` gives (`assemble`). Saving by ID means the archive
//! is the image that was inspected, even if its tag moves meanwhile.
//!
//! Identity: an engine's archive has no manifest, so for `podman:`/`docker-daemon:` the info
//! records the image ID (the config digest, checked against the archive's config) and no
//! manifest digest. With `--via`, the manifest digest is what the engine recorded for the pull
//! (podman's `Digest`, Docker's `RepoDigests` entry for the repository).
//!
//! Progress: `flatten_started` counts the image's distinct layers (from `inspect`), and
//! `layer_progress`/`layer_finished` number layers in the order the archive delivers them,
//! which need not be the image's order.
//!
//! The engine's CLI is found on PATH and run with wslbox's environment plus
//! [`OpenOptions::engine_env`], so `DOCKER_HOST`, `CONTAINER_HOST`, `CONTAINERS_STORAGE_CONF`,
//! credentials, mirrors and proxies are the engine's own.

mod assemble;
mod command;
mod stream;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Deserialize;
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_rootfs::{FlattenError, FlattenOptions};

use self::command::{Cli, Purpose};
use self::stream::StreamError;
use crate::registry::check_image_platform;
use crate::{
    Engine, Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind,
};

/// Opens `podman:IMAGE` / `docker-daemon:IMAGE`.
pub(crate) fn open(
    engine: Engine,
    image: &str,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    let cli = Cli::new(engine, Purpose::Local, &opts.engine_env);
    let kind = match engine {
        Engine::Podman => SourceKind::Podman,
        Engine::Docker => SourceKind::DockerDaemon,
    };
    let reference = format!("{}:{image}", engine.prefix());
    let inspected = inspect(&cli, image, None)?;
    let info = SourceInfo::new(kind, reference);
    source(cli, &inspected, info, image, None, opts, reporter)
}

/// Opens a registry reference that `opts.via`'s engine pulls first.
pub(crate) fn open_via(
    engine: Engine,
    reference: &Reference,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    let cli = Cli::new(engine, Purpose::Via, &opts.engine_env);
    let name = reference.to_string();
    pull(&cli, reference, opts)?;
    let inspected = inspect(&cli, &name, Some(reference))?;
    let mut info = SourceInfo::new(SourceKind::Registry, name.clone());
    info.via = Some(engine);
    source(
        cli,
        &inspected,
        info,
        &name,
        Some(reference),
        opts,
        reporter,
    )
}

/// Completes `info` from what the engine said and checks the platform.
fn source(
    cli: Cli,
    inspected: &Inspected,
    mut info: SourceInfo,
    typed: &str,
    pulled: Option<&Reference>,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    let id = inspected.id(&cli)?;
    inspected.fill(&mut info, &id, typed, pulled);
    if let Some(platform) = &info.platform {
        check_image_platform(opts, &info.reference, platform, reporter.as_ref())?;
    }
    let mut layers = inspected.layers();
    layers.sort();
    layers.dedup();
    Ok(Box::new(EngineSource {
        cli,
        id,
        distinct_layers: layers.len(),
        info,
    }))
}

/// `podman pull [--tls-verify=false] [--platform P] REF` / `docker pull [--platform P] REF`.
/// Docker decides about plain HTTP itself (its daemon's `insecure-registries`, loopback).
fn pull(cli: &Cli, reference: &Reference, opts: &OpenOptions) -> Result<(), SourceError> {
    let name = reference.to_string();
    let platform = opts.platform.as_ref().map(Platform::to_string);
    let mut args = vec!["pull"];
    if cli.engine == Engine::Podman {
        args.push("--quiet");
        if wslbox_registry::is_insecure_registry(reference.registry(), &opts.insecure_registries) {
            args.push("--tls-verify=false");
        }
    }
    if let Some(p) = &platform {
        args.extend(["--platform", p]);
    }
    args.push(&name);
    cli.output(&args)?.map(drop).map_err(|failure| {
        cli.error(format!(
            "`{} {}` failed: {}; check the reference and that {} can reach the registry (its own credentials, mirrors and proxies apply)",
            cli.engine.command(),
            args.join(" "),
            failure.summary(),
            cli.engine.command()
        ))
    })
}

/// What `image inspect` tells (podman and Docker share these field names).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Inspected {
    id: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    repo_digests: Option<Vec<String>>,
    /// podman only: the digest of the manifest it stored.
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    variant: Option<String>,
    #[serde(default, rename = "RootFS")]
    root_fs: Option<RootFs>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RootFs {
    #[serde(default)]
    layers: Option<Vec<String>>,
}

fn inspect(cli: &Cli, image: &str, pulled: Option<&Reference>) -> Result<Inspected, SourceError> {
    let engine = cli.engine.command();
    let out = cli.output(&["image", "inspect", image])?.map_err(|failure| {
        let summary = failure.summary();
        let missing = ["image not known", "No such image", "no such image"]
            .iter()
            .any(|m| failure.stderr.contains(m));
        if missing && pulled.is_none() {
            cli.error(format!(
                "there is no image `{image}` in {engine}'s store ({summary}); pull it first with `{engine} pull {image}`, or check the name with `{engine} images`"
            ))
        } else if failure.stderr.contains("Cannot connect to the Docker daemon") {
            cli.error(format!(
                "{summary}; start the Docker daemon, or point DOCKER_HOST at a running one"
            ))
        } else {
            cli.error(format!("`{engine} image inspect {image}` failed: {summary}"))
        }
    })?;
    let mut all: Vec<Inspected> = serde_json::from_slice(&out).map_err(|e| {
        cli.error(format!(
            "`{engine} image inspect {image}` printed something wslbox cannot read: {e}"
        ))
    })?;
    match all.len() {
        1 => Ok(all.remove(0)),
        n => Err(cli.error(format!(
            "`{engine} image inspect {image}` described {n} images instead of one"
        ))),
    }
}

impl Inspected {
    /// The image ID as a digest (podman prints bare hex, Docker `sha256:<hex>`).
    fn id(&self, cli: &Cli) -> Result<Digest, SourceError> {
        let id = if self.id.contains(':') {
            self.id.clone()
        } else {
            format!("sha256:{}", self.id)
        };
        id.parse()
            .map_err(|e| cli.error(format!("the image ID `{}` is not a digest: {e}", self.id)))
    }

    fn layers(&self) -> Vec<String> {
        self.root_fs
            .as_ref()
            .and_then(|r| r.layers.clone())
            .unwrap_or_default()
    }

    fn fill(&self, info: &mut SourceInfo, id: &Digest, typed: &str, pulled: Option<&Reference>) {
        info.config_digest = Some(id.clone());
        if let (Some(os), Some(architecture)) = (&self.os, &self.architecture) {
            let platform = Platform {
                os: os.clone(),
                architecture: architecture.clone(),
                variant: self.variant.clone().filter(|v| !v.is_empty()),
            };
            info.platforms = vec![platform.clone()];
            info.platform = Some(platform);
        }
        // The tag the typed name stands for (`dev:1` is podman's `localhost/dev:1`), else the
        // first one, else the ID.
        let tags = self.repo_tags.as_deref().unwrap_or_default();
        let typed_suffix = format!("/{typed}");
        info.engine_image = tags
            .iter()
            .find(|t| *t == typed || t.ends_with(&typed_suffix))
            .or(tags.first())
            .cloned()
            .or_else(|| Some(self.id.clone()));
        if let Some(reference) = pulled {
            info.manifest_digest = self.pulled_digest(reference);
        }
    }

    /// The digest the engine recorded for the pull: a digest reference's own; else podman's
    /// `Digest`, or the `RepoDigests` entry of the pulled repository (Docker keeps the
    /// index's digest there for a multi-platform image).
    fn pulled_digest(&self, reference: &Reference) -> Option<Digest> {
        if let Some(d) = reference.digest() {
            return Some(d.clone());
        }
        if let Some(d) = self.digest.as_deref().and_then(|d| d.parse().ok()) {
            return Some(d);
        }
        self.repo_digests
            .iter()
            .flatten()
            .filter_map(|rd| rd.split_once('@'))
            .find(|(name, _)| {
                name.parse::<Reference>().is_ok_and(|r| {
                    r.registry() == reference.registry() && r.repository() == reference.repository()
                })
            })
            .and_then(|(_, d)| d.parse().ok())
    }
}

/// An engine's image, read by streaming its `save` archive.
struct EngineSource {
    cli: Cli,
    id: Digest,
    distinct_layers: usize,
    info: SourceInfo,
}

impl Source for EngineSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        let EngineSource {
            cli,
            id,
            distinct_layers,
            mut info,
        } = *self;
        reporter.flatten_started(distinct_layers);
        let id_arg = id.to_string();
        let args: &[&str] = match cli.engine {
            Engine::Podman => &["image", "save", "--format", "docker-archive", &id_arg],
            Engine::Docker => &["save", &id_arg],
        };
        let mut running = cli.spawn(args)?;
        let mut stdout = running.take_stdout();
        let cancel = AtomicBool::new(false);
        let reading = AtomicBool::new(true);
        let collected = std::thread::scope(|scope| {
            // Ctrl-C must stop even a read that blocks on a silent engine: kill it.
            scope.spawn(|| {
                while reading.load(Ordering::Relaxed) {
                    if reporter.cancelled() {
                        cancel.store(true, Ordering::Relaxed);
                        running.kill();
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            });
            let what = &info.reference;
            let result = stream::collect(
                &mut stdout,
                what,
                &opts.spool_dir,
                reporter.as_ref(),
                &cancel,
            );
            if let Err(StreamError::Archive(_)) = &result {
                // Let the engine finish, so its exit status and stderr tell why.
                let _ = std::io::copy(&mut stdout, &mut std::io::sink());
            }
            reading.store(false, Ordering::Relaxed);
            result
        });
        drop(stdout);
        if reporter.cancelled() || matches!(collected, Err(StreamError::Interrupted)) {
            drop(running); // kills and reaps
            return Err(FlattenError::Interrupted.into());
        }
        let command = running.command.clone();
        let exit = running.finish().map_err(|source| SourceError::Io {
            what: format!("waiting for `{command}`"),
            source,
        })?;
        if let Err(failure) = exit {
            return Err(cli.error(format!("`{command}` failed: {}", failure.summary())));
        }
        let collected = collected.map_err(|e| match e {
            StreamError::Archive(e) => cli.error(format!(
                "`{command}` wrote an archive wslbox cannot read: {e}"
            )),
            StreamError::Flatten(e) => e.into(),
            StreamError::Interrupted => FlattenError::Interrupted.into(),
        })?;
        let image = assemble::assemble(
            collected,
            &info.reference,
            &id,
            &opts.spool_dir,
            reporter.as_ref(),
        )?;
        info.config_digest = Some(image.config_digest);
        info.config = image.config;
        info.platforms = vec![image.platform.clone()];
        info.platform = Some(image.platform);
        info.layers = image.layers;
        Ok(Flattened {
            tree: image.tree,
            info,
        })
    }
}
