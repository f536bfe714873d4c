//! Output files that appear whole or not at all, and leave nothing behind when their writer is
//! killed.
//!
//! An [`AtomicFile`] is written in the directory of its destination and put in place by
//! [`AtomicFile::commit`] only once it is complete, replacing any old file in one rename.
//!
//! - On Linux it is an unnamed file (`O_TMPFILE`): it has no name until the commit links it into
//!   place, so the kernel frees it with the process however that ends, SIGKILL included.
//! - Where the filesystem has no unnamed files, and on Windows, it is a hidden partial
//!   `.NAME.PID-RANDOM.partial` beside the destination, held by its writer (a lock on Unix, a
//!   handle that does not share deletion on Windows). A writer that fails or is dropped removes
//!   its partial; one that is killed cannot, so the next [`AtomicFile`] for the same destination
//!   sweeps the partials whose writer is provably gone ([`sweep`]).

use std::ffi::OsString;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as sys;

/// Who may read a new file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// As any new file: 0666 less the umask on Unix.
    Everyone,
    /// Its owner only: 0600 on Unix.
    Owner,
}

/// A file being written for `dest`; see the crate documentation.
#[derive(Debug)]
pub struct AtomicFile {
    /// `None` once committed.
    file: Option<File>,
    dest: PathBuf,
    /// The hidden partial beside `dest`, or `None` for an unnamed file.
    partial: Option<PathBuf>,
}

impl AtomicFile {
    /// Starts a file for `dest`: unnamed where the filesystem allows it, else a hidden partial.
    /// Dead writers' partials of `dest` are swept first.
    pub fn create(dest: &Path) -> io::Result<AtomicFile> {
        Self::unnamed_or_named(dest, Access::Everyone)
    }

    /// As [`create`](Self::create), for a file only its owner may read (credentials): on Unix
    /// it is mode 0600 from its creation, so no other user can open it before it is complete,
    /// or at all. (On Windows, files in the user's profile already inherit a private ACL.)
    pub fn create_private(dest: &Path) -> io::Result<AtomicFile> {
        Self::unnamed_or_named(dest, Access::Owner)
    }

    fn unnamed_or_named(dest: &Path, access: Access) -> io::Result<AtomicFile> {
        let (dir, _) = split(dest)?;
        let _ = sweep(dest);
        match sys::create_unnamed(dir, access)? {
            Some(file) => Ok(AtomicFile {
                file: Some(file),
                dest: dest.to_owned(),
                partial: None,
            }),
            None => Self::named(dest, access),
        }
    }

    /// Starts a file for `dest` as a hidden partial beside it, as [`create`](Self::create)
    /// does where unnamed files are not available. Dead writers' partials of `dest` are swept
    /// first.
    pub fn create_named(dest: &Path) -> io::Result<AtomicFile> {
        let _ = sweep(dest);
        Self::named(dest, Access::Everyone)
    }

    /// A hidden partial for `dest`, after the sweep.
    fn named(dest: &Path, access: Access) -> io::Result<AtomicFile> {
        let (dir, name) = split(dest)?;
        loop {
            let partial = dir.join(partial_name(name));
            match sys::create_named(&partial, access) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        file: Some(file),
                        dest: dest.to_owned(),
                        partial: Some(partial),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// The file being written.
    pub fn file(&self) -> &File {
        self.file.as_ref().expect("an uncommitted file")
    }

    /// The file being written.
    pub fn file_mut(&mut self) -> &mut File {
        self.file.as_mut().expect("an uncommitted file")
    }

    /// The hidden partial this file is written to, `None` for an unnamed file.
    pub fn partial(&self) -> Option<&Path> {
        self.partial.as_deref()
    }

    /// Puts the file in place at its destination, replacing what was there in one step.
    /// Handles cloned from [`file`](Self::file) must be closed first (Windows renames no file
    /// that is open).
    pub fn commit(mut self) -> io::Result<()> {
        let file = self.file.take().expect("an uncommitted file");
        match self.partial.take() {
            None => {
                let (dir, name) = split(&self.dest)?;
                sys::link_unnamed(&file, &self.dest, || dir.join(partial_name(name)))
            }
            Some(partial) => {
                drop(file);
                fs_err::rename(&partial, &self.dest).inspect_err(|_| {
                    let _ = fs_err::remove_file(&partial);
                })
            }
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if let Some(partial) = self.partial.take() {
            let _ = fs_err::remove_file(partial);
        }
    }
}

/// Removes the partials of `dest` left by writers that are gone, and returns their paths.
/// A partial whose writer may still run is left alone: on Unix, one whose process is alive or
/// whose lock is held; on Windows, one that is open.
pub fn sweep(dest: &Path) -> io::Result<Vec<PathBuf>> {
    let (dir, name) = split(dest)?;
    let Some(name) = name.to_str() else {
        return Ok(Vec::new()); // partials are recognized by a UTF-8 name
    };
    sweep_where(dir, |of| of == name, false)
}

/// Removes the partials of every file in `dir` left by writers that are gone, as [`sweep`]
/// does for one file, and returns their paths; with `dry_run`, only finds them.
pub fn sweep_dir(dir: &Path, dry_run: bool) -> io::Result<Vec<PathBuf>> {
    sweep_where(dir, |_| true, dry_run)
}

fn sweep_where(dir: &Path, of: impl Fn(&str) -> bool, dry_run: bool) -> io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match fs_err::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some((name, pid)) = file_name.to_str().and_then(parse_partial) else {
            continue;
        };
        let path = entry.path();
        if of(name) && sys::remove_if_dead(&path, pid, dry_run) {
            removed.push(path);
        }
    }
    Ok(removed)
}

/// The directory and file name of `dest`.
fn split(dest: &Path) -> io::Result<(&Path, &std::ffi::OsStr)> {
    let name = dest.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a file name", dest.display()),
        )
    })?;
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    Ok((dir, name))
}

