use std::ffi::OsString;
use std::path::PathBuf;

use super::*;

fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<OsString> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.into())
    }
}

#[cfg(not(windows))]
mod unix {
    use super::*;

    #[test]
    fn xdg_variables_win_over_home() {
        let vars = [
            ("XDG_CACHE_HOME", "/x/cache"),
            ("XDG_CONFIG_HOME", "/x/conf"),
            ("XDG_DATA_HOME", "/x/data"),
            ("HOME", "/home/u"),
        ];
        let e = env(&vars);
        assert_eq!(cache_in(&e), Ok(PathBuf::from("/x/cache/wslbox")));
        assert_eq!(config_root_in(&e), Ok(PathBuf::from("/x/conf")));
        assert_eq!(local_data_in(&e), Ok(PathBuf::from("/x/data/wslbox")));
    }

    #[test]
    fn home_is_the_fallback_when_xdg_variables_are_unset() {
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(cache_in(&e), Ok(PathBuf::from("/home/u/.cache/wslbox")));
        assert_eq!(config_root_in(&e), Ok(PathBuf::from("/home/u/.config")));
        assert_eq!(
            local_data_in(&e),
            Ok(PathBuf::from("/home/u/.local/share/wslbox"))
        );
    }

    #[test]
    fn relative_or_empty_xdg_variables_are_ignored() {
        for bad in ["rel", "", "./x"] {
            let vars = [
                ("XDG_CACHE_HOME", bad),
                ("XDG_CONFIG_HOME", bad),
                ("XDG_DATA_HOME", bad),
                ("HOME", "/home/u"),
            ];
            let e = env(&vars);
            assert_eq!(
                cache_in(&e),
                Ok(PathBuf::from("/home/u/.cache/wslbox")),
                "{bad:?}"
            );
            assert_eq!(
                config_root_in(&e),
                Ok(PathBuf::from("/home/u/.config")),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn no_usable_home_is_an_error_naming_the_variables() {
        for vars in [&[][..], &[("HOME", "relative")][..], &[("HOME", "")][..]] {
            let e = env(vars);
            let err = cache_in(&e).unwrap_err();
            assert_eq!(
                err.to_string(),
                "cannot find the cache folder: XDG_CACHE_HOME or HOME is not set to an absolute path"
            );
            assert_eq!(
                config_root_in(&e).unwrap_err().vars,
                "XDG_CONFIG_HOME or HOME"
            );
            assert_eq!(local_data_in(&e).unwrap_err().vars, "XDG_DATA_HOME or HOME");
        }
    }
}

#[cfg(windows)]
mod windows {
    use super::*;

    #[test]
    fn app_data_folders_are_used() {
        let vars = [
            ("LOCALAPPDATA", r"C:\Users\u\AppData\Local"),
            ("APPDATA", r"C:\Users\u\AppData\Roaming"),
            ("XDG_CACHE_HOME", r"C:\x"),
        ];
        let e = env(&vars);
        assert_eq!(
            cache_in(&e),
            Ok(PathBuf::from(r"C:\Users\u\AppData\Local\wslbox\cache"))
        );
        assert_eq!(
            local_data_in(&e),
            Ok(PathBuf::from(r"C:\Users\u\AppData\Local\wslbox"))
        );
        assert_eq!(
            config_root_in(&e),
            Ok(PathBuf::from(r"C:\Users\u\AppData\Roaming"))
        );
    }

    #[test]
    fn relative_or_missing_app_data_is_an_error_not_the_current_or_temp_folder() {
        for local in [None, Some("relative"), Some(""), Some(r"\no-drive")] {
            let vars: Vec<(&str, &str)> = local.map(|v| ("LOCALAPPDATA", v)).into_iter().collect();
            let e = env(&vars);
            let err = local_data_in(&e).unwrap_err();
            assert_eq!(
                err.to_string(),
                "cannot find the local app data folder: LOCALAPPDATA is not set to an absolute path",
                "{local:?}"
            );
            assert_eq!(cache_in(&e).unwrap_err(), err);
            assert_eq!(config_root_in(&e).unwrap_err().vars, "APPDATA");
        }
    }
}

#[test]
fn the_real_environment_gives_absolute_folders_under_wslbox() {
    // The test runners (cargo test here, Wine for the Windows build) set HOME / the app data
    // variables, so every folder resolves.
    let cache = cache().expect("cache folder");
    let config = config().expect("config folder");
    let data = local_data().expect("data folder");
    for dir in [&cache, &config, &data] {
        assert!(dir.is_absolute(), "{}", dir.display());
        assert!(
            dir.components().any(|c| c.as_os_str() == APP),
            "{}",
            dir.display()
        );
    }
    assert_eq!(config, config_root().unwrap().join(APP));
}
