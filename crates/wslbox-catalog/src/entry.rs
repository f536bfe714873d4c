//! One catalog entry, as `wslbox catalog --json` prints it.

/// Admin groups wslbox knows how to use: `sudo` (Debian, Ubuntu, Kali) and `wheel` (Fedora and
/// RHEL rebuilds, Arch, openSUSE, Alpine, Gentoo, Clear Linux).
pub const ADMIN_GROUPS: &[&str] = &["sudo", "wheel"];

/// An image that makes a good WSL distribution, and what wslbox knows about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The catalog's name for it, e.g. `fedora`; not an image reference.
    pub name: String,
    /// The canonical Docker reference, e.g. `docker.io/library/fedora:latest`.
    pub image: String,
    pub description: String,
    /// e.g. `debian`, `fedora/rhel`, `arch`, `suse`, `alpine`, `gentoo`, `clear`.
    pub family: String,
    /// The os-release `ID` values the entry describes, e.g. `["rocky"]`.
    pub os_ids: Vec<String>,
    pub package_manager: String,
    /// The group a new `--user` joins: one of [`ADMIN_GROUPS`].
    pub admin_group: String,
    /// Whether systemd can run as PID 1 under WSL (`[boot] systemd=true`).
    pub systemd: bool,
    /// Short notes on what is missing or different, e.g. `musl libc`.
    pub caveats: Vec<String>,
    /// The distribution's own page the facts come from.
    pub docs: String,
    /// Where the entry came from: `built-in`, or the catalog file or URL.
    pub origin: String,
}

/// How [`crate::Catalog::find_os`] matched an os-release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OsMatch<'a> {
    pub entry: &'a Entry,
    /// `None` when the `ID` matched; else the `ID_LIKE` value that did.
    pub like: Option<&'a str>,
}
