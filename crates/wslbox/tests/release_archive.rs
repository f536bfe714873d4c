//! `packaging/archive.py`, which packs the release archives for .github/workflows/release.yml:
//! the Linux layout read back by GNU tar, reproducible bytes, SHA256SUMS checked by
//! `sha256sum -c`, and the refusals (a binary of another CPU or format, a Windows binary that
//! needs a DLL a fresh Windows lacks). The Windows archive itself is built and run under Wine
//! by scripts/test-release-archive, in the Windows suite.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn archive_py(args: &[&str]) -> Output {
    Command::new("python3")
        .arg(repo().join("packaging/archive.py"))
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn refused(out: Output) -> String {
    assert!(
        !out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

/// A small executable of the host's CPU (the debug wslbox is ~180 MB: slow to compress), and
/// the host's CPU as a target. The release binary itself is packed by
/// scripts/test-release-archive.
fn host_binary() -> (&'static str, String) {
    (
        "/bin/true",
        format!("{}-unknown-linux-musl", std::env::consts::ARCH),
    )
}

fn pack(binary: &str, target: &str, out: &Path) -> Output {
    archive_py(&[
        "pack",
        "--version",
        "1.2.3",
        "--target",
        target,
        "--binary",
        binary,
        "--out",
        out.to_str().unwrap(),
    ])
}

#[test]
fn linux_archive_holds_the_binary_readme_and_licenses_under_one_folder() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, target) = host_binary();
    let dest = ok(pack(binary, &target, &dir.path().join("a")));
    let stem = format!("wslbox-1.2.3-{target}");
    let archive = dir.path().join("a").join(format!("{stem}.tar.gz"));
    assert_eq!(dest.trim(), archive.to_str().unwrap());

    // GNU tar, not our reader, says what is in it.
    let listing = ok(Command::new("tar")
        .args(["-tvzf"])
        .arg(&archive)
        .args(["--numeric-owner"])
        .output()
        .unwrap());
    let mut entries: Vec<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[5].to_owned(), f[0].to_owned(), f[1].to_owned())
        })
        .collect();
    entries.sort();
    let want = |name: &str, mode: &str| (name.to_owned(), mode.to_owned(), "0/0".to_owned());
    assert_eq!(
        entries,
        vec![
            want(&format!("{stem}/"), "drwxr-xr-x"),
            want(&format!("{stem}/LICENSE-APACHE"), "-rw-r--r--"),
            want(&format!("{stem}/LICENSE-MIT"), "-rw-r--r--"),
            want(&format!("{stem}/README.md"), "-rw-r--r--"),
            want(&format!("{stem}/wslbox"), "-rwxr-xr-x"),
        ]
    );
    let unpacked = dir.path().join("unpacked");
    fs_err::create_dir_all(&unpacked).unwrap();
    ok(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .output()
        .unwrap());
    let top = unpacked.join(&stem);
    assert_eq!(
        fs_err::read(top.join("wslbox")).unwrap(),
        fs_err::read(binary).unwrap()
    );
    for doc in ["README.md", "LICENSE-MIT", "LICENSE-APACHE"] {
        assert_eq!(
            fs_err::read(top.join(doc)).unwrap(),
            fs_err::read(repo().join(doc)).unwrap(),
            "{doc}"
        );
    }
    ok(Command::new(top.join("wslbox")).output().unwrap()); // still runs

    // Packing again gives the same bytes, so the published sha256 can be rebuilt.
    ok(pack(binary, &target, &dir.path().join("b")));
    assert_eq!(
        fs_err::read(&archive).unwrap(),
        fs_err::read(dir.path().join("b").join(format!("{stem}.tar.gz"))).unwrap()
    );
}

