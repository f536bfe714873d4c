//! WSL customization: reads the flattened tree through [`TreeView`] and returns [`Overlay`]s
//! that the output writer puts into the tar stream. Nothing runs inside the image and nothing
//! is edited after import.
//!
//! [`customize`] is the entry point; it combines, in order:
//! - `users`: a root entry when missing (WSL#8489), `--user` (passwd/group/shadow/gshadow and
//!   subuid/subgid merge, home from `/etc/skel`, admin group, sudoers drop-in), or the image's
//!   `User` as default;
//! - `wslconf`: `/etc/wsl.conf` merged keeping comments and key order;
//! - `profile`: the image `Env` as `/etc/profile.d/wslbox-image.sh`;
//! - `provenance`: `/etc/wslbox-image`, read back by later commands ([`Provenance`]);
//! - `wsldist`: `/etc/wsl-distribution.conf` and the first-run script for `.wsl` output;
//! - `suitability`: warnings (and the no-shell error) about images that make poor distributions.
//!
//! Helpers: `staged` is the tree plus the overlays produced so far (so later steps see earlier
//! edits), `accounts` edits colon-separated databases line by line, `ini` edits INI files in
//! place, `password` makes SHA-512 crypt. Symlinks inside the tree are followed by the
//! crate's `resolve` module (re-exported here), which OS detection uses too.
//!
//! ```no_run
//! # fn demo(tree: &mut wslbox_rootfs::FlatTree, image: &wslbox_image::ResolvedImage) -> Result<(), Box<dyn std::error::Error>> {
//! use wslbox_rootfs::customize::{ImageFacts, WslOptions, customize};
//! let facts = ImageFacts {
//!     reference: &image.reference,
//!     manifest_digest: &image.manifest_digest,
//!     platform: &image.platform,
//!     config: &image.config,
//!     exported_at: 1_763_726_400,
//! };
//! let opts = WslOptions { user: Some("alice".parse()?), sudo_nopasswd: true, ..WslOptions::default() };
//! let custom = customize(&*tree, &facts, &opts)?;
//! for w in &custom.warnings {
//!     eprintln!("warning: {}", w.message);
//! }
//! tree.apply_overlays(custom.overlays)?;
//! # Ok(()) }
//! ```

mod accounts;
mod carry;
mod distro_name;
mod ini;
mod password;
mod profile;
mod provenance;
mod staged;
mod suitability;
mod users;
mod wslconf;
mod wsldist;

use std::str::FromStr;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::{Digest, Platform};

pub use crate::resolve::{read_resolved, resolve};

/// Where customization writes: `/etc` (accounts, sudoers, `wsl.conf`, `profile.d`, the
/// provenance record), `/home` and `/root` (the default user's home, root's). Files below
/// these are never streamed into the output before customization ran
/// ([`crate::FlattenOptions::hold`]); should customization replace one anyway, the output
/// fails rather than hold both ([`crate::OutputError::Streamed`]).
pub const REPLACED: &[&str] = &["etc", "home", "root"];
pub use carry::PreviousAccounts;
pub use distro_name::{DistroNameError, MAX_DISTRO_NAME_LEN, validate_distro_name};
pub use provenance::{PROVENANCE_PATH, Provenance};
pub use suitability::suitability;

use crate::osrelease::{OsRelease, detect_os};
use crate::{Overlay, TreeView};
use staged::Staged;

