//! The account databases' invariant (`/etc/passwd`, `group`, `shadow`, `gshadow`, `subuid`,
//! `subgid` as customization edits them), shared by the `accounts` cargo-fuzz target and
//! crates/wslbox-rootfs/tests/fuzz_accounts.rs.
//!
//! The fuzz input is the files, separated by NUL bytes (a missing part is a missing file);
//! each input is customized with several `--user`/password/default-user options. For any
//! input: no panic. When customization succeeds: every line it did not have to edit is kept
//! byte for byte and in order; an edited line keeps its field count and changes only the
//! field it must (the admin group's members, the user's password hash); appended lines have
//! the database's field count and belong to the new user or root; the default user has exactly
//! one `/etc/passwd` line, with its UID; a password with `:` or a newline never reaches a file;
//! customizing the result again changes no database. A user name `--user` accepts never holds
//! `:`, `,` or white space, so it cannot split a line or a member list.

use std::collections::BTreeMap;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::{Digest, Platform};
use wslbox_rootfs::customize::{ImageFacts, UserSpec, WslOptions, customize};
use wslbox_rootfs::{NodeInfo, NodeKind, OverlayContent, TreeView};

/// The databases in the order the fuzz input gives them, with their field counts.
pub const FILES: &[(&str, usize)] = &[
    ("etc/passwd", 7),
    ("etc/group", 4),
    ("etc/shadow", 9),
    ("etc/gshadow", 4),
    ("etc/subuid", 3),
    ("etc/subgid", 3),
];

/// A password that would split a line if it were written as it is.
const PASSWORD: &str = "pa:ss\nw0rd";

/// An in-memory tree: `/bin/sh`, `/bin/bash`, `/home`, `/root` and the databases.
#[derive(Clone, Default)]
pub struct Tree(BTreeMap<Vec<u8>, (NodeKind, Vec<u8>)>);

impl Tree {
    /// The tree for one fuzz input: NUL-separated database files.
    pub fn from_input(data: &[u8]) -> Self {
        let mut tree = Tree::default();
        for dir in ["bin", "etc", "home", "root"] {
            tree.0.insert(dir.into(), (NodeKind::Dir, Vec::new()));
        }
        for sh in ["bin/sh", "bin/bash"] {
            tree.0.insert(sh.into(), (NodeKind::File, b"ELF".to_vec()));
        }
        for ((path, _), part) in FILES.iter().zip(data.split(|&b| b == 0)) {
            tree.0
                .insert(path.as_bytes().to_vec(), (NodeKind::File, part.to_vec()));
        }
        tree
    }

    /// The contents of the file at `path`, if there is one.
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.0
            .get(path.as_bytes())
            .filter(|(k, _)| *k == NodeKind::File)
            .map(|(_, d)| d.as_slice())
    }
}

impl TreeView for Tree {
    fn lookup(&self, path: &[u8]) -> Option<NodeInfo> {
        let (kind, size) = if path.is_empty() {
            (NodeKind::Dir, 0)
        } else {
            let (kind, data) = self.0.get(path)?;
            (*kind, data.len() as u64)
        };
        Some(NodeInfo {
            kind,
            mode: if kind == NodeKind::Dir { 0o755 } else { 0o644 },
            uid: 0,
            gid: 0,
            size,
            mtime: 1_700_000_000,
            link_target: None,
        })
    }

    fn read(&self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self
            .0
            .get(path)
            .filter(|(k, _)| *k == NodeKind::File)
            .map(|(_, d)| d.clone()))
    }

    fn children(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let prefix = if path.is_empty() {
            Vec::new()
        } else {
            [path, b"/"].concat()
        };
        self.0
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_slice()))
            .filter(|rest| !rest.is_empty() && !rest.contains(&b'/'))
            .map(<[u8]>::to_vec)
            .collect()
    }
}

/// One way of customizing: the options and the image config's `User`.
struct Case {
    user: Option<&'static str>,
    password: bool,
    admin_group: Option<&'static str>,
    image_user: Option<&'static str>,
    default_uid: Option<u32>,
}

