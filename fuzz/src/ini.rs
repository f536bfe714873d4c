//! The INI editor's invariant (`wsl.conf`, `wsl-distribution.conf`), shared by the `wsl_conf`
//! cargo-fuzz target and crates/wslbox-rootfs/tests/fuzz_ini.rs. The editor is crate-private,
//! so its source file is included here as it is.
//!
//! For any file: parsing and writing it back changes nothing but a missing final newline.
//! After `set(S, K, V)`, every `K` in every `[S]` reads `V`, `K` appears in `S` as often as
//! before (once when it was missing), every other line is kept byte for byte and in order (a
//! new key goes into the last `[S]`, a new `[S]` at the end), and setting it again changes
//! nothing. A line break in the value is refused and leaves the file as it was. After
//! `remove(S, K)`, exactly the `K` lines of `[S]` are gone.

#[path = "../../crates/wslbox-rootfs/src/customize/ini.rs"]
mod product;

use product::Ini;

/// (section, key, value, separator) set on every input: WSL's own keys, other spellings of
/// them (sections and keys match case-insensitively), and values INI-special characters.
pub const SETS: &[(&str, &str, &str, &str)] = &[
    ("user", "default", "alice", "="),
    ("User", "Default", "bob", "="),
    ("boot", "systemd", "true", "="),
    ("network", "hostname", "box-1.lan", "="),
    ("oobe", "defaultUid", "1000", " = "),
    ("oobe", "defaultName", "debian-bookworm", " = "),
    (
        "windowsterminal",
        "profileTemplate",
        "/usr/lib/wsl/terminal-profile.json",
        " = ",
    ),
    ("shortcut", "icon", "a = b # [c] ;d", " = "),
];

/// (section, key) removed on every input.
pub const REMOVES: &[(&str, &str)] = &[("user", "default"), ("oobe", "command")];

/// Values that would start a new line; each must be refused.
pub const LINE_BREAKS: &[&str] = &["x\n[user]\ndefault=root", "x\rdefault=root", "\n"];

/// Panics when the invariant is broken.
pub fn check_ini(data: &[u8]) {
    let original = Ini::parse(data);
    let written = original.to_bytes();
    let mut expected = data.to_vec();
    if !data.is_empty() && !data.ends_with(b"\n") {
        expected.push(b'\n');
    }
    assert!(
        written == expected,
        "an untouched file was not written back as it was"
    );

    let before = lines(&written);
    for &(section, key, value, sep) in SETS {
        let mut ini = original.clone();
        ini.set(section, key, value, sep).expect("no line break");
        let after = ini.to_bytes();
        check_set(
            &before,
            &lines(&after),
            section,
            key,
            &format!("{key}{sep}{value}"),
        );
        assert_eq!(ini.get(section, key).as_deref(), Some(value.trim()));
        ini.set(section, key, value, sep).expect("no line break");
        assert!(
            ini.to_bytes() == after,
            "setting [{section}] {key} twice differs from once"
        );
    }
    for &(section, key) in REMOVES {
        let mut ini = original.clone();
        let removed = ini.remove(section, key);
        let kept: Vec<&[u8]> = before
            .iter()
            .zip(sections(&before))
            .filter(|(line, s)| !is_key_in(line, s.as_deref(), section, key))
            .map(|(line, _)| *line)
            .collect();
        assert_eq!(removed, kept.len() < before.len());
        assert!(lines(&ini.to_bytes()) == kept, "remove touched other lines");
        assert_eq!(ini.get(section, key), None);
    }
    for value in LINE_BREAKS {
        let mut ini = original.clone();
        assert!(ini.set("user", "default", value, "=").is_err());
        assert!(
            ini.to_bytes() == written,
            "a refused value changed the file"
        );
    }
}

fn check_set(before: &[&[u8]], after: &[&[u8]], section: &str, key: &str, new_line: &str) {
    let new_line = new_line.as_bytes();
    let in_section = |lines: &[&[u8]]| -> Vec<bool> {
        lines
            .iter()
            .zip(sections(lines))
            .map(|(line, s)| is_key_in(line, s.as_deref(), section, key))
            .collect()
    };
    let (was, now) = (in_section(before), in_section(after));
    let count = was.iter().filter(|&&b| b).count();
    assert_eq!(
        now.iter().filter(|&&b| b).count(),
        count.max(1),
        "[{section}] {key} is not there as often as before (once when new)"
    );
    for (line, ours) in after.iter().zip(&now) {
        assert!(
            !ours || *line == new_line,
            "an old [{section}] {key} line was left"
        );
    }
    if count > 0 {
        // Replaced in place.
        assert_eq!(after.len(), before.len());
        for ((a, b), ours) in after.iter().zip(before).zip(&was) {
            assert!(*ours || a == b, "a line outside the edit changed");
        }
        return;
    }
    let has_section = sections(before).iter().zip(before).any(|(s, line)| {
        s.as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case(section.as_bytes()))
            && header(line).is_some()
    });
    if has_section {
        // One line inserted inside the section.
        assert_eq!(after.len(), before.len() + 1);
        let at = now.iter().position(|&b| b).expect("counted above");
        let mut without = after.to_vec();
        without.remove(at);
        assert!(without == before, "a line outside the edit changed");
        return;
    }
    // A new section at the end, after a blank line.
    let mut expected = before.to_vec();
    if before.last().is_some_and(|l| !l.trim_ascii().is_empty()) {
        expected.push(b"");
    }
    let header = format!("[{section}]");
    expected.extend([header.as_bytes(), new_line]);
    assert!(
        after == expected,
        "a new section was not appended as it should be"
    );
}

/// The file's lines, as the editor sees them (one final newline is not a line).
fn lines(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    body.split(|&b| b == b'\n').collect()
}

/// `[name]` (spaces around the name ignored), anything after the `]` ignored.
fn header(line: &[u8]) -> Option<&[u8]> {
    let rest = line.trim_ascii().strip_prefix(b"[")?;
    let end = rest.iter().position(|&b| b == b']')?;
    Some(rest[..end].trim_ascii())
}

/// The section each line is in (a header is in its own section).
fn sections(lines: &[&[u8]]) -> Vec<Option<Vec<u8>>> {
    let mut current = None;
    lines
        .iter()
        .map(|line| {
            if let Some(name) = header(line) {
                current = Some(name.to_vec());
            }
            current.clone()
        })
        .collect()
}

/// Whether `line`, in section `current`, sets `key` of `section`: not a header or comment,
/// and the name before its first `=` is `key` (case-insensitively, as WSL compares).
fn is_key_in(line: &[u8], current: Option<&[u8]>, section: &str, key: &str) -> bool {
    let t = line.trim_ascii();
    if header(line).is_some() || t.starts_with(b"#") || t.starts_with(b";") {
        return false;
    }
    let Some(eq) = t.iter().position(|&b| b == b'=') else {
        return false;
    };
    current.is_some_and(|s| s.eq_ignore_ascii_case(section.as_bytes()))
        && t[..eq].trim_ascii().eq_ignore_ascii_case(key.as_bytes())
}
