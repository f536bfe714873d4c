//! `wslbox export`: image → flattened, WSL-ready rootfs → file or stdout.
//! Also the rootfs producer behind `wslbox import`.

use std::io::{Read, Write};
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use wslbox_image::ResolvedImage;
use wslbox_rootfs::customize::{self, ImageFacts, UserSpec, WslOptions};
use wslbox_rootfs::osrelease::OsRelease;
use wslbox_rootfs::{FlattenOptions, OutputDest, OutputFormat, Stats};

use super::{Context, source};
use crate::cli::{ExportArgs, FormatArg, ImageArgs, WslOptionArgs};
use crate::{printer, reporters::Progress};

/// What an export produced; `--json` prints it.
#[derive(Debug, serde::Serialize)]
pub struct ExportSummary {
    pub reference: String,
    pub manifest_digest: String,
    pub platform: String,
    pub output: String,
    pub format: OutputFormat,
    pub entries: u64,
    pub tar_bytes: u64,
    pub output_bytes: u64,
    pub seconds: f64,
    pub os: Option<OsRelease>,
    /// The user WSL logs in as when it is not root.
    pub default_user: Option<DefaultUser>,
    pub warnings: Vec<customize::Warning>,
    pub notes: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct DefaultUser {
    pub name: String,
    pub uid: u32,
}

pub fn run(ctx: &Context, args: ExportArgs) -> anyhow::Result<()> {
    let format = output_format(&args)?;
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout && matches!(format, OutputFormat::Wsl) {
        // A .wsl is a file `wsl --install --from-file` reads; a pipe makes no sense.
        bail!("`.wsl` output must go to a file; pass -o NAME.wsl");
    }
    let opts = wsl_options(&args.wsl, matches!(format, OutputFormat::Wsl), false, None)?;
    let dest = if to_stdout {
        OutputDest::Stdout
    } else {
        OutputDest::File(args.output.clone())
    };
    let label = if to_stdout {
        "standard output".to_string()
    } else {
        args.output.display().to_string()
    };
    let summary = export(ctx, &args.image, &opts, args.raw, dest, format, &label)?;
    if args.json {
        printer::json(&summary)?;
    } else {
        print_summary(ctx, &summary, to_stdout);
    }
    Ok(())
}

/// Streams the WSL-ready rootfs tar of `image` into `out` (for `wslbox import`).
#[cfg_attr(not(windows), allow(dead_code))]
pub fn write_rootfs(
    ctx: &Context,
    image: &ImageArgs,
    opts: &WslOptions,
    out: Box<dyn Write + Send>,
) -> anyhow::Result<ExportSummary> {
    export(
        ctx,
        image,
        opts,
        false,
        OutputDest::Writer(out),
        OutputFormat::Tar,
        "wsl.exe --import",
    )
}

fn export(
    ctx: &Context,
    image: &ImageArgs,
    opts: &WslOptions,
    raw: bool,
    dest: OutputDest,
    format: OutputFormat,
    label: &str,
) -> anyhow::Result<ExportSummary> {
    let started = Instant::now();
    let progress = std::sync::Arc::new(Progress::new(ctx.quiet));
    let source = source::open(ctx, image, &progress)?;
    let resolved = source.image.clone();

    progress.flatten_started(resolved.layers.len());
    let spool_dir = ctx.cache_dir.join("spool");
    fs_err::create_dir_all(&spool_dir)?;
    let flatten_opts = FlattenOptions::new(spool_dir);
    let mut tree = source.read_layers(|opener| {
        wslbox_rootfs::flatten(&resolved.layers, opener, &flatten_opts, &*progress)
            .with_context(|| format!("flattening {}", resolved.reference))
    })?;

    let exported_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let custom = if raw {
        customize::Customization {
            os: wslbox_rootfs::osrelease::detect_os(&tree),
            ..Default::default()
        }
    } else {
        let facts = ImageFacts {
            reference: &resolved.reference,
            manifest_digest: &resolved.manifest_digest,
            platform: &resolved.platform,
            config: &resolved.config,
            exported_at,
        };
        customize::customize(&tree, &facts, opts).context("making the root filesystem WSL-ready")?
    };
    for w in &custom.warnings {
        progress.println(&format!("warning: {}", w.message));
    }
    tree.apply_overlays(custom.overlays)?;

    progress.output_started(label);
    // From here an interruption must remove the partial output (or roll back an import).
    let _guard = crate::interrupt::Guard::new();
    let stats: Stats = wslbox_rootfs::write_output(&tree, dest, format, &*progress)?;
    progress.finish();
    Ok(summary(
        &resolved,
        label,
        format,
        stats,
        started,
        custom.os,
        custom.default_user,
        custom.warnings,
        custom.notes,
    ))
}

#[allow(clippy::too_many_arguments)]
fn summary(
    image: &ResolvedImage,
    output: &str,
    format: OutputFormat,
    stats: Stats,
    started: Instant,
    os: Option<OsRelease>,
    default_user: Option<(String, u32)>,
    warnings: Vec<customize::Warning>,
    notes: Vec<String>,
) -> ExportSummary {
    ExportSummary {
        reference: image.reference.clone(),
        manifest_digest: image.manifest_digest.to_string(),
        platform: image.platform.to_string(),
        output: output.to_string(),
        format,
        entries: stats.entries,
        tar_bytes: stats.tar_bytes,
        output_bytes: stats.output_bytes,
        seconds: started.elapsed().as_secs_f64(),
        os,
        default_user: default_user.map(|(name, uid)| DefaultUser { name, uid }),
        warnings,
        notes,
    }
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
        say(format!("Exported {} ({}, {})", s.reference, s.platform, os));
        say(format!("Digest: {}", s.manifest_digest));
        say(format!(
            "{}: {} entries, {} tar, {} written in {:.1}s",
            s.output,
            s.entries,
            printer::bytes(s.tar_bytes),
            printer::bytes(s.output_bytes),
            s.seconds
        ));
        if let Some(user) = &s.default_user {
            say(format!("Default user: {} (uid {})", user.name, user.uid));
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