/// What the user asked for (`wslbox export`/`import` flags). `Debug` redacts the password.
#[derive(Clone, Default)]
pub struct WslOptions {
    /// `--user NAME[:UID]`: the default user, created when the image lacks it.
    pub user: Option<UserSpec>,
    /// `--sudo-nopasswd`: a `/etc/sudoers.d/wslbox-NAME` drop-in.
    pub sudo_nopasswd: bool,
    /// `--password-stdin`, in plain text; only its SHA-512 crypt hash reaches the output.
    pub password: Option<String>,
    /// `--systemd`: `[boot] systemd=true` in `/etc/wsl.conf`.
    pub systemd: bool,
    /// `--hostname`: `[network] hostname` in `/etc/wsl.conf`.
    pub hostname: Option<String>,
    /// `.wsl` output: adds `/etc/wsl-distribution.conf` (and a first-run script without a user).
    pub wsl_format: bool,
    /// The output goes straight into `wsl --import`: a missing shell is an error, as for `.wsl`.
    pub import: bool,
    /// The distribution name (`wslbox import NAME`, or `[oobe] defaultName` for `.wsl`); when
    /// absent, `.wsl` output derives one from the image reference.
    pub distro_name: Option<String>,
    /// `.ico` for the Start Menu shortcut of a `.wsl` install (≤ 1 MiB).
    pub icon: Option<Vec<u8>>,
    /// Windows Terminal profile template (JSON) for a `.wsl` install.
    pub profile_template: Option<Vec<u8>>,
    /// `--force`: turns the no-shell error into a warning.
    pub force: bool,
    /// The group a new `--user` joins (the catalog's `admin_group` for the image's OS); when
    /// unset or missing from the image's `/etc/group`, `sudo`, else `wheel`.
    pub admin_group: Option<String>,
    /// `wslbox upgrade`: the old distribution's accounts; its default user is carried over
    /// (same uid, gid, password hash and groups) instead of `user` being created.
    pub previous: Option<PreviousAccounts>,
    /// `wslbox commit`: the distribution's `DefaultUid`. Without `user`, its account in the
    /// tree becomes the default user (and so `[user] default` in `/etc/wsl.conf`, which
    /// travels with the image where the registry value does not).
    pub default_uid: Option<u32>,
}

impl std::fmt::Debug for WslOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WslOptions")
            .field("user", &self.user)
            .field("sudo_nopasswd", &self.sudo_nopasswd)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("systemd", &self.systemd)
            .field("hostname", &self.hostname)
            .field("wsl_format", &self.wsl_format)
            .field("import", &self.import)
            .field("distro_name", &self.distro_name)
            .field(
                "icon",
                &self.icon.as_ref().map(|i| format!("{} bytes", i.len())),
            )
            .field(
                "profile_template",
                &self
                    .profile_template
                    .as_ref()
                    .map(|t| format!("{} bytes", t.len())),
            )
            .field("force", &self.force)
            .field("admin_group", &self.admin_group)
            .field(
                "previous",
                &self.previous.as_ref().map(|_| "<old account databases>"),
            )
            .field("default_uid", &self.default_uid)
            .finish()
    }
}

/// `NAME[:UID]` from `--user`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    pub name: String,
    pub uid: Option<u32>,
}

impl FromStr for UserSpec {
    type Err = CustomizeError;

    /// Accepts POSIX-portable names as shadow's useradd does by default:
    /// `^[a-z_][a-z0-9_-]*[$]?$`, at most 32 characters; the UID must not be 0.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, uid) = match s.split_once(':') {
            Some((name, uid)) => {
                let uid: u32 = uid
                    .parse()
                    .map_err(|_| CustomizeError::InvalidUid { spec: s.into() })?;
                if uid == 0 || uid == u32::MAX {
                    return Err(CustomizeError::InvalidUid { spec: s.into() });
                }
                (name, Some(uid))
            }
            None => (s, None),
        };
        validate_user_name(name)?;
        Ok(UserSpec {
            name: name.into(),
            uid,
        })
    }
}

/// Checks `name` against `^[a-z_][a-z0-9_-]*[$]?$` with at most 32 characters.
pub fn validate_user_name(name: &str) -> Result<(), CustomizeError> {
    let invalid = |reason: &str| CustomizeError::InvalidUserName {
        name: name.into(),
        reason: reason.into(),
    };
    let body = name.strip_suffix('$').unwrap_or(name);
    let mut chars = body.chars();
    match chars.next() {
        None => return Err(invalid("it is empty")),
        Some(c) if !(c.is_ascii_lowercase() || c == '_') => {
            return Err(invalid("it must start with a lowercase letter or '_'"));
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        return Err(invalid(
            "only lowercase letters, digits, '_' and '-' are allowed (and a final '$')",
        ));
    }
    if name.len() > 32 {
        return Err(invalid("it is longer than 32 characters"));
    }
    Ok(())
}

/// Facts about the image that customization records or reads.
#[derive(Debug, Clone, Copy)]
pub struct ImageFacts<'a> {
    /// Canonical reference, e.g. `docker.io/library/debian:bookworm`.
    pub reference: &'a str,
    pub manifest_digest: &'a Digest,
    pub platform: &'a Platform,
    pub config: &'a ImageConfigSummary,
    /// Export time in Unix seconds; also the mtime of every file customization writes.
    pub exported_at: i64,
}

