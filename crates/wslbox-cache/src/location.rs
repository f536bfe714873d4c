//! Where the cache lives when neither `--cache-dir` nor `WSLBOX_CACHE_DIR` says.

use std::path::PathBuf;

/// The platform's default cache root: `%LOCALAPPDATA%\wslbox\cache` on Windows;
/// `$XDG_CACHE_HOME/wslbox`, else `~/.cache/wslbox` elsewhere. `None` when the
/// environment names no usable directory.
pub fn default_root() -> Option<PathBuf> {
    platform_root(&|name| std::env::var_os(name))
}

#[cfg(windows)]
fn platform_root(var: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    absolute(var("LOCALAPPDATA")).map(|d| d.join("wslbox").join("cache"))
}

#[cfg(not(windows))]
fn platform_root(var: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(xdg) = absolute(var("XDG_CACHE_HOME")) {
        return Some(xdg.join("wslbox"));
    }
    absolute(var("HOME")).map(|home| home.join(".cache").join("wslbox"))
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
    fn xdg_cache_home_wins_over_home() {
        let root = platform_root(&env(&[("XDG_CACHE_HOME", "/x/cache"), ("HOME", "/home/u")]));
        assert_eq!(root, Some(PathBuf::from("/x/cache/wslbox")));
    }

    #[test]
    fn relative_xdg_cache_home_is_ignored() {
        let root = platform_root(&env(&[("XDG_CACHE_HOME", "rel"), ("HOME", "/home/u")]));
        assert_eq!(root, Some(PathBuf::from("/home/u/.cache/wslbox")));
    }

    #[test]
    fn no_home_means_no_default() {
        assert_eq!(platform_root(&env(&[])), None);
    }
}
