//! `wslbox export`: arguments → `wslbox_pipeline::export` → the summary, as text or JSON.
//! Also the rootfs producer behind `wslbox import`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use wslbox_pipeline::{ExportRequest, ExportSummary};
use wslbox_rootfs::customize::{UserSpec, WslOptions};
use wslbox_rootfs::{OutputDest, OutputFormat};

use super::{Context, catalog, source};
use crate::cli::{ExportArgs, FormatArg, ImageArgs, WslOptionArgs};
use crate::{printer, reporters::Progress};

pub fn run(ctx: &Context, args: ExportArgs) -> anyhow::Result<()> {
    let format = output_format(&args)?;
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && matches!(format, OutputFormat::Wsl) {
        // A .wsl is a file `wsl --install --from-file` reads; a pipe makes no sense.
        bail!("`.wsl` output must go to a file; pass -o NAME.wsl");
    }
    let wsl = wsl_options(&args.wsl, matches!(format, OutputFormat::Wsl), false, None)?;
    let (dest, label) = if to_stdout {
        (OutputDest::Stdout, "standard output".to_string())
    } else {
        (
            OutputDest::File(args.output.clone()),
            args.output.display().to_string(),
        )
    };
    let request = ExportRequest {
        wsl,
        raw: args.raw,
        dest,
        format,
        label,
        typed: args.image.image.clone(),
        catalog: Some(catalog::load(ctx)?),
        keep: None,
        stream: !args.image.source.no_stream,
        timestamp: args.timestamp,
    };
    let summary = export(ctx, &args.image, request)?;
    if args.json {
        printer::json(&summary)?;
    } else {
        print_summary(ctx, &summary, to_stdout);
    }
    Ok(())
}

/// Streams the WSL-ready rootfs tar of `image` into `out` (for `wslbox import`, and with
/// `keep` for `wslbox upgrade`).
#[cfg_attr(not(windows), allow(dead_code))]
pub fn write_rootfs(
    ctx: &Context,
    image: &ImageArgs,
    wsl: WslOptions,
    out: Box<dyn Write + Send>,
    keep: Option<wslbox_pipeline::KeepRequest>,
) -> anyhow::Result<ExportSummary> {
    let request = ExportRequest {
        wsl,
        raw: false,
        dest: OutputDest::Writer(out),
        format: OutputFormat::Tar,
        label: "wsl.exe --import".into(),
        typed: image.image.clone(),
        catalog: Some(catalog::load(ctx)?),
        keep,
        stream: !image.source.no_stream,
        timestamp: None,
    };
    export(ctx, image, request)
}

fn export(
    ctx: &Context,
    image: &ImageArgs,
    request: ExportRequest,
) -> anyhow::Result<ExportSummary> {
    let (spec, opts) = source::parse(ctx, image)?;
    let progress: Arc<dyn wslbox_pipeline::Reporter> = Arc::new(Progress::new(ctx.quiet));
    Ok(wslbox_pipeline::export(&spec, &opts, request, &progress)?)
}

fn print_summary(ctx: &Context, s: &ExportSummary, to_stdout: bool) {
    // With `-o -` stdout carries the tar: the summary goes to stderr.
    let say = |msg: String| {
        if to_stdout {
            printer::note(&msg)
        } else {
            printer::line(msg)
        }
    };
    if !ctx.quiet {
        let os =
            s.os.as_ref()
                .map_or("unknown OS", |os| os.pretty_name.as_str());
        let platform = s.platform.as_deref().unwrap_or("unknown platform");
        say(format!("Exported {} ({platform}, {os})", s.reference));
        if let Some(digest) = &s.manifest_digest {
            say(format!("Digest: {digest}"));
        }
        say(format!(
            "{}: {} entries, {} tar, {} written in {:.1}s",
            s.output,
            s.entries,
            printer::bytes(s.tar_bytes),
            printer::bytes(s.output_bytes),
            s.seconds
        ));
        if let Some(user) = &s.default_user {
            match user.uid {
                Some(uid) => say(format!("Default user: {} (uid {uid})", user.name)),
                None => say(format!("Default user: {}", user.name)),
            }
        }
        for note in &s.notes {
            printer::note(note);
        }
    } else if !to_stdout {
        printer::line(&s.output);
    }
}

fn output_format(args: &ExportArgs) -> anyhow::Result<OutputFormat> {
    if let Some(f) = args.format {
        return Ok(match f {
            FormatArg::Tar => OutputFormat::Tar,
            FormatArg::TarGz => OutputFormat::TarGz,
            FormatArg::TarXz => OutputFormat::TarXz,
            FormatArg::Wsl => OutputFormat::Wsl,
        });
    }
    if args.output.as_os_str() == "-" {
        return Ok(OutputFormat::Tar);
    }
    OutputFormat::from_path(&args.output).with_context(|| {
        format!(
            "cannot tell the output format from `{}`; name it .tar, .tar.gz, .tar.xz or .wsl, or pass --format",
            args.output.display()
        )
    })
}

/// Turns the shared WSL flags into library options (reads the password from stdin if asked).
pub fn wsl_options(
    args: &WslOptionArgs,
    wsl_format: bool,
    import: bool,
    distro_name: Option<String>,
) -> anyhow::Result<WslOptions> {
    let user = args
        .user
        .as_deref()
        .map(str::parse::<UserSpec>)
        .transpose()?;
    let password = if args.password_stdin {
        Some(read_password_stdin()?)
    } else {
        None
    };
    let read_small = |path: &Path, what: &str| -> anyhow::Result<Vec<u8>> {
        fs_err::read(path).with_context(|| format!("reading the {what}"))
    };
    Ok(WslOptions {
        user,
        sudo_nopasswd: args.sudo_nopasswd,
        password,
        systemd: args.systemd,
        hostname: args.hostname.clone(),
        wsl_format,
        import,
        distro_name,
        icon: args
            .icon
            .as_deref()
            .map(|p| read_small(p, "icon"))
            .transpose()?,
        profile_template: args
            .terminal_profile
            .as_deref()
            .map(|p| read_small(p, "terminal profile template"))
            .transpose()?,
        force: args.force,
        admin_group: None,
        previous: None,
        default_uid: None,
    })
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut s)
        .context("reading the password from stdin")?;
    let password = s
        .strip_suffix('\n')
        .map(|p| p.strip_suffix('\r').unwrap_or(p))
        .unwrap_or(&s)
        .to_string();
    if password.is_empty() {
        bail!(
            "--password-stdin was given but stdin is empty; pipe the password in, e.g. `echo $PW | wslbox … --password-stdin`"
        );
    }
    Ok(password)
}
