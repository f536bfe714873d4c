//! containers-registries.conf(5) version 2, the part that concerns pulls: `[[registry]]`
//! tables with `prefix` (or `location`), `insecure`, `blocked`, `mirror-by-digest-only`, and
//! `[[registry.mirror]]` with `location`, `insecure`, `pull-from-mirror`. Other keys, and the
//! v1 format, are ignored. Finding the file is the binary's business.

use std::path::Path;

use wslbox_reference::Reference;

use crate::{Mirror, PullFrom};

/// What a registries.conf says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistriesConf {
    /// In file order; [`Mirror::registry`] is the `[[registry]]` prefix.
    pub mirrors: Vec<Mirror>,
    pub blocked: Vec<Blocked>,
    /// `host[:port]` of registries and mirrors marked `insecure = true`.
    pub insecure: Vec<String>,
    /// Set when the file has v1 tables (`[registries.search]` …), which are not read.
    pub v1_ignored: bool,
}

/// A registry prefix that may not be pulled from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub prefix: String,
    /// The file that says so, for the error.
    pub source: String,
}

impl Blocked {
    pub fn matches(&self, reference: &Reference) -> bool {
        crate::mirrors::under_prefix(reference, &self.prefix)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct RegistriesConfError {
    pub path: String,
    pub reason: String,
}

#[derive(serde::Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<RegistryTable>,
    #[serde(default)]
    registries: Option<toml::Value>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct RegistryTable {
    prefix: Option<String>,
    location: Option<String>,
    #[serde(default)]
    insecure: bool,
    #[serde(default)]
    blocked: bool,
    #[serde(default)]
    mirror_by_digest_only: bool,
    #[serde(default)]
    mirror: Vec<MirrorTable>,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
struct MirrorTable {
    location: String,
    #[serde(default)]
    insecure: bool,
    pull_from_mirror: Option<String>,
}

impl RegistriesConf {
    /// Reads the file at `path`; `None` when it does not exist.
    pub fn load(path: &Path) -> Result<Option<RegistriesConf>, RegistriesConfError> {
        match fs_err::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(RegistriesConfError {
                path: path.display().to_string(),
                reason: e.to_string(),
            }),
        }
    }

    /// `name` is the file's path, for messages.
    pub fn parse(text: &str, name: &str) -> Result<RegistriesConf, RegistriesConfError> {
        let bad = |reason: String| RegistriesConfError {
            path: name.to_owned(),
            reason,
        };
        let file: File = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
        let mut conf = RegistriesConf {
            v1_ignored: file.registries.is_some(),
            ..RegistriesConf::default()
        };
        for table in file.registry {
            let Some(prefix) = table.prefix.clone().or_else(|| table.location.clone()) else {
                return Err(bad(
                    "a [[registry]] has neither `prefix` nor `location`".into()
                ));
            };
            let prefix = prefix.trim().trim_end_matches('/').to_owned();
            // An empty prefix would make mirrors and blocks that apply to no image at all.
            if prefix.is_empty() {
                return Err(bad("a [[registry]] has an empty `prefix`/`location`".into()));
            }
            if table.insecure {
                conf.insecure.push(authority(&prefix));
            }
            if table.blocked {
                conf.blocked.push(Blocked {
                    prefix: prefix.clone(),
                    source: name.to_owned(),
                });
            }
            for m in &table.mirror {
                let mut mirror = Mirror::parse(&m.location)
                    .map_err(|e| bad(format!("[[registry.mirror]] of `{prefix}`: {e}")))?;
                mirror.registry = prefix.clone();
                mirror.pull = match (table.mirror_by_digest_only, m.pull_from_mirror.as_deref()) {
                    (true, _) => PullFrom::DigestOnly,
                    (false, None | Some("all")) => PullFrom::All,
                    (false, Some("digest-only")) => PullFrom::DigestOnly,
                    (false, Some("tag-only")) => PullFrom::TagOnly,
                    (false, Some(other)) => {
                        return Err(bad(format!(
                            "pull-from-mirror = \"{other}\" for a mirror of `{prefix}`: expected \"all\", \"digest-only\" or \"tag-only\""
                        )));
                    }
                };
                if m.insecure {
                    conf.insecure.push(mirror.authority());
                }
                conf.mirrors.push(mirror);
            }
        }
        Ok(conf)
    }
}

/// `host[:port]` of a prefix like `host:port/namespace`.
fn authority(prefix: &str) -> String {
    prefix.split('/').next().unwrap_or(prefix).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries_mirrors_and_flags_are_read() {
        let conf = RegistriesConf::parse(
            r#"
unqualified-search-registries = ["docker.io"]
[[registry]]
prefix = "docker.io/library"
location = "docker.io/library"
mirror-by-digest-only = true
[[registry.mirror]]
location = "m.example/official"
[[registry]]
location = "quay.io"
insecure = true
[[registry.mirror]]
location = "q.example:5000"
insecure = true
pull-from-mirror = "tag-only"
[[registry]]
prefix = "evil.example"
blocked = true
unknown-key = 1
"#,
            "test.conf",
        )
        .unwrap();
        assert_eq!(conf.mirrors.len(), 2);
        assert_eq!(conf.mirrors[0].registry, "docker.io/library");
        assert_eq!(conf.mirrors[0].pull, PullFrom::DigestOnly);
        assert_eq!(
            conf.mirrors[0].repository("library/debian"),
            "official/debian"
        );
        assert_eq!(conf.mirrors[1].registry, "quay.io");
        assert_eq!(conf.mirrors[1].pull, PullFrom::TagOnly);
        assert_eq!(conf.insecure, ["quay.io", "q.example:5000"]);
        let blocked = &conf.blocked[0];
        assert_eq!(blocked.source, "test.conf");
        assert!(blocked.matches(&"evil.example/a/b:1".parse().unwrap()));
        assert!(!blocked.matches(&"evil.example.com/a:1".parse().unwrap()));
        assert!(!conf.v1_ignored);
    }

    /// Found by the stable `registries_conf` fuzz cases (seed `empty-prefix`).
    #[test]
    fn empty_registry_prefix_is_refused() {
        for prefix in ["", " ", "/"] {
            let text = format!(
                "[[registry]]\nprefix = '{prefix}'\n[[registry.mirror]]\nlocation = 'm.example'\n"
            );
            let e = RegistriesConf::parse(&text, "x.conf").unwrap_err();
            assert!(e.reason.contains("empty"), "{e}");
        }
    }

    #[test]
    fn v1_is_ignored_and_bad_values_name_the_file() {
        let v1 = RegistriesConf::parse(
            "[registries.search]\nregistries = ['docker.io']\n",
            "v1.conf",
        )
        .unwrap();
        assert!(v1.v1_ignored && v1.mirrors.is_empty());
        let e = RegistriesConf::parse(
            "[[registry]]\nprefix = 'a.example'\n[[registry.mirror]]\nlocation = 'm.example'\npull-from-mirror = 'sometimes'\n",
            "bad.conf",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("bad.conf: "), "{e}");
        assert!(RegistriesConf::parse("[[registry]]\ninsecure = true\n", "x").is_err());
        assert!(RegistriesConf::parse("not toml [", "x").is_err());
    }
}
