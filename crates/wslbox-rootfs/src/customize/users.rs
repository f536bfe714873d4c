//! Accounts: the root entry WSL needs, `--user` (created the way useradd would, or reused),
//! the image's `User` as default, sudo rights and the home directory from `/etc/skel`.

use super::accounts::{DbFile, Entry, GROUP, GSHADOW, PASSWD, SHADOW, SUBGID, SUBUID};
use super::staged::{Staged, display};
use super::{Customization, CustomizeError, ImageFacts, UserSpec, Warning, WslOptions, password};
use super::{accounts, carry};
use crate::{NodeKind, Overlay, OverlayContent};

/// Regular users get ids from here, as `UID_MIN`/`GID_MIN` in login.defs default to.
const ID_MIN: u32 = 1000;
const ID_MAX: u32 = 60000;

/// What later steps need to know about accounts.
pub(crate) struct Accounts {
    pub default_user: Option<(String, u32)>,
}

struct Db {
    passwd: DbFile,
    group: DbFile,
}

pub(crate) fn apply(
    staged: &mut Staged,
    facts: &ImageFacts,
    opts: &WslOptions,
    out: &mut Customization,
) -> Result<Accounts, CustomizeError> {
    let mut db = Db {
        passwd: DbFile::load(staged, PASSWD)?,
        group: DbFile::load(staged, GROUP)?,
    };
    ensure_root(staged, &mut db, out)?;
    let default_user = match (&opts.previous, &opts.user) {
        (Some(prev), _) => {
            let admin = opts.admin_group.as_deref();
            carry::apply(staged, &mut db.passwd, &mut db.group, prev, admin, out)?
        }
        (None, Some(spec)) => Some(add_or_reuse(staged, &mut db, facts, opts, spec, out)?),
        (None, None) => image_user(&db, facts, opts.default_uid, out)?,
    };
    db.passwd.store(staged, 0o644, 0, 0);
    db.group.store(staged, 0o644, 0, 0);
    Ok(Accounts { default_user })
}

/// WSL starts by looking up uid 0 and fails with `getpwuid(0) failed` without it (WSL#8489).
fn ensure_root(
    staged: &mut Staged,
    db: &mut Db,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let has_root =
        db.passwd.find("root")?.is_some() || db.passwd.entries().iter().any(|e| e.id(2) == 0);
    if !has_root {
        db.passwd.append(b"root:x:0:0:root:/root:/bin/sh");
        out.warnings.push(Warning::new(
            "root-added",
            "the image has no root entry in /etc/passwd; added root:x:0:0:root:/root:/bin/sh so WSL can start (WSL#8489)",
        ));
        if staged.lookup(b"root").is_none() {
            let real = staged.dir_for_new(b"root")?;
            staged.put(Overlay {
                path: real,
                content: OverlayContent::Dir,
                mode: 0o700,
                uid: 0,
                gid: 0,
                mtime: staged.mtime,
            });
        }
    }
    if db.group.find("root")?.is_none() && !db.group.entries().iter().any(|e| e.id(2) == 0) {
        db.group.append(b"root:x:0:");
    }
    Ok(())
}

/// The distribution's `DefaultUid` (`commit`), else the image config's `User` (`name`,
/// `uid`, `name:group`, `uid:gid`), becomes the default when it names an existing non-root
/// user.
fn image_user(
    db: &Db,
    facts: &ImageFacts,
    default_uid: Option<u32>,
    out: &mut Customization,
) -> Result<Option<(String, u32)>, CustomizeError> {
    let (user, whose) = match default_uid {
        Some(uid) => (uid.to_string(), "distribution's DefaultUid"),
        None => match facts.config.user.as_deref() {
            Some(u) => (
                u.split(':').next().unwrap_or(u).to_owned(),
                "image config's User",
            ),
            None => return Ok(None),
        },
    };
    let user = user.as_str();
    if user.is_empty() || user == "root" || user == "0" {
        return Ok(None);
    }
    let entry = match user.parse::<u32>() {
        Ok(uid) => db.passwd.entries().into_iter().find(|e| e.id(2) == uid),
        Err(_) => db.passwd.find(user)?,
    };
    match entry {
        Some(e) => {
            let name = String::from_utf8_lossy(e.name()).into_owned();
            // `[user] default` names the user, so the name must lead back to this entry: not to
            // an earlier line of the same name with another uid, nor be a lossy spelling.
            let leads_back =
                matches!(db.passwd.find(&name), Ok(Some(first)) if first.index == e.index);
            if !leads_back {
                out.warnings.push(Warning::new(
                    "image-user-ambiguous",
                    format!("the {whose} `{user}` is the /etc/passwd entry `{name}` with UID {}, but that name does not lead back to it (another entry comes first, or the name is not UTF-8); the default user stays root (use --user to choose one)", e.id(2)),
                ));
                return Ok(None);
            }
            Ok(Some((name, e.id(2))).filter(|(_, uid)| *uid != 0))
        }
        None => {
            out.warnings.push(Warning::new(
                "image-user-missing",
                format!("the {whose} `{user}` is not in /etc/passwd; the default user stays root (use --user to create one)"),
            ));
            Ok(None)
        }
    }
}

