//! The structural promises of every tar wslbox writes, checked by the rootfs tests and the
//! fuzz target (`fuzz/src/check.rs`) alike: names are relative and free of `..`, no path
//! appears twice, every directory comes before its contents, and every hardlink comes after
//! its target, which is named without `..` too. The one exception to the order of
//! directories: the regular files streamed while their layer was read come first, before
//! the root directory's entry, which starts everything else.

use std::collections::HashSet;
use std::io::Read;

/// Panics, naming the entry, when the tar read from `input` breaks a promise.
pub fn check_output(input: impl Read) {
    let mut archive = tar::Archive::new(input);
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut dirs: HashSet<Vec<u8>> = HashSet::from([Vec::new()]);
    let mut tree_started = false;
    for entry in archive.entries().expect("output parses") {
        let entry = entry.expect("output parses");
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        assert!(!raw.starts_with(b"/"), "absolute output name {shown:?}");
        assert!(!has_dotdot(&raw), "`..` in output name {shown:?}");
        let path = normalize(&raw);
        assert!(seen.insert(path.clone()), "duplicate output name {shown:?}");
        let kind = entry.header().entry_type();
        if path.is_empty() {
            assert!(
                kind == tar::EntryType::Directory,
                "the root {shown:?} is not a directory"
            );
            tree_started = true;
        } else if !tree_started {
            assert!(
                kind == tar::EntryType::Regular,
                "{shown:?} comes before the root directory, and only streamed regular files may"
            );
        } else {
            let parent = path
                .iter()
                .rposition(|&b| b == b'/')
                .map_or(Vec::new(), |i| path[..i].to_vec());
            assert!(dirs.contains(&parent), "{shown:?} precedes its directory");
        }
        match kind {
            tar::EntryType::Directory => {
                dirs.insert(path);
            }
            tar::EntryType::Link => {
                let target = entry
                    .link_name_bytes()
                    .expect("hardlink has a target")
                    .into_owned();
                let target_shown = String::from_utf8_lossy(&target).into_owned();
                assert!(
                    !has_dotdot(&target),
                    "`..` in the target {target_shown:?} of hardlink {shown:?}"
                );
                let target = normalize(&target);
                assert!(
                    seen.contains(&target) && target != path,
                    "hardlink {shown:?} precedes its target {target_shown:?}"
                );
            }
            _ => {}
        }
    }
}

fn has_dotdot(name: &[u8]) -> bool {
    name.split(|&b| b == b'/').any(|c| c == b"..")
}

/// Without empty and `.` components, so `./a//b` and `a/b` are the same path.
fn normalize(p: &[u8]) -> Vec<u8> {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect::<Vec<_>>()
        .join(&b'/')
}
