//! `wslbox rmi` and `wslbox prune`: forgetting images and freeing the blobs nothing needs,
//! under the cache's collection lock (they wait for running pulls and exports).

use anyhow::bail;
use wslbox_cache::Pruned;
use wslbox_store::{ImageStore, Query, Record};

use super::{Context, wsl};
use crate::cli::{PruneArgs, RmiArgs};
use crate::printer;

#[derive(serde::Serialize)]
struct Removed {
    digest: String,
    bytes: u64,
}

#[derive(serde::Serialize)]
struct RemovedFile {
    path: String,
    bytes: u64,
}

/// `rmi --json` and `prune --json` (keys documented in the README).
#[derive(serde::Serialize, Default)]
struct Report {
    dry_run: bool,
    forgotten: Vec<String>,
    blobs: Vec<Removed>,
    partials: Vec<Removed>,
    spool: Vec<RemovedFile>,
    records: Vec<RemovedFile>,
    bytes: u64,
}

impl Report {
    fn blobs(&mut self, removed: &[Pruned]) {
        for p in removed {
            let entry = Removed {
                digest: p.digest.to_string(),
                bytes: p.bytes,
            };
            if p.partial {
                self.partials.push(entry);
            } else {
                self.blobs.push(entry);
            }
        }
    }
}

fn wait_note() {
    printer::note("waiting for other wslbox processes to finish pulling, exporting or importing…");
}

/// The records `args` name; every argument must name at least one.
fn select(args: &RmiArgs, records: &[Record]) -> anyhow::Result<Vec<Record>> {
    let mut chosen: Vec<Record> = Vec::new();
    for arg in &args.images {
        // Records keep URLs without their secrets, so a URL is matched (and echoed) that way.
        let arg = &wslbox_registry::redact_url_text(arg);
        let found = Query::parse(arg).select(arg, records, false)?;
        if found.is_empty() {
            bail!("no image matches `{arg}`; `wslbox images` lists them (nothing was removed)");
        }
        for r in found {
            if !chosen.contains(r) {
                chosen.push(r.clone());
            }
        }
    }
    Ok(chosen)
}

pub fn rmi(ctx: &Context, args: RmiArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(&ctx.cache_dir)?;
    // Fail fast on a typo, before waiting for the lock; select again under it.
    select(&args, &store.list()?.records)?;
    let distros = wsl::distributions_by_image()?;
    let collecting = store.collect(wait_note)?;
    let chosen = select(&args, &store.list()?.records)?;
    if !args.force {
        for r in &chosen {
            let users = wsl::made_from(&distros, r);
            if !users.is_empty() {
                bail!(
                    "{} is the image the WSL distribution{} {} {} made from; `wslbox rmi --force` forgets it anyway (the distribution keeps working, only the cached copy is lost). Nothing was removed",
                    r.reference,
                    if users.len() == 1 { "" } else { "s" },
                    users.join(", "),
                    if users.len() == 1 { "was" } else { "were" }
                );
            }
        }
    }
    let summary = store.remove(&chosen, &collecting)?;
    let mut report = Report {
        forgotten: summary.forgotten.iter().map(label).collect(),
        bytes: summary.blobs.bytes(),
        ..Report::default()
    };
    report.blobs(&summary.blobs.removed);
    print(ctx, &report, args.json, "Untagged")
}

pub fn prune(ctx: &Context, args: PruneArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(&ctx.cache_dir)?;
    let collecting = store.collect(wait_note)?;
    let summary = store.prune(args.all, args.dry_run, &collecting)?;
    let mut report = Report {
        dry_run: args.dry_run,
        forgotten: summary.forgotten.iter().map(label).collect(),
        spool: summary
            .spool
            .iter()
            .map(|s| RemovedFile {
                path: s.path.display().to_string(),
                bytes: s.bytes,
            })
            .collect(),
        records: summary
            .stale_records
            .iter()
            .map(|(path, bytes)| RemovedFile {
                path: path.display().to_string(),
                bytes: *bytes,
            })
            .collect(),
        bytes: summary.bytes(),
        ..Report::default()
    };
    report.blobs(&summary.blobs.removed);
    print(ctx, &report, args.json, "Forgot")
}

fn label(r: &Record) -> String {
    match &r.platform {
        Some(p) => format!("{} ({p})", r.reference),
        None => r.reference.clone(),
    }
}

fn print(ctx: &Context, report: &Report, json: bool, forgot: &str) -> anyhow::Result<()> {
    if json {
        return printer::json(report);
    }
    let verb = if report.dry_run {
        "Would remove"
    } else {
        "Removed"
    };
    if !ctx.quiet {
        let forgot = if report.dry_run {
            "Would forget"
        } else {
            forgot
        };
        for f in &report.forgotten {
            printer::line(format!("{forgot}: {f}"));
        }
        for b in &report.blobs {
            printer::line(format!(
                "{verb} blob {} ({})",
                b.digest,
                printer::bytes(b.bytes)
            ));
        }
        for p in &report.partials {
            printer::line(format!(
                "{verb} interrupted download {} ({})",
                p.digest,
                printer::bytes(p.bytes)
            ));
        }
        for s in &report.spool {
            printer::line(format!(
                "{verb} spool file {} ({})",
                s.path,
                printer::bytes(s.bytes)
            ));
        }
        for r in &report.records {
            printer::line(format!("{verb} unreadable image record {}", r.path));
        }
    }
    let count =
        report.blobs.len() + report.partials.len() + report.spool.len() + report.records.len();
    let freed = if report.dry_run {
        "Would free"
    } else {
        "Freed"
    };
    printer::line(format!(
        "{freed} {} in {count} file{}",
        printer::bytes(report.bytes),
        if count == 1 { "" } else { "s" }
    ));
    Ok(())
}