fn add_or_reuse(
    staged: &mut Staged,
    db: &mut Db,
    facts: &ImageFacts,
    opts: &WslOptions,
    spec: &UserSpec,
    out: &mut Customization,
) -> Result<(String, u32), CustomizeError> {
    let name = spec.name.as_str();
    let hash = opts.password.as_deref().map(password::hash).transpose()?;
    let uid = match db.passwd.find(name)? {
        Some(existing) => {
            let uid = existing.id(2);
            if spec.uid.is_some_and(|wanted| wanted != uid) {
                out.warnings.push(Warning::new(
                    "user-exists",
                    format!("user `{name}` already exists in the image with UID {uid}; reusing it as the default user"),
                ));
            }
            if let Some(hash) = &hash {
                set_password(staged, name, hash, facts)?;
            }
            uid
        }
        None => create(staged, db, facts, opts, spec, hash.as_deref(), out)?,
    };
    if opts.sudo_nopasswd {
        sudoers_dropin(staged, name, out)?;
    }
    if hash.is_none() {
        let distro = opts.distro_name.as_deref().unwrap_or("<distro>");
        out.notes.push(format!(
            "`{name}` has no password; set one with: wsl -d {distro} -u root passwd {name}"
        ));
    }
    Ok((name.to_string(), uid))
}

/// Adds the user as `useradd -m -U -G <admin> -s <shell>` would.
fn create(
    staged: &mut Staged,
    db: &mut Db,
    facts: &ImageFacts,
    opts: &WslOptions,
    spec: &UserSpec,
    hash: Option<&str>,
    out: &mut Customization,
) -> Result<u32, CustomizeError> {
    let name = spec.name.as_str();
    let uids = db.passwd.used_ids(2);
    let gids = db.group.used_ids(2);
    let uid = match spec.uid {
        Some(uid) => {
            if let Some(owner) = db.passwd.entries().into_iter().find(|e| e.id(2) == uid) {
                return Err(CustomizeError::UidInUse {
                    uid,
                    owner: String::from_utf8_lossy(owner.name()).into_owned(),
                });
            }
            uid
        }
        // Free as a uid and as a gid, so the primary group can share the number.
        None => (ID_MIN..=ID_MAX)
            .find(|id| !uids.contains(id) && !gids.contains(id))
            .ok_or(CustomizeError::NoFreeUid)?,
    };
    let (gid, new_group) = match db.group.find(name)? {
        Some(group) => (group.id(2), false),
        None if !gids.contains(&uid) => (uid, true),
        None => (
            (ID_MIN..=ID_MAX)
                .find(|id| !gids.contains(id))
                .ok_or(CustomizeError::NoFreeUid)?,
            true,
        ),
    };
    let shell = match staged.resolve(b"bin/bash") {
        Some((_, info)) if info.kind == NodeKind::File => "/bin/bash",
        _ => "/bin/sh",
    };
    db.passwd
        .append(format!("{name}:x:{uid}:{gid}::/home/{name}:{shell}").as_bytes());
    if new_group {
        db.group.append(format!("{name}:x:{gid}:").as_bytes());
    }

    let days = facts.exported_at.max(0) / 86_400;
    let mut shadow = DbFile::load(staged, SHADOW)?;
    if shadow.find(name)?.is_none() {
        shadow.append(format!("{name}:{}:{days}:0:99999:7:::", hash.unwrap_or("!")).as_bytes());
    }
    let shadow_gid = db
        .group
        .find("shadow")
        .ok()
        .flatten()
        .map_or(0, |g| u64::from(g.id(2)));
    // Debian keeps shadow 0640 root:shadow for unix_chkpwd; without that group, root only.
    shadow.store(
        staged,
        if shadow_gid == 0 { 0o600 } else { 0o640 },
        0,
        shadow_gid,
    );

    let mut gshadow = DbFile::load(staged, GSHADOW)?;
    if gshadow.exists() && new_group && gshadow.find(name)?.is_none() {
        gshadow.append(format!("{name}:!::").as_bytes());
    }

    match admin_group(&db.group, opts.admin_group.as_deref(), name, out)? {
        Some(admin) => {
            let admin_name = String::from_utf8_lossy(admin.name()).into_owned();
            db.group.add_member(&admin, 3, name);
            if gshadow.exists()
                && let Some(entry) = gshadow.find(&admin_name)?
            {
                gshadow.add_member(&entry, 3, name);
            }
        }
        None => out.warnings.push(Warning::new(
            "no-admin-group",
            format!("the image has neither a `sudo` nor a `wheel` group; `{name}` is not an administrator"),
        )),
    }
    gshadow.store(staged, 0o640, 0, shadow_gid);

    for schema in [SUBUID, SUBGID] {
        subordinate_ids(staged, schema, name)?;
    }
    make_home(staged, name, uid, gid, out)?;
    Ok(uid)
}

