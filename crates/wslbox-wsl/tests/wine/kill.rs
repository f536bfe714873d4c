//! Kill anywhere, under Wine: wslbox.exe's `import`, `clone` and `upgrade` stopped with
//! TerminateProcess (`Child::kill`) at seeded delays and at steps the simulator holds
//! (`WSL_SIM_HOLD`). Each kill is followed by the next command, `wslbox list`, which must find
//! what was left and put it right (the journal, `host::recover`): no half-registered
//! distribution, no temp name, no stray folder, the user's files kept, and a rerun that
//! succeeds. `WSLBOX_KILL_SEEDS` (default 3) and `WSLBOX_KILL_SEED_BASE` pick the delays.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wslbox_wsl::host::VALUE_CREATED_FOLDER;

use crate::fixtures::*;
use crate::support::*;

/// How a run is stopped.
#[derive(Debug, Clone)]
enum Stop {
    /// After this long.
    After(Duration),
    /// When the simulator reaches `WSL_SIM_HOLD`'s step.
    AtHold(String),
}

/// xorshift64*: the same seeds give the same delays.
fn delays(full: Duration) -> Vec<Duration> {
    let var = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (seeds, base) = (var("WSLBOX_KILL_SEEDS", 3), var("WSLBOX_KILL_SEED_BASE", 1));
    (base..base + seeds)
        .map(|seed| {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            let r = x.wrapping_mul(0x2545_f491_4f6c_dd1d) % 1000;
            full.mul_f64(r as f64 / 1000.0)
        })
        .collect()
}

fn spawn(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(wslbox_exe());
    cmd.args(args)
        .env("WSLBOX_WSL_EXE", simulator())
        .env("WSLBOX_CACHE_DIR", dir.join("cache"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    for _ in 0..3 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(1359) => continue,
            result => return result.expect("start wslbox.exe"),
        }
    }
    panic!("Wine failed to start wslbox.exe three times");
}

