//! AtomicFile on a real filesystem, with real processes killed by SIGKILL while they write.
#![cfg(unix)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use wslbox_fs::{AtomicFile, sweep};

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_committed_file_replaces_the_old_one_in_one_step_and_leaves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    fs_err::write(&dest, b"old").unwrap();
    let mut file = AtomicFile::create(&dest).unwrap();
    assert!(
        file.partial().is_none(),
        "tmpfs and ext4 have unnamed files"
    );
    file.file_mut().write_all(b"new contents").unwrap();
    assert_eq!(
        fs_err::read(&dest).unwrap(),
        b"old",
        "the old file stays until the commit"
    );
    assert_eq!(
        names(dir.path()),
        ["k.tar"],
        "an unnamed file has no name yet"
    );
    file.commit().unwrap();
    assert_eq!(fs_err::read(&dest).unwrap(), b"new contents");
    assert_eq!(names(dir.path()), ["k.tar"]);
}

#[test]
fn a_new_file_gets_the_mode_of_any_new_file() {
    let dir = tempfile::tempdir().unwrap();
    for named in [false, true] {
        let dest = dir.path().join(format!("out-{named}.tar"));
        let file = if named {
            AtomicFile::create_named(&dest).unwrap()
        } else {
            AtomicFile::create(&dest).unwrap()
        };
        file.commit().unwrap();
        let mode = fs_err::metadata(&dest).unwrap().permissions().mode() & 0o777;
        // The test process's umask (nextest and cargo leave 022 alone).
        assert_eq!(
            mode & 0o644,
            0o644,
            "readable like a file `>` makes: {mode:o}"
        );
        assert_eq!(mode & 0o111, 0, "{mode:o}");
    }
}

#[test]
fn a_dropped_file_leaves_nothing_and_the_old_file_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    fs_err::write(&dest, b"old").unwrap();
    for named in [false, true] {
        let mut file = if named {
            AtomicFile::create_named(&dest).unwrap()
        } else {
            AtomicFile::create(&dest).unwrap()
        };
        file.file_mut().write_all(b"half").unwrap();
        assert_eq!(file.partial().is_some(), named);
        drop(file);
        assert_eq!(names(dir.path()), ["k.tar"]);
        assert_eq!(fs_err::read(&dest).unwrap(), b"old");
    }
}

#[test]
fn a_named_partial_is_renamed_into_place() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    let mut file = AtomicFile::create_named(&dest).unwrap();
    let partial = file.partial().unwrap().to_owned();
    assert!(partial.exists());
    file.file_mut().write_all(b"whole").unwrap();
    file.commit().unwrap();
    assert!(!partial.exists());
    assert_eq!(fs_err::read(&dest).unwrap(), b"whole");
    assert_eq!(names(dir.path()), ["k.tar"]);
}

/// The child side of the kill tests: writes into an AtomicFile for `WSLBOX_FS_CHILD_DEST`, says
/// `ready` on stdout, and waits to be killed.
#[test]
#[ignore = "run by the kill tests as their child process"]
fn child_writer() {
    let Some(dest) = std::env::var_os("WSLBOX_FS_CHILD_DEST") else {
        return;
    };
    let named = std::env::var_os("WSLBOX_FS_CHILD_NAMED").is_some();
    let dest = PathBuf::from(dest);
    let mut file = if named {
        AtomicFile::create_named(&dest).unwrap()
    } else {
        AtomicFile::create(&dest).unwrap()
    };
    file.file_mut().write_all(&vec![7u8; 1 << 20]).unwrap();
    println!("ready");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(std::time::Duration::from_secs(60));
    file.commit().unwrap();
}

/// A child process writing `dest`, past its first MiB once this returns.
fn writer(dest: &Path, named: bool) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_writer", "--ignored", "--nocapture"])
        .env("WSLBOX_FS_CHILD_DEST", dest)
        .stdout(Stdio::piped());
    if named {
        cmd.env("WSLBOX_FS_CHILD_NAMED", "1");
    }
    let mut child = cmd.spawn().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert_ne!(
            out.read_line(&mut line).unwrap(),
            0,
            "the child ended early"
        );
    }
    child
}

fn kill(mut child: Child) {
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
}

#[test]
fn a_writer_killed_mid_file_leaves_nothing_beside_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    fs_err::write(&dest, b"old").unwrap();
    let child = writer(&dest, false);
    kill(child);
    assert_eq!(names(dir.path()), ["k.tar"], "no partial survives SIGKILL");
    assert_eq!(fs_err::read(&dest).unwrap(), b"old");
}

#[test]
fn a_killed_writers_named_partial_is_swept_by_the_next_writer() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    let child = writer(&dest, true);
    let partials = names(dir.path());
    assert_eq!(partials.len(), 1, "{partials:?}");
    assert!(
        sweep(&dest).unwrap().is_empty(),
        "a live, locked writer's partial stays"
    );
    kill(child);
    assert_eq!(
        names(dir.path()),
        partials,
        "SIGKILL leaves the named partial"
    );
    let file = AtomicFile::create_named(&dest).unwrap();
    let mine = file
        .partial()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        names(dir.path()),
        [mine],
        "the dead writer's partial is gone"
    );
    drop(file);
    assert!(names(dir.path()).is_empty());
}

#[test]
fn a_partial_of_a_live_process_or_another_file_is_not_swept() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("k.tar");
    let own = format!(".k.tar.{}-0000abcd.partial", std::process::id());
    // A pid that is gone: a child that ran and was reaped.
    let mut gone = Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = format!(".k.tar.{}-0000abcd.partial", gone.id());
    let other = format!(".k.tar.gz.{}-0000abcd.partial", gone.id());
    for name in [&own, &dead, &other] {
        fs_err::write(dir.path().join(name), b"x").unwrap();
    }
    let removed = sweep(&dest).unwrap();
    assert_eq!(removed, [dir.path().join(&dead)]);
    let mut left = vec![own, other];
    left.sort();
    assert_eq!(names(dir.path()), left);
}