/// Subordinate ids for rootless containers, as useradd adds them when the image has
/// `/etc/subuid`/`/etc/subgid`: 65536 ids after the highest range in use, from 100000.
fn subordinate_ids(
    staged: &mut Staged,
    schema: accounts::Schema,
    name: &str,
) -> Result<(), CustomizeError> {
    const FIRST: u64 = 100_000;
    const COUNT: u64 = 65_536;
    let mut file = DbFile::load(staged, schema)?;
    if !file.exists() || file.find(name)?.is_some() {
        return Ok(());
    }
    let start = file
        .entries()
        .iter()
        .map(|e| u64::from(e.id(1)) + u64::from(e.id(2)))
        .fold(FIRST, u64::max);
    if start + COUNT > u64::from(u32::MAX) {
        return Ok(());
    }
    file.append(format!("{name}:{start}:{COUNT}").as_bytes());
    file.store(staged, 0o644, 0, 0);
    Ok(())
}

/// The `wanted` group (the catalog's choice for this OS) if the image has it; else `sudo`
/// (Debian, Ubuntu) if present, else `wheel` (Fedora, Arch, Alpine, RHEL), with a warning
/// when that overrules `wanted`.
fn admin_group(
    group: &DbFile,
    wanted: Option<&str>,
    user: &str,
    out: &mut Customization,
) -> Result<Option<Entry>, CustomizeError> {
    if let Some(wanted) = wanted
        && let Some(entry) = group.find(wanted)?
    {
        return Ok(Some(entry));
    }
    let fallback = match group.find("sudo")? {
        Some(sudo) => Some(sudo),
        None => group.find("wheel")?,
    };
    if let (Some(wanted), Some(found)) = (wanted, &fallback) {
        let found = String::from_utf8_lossy(found.name());
        out.warnings.push(Warning::new(
            "admin-group-missing",
            format!("the catalog says this OS's admin group is `{wanted}`, but the image's /etc/group has none; `{user}` joins `{found}` instead"),
        ));
    }
    Ok(fallback)
}

fn set_password(
    staged: &mut Staged,
    name: &str,
    hash: &str,
    facts: &ImageFacts,
) -> Result<(), CustomizeError> {
    let mut shadow = DbFile::load(staged, SHADOW)?;
    match shadow.find(name)? {
        Some(entry) => shadow.set_field(&entry, 1, hash.as_bytes()),
        None => {
            let days = facts.exported_at.max(0) / 86_400;
            shadow.append(format!("{name}:{hash}:{days}:0:99999:7:::").as_bytes());
        }
    }
    shadow.store(staged, 0o600, 0, 0);
    Ok(())
}

/// Home mode as useradd computes it: `HOME_MODE`, else `0777 & ~UMASK` from login.defs,
/// else useradd's built-in umask 022 (0755). Debian 12 and Fedora ship UMASK 022 (0755; Fedora
/// also HOME_MODE 0700), Ubuntu ≥ 21.04 ships HOME_MODE 0750.
fn home_mode(staged: &Staged) -> Result<u32, CustomizeError> {
    let defs = match staged.resolve(b"etc/login.defs") {
        Some((real, info)) if info.kind == NodeKind::File => {
            staged.read(&real)?.unwrap_or_default()
        }
        _ => Vec::new(),
    };
    let value = |key: &str| {
        String::from_utf8_lossy(&defs).lines().find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some(key))
                .then(|| words.next().and_then(|v| u32::from_str_radix(v, 8).ok()))
                .flatten()
        })
    };
    Ok(match (value("HOME_MODE"), value("UMASK")) {
        (Some(mode), _) => mode & 0o7777,
        (None, Some(umask)) => 0o777 & !umask,
        (None, None) => 0o755,
    })
}

