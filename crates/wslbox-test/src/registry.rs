//! A real registry per test: Debian's `docker-registry` (CNCF distribution 2.8) on a free
//! loopback port, with its own storage directory, killed when [`Registry`] is dropped.
//!
//! Three setups ([`Auth`]): open, htpasswd basic auth, and token auth backed by a
//! [`TokenServer`](crate::token_server::TokenServer). Fixtures are pushed with skopeo
//! ([`Registry::push`]); tests may reach into storage ([`Registry::blob_data_path`]) to corrupt
//! blobs, since distribution serves whatever bytes are on disk.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::registry_fixture::{Image, ImageSpec, Index, Layout, RawLayer};
use crate::registry_http;
use crate::skopeo::{self, PushOptions};
use crate::token_server::{ISSUER, SERVICE, TokenServer};

const BINARY: &str = "/usr/bin/docker-registry";

/// How the registry authenticates clients.
#[derive(Debug, Clone)]
pub enum Auth {
    /// No authentication at all.
    None,
    /// `auth: htpasswd` with one bcrypt user.
    Htpasswd { user: String, password: String },
    /// `auth: token` trusting a token server's certificate.
    Token {
        realm: String,
        root_cert_bundle: PathBuf,
        pusher: Option<(String, String)>,
    },
}

impl Auth {
    pub fn htpasswd(user: &str, password: &str) -> Self {
        Self::Htpasswd {
            user: user.to_owned(),
            password: password.to_owned(),
        }
    }

    pub fn token(server: &TokenServer) -> Self {
        Self::Token {
            realm: server.realm(),
            root_cert_bundle: server.root_cert_bundle(),
            pusher: server.first_user(),
        }
    }
}

/// A running `docker-registry serve`; the process is killed on drop.
pub struct Registry {
    child: Child,
    addr: SocketAddr,
    dir: TempDir,
    auth: Auth,
}

