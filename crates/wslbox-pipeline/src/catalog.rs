//! What the catalog knows about the image's OS, applied to an export: the admin group a new
//! `--user` joins, a warning when `--systemd` cannot work, and the entry's caveats as notes.
//! An `ID_LIKE` match (a derivative the catalog does not list) lends only the admin group and
//! the systemd fact; the caveats of the parent distribution may not hold for it.

use wslbox_catalog::Catalog;
use wslbox_rootfs::TreeView;
use wslbox_rootfs::customize::{Customization, Warning, WslOptions};
use wslbox_rootfs::osrelease::detect_os;

/// `--systemd` on an OS whose catalog entry says systemd does not work there.
pub const SYSTEMD_UNSUPPORTED: &str = "systemd-unsupported";

/// Warnings and notes to add to the customization.
#[derive(Debug, Default)]
pub(crate) struct Advice {
    warnings: Vec<Warning>,
    notes: Vec<String>,
}

impl Advice {
    pub(crate) fn apply(self, custom: &mut Customization) {
        custom.warnings.extend(self.warnings);
        custom.notes.extend(self.notes);
    }
}

/// Looks the tree's os-release up in `catalog`; sets `wsl.admin_group` for `--user` unless
/// already set.
pub(crate) fn advise(
    catalog: Option<&Catalog>,
    tree: &dyn TreeView,
    wsl: &mut WslOptions,
) -> Advice {
    let mut advice = Advice::default();
    let (Some(catalog), Some(os)) = (catalog, detect_os(tree)) else {
        return advice;
    };
    let Some(found) = catalog.find_os(&os.id, &os.id_like) else {
        return advice;
    };
    let entry = found.entry;
    if wsl.user.is_some() && wsl.admin_group.is_none() {
        wsl.admin_group = Some(entry.admin_group.clone());
    }
    if wsl.systemd && !entry.systemd {
        advice.warnings.push(Warning::new(
            SYSTEMD_UNSUPPORTED,
            format!(
                "--systemd: the catalog entry `{}` says systemd does not work on {}; WSL may fail to start the distribution with [boot] systemd=true, so export without --systemd",
                entry.name, os.pretty_name
            ),
        ));
    }
    if found.like.is_none() {
        advice.notes.extend(
            entry
                .caveats
                .iter()
                .map(|caveat| format!("{}: {caveat}", entry.name)),
        );
    }
    advice
}