/// Runs `args` and stops it as `stop` says. Returns whether it was killed (not finished).
fn run_and_stop(dir: &Path, args: &[&str], env: &[(&str, &str)], stop: &Stop) -> bool {
    let mark = dir.join("hold-mark");
    let _ = fs_err::remove_file(&mark);
    let mut env = env.to_vec();
    let mark_str = path_str(&mark).to_owned();
    if let Stop::AtHold(spec) = stop {
        env.push(("WSL_SIM_HOLD", spec));
        env.push(("WSL_SIM_HOLD_MARK", &mark_str));
    }
    let mut child = spawn(dir, args, &env);
    match stop {
        Stop::After(delay) => std::thread::sleep(*delay),
        Stop::AtHold(spec) => {
            let start = Instant::now();
            while !mark.exists() {
                if let Some(status) = child.try_wait().unwrap() {
                    panic!("{args:?} ended ({status}) before the hold {spec}");
                }
                assert!(start.elapsed() < Duration::from_secs(60), "no hold {spec}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    child.wait().unwrap();
    if let Stop::AtHold(spec) = stop {
        // The held simulator rewrites the mark every 100 ms while it lives; it is in
        // wslbox's job, so it must have gone with it (no lingering wsl.exe finishes the step
        // after the recovery). Wine gets a moment to deliver the job's kill.
        std::thread::sleep(Duration::from_millis(300));
        let _ = fs_err::remove_file(&mark);
        std::thread::sleep(Duration::from_millis(1500));
        assert!(
            !mark.exists(),
            "a wsl.exe held at {spec} outlived the wslbox.exe that started it"
        );
    }
    !finished
}

fn journal_files(local: &Path) -> Vec<PathBuf> {
    fs_err::read_dir(local.join(r"wslbox\journal"))
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default()
}

/// The next command: `wslbox list` must succeed; its stderr says what it recovered.
fn next_command(dir: &Path, env: &[(&str, &str)], local: &Path) -> String {
    let out = wslbox(dir, &["list"], env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "list after the kill: {stderr}");
    assert_eq!(journal_files(local), Vec::<PathBuf>::new(), "{stderr}");
    stderr
}

fn base_path(guid: &str) -> PathBuf {
    let p = value_str(guid, "BasePath").unwrap();
    PathBuf::from(p.strip_prefix(r"\\?\").unwrap_or(&p))
}

#[test]
fn import_killed_anywhere_leaves_a_whole_distribution_or_none() {
    let (name, _cleanup) = name("killimport");
    let dir = scratch("killimport");
    let layout = dir.join("layout");
    oci_layout_of(&layout, &v1());
    let image = format!("oci:{}:latest", layout.display());
    let local = dir.join("local");
    let env = [("LOCALAPPDATA", path_str(&local))];
    let install = dir.join("install");
    let args = [
        "import",
        &image,
        "--name",
        &name,
        "--location",
        path_str(&install),
        "--user",
        "alice",
    ];
    let start = Instant::now();
    ok(wslbox(&dir, &args, &env));
    let full = start.elapsed();
    ok(wslbox(&dir, &["remove", &name, "--yes"], &env));
    assert!(!install.exists());

    let hold = format!("import-after-register@{}", install.display());
    let mut stops = vec![Stop::AtHold(hold)];
    stops.extend(delays(full).into_iter().map(Stop::After));
    for stop in &stops {
        let killed = run_and_stop(&dir, &args, &env, stop);
        let said = next_command(&dir, &env, &local);
        match guid_of(&name) {
            Some(guid) => {
                // Whole: the last value import writes is there, and the folder is its own.
                assert_eq!(value_u32(&guid, VALUE_CREATED_FOLDER), Some(1), "{stop:?}");
                assert!(value_str(&guid, "WslboxImage").is_some(), "{stop:?}");
                assert_eq!(base_path(&guid), install, "{stop:?}");
                ok(wslbox(&dir, &["remove", &name, "--yes"], &env));
            }
            None => assert!(!install.exists(), "{stop:?}: a stray {}", install.display()),
        }
        if matches!(stop, Stop::AtHold(_)) {
            assert!(killed);
            assert!(
                said.contains(&format!(
                    "unregistered `{name}`: a `wslbox import` of it was stopped"
                )),
                "{said}"
            );
        }
        // The rerun succeeds.
        ok(wslbox(&dir, &args, &env));
        ok(wslbox(&dir, &["remove", &name, "--yes"], &env));
    }
}

/// An old wsl.exe without `--import -`: the tar goes through a temp file, which the journal
/// names, so the next command removes it along with the half import.
#[test]
fn import_killed_on_a_wsl_without_stdin_archives_leaves_no_temp_tar() {
    let (name, _cleanup) = name("killinbox");
    let dir = scratch("killinbox");
    let layout = dir.join("layout");
    oci_layout_of(&layout, &v1());
    let image = format!("oci:{}:latest", layout.display());
    let (local, temp) = (dir.join("local"), dir.join("temp"));
    fs_err::create_dir_all(&temp).unwrap();
    let env = [
        ("LOCALAPPDATA", path_str(&local)),
        ("TEMP", path_str(&temp)),
        ("TMP", path_str(&temp)),
        ("WSL_SIM_VERSION", "inbox"),
    ];
    let install = dir.join("install");
    let args = [
        "import",
        &image,
        "--name",
        &name,
        "--location",
        path_str(&install),
    ];
    let hold = Stop::AtHold(format!("import-after-register@{}", install.display()));
    assert!(run_and_stop(&dir, &args, &env, &hold));
    let tars = || -> Vec<PathBuf> {
        fs_err::read_dir(&temp)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().contains("wslbox-import-"))
            .collect()
    };
    assert_eq!(tars().len(), 1, "the killed import's temp tar");
    let said = next_command(&dir, &env, &local);
    assert_eq!(tars(), Vec::<PathBuf>::new(), "{said}");
    assert!(guid_of(&name).is_none(), "{said}");
    assert!(!install.exists(), "{said}");
}

#[test]
fn upgrade_killed_anywhere_leaves_the_old_or_the_new_distribution() {
    let (name, _cleanup) = name("killup");
    let t = import_v1("killup", &name);
    oci_layout_of(&t.layout, &v2());
    let local = t.dir.join("local");
    let env = [("LOCALAPPDATA", path_str(&local))];
    let args = ["upgrade", &name, "--force", "--yes"];
    let start = Instant::now();
    ok(wslbox(&t.dir, &args, &env));
    let full = start.elapsed();

    let old_name = format!("{name}.wslbox-old");
    let mut stops = vec![
        // Building the new one (the old one's export), and after the swap.
        Stop::AtHold(format!("export@{name}|-")),
        Stop::AtHold(format!("unregister@{old_name}")),
    ];
    stops.extend(delays(full).into_iter().map(Stop::After));
    for stop in &stops {
        let before = guid_of(&name).unwrap();
        let killed = run_and_stop(&t.dir, &args, &env, stop);
        let said = next_command(&t.dir, &env, &local);
        assert_eq!(
            [&name, &format!("{name}.wslbox-new"), &old_name]
                .into_iter()
                .filter(|n| guid_of(n).is_some())
                .collect::<Vec<_>>(),
            [&name],
            "{stop:?}: {said}"
        );
        let guid = guid_of(&name).unwrap();
        let home = base_path(&guid);
        let files = tar_files(&home.join("ext4.vhdx"));
        assert_eq!(
            file(&files, "home/alice/notes.txt"),
            Some("my work\n"),
            "{stop:?}"
        );
        assert!(file(&files, "usr/bin/new-in-v2").is_some(), "{stop:?}");
        // No second disk anywhere: the old one's went with it, a half-built one with it.
        for folder in [&t.install, &t.dir.join("install.wslbox-new")] {
            if *folder != home {
                assert!(
                    !folder.join("ext4.vhdx").exists(),
                    "{stop:?}: {}",
                    folder.display()
                );
            }
        }
        match stop {
            Stop::AtHold(h) if h.starts_with("export") => {
                assert!(killed);
                assert_eq!(guid, before, "{said}");
                assert!(!t.dir.join("install.wslbox-new").exists(), "{said}");
            }
            Stop::AtHold(_) => {
                assert!(killed);
                assert_ne!(guid, before, "{said}");
                assert!(
                    said.contains(&format!(
                        "finished the stopped `wslbox upgrade` of `{name}`"
                    )),
                    "{said}"
                );
            }
            Stop::After(_) => {}
        }
        // The rerun succeeds.
        ok(wslbox(&t.dir, &args, &env));
    }
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &env));
}

/// A journal left by an upgrade killed between its two renames (the old distribution already
/// `NAME.wslbox-old`, the new one still `NAME.wslbox-new`), as a dead writer leaves it: the next
/// command gives the old one its name back and removes the new one.
#[test]
fn an_upgrade_killed_between_its_renames_gives_the_old_distribution_its_name_back() {
    let (name, _cleanup) = name("killswap");
    let t = import_v1("killswap", &name);
    let guid = guid_of(&name).unwrap();
    let disk = fs_err::read(t.install.join("ext4.vhdx")).unwrap();
    let local = t.dir.join("local");
    let env = [("LOCALAPPDATA", path_str(&local))];
    let (new_name, old_name) = (format!("{name}.wslbox-new"), format!("{name}.wslbox-old"));
    let new_dir = t.dir.join("install.wslbox-new");
    ok(wslbox(&t.dir, &["rename", &name, &old_name], &env));
    import(&wsl(), &new_name, &new_dir);
    let journal = local.join(r"wslbox\journal");
    fs_err::create_dir_all(&journal).unwrap();
    let entry = serde_json::json!({
        "op": "upgrade",
        "name": name,
        "guid": guid,
        "new_name": new_name,
        "old_name": old_name,
        "new_dir": new_dir,
        "new_dir_existed": false,
        "move_back": true,
    });
    // The partial name of a writer (process 4242) that is gone.
    let partial = journal.join(format!(".upgrade-{name}.json.4242-0badcafe.partial"));
    fs_err::write(&partial, entry.to_string()).unwrap();

    let said = next_command(&t.dir, &env, &local);
    assert!(
        said.contains(&format!("gave `{name}` its name back")),
        "{said}"
    );
    assert_eq!(guid_of(&name).as_deref(), Some(guid.as_str()), "{said}");
    assert!(
        guid_of(&new_name).is_none() && guid_of(&old_name).is_none(),
        "{said}"
    );
    assert!(!new_dir.exists(), "{said}");
    assert_eq!(fs_err::read(t.install.join("ext4.vhdx")).unwrap(), disk);
    ok(wslbox(&t.dir, &["remove", &name, "--yes"], &env));
}

/// `clone` is export streamed into import under the same journal entry as import: killed
/// while the source is exported, after the copy is registered, or at seeded delays, the next
/// command leaves the copy whole or gone, and the source as it was.
#[test]
fn clone_killed_anywhere_leaves_a_whole_copy_or_none_and_the_source_untouched() {
    let (name, _cleanup) = name("killclone");
    let t = import_v1("killclone", &name);
    let source = guid_of(&name).unwrap();
    let disk = fs_err::read(t.install.join("ext4.vhdx")).unwrap();
    let local = t.dir.join("local");
    let env = [("LOCALAPPDATA", path_str(&local))];
    let copy = format!("{name}-copy");
    let into = t.dir.join("copy");
    let args = ["clone", &name, &copy, "--location", path_str(&into)];
    let start = Instant::now();
    ok(wslbox(&t.dir, &args, &env));
    let full = start.elapsed();
    ok(wslbox(&t.dir, &["remove", &copy, "--yes"], &env));
    assert!(!into.exists());

    let mut stops = vec![
        Stop::AtHold(format!("export@{name}|-")),
        Stop::AtHold(format!("import-after-register@{}", into.display())),
    ];
    stops.extend(delays(full).into_iter().map(Stop::After));
    for stop in &stops {
        let killed = run_and_stop(&t.dir, &args, &env, stop);
        let said = next_command(&t.dir, &env, &local);
        // The source: the same registration and the same disk.
        assert_eq!(guid_of(&name).as_deref(), Some(source.as_str()), "{stop:?}");
        assert_eq!(
            fs_err::read(t.install.join("ext4.vhdx")).unwrap(),
            disk,
            "{stop:?}"
        );
        match guid_of(&copy) {
            Some(guid) => {
                assert_eq!(value_u32(&guid, VALUE_CREATED_FOLDER), Some(1), "{stop:?}");
                assert_eq!(value_u32(&guid, "DefaultUid"), Some(1000), "{stop:?}");
                assert_eq!(base_path(&guid), into, "{stop:?}");
                let files = tar_files(&into.join("ext4.vhdx"));
                assert_eq!(
                    file(&files, "home/alice/notes.txt"),
                    Some("my work\n"),
                    "{stop:?}"
                );
                ok(wslbox(&t.dir, &["remove", &copy, "--yes"], &env));
            }
            None => assert!(!into.exists(), "{stop:?}: a stray {}", into.display()),
        }
        match stop {
            Stop::AtHold(h) if h.starts_with("export") => {
                assert!(killed);
                assert!(guid_of(&copy).is_none() && !into.exists(), "{said}");
            }
            Stop::AtHold(_) => {
                assert!(killed);
                assert!(
                    said.contains(&format!(
                        "unregistered `{copy}`: a `wslbox clone` of it was stopped"
                    )),
                    "{said}"
                );
            }
            Stop::After(_) => {}
        }
        ok(wslbox(&t.dir, &args, &env));
        ok(wslbox(&t.dir, &["remove", &copy, "--yes"], &env));
    }
}
