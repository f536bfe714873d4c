//! `wslbox upgrade`: what is kept from the old distribution, read out of its export
//! (`wsl --export NAME - --format tar`) in one streaming pass.
//!
//! Only the kept paths and the account databases are taken from the stream; every other body
//! is skipped without being spooled, so the old disk is never copied. The kept paths replace
//! the new image's paths of the same name as whole trees ([`FlatTree::keep`]); the accounts go
//! to customization as [`PreviousAccounts`], which merges the default user into the new
//! image's databases.

use std::io::Read;
use std::path::Path;
use std::sync::atomic::AtomicBool;

use wslbox_image::Compression;

use crate::TreeView;
use crate::customize::PreviousAccounts;
use crate::error::FlattenError;
use crate::layer::{LayerBuilder, LayerOptions, ParsedLayer, PathMap};
use crate::path::{join, normalize, split_last};
use crate::read::read_tar;
use crate::tree::FlatTree;

/// Always kept: the users' files, root's, and WSL's per-distribution settings.
pub const ALWAYS_KEPT: [&str; 3] = ["/home", "/root", "/etc/wsl.conf"];

/// Read for [`PreviousAccounts`]; merged, never kept whole.
const ACCOUNT_FILES: [&str; 6] = [
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/gshadow",
    "etc/subuid",
    "etc/subgid",
];
const SUDOERS_DIR: &str = "etc/sudoers.d";
/// The drop-ins wslbox writes (`--sudo-nopasswd`); other drop-ins belong to the image.
const OUR_SUDOERS_PREFIX: &str = "wslbox-";

/// A `--keep PATH` that cannot be kept.
#[derive(Debug, thiserror::Error)]
#[error("--keep {path}: {reason}")]
pub struct KeepPathError {
    pub path: String,
    pub reason: &'static str,
}

/// The paths an upgrade keeps: [`ALWAYS_KEPT`] plus the user's `--keep` paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepPaths {
    /// Normalized (`home`, `opt/data`), without duplicates or paths below another kept one.
    paths: Vec<Vec<u8>>,
}

impl KeepPaths {
    /// `extra` are absolute Linux paths (`/opt/data`); `..`, `/` and the account databases
    /// (which are merged, not kept) are refused.
    pub fn new(extra: &[String]) -> Result<KeepPaths, KeepPathError> {
        let mut paths: Vec<Vec<u8>> = Vec::new();
        let all = ALWAYS_KEPT
            .iter()
            .map(|p| p.to_string())
            .chain(extra.iter().cloned());
        for typed in all {
            let error = |reason| KeepPathError {
                path: typed.clone(),
                reason,
            };
            if !typed.starts_with('/') {
                return Err(error(
                    "give an absolute path inside the distribution, e.g. /opt/data",
                ));
            }
            let path = normalize(typed.as_bytes()).map_err(error)?;
            if path.is_empty() {
                return Err(error(
                    "keeping / would keep the old system; name the directories to keep",
                ));
            }
            if ACCOUNT_FILES.iter().any(|a| a.as_bytes() == path) {
                return Err(error(
                    "the account databases are merged (the default user is carried over), not kept whole",
                ));
            }
            paths.push(path);
        }
        paths.sort();
        paths.dedup();
        let covered =
            |p: &[u8], by: &[u8]| p.strip_prefix(by).is_some_and(|r| r.first() == Some(&b'/'));
        let kept: Vec<Vec<u8>> = paths
            .iter()
            .filter(|p| !paths.iter().any(|q| covered(p, q)))
            .cloned()
            .collect();
        Ok(KeepPaths { paths: kept })
    }

    /// The paths, normalized (`home`, `opt/data`).
    pub fn paths(&self) -> &[Vec<u8>] {
        &self.paths
    }

    /// As the user reads them: `/home`, `/opt/data`.
    pub fn display(&self) -> Vec<String> {
        self.paths.iter().map(|p| shown(p)).collect()
    }

    fn contains(&self, path: &[u8]) -> bool {
        self.paths.iter().any(|k| under(path, k))
    }
}

/// A tree path as the user reads it: `/home`.
fn shown(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}

