//! `push`: any source → the flattened, WSL-ready rootfs → one compressed layer uploaded while
//! it is written → config → manifest. The image is what `export` would write, as a
//! single-layer OCI image with the labels documented in the README.
//!
//! The tar goes from the export pipeline through a [`LayerEncoder`] (diff_id + gzip/zstd)
//! into the registry's [`BlobWriter`], which uploads it in chunks: no temp file, a few chunks
//! in memory. A second push of the same source with the same options reuses the layer
//! (`push_memo`).

use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use wslbox_image::Compression;
use wslbox_image::build::{self, BuiltLayer, ImageSettings};
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_registry::{Client, PushTarget};
use wslbox_rootfs::LayerCompression;
use wslbox_rootfs::customize::{DefaultUser, WslOptions};
use wslbox_rootfs::osrelease::OsRelease;
use wslbox_source::{Checksum, OpenOptions, SourceSpec, TarballLocation};

use crate::push_labels::{image_config, labels};
use crate::push_layer::{Built, build_layer};
use crate::push_memo::{Memo, PushRecord};
use crate::{PipelineError, Reporter};

/// Label prefix for what wslbox records about a pushed image.
pub const LABEL_PREFIX: &str = "io.wslbox.";

/// What to push and how.
pub struct PushRequest {
    pub target: Reference,
    pub compression: LayerCompression,
    /// Push the filesystem exactly as the source defines it, without the WSL customization.
    pub raw: bool,
    pub wsl: WslOptions,
    /// `--label KEY=VALUE`: added last, over wslbox's own.
    pub labels: BTreeMap<String, String>,
    /// The source as the user typed it.
    pub typed: String,
    pub catalog: Option<Arc<wslbox_catalog::Catalog>>,
    pub stream: bool,
    /// Bytes per upload `PATCH`.
    pub chunk_size: usize,
    /// Reuse the layer an earlier push built from the same source (`--no-cache` turns it off).
    pub reuse: bool,
    /// wslbox's version, for the `io.wslbox.version` label and the reuse key.
    pub tool_version: String,
    /// The build time in Unix seconds (`--timestamp`, `SOURCE_DATE_EPOCH`): the `created` time
    /// and the mtime of every file customization writes. With it, the same source and options
    /// build the same layer and image digests; without it, now.
    pub timestamp: Option<i64>,
}

/// How the layer got into the target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerTransfer {
    /// Built and uploaded by this push.
    Uploaded,
    /// The repository had it already.
    Existed,
    /// Mounted from another repository of the registry.
    Mounted,
}

/// What a push did; `--json` prints it (keys documented in the README).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PushSummary {
    /// The reference pushed to, canonical.
    pub reference: String,
    /// The pushed manifest's digest: `reference@digest` names exactly this image.
    pub digest: String,
    pub config_digest: String,
    pub layer: LayerSummary,
    pub platform: String,
    /// Where the rootfs came from.
    pub source: BuildFacts,
    pub labels: BTreeMap<String, String>,
    /// Layer bytes sent by this push (0 when the layer was reused).
    pub uploaded_bytes: u64,
    pub seconds: f64,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct LayerSummary {
    pub digest: String,
    pub size: u64,
    pub diff_id: String,
    pub media_type: String,
    /// Uncompressed tar size.
    pub tar_bytes: u64,
    pub transfer: LayerTransfer,
    /// The repository it was mounted from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mounted_from: Option<String>,
}

/// What building the layer learned; kept with the reuse record.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuildFacts {
    pub kind: String,
    pub reference: String,
    pub digest: Option<String>,
    pub os: Option<OsRelease>,
    pub default_user: Option<DefaultUser>,
}