const CASES: &[Case] = &[
    Case {
        user: Some("alice"),
        password: false,
        admin_group: None,
        image_user: None,
        default_uid: None,
    },
    Case {
        user: Some("bob:1500"),
        password: true,
        admin_group: Some("wheel"),
        image_user: None,
        default_uid: None,
    },
    // Usually already in the image: reused, its shadow line gets the hash.
    Case {
        user: Some("daemon"),
        password: true,
        admin_group: None,
        image_user: None,
        default_uid: None,
    },
    Case {
        user: None,
        password: false,
        admin_group: None,
        image_user: Some("dev:dev"),
        default_uid: None,
    },
    Case {
        user: None,
        password: false,
        admin_group: None,
        image_user: None,
        default_uid: Some(1000),
    },
];

/// Panics when the invariant is broken; returns how many cases customization accepted.
pub fn check_accounts(data: &[u8]) -> usize {
    for line in data.split(|&b| b == b'\n' || b == 0) {
        let name = line.split(|&b| b == b':').next().unwrap_or_default();
        check_user_name(&String::from_utf8_lossy(name));
    }
    let tree = Tree::from_input(data);
    CASES.iter().filter(|case| check_case(&tree, case)).count()
}

/// A name `--user` accepts cannot split a database line or a member list.
pub fn check_user_name(name: &str) {
    if name.parse::<UserSpec>().is_ok() {
        assert!(
            !name.contains([':', ',', '\n', '\r', ' ', '\t', '\0', '/']),
            "--user accepted {name:?}"
        );
    }
}

fn check_case(tree: &Tree, case: &Case) -> bool {
    let config = ImageConfigSummary {
        user: case.image_user.map(str::to_owned),
        ..ImageConfigSummary::default()
    };
    let opts = WslOptions {
        user: case.user.map(|u| u.parse().expect("a valid --user")),
        password: case.password.then(|| PASSWORD.to_owned()),
        sudo_nopasswd: true,
        admin_group: case.admin_group.map(str::to_owned),
        default_uid: case.default_uid,
        ..WslOptions::default()
    };
    let Some((after, default_user)) = run(tree, &config, &opts) else {
        return false;
    };
    let user = case.user.map(|u| u.split(':').next().unwrap_or(u));
    for &(path, fields) in FILES {
        let (Some(new), old) = (after.file(path), tree.file(path)) else {
            continue;
        };
        check_file(path, fields, old.unwrap_or_default(), new, user);
    }
    if let Some((name, uid)) = &default_user {
        let named = |file: Option<&[u8]>| -> Vec<Vec<u8>> {
            lines(file.unwrap_or_default())
                .into_iter()
                .filter(|l| l.split(|&b| b == b':').next() == Some(name.as_bytes()))
                .map(<[u8]>::to_vec)
                .collect()
        };
        let (before, now) = (
            named(tree.file("etc/passwd")),
            named(after.file("etc/passwd")),
        );
        assert_eq!(
            now.len(),
            before.len().max(1),
            "a second passwd line for {name}"
        );
        let line = now[0].strip_suffix(b"\r").unwrap_or(&now[0]);
        let fields: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        assert_eq!(fields.len(), 7, "the default user's line {line:?}");
        // As getpwnam reads it: `00060` is 60.
        let first_uid = std::str::from_utf8(fields[2])
            .ok()
            .and_then(|f| f.parse().ok());
        assert_eq!(first_uid, Some(*uid), "the default user's UID");
    }
    // Again, without a password (a new salt would change the hash): nothing to do.
    let opts = WslOptions {
        password: None,
        ..opts
    };
    let (again, again_user) = run(&after, &config, &opts).expect("customizing our own output");
    assert_eq!(
        again_user, default_user,
        "customizing again chose another default user"
    );
    for &(path, _) in FILES {
        assert!(
            again.file(path) == after.file(path),
            "customizing again changed /{path}"
        );
    }
    true
}

type DefaultUser = Option<(String, u32)>;