/// Whether `path` is `root` or below it.
fn under(path: &[u8], root: &[u8]) -> bool {
    path.strip_prefix(root)
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

/// What was read from the old distribution.
pub struct Kept {
    layer: ParsedLayer,
    accounts: PreviousAccounts,
    /// The kept paths the old distribution had, as tree paths.
    roots: Vec<Vec<u8>>,
    /// [`Kept::roots`] as the user reads them; the others are `missing`.
    pub found: Vec<String>,
    pub missing: Vec<String>,
    /// Bytes of file bodies kept.
    pub bytes: u64,
}

/// Reads the kept paths and the account databases out of the old distribution's export, a
/// plain tar stream (a `.wh.` file there is an ordinary file).
/// `progress` hears how many bytes of the export went by.
pub fn read_kept(
    export: Box<dyn Read + Send>,
    keep: &KeepPaths,
    spool_dir: &Path,
    progress: &(dyn Fn(u64) + Sync),
    cancel: &AtomicBool,
) -> Result<Kept, FlattenError> {
    let mut only = keep.paths.clone();
    only.extend(ACCOUNT_FILES.iter().map(|a| a.as_bytes().to_vec()));
    only.push(SUDOERS_DIR.as_bytes().to_vec());
    let opts = LayerOptions {
        only,
        ..LayerOptions::rootfs(PathMap::default())
    };
    let builder = LayerBuilder::new("the old distribution's export", spool_dir, opts)?;
    let mut layer = read_tar(export, Compression::None, builder, progress, cancel)?;

    // Split: the kept trees are applied to the new tree, the databases only read.
    let mut databases = layer.try_clone().map_err(|source| FlattenError::Read {
        layer: layer.label.clone(),
        source,
    })?;
    databases.entries.retain(|e| !keep.contains(&e.path));
    layer.entries.retain(|e| keep.contains(&e.path));
    let accounts = accounts_from(&FlatTree::from_layers([databases])?);

    let (found, missing) = keep
        .paths
        .iter()
        .partition::<Vec<_>, _>(|k| layer.entries.iter().any(|e| under(&e.path, k)));
    let bytes = layer
        .entries
        .iter()
        .map(|e| match e.kind {
            crate::layer::EntryKind::File { len, .. } => len,
            _ => 0,
        })
        .sum();
    Ok(Kept {
        layer,
        accounts,
        found: found.iter().map(|p| shown(p)).collect(),
        missing: missing.iter().map(|p| shown(p)).collect(),
        roots: found.into_iter().cloned().collect(),
        bytes,
    })
}

fn accounts_from(old: &FlatTree) -> PreviousAccounts {
    let read = |path: &str| old.read(path.as_bytes()).ok().flatten();
    let sudoers = old
        .children(SUDOERS_DIR.as_bytes())
        .into_iter()
        .filter(|name| name.starts_with(OUR_SUDOERS_PREFIX.as_bytes()))
        .filter_map(|name| {
            let body = old.read(&join(SUDOERS_DIR.as_bytes(), &name)).ok()??;
            Some((String::from_utf8_lossy(&name).into_owned(), body))
        })
        .collect();
    PreviousAccounts {
        passwd: read("etc/passwd").unwrap_or_default(),
        shadow: read("etc/shadow"),
        group: read("etc/group").unwrap_or_default(),
        gshadow: read("etc/gshadow"),
        subuid: read("etc/subuid"),
        subgid: read("etc/subgid"),
        sudoers,
        wsl_conf: None,
        default_uid: None,
    }
}

impl FlatTree {
    /// Puts the kept trees in place of the image's paths of the same name: each kept path the
    /// old distribution had is removed from the image first (as an opaque whiteout would), then
    /// the old entries are applied. Returns the old accounts, with the resulting
    /// `/etc/wsl.conf` for its `[user] default`; the caller sets `default_uid`.
    pub fn keep(&mut self, kept: Kept) -> Result<PreviousAccounts, FlattenError> {
        for root in &kept.roots {
            let (parent, name) = split_last(root);
            if let Ok(dir) = self.resolve(parent) {
                self.remove(&join(&dir, name));
            }
        }
        self.apply(kept.layer)?;
        let mut accounts = kept.accounts;
        accounts.wsl_conf = self.read(b"etc/wsl.conf").ok().flatten();
        Ok(accounts)
    }
}
