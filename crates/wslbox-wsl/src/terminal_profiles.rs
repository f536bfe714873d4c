//! Renaming a distribution inside Windows Terminal JSON (fragments and `settings.json`).
//!
//! A profile belongs to the distribution when its `guid` is the distribution's GUID, its
//! `commandline` mentions that GUID (`wsl.exe --distribution-id {GUID}`, what WSL writes) or
//! `-d OLD`, or it is a Terminal-generated WSL profile (`source: Windows.Terminal.Wsl`) named
//! OLD. Its `name` is changed only when it is still OLD, so a name the user chose survives.
//!
//! WSL's fragment also hides the profile Terminal generates for the distribution's name with
//! `{"updates": H(name), "hidden": true}` ([`generated_profile_guid`]); that entry is pointed
//! at H(NEW), or Terminal would show a generated profile for the new name next to ours.

use crate::args::rewrite_distribution_args;
use crate::jsonc::{self, JsoncError, Node};
use crate::names::same_name;
use crate::terminal_ids::generated_profile_guid;

/// Rewrites the profiles of distribution `guid` from `old` to `new`; `None` when nothing
/// refers to it.
pub fn rename_in_terminal_json(
    src: &str,
    guid: &str,
    old: &str,
    new: &str,
) -> Result<Option<String>, JsoncError> {
    let root = jsonc::parse(src)?;
    let mut edits = Vec::new();
    let (hidden_old, hidden_new) = (generated_profile_guid(old), generated_profile_guid(new));
    root.visit_objects(&mut |object: &Node| {
        if let Some(updates) = object.get("updates")
            && updates.as_str().is_some_and(|g| same_guid(g, &hidden_old))
            && hidden_old != hidden_new
        {
            // No early return: an object that is also the distribution's profile gets its
            // name and command line edited in the same pass, so a second rename changes nothing.
            edits.push((updates.span.clone(), jsonc::quote(&hidden_new)));
        }
        let name = object.get("name").and_then(|n| n.as_str().map(|s| (n, s)));
        let commandline = object
            .get("commandline")
            .and_then(|n| n.as_str().map(|s| (n, s)));
        let rewritten = commandline.and_then(|(_, c)| rewrite_distribution_args(c, old, new));
        let ours = object
            .get("guid")
            .and_then(Node::as_str)
            .is_some_and(|g| same_guid(g, guid))
            || commandline.is_some_and(|(_, c)| c.to_lowercase().contains(&bare_guid(guid)))
            || rewritten.is_some()
            || (object.get("source").and_then(Node::as_str) == Some("Windows.Terminal.Wsl")
                && name.is_some_and(|(_, n)| same_name(n, old)));
        if !ours {
            return;
        }
        if let Some((node, n)) = name
            && same_name(n, old)
        {
            edits.push((node.span.clone(), jsonc::quote(new)));
        }
        if let (Some((node, _)), Some(line)) = (commandline, rewritten) {
            edits.push((node.span.clone(), jsonc::quote(&line)));
        }
    });
    if edits.is_empty() {
        return Ok(None);
    }
    Ok(Some(jsonc::apply_edits(src, edits)))
}

/// `wslbox upgrade`: a new registration gets a new fragment profile GUID (WSL derives it from
/// the distribution GUID), so the user's `settings.json` entries for the old profile (colors,
/// fonts, `defaultProfile`) are pointed at the new one: every `guid`, `defaultProfile` and
/// `updates` value equal to `old_profile` becomes `new_profile`. `None` when none is.
pub fn repoint_profile(
    src: &str,
    old_profile: &str,
    new_profile: &str,
) -> Result<Option<String>, JsoncError> {
    let root = jsonc::parse(src)?;
    let mut edits = Vec::new();
    root.visit_objects(&mut |object: &Node| {
        for key in ["guid", "defaultProfile", "updates"] {
            if let Some(node) = object.get(key)
                && node.as_str().is_some_and(|g| same_guid(g, old_profile))
            {
                edits.push((node.span.clone(), jsonc::quote(new_profile)));
            }
        }
    });
    if edits.is_empty() {
        return Ok(None);
    }
    Ok(Some(jsonc::apply_edits(src, edits)))
}

fn bare_guid(guid: &str) -> String {
    guid.trim_matches(|c| c == '{' || c == '}').to_lowercase()
}

