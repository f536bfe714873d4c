//! The wslbox config file: `$WSLBOX_CONFIG`, else `wslbox/config.json` in the user's config
//! directory (`%APPDATA%` on Windows, `$XDG_CONFIG_HOME` or `~/.config` elsewhere). Only
//! `"registry-mirrors"` is read: a list of URLs (docker.io mirrors, like dockerd's
//! `daemon.json`) or an object `{"ghcr.io": ["https://…"]}`. Entries use the grammar of
//! `--registry-mirror` ([`wslbox_registry::Mirror::parse`]). Also finds containers'
//! registries.conf, which the registry crate parses.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde_json::Value;
use wslbox_registry::{Blocked, Mirror, RegistriesConf};

const KEY: &str = "registry-mirrors";

/// The registry configuration pulls use.
#[derive(Debug, Default)]
pub struct Registries {
    pub mirrors: Vec<Mirror>,
    pub blocked: Vec<Blocked>,
    /// Registries registries.conf marks `insecure`, besides `--insecure-registry`.
    pub insecure: Vec<String>,
}

/// Mirrors from the first source that names any (they are not merged): `flag` (the
/// `--registry-mirror` values, or `WSLBOX_REGISTRY_MIRRORS`), the config file, registries.conf;
/// registries.conf's `blocked` and `insecure` apply whatever the mirrors came from.
pub fn registries(flag: &[String]) -> anyhow::Result<Registries> {
    let mut mirrors: Vec<Mirror> = flag
        .iter()
        .filter(|m| !m.trim().is_empty())
        .map(|m| Mirror::parse(m))
        .collect::<Result<_, _>>()
        .context("--registry-mirror / WSLBOX_REGISTRY_MIRRORS")?;
    if mirrors.is_empty()
        && let Some(path) = path()
    {
        mirrors = registry_mirrors(&path)?;
    }
    let Some(conf) = registries_conf()? else {
        return Ok(Registries {
            mirrors,
            ..Registries::default()
        });
    };
    if conf.v1_ignored {
        crate::printer::warn(
            "registries.conf in the v1 format ([registries.*]) is ignored; only v2 [[registry]] tables are read",
        );
    }
    if mirrors.is_empty() {
        mirrors = conf.mirrors;
    }
    Ok(Registries {
        mirrors,
        blocked: conf.blocked,
        insecure: conf.insecure,
    })
}

/// `WSLBOX_READ_TIMEOUT`: seconds a registry connection may send nothing before it counts as
/// stalled and is retried (resuming a download where it stopped); unset means 60.
pub fn read_timeout() -> anyhow::Result<Option<std::time::Duration>> {
    let Some(value) = std::env::var_os("WSLBOX_READ_TIMEOUT") else {
        return Ok(None);
    };
    let seconds: f64 = (value.to_str())
        .and_then(|v| v.trim().parse().ok())
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .with_context(|| {
            format!(
                "WSLBOX_READ_TIMEOUT={}: give a number of seconds above 0",
                value.to_string_lossy()
            )
        })?;
    Ok(Some(std::time::Duration::from_secs_f64(seconds)))
}

/// Where the config file is looked for; `None` when no config directory is known.
fn path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("WSLBOX_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    wslbox_dirs::config().ok().map(|d| d.join("config.json"))
}

/// containers-registries.conf: `$CONTAINERS_REGISTRIES_CONF` if set, else the user's
/// (`<config dir>/containers/registries.conf`) if it exists, else `/etc/containers/registries.conf`.
fn registries_conf() -> anyhow::Result<Option<RegistriesConf>> {
    if let Some(p) = std::env::var_os("CONTAINERS_REGISTRIES_CONF").filter(|p| !p.is_empty()) {
        return Ok(RegistriesConf::load(Path::new(&p))?);
    }
    let user =
        (wslbox_dirs::config_root().ok()).map(|d| d.join("containers").join("registries.conf"));
    for path in user.into_iter().chain(system_registries_conf()) {
        if let Some(conf) = RegistriesConf::load(&path)? {
            return Ok(Some(conf));
        }
    }
    Ok(None)
}

#[cfg(windows)]
fn system_registries_conf() -> Option<PathBuf> {
    None
}

#[cfg(not(windows))]
fn system_registries_conf() -> Option<PathBuf> {
    Some(PathBuf::from("/etc/containers/registries.conf"))
}

/// The mirrors the config file at `path` names; none when it does not exist.
fn registry_mirrors(path: &Path) -> anyhow::Result<Vec<Mirror>> {
    let text = match fs_err::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e.into()),
    };
    let config: Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    parse_mirrors(&config).with_context(|| format!("{}: key \"{KEY}\"", path.display()))
}

fn parse_mirrors(config: &Value) -> anyhow::Result<Vec<Mirror>> {
    let strings = |v: &Value| -> anyhow::Result<Vec<String>> {
        match v {
            Value::Array(items) => items
                .iter()
                .map(|i| match i {
                    Value::String(s) => Ok(s.clone()),
                    other => bail!("expected a URL string, found {other}"),
                })
                .collect(),
            other => bail!("expected a list of URLs, found {other}"),
        }
    };
    let entries: Vec<String> = match config.get(KEY) {
        None | Some(Value::Null) => Vec::new(),
        Some(list @ Value::Array(_)) => strings(list)?,
        Some(Value::Object(by_registry)) => {
            let mut entries = Vec::new();
            for (registry, urls) in by_registry {
                for url in strings(urls).with_context(|| format!("registry {registry}"))? {
                    entries.push(format!("{registry}={url}"));
                }
            }
            entries
        }
        Some(other) => {
            bail!("expected a list of URLs or an object of registry → URLs, found {other}")
        }
    };
    Ok(entries
        .iter()
        .map(|e| Mirror::parse(e))
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_mirrors_docker_hub_and_an_object_names_registries() {
        let list = parse_mirrors(&serde_json::json!({ KEY: ["https://m.example"] })).unwrap();
        assert_eq!(list[0].registry, "docker.io");
        let map = parse_mirrors(&serde_json::json!({
            KEY: { "ghcr.io": ["https://a.example", "b.example/gh"] }
        }))
        .unwrap();
        assert_eq!(map.len(), 2);
        assert!(map.iter().all(|m| m.registry == "ghcr.io"));
        assert_eq!(map[1].prefix, "gh");
        assert!(
            parse_mirrors(&serde_json::json!({ "other": 1 }))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn wrong_shapes_are_errors() {
        for bad in [
            serde_json::json!({ KEY: "https://m.example" }),
            serde_json::json!({ KEY: [1] }),
            serde_json::json!({ KEY: { "ghcr.io": "https://m" } }),
            serde_json::json!({ KEY: ["ftp://m"] }),
        ] {
            assert!(parse_mirrors(&bad).is_err(), "{bad}");
        }
    }
}
