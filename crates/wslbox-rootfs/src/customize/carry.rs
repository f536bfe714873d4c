//! `wslbox upgrade`: the old distribution's default user carried into the new image's account
//! databases. `/home`, `/root` and `/etc/wsl.conf` come over as whole trees (see
//! [`crate::keep`]); the databases cannot, because the new image has its own system accounts.
//! So the user's lines are merged in, with the same uid and gid (the kept files are owned by
//! them), the same password hash, the same supplementary groups where the new image has them,
//! the admin group mapped onto the new image's, the sudoers drop-ins wslbox wrote, and the same
//! subordinate id ranges (rootless container storage in the home is owned by them).

use super::accounts::{DbFile, Entry, GROUP, GSHADOW, PASSWD, SHADOW, SUBGID, SUBUID, Schema};
use super::ini::Ini;
use super::staged::Staged;
use super::{Customization, CustomizeError, Warning};

/// Groups that mean "may administer the system", whichever the old image used.
const ADMIN_GROUPS: [&str; 3] = ["sudo", "wheel", "admin"];

/// The old distribution's account databases and what chose its default user; read from its
/// export by [`crate::keep::read_kept`].
#[derive(Debug, Clone, Default)]
pub struct PreviousAccounts {
    pub passwd: Vec<u8>,
    pub shadow: Option<Vec<u8>>,
    pub group: Vec<u8>,
    pub gshadow: Option<Vec<u8>>,
    pub subuid: Option<Vec<u8>>,
    pub subgid: Option<Vec<u8>>,
    /// `/etc/sudoers.d/wslbox-*` (the drop-ins wslbox wrote): file name and contents.
    pub sudoers: Vec<(String, Vec<u8>)>,
    /// `/etc/wsl.conf`, for `[user] default` when the registry names no user.
    pub wsl_conf: Option<Vec<u8>>,
    /// The distribution's `DefaultUid` (WSL's registry value); `None` when it is not set.
    pub default_uid: Option<u32>,
}

impl PreviousAccounts {
    /// The passwd entry of the user the old distribution logged in as.
    fn old_user(&self) -> Result<Option<Entry>, CustomizeError> {
        let passwd = DbFile::from_bytes(PASSWD, self.passwd.clone());
        let entry = match self.default_uid {
            Some(0) => return Ok(None),
            Some(uid) => passwd.entries().into_iter().find(|e| e.id(2) == uid),
            None => {
                let named = self
                    .wsl_conf
                    .as_deref()
                    .and_then(|conf| Ini::parse(conf).get("user", "default"));
                match named.filter(|n| n != "root") {
                    Some(name) => passwd.find(&name)?,
                    None => return Ok(None),
                }
            }
        };
        Ok(entry)
    }
}

/// Merges the old default user into the staged databases; returns it as the default user.
/// `None` when the old distribution logged in as root.
pub(crate) fn apply(
    staged: &mut Staged,
    passwd: &mut DbFile,
    group: &mut DbFile,
    prev: &PreviousAccounts,
    admin_group: Option<&str>,
    out: &mut Customization,
) -> Result<Option<(String, u32)>, CustomizeError> {
    let Some(user) = prev.old_user()? else {
        if let Some(uid) = prev.default_uid.filter(|&u| u != 0) {
            out.warnings.push(Warning::new(
                "kept-user-missing",
                format!("the old distribution's default uid {uid} is not in its /etc/passwd; the default user is root"),
            ));
        }
        return Ok(None);
    };
    let name = String::from_utf8_lossy(user.name()).into_owned();
    let name = name.as_str();
    let (uid, gid) = (user.id(2), user.id(3));
    merge_line(passwd, &user, 2, "user", name)?;

    let old_group = DbFile::from_bytes(GROUP, prev.group.clone());
    let primary = old_group.entries().into_iter().find(|e| e.id(2) == gid);
    if let Some(primary) = &primary
        && group
            .find(&String::from_utf8_lossy(primary.name()))?
            .is_none()
    {
        merge_line(group, primary, 2, "group", name)?;
    }

    let shadow_gid = group.find("shadow")?.map_or(0, |g| u64::from(g.id(2)));
    let mut shadow = DbFile::load(staged, SHADOW)?;
    if let Some(old) = find_in(prev.shadow.as_deref(), SHADOW, name)? {
        replace_or_append(&mut shadow, &old.fields)?;
        shadow.store(
            staged,
            if shadow_gid == 0 { 0o600 } else { 0o640 },
            0,
            shadow_gid,
        );
    }

    let mut gshadow = DbFile::load(staged, GSHADOW)?;
    if gshadow.exists()
        && let Some(primary) = &primary
    {
        let group_name = String::from_utf8_lossy(primary.name()).into_owned();
        if gshadow.find(&group_name)?.is_none() {
            match find_in(prev.gshadow.as_deref(), GSHADOW, &group_name)? {
                Some(old) => gshadow.append(&old.fields.join(&b':')),
                None => gshadow.append(format!("{group_name}:!::").as_bytes()),
            }
        }
    }
    supplementary_groups(group, &mut gshadow, &old_group, admin_group, name, out)?;
    gshadow.store(staged, 0o640, 0, shadow_gid);

    for (schema, old) in [(SUBUID, &prev.subuid), (SUBGID, &prev.subgid)] {
        let mut file = DbFile::load(staged, schema)?;
        if file.exists()
            && file.find(name)?.is_none()
            && let Some(line) = find_in(old.as_deref(), schema, name)?
        {
            file.append(&line.fields.join(&b':'));
            file.store(staged, 0o644, 0, 0);
        }
    }
    for (file, rule) in &prev.sudoers {
        let dir = staged.ensure_dir(b"etc/sudoers.d", 0o750)?;
        staged.put_file(
            [dir.as_slice(), b"/", file.as_bytes()].concat(),
            rule.clone(),
            0o440,
            0,
            0,
        );
    }
    Ok(Some((name.to_owned(), uid)))
}

