//! The credential files' fuzzing invariant: Docker's `config.json` / podman's `auth.json`
//! (`wslbox_registry::CredentialStore`) and containers-registries.conf v2
//! (`wslbox_registry::RegistriesConf`). Shared by the `credential_config` and
//! `registries_conf` cargo-fuzz targets and
//! `crates/wslbox-registry/tests/fuzz_registry_parsers.rs`.
//!
//! config.json: looking up any registry in any file never panics, never runs a program (the
//! helper search path is empty), and neither the `Debug` of what it returns nor the `Debug` or
//! `Display` of its error contains a secret of the file (`password`, `auth` or its decoded
//! password, `identitytoken`). This is a security property: errors are printed and logged.
//!
//! registries.conf: never panics; every mirror parsed is a valid mirror URL (http or https, a
//! host, no user, password, query or fragment; its prefix has no leading or trailing `/`)
//! that parses again to the same mirror.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use url::Url;
use wslbox_registry::{CredentialStore, Mirror, RegistriesConf};

/// Registries looked up in every config file.
pub const REGISTRIES: &[&str] = &[
    "docker.io",
    "ghcr.io",
    "localhost:5000",
    "quay.io",
    "registry.example.com",
];

/// The fixed text of credentials' `Debug` and of lookup errors (wslbox's and serde_json's).
const VOCABULARY: &str = "Basic { username: password: \"<redacted>\" } IdentityToken { token: \
    BadConfig { path: reason: could not read credentials file expected a JSON object \
    the `auth` entry for is not base64 of `user:password` HelperNotFound { helper: config: \
    credential helper docker-credential- was not found on PATH (it is configured in \
    Io { source: could not write credentials file: EOF while parsing a value string object \
    list at line column expected value expected `,` or `}` expected `,` or `]` expected `:` \
    expected ident trailing characters trailing comma key must be a string invalid escape \
    invalid number number out of range invalid unicode code point control character \
    (\\u0000-\\u001F) found while parsing a string lone leading surrogate in hex escape \
    unexpected end of hex escape recursion limit exceeded Custom { kind: InvalidData, error: \
    stream did not contain valid UTF-8 Error(";

/// The secrets a config file holds, and every other string in it (a secret that also appears
/// as a non-secret, say as a registry key, may show legitimately).
fn strings(v: &Value, key: Option<&str>, secrets: &mut Vec<String>, others: &mut Vec<String>) {
    match v {
        Value::String(s) => match key {
            Some("password" | "identitytoken" | "registrytoken") => secrets.push(s.clone()),
            Some("auth") => {
                secrets.push(s.clone());
                let decoded = base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok());
                if let Some((user, password)) = decoded.as_deref().and_then(|d| d.split_once(':')) {
                    others.push(user.to_owned());
                    secrets.push(password.to_owned());
                }
            }
            _ => others.push(s.clone()),
        },
        Value::Object(map) => {
            for (k, v) in map {
                others.push(k.clone());
                strings(v, Some(k), secrets, others);
            }
        }
        Value::Array(items) => items.iter().for_each(|i| strings(i, None, secrets, others)),
        _ => {}
    }
}

/// Panics when looking up credentials in a `config.json` with `text` breaks the invariant.
/// `dir` is an empty scratch directory. Returns how many lookups found a credential.
pub fn check_config_json(text: &[u8], dir: &Path) -> usize {
    let config = dir.join("config.json");
    fs_err::write(&config, text).expect("write config.json");
    let store = CredentialStore {
        docker_config_dir: Some(dir.to_owned()),
        podman_auth_files: vec![dir.join("auth.json")],
        // No helper can be found, so none runs: `credHelpers` and `credsStore` give errors.
        helper_path: Some(dir.join("no-helpers").into_os_string()),
    };
    let (mut secrets, mut others) = (Vec::new(), Vec::new());
    if let Ok(doc) = serde_json::from_slice::<Value>(text) {
        strings(&doc, None, &mut secrets, &mut others);
    }
    // What output may say whatever the file holds: a crafted secret that is part of it
    // proves nothing.
    let context = format!("{} {} {VOCABULARY}", dir.display(), REGISTRIES.join(" "));
    let secrets: Vec<String> = secrets
        .into_iter()
        .filter(|s| s.len() >= 6)
        .filter(|s| !context.contains(s.as_str()) && !others.iter().any(|o| o.contains(s.as_str())))
        .collect();
    let mut found = 0;
    for registry in REGISTRIES {
        let shown = match store.get(registry) {
            Ok(Some(c)) => {
                found += 1;
                format!("{c:?}")
            }
            Ok(None) => continue,
            Err(e) => format!("{e:?} {e}"),
        };
        for s in &secrets {
            assert!(
                !shown.contains(s.as_str()),
                "looking up {registry} shows the secret {s:?}: {shown}"
            );
        }
    }
    found
}

/// Panics when `text` as a registries.conf breaks the invariant; returns how many mirrors it
/// has when accepted.
pub fn check_registries_conf(text: &str) -> Option<usize> {
    let conf = RegistriesConf::parse(text, "fuzz.conf").ok()?;
    for m in &conf.mirrors {
        let base = &m.base;
        assert!(matches!(base.scheme(), "http" | "https"), "{m:?}");
        assert!(base.host_str().is_some_and(|h| !h.is_empty()), "{m:?}");
        assert!(
            base.username().is_empty() && base.password().is_none(),
            "credentials in {m:?}"
        );
        assert!(base.query().is_none() && base.fragment().is_none(), "{m:?}");
        assert_eq!(base.path(), "/", "{m:?}");
        assert!(
            !m.prefix.starts_with('/') && !m.prefix.ends_with('/'),
            "{m:?}"
        );
        assert!(!m.authority().is_empty(), "{m:?}");
        assert!(!m.registry.is_empty(), "a mirror of nothing: {m:?}");
        let again = Mirror::parse(&m.url()).unwrap_or_else(|e| panic!("{m:?}: {e}"));
        assert_eq!(
            (&again.base, &again.prefix),
            (&m.base, &m.prefix),
            "{}",
            m.url()
        );
        let _ = m.repository("library/debian");
    }
    Some(conf.mirrors.len())
}

/// Panics when a mirror entry (`URL` or `REGISTRY=URL`, as `--registry-mirror` and a
/// `[[registry.mirror]]` location take it) parses to a mirror whose path prefix is not the
/// URL's path without a leading `v2` element.
pub fn check_mirror(entry: &str) {
    let Ok(m) = Mirror::parse(entry) else {
        return;
    };
    let entry = entry.trim();
    let location = entry.split_once('=').map_or(entry, |(_, l)| l.trim());
    let url = if location.contains("://") {
        Url::parse(location)
    } else {
        Url::parse(&format!("https://{location}"))
    }
    .expect("an accepted mirror is a URL");
    let path = url.path().trim_matches('/');
    let expected = match path.split_once('/') {
        _ if path == "v2" => "",
        Some(("v2", rest)) => rest.trim_start_matches('/'),
        _ => path,
    };
    assert_eq!(m.prefix, expected, "prefix of mirror `{entry}`");
    assert!(
        m.base.password().is_none() && m.base.username().is_empty(),
        "credentials in `{entry}`"
    );
}
