//! The client side of the protocol tests: a throwaway cache and Docker config, client options
//! that retry quickly and see no host credentials or proxies, and the resolve-then-fetch
//! sequence most tests drive.

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use wslbox_cache::BlobStore;
use wslbox_reference::{Digest, Platform, Reference};
use wslbox_registry::{
    Client, ClientOptions, CredentialStore, ProxyConfig, RegistryError, Resolved, RetryPolicy,
};

use super::{Fixture, Recorder, Server};

/// `Basic <base64(user:pass)>`, as the client sends it.
pub fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

/// `<server>/<fixture repo><selector>`, e.g. selector `:latest` or `@sha256:…`.
pub fn reference(server: &Server, fx: &Fixture, selector: &str) -> Reference {
    format!("{}/{}{selector}", server.authority(), fx.repo)
        .parse()
        .unwrap()
}

/// `fx`'s `:latest` on `server`.
pub fn latest(server: &Server, fx: &Fixture) -> Reference {
    reference(server, fx, ":latest")
}

pub fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

/// A blob cache and a Docker config directory in a temporary directory.
pub struct Env {
    _dir: tempfile::TempDir,
    pub config_dir: PathBuf,
    pub store: BlobStore,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path().join("cache")).unwrap();
        let config_dir = dir.path().join("docker");
        Env {
            config_dir,
            store,
            _dir: dir,
        }
    }

    /// No proxy, three quickly repeated attempts, and credentials only from this env's Docker config (no
    /// helpers, no podman files), so the host's own setup never leaks in.
    pub fn options(&self) -> ClientOptions {
        ClientOptions {
            proxy: ProxyConfig::none(),
            retry: RetryPolicy {
                max_attempts: 3,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(50),
                max_total: Duration::from_secs(30),
            },
            credentials: CredentialStore {
                docker_config_dir: Some(self.config_dir.clone()),
                podman_auth_files: Vec::new(),
                helper_path: Some("".into()),
            },
            ..ClientOptions::default()
        }
    }

    pub fn client(&self) -> Client {
        Client::new(self.options()).unwrap()
    }

    /// Writes `config.json` with an `auths` entry for `registry`.
    pub fn write_auths(&self, registry: &str, user: &str, pass: &str) {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
        self.write_docker_config(serde_json::json!({ "auths": { registry: { "auth": auth } } }));
    }

    pub fn write_docker_config(&self, config: serde_json::Value) {
        fs_err::create_dir_all(&self.config_dir).unwrap();
        fs_err::write(self.config_dir.join("config.json"), config.to_string()).unwrap();
    }

    /// Resolves `reference` for linux/amd64 into this env's cache.
    pub async fn resolve_with(
        &self,
        client: &Client,
        reference: &Reference,
    ) -> Result<Resolved, RegistryError> {
        client.resolve(reference, &amd64(), &self.store).await
    }

    /// Resolves `fx`'s `:latest` on `server` with a fresh client.
    pub async fn resolve(&self, server: &Server, fx: &Fixture) -> Result<Resolved, RegistryError> {
        self.resolve_with(&self.client(), &latest(server, fx)).await
    }

    /// Downloads `resolved`'s blobs into this env's cache, reporting to nobody in particular.
    pub async fn fetch(&self, client: &Client, resolved: &Resolved) -> Result<(), RegistryError> {
        client
            .fetch_blobs(resolved, &self.store, &Recorder::default())
            .await
    }

    /// A whole pull of `fx`'s `:latest` from `server` with one fresh client, which must
    /// succeed; returns what the reporter saw.
    pub async fn pull(&self, server: &Server, fx: &Fixture) -> Recorder {
        let client = self.client();
        let resolved = self
            .resolve_with(&client, &latest(server, fx))
            .await
            .unwrap();
        let recorder = Recorder::default();
        client
            .fetch_blobs(&resolved, &self.store, &recorder)
            .await
            .unwrap();
        recorder
    }

    /// Whether the cache holds a complete blob whose content matches `digest`.
    pub fn has_verified(&self, digest: &Digest) -> bool {
        self.store.verify(digest, None).unwrap().is_some()
    }
}