/// Pushes `spec` to `request.target`.
pub fn push(
    spec: &SourceSpec,
    open: &OpenOptions,
    mut request: PushRequest,
    reporter: &Arc<dyn Reporter>,
) -> Result<PushSummary, PipelineError> {
    let started = Instant::now();
    let client = wslbox_source::client(open)?;
    let rt = wslbox_source::runtime()?;
    let target = rt.block_on(client.push_target(&request.target))?;
    let store = wslbox_cache::BlobStore::open(&open.cache_dir)?;

    let memo = match request.reuse {
        true => source_identity(spec, open, reporter)?
            .map(|identity| Memo::new(&open.cache_dir, &memo_parts(&identity, open, &request))),
        false => None,
    };
    if let Some(memo) = &memo
        && let Some((record, config, manifest)) = memo.load(&store)
        && let Ok(facts) = serde_json::from_value::<PushedFacts>(record.facts.clone())
        && let Some(transfer) = rt.block_on(reuse_layer(&client, &target, &record))?
    {
        let mount_from = record.mount_sources(target.registry(), target.repository());
        rt.block_on(put_config(
            &client,
            &target,
            &record.config_digest,
            config.clone(),
            &mount_from,
        ))?;
        let digest = rt.block_on(client.put_manifest(
            &target,
            wslbox_image::media_type::OCI_MANIFEST,
            Bytes::from(manifest),
        ))?;
        remember(memo, record.clone(), &target, reporter.as_ref());
        reporter.finish();
        let (transfer, mounted_from) = transfer;
        return Ok(summary(
            &target,
            &digest,
            &record.config_digest,
            &record.layer(),
            record.tar_bytes,
            (transfer, mounted_from),
            facts,
            config_labels(&config),
            0,
            started,
        ));
    }

    // Build and upload the layer while the export writes it; a rebuild after a lost upload
    // stamps the same time, so it makes the same bytes.
    let built_at = *request.timestamp.get_or_insert_with(wslbox_store::unix_now);
    let Built {
        exported,
        diff_id,
        tar_bytes,
        uploaded,
    } = build_layer(spec, open, &request, &client, &target, &rt, reporter)?;
    let layer = BuiltLayer {
        digest: uploaded.digest.clone(),
        size: uploaded.size,
        diff_id,
        compression: match request.compression {
            LayerCompression::Gzip => Compression::Gzip,
            LayerCompression::Zstd => Compression::Zstd,
        },
    };
    let facts = PushedFacts {
        build: BuildFacts {
            kind: exported.source.kind.as_str().to_owned(),
            reference: exported.reference.clone(),
            digest: exported.manifest_digest.clone(),
            os: exported.os.clone(),
            default_user: exported.default_user.clone(),
        },
        platform: exported
            .platform
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| open.wanted_platform()),
    };
    let created = rfc3339(built_at);
    let labels = labels(&facts, &exported.image_config, &request, &created);
    let settings = ImageSettings {
        platform: facts.platform.clone(),
        created,
        config: image_config(&exported.image_config, &facts.build, labels),
        created_by: format!(
            "wslbox {} push {}",
            request.tool_version,
            wslbox_registry::redact_url_text(&request.typed)
        ),
    };
    let config = build::image_config(&settings, &layer);
    let manifest = build::image_manifest(&config, &layer, &BTreeMap::new());
    store.put(&config.digest, &config.bytes)?;
    store.put(&manifest.digest, &manifest.bytes)?;
    rt.block_on(put_config(
        &client,
        &target,
        &config.digest,
        config.bytes.clone(),
        &[],
    ))?;
    let digest = rt.block_on(client.put_manifest(
        &target,
        manifest.media_type,
        Bytes::from(manifest.bytes.clone()),
    ))?;
    if let Some(memo) = &memo {
        let record = PushRecord {
            layer_digest: layer.digest.clone(),
            layer_size: layer.size,
            diff_id: layer.diff_id.clone(),
            zstd: layer.compression == Compression::Zstd,
            tar_bytes,
            config_digest: config.digest.clone(),
            manifest_digest: manifest.digest.clone(),
            repositories: Vec::new(),
            facts: serde_json::to_value(&facts).expect("facts serialize"),
        };
        remember(memo, record, &target, reporter.as_ref());
    }
    reporter.finish();
    let transfer = match uploaded.existed {
        true => LayerTransfer::Existed,
        false => LayerTransfer::Uploaded,
    };
    let sent = if uploaded.existed { 0 } else { uploaded.size };
    Ok(summary(
        &target,
        &digest,
        &config.digest,
        &layer,
        tar_bytes,
        (transfer, None),
        facts,
        config_labels(&config.bytes),
        sent,
        started,
    ))
}

/// The build facts and platform, as the reuse record keeps them.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct PushedFacts {
    pub build: BuildFacts,
    pub platform: Platform,
}

#[allow(clippy::too_many_arguments)]
fn summary(
    target: &PushTarget,
    digest: &Digest,
    config_digest: &Digest,
    layer: &BuiltLayer,
    tar_bytes: u64,
    (transfer, mounted_from): (LayerTransfer, Option<String>),
    facts: PushedFacts,
    labels: BTreeMap<String, String>,
    uploaded_bytes: u64,
    started: Instant,
) -> PushSummary {
    PushSummary {
        reference: target.reference.to_string(),
        digest: digest.to_string(),
        config_digest: config_digest.to_string(),
        layer: LayerSummary {
            digest: layer.digest.to_string(),
            size: layer.size,
            diff_id: layer.diff_id.to_string(),
            media_type: layer.media_type().to_owned(),
            tar_bytes,
            transfer,
            mounted_from,
        },
        platform: facts.platform.to_string(),
        labels,
        source: facts.build,
        uploaded_bytes,
        seconds: started.elapsed().as_secs_f64(),
    }
}