/// Customizes `tree`; the tree after the overlays and the default user, `None` on an error.
fn run(tree: &Tree, config: &ImageConfigSummary, opts: &WslOptions) -> Option<(Tree, DefaultUser)> {
    let digest: Digest = format!("sha256:{}", "ab".repeat(32))
        .parse()
        .expect("digest");
    let platform = Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    };
    let facts = ImageFacts {
        reference: "docker.io/library/debian:bookworm",
        manifest_digest: &digest,
        platform: &platform,
        config,
        exported_at: 1_763_726_400,
    };
    let custom = customize(tree, &facts, opts).ok()?;
    let mut after = tree.clone();
    for o in &custom.overlays {
        let node = match &o.content {
            OverlayContent::File(d) => (NodeKind::File, d.clone()),
            OverlayContent::CopyOf(src) => (NodeKind::File, tree.read(src).ok()??),
            OverlayContent::Dir => (NodeKind::Dir, Vec::new()),
            OverlayContent::Symlink(t) => (NodeKind::Symlink, t.clone()),
        };
        after.0.insert(o.path.clone(), node);
    }
    let user = custom
        .default_user
        .map(|u| (u.name, u.uid.expect("customize knows the uid")));
    Some((after, user))
}

/// `new` is `old` with lines edited only where they must be, then lines appended.
fn check_file(path: &str, fields: usize, old: &[u8], new: &[u8], user: Option<&str>) {
    let leaked = |d: &[u8]| d.windows(4).any(|w| w == b"w0rd");
    assert!(
        !leaked(new) || leaked(old),
        "/{path}: the plain-text password was written"
    );
    let (old_lines, new_lines) = (lines(old), lines(new));
    assert!(new_lines.len() >= old_lines.len(), "/{path} lost lines");
    // The field an edit may change, by database: members, or the password hash.
    let editable = match path {
        "etc/group" | "etc/gshadow" => Some(3),
        "etc/shadow" => Some(1),
        _ => None,
    };
    for (o, n) in old_lines.iter().zip(&new_lines) {
        if o == n {
            continue;
        }
        let field = editable.unwrap_or_else(|| panic!("/{path}: line {o:?} changed to {n:?}"));
        assert_eq!(o.ends_with(b"\r"), n.ends_with(b"\r"), "/{path}: CRLF lost");
        let split = |l: &'_ [u8]| -> Vec<Vec<u8>> {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            l.split(|&b| b == b':').map(<[u8]>::to_vec).collect()
        };
        let (of, nf) = (split(o), split(n));
        assert_eq!(
            of.len(),
            fields,
            "/{path}: a malformed line {o:?} was edited"
        );
        assert_eq!(
            nf.len(),
            fields,
            "/{path}: edited line {n:?} has the wrong field count"
        );
        for i in (0..fields).filter(|&i| i != field) {
            assert_eq!(of[i], nf[i], "/{path}: field {} of {o:?} changed", i + 1);
        }
        if field == 3 {
            let user = user.expect("only a new user joins a group").as_bytes();
            let mut members = of[3].clone();
            if !members.is_empty() {
                members.push(b',');
            }
            members.extend_from_slice(user);
            assert_eq!(nf[3], members, "/{path}: members of {o:?}");
        } else {
            assert!(
                nf[1].starts_with(b"$6$"),
                "/{path}: not a SHA-512 crypt hash"
            );
            assert_eq!(Some(nf[0].as_slice()), user.map(str::as_bytes));
        }
    }
    for line in &new_lines[old_lines.len()..] {
        let f: Vec<&[u8]> = line.split(|&b| b == b':').collect();
        assert_eq!(
            f.len(),
            fields,
            "/{path}: appended {line:?} has the wrong field count"
        );
        assert!(
            f[0] == b"root" || Some(f[0]) == user.map(str::as_bytes),
            "/{path}: appended a line for {:?}",
            String::from_utf8_lossy(f[0])
        );
    }
}

/// Lines without their `\n` (a final newline ends the last line, it does not start one).
fn lines(data: &[u8]) -> Vec<&[u8]> {
    if data.is_empty() {
        return Vec::new();
    }
    data.strip_suffix(b"\n")
        .unwrap_or(data)
        .split(|&b| b == b'\n')
        .collect()
}
