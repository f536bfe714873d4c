//! How registries are named in credential stores.
//!
//! Docker keys Docker Hub as `https://index.docker.io/v1/`; people also write `docker.io`,
//! `index.docker.io` and `registry-1.docker.io`. Other registries are keyed by `host[:port]`,
//! sometimes with a scheme or a path, which Docker ignores when matching.

/// The key Docker uses for Docker Hub in config.json and with credential helpers.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

const DOCKER_HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// Whether a registry name (or config key) means Docker Hub.
pub fn is_docker_hub(registry: &str) -> bool {
    DOCKER_HUB_ALIASES.contains(&hostname(registry).as_str())
}

/// `host[:port]` of a registry name or config key: scheme and path stripped, lowercased.
pub(crate) fn hostname(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest).to_ascii_lowercase()
}

/// Whether a config key names `registry`.
pub(crate) fn matches(key: &str, registry: &str) -> bool {
    if is_docker_hub(registry) {
        return is_docker_hub(key);
    }
    hostname(key) == hostname(registry)
}

/// The key to store `registry` under (and to hand to a credential helper).
pub(crate) fn canonical(registry: &str) -> String {
    if is_docker_hub(registry) {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        hostname(registry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_aliases_match_the_v1_key() {
        for alias in [
            "docker.io",
            "index.docker.io",
            "registry-1.docker.io",
            "https://index.docker.io/v1/",
        ] {
            assert!(matches(DOCKER_HUB_CONFIG_KEY, alias), "{alias}");
            assert_eq!(canonical(alias), DOCKER_HUB_CONFIG_KEY);
        }
    }

    #[test]
    fn scheme_and_path_are_ignored_for_other_registries() {
        assert!(matches("https://ghcr.io/v2/", "ghcr.io"));
        assert!(matches("localhost:5000", "LOCALHOST:5000"));
        assert!(!matches("localhost:5000", "localhost:5001"));
        assert!(!matches("ghcr.io", "docker.io"));
    }
}