impl Registry {
    /// Starts a registry and waits until `/v2/` answers. Panics (failing the test) when
    /// `docker-registry` is missing or does not come up.
    pub fn start(auth: Auth) -> Self {
        assert!(
            Path::new(BINARY).exists(),
            "{BINARY} not found: the registry tests need Debian's docker-registry; \
             install it with scripts/install-test-deps"
        );
        let mut last_log = String::new();
        // Picking a free port and binding it later can race with another test; retry then.
        for _ in 0..5 {
            let dir = tempfile::Builder::new()
                .prefix("wslbox-registry-")
                .tempdir()
                .expect("create registry temp dir");
            let addr = free_port();
            let config = dir.path().join("config.yml");
            fs_err::write(&config, config_yaml(dir.path(), addr, &auth))
                .expect("write registry config");
            let log =
                fs_err::File::create(dir.path().join("registry.log")).expect("create registry log");
            let stderr = log.file().try_clone().expect("clone registry log handle");
            let child = Command::new(BINARY)
                .arg("serve")
                .arg(&config)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .stdin(Stdio::null())
                .stdout(log.into_parts().0)
                .stderr(stderr)
                .spawn()
                .unwrap_or_else(|err| panic!("cannot start {BINARY}: {err}"));
            let mut registry = Self {
                child,
                addr,
                dir,
                auth: auth.clone(),
            };
            if registry.wait_ready() {
                return registry;
            }
            last_log = registry.log();
        }
        panic!("docker-registry did not come up after 5 attempts; last log:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            // The log line proves *this* process holds the port, not a neighbour that grabbed it.
            let listening = self.log().contains(&format!("listening on {}", self.addr));
            if listening
                && let Ok(response) = registry_http::get(self.addr, "/v2/", &[])
                && matches!(response.status, 200 | 401)
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// `127.0.0.1:PORT`, the registry part of image references.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT/NAME` — a full image reference in this registry.
    pub fn image(&self, name: &str) -> String {
        format!("{}/{name}", self.host())
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Credentials that may push (the htpasswd user, or the token server's first user).
    pub fn push_credentials(&self) -> Option<(String, String)> {
        match &self.auth {
            Auth::None => None,
            Auth::Htpasswd { user, password } => Some((user.clone(), password.clone())),
            Auth::Token { pusher, .. } => pusher.clone(),
        }
    }

    /// The registry's storage root (distribution's filesystem driver layout lives below it).
    pub fn storage_dir(&self) -> PathBuf {
        self.dir.path().join("storage")
    }

    /// `docker/registry/v2/blobs/sha256/xx/<hex>/data` for a `sha256:<hex>` digest.
    pub fn blob_data_path(&self, digest: &str) -> PathBuf {
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("not a sha256 digest: {digest}"));
        self.storage_dir()
            .join("docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// The registry's log so far (for assertion messages).
    pub fn log(&self) -> String {
        fs_err::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes `oci:LAYOUT:TAG` to `NAME` in this registry with the pushing credentials.
    pub fn push(&self, layout: &Path, tag: &str, name: &str) {
        self.push_with(layout, tag, name, &PushOptions::default());
    }

    /// Writes `spec` as a fixture layout and pushes it as `NAME:TAG` (`reference` is `NAME:TAG`).
    pub fn push_image(&self, reference: &str, spec: &ImageSpec, options: &PushOptions) -> Image {
        self.push_fixture(reference, options, |layout| {
            let image = layout.image(spec);
            let top = image.manifest.clone();
            (image, top)
        })
    }

    /// Writes an image of `layers` stored byte for byte ([`Layout::image_of`]) and pushes it as
    /// `reference` (`NAME:TAG`).
    pub fn push_raw_image(&self, reference: &str, spec: &ImageSpec, layers: &[RawLayer]) -> Image {
        self.push_fixture(reference, &PushOptions::default(), |layout| {
            let image = layout.image_of(spec, layers);
            let top = image.manifest.clone();
            (image, top)
        })
    }

    /// Writes an index of `specs` (in order, plus an attestation when asked) and pushes every
    /// manifest of it as `reference` (`NAME:TAG`).
    pub fn push_index(
        &self,
        reference: &str,
        specs: &[ImageSpec],
        with_attestation: bool,
    ) -> Index {
        self.push_fixture(reference, &PushOptions::all(), |layout| {
            let index = layout.index(specs, with_attestation);
            let top = index.index.clone();
            (index, top)
        })
    }

    /// Writes a fixture layout with `write` (which returns what it wrote and the manifest or
    /// index to tag) and pushes that as `reference`.
    fn push_fixture<T>(
        &self,
        reference: &str,
        options: &PushOptions,
        write: impl FnOnce(&Layout) -> (T, crate::registry_fixture::Blob),
    ) -> T {
        let dir = tempfile::Builder::new()
            .prefix("wslbox-layout-")
            .tempdir()
            .expect("create layout temp dir");
        let mut layout = Layout::create(dir.path());
        let (written, top) = write(&layout);
        layout.tag("fixture", &top);
        self.push_with(layout.dir(), "fixture", reference, options);
        written
    }

    /// Like [`Registry::push`], with skopeo options (`--format v2s2`, `--all`).
    pub fn push_with(&self, layout: &Path, tag: &str, name: &str, options: &PushOptions) {
        let destination = format!("docker://{}", self.image(name));
        skopeo::copy_layout(layout, tag, &destination, self.push_credentials(), options);
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free loopback port");
    listener
        .local_addr()
        .expect("local address of a bound socket")
}

fn config_yaml(dir: &Path, addr: SocketAddr, auth: &Auth) -> String {
    let storage = dir.join("storage");
    let auth_yaml = match auth {
        Auth::None => String::new(),
        Auth::Htpasswd { user, password } => {
            let file = dir.join("htpasswd");
            fs_err::write(&file, htpasswd_line(user, password)).expect("write htpasswd file");
            format!(
                "auth:\n  htpasswd:\n    realm: wslbox-test\n    path: {}\n",
                file.display()
            )
        }
        Auth::Token {
            realm,
            root_cert_bundle,
            ..
        } => format!(
            "auth:\n  token:\n    realm: {realm}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    rootcertbundle: {}\n",
            root_cert_bundle.display()
        ),
    };
    format!(
        "version: 0.1\n\
         log:\n  level: info\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n  \
         maintenance:\n    uploadpurging:\n      enabled: false\n\
         http:\n  addr: {addr}\n  secret: wslbox-test-secret\n\
         {auth_yaml}",
        storage.display()
    )
}

/// One bcrypt htpasswd line (distribution accepts only bcrypt).
fn htpasswd_line(user: &str, password: &str) -> String {
    let output = Command::new("htpasswd").args(["-Bbn", user, password]).output().unwrap_or_else(|err| {
        panic!("cannot run `htpasswd` ({err}); install apache2-utils with scripts/install-test-deps")
    });
    assert!(
        output.status.success(),
        "htpasswd failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("htpasswd prints ASCII")
        .trim()
        .to_owned()
        + "\n"
}