#[test]
fn sha256sums_covers_every_archive_and_sha256sum_checks_it() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, target) = host_binary();
    let other = target.replace("-musl", "-gnu");
    ok(pack(binary, &target, dir.path()));
    ok(pack(binary, &other, dir.path()));
    fs_err::write(dir.path().join("notes.txt"), "not an archive").unwrap();
    let printed = ok(archive_py(&["sums", dir.path().to_str().unwrap()]));
    let sums = fs_err::read_to_string(dir.path().join("SHA256SUMS")).unwrap();
    assert_eq!(printed, sums);
    let names: Vec<&str> = sums
        .lines()
        .map(|l| l.split_once("  ").unwrap().1)
        .collect();
    let mut want = vec![
        format!("wslbox-1.2.3-{other}.tar.gz"),
        format!("wslbox-1.2.3-{target}.tar.gz"),
    ];
    want.sort();
    assert_eq!(names, want);
    ok(Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(dir.path())
        .output()
        .unwrap());

    // A changed archive no longer matches.
    let archive = dir.path().join(&want[0]);
    let mut bytes = fs_err::read(&archive).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs_err::write(&archive, bytes).unwrap();
    let out = Command::new("sha256sum")
        .args(["--strict", "-c", "SHA256SUMS"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn a_binary_of_another_cpu_or_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (binary, _) = host_binary();
    let other_cpu = if std::env::consts::ARCH == "aarch64" {
        "x86_64-unknown-linux-musl"
    } else {
        "aarch64-unknown-linux-musl"
    };
    let err = refused(pack(binary, other_cpu, dir.path()));
    assert!(err.contains("wrong --target?"), "{err}");
    let err = refused(pack(binary, "x86_64-pc-windows-msvc", dir.path()));
    assert!(err.contains("is not a Windows executable"), "{err}");
    let err = refused(pack(binary, "x86_64-pc-windows-msvc/../x", dir.path()));
    assert!(err.contains("is not a target triple"), "{err}");
    assert_eq!(fs_err::read_dir(dir.path()).unwrap().count(), 0);
}

/// A Windows program that imports `libwslboxtest.dll` (made with mingw-w64, as the Windows suite
/// is): the kind of binary a dynamically linked runtime gives.
fn exe_importing_a_private_dll(dir: &Path) -> PathBuf {
    let gcc = "x86_64-w64-mingw32-gcc";
    fs_err::write(
        dir.join("lib.c"),
        "__declspec(dllexport) int answer(void) { return 42; }\n",
    )
    .unwrap();
    fs_err::write(
        dir.join("main.c"),
        "__declspec(dllimport) int answer(void);\nint main(void) { return answer(); }\n",
    )
    .unwrap();
    let built = |args: &[&str]| {
        let out = Command::new(gcc)
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("{gcc}: {e}; run scripts/install-test-deps"));
        ok(out);
    };
    built(&["-shared", "-o", "libwslboxtest.dll", "lib.c"]);
    built(&["-o", "prog.exe", "main.c", "-L.", "-lwslboxtest"]);
    dir.join("prog.exe")
}

#[test]
fn a_windows_binary_needing_a_dll_windows_lacks_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let exe = exe_importing_a_private_dll(dir.path());
    let exe = exe.to_str().unwrap();

    // Our import-table reader agrees with objdump's.
    let ours = ok(archive_py(&["imports", exe]));
    let objdump = ok(Command::new("x86_64-w64-mingw32-objdump")
        .args(["-p", exe])
        .output()
        .unwrap());
    let mut theirs: Vec<String> = objdump
        .lines()
        .filter_map(|l| l.trim().strip_prefix("DLL Name: "))
        .map(str::to_lowercase)
        .collect();
    theirs.sort();
    theirs.dedup();
    assert_eq!(ours.lines().collect::<Vec<_>>(), theirs);
    assert!(
        theirs.contains(&"libwslboxtest.dll".to_owned()),
        "{theirs:?}"
    );

    let out_dir = dir.path().join("dist");
    let err = refused(pack(exe, "x86_64-pc-windows-msvc", &out_dir));
    assert!(
        err.contains("needs libwslboxtest.dll, which a fresh Windows does not have"),
        "{err}"
    );
    assert!(err.contains("crt-static"), "{err}");
    assert!(!out_dir.exists() || fs_err::read_dir(&out_dir).unwrap().count() == 0);
}
