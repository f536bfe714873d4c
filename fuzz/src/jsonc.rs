//! The Windows Terminal JSON invariant (`wslbox_wsl::jsonc`, `terminal_profiles`), shared by
//! the `terminal_json` cargo-fuzz target and crates/wslbox-wsl/tests/fuzz_jsonc.rs.
//!
//! For any text: `jsonc::parse` never panics, and `quote` of it decodes back through
//! serde_json. For any text that parses, each rename (and profile repoint) gives text that
//! parses again with the same structure, differs from the input only inside string values the
//! edit may touch (each with the value it must get), leaves no reference to the old name
//! behind, and is idempotent.

use wslbox_wsl::args::rewrite_distribution_args;
use wslbox_wsl::jsonc::{self, Kind, Node};
use wslbox_wsl::names::same_name;
use wslbox_wsl::terminal_ids::generated_profile_guid;
use wslbox_wsl::terminal_profiles::{rename_in_terminal_json, repoint_profile};

/// The distribution GUID the seed corpus uses.
pub const GUID: &str = "{11111111-2222-3333-4444-555555555555}";

/// Renames tried on every input: plain, case-only, to a longer name, with `-` and `.`.
pub const RENAMES: &[(&str, &str)] = &[
    ("Old", "New"),
    ("Ubuntu", "Work"),
    ("ubuntu", "Ubuntu"),
    ("Debian", "debian-12.wslbox-new"),
    ("a", "a-b"),
];

/// Profile repoints tried on every input (`wslbox upgrade`).
pub const REPOINTS: &[(&str, &str)] = &[
    ("{aaaa-old}", "{cccc-new}"),
    ("{2c4de342-38b7-51cf-b940-2309a097f518}", "{0}"),
];

/// Panics when the invariant is broken; returns how many of the edits changed the text, or
/// `None` when it did not parse.
pub fn check_terminal_json(data: &[u8]) -> Option<usize> {
    let src = std::str::from_utf8(data).ok()?;
    check_quote(src);
    let root = jsonc::parse(src).ok()?;
    let renamed = RENAMES
        .iter()
        .filter(|(old, new)| check_rename(src, &root, old, new));
    let repointed = REPOINTS
        .iter()
        .filter(|(old, new)| check_repoint(src, &root, old, new));
    Some(renamed.count() + repointed.count())
}

/// `quote(s)` is a JSON string literal that decodes to `s`, for serde_json and our parser.
pub fn check_quote(s: &str) {
    let quoted = jsonc::quote(s);
    let back: String = serde_json::from_str(&quoted).expect("quote gives a JSON string");
    assert_eq!(back, s, "quote does not round-trip through serde_json");
    let node = jsonc::parse(&quoted).expect("quote gives a string our parser reads");
    assert_eq!(
        node.as_str(),
        Some(s),
        "quote does not round-trip through jsonc"
    );
    assert_eq!(node.span, 0..quoted.len());
}

fn check_rename(src: &str, root: &Node, old: &str, new: &str) -> bool {
    let out = rename_in_terminal_json(src, GUID, old, new).expect("the text parsed");
    let Some(out) = out else {
        return false;
    };
    let changed = edited_values(src, root, &out);
    let (hidden_old, hidden_new) = (generated_profile_guid(old), generated_profile_guid(new));
    for (key, before, after) in &changed {
        let allowed = match key.as_deref() {
            Some("name") => same_name(before, old) && after == new,
            Some("commandline") => {
                rewrite_distribution_args(before, old, new).as_deref() == Some(after.as_str())
            }
            Some("updates") => same_guid(before, &hidden_old) && *after == hidden_new,
            _ => false,
        };
        assert!(
            allowed,
            "rename {old} → {new} changed {key:?} from {before:?} to {after:?}"
        );
    }
    // The edit took: no profile of the distribution still carries the old name.
    let out_root = jsonc::parse(&out).expect("edited text parses");
    if !same_name(old, new) {
        out_root.visit_objects(&mut |o: &Node| {
            if o.get("updates").is_some() {
                return;
            }
            let ours = o
                .get("guid")
                .and_then(Node::as_str)
                .is_some_and(|g| same_guid(g, GUID));
            let name = o.get("name").and_then(Node::as_str);
            assert!(
                !(ours && name.is_some_and(|n| same_name(n, old))),
                "rename {old} → {new} left the distribution's profile named {name:?}"
            );
            if let Some(c) = o.get("commandline").and_then(Node::as_str) {
                assert_eq!(
                    rewrite_distribution_args(c, old, new),
                    None,
                    "rename {old} → {new} left `-d {old}` in {c:?}"
                );
            }
        });
    }
    let twice = rename_in_terminal_json(&out, GUID, old, new).expect("edited text parses");
    assert!(
        twice.is_none_or(|t| t == out),
        "renaming {old} → {new} twice differs from once"
    );
    true
}

