//! `wslbox images`: the image store as a table or the documented JSON, optionally with each
//! registry's answer to "did the tag move?" (`--check`).

use std::time::{Duration, UNIX_EPOCH};

use wslbox_pipeline::{Check, CheckStatus};
use wslbox_store::{ImageStore, OsFacts, Query, Record, StoredWarning};

use super::{Context, wsl};
use crate::cli::ImagesArgs;
use crate::printer;
use crate::table::{render, short_digest};

/// One `images --json` element. Keys are stable and documented in the README.
#[derive(Debug, serde::Serialize)]
struct ImageJson<'a> {
    kind: &'a str,
    reference: &'a str,
    typed: &'a str,
    repository: Option<&'a str>,
    tag: Option<&'a str>,
    digest: Option<String>,
    index_digest: Option<String>,
    manifest_digest: Option<String>,
    config_digest: Option<String>,
    sha256: Option<String>,
    platform: Option<&'a str>,
    compressed_size: Option<u64>,
    rootfs_size: Option<u64>,
    pulled: String,
    used: String,
    os: Option<&'a OsFacts>,
    warnings: &'a [StoredWarning],
    distributions: Vec<&'a str>,
    check: Option<&'a Check>,
}

pub fn run(ctx: &Context, args: ImagesArgs) -> anyhow::Result<()> {
    let store = ImageStore::open(&ctx.cache_dir)?;
    let listing = store.list()?;
    for skipped in &listing.skipped {
        printer::warn(&format!(
            "ignoring the unreadable image record {} ({}); it is rebuilt the next time that image is pulled or exported, and `wslbox prune` removes it",
            skipped.path.display(),
            skipped.reason
        ));
    }
    let records: Vec<&Record> = match &args.filter {
        Some(filter) => {
            // Records keep URLs without their secrets, so a URL is matched that way.
            let filter = &wslbox_registry::redact_url_text(filter);
            Query::parse(filter).select(filter, &listing.records, true)?
        }
        None => listing.records.iter().collect(),
    };
    let distros = wsl::distributions_by_image()?;
    let checks = if args.check {
        wslbox_pipeline::check(&records, &ctx.open_options()?)?
    } else {
        Vec::new()
    };

    if args.json {
        let items: Vec<ImageJson> = records
            .iter()
            .enumerate()
            .map(|(i, r)| ImageJson {
                kind: &r.kind,
                reference: &r.reference,
                typed: &r.typed,
                repository: r.repository.as_deref(),
                tag: r.tag.as_deref(),
                digest: r.digest().map(ToString::to_string),
                index_digest: r.index_digest.as_ref().map(ToString::to_string),
                manifest_digest: r.manifest_digest.as_ref().map(ToString::to_string),
                config_digest: r.config_digest.as_ref().map(ToString::to_string),
                sha256: r.sha256.as_ref().map(ToString::to_string),
                platform: r.platform.as_deref(),
                compressed_size: r.compressed_size,
                rootfs_size: r.rootfs_size,
                pulled: rfc3339(r.pulled_at),
                used: rfc3339(r.used_at),
                os: r.os.as_ref(),
                warnings: &r.warnings,
                distributions: wsl::made_from(&distros, r),
                check: checks.get(i),
            })
            .collect();
        return printer::json(&items);
    }
    if ctx.quiet {
        records.iter().for_each(|r| printer::line(&r.reference));
        return Ok(());
    }
    if records.is_empty() {
        printer::note(match args.filter {
            Some(_) => "No image matches; `wslbox images` lists them all.",
            None => "No images yet; `wslbox pull IMAGE`, `export` and `import` record them here.",
        });
        return Ok(());
    }
    let mut header = vec![
        "REPOSITORY",
        "TAG",
        "DIGEST",
        "OS",
        "RELEASE",
        "SIZE",
        "PULLED",
    ];
    if args.check {
        header.push("STATUS");
    }
    if cfg!(windows) {
        header.push("DISTRIBUTIONS");
    }
    let now = wslbox_store::unix_now();
    let rows: Vec<Vec<String>> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let (repository, tag) = match &r.repository {
                Some(repo) => (repo.clone(), r.tag.clone().unwrap_or_else(none)),
                None => (r.reference.clone(), none()),
            };
            let digest = r.digest().map(ToString::to_string).unwrap_or_default();
            let mut row = vec![
                repository,
                tag,
                short_digest(&digest)
                    .trim_start_matches("sha256:")
                    .to_owned(),
                r.os.as_ref().map_or_else(dash, |os| os.name.clone()),
                r.os.as_ref()
                    .and_then(|os| os.version_id.clone())
                    .unwrap_or_else(dash),
                r.compressed_size.map_or_else(dash, printer::bytes),
                ago(now - r.pulled_at),
            ];
            if let Some(check) = checks.get(i) {
                row.push(status(check));
            }
            if cfg!(windows) {
                let names = wsl::made_from(&distros, r);
                row.push(if names.is_empty() {
                    dash()
                } else {
                    names.join(", ")
                });
            }
            row
        })
        .collect();
    print!("{}", render(&header, &rows));
    Ok(())
}

fn status(check: &Check) -> String {
    match (check.status, check.reason) {
        (CheckStatus::Current, _) => "current".into(),
        (CheckStatus::Outdated, _) => "outdated".into(),
        (CheckStatus::Unknown, Some(reason)) => format!("unknown ({reason})"),
        (CheckStatus::Unknown, None) => "unknown".into(),
    }
}

fn none() -> String {
    "<none>".into()
}

fn dash() -> String {
    "-".into()
}

fn rfc3339(unix: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64);
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `5 minutes ago`, as docker prints times.
fn ago(seconds: i64) -> String {
    let s = seconds.max(0);
    let (n, unit) = match s {
        0..60 => return "just now".into(),
        60..3600 => (s / 60, "minute"),
        3600..86_400 => (s / 3600, "hour"),
        86_400..2_592_000 => (s / 86_400, "day"),
        2_592_000..31_536_000 => (s / 2_592_000, "month"),
        _ => (s / 31_536_000, "year"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_read_like_docker() {
        assert_eq!(super::ago(5), "just now");
        assert_eq!(super::ago(60), "1 minute ago");
        assert_eq!(super::ago(7200), "2 hours ago");
        assert_eq!(super::ago(86_400 * 3), "3 days ago");
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
