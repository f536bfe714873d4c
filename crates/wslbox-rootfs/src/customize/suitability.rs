//! Checks for images that make poor WSL distributions (WSL-FACTS.md, "Images that make poor
//! distributions"): no shell, busybox-only, no package manager, application images.

use wslbox_image::ImageConfigSummary;

use super::Warning;
use crate::resolve::resolve;
use crate::{NodeKind, TreeView};

pub(crate) const NO_SHELL: &str = "no-shell";

/// Package managers we recognise, by executable name.
const PACKAGE_MANAGERS: &[&str] = &[
    "apt",
    "apt-get",
    "dnf",
    "yum",
    "microdnf",
    "tdnf",
    "apk",
    "pacman",
    "zypper",
    "xbps-install",
    "emerge",
    "nix",
    "nix-env",
    "opkg",
    "swupd",
];
const BIN_DIRS: &[&str] = &[
    "usr/bin",
    "bin",
    "usr/sbin",
    "sbin",
    "usr/local/bin",
    "nix/var/nix/profiles/default/bin",
];

/// Executables that mean "this image runs one server", by basename.
const SERVERS: &[&str] = &[
    "nginx",
    "httpd",
    "apache2",
    "apache2-foreground",
    "httpd-foreground",
    "postgres",
    "mysqld",
    "mariadbd",
    "mongod",
    "redis-server",
    "memcached",
    "rabbitmq-server",
    "haproxy",
    "traefik",
    "caddy",
    "envoy",
    "gunicorn",
    "uvicorn",
    "php-fpm",
    "catalina.sh",
    "elasticsearch",
    "kibana",
    "grafana-server",
    "prometheus",
    "vault",
    "consul",
    "etcd",
    "minio",
    "registry",
    "sshd",
];

/// Warnings about how well the image will work as a WSL distribution. A `no-shell` warning is
/// turned into an error by `customize` for `.wsl` output and import unless forced.
pub fn suitability(view: &dyn TreeView, config: &ImageConfigSummary) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let shell = resolve(view, b"bin/sh").filter(|(_, info)| info.kind == NodeKind::File);
    let has_package_manager = PACKAGE_MANAGERS.iter().any(|pm| {
        BIN_DIRS
            .iter()
            .any(|dir| resolve(view, format!("{dir}/{pm}").as_bytes()).is_some())
    });
    match &shell {
        None => warnings.push(Warning::new(
            NO_SHELL,
            "the image has no /bin/sh (scratch or distroless?): WSL needs a shell to start the distribution",
        )),
        Some((real, _)) if real.ends_with(b"/busybox") || real == b"busybox" => {
            if !has_package_manager {
                warnings.push(Warning::new(
                    "busybox-only",
                    "the userland is busybox alone, with no package manager: you cannot install tools in this distribution",
                ));
            }
        }
        Some(_) => {}
    }
    if shell.is_some() && !has_package_manager && !warnings.iter().any(|w| w.code == "busybox-only")
    {
        warnings.push(Warning::new(
            "no-package-manager",
            "no known package manager (apt, dnf, yum, apk, pacman, zypper, …) in the image: you cannot install tools in it",
        ));
    }
    if let Some(server) = application(config) {
        warnings.push(Warning::new(
            "application-image",
            format!(
                "the image runs `{server}` (Entrypoint/Cmd): it is built to run one process, not as a distribution; WSL will not start it"
            ),
        ));
    }
    warnings
}

/// The server an Entrypoint/Cmd runs, if it looks like an application image.
fn application(config: &ImageConfigSummary) -> Option<String> {
    let argv: Vec<&str> = config
        .entrypoint
        .iter()
        .chain(&config.cmd)
        .map(String::as_str)
        .collect();
    let base = |arg: &str| arg.rsplit('/').next().unwrap_or(arg).to_string();
    for (i, arg) in argv.iter().enumerate() {
        let name = base(arg);
        if SERVERS.contains(&name.as_str()) {
            return Some(name);
        }
        let rest = &argv[i + 1..];
        if name == "java" && rest.contains(&"-jar") {
            return Some("java -jar".into());
        }
        if (name == "node" || name == "deno" || name == "bun")
            && let Some(script) = rest.iter().find(|a| !a.starts_with('-'))
            && ["server", "app", "index", "main"]
                .iter()
                .any(|s| base(script).starts_with(s))
        {
            return Some(format!("{name} {script}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(entrypoint: &[&str], cmd: &[&str]) -> ImageConfigSummary {
        ImageConfigSummary {
            entrypoint: entrypoint.iter().map(|s| s.to_string()).collect(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            ..ImageConfigSummary::default()
        }
    }

    #[test]
    fn servers_in_entrypoint_or_cmd_are_application_images() {
        assert_eq!(
            application(&config(
                &["/docker-entrypoint.sh"],
                &["nginx", "-g", "daemon off;"]
            ))
            .as_deref(),
            Some("nginx")
        );
        assert_eq!(
            application(&config(&["docker-entrypoint.sh"], &["postgres"])).as_deref(),
            Some("postgres")
        );
        assert_eq!(
            application(&config(&[], &["java", "-Xmx1g", "-jar", "app.jar"])).as_deref(),
            Some("java -jar")
        );
        assert_eq!(
            application(&config(&[], &["node", "server.js"])).as_deref(),
            Some("node server.js")
        );
    }

    #[test]
    fn shells_and_tools_are_not_application_images() {
        for (e, c) in [
            (&[][..], &["bash"][..]),
            (&[], &["/bin/sh"]),
            (&[], &["python3"]),
            (&["node"], &[]),
        ] {
            assert_eq!(application(&config(e, c)), None, "{e:?} {c:?}");
        }
    }
}
