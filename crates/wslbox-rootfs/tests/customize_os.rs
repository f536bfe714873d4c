//! OS detection, symlink resolution inside the tree, and suitability warnings.

mod customize_support;

use customize_support::*;
use wslbox_image::ImageConfigSummary;
use wslbox_rootfs::NodeKind;
use wslbox_rootfs::customize::{CustomizeError, WslOptions, resolve, suitability};
use wslbox_rootfs::osrelease::detect_os;

fn codes(warnings: &[wslbox_rootfs::customize::Warning]) -> Vec<&str> {
    warnings.iter().map(|w| w.code).collect()
}

#[test]
fn debian_os_release_is_read_through_the_relative_symlink_into_usr_lib() {
    let os = detect_os(&debian_like()).unwrap();
    assert_eq!(
        (os.id.as_str(), os.version_id.as_deref()),
        ("debian", Some("12"))
    );
    assert_eq!(os.pretty_name, "Debian GNU/Linux 12 (bookworm)");
    assert_eq!(os.name, "Debian GNU/Linux");
}

#[test]
fn fedora_and_alpine_plain_os_release_files_are_read() {
    assert_eq!(
        detect_os(&fedora_like()).unwrap().pretty_name,
        "Fedora Linux 40 (Container Image)"
    );
    let alpine = detect_os(&alpine_like()).unwrap();
    assert_eq!(
        (alpine.id.as_str(), alpine.version_id.as_deref()),
        ("alpine", Some("3.20.3"))
    );
}

#[test]
fn falls_back_to_usr_lib_os_release_when_etc_has_none() {
    let mut tree = debian_like();
    tree.nodes.remove(&b"etc/os-release"[..]);
    assert_eq!(detect_os(&tree).unwrap().id, "debian");
}

#[test]
fn absolute_symlink_resolves_inside_the_tree_not_the_host() {
    let tree = fedora_like()
        .symlink("etc/os-release", "/usr/lib/os-release")
        .dir("usr/lib")
        .file("usr/lib/os-release", "ID=inside\n");
    assert_eq!(detect_os(&tree).unwrap().id, "inside");
}

#[test]
fn symlink_loops_and_dangling_links_give_no_os() {
    let looped = MemTree::default()
        .dir("etc")
        .symlink("etc/os-release", "a")
        .symlink("etc/a", "os-release");
    assert_eq!(detect_os(&looped), None);
    let dangling = MemTree::default()
        .dir("etc")
        .symlink("etc/os-release", "../usr/lib/os-release");
    assert_eq!(detect_os(&dangling), None);
}

#[test]
fn resolve_follows_usrmerge_directory_symlinks_and_dotdot_stays_at_root() {
    let tree = debian_like();
    let (path, info) = resolve(&tree, b"/bin/sh").unwrap();
    assert_eq!(
        (path.as_slice(), info.kind),
        (&b"usr/bin/dash"[..], NodeKind::File)
    );
    let (path, _) = resolve(&tree, b"../../../etc/../usr/./bin/bash").unwrap();
    assert_eq!(path, b"usr/bin/bash");
    assert!(
        resolve(&tree, b"etc/passwd/x").is_none(),
        "a file is not a directory"
    );
}

#[test]
fn no_shell_is_an_error_for_wsl_format_and_import_and_a_warning_for_tar() {
    let scratch = MemTree::default()
        .dir("app")
        .file_owned("app/server", b"ELF", 0o755, 0, 0);
    let config = ImageConfigSummary::default();
    for opts in [
        WslOptions {
            wsl_format: true,
            ..WslOptions::default()
        },
        WslOptions {
            import: true,
            ..WslOptions::default()
        },
    ] {
        let err = run(&scratch, &config, &opts).unwrap_err();
        assert!(matches!(err, CustomizeError::NoShell), "{err}");
        assert!(err.to_string().contains("--force"));
    }
    let (c, _) = run(
        &scratch,
        &config,
        &WslOptions {
            wsl_format: true,
            force: true,
            ..WslOptions::default()
        },
    )
    .unwrap();
    assert!(codes(&c.warnings).contains(&"no-shell"));
    let (c, _) = run(&scratch, &config, &WslOptions::default()).unwrap();
    assert!(codes(&c.warnings).contains(&"no-shell"));
}

#[test]
fn alpine_with_apk_is_fine_but_bare_busybox_is_warned() {
    let config = ImageConfigSummary::default();
    assert_eq!(
        codes(&suitability(&alpine_like(), &config)),
        Vec::<&str>::new()
    );
    let mut busybox = alpine_like();
    busybox.nodes.remove(&b"sbin/apk"[..]);
    assert_eq!(codes(&suitability(&busybox, &config)), ["busybox-only"]);
}

#[test]
fn shell_without_package_manager_is_warned() {
    let mut tree = fedora_like();
    tree.nodes.remove(&b"usr/bin/dnf"[..]);
    assert_eq!(
        codes(&suitability(&tree, &ImageConfigSummary::default())),
        ["no-package-manager"]
    );
}

#[test]
fn application_images_are_warned() {
    let config = ImageConfigSummary {
        entrypoint: vec!["/docker-entrypoint.sh".into()],
        cmd: vec!["nginx".into(), "-g".into(), "daemon off;".into()],
        ..ImageConfigSummary::default()
    };
    let warnings = suitability(&debian_like(), &config);
    assert_eq!(codes(&warnings), ["application-image"]);
    assert!(warnings[0].message.contains("nginx"));
}

#[test]
fn customization_reports_the_os() {
    let (c, _) = run(
        &fedora_like(),
        &ImageConfigSummary::default(),
        &WslOptions::default(),
    )
    .unwrap();
    assert_eq!(c.os.unwrap().id, "fedora");
    let json = serde_json::to_value(suitability(
        &MemTree::default(),
        &ImageConfigSummary::default(),
    ))
    .unwrap();
    assert_eq!(json[0]["code"], "no-shell");
}
