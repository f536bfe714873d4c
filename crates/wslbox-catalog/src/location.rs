//! Where the user's own catalog lives: `%APPDATA%\wslbox\catalog.toml` on Windows,
//! `$XDG_CONFIG_HOME/wslbox/catalog.toml`, else `~/.config/wslbox/catalog.toml` elsewhere.

use std::path::PathBuf;

/// The user's catalog file for this platform; `None` when the environment names no usable
/// directory. The file need not exist.
pub fn default_user_file() -> Option<PathBuf> {
    config_dir(&|name| std::env::var_os(name)).map(|d| d.join("wslbox").join("catalog.toml"))
}

#[cfg(windows)]
fn config_dir(var: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    absolute(var("APPDATA"))
}

#[cfg(not(windows))]
fn config_dir(var: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    // The XDG spec says relative values are invalid and must be ignored.
    absolute(var("XDG_CONFIG_HOME")).or_else(|| absolute(var("HOME")).map(|h| h.join(".config")))
}

fn absolute(value: Option<std::ffi::OsString>) -> Option<PathBuf> {
    value.map(PathBuf::from).filter(|p| p.is_absolute())
}

#[cfg(all(test, not(windows)))]
mod tests {
    use super::*;

    fn env<'a>(
        pairs: &'a [(&'a str, &'a str)],
    ) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.into())
        }
    }

    #[test]
    fn xdg_config_home_wins_over_home() {
        let dir = config_dir(&env(&[("XDG_CONFIG_HOME", "/x/conf"), ("HOME", "/home/u")]));
        assert_eq!(dir, Some(PathBuf::from("/x/conf")));
    }

    #[test]
    fn relative_xdg_config_home_is_ignored() {
        let dir = config_dir(&env(&[("XDG_CONFIG_HOME", "conf"), ("HOME", "/home/u")]));
        assert_eq!(dir, Some(PathBuf::from("/home/u/.config")));
    }

    #[test]
    fn no_home_means_no_user_file() {
        assert_eq!(config_dir(&env(&[("HOME", "relative")])), None);
    }
}