/// A problem worth telling the user about that does not stop the export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Warning {
    /// Stable, kebab-case identifier for scripts, e.g. `no-shell`.
    pub code: &'static str,
    pub message: String,
}

impl Warning {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The result of [`customize`].
#[derive(Debug, Clone, Default)]
pub struct Customization {
    /// Files, directories and symlinks to add or replace, parents before children.
    pub overlays: Vec<Overlay>,
    pub warnings: Vec<Warning>,
    pub os: Option<OsRelease>,
    /// The user WSL logs in as, when not root.
    pub default_user: Option<DefaultUser>,
    /// Advice for the user, e.g. how to set a password later.
    pub notes: Vec<String>,
}

/// The user a distribution logs in as when it is not root: chosen by [`customize`], set by
/// wslbox-wsl after import, printed by `wslbox export --json` as `{"name": …, "uid": …}`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DefaultUser {
    /// For `[user] default` and `wsl --manage --set-default-user`.
    pub name: String,
    /// Written to `DefaultUid` where `--set-default-user` is missing. `None` only when the
    /// producer of a root filesystem does not know it; [`customize`] always does.
    pub uid: Option<u32>,
}

impl From<(String, u32)> for DefaultUser {
    fn from((name, uid): (String, u32)) -> Self {
        DefaultUser {
            name,
            uid: Some(uid),
        }
    }
}

/// Why customization cannot produce a correct output.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CustomizeError {
    #[error(
        "invalid user name `{name}`: {reason}; use a POSIX name such as `alice` (pattern ^[a-z_][a-z0-9_-]*[$]?$, at most 32 characters)"
    )]
    InvalidUserName { name: String, reason: String },
    #[error("invalid user `{spec}`: expected NAME or NAME:UID with a UID between 1 and 4294967294")]
    InvalidUid { spec: String },
    #[error(
        "UID {uid} is already used by `{owner}` in the image's /etc/passwd; choose another UID or omit it"
    )]
    UidInUse { uid: u32, owner: String },
    #[error("no free UID from 1000 to 60000 in the image's /etc/passwd; pass NAME:UID explicitly")]
    NoFreeUid,
    #[error(
        "{path} line {line} is malformed ({problem}) and it is the entry wslbox needs to edit: `{text}`; fix the image or choose another name"
    )]
    MalformedEntry {
        path: String,
        line: usize,
        problem: String,
        text: String,
    },
    #[error(
        "invalid hostname `{hostname}`: use letters, digits and '-' in dot-separated labels of 1-63 characters (at most 253)"
    )]
    InvalidHostname { hostname: String },
    #[error(transparent)]
    InvalidDistroName(#[from] DistroNameError),
    #[error(
        "the image has no /bin/sh, and WSL needs a shell to start a distribution (scratch and distroless images cannot run in WSL); use --force to produce it anyway"
    )]
    NoShell,
    #[error("the icon is {size} bytes; WSL accepts at most 1 MiB (1048576 bytes)")]
    IconTooLarge { size: usize },
    #[error("the icon is not a Windows .ico file (it must start with 00 00 01 00)")]
    IconNotIco,
    #[error("the Windows Terminal profile template is not valid JSON: {source}")]
    ProfileTemplateNotJson { source: serde_json::Error },
    #[error("the password is empty; give a non-empty password on stdin or omit --password-stdin")]
    EmptyPassword,
    #[error("cannot hash the password: {reason}")]
    PasswordHash { reason: String },
    #[error("{path} in the image is not a directory, but wslbox needs to write under it")]
    NotADirectory { path: String },
    #[error(
        "the new image's /{path} gives {what} id {id} to `{owner}`, but the kept {what} `{name}` of `{user}` has that id in the old distribution and owns the kept files; choose an image without `{owner}` (--to), or renumber `{owner}` in the image"
    )]
    KeptIdTaken {
        what: &'static str,
        id: u32,
        name: String,
        owner: String,
        path: &'static str,
        user: String,
    },
    #[error("{path}: {reason}")]
    Unsupported { path: String, reason: String },
    #[error("reading {path} from the flattened image: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// Makes the flattened tree WSL-ready; see the module docs for what each step writes.
