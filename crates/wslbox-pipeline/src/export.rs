//! `export`: source → flattened, WSL-ready rootfs → file, stdout or a writer (`wsl --import`).

use std::sync::Arc;
use std::time::Instant;

use wslbox_rootfs::customize::{self, ImageFacts, WslOptions, suitability};
use wslbox_rootfs::osrelease::{OsRelease, detect_os};
use wslbox_rootfs::{Output, OutputDest, OutputFormat};
use wslbox_source::{Engine, OpenOptions, SourceInfo, SourceKind, SourceSpec};

use crate::{PipelineError, Reporter};

/// What to write and how.
pub struct ExportRequest {
    pub wsl: WslOptions,
    /// Skip the WSL customization: the filesystem exactly as the source defines it.
    pub raw: bool,
    pub dest: OutputDest,
    pub format: OutputFormat,
    /// The destination as the user should read it (`alpine.tar`, `standard output`).
    pub label: String,
    /// The source as the user typed it (the image store keeps it).
    pub typed: String,
    /// What wslbox knows about the image's OS (admin group, systemd, caveats); see
    /// `crate::catalog`.
    pub catalog: Option<Arc<wslbox_catalog::Catalog>>,
    /// `wslbox upgrade`: paths and the default user to carry over from the old distribution.
    pub keep: Option<KeepRequest>,
    /// Start writing the output while the biggest layer is still being read (the default;
    /// `--no-stream` turns it off): see [`wslbox_rootfs::flatten_into`].
    pub stream: bool,
    /// Unix seconds stamped on what customization writes (mtimes, the provenance file); now
    /// when `None`. `push` fixes it so that the same source builds the same layer.
    pub timestamp: Option<i64>,
}

/// What an upgrade keeps, and the old distribution's export to read it from.
pub struct KeepRequest {
    /// `wsl --export NAME - --format tar`, read once, to the end.
    pub export: Box<dyn std::io::Read + Send>,
    pub paths: wslbox_rootfs::KeepPaths,
    /// The old distribution's `DefaultUid`.
    pub default_uid: Option<u32>,
}

/// What an upgrade kept (`found`) and looked for in vain (`missing`), with the bytes kept.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeptSummary {
    pub found: Vec<String>,
    pub missing: Vec<String>,
    pub bytes: u64,
}

/// Where the rootfs came from, as `export --json` and the WSL registry record it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SourceSummary {
    pub kind: SourceKind,
    /// The canonical reference, path or URL.
    pub reference: String,
    /// The platform manifest's digest (images).
    pub manifest_digest: Option<String>,
    /// sha256 of the file or download (tarballs, SquashFS).
    pub sha256: Option<String>,
    /// Whether `sha256` matched a checksum the user gave.
    pub checksum_verified: bool,
    pub via: Option<Engine>,
}

impl SourceSummary {
    pub(crate) fn new(info: &SourceInfo) -> Self {
        Self {
            kind: info.kind,
            reference: info.reference.clone(),
            manifest_digest: info.manifest_digest.as_ref().map(ToString::to_string),
            sha256: info.sha256.as_ref().map(ToString::to_string),
            checksum_verified: info.checksum_verified,
            via: info.via,
        }
    }
}

/// What an export produced; `--json` prints it (keys documented in the README).
#[derive(Debug, serde::Serialize)]
pub struct ExportSummary {
    pub reference: String,
    /// The content's identity: the manifest digest for images, the sha256 for files.
    pub manifest_digest: Option<String>,
    pub platform: Option<String>,
    /// The registry mirror URL that served the manifest; `null` when the registry did.
    pub mirror: Option<String>,
    pub source: SourceSummary,
    pub output: String,
    pub format: OutputFormat,
    pub entries: u64,
    pub tar_bytes: u64,
    pub output_bytes: u64,
    pub seconds: f64,
    pub os: Option<OsRelease>,
    /// The user WSL logs in as when it is not root.
    pub default_user: Option<customize::DefaultUser>,
    pub warnings: Vec<customize::Warning>,
    pub notes: Vec<String>,
    /// Set by `wslbox upgrade` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept: Option<KeptSummary>,
    /// The source image's Env, User, WorkingDir and labels (what `wslbox push` carries over).
    #[serde(skip)]
    pub image_config: wslbox_image::ImageConfigSummary,
}