/// The entry `name` of an old database, if the old distribution had that file.
fn find_in(
    content: Option<&[u8]>,
    schema: Schema,
    name: &str,
) -> Result<Option<Entry>, CustomizeError> {
    match content {
        Some(bytes) => DbFile::from_bytes(schema, bytes.to_vec()).find(name),
        None => Ok(None),
    }
}

/// Puts the old passwd or group line into the new database: replacing an entry of the same
/// name, appending otherwise. Another name holding the same id is an error, since the kept
/// files would then belong to it.
fn merge_line(
    db: &mut DbFile,
    old: &Entry,
    id_field: usize,
    what: &'static str,
    user: &str,
) -> Result<(), CustomizeError> {
    let wanted = old.id(id_field);
    if let Some(owner) = db
        .entries()
        .into_iter()
        .find(|e| e.id(id_field) == wanted && e.name() != old.name())
    {
        return Err(CustomizeError::KeptIdTaken {
            what,
            id: wanted,
            name: String::from_utf8_lossy(old.name()).into_owned(),
            owner: String::from_utf8_lossy(owner.name()).into_owned(),
            path: db.schema.path,
            user: user.to_owned(),
        });
    }
    replace_or_append(db, &old.fields)
}

fn replace_or_append(db: &mut DbFile, fields: &[Vec<u8>]) -> Result<(), CustomizeError> {
    match db.find(&String::from_utf8_lossy(&fields[0]))? {
        Some(existing) => db.set_fields(&existing, fields),
        None => db.append(&fields.join(&b':')),
    }
    Ok(())
}

/// Memberships of the old supplementary groups: kept where the new image has the group, an
/// old admin group (sudo, wheel, admin) mapped onto the new image's admin group.
fn supplementary_groups(
    group: &mut DbFile,
    gshadow: &mut DbFile,
    old_group: &DbFile,
    admin_group: Option<&str>,
    name: &str,
    out: &mut Customization,
) -> Result<(), CustomizeError> {
    let member_of = |e: &Entry| {
        e.fields[3]
            .split(|&b| b == b',')
            .any(|m| m == name.as_bytes())
    };
    let mut lost = Vec::new();
    let mut was_admin = false;
    for old in old_group.entries().iter().filter(|e| member_of(e)) {
        let group_name = String::from_utf8_lossy(old.name()).into_owned();
        let is_admin =
            ADMIN_GROUPS.contains(&group_name.as_str()) || admin_group == Some(group_name.as_str());
        was_admin |= is_admin;
        match group.find(&group_name)? {
            Some(entry) => join(group, gshadow, &entry, name)?,
            None if is_admin => {}
            None => lost.push(group_name),
        }
    }
    if was_admin {
        let wanted = admin_group.into_iter().chain(ADMIN_GROUPS);
        let mut joined = false;
        for candidate in wanted {
            if let Some(entry) = group.find(candidate)? {
                join(group, gshadow, &entry, name)?;
                joined = true;
                break;
            }
        }
        if !joined {
            out.warnings.push(Warning::new(
                "no-admin-group",
                format!("`{name}` was an administrator, but the new image has no sudo, wheel or admin group"),
            ));
        }
    }
    if !lost.is_empty() {
        out.warnings.push(Warning::new(
            "kept-groups-missing",
            format!(
                "the new image has no group {}; `{name}` is no longer a member",
                lost.join(", ")
            ),
        ));
    }
    Ok(())
}

fn join(
    group: &mut DbFile,
    gshadow: &mut DbFile,
    entry: &Entry,
    name: &str,
) -> Result<(), CustomizeError> {
    group.add_member(entry, 3, name);
    let group_name = String::from_utf8_lossy(entry.name()).into_owned();
    if gshadow.exists()
        && let Some(shadowed) = gshadow.find(&group_name)?
    {
        gshadow.add_member(&shadowed, 3, name);
    }
    Ok(())
}
