//! Unnamed files (`O_TMPFILE`, Linux) and locked partials on Unix.

use std::fs::{File, OpenOptions, TryLockError};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::Access;

/// An unnamed file in `dir`, locked; `None` where the kernel or filesystem has none.
#[cfg(target_os = "linux")]
pub(crate) fn create_unnamed(dir: &Path, access: Access) -> io::Result<Option<File>> {
    use rustix::fs::{CWD, Mode, OFlags};
    let flags = OFlags::TMPFILE | OFlags::RDWR | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_bits_truncate(mode(access))) {
        Ok(fd) => fd,
        // A filesystem without O_TMPFILE (EOPNOTSUPP), or a kernel older than 3.11 that reads
        // it as O_DIRECTORY alone (EISDIR).
        Err(rustix::io::Errno::OPNOTSUPP | rustix::io::Errno::ISDIR) => return Ok(None),
        Err(e) => return Err(with_path(e.into(), dir)),
    };
    let file = File::from(fd);
    lock(&file, dir)?;
    Ok(Some(file))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn create_unnamed(_dir: &Path, _access: Access) -> io::Result<Option<File>> {
    Ok(None)
}

/// Links the unnamed `file` in as `dest`: straight to `dest` when nothing is there, else to a
/// fresh partial name that is then renamed over `dest`. The lock held since its creation keeps
/// [`remove_if_dead`] off the partial for the instant it has a name.
#[cfg(target_os = "linux")]
pub(crate) fn link_unnamed(
    file: &File,
    dest: &Path,
    partial: impl Fn() -> PathBuf,
) -> io::Result<()> {
    use rustix::fs::{AtFlags, CWD};
    use rustix::io::Errno;
    use std::os::fd::AsRawFd;
    let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    let link =
        |to: &Path| match rustix::fs::linkat(CWD, &proc_path, CWD, to, AtFlags::SYMLINK_FOLLOW) {
            // Without /proc: linking the descriptor itself (needs CAP_DAC_READ_SEARCH).
            Err(Errno::NOENT) if !Path::new("/proc/self/fd").exists() => {
                rustix::fs::linkat(file, "", CWD, to, AtFlags::EMPTY_PATH)
            }
            other => other,
        };
    match link(dest) {
        Ok(()) => return Ok(()),
        Err(Errno::EXIST) => {}
        Err(e) => return Err(with_path(e.into(), dest)),
    }
    let tmp = loop {
        let tmp = partial();
        match link(&tmp) {
            Ok(()) => break tmp,
            Err(Errno::EXIST) => continue,
            Err(e) => return Err(with_path(e.into(), &tmp)),
        }
    };
    fs_err::rename(&tmp, dest).inspect_err(|_| {
        let _ = fs_err::remove_file(&tmp);
    })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn link_unnamed(_: &File, _: &Path, _: impl Fn() -> PathBuf) -> io::Result<()> {
    unreachable!("no unnamed files are made off Linux")
}

/// A new partial at `path`, locked for as long as it is open.
pub(crate) fn create_named(path: &Path, access: Access) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode(access))
        .open(path)
        .map_err(|e| with_path(e, path))?;
    lock(&file, path)?;
    Ok(file)
}

/// Removes the partial at `path` when its writer `pid` is gone: no such process, and the lock
/// free (a pid seen from another pid namespace, or reused, leaves the lock to tell). With
/// `dry_run`, only says whether it would.
pub(crate) fn remove_if_dead(path: &Path, pid: u32, dry_run: bool) -> bool {
    let alive = rustix::process::Pid::from_raw(pid as i32)
        .is_none_or(|pid| rustix::process::test_kill_process(pid) != Err(rustix::io::Errno::SRCH));
    if alive {
        return false;
    }
    let Ok(file) = fs_err::File::open(path) else {
        return false;
    };
    match file.file().try_lock() {
        Ok(()) => dry_run || fs_err::remove_file(path).is_ok(),
        Err(TryLockError::WouldBlock | TryLockError::Error(_)) => false,
    }
}

/// The mode a new file is created with (less the umask).
fn mode(access: Access) -> u32 {
    match access {
        Access::Everyone => 0o666,
        Access::Owner => 0o600,
    }
}

fn lock(file: &File, path: &Path) -> io::Result<()> {
    file.try_lock().map_err(|e| match e {
        TryLockError::Error(e) => with_path(e, path),
        TryLockError::WouldBlock => io::Error::other(format!(
            "{} is locked by another process right after its creation",
            path.display()
        )),
    })
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
