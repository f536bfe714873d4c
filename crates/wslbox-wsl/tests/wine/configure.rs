//! Setup scripts (`import --configure`, `wslbox configure`) against the simulator, which runs
//! nothing but records each launch's arguments and stdin (`WSL_SIM_RUN_LOG`) and exits with
//! `WSL_SIM_RUN_EXIT`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::Digest;
use wslbox_wsl::script::PREAMBLE;
use wslbox_wsl::{Error, Script, host};

use crate::support::*;

/// One launch as the simulator logged it.
struct Run {
    argv: Vec<String>,
    stdin: Vec<u8>,
}

fn runs(log: &Path) -> Vec<Run> {
    let Ok(text) = fs_err::read_to_string(log) else {
        return Vec::new();
    };
    text.lines()
        .map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            Run {
                argv: v["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap().to_owned())
                    .collect(),
                stdin: hex::decode(v["stdin_hex"].as_str().unwrap()).unwrap(),
            }
        })
        .collect()
}

fn expected_argv(name: &str) -> Vec<String> {
    ["-d", name, "-u", "root", "--cd", "/", "--", "/bin/sh", "-s"]
        .map(String::from)
        .to_vec()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// The `list --json` entry of `name`.
fn listed(dir: &Path, name: &str) -> serde_json::Value {
    let json: serde_json::Value =
        serde_json::from_str(&ok(wslbox(dir, &["list", "--json"], &[]))).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("`{name}` not listed: {json}"))
}

fn configured_sha256s(entry: &serde_json::Value) -> Vec<String> {
    entry["configured"]
        .as_array()
        .unwrap_or_else(|| panic!("no configured array: {entry}"))
        .iter()
        .map(|c| c["sha256"].as_str().unwrap().to_owned())
        .collect()
}

fn write(dir: &Path, file: &str, bytes: &[u8]) -> String {
    let path = dir.join(file);
    fs_err::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn cli_import_configure_sends_the_exact_script_bytes_in_order_and_records_them() {
    let (name, _cleanup) = name("cfg");
    let dir = scratch("cfg");
    oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    // CRLF and a byte that is not UTF-8 would not survive any re-encoding.
    let first_bytes = b"echo first\r\nprintf '\xff\xfe'\n".to_vec();
    let second_bytes = b"echo second >&2\n".to_vec();
    let first = write(&dir, "first.sh", &first_bytes);
    let second = write(&dir, "second.sh", &second_bytes);
    let log = dir.join("runs.jsonl");
    let before = now();

    let out = wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&dir.join("install")),
            "--configure",
            &first,
            "--configure",
            &second,
            "--json",
        ],
        &[("WSL_SIM_RUN_LOG", path_str(&log))],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = ok(out);
    let report: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {stdout}"));
    let changes = report["changes"].to_string();
    assert!(changes.contains(&format!("imported `{name}`")), "{report}");
    let short = &sha256_hex(&first_bytes)[..12];
    assert!(
        changes.contains(&format!("first.sh in `{name}` as root (sha256 {short})")),
        "{report}"
    );
    // With --json the scripts' output, stdout and stderr, goes to wslbox's stderr.
    assert!(
        stderr.contains("first\r\n") && stderr.contains("second\n"),
        "{stderr}"
    );
    assert!(stderr.contains("has Windows (CRLF) line ends"), "{stderr}");

    let runs = runs(&log);
    assert_eq!(runs.len(), 2);
    for (run, script) in runs.iter().zip([&first_bytes, &second_bytes]) {
        assert_eq!(run.argv, expected_argv(&name));
        assert_eq!(&run.stdin[..PREAMBLE.len()], PREAMBLE.as_bytes());
        assert_eq!(
            &run.stdin[PREAMBLE.len()..],
            &script[..],
            "script bytes exactly"
        );
    }

    let entry = listed(&dir, &name);
    assert_eq!(
        configured_sha256s(&entry),
        [sha256_hex(&first_bytes), sha256_hex(&second_bytes)]
    );
    for at in entry["configured"].as_array().unwrap() {
        let at = at["at"].as_i64().unwrap();
        assert!((before..=now()).contains(&at), "{entry}");
    }
    let guid = guid_of(&name).unwrap();
    let value = value_multi(&guid, "WslboxConfigured").expect("a REG_MULTI_SZ value");
    assert_eq!(value.len(), 2);
    assert!(
        value[0].starts_with(&format!("{} ", sha256_hex(&first_bytes))),
        "{value:?}"
    );
    let table = ok(wslbox(&dir, &["list"], &[]));
    let row = table.lines().find(|l| l.contains(&name)).unwrap();
    assert!(row.contains("yes (2)"), "{table}");

    // A later run adds to the record; without --json the script's stdout is wslbox's stdout.
    let third_bytes = b"echo third\n".to_vec();
    let third = write(&dir, "third.sh", &third_bytes);
    let out = ok(wslbox(
        &dir,
        &["configure", &name, &third],
        &[("WSL_SIM_RUN_LOG", path_str(&log))],
    ));
    assert!(
        out.contains("third\n") && out.contains("third.sh in"),
        "{out}"
    );
    assert_eq!(
        configured_sha256s(&listed(&dir, &name)),
        [
            sha256_hex(&first_bytes),
            sha256_hex(&second_bytes),
            sha256_hex(&third_bytes)
        ]
    );
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));
}

