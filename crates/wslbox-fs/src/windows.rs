//! Partials held open without shared deletion on Windows.
#![cfg(windows)]

use std::fs::{File, OpenOptions};
use std::io;
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Access;

const FILE_SHARE_READ: u32 = 0x1;
const FILE_SHARE_WRITE: u32 = 0x2;

/// Windows has no unnamed files.
pub(crate) fn create_unnamed(_dir: &Path, _access: Access) -> io::Result<Option<File>> {
    Ok(None)
}

pub(crate) fn link_unnamed(_: &File, _: &Path, _: impl Fn() -> PathBuf) -> io::Result<()> {
    unreachable!("no unnamed files are made on Windows")
}

/// A new partial at `path`, opened without `FILE_SHARE_DELETE`: while its writer holds it, no
/// other process can delete it, from the moment it exists.
pub(crate) fn create_named(path: &Path, _access: Access) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .share_mode(FILE_SHARE_READ | FILE_SHARE_WRITE)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

/// Removes the partial at `path` unless a writer still holds it open: the deletion itself is
/// the test (a sharing violation while it is open). With `dry_run`, an exclusive open is.
pub(crate) fn remove_if_dead(path: &Path, _pid: u32, dry_run: bool) -> bool {
    if dry_run {
        return OpenOptions::new()
            .read(true)
            .share_mode(0)
            .open(path)
            .is_ok();
    }
    // Open in another process (a sharing violation, or access denied while a deletion is
    // pending), or gone already.
    fs_err::remove_file(path).is_ok()
}
