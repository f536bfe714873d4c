//! OS detection from the flattened tree's `os-release` (os-release(5)), read through
//! [`TreeView`] so no second pass over the layers is needed.

use crate::TreeView;
use crate::resolve::read_resolved;

/// The distribution an image contains, from `/etc/os-release` or `/usr/lib/os-release`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OsRelease {
    /// `ID`, e.g. `debian`; os-release(5) defaults it to `linux`.
    pub id: String,
    /// `ID_LIKE`, e.g. `["rhel", "fedora"]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_like: Vec<String>,
    /// `NAME`, e.g. `Debian GNU/Linux`; defaults to `Linux`.
    pub name: String,
    /// `VERSION_ID`, e.g. `12`; absent on rolling releases.
    pub version_id: Option<String>,
    /// `PRETTY_NAME`, e.g. `Debian GNU/Linux 12 (bookworm)`; defaults to `Linux`.
    pub pretty_name: String,
}

impl OsRelease {
    /// Parses os-release contents. Lines are `KEY=VALUE` with shell-like quoting; comments,
    /// blank lines and lines that are not assignments are ignored, as os-release(5) allows.
    pub fn parse(contents: &[u8]) -> Self {
        let text = String::from_utf8_lossy(contents);
        let mut os = OsRelease {
            id: "linux".into(),
            id_like: Vec::new(),
            name: "Linux".into(),
            version_id: None,
            pretty_name: "Linux".into(),
        };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('#') {
                continue;
            }
            let Some((key, raw)) = line.split_once('=') else {
                continue;
            };
            let value = unquote(raw);
            match key.trim() {
                "ID" => os.id = value,
                "ID_LIKE" => os.id_like = value.split_whitespace().map(String::from).collect(),
                "NAME" => os.name = value,
                "VERSION_ID" => os.version_id = Some(value),
                "PRETTY_NAME" => os.pretty_name = value,
                _ => {}
            }
        }
        os
    }

    /// True when the distribution is `id` or declares itself like it (`ID_LIKE`).
    pub fn is_like(&self, id: &str) -> bool {
        self.id == id || self.id_like.iter().any(|l| l == id)
    }
}

/// Detects the OS: `etc/os-release`, falling back to `usr/lib/os-release` (os-release(5)),
/// following symlinks within the tree (Debian's `/etc/os-release` is `../usr/lib/os-release`).
pub fn detect_os(view: &dyn TreeView) -> Option<OsRelease> {
    ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|path| {
            read_resolved(view, path.as_bytes())
                .ok()
                .flatten()
                .map(|data| OsRelease::parse(&data))
        })
}

/// Undoes the shell quoting os-release(5) allows: `"..."` (with `\` escaping `"`, `\`, `$`,
/// `` ` ``), `'...'` (literal) and unquoted words with `\` escapes, concatenated.
fn unquote(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => out.extend(chars.by_ref().take_while(|&c| c != '\'')),
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                            Some(other) => {
                                out.push('\\');
                                out.push(other);
                            }
                            None => out.push('\\'),
                        },
                        other => out.push(other),
                    }
                }
            }
            '\\' => out.extend(chars.next()),
            // An unquoted `#` after whitespace starts a comment in shell; values rarely do this.
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_double_single_and_unquoted_values() {
        let os = OsRelease::parse(
            b"# comment\nNAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID='40'\n\
              PRETTY_NAME=\"Say \\\"hi\\\" \\$HOME\"\nID_LIKE=\"rhel centos\"\nbogus line\n",
        );
        assert_eq!(os.id, "fedora");
        assert_eq!(os.name, "Fedora Linux");
        assert_eq!(os.version_id.as_deref(), Some("40"));
        assert_eq!(os.pretty_name, "Say \"hi\" $HOME");
        assert_eq!(os.id_like, ["rhel", "centos"]);
        assert!(os.is_like("rhel"));
    }

    #[test]
    fn missing_keys_take_the_documented_defaults() {
        let os = OsRelease::parse(b"VERSION=1\n");
        assert_eq!(
            (os.id.as_str(), os.name.as_str(), os.pretty_name.as_str()),
            ("linux", "Linux", "Linux")
        );
        assert_eq!(os.version_id, None);
    }

    #[test]
    fn unquoted_backslash_escapes_and_concatenation() {
        assert_eq!(unquote(r#"a\ b"c d"'e'"#), "a bc de");
    }
}
