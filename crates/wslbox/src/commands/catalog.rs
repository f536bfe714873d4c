//! `wslbox catalog`: the built-in catalog, a team's `--catalog FILE|URL` and the user's own
//! `catalog.toml`, merged in that order, as a table or `--json`. [`load`] gives export and
//! import the same merged catalog.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use wslbox_catalog::{Catalog, Entry};
use wslbox_registry::{Client, ClientOptions};

use super::Context;
use crate::cli::CatalogArgs;
use crate::{printer, table};

/// A catalog larger than this is not one.
const MAX_BYTES: u64 = 4 << 20;

/// How much of the first caveat the table shows.
const CAVEAT_WIDTH: usize = 60;

pub fn run(ctx: &Context, args: CatalogArgs) -> anyhow::Result<()> {
    let catalog = load(ctx)?;
    if args.json {
        return printer::json(&catalog.entries());
    }
    let rows: Vec<Vec<String>> = catalog.entries().iter().map(row).collect();
    let header = [
        "NAME", "IMAGE", "FAMILY", "PKG", "ADMIN", "SYSTEMD", "CAVEATS",
    ];
    printer::line(table::render(&header, &rows).trim_end());
    if !ctx.quiet {
        printer::note("`wslbox catalog --json` shows every caveat and the docs each entry cites");
    }
    Ok(())
}

/// The built-in catalog, then `--catalog`, then the user's file (a missing one is fine).
pub fn load(ctx: &Context) -> anyhow::Result<Arc<Catalog>> {
    let mut catalog = Catalog::builtin();
    if let Some(source) = &ctx.catalog {
        catalog.merge(read_team_catalog(ctx, source)?);
    }
    // No config folder (no HOME / APPDATA): there is no user file to read.
    if let Ok(dir) = wslbox_dirs::config()
        && let Some(entries) = Catalog::read_file(&dir.join(wslbox_catalog::USER_FILE))?
    {
        catalog.merge(entries);
    }
    Ok(Arc::new(catalog))
}

fn read_team_catalog(ctx: &Context, source: &str) -> anyhow::Result<Vec<Entry>> {
    if !(source.starts_with("http://") || source.starts_with("https://")) {
        return Catalog::read_file(Path::new(source))?.with_context(|| {
            format!("the catalog `{source}` given with --catalog does not exist; check the path")
        });
    }
    // Messages and the entries' origin name the URL without its user info or signed query.
    let shown = wslbox_registry::redact_url_text(source);
    let url = url::Url::parse(source)
        .with_context(|| format!("--catalog `{shown}` is not a valid URL"))?;
    if url.scheme() == "http" {
        let host = url.host_str().unwrap_or_default();
        let authority = match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        };
        if !wslbox_registry::is_insecure_registry(&authority, &ctx.insecure_registries) {
            bail!(
                "--catalog {shown}: refusing plain HTTP, which anyone on the way could rewrite; use https:// or pass --insecure-registry {authority}"
            );
        }
    }
    let client = Client::new(ClientOptions {
        insecure_registries: ctx.insecure_registries.clone(),
        ..ClientOptions::default()
    })?;
    let fetch = || -> anyhow::Result<Vec<u8>> {
        let mut bytes = Vec::new();
        client
            .open_url(&url)?
            .take(MAX_BYTES + 1)
            .read_to_end(&mut bytes)?;
        Ok(bytes)
    };
    let bytes = fetch().with_context(|| format!("fetching the catalog {shown}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        bail!("the catalog {shown} is larger than {MAX_BYTES} bytes; is it the right URL?");
    }
    let text = String::from_utf8(bytes)
        .with_context(|| format!("the catalog {shown} is not UTF-8 text; is it the right URL?"))?;
    Ok(Catalog::parse(&text, &shown)?)
}

fn row(e: &Entry) -> Vec<String> {
    let caveats = match e.caveats.as_slice() {
        [] => "-".to_owned(),
        [first, rest @ ..] => {
            let mut text: String = first.chars().take(CAVEAT_WIDTH).collect();
            if first.chars().count() > CAVEAT_WIDTH {
                text.push('…');
            }
            if !rest.is_empty() {
                text.push_str(&format!(" (+{})", rest.len()));
            }
            text
        }
    };
    vec![
        e.name.clone(),
        e.image.clone(),
        e.family.clone(),
        e.package_manager.clone(),
        e.admin_group.clone(),
        if e.systemd { "yes" } else { "no" }.to_owned(),
        caveats,
    ]
}
