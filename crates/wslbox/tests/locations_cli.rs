//! Where wslbox keeps its files when no flag says (`wslbox-dirs`): the cache under
//! `$XDG_CACHE_HOME` or `~/.cache`, the user's catalog and config under `$XDG_CONFIG_HOME` or
//! `~/.config`, and a clear error, never the current or temp folder, when the environment names
//! no usable folder.

use std::path::Path;
use std::process::{Command, Output};

use wslbox_test::dir_names;

/// `wslbox ARGS` with only PATH and `vars` set (no `--cache-dir`, no `WSLBOX_CACHE_DIR`).
fn wslbox(cwd: &Path, vars: &[(&str, &Path)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wslbox"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .env("CONTAINERS_REGISTRIES_CONF", "/nonexistent/registries.conf")
        .envs(vars.iter().map(|(k, v)| (k, v.as_os_str())))
        .current_dir(cwd)
        .args(args)
        .output()
        .expect("run wslbox")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_cache_defaults_to_xdg_cache_home_then_home() {
    let root = tempfile::tempdir().unwrap();
    let (home, xdg) = (root.path().join("home"), root.path().join("xdg-cache"));
    let out = wslbox(
        root.path(),
        &[("HOME", &home), ("XDG_CACHE_HOME", &xdg)],
        &["images", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        xdg.join("wslbox/images-v1").is_dir(),
        "{:?}",
        dir_names(&xdg)
    );
    assert!(
        !home.exists(),
        "nothing under HOME when XDG_CACHE_HOME is set"
    );

    // A relative XDG_CACHE_HOME is invalid (XDG base-directory spec): HOME's ~/.cache it is.
    let out = wslbox(
        root.path(),
        &[("HOME", &home), ("XDG_CACHE_HOME", Path::new("rel"))],
        &["images", "--json"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(home.join(".cache/wslbox/images-v1").is_dir());
    assert!(
        !root.path().join("rel").exists(),
        "never relative to the current folder"
    );
}

#[test]
fn no_usable_home_is_one_clear_error_that_names_the_variables_and_the_flag() {
    let root = tempfile::tempdir().unwrap();
    for vars in [
        &[][..],
        &[("HOME", Path::new("relative"))][..],
        &[
            ("HOME", Path::new("")),
            ("XDG_CACHE_HOME", Path::new("also/relative")),
        ][..],
    ] {
        let out = wslbox(root.path(), vars, &["images"]);
        assert!(!out.status.success());
        assert_eq!(
            stderr(&out),
            "error: cannot find the cache folder: XDG_CACHE_HOME or HOME is not set to an absolute path; pass --cache-dir DIR or set WSLBOX_CACHE_DIR\n",
            "{vars:?}"
        );
        assert!(
            dir_names(root.path()).is_empty(),
            "nothing written anywhere: {vars:?}"
        );
    }
    // The flag is the fix.
    let cache = root.path().join("c");
    let out = wslbox(
        root.path(),
        &[],
        &["--cache-dir", cache.to_str().unwrap(), "images"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cache.join("images-v1").is_dir());
}

#[test]
fn the_user_catalog_is_read_from_home_config_when_xdg_config_home_is_unset() {
    let root = tempfile::tempdir().unwrap();
    let home = root.path().join("home");
    let file = home.join(".config/wslbox/catalog.toml");
    fs_err::create_dir_all(file.parent().unwrap()).unwrap();
    fs_err::write(
        &file,
        "[[entry]]\nname = \"team-dev\"\nimage = \"ghcr.io/team/dev:1\"\ndescription = \"the team's\"\nfamily = \"debian\"\nos_ids = [\"debian\"]\npackage_manager = \"apt\"\nadmin_group = \"sudo\"\nsystemd = true\n",
    )
    .unwrap();
    let cache = root.path().join("cache");
    let args = ["--cache-dir", cache.to_str().unwrap(), "catalog", "--json"];
    let out = wslbox(root.path(), &[("HOME", &home)], &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains("ghcr.io/team/dev:1"), "{stdout}");

    // A relative XDG_CONFIG_HOME is ignored the same way, not read from the current folder.
    let cwd_catalog = root.path().join("rel/wslbox/catalog.toml");
    fs_err::create_dir_all(cwd_catalog.parent().unwrap()).unwrap();
    fs_err::write(&cwd_catalog, "not toml [").unwrap();
    let vars = [
        ("HOME", home.as_path()),
        ("XDG_CONFIG_HOME", Path::new("rel")),
    ];
    let out = wslbox(root.path(), &vars, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("ghcr.io/team/dev:1")
    );
}