/// A fresh partial name for the file `name`: `.NAME.PID-RANDOM.partial`.
fn partial_name(name: &std::ffi::OsStr) -> OsString {
    let random = getrandom::u32().unwrap_or_else(|_| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    });
    let mut partial = OsString::from(".");
    partial.push(name);
    partial.push(format!(".{}-{random:08x}.partial", std::process::id()));
    partial
}

/// The name of the file and the writer's process id, when `file_name` is a partial.
fn parse_partial(file_name: &str) -> Option<(&str, u32)> {
    let (name, writer) = file_name
        .strip_prefix('.')?
        .strip_suffix(".partial")?
        .rsplit_once('.')?;
    let (pid, random) = writer.split_once('-')?;
    let hex = random.len() == 8 && random.bytes().all(|b| b.is_ascii_hexdigit());
    let digits = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
    let pid = pid
        .parse()
        .ok()
        .filter(|_| hex && digits && !name.is_empty())?;
    Some((name, pid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid_of(file_name: &str, name: &str) -> Option<u32> {
        parse_partial(file_name).and_then(|(of, pid)| (of == name).then_some(pid))
    }

    #[test]
    fn a_partial_name_carries_the_pid_and_parses_back() {
        let name = partial_name("k.tar".as_ref());
        let name = name.to_str().unwrap();
        assert!(
            name.starts_with(".k.tar.") && name.ends_with(".partial"),
            "{name}"
        );
        assert_eq!(pid_of(name, "k.tar"), Some(std::process::id()));
        assert_eq!(pid_of(name, "k"), None, "another file's partial");
    }

    #[test]
    fn only_partial_names_of_the_file_are_recognized() {
        for other in [
            "k.tar",
            ".k.tar.partial",
            ".k.tar.12-abcdefgh.partial",
            ".k.tar.x1-0000abcd.partial",
            ".k.tar.-0000abcd.partial",
            ".k.tar.12-0000abcd.partial.old",
            ".k.tar.abc123.partial", // tempfile's names carry no writer to check
            ".k.tar.gz.12-0000abcd.partial",
            "..12-0000abcd.partial",
        ] {
            assert_eq!(pid_of(other, "k.tar"), None, "{other}");
        }
        assert_eq!(pid_of(".k.tar.12-0000abcd.partial", "k.tar"), Some(12));
        assert_eq!(
            parse_partial(".k.tar.gz.12-0000abcd.partial"),
            Some(("k.tar.gz", 12))
        );
    }

    /// Credentials are written with [`AtomicFile::create_private`]: whether the file is unnamed
    /// or a named partial (the path taken where the filesystem has no unnamed files), nobody
    /// but its owner can open it, from its creation to after the commit.
    #[cfg(unix)]
    #[test]
    fn a_private_file_is_owner_only_from_its_creation_unnamed_or_named() {
        use std::io::Write as _;
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| fs_err::metadata(p).unwrap().permissions().mode() & 0o777;
        for named in [false, true] {
            let dest = dir.path().join(format!("config-{named}.json"));
            let mut file = if named {
                AtomicFile::named(&dest, Access::Owner).unwrap()
            } else {
                AtomicFile::create_private(&dest).unwrap()
            };
            if let Some(partial) = file.partial() {
                assert_eq!(
                    mode(partial),
                    0o600,
                    "the partial, before anything is written"
                );
            }
            let fd_mode = file.file().metadata().unwrap().permissions().mode() & 0o777;
            assert_eq!(fd_mode, 0o600, "named: {named}");
            file.file_mut().write_all(b"{}").unwrap();
            file.commit().unwrap();
            assert_eq!(mode(&dest), 0o600, "named: {named}");
        }
    }
}