/// Records that the record's image is now in `target` too.
fn remember(memo: &Memo, mut record: PushRecord, target: &PushTarget, reporter: &dyn Reporter) {
    let repo = format!("{}/{}", target.registry(), target.repository());
    record.repositories.retain(|r| *r != repo);
    record.repositories.push(repo);
    if let Err(e) = memo.save(&record) {
        reporter.warn(&format!(
            "could not remember this push for the next one ({e}); it will upload the layer again"
        ));
    }
}

/// Gets the record's layer into `target` without its bytes: it is there, or it can be mounted.
async fn reuse_layer(
    client: &Client,
    target: &PushTarget,
    record: &PushRecord,
) -> Result<Option<(LayerTransfer, Option<String>)>, PipelineError> {
    if client.blob_exists(target, &record.layer_digest).await? {
        return Ok(Some((LayerTransfer::Existed, None)));
    }
    for from in record.mount_sources(target.registry(), target.repository()) {
        if client
            .mount_blob(target, &record.layer_digest, from)
            .await?
        {
            return Ok(Some((LayerTransfer::Mounted, Some(from.to_owned()))));
        }
    }
    Ok(None)
}

/// The config: already there, mounted from where an earlier push put it, or uploaded.
async fn put_config(
    client: &Client,
    target: &PushTarget,
    digest: &Digest,
    bytes: Vec<u8>,
    mount_from: &[&str],
) -> Result<(), PipelineError> {
    if client.blob_exists(target, digest).await? {
        return Ok(());
    }
    for from in mount_from {
        if client.mount_blob(target, digest, from).await? {
            return Ok(());
        }
    }
    client
        .upload_blob(target, digest, Bytes::from(bytes))
        .await?;
    Ok(())
}

/// What identifies the source's content before it is read: an image's manifest digest (or
/// engine image ID), a local file's sha256, a checksum the user gave. `None` when only
/// reading it tells (a download without `--sha256`, standard input).
fn source_identity(
    spec: &SourceSpec,
    open: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Option<String>, PipelineError> {
    if let Some(Checksum::Sha256(digest)) = &open.checksum {
        return Ok(Some(digest.to_string()));
    }
    let file = match spec {
        SourceSpec::Squashfs(path) | SourceSpec::Tarball(TarballLocation::File(path)) => path,
        SourceSpec::Tarball(_) => return Ok(None),
        _ => {
            let source_reporter: Arc<dyn wslbox_source::Reporter> = reporter.clone();
            let info = wslbox_source::describe(spec, open, &source_reporter)?;
            return Ok(info.and_then(|i| i.digest().map(ToString::to_string)));
        }
    };
    let io_err = |source| PipelineError::Io {
        what: format!("reading {}", file.display()),
        source,
    };
    let mut hasher = wslbox_reference::Hasher::new(wslbox_reference::Algorithm::Sha256);
    let mut f = fs_err::File::open(file).map_err(io_err)?;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = io::Read::read(&mut f, &mut buf).map_err(io_err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(Some(hasher.finish().to_string()))
}

/// Every input that shapes the layer and its config, for the reuse key. A password makes the
/// push unrepeatable (its hash is salted), so such pushes are never reused.
fn memo_parts(identity: &str, open: &OpenOptions, request: &PushRequest) -> Vec<String> {
    let password = if request.wsl.password.is_some() {
        // Unique per run: never matches a record.
        format!("{:?}", Instant::now())
    } else {
        String::new()
    };
    vec![
        "wslbox-push-v1".to_owned(),
        request.tool_version.clone(),
        identity.to_owned(),
        open.wanted_platform().to_string(),
        format!("{:?}", open.paths),
        format!("{:?}", request.compression),
        request.raw.to_string(),
        format!("{:?}", request.timestamp),
        format!("{:?}", request.wsl),
        serde_json::to_string(&request.labels).expect("labels serialize"),
        password,
    ]
}

/// `seconds` after the Unix epoch as RFC 3339 (UTC); times before it are the epoch.
fn rfc3339(seconds: i64) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(seconds.max(0) as u64);
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The labels of a config pushed earlier (what the registry now holds).
fn config_labels(config: &[u8]) -> BTreeMap<String, String> {
    wslbox_image::manifest::parse_config(config, "the pushed config")
        .map(|(summary, _)| summary.labels)
        .unwrap_or_default()
}