///
/// Errors only when the output would be wrong (an entry we must edit is malformed, invalid
/// options, no shell for `.wsl`/import without `force`); everything else becomes a warning.
pub fn customize(
    view: &dyn TreeView,
    facts: &ImageFacts,
    opts: &WslOptions,
) -> Result<Customization, CustomizeError> {
    if let Some(hostname) = &opts.hostname {
        wslconf::validate_hostname(hostname)?;
    }
    if let Some(name) = &opts.distro_name {
        validate_distro_name(name)?;
    }
    let mut out = Customization {
        os: detect_os(view),
        ..Customization::default()
    };
    out.warnings = suitability(view, facts.config);
    if out.warnings.iter().any(|w| w.code == suitability::NO_SHELL)
        && (opts.wsl_format || opts.import)
        && !opts.force
    {
        return Err(CustomizeError::NoShell);
    }
    let mut staged = Staged::new(view, facts.exported_at);
    let accounts = users::apply(&mut staged, facts, opts, &mut out)?;
    wslconf::apply(&mut staged, opts, accounts.default_user.as_ref(), &mut out)?;
    profile::apply(&mut staged, facts, &mut out)?;
    provenance::apply(&mut staged, facts)?;
    if opts.wsl_format {
        wsldist::apply(&mut staged, facts, opts, &accounts, &mut out)?;
    }
    out.default_user = accounts.default_user.map(DefaultUser::from);
    out.overlays = staged.into_overlays();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_spec_parses_name_and_optional_uid() {
        assert_eq!(
            "alice".parse::<UserSpec>().unwrap(),
            UserSpec {
                name: "alice".into(),
                uid: None
            }
        );
        assert_eq!(
            "bob_2:1500".parse::<UserSpec>().unwrap(),
            UserSpec {
                name: "bob_2".into(),
                uid: Some(1500)
            }
        );
        assert_eq!("machine$".parse::<UserSpec>().unwrap().name, "machine$");
    }

    #[test]
    fn invalid_user_names_are_rejected_with_the_reason() {
        for bad in [
            "",
            "Alice",
            "1abc",
            "al ice",
            "a:b:c",
            "al$ce",
            "-x",
            "a.b",
            &"a".repeat(33),
        ] {
            let err = bad.parse::<UserSpec>().unwrap_err().to_string();
            assert!(err.starts_with("invalid user"), "{bad:?} gave {err}");
        }
        let err = "Alice".parse::<UserSpec>().unwrap_err().to_string();
        assert!(err.contains("lowercase letter"), "{err}");
    }

    #[test]
    fn uid_zero_and_garbage_uids_are_rejected() {
        for bad in [
            "alice:0",
            "alice:",
            "alice:-1",
            "alice:x",
            "alice:99999999999",
        ] {
            assert!(
                matches!(
                    bad.parse::<UserSpec>(),
                    Err(CustomizeError::InvalidUid { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn default_user_serializes_as_name_and_uid() {
        let user = DefaultUser::from(("dev".to_owned(), 1000));
        assert_eq!(
            serde_json::to_value(&user).unwrap(),
            serde_json::json!({"name": "dev", "uid": 1000})
        );
    }

    #[test]
    fn debug_output_never_shows_the_password() {
        let opts = WslOptions {
            password: Some("hunter2".into()),
            ..WslOptions::default()
        };
        let shown = format!("{opts:?}");
        assert!(
            !shown.contains("hunter2") && shown.contains("<redacted>"),
            "{shown}"
        );
    }
}
