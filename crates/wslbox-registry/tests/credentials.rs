//! Credential lookup and storage in Docker's config.json, credential helpers and podman's
//! auth.json, with real files and real helper programs.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use wslbox_registry::{Credential, CredentialError, CredentialLocation, CredentialStore};

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn docker_dir(&self) -> PathBuf {
        self.dir.path().join("docker")
    }
    fn bin(&self) -> PathBuf {
        self.dir.path().join("bin")
    }
    fn podman(&self, n: usize) -> PathBuf {
        self.dir.path().join(format!("podman{n}")).join("auth.json")
    }
    fn store(&self) -> CredentialStore {
        CredentialStore {
            docker_config_dir: Some(self.docker_dir()),
            podman_auth_files: vec![self.podman(1), self.podman(2)],
            helper_path: Some(self.bin().into_os_string()),
        }
    }
    fn write(&self, path: &Path, json: serde_json::Value) {
        fs_err::create_dir_all(path.parent().unwrap()).unwrap();
        fs_err::write(path, json.to_string()).unwrap();
    }
    fn docker_config(&self, json: serde_json::Value) {
        self.write(&self.docker_dir().join("config.json"), json);
    }
    fn read_config(&self) -> serde_json::Value {
        serde_json::from_str(
            &fs_err::read_to_string(self.docker_dir().join("config.json")).unwrap(),
        )
        .unwrap()
    }

    /// Installs `docker-credential-<name>`, a shell script that logs each call's action and
    /// stdin to `<bin>/<name>.log` and answers `get` for `knows` with user `helper-user`.
    #[cfg(unix)]
    fn helper(&self, name: &str, knows: &str) {
        use std::os::unix::fs::PermissionsExt;
        fs_err::create_dir_all(self.bin()).unwrap();
        let log = self.bin().join(format!("{name}.log"));
        let script = format!(
            r#"#!/bin/sh
input=$(cat)
printf '%s %s\n' "$1" "$input" >> '{log}'
case "$1" in
  get)
    if [ "$input" = '{knows}' ]; then
      printf '{{"ServerURL":"%s","Username":"helper-user","Secret":"helper-secret"}}' "$input"
    else
      echo "credentials not found in native keychain"; exit 1
    fi;;
  store) ;;
  erase)
    if [ "$input" = '{knows}' ]; then exit 0; fi
    echo "credentials not found in native keychain"; exit 1;;
esac
"#,
            log = log.display()
        );
        let path = self.bin().join(format!("docker-credential-{name}"));
        fs_err::write(&path, script).unwrap();
        fs_err::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn helper_log(&self, name: &str) -> String {
        fs_err::read_to_string(self.bin().join(format!("{name}.log"))).unwrap_or_default()
    }
}

#[test]
fn auths_base64_entry_is_decoded() {
    let env = Env::new();
    env.docker_config(
        serde_json::json!({ "auths": { "reg.example:5000": { "auth": b64("alice:pa:ss") } } }),
    );
    assert_eq!(
        env.store().get("reg.example:5000").unwrap(),
        Some(Credential::basic("alice", "pa:ss"))
    );
    assert_eq!(env.store().get("other.example").unwrap(), None);
}

#[test]
fn auths_key_with_scheme_and_path_matches_the_host() {
    let env = env_with(
        serde_json::json!({ "auths": { "https://reg.example/v2/": { "username": "u", "password": "p" } } }),
    );
    assert_eq!(
        env.store().get("reg.example").unwrap(),
        Some(Credential::basic("u", "p"))
    );
}

#[test]
fn docker_hub_entry_is_found_under_its_v1_key_for_every_alias() {
    let env = env_with(
        serde_json::json!({ "auths": { "https://index.docker.io/v1/": { "auth": b64("hubuser:hubpass") } } }),
    );
    for alias in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
        assert_eq!(
            env.store().get(alias).unwrap(),
            Some(Credential::basic("hubuser", "hubpass")),
            "{alias}"
        );
    }
}