#[test]
fn cli_failing_script_stops_the_run_and_leaves_the_distribution_unconfigured() {
    let (name, _cleanup) = name("cfgfail");
    let dir = scratch("cfgfail");
    oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    let good = write(&dir, "good.sh", b"echo fine\n");
    let bad = write(
        &dir,
        "bad.sh",
        b"echo step one\necho E: Unable to locate package nope >&2\n# FAIL-HERE\n",
    );
    let never = write(&dir, "never.sh", b"echo never\n");
    let log = dir.join("runs.jsonl");

    let out = wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&dir.join("install")),
            "--configure",
            &good,
            "--configure",
            &bad,
            "--configure",
            &never,
        ],
        &[
            ("WSL_SIM_RUN_LOG", path_str(&log)),
            ("WSL_SIM_RUN_EXIT", "3@FAIL-HERE"),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = err(out);
    for expected in [
        format!("`{name}` was imported (the import is kept), but configuring it failed"),
        format!("bad.sh failed in `{name}` with exit code 3"),
        "    | step one".into(),
        "    | E: Unable to locate package nope".into(),
        format!("`{name}` exists and stays registered, marked unconfigured"),
        "never.sh`".into(),
        format!("retry from it with `wslbox configure {name} "),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("| fine"),
        "the tail is the failed script's: {stderr}"
    );
    assert_eq!(runs(&log).len(), 2, "the first failure stops the run");

    let guid = guid_of(&name).expect("the import is not rolled back");
    assert_eq!(value_multi(&guid, "WslboxConfigured"), None);
    assert_eq!(listed(&dir, &name)["configured"], serde_json::Value::Null);
    let row = ok(wslbox(&dir, &["list"], &[]))
        .lines()
        .find(|l| l.contains(&name))
        .map(str::to_owned)
        .unwrap();
    assert!(row.contains(" no "), "{row}");

    // The retry the error suggests.
    ok(wslbox(&dir, &["configure", &name, &bad, &never], &[]));
    assert_eq!(configured_sha256s(&listed(&dir, &name)).len(), 2);
    ok(wslbox(&dir, &["remove", &name, "--yes"], &[]));
}

