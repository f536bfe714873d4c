//! Pushing fixture OCI layouts into test registries with `skopeo copy`.
//!
//! skopeo runs with a scrubbed environment (its own HOME and XDG_RUNTIME_DIR) so it never
//! picks up the developer's auth files, and with `--insecure-policy` so it needs no
//! `/etc/containers/policy.json`.

use std::path::Path;
use std::process::Command;

/// Extra `skopeo copy` switches.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// `--format`, e.g. `v2s2` to convert to Docker schema2 media types.
    pub format: Option<String>,
    /// `--all`: copy every manifest of an index, not just the host's platform.
    pub all: bool,
}

impl PushOptions {
    pub fn schema2() -> Self {
        Self {
            format: Some("v2s2".to_owned()),
            all: false,
        }
    }

    pub fn all() -> Self {
        Self {
            format: None,
            all: true,
        }
    }
}

/// `skopeo copy oci:LAYOUT:TAG DESTINATION` (destination like `docker://127.0.0.1:5000/a:b`).
pub fn copy_layout(
    layout: &Path,
    tag: &str,
    destination: &str,
    creds: Option<(String, String)>,
    options: &PushOptions,
) {
    copy(
        &format!("oci:{}:{tag}", layout.display()),
        destination,
        creds,
        options,
    );
}

/// `skopeo copy SOURCE DESTINATION` between any two transports (`oci:`, `docker-archive:`,
/// `docker://`), with destination credentials when given.
pub fn copy(
    source: &str,
    destination: &str,
    creds: Option<(String, String)>,
    options: &PushOptions,
) {
    let mut args: Vec<String> = ["--dest-tls-verify=false", "--retry-times", "2"]
        .map(String::from)
        .to_vec();
    if let Some((user, password)) = &creds {
        args.extend(["--dest-creds".to_owned(), format!("{user}:{password}")]);
    }
    if let Some(format) = &options.format {
        args.extend(["--format".to_owned(), format.clone()]);
    }
    if options.all {
        args.push("--all".to_owned());
    }
    run_copy(&args, source, destination);
}

/// `skopeo copy [ARGS] SOURCE DESTINATION` with a home of its own (no user policy or
/// credentials from the machine); panics with skopeo's stderr when it fails.
fn run_copy(args: &[String], source: &str, destination: &str) {
    let home = tempfile::Builder::new()
        .prefix("wslbox-skopeo-")
        .tempdir()
        .expect("create skopeo temp home");
    let output = Command::new("skopeo")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .args(["--insecure-policy", "copy", "--quiet"])
        .args(args)
        .arg(source)
        .arg(destination)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run `skopeo` ({err}); install it with scripts/install-test-deps")
        });
    assert!(
        output.status.success(),
        "skopeo copy {source} {destination} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `oci:LAYOUT:TAG` as a docker-archive file (`docker load` input) naming `reference`
/// (`name:tag`).
pub fn docker_archive(layout: &Path, tag: &str, out: &Path, reference: &str) {
    copy_layout(
        layout,
        tag,
        &format!("docker-archive:{}:{reference}", out.display()),
        None,
        &PushOptions::default(),
    );
}

/// `skopeo copy docker://REFERENCE oci:LAYOUT:TAG` from a plain-HTTP test registry, with
/// source credentials when given: an image as another tool reads it from the registry.
pub fn pull_to_layout(reference: &str, layout: &Path, tag: &str, creds: Option<(String, String)>) {
    let mut args = vec!["--src-tls-verify=false".to_owned()];
    if let Some((user, password)) = &creds {
        args.extend(["--src-creds".to_owned(), format!("{user}:{password}")]);
    }
    run_copy(
        &args,
        &format!("docker://{reference}"),
        &format!("oci:{}:{tag}", layout.display()),
    );
}