#[test]
fn identity_token_entry_is_an_identity_token() {
    let env = env_with(
        serde_json::json!({ "auths": { "reg.example": { "auth": "", "identitytoken": "refresh-me" } } }),
    );
    assert_eq!(
        env.store().get("reg.example").unwrap(),
        Some(Credential::IdentityToken {
            token: "refresh-me".into()
        })
    );
}

#[test]
fn malformed_auth_names_the_file() {
    let env =
        env_with(serde_json::json!({ "auths": { "reg.example": { "auth": "not base64!" } } }));
    let err = env.store().get("reg.example").unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");
}

#[test]
fn podman_files_are_read_in_order_after_docker() {
    let env = Env::new();
    env.write(
        &env.podman(1),
        serde_json::json!({ "auths": { "reg.example": { "auth": b64("first:1") } } }),
    );
    env.write(&env.podman(2), serde_json::json!({ "auths": { "reg.example": { "auth": b64("second:2") }, "only2.example": { "auth": b64("two:2") } } }));
    assert_eq!(
        env.store().get("reg.example").unwrap(),
        Some(Credential::basic("first", "1"))
    );
    assert_eq!(
        env.store().get("only2.example").unwrap(),
        Some(Credential::basic("two", "2"))
    );
    env.docker_config(
        serde_json::json!({ "auths": { "reg.example": { "auth": b64("docker:0") } } }),
    );
    assert_eq!(
        env.store().get("reg.example").unwrap(),
        Some(Credential::basic("docker", "0"))
    );
}

#[cfg(unix)]
#[test]
fn cred_helper_for_the_registry_is_asked_first() {
    let env = Env::new();
    env.helper("special", "reg.example");
    env.docker_config(serde_json::json!({
        "credHelpers": { "reg.example": "special" },
        "auths": { "reg.example": { "auth": b64("fromfile:x") } }
    }));
    assert_eq!(
        env.store().get("reg.example").unwrap(),
        Some(Credential::basic("helper-user", "helper-secret"))
    );
    assert_eq!(env.helper_log("special"), "get reg.example\n");
}

#[cfg(unix)]
#[test]
fn creds_store_gets_docker_hubs_v1_server_url() {
    let env = Env::new();
    env.helper("desktop", "https://index.docker.io/v1/");
    env.docker_config(serde_json::json!({ "credsStore": "desktop" }));
    assert_eq!(
        env.store().get("docker.io").unwrap(),
        Some(Credential::basic("helper-user", "helper-secret"))
    );
    assert_eq!(
        env.helper_log("desktop"),
        "get https://index.docker.io/v1/\n"
    );
}

#[cfg(unix)]
#[test]
fn helper_without_credentials_falls_back_to_auths_then_podman() {
    let env = Env::new();
    env.helper("desktop", "someone.else");
    env.docker_config(serde_json::json!({ "credsStore": "desktop", "auths": { "a.example": { "auth": b64("a:1") } } }));
    env.write(
        &env.podman(1),
        serde_json::json!({ "auths": { "b.example": { "auth": b64("b:2") } } }),
    );
    assert_eq!(
        env.store().get("a.example").unwrap(),
        Some(Credential::basic("a", "1"))
    );
    assert_eq!(
        env.store().get("b.example").unwrap(),
        Some(Credential::basic("b", "2"))
    );
}