/// `/home/NAME` owned by the user, populated from `/etc/skel` (directories recreated,
/// files copied, symlinks kept, all chowned), unless it already exists.
fn make_home(
    staged: &mut Staged,
    name: &str,
    uid: u32,
    gid: u32,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let (uid, gid) = (u64::from(uid), u64::from(gid));
    let mode = home_mode(staged)?;
    let mtime = staged.mtime;
    let home = staged.dir_for_new(format!("home/{name}").as_bytes())?;
    if let Some(info) = staged.lookup(&home) {
        if info.kind != NodeKind::Dir {
            return Err(CustomizeError::NotADirectory {
                path: display(&home),
            });
        }
        // As useradd does: an existing home is not populated from /etc/skel, only re-owned.
        staged.put(Overlay {
            path: home.clone(),
            content: OverlayContent::Dir,
            mode: info.mode,
            uid,
            gid,
            mtime,
        });
        out.notes.push(format!(
            "{} already exists in the image; it was re-owned but not populated from /etc/skel",
            display(&home)
        ));
        return Ok(());
    }
    staged.put(Overlay {
        path: home.clone(),
        content: OverlayContent::Dir,
        mode,
        uid,
        gid,
        mtime,
    });
    if let Some((skel, info)) = staged.resolve(b"etc/skel")
        && info.kind == NodeKind::Dir
    {
        copy_skel(staged, &skel, &home, uid, gid, 0);
    }
    Ok(())
}

fn copy_skel(staged: &mut Staged, from: &[u8], to: &[u8], uid: u64, gid: u64, depth: usize) {
    // A skeleton deeper than this is surely a loop in a broken tree.
    if depth > 32 {
        return;
    }
    let view = staged.view();
    for child in view.children(from) {
        let src = [from, b"/", &child].concat();
        let dst = [to, b"/", &child].concat();
        let Some(info) = view.lookup(&src) else {
            continue;
        };
        let content = match info.kind {
            NodeKind::Dir => OverlayContent::Dir,
            NodeKind::File => OverlayContent::CopyOf(src.clone()),
            NodeKind::Symlink => {
                OverlayContent::Symlink(info.link_target.clone().unwrap_or_default())
            }
            _ => continue,
        };
        let mtime = info.mtime;
        staged.put(Overlay {
            path: dst.clone(),
            content,
            mode: info.mode,
            uid,
            gid,
            mtime,
        });
        if info.kind == NodeKind::Dir {
            copy_skel(staged, &src, &dst, uid, gid, depth + 1);
        }
    }
}

/// `/etc/sudoers.d/wslbox-NAME`, mode 0440 as sudo requires. The name has no `.` or `~`,
/// which sudo would skip.
fn sudoers_dropin(
    staged: &mut Staged,
    name: &str,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let dir = staged.ensure_dir(b"etc/sudoers.d", 0o750)?;
    let path = [dir.as_slice(), b"/wslbox-", name.as_bytes()].concat();
    let rule =
        format!("# Written by wslbox (--sudo-nopasswd).\n{name} ALL=(ALL:ALL) NOPASSWD: ALL\n");
    staged.put_file(path, rule.into_bytes(), 0o440, 0, 0);

    let installed = ["usr/bin/sudo", "bin/sudo", "usr/sbin/sudo"]
        .iter()
        .any(|p| staged.resolve(p.as_bytes()).is_some());
    if !installed {
        out.warnings.push(Warning::new(
            "sudo-missing",
            "--sudo-nopasswd: sudo is not installed in the image; the rule applies once it is",
        ));
    }
    if let Some((real, info)) = staged.resolve(b"etc/sudoers")
        && info.kind == NodeKind::File
        && let Some(text) = staged.read(&real)?
        && !String::from_utf8_lossy(&text).contains("includedir /etc/sudoers.d")
    {
        out.warnings.push(Warning::new(
            "sudoers-no-includedir",
            "/etc/sudoers does not include /etc/sudoers.d, so the --sudo-nopasswd rule is ignored until it does",
        ));
    }
    Ok(())
}