fn same_guid(a: &str, b: &str) -> bool {
    bare_guid(a) == bare_guid(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUID: &str = "{11111111-2222-3333-4444-555555555555}";

    #[test]
    fn settings_with_comments_keeps_everything_but_the_names() {
        let src = r#"{
    // my settings, hand-edited
    "defaultProfile": "{aaaa}",
    "profiles": {
        "defaults": {},
        "list": [
            /* WSL profile */
            { "name": "Old", "guid": "{aaaa}", "source": "Windows.Terminal.Wsl", "hidden": false },
            { "commandline": "wsl.exe -d Old -u root", "name": "Old as root", "guid": "{bbbb}" },
            { "name": "Old", "guid": "{cccc}", "commandline": "cmd.exe" },
        ]
    }
}
"#;
        let out = rename_in_terminal_json(src, GUID, "Old", "New")
            .unwrap()
            .unwrap();
        let expected = src
            .replace(
                r#"{ "name": "Old", "guid": "{aaaa}""#,
                r#"{ "name": "New", "guid": "{aaaa}""#,
            )
            .replace("wsl.exe -d Old -u root", "wsl.exe -d New -u root");
        assert_eq!(out, expected);
    }

    #[test]
    fn settings_entries_of_the_old_profile_follow_the_new_one() {
        let src = r#"{
    "defaultProfile": "{AAAA-old}", // the upgraded distribution
    "profiles": { "list": [
        { "guid": "{aaaa-old}", "colorScheme": "Campbell" }, /* mine */
        { "guid": "{bbbb}", "name": "PowerShell" },
    ] }
}"#;
        let out = repoint_profile(src, "{aaaa-old}", "{cccc-new}")
            .unwrap()
            .unwrap();
        assert_eq!(
            out,
            src.replace("{AAAA-old}", "{cccc-new}")
                .replace("{aaaa-old}", "{cccc-new}")
        );
        assert_eq!(repoint_profile(src, "{dddd}", "{eeee}").unwrap(), None);
    }

    #[test]
    fn fragment_matched_by_distribution_guid() {
        let src = format!(
            r#"{{"profiles":[{{"guid":"{}","name":"Old","commandline":"wsl.exe --distribution-id {GUID}","startingDirectory":"~"}}]}}"#,
            GUID.to_lowercase()
        );
        let out = rename_in_terminal_json(&src, GUID, "old", "New")
            .unwrap()
            .unwrap();
        assert_eq!(out, src.replace(r#""name":"Old""#, r#""name":"New""#));
    }

    #[test]
    fn the_hide_entry_follows_the_new_name() {
        // As WSL writes a fragment for `Ubuntu` (the published vector).
        let src = format!(
            r#"{{"profiles":[{{"updates":"{{2c4de342-38b7-51cf-b940-2309a097f518}}","hidden":true}},{{"guid":"{{p}}","name":"Ubuntu","commandline":"wsl.exe --distribution-id {GUID}"}}]}}"#
        );
        let out = rename_in_terminal_json(&src, GUID, "Ubuntu", "Work")
            .unwrap()
            .unwrap();
        let expected = src
            .replace(
                "{2c4de342-38b7-51cf-b940-2309a097f518}",
                &generated_profile_guid("Work"),
            )
            .replace(r#""name":"Ubuntu""#, r#""name":"Work""#);
        assert_eq!(out, expected);
    }

    #[test]
    fn hide_entry_that_is_also_the_profile_renamed_in_one_pass() {
        // Found by the terminal_json fuzz target: renaming twice used to differ from once.
        let src = format!(
            r#"{{"updates":"{}","name":"Ubuntu","guid":"{GUID}"}}"#,
            generated_profile_guid("Ubuntu")
        );
        let out = rename_in_terminal_json(&src, GUID, "Ubuntu", "Work")
            .unwrap()
            .unwrap();
        let expected = src
            .replace(
                &generated_profile_guid("Ubuntu"),
                &generated_profile_guid("Work"),
            )
            .replace(r#""name":"Ubuntu""#, r#""name":"Work""#);
        assert_eq!(out, expected);
        assert_eq!(
            rename_in_terminal_json(&out, GUID, "Ubuntu", "Work").unwrap(),
            None
        );
    }

    #[test]
    fn bom_and_crlf_line_ends_kept() {
        let src = "\u{feff}{\r\n  // c\r\n  \"profiles\": [ { \"name\": \"Old\", \"commandline\": \"wsl -d Old\" } ]\r\n}\r\n";
        let out = rename_in_terminal_json(src, GUID, "Old", "New")
            .unwrap()
            .unwrap();
        assert_eq!(out, src.replace("Old", "New"));
    }

    #[test]
    fn unrelated_file_untouched() {
        let src = r#"{"profiles": {"list": [{"name": "PowerShell", "guid": "{x}"}]}}"#;
        assert_eq!(
            rename_in_terminal_json(src, GUID, "Old", "New").unwrap(),
            None
        );
    }
}