#[test]
fn configured_helper_missing_from_path_is_an_error_naming_it() {
    let env = env_with(serde_json::json!({ "credsStore": "nosuchhelper" }));
    let err = env.store().get("reg.example").unwrap_err();
    assert!(
        matches!(err, CredentialError::HelperNotFound { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("docker-credential-nosuchhelper"),
        "{err}"
    );
}

#[test]
fn a_helper_name_with_a_path_in_it_is_refused_before_anything_runs() {
    for name in ["../../tmp/evil", "..", "a/b", r"a\b", "C:evil"] {
        let env = env_with(serde_json::json!({ "credHelpers": { "reg.example": name } }));
        let err = env.store().get("reg.example").unwrap_err();
        assert!(
            matches!(err, CredentialError::HelperNameInvalid { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains("credHelpers"), "{err}");
    }
}

#[test]
fn store_creates_a_private_config_json() {
    let env = Env::new();
    let location = env
        .store()
        .store("reg.example:5000", &Credential::basic("u", "p"))
        .unwrap();
    let path = env.docker_dir().join("config.json");
    assert_eq!(location, CredentialLocation::File(path.clone()));
    assert_eq!(
        env.read_config()["auths"]["reg.example:5000"]["auth"],
        b64("u:p")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs_err::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    let left: Vec<_> = fs_err::read_dir(env.docker_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, ["config.json"], "no temp file is left beside it");
}

#[test]
fn store_keeps_other_keys_and_uses_docker_hubs_v1_key() {
    let env = env_with(serde_json::json!({
        "auths": { "other.example": { "auth": b64("o:o") }, "docker.io": { "auth": b64("old:old") } },
        "psFormat": "table {{.ID}}",
        "proxies": { "default": { "httpProxy": "http://proxy:3128" } }
    }));
    env.store()
        .store("docker.io", &Credential::basic("new", "new"))
        .unwrap();
    let config = env.read_config();
    assert_eq!(config["psFormat"], "table {{.ID}}");
    assert_eq!(
        config["proxies"]["default"]["httpProxy"],
        "http://proxy:3128"
    );
    assert_eq!(config["auths"]["other.example"]["auth"], b64("o:o"));
    assert_eq!(
        config["auths"]["https://index.docker.io/v1/"]["auth"],
        b64("new:new")
    );
    assert!(
        config["auths"].get("docker.io").is_none(),
        "the alias entry is replaced: {config}"
    );
}

#[cfg(unix)]
#[test]
fn store_and_erase_go_to_the_configured_helper() {
    let env = Env::new();
    env.helper("desktop", "reg.example");
    env.docker_config(serde_json::json!({ "credsStore": "desktop" }));
    let location = env
        .store()
        .store("reg.example", &Credential::basic("u", "p"))
        .unwrap();
    assert_eq!(location, CredentialLocation::Helper("desktop".into()));
    let log = env.helper_log("desktop");
    let stored: serde_json::Value =
        serde_json::from_str(log.strip_prefix("store ").unwrap().trim()).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({ "ServerURL": "reg.example", "Username": "u", "Secret": "p" })
    );
    assert!(
        env.read_config().get("auths").is_none(),
        "nothing written to config.json"
    );

    assert_eq!(
        env.store().erase("reg.example").unwrap(),
        vec![CredentialLocation::Helper("desktop".into())]
    );
    assert!(env.helper_log("desktop").ends_with("erase reg.example\n"));
}

#[test]
fn erase_removes_the_auths_entry_and_then_reports_not_logged_in() {
    let env = env_with(
        serde_json::json!({ "auths": { "reg.example": { "auth": b64("u:p") }, "keep.example": { "auth": b64("k:k") } } }),
    );
    let removed = env.store().erase("reg.example").unwrap();
    assert_eq!(
        removed,
        vec![CredentialLocation::File(
            env.docker_dir().join("config.json")
        )]
    );
    assert_eq!(env.store().get("reg.example").unwrap(), None);
    assert_eq!(
        env.store().get("keep.example").unwrap(),
        Some(Credential::basic("k", "k"))
    );
    let err = env.store().erase("reg.example").unwrap_err();
    assert!(
        matches!(err, CredentialError::NotLoggedIn { .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "not logged in to reg.example");
}

#[test]
fn debug_output_never_shows_secrets() {
    let shown = format!(
        "{:?} {:?}",
        Credential::basic("visible-user", "hunter2"),
        Credential::IdentityToken {
            token: "tok-secret".into()
        }
    );
    assert!(shown.contains("visible-user"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("tok-secret"),
        "{shown}"
    );
}

fn env_with(config: serde_json::Value) -> Env {
    let env = Env::new();
    env.docker_config(config);
    env
}
