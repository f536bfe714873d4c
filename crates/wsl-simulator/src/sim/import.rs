//! `wsl --import NAME DIR FILE|- [--version 1|2]` and
//! `wsl --install --from-file FILE|- [--name N] [--location DIR] [--version 1|2] [--no-launch]`.
//!
//! Both register the same way (microsoft/WSL `LxssUserSession.cpp`,
//! `LxssUserSessionImpl::RegisterDistribution`); `--import` passes
//! `LXSS_IMPORT_DISTRO_FLAGS_NO_OOBE` and `--install --from-file` does not
//! (`src/windows/common/WslClient.cpp`, `ImportDistribution` and `Install`), so only the latter
//! leaves the first-run setup pending (`RunOOBE` 1). Without `--name` the name is
//! `[oobe] defaultName` of `/etc/wsl-distribution.conf`; without `--location` the folder is
//! `%LOCALAPPDATA%\wsl\{GUID}`.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::registry::{self, lxss};
use super::{Result, archive, fail, fault, hold, shell, version};

fn new_guid() -> String {
    let g = windows::core::GUID::new().expect("CoCreateGuid");
    let d4 = g.data4;
    format!(
        "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
        g.data1, g.data2, g.data3, d4[0], d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]
    )
}

fn read_source(file: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    if file == "-" {
        if version().is_none() {
            // Inbox WSL treats `-` as a file name.
            return fail(
                "The system cannot find the file specified.",
                "Wsl/Service/RegisterDistro/ERROR_FILE_NOT_FOUND",
            );
        }
        if std::io::stdin().read_to_end(&mut bytes).is_err() {
            return fail(
                "Reading the archive from standard input failed.",
                "Wsl/Service/RegisterDistro/E_FAIL",
            );
        }
    } else if let Ok(b) = fs_err::read(file) {
        bytes = b;
    } else {
        return fail(
            "The system cannot find the file specified.",
            "Wsl/Service/RegisterDistro/ERROR_FILE_NOT_FOUND",
        );
    }
    Ok(bytes)
}

/// What `--import` or `--install --from-file` asked for.
pub struct Registration<'a> {
    pub name: Option<&'a str>,
    pub dir: Option<&'a str>,
    pub file: &'a str,
    pub wsl_version: u32,
    /// `--install --from-file`: the first-run setup stays pending.
    pub first_run: bool,
}

pub fn import(name: &str, dir: &str, file: &str, wsl_version: u32) -> Result {
    register(&Registration {
        name: Some(name),
        dir: Some(dir),
        file,
        wsl_version,
        first_run: false,
    })
}

fn taken(name: &str) -> Result {
    if registry::find(name).is_some() {
        return fail(
            "A distribution with the supplied name already exists. Use --name to choose a different name.",
            "Wsl/Service/RegisterDistro/ERROR_ALREADY_EXISTS",
        );
    }
    Ok(())
}

pub fn register(r: &Registration) -> Result {
    if let Some(name) = r.name {
        taken(name)?;
    }
    let tar = archive::load(read_source(r.file)?)?;
    let conf_name = archive::file(&tar, "etc/wsl-distribution.conf").and_then(|conf| {
        let mut section = String::new();
        conf.lines().find_map(|line| {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.trim_matches(['[', ']']).trim().to_lowercase();
                return None;
            }
            let (key, value) = line.split_once('=')?;
            (section == "oobe" && key.trim().eq_ignore_ascii_case("defaultName"))
                .then(|| value.trim().to_owned())
        })
    });
    let Some(name) = r.name.map(str::to_owned).or(conf_name) else {
        return fail(
            "The distribution has no name: pass --name, or set [oobe] defaultName in /etc/wsl-distribution.conf.",
            "Wsl/Service/RegisterDistro/E_INVALIDARG",
        );
    };
    let name = name.as_str();
    taken(name)?;
    let guid = new_guid();
    let dir: PathBuf = match r.dir {
        Some(dir) => std::path::absolute(Path::new(dir)).unwrap_or_else(|_| dir.into()),
        None => PathBuf::from(std::env::var_os("LOCALAPPDATA").unwrap_or_default())
            .join("wsl")
            .join(&guid),
    };
    let wsl_version = r.wsl_version;
    if fault("import-before-register", &dir.display().to_string()) {
        return fail(
            "Simulated failure before registration (WSL_SIM_FAIL).",
            "Wsl/Service/RegisterDistro/E_FAIL",
        );
    }
    let disk_name = if wsl_version == 2 {
        "ext4.vhdx"
    } else {
        "rootfs.tar"
    };
    let disk = dir.join(disk_name);
    if disk.exists() {
        return fail(
            "The file exists.",
            "Wsl/Service/RegisterDistro/ERROR_FILE_EXISTS",
        );
    }
    if fs_err::create_dir_all(&dir)
        .and_then(|()| fs_err::write(&disk, &tar))
        .is_err()
    {
        return fail(
            "Access is denied.",
            "Wsl/Service/RegisterDistro/E_ACCESSDENIED",
        );
    }

    let key = lxss().create(&guid).expect("create distribution key");
    let base = format!(r"\\?\{}", dir.display());
    let (flavor, os_version) = archive::os_release(&tar);
    let ok = (|| -> windows::core::Result<()> {
        key.set_u32("State", 3)?; // Installing
        key.set_string("DistributionName", name)?;
        key.set_string("BasePath", &base)?;
        key.set_u32("Version", 2)?;
        key.set_u32("Flags", if wsl_version == 2 { 0xF } else { 0x7 })?;
        key.set_u32("DefaultUid", 0)?;
        key.set_string("KernelCommandLine", "BOOT_IMAGE=/kernel init=/init")?;
        key.set_multi_string(
            "DefaultEnvironment",
            &[
                "HOSTTYPE=x86_64",
                "LANG=en_US.UTF-8",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm-256color",
            ],
        )?;
        if wsl_version == 2 {
            key.set_string("VhdFileName", disk_name)?;
        }
        key.set_u32("Modern", 1)?;
        key.set_u32("RunOOBE", u32::from(r.first_run))?;
        if let Some(f) = &flavor {
            key.set_string("Flavor", f)?;
        }
        if let Some(v) = &os_version {
            key.set_string("OsVersion", v)?;
        }
        Ok(())
    })();
    if ok.is_err() {
        return fail(
            "Registering the distribution failed.",
            "Wsl/Service/RegisterDistro/E_FAIL",
        );
    }
    hold("import-after-register", &dir.display().to_string())?;
    if fault("import-after-register", &dir.display().to_string()) {
        // The worst case for a caller: registered, files written, then an error.
        return fail(
            "Simulated failure after registration (WSL_SIM_FAIL).",
            "Wsl/Service/RegisterDistro/E_UNEXPECTED",
        );
    }
    if let Some(link) = shell::create_shortcut(name, &guid) {
        let _ = key.set_string("ShortcutPath", link.display().to_string());
    }
    if let Some(fragment) = shell::create_fragment(name, &guid) {
        let _ = key.set_string("TerminalProfilePath", fragment.display().to_string());
    }
    let _ = key.set_u32("State", 1);
    if registry::default_guid().is_none_or(|g| lxss().open(&g).is_err()) {
        let _ = lxss().set_string("DefaultDistribution", &guid);
    }
    if r.first_run {
        super::say(&format!(
            "Distribution successfully installed. It can be launched via 'wsl.exe -d {name}'"
        ));
    } else {
        super::say(
            "Import in progress, this may take a few minutes.\nThe operation completed successfully.",
        );
    }
    Ok(())
}