#[test]
fn cli_missing_script_is_refused_before_anything_is_downloaded_or_imported() {
    let (name, _cleanup) = name("cfgmissing");
    let dir = scratch("cfgmissing");
    oci_layout(&dir.join("layout"));
    let image = format!("oci:{}:latest", dir.join("layout").display());
    let present = write(&dir, "present.sh", b"true\n");
    let missing = dir.join("no-such-setup.sh");
    let log = dir.join("runs.jsonl");
    let stderr = err(wslbox(
        &dir,
        &[
            "import",
            &image,
            "--name",
            &name,
            "--location",
            path_str(&dir.join("install")),
            "--configure",
            &present,
            "--configure",
            path_str(&missing),
        ],
        &[("WSL_SIM_RUN_LOG", path_str(&log))],
    ));
    assert!(
        stderr.contains("cannot read the setup script") && stderr.contains("no-such-setup.sh"),
        "{stderr}"
    );
    assert_eq!(guid_of(&name), None);
    assert!(!dir.join("install").exists());
    assert!(!dir.join("cache").exists(), "nothing was downloaded");
    assert!(runs(&log).is_empty());

    let stderr = err(wslbox(
        &dir,
        &["configure", "wbx-cfg-none", path_str(&missing)],
        &[],
    ));
    assert!(stderr.contains("no-such-setup.sh"), "{stderr}");
}

#[test]
fn configure_of_an_unknown_distribution_is_not_found() {
    let script = Script::new(Path::new("s.sh"), b"true\n".to_vec());
    let err = host::configure(
        &wsl(),
        "wbx-cfg-unknown",
        std::slice::from_ref(&script),
        &|_, _| {},
        now,
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { name } if name == "wbx-cfg-unknown"),
        "{err}"
    );
    // wsl.exe's own failure has an exit code no Linux command has, and its error code line.
    let outcome = host::run_script(&wsl(), "wbx-cfg-unknown", &script, &|_, _| {}).unwrap();
    assert_eq!(outcome.code, -1);
    assert!(
        outcome
            .tail
            .iter()
            .any(|l| l.contains("Wsl/Service/WSL_E_DISTRO_NOT_FOUND")),
        "{:?}",
        outcome.tail
    );
}

#[test]
fn setup_record_survives_clone_and_a_move_by_reimport() {
    let wsl = wsl().with_env("WSL_SIM_VERSION", "inbox");
    let (name, _cleanup) = name("cfgcarry");
    let copy = format!("{name}-copy");
    let dir = scratch("cfgcarry");
    import(&wsl, &name, &dir.join("a"));
    let script = Script::new(Path::new("s.sh"), b"echo out\necho err >&2\n".to_vec());
    let seen = std::sync::Mutex::new(Vec::new());
    let report = host::configure(
        &wsl,
        &name,
        std::slice::from_ref(&script),
        &|stream, chunk| seen.lock().unwrap().push((stream, chunk.to_vec())),
        || 1_767_225_600,
    )
    .unwrap();
    assert!(
        report.changes.last().unwrap().contains("WslboxConfigured"),
        "{report:?}"
    );
    let seen = seen.into_inner().unwrap();
    let of = |stream| -> Vec<u8> {
        seen.iter()
            .filter(|(s, _)| *s == stream)
            .flat_map(|(_, c)| c.clone())
            .collect()
    };
    assert_eq!(of(wslbox_wsl::Stream::Stdout), b"out\n");
    assert_eq!(of(wslbox_wsl::Stream::Stderr), b"err\n");
    let expected = vec![format!("{} 1767225600", script.sha256)];

    // The launch left it running, as WSL does; a move needs it stopped.
    wsl.terminate(&name).unwrap();
    host::move_to(&wsl, &name, &dir.join("b")).unwrap();
    let moved = guid_of(&name).unwrap();
    assert_eq!(
        value_multi(&moved, "WslboxConfigured"),
        Some(expected.clone())
    );
    host::clone(&wsl, &name, &copy, Some(dir.join("c"))).unwrap();
    let cloned = guid_of(&copy).unwrap();
    assert_eq!(value_multi(&cloned, "WslboxConfigured"), Some(expected));
    host::remove(&wsl, &name).unwrap();
    host::remove(&wsl, &copy).unwrap();
}
