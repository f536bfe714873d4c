//! Arguments of the Windows verbs (`import`, `list`, `rename`, …).

use std::path::PathBuf;

use clap::Args;

use super::{CommitArgs, ImageArgs, SourceArgs, WslOptionArgs};

#[derive(Debug, clap::Subcommand)]
pub enum WslCommand {
    /// Pull an image and register it as a WSL distribution (Windows)
    Import(Box<ImportArgs>),
    /// Run setup scripts as root inside a WSL distribution and record them (Windows)
    Configure(ConfigureArgs),
    /// List WSL distributions with state, version, location and source image (Windows)
    List(ListArgs),
    /// Rename a WSL distribution, its Terminal profile and Start Menu shortcut (Windows)
    Rename(RenameArgs),
    /// Move a WSL distribution's disk to another folder (Windows)
    Move(MoveArgs),
    /// Copy a WSL distribution under a new name (Windows)
    Clone(CloneArgs),
    /// Export a WSL distribution to .tar, .tar.gz, .tar.xz or .vhdx (Windows)
    Backup(BackupArgs),
    /// Unregister a WSL distribution and delete its disk (Windows)
    Remove(RemoveArgs),
    /// Set the user a WSL distribution logs in as (Windows)
    SetUser(SetUserArgs),
    /// Make a WSL distribution the default for `wsl` (Windows)
    SetDefault(SetDefaultArgs),
    /// Rebuild a WSL distribution from a newer image, keeping /home, /root, the default user
    /// and /etc/wsl.conf (Windows)
    Upgrade(Box<UpgradeArgs>),
    /// Push a WSL distribution to a registry as a single-layer image, with its default user
    /// (Windows)
    Commit(Box<CommitArgs>),
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    pub image: ImageArgs,
    /// Name of the new distribution (letters, digits, `.`, `_`, `-`; at most 64)
    #[arg(long, value_name = "NAME")]
    pub name: String,
    /// Install folder [default: %LOCALAPPDATA%\wslbox\distros\NAME]
    #[arg(long, value_name = "DIR")]
    pub location: Option<PathBuf>,
    /// WSL version of the new distribution
    #[arg(long = "version", value_name = "1|2", default_value_t = 2, value_parser = clap::value_parser!(u8).range(1..=2))]
    pub wsl_version: u8,
    #[command(flatten)]
    pub wsl: WslOptionArgs,
    /// Register with `wsl --install --from-file -` (WSL 2.4.4+) instead of `wsl --import`:
    /// the rootfs is made a `.wsl`, and WSL runs its first-run setup on the first launch
    /// (without --user, it asks for a user name). Not with --configure: WSL holds every
    /// command back until the first-run setup has run in an interactive shell
    #[arg(long, conflicts_with = "configure")]
    pub first_run: bool,
    /// After importing, run this shell script as root inside the distribution (`/bin/sh`, with
    /// a login shell's environment); repeatable, run in order, the first failure stops
    #[arg(long = "configure", value_name = "SCRIPT")]
    pub configure: Vec<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    pub name: String,
    /// Shell scripts to run as root (`/bin/sh`, with a login shell's environment), in order;
    /// the first failure stops
    #[arg(value_name = "SCRIPT", required = true)]
    pub scripts: Vec<PathBuf>,
    /// Print the report as JSON (the scripts' output goes to stderr)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print a JSON array (keys: name, guid, state, version, default, base_path, vhd,
    /// default_uid, os, image, image_digest, configured)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub old: String,
    pub new: String,
    /// Stop the distribution first if it is running
    #[arg(long)]
    pub terminate: bool,
    /// Leave Windows Terminal profiles alone
    #[arg(long)]
    pub no_terminal: bool,
    /// Leave the Start Menu shortcut alone
    #[arg(long)]
    pub no_shortcut: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct MoveArgs {
    pub name: String,
    /// New folder for the distribution's disk
    pub dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CloneArgs {
    pub name: String,
    pub new: String,
    /// Install folder of the copy [default: %LOCALAPPDATA%\wslbox\distros\NEW]
    #[arg(long, value_name = "DIR")]
    pub location: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    pub name: String,
    /// Output file; the extension picks the format (.tar, .tar.gz, .tar.xz, .vhdx)
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RemoveArgs {
    pub name: String,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetUserArgs {
    pub name: String,
    /// User name (or numeric uid)
    pub user: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct SetDefaultArgs {
    pub name: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct UpgradeArgs {
    pub name: String,
    /// The image to rebuild from [default: the one the distribution was made from (`list`
    /// shows it), at its current digest]; any SOURCE `import` takes
    #[arg(long, value_name = "SOURCE")]
    pub to: Option<String>,
    #[command(flatten)]
    pub source: SourceArgs,
    /// Also keep this path from the old distribution (repeatable); /home, /root and
    /// /etc/wsl.conf are always kept
    #[arg(long, value_name = "PATH")]
    pub keep: Vec<String>,
    /// Export the old distribution to FILE (.tar, .tar.gz, .tar.xz, .vhdx) before removing it
    #[arg(long, value_name = "FILE")]
    pub backup: Option<PathBuf>,
    /// Rebuild even when the image's digest is unchanged
    #[arg(long)]
    pub force: bool,
    /// Print the plan (digests, what is kept, sizes) and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask for confirmation (required when stdin is not a terminal)
    #[arg(short, long)]
    pub yes: bool,
    #[arg(long)]
    pub json: bool,
}

impl WslCommand {
    /// The verb as typed, for messages.
    #[cfg_attr(windows, allow(dead_code))]
    pub fn verb(&self) -> &'static str {
        match self {
            WslCommand::Import(_) => "import",
            WslCommand::Configure(_) => "configure",
            WslCommand::List(_) => "list",
            WslCommand::Rename(_) => "rename",
            WslCommand::Move(_) => "move",
            WslCommand::Clone(_) => "clone",
            WslCommand::Backup(_) => "backup",
            WslCommand::Remove(_) => "remove",
            WslCommand::SetUser(_) => "set-user",
            WslCommand::SetDefault(_) => "set-default",
            WslCommand::Upgrade(_) => "upgrade",
            WslCommand::Commit(_) => "commit",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::WslCommand;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> WslCommand {
        let cli = Cli::try_parse_from([&["wslbox"], args].concat()).unwrap();
        match cli.command {
            Command::Wsl(cmd) => cmd,
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn every_verb_parses_with_its_options() {
        let cases: [(&[&str], &str); 13] = [
            (
                &[
                    "import",
                    "alpine",
                    "--name",
                    "dev",
                    "--version",
                    "1",
                    "--user",
                    "me:1000",
                    "--configure",
                    "setup.sh",
                ],
                "import",
            ),
            (
                &["import", "alpine", "--name", "dev", "--first-run"],
                "import",
            ),
            (&["configure", "dev", "a.sh", "b.sh", "--json"], "configure"),
            (&["list", "--json"], "list"),
            (
                &[
                    "rename",
                    "a",
                    "b",
                    "--terminate",
                    "--no-terminal",
                    "--no-shortcut",
                ],
                "rename",
            ),
            (&["move", "a", r"D:\wsl\a"], "move"),
            (&["clone", "a", "b", "--location", r"D:\b"], "clone"),
            (&["backup", "a", "-o", "a.tar.xz"], "backup"),
            (&["remove", "a", "--yes"], "remove"),
            (&["set-user", "a", "me"], "set-user"),
            (&["set-default", "a"], "set-default"),
            (
                &[
                    "upgrade",
                    "a",
                    "--to",
                    "debian:13",
                    "--platform",
                    "linux/arm64",
                    "--keep",
                    "/opt/x",
                    "--keep",
                    "/srv",
                    "--backup",
                    "a.tar",
                    "--yes",
                    "--dry-run",
                    "--force",
                ],
                "upgrade",
            ),
            (
                &[
                    "commit",
                    "dev",
                    "registry.corp/team/dev:1",
                    "--compression",
                    "zstd",
                    "--label",
                    "team=infra",
                    "--json",
                ],
                "commit",
            ),
        ];
        for (args, verb) in cases {
            assert_eq!(parse(args).verb(), verb, "{args:?}");
        }
        let WslCommand::Import(import) = parse(&["import", "alpine", "--name", "dev"]) else {
            unreachable!()
        };
        assert_eq!(import.wsl_version, 2, "WSL 2 by default");
        let both = Cli::try_parse_from([
            "wslbox",
            "import",
            "alpine",
            "--name",
            "d",
            "--first-run",
            "--configure",
            "s.sh",
        ])
        .unwrap_err()
        .to_string();
        assert!(both.contains("cannot be used with"), "{both}");
        let WslCommand::Upgrade(upgrade) =
            parse(&["upgrade", "dev", "--keep", "/a", "--keep", "/b"])
        else {
            unreachable!()
        };
        assert_eq!(
            (upgrade.to.as_deref(), upgrade.keep.as_slice()),
            (None, &["/a".to_owned(), "/b".to_owned()][..])
        );
        assert!(!upgrade.yes && !upgrade.dry_run && !upgrade.force);
        assert!(
            Cli::try_parse_from([
                "wslbox",
                "import",
                "alpine",
                "--name",
                "d",
                "--version",
                "3"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from(["wslbox", "import", "alpine"]).is_err(),
            "--name is required"
        );
    }

    #[test]
    fn configure_scripts_are_kept_in_order() {
        let WslCommand::Import(import) = parse(&[
            "import",
            "alpine",
            "--name",
            "dev",
            "--configure",
            "b.sh",
            "--configure",
            "a.sh",
        ]) else {
            unreachable!()
        };
        assert_eq!(
            import.configure,
            [PathBuf::from("b.sh"), PathBuf::from("a.sh")]
        );
        let WslCommand::Configure(configure) = parse(&["configure", "dev", "z.sh", "y.sh"]) else {
            unreachable!()
        };
        assert_eq!(configure.name, "dev");
        assert_eq!(
            configure.scripts,
            [PathBuf::from("z.sh"), PathBuf::from("y.sh")]
        );
        assert!(
            Cli::try_parse_from(["wslbox", "configure", "dev"]).is_err(),
            "at least one script"
        );
    }

    #[test]
    fn export_takes_no_configure_script() {
        let err = Cli::try_parse_from([
            "wslbox",
            "export",
            "alpine",
            "-o",
            "a.tar",
            "--configure",
            "setup.sh",
        ])
        .unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::UnknownArgument, "{err}");
    }
}
