//! `wslbox commit NAME REF`: the distribution, streamed out of `wsl --export NAME -`, pushed by
//! the pipeline `wslbox push` uses. Its `DefaultUid` becomes the image's default user, and the
//! image it was made from is named by the OCI `base` labels. The manifest goes up only once
//! wsl.exe has said the export is whole ([`host::CheckedExport`]).
#![cfg(windows)]

use wslbox_rootfs::customize::WslOptions;
use wslbox_source::{InputStream, SourceSpec, TarballLocation};
use wslbox_wsl::host::{self, WslExe};

use crate::cli::CommitArgs;
use crate::commands::{Context, push};

pub fn run(ctx: &Context, wsl: &WslExe, args: &CommitArgs) -> anyhow::Result<()> {
    let distro = host::Lxss::open()?.get(&args.name)?;
    let typed = format!("wsl:{}", distro.name);
    let mut options = args.push.clone();
    let base = [
        ("org.opencontainers.image.base.name", distro.image.clone()),
        (
            "org.opencontainers.image.base.digest",
            distro.image_digest.clone(),
        ),
    ];
    // Before the user's own `--label`s, which win.
    options.labels.splice(
        0..0,
        base.into_iter()
            .filter_map(|(key, value)| Some((key.to_owned(), value?))),
    );
    let wsl_opts = WslOptions {
        default_uid: distro.default_uid,
        ..WslOptions::default()
    };
    let export = wsl.export_checked(&distro.name)?;
    let mut open = ctx.open_options()?;
    open.stdin = Some(InputStream::new(typed.clone(), Box::new(export)));
    let summary = push::push(
        ctx,
        &SourceSpec::Tarball(TarballLocation::Stdin),
        &open,
        &typed,
        &args.target,
        &options,
        args.raw,
        wsl_opts,
    )?;
    push::report(ctx, &args.push, &summary)
}
