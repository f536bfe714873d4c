//! `wslbox upgrade NAME`: which image, whether it changed, the plan, the confirmation; then
//! `wslbox_wsl::host::upgrade` with the export pipeline as the producer, which reads the kept
//! paths out of the old distribution while it builds the new one.
#![cfg(windows)]

use std::path::Path;
use std::sync::Arc;

use anyhow::bail;
use wslbox_pipeline::KeepRequest;
use wslbox_rootfs::KeepPaths;
use wslbox_rootfs::customize::WslOptions;
use wslbox_wsl::Distribution;
use wslbox_wsl::host::{self, Produced, Report, UpgradeOptions, WslExe};

use super::windows::confirm;
use crate::cli::{ImageArgs, UpgradeArgs};
use crate::commands::{Context, export, source};
use crate::{printer, reporters::Progress};

/// What `--dry-run` prints (and `--dry-run --json` as an object with these keys).
#[derive(Debug, serde::Serialize)]
struct Plan {
    name: String,
    /// The image the distribution was made from (`WslboxImage`) and its digest then.
    from_image: Option<String>,
    from_digest: Option<String>,
    /// The source to rebuild from, and its digest now (`null` for tarballs and SquashFS
    /// images, which are only known once read).
    to: String,
    to_digest: Option<String>,
    /// Compressed size of the new image, where its metadata says.
    to_size: Option<u64>,
    keep: Vec<String>,
    /// Size of the old distribution's disk file.
    disk_bytes: Option<u64>,
    backup: Option<String>,
    current: bool,
}

pub fn run(ctx: &Context, wsl: &WslExe, args: &UpgradeArgs) -> anyhow::Result<Option<Report>> {
    let old = host::Lxss::open()?.get(&args.name)?;
    let Some(to) = args.to.clone().or_else(|| old.image.clone()) else {
        bail!(
            "`{}` was not made by wslbox (it has no WslboxImage), so there is no image to upgrade it from; name one with --to IMAGE",
            old.name
        );
    };
    let keep = KeepPaths::new(&args.keep)?;
    let image = ImageArgs {
        image: to.clone(),
        source: args.source.clone(),
    };
    let plan = plan(ctx, &old, &image, &keep, args)?;
    if args.dry_run {
        print_plan(&plan, args.json)?;
        return Ok(None);
    }
    if plan.current && !args.force {
        let digest = plan.to_digest.as_deref().unwrap_or_default();
        printer::line(format!(
            "`{}` is already current: {to} is still {digest}; pass --force to rebuild it anyway",
            old.name
        ));
        return Ok(None);
    }
    confirm(
        args.yes,
        &format!(
            "Rebuild `{}` from {to}, keeping {}? Everything else in it is replaced.",
            old.name,
            keep.display().join(", ")
        ),
        &format!("upgrade `{}`", old.name),
        &format!("`{}` is unchanged", old.name),
    )?;

    let wsl_opts = WslOptions {
        import: true,
        distro_name: Some(old.name.clone()),
        ..WslOptions::default()
    };
    let opts = UpgradeOptions {
        backup: args.backup.clone(),
    };
    let default_uid = old.default_uid;
    // Ctrl-C before the swap unwinds through the transaction, which unregisters the new one.
    let _guard = crate::interrupt::Guard::new();
    let mut kept = None;
    let mut report = host::upgrade(wsl, &old.name, &opts, |old_export, out| {
        let request = KeepRequest {
            export: old_export,
            paths: keep,
            default_uid,
        };
        let summary = export::write_rootfs(ctx, &image, wsl_opts, out, Some(request))?;
        kept = summary.kept.clone();
        Ok(Produced {
            image: Some(summary.reference),
            digest: summary.manifest_digest,
            default_user: summary.default_user,
        })
    })?;
    if let Some(kept) = kept {
        report.changes.insert(
            1,
            format!(
                "kept {} ({})",
                kept.found.join(", "),
                printer::bytes(kept.bytes)
            ),
        );
        for path in kept.missing {
            report.warnings.push(format!(
                "--keep {path}: the old distribution has no such path"
            ));
        }
    }
    Ok(Some(report))
}

fn plan(
    ctx: &Context,
    old: &Distribution,
    image: &ImageArgs,
    keep: &KeepPaths,
    args: &UpgradeArgs,
) -> anyhow::Result<Plan> {
    let (spec, opts) = source::parse(ctx, image)?;
    let reporter: Arc<dyn wslbox_source::Reporter> = Arc::new(Progress::new(ctx.quiet));
    let now = wslbox_source::describe(&spec, &opts, &reporter)?;
    let to_digest = now
        .as_ref()
        .and_then(|i| i.digest().map(ToString::to_string));
    let disk_bytes = old
        .vhd
        .as_deref()
        .and_then(|vhd| fs_err::metadata(Path::new(&old.base_path).join(vhd)).ok())
        .map(|m| m.len());
    Ok(Plan {
        name: old.name.clone(),
        from_image: old.image.clone(),
        from_digest: old.image_digest.clone(),
        current: to_digest.is_some() && to_digest == old.image_digest,
        to: image.image.clone(),
        to_digest,
        to_size: now
            .as_ref()
            .and_then(wslbox_source::SourceInfo::compressed_size),
        keep: keep.display(),
        disk_bytes,
        backup: args.backup.as_ref().map(|b| b.display().to_string()),
    })
}

fn print_plan(plan: &Plan, json: bool) -> anyhow::Result<()> {
    if json {
        return printer::json(plan);
    }
    let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".into());
    printer::line(format!(
        "Upgrade plan for `{}` (nothing was changed):",
        plan.name
    ));
    printer::line(format!(
        "  from: {} ({})",
        or_unknown(&plan.from_image),
        or_unknown(&plan.from_digest)
    ));
    let size = plan
        .to_size
        .map(|s| format!(", {} to download at most", printer::bytes(s)))
        .unwrap_or_default();
    let digest = plan
        .to_digest
        .clone()
        .unwrap_or_else(|| "known once read".into());
    printer::line(format!("  to:   {} ({digest}{size})", plan.to));
    if plan.current {
        printer::line("  the image is unchanged: upgrade stops unless --force");
    }
    printer::line(format!("  keep: {}", plan.keep.join(", ")));
    printer::line("        and the default user's account (uid, gid, password, groups)");
    if let Some(bytes) = plan.disk_bytes {
        printer::line(format!("  old disk: {}", printer::bytes(bytes)));
    }
    if let Some(backup) = &plan.backup {
        printer::line(format!("  backup: {backup}"));
    }
    Ok(())
}