fn check_repoint(src: &str, root: &Node, old: &str, new: &str) -> bool {
    let out = repoint_profile(src, old, new).expect("the text parsed");
    let Some(out) = out else {
        return false;
    };
    for (key, before, after) in edited_values(src, root, &out) {
        assert!(
            matches!(key.as_deref(), Some("guid" | "defaultProfile" | "updates"))
                && same_guid(&before, old)
                && after == new,
            "repoint {old} → {new} changed {key:?} from {before:?} to {after:?}"
        );
    }
    let twice = repoint_profile(&out, old, new).expect("edited text parses");
    assert!(
        twice.is_none_or(|t| t == out),
        "repointing {old} → {new} twice differs from once"
    );
    true
}

/// The string values that differ between `src` and its edit `out`, as (member key, before,
/// after). Panics unless `out` parses to the same structure and equals `src` with only those
/// values' spans replaced: every other byte (comments, commas, spacing) is the same.
fn edited_values(src: &str, root: &Node, out: &str) -> Vec<(Option<String>, String, String)> {
    let out_root = jsonc::parse(out).expect("edited text parses");
    let mut diffs = Vec::new();
    walk(src, root, out, &out_root, None, &mut diffs);
    let mut rebuilt = String::new();
    let mut last = 0;
    let mut changed = Vec::new();
    for (key, a, b) in diffs {
        rebuilt.push_str(&src[last..a.span.start]);
        rebuilt.push_str(&out[b.span.clone()]);
        last = a.span.end;
        let (Some(before), Some(after)) = (a.as_str(), b.as_str()) else {
            panic!(
                "an edit changed a non-string value {:?}",
                &src[a.span.clone()]
            );
        };
        changed.push((key, before.to_owned(), after.to_owned()));
    }
    rebuilt.push_str(&src[last..]);
    assert!(
        rebuilt == out,
        "the edit changed bytes outside the edited values"
    );
    changed
}

type Diff<'a> = (Option<String>, &'a Node, &'a Node);

fn walk<'a>(
    src: &str,
    a: &'a Node,
    out: &str,
    b: &'a Node,
    key: Option<&str>,
    diffs: &mut Vec<Diff<'a>>,
) {
    if src[a.span.clone()] == out[b.span.clone()] {
        return;
    }
    match (&a.kind, &b.kind) {
        (Kind::Object(am), Kind::Object(bm)) => {
            assert_eq!(am.len(), bm.len(), "an edit changed an object's members");
            for ((ka, va), (kb, vb)) in am.iter().zip(bm) {
                assert_eq!(ka, kb, "an edit changed a key");
                walk(src, va, out, vb, Some(ka), diffs);
            }
        }
        (Kind::Array(ai), Kind::Array(bi)) => {
            assert_eq!(ai.len(), bi.len(), "an edit changed an array's length");
            for (va, vb) in ai.iter().zip(bi) {
                walk(src, va, out, vb, None, diffs);
            }
        }
        _ => diffs.push((key.map(str::to_owned), a, b)),
    }
}

fn same_guid(a: &str, b: &str) -> bool {
    let bare = |g: &str| g.trim_matches(|c| c == '{' || c == '}').to_lowercase();
    bare(a) == bare(b)
}