/// Opens `spec`, flattens it, makes it WSL-ready (unless `raw`) and writes it.
pub fn export(
    spec: &SourceSpec,
    open: &OpenOptions,
    mut request: ExportRequest,
    reporter: &Arc<dyn Reporter>,
) -> Result<ExportSummary, PipelineError> {
    let started = Instant::now();
    // An upgrade reads the old distribution first: WSL holds it in its exporting state only as
    // long as the export takes, not for the whole download of the new image.
    let mut hold: Vec<Vec<u8>> = Vec::new();
    let old = match request.keep.take() {
        Some(keep) => {
            hold.extend_from_slice(keep.paths.paths());
            Some(read_old(open, keep, reporter.as_ref())?)
        }
        None => None,
    };
    // Opened first, so that the biggest layer streams into it while it arrives.
    let mut output = match request.stream {
        true => {
            let output = Output::open(request.dest, request.format)?;
            reporter.output_started(&request.label);
            Ok(output)
        }
        false => Err(request.dest),
    };
    let leased = crate::flatten(spec, open, reporter, output.as_mut().ok(), &hold)?;
    let (mut tree, info) = (leased.flattened.tree, leased.flattened.info);
    // What the image itself is like, before customization changes it; for the store.
    let image_warnings = suitability(&tree, &info.config);
    let rootfs_size = tree.content_bytes();
    let kept = match old {
        Some(old) => Some(keep_old(&mut tree, old, &mut request.wsl)?),
        None => None,
    };

    let custom = if request.raw {
        customize::Customization {
            os: detect_os(&tree),
            ..Default::default()
        }
    } else {
        let exported_at = request.timestamp.unwrap_or_else(wslbox_store::unix_now);
        let digest = info
            .digest()
            .cloned()
            .expect("a flattened source knows its digest or checksum");
        let platform = info
            .platform
            .clone()
            .unwrap_or_else(|| wslbox_reference::Platform::new("linux", "unknown", None));
        let facts = ImageFacts {
            reference: &info.reference,
            manifest_digest: &digest,
            platform: &platform,
            config: &info.config,
            exported_at,
        };
        let advice = crate::catalog::advise(request.catalog.as_deref(), &tree, &mut request.wsl);
        let mut custom = customize::customize(&tree, &facts, &request.wsl)?;
        advice.apply(&mut custom);
        custom
    };
    for w in &custom.warnings {
        reporter.warn(&w.message);
    }
    tree.apply_overlays(custom.overlays)?;

    let stats = match output {
        Ok(output) => output.finish(&tree, reporter.as_ref())?,
        Err(dest) => {
            reporter.output_started(&request.label);
            wslbox_rootfs::write_output(&tree, dest, request.format, reporter.as_ref())?
        }
    };
    let learned = crate::record::Learned {
        os: custom.os.as_ref(),
        rootfs_size,
        warnings: &image_warnings,
    };
    crate::record::save(
        open,
        &request.typed,
        &info,
        Some(&learned),
        reporter.as_ref(),
    );
    reporter.finish();
    Ok(ExportSummary {
        reference: info.reference.clone(),
        manifest_digest: info.digest().map(ToString::to_string),
        platform: info.platform.as_ref().map(ToString::to_string),
        mirror: info.mirror.clone(),
        source: SourceSummary::new(&info),
        output: request.label,
        format: request.format,
        entries: stats.entries,
        tar_bytes: stats.tar_bytes,
        output_bytes: stats.output_bytes,
        seconds: started.elapsed().as_secs_f64(),
        os: custom.os,
        default_user: custom.default_user,
        warnings: custom.warnings,
        notes: custom.notes,
        kept,
        image_config: info.config.clone(),
    })
}

/// What an upgrade read out of the old distribution, with the cache lease that keeps `prune`
/// away from its spool file.
struct OldDistribution {
    kept: wslbox_rootfs::Kept,
    default_uid: Option<u32>,
    _lease: wslbox_cache::GcLock,
}

fn read_old(
    open: &OpenOptions,
    keep: KeepRequest,
    reporter: &dyn Reporter,
) -> Result<OldDistribution, PipelineError> {
    let blobs = wslbox_cache::BlobStore::open(&open.cache_dir)?;
    let lease = blobs.lease()?;
    let spool_dir = blobs.spool_dir()?;
    reporter.keeping_started(&keep.paths.display());
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let progress = |bytes| reporter.keeping_progress(bytes);
    let kept = wslbox_rootfs::read_kept(keep.export, &keep.paths, &spool_dir, &progress, &cancel);
    reporter.keeping_finished();
    Ok(OldDistribution {
        kept: kept?,
        default_uid: keep.default_uid,
        _lease: lease,
    })
}

/// Puts the kept paths into `tree`; the old accounts go to customization.
fn keep_old(
    tree: &mut wslbox_rootfs::FlatTree,
    old: OldDistribution,
    wsl: &mut WslOptions,
) -> Result<KeptSummary, PipelineError> {
    let summary = KeptSummary {
        found: old.kept.found.clone(),
        missing: old.kept.missing.clone(),
        bytes: old.kept.bytes,
    };
    let mut accounts = tree.keep(old.kept)?;
    accounts.default_uid = old.default_uid;
    wsl.previous = Some(accounts);
    Ok(summary)
}
