//! Shared by the `customize_*` tests: an in-memory [`TreeView`] and fabricated distro trees.
#![allow(dead_code)]

use std::collections::BTreeMap;

use wslbox_image::ImageConfigSummary;
use wslbox_reference::{Digest, Platform};
use wslbox_rootfs::customize::{Customization, ImageFacts, WslOptions, customize};
use wslbox_rootfs::{NodeInfo, NodeKind, Overlay, OverlayContent, TreeView};

/// 2025-11-21T12:00:00Z.
pub const EXPORTED_AT: i64 = 1_763_726_400;

#[derive(Clone, Debug)]
pub struct Node {
    pub info: NodeInfo,
    pub data: Vec<u8>,
}

/// A tree of path → node; the root is implicit.
#[derive(Clone, Debug, Default)]
pub struct MemTree {
    pub nodes: BTreeMap<Vec<u8>, Node>,
}

fn info(kind: NodeKind, mode: u32, uid: u64, gid: u64, link: Option<&str>) -> NodeInfo {
    NodeInfo {
        kind,
        mode,
        uid,
        gid,
        size: 0,
        mtime: 1_700_000_000,
        link_target: link.map(|l| l.as_bytes().to_vec()),
    }
}

impl MemTree {
    pub fn dir(mut self, path: &str) -> Self {
        self.nodes.insert(
            path.into(),
            Node {
                info: info(NodeKind::Dir, 0o755, 0, 0, None),
                data: Vec::new(),
            },
        );
        self
    }

    pub fn file(self, path: &str, data: &str) -> Self {
        self.file_owned(path, data.as_bytes(), 0o644, 0, 0)
    }

    pub fn file_owned(mut self, path: &str, data: &[u8], mode: u32, uid: u64, gid: u64) -> Self {
        let mut i = info(NodeKind::File, mode, uid, gid, None);
        i.size = data.len() as u64;
        self.nodes.insert(
            path.into(),
            Node {
                info: i,
                data: data.to_vec(),
            },
        );
        self
    }

    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.nodes.insert(
            path.into(),
            Node {
                info: info(NodeKind::Symlink, 0o777, 0, 0, Some(target)),
                data: Vec::new(),
            },
        );
        self
    }

    /// The tree after the overlays, applied the way the flattener does (replace or add).
    pub fn with_overlays(&self, overlays: &[Overlay]) -> MemTree {
        let mut out = self.clone();
        for o in overlays {
            let parent = o.path.rsplitn(2, |&b| b == b'/').nth(1).unwrap_or(b"");
            assert!(
                parent.is_empty()
                    || out
                        .nodes
                        .get(parent)
                        .is_some_and(|n| n.info.kind == NodeKind::Dir),
                "overlay {} comes before its parent directory",
                String::from_utf8_lossy(&o.path)
            );
            let (kind, data, link) = match &o.content {
                OverlayContent::File(d) => (NodeKind::File, d.clone(), None),
                OverlayContent::CopyOf(src) => (NodeKind::File, self.nodes[src].data.clone(), None),
                OverlayContent::Dir => (NodeKind::Dir, Vec::new(), None),
                OverlayContent::Symlink(t) => (NodeKind::Symlink, Vec::new(), Some(t.clone())),
            };
            let info = NodeInfo {
                kind,
                mode: o.mode,
                uid: o.uid,
                gid: o.gid,
                size: data.len() as u64,
                mtime: o.mtime,
                link_target: link,
            };
            out.nodes.insert(o.path.clone(), Node { info, data });
        }
        out
    }

    pub fn text(&self, path: &str) -> String {
        let node = self
            .nodes
            .get(path.as_bytes())
            .unwrap_or_else(|| panic!("{path} missing"));
        String::from_utf8(node.data.clone()).unwrap()
    }

    pub fn meta(&self, path: &str) -> &NodeInfo {
        &self
            .nodes
            .get(path.as_bytes())
            .unwrap_or_else(|| panic!("{path} missing"))
            .info
    }

    pub fn has(&self, path: &str) -> bool {
        self.nodes.contains_key(path.as_bytes())
    }
}

impl TreeView for MemTree {
    fn lookup(&self, path: &[u8]) -> Option<NodeInfo> {
        if path.is_empty() {
            return Some(info(NodeKind::Dir, 0o755, 0, 0, None));
        }
        self.nodes.get(path).map(|n| n.info.clone())
    }

    fn read(&self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        Ok(self
            .nodes
            .get(path)
            .filter(|n| n.info.kind == NodeKind::File)
            .map(|n| n.data.clone()))
    }

    fn children(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let prefix: Vec<u8> = if path.is_empty() {
            Vec::new()
        } else {
            [path, b"/"].concat()
        };
        self.nodes
            .keys()
            .filter_map(|k| k.strip_prefix(prefix.as_slice()))
            .filter(|rest| !rest.is_empty() && !rest.contains(&b'/'))
            .map(<[u8]>::to_vec)
            .collect()
    }
}

pub const DEBIAN_PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
pub const DEBIAN_GROUP: &str =
    "root:x:0:\nsudo:x:27:\nshadow:x:42:\nusers:x:100:\nnogroup:x:65534:\n";
pub const DEBIAN_SHADOW: &str =
    "root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n";
pub const DEBIAN_GSHADOW: &str = "root:*::\nsudo:*::\nshadow:*::\nusers:*::\nnogroup:*::\n";

/// Debian bookworm-like: usrmerge symlinks, os-release symlink into /usr/lib, sudo group,
/// shadow 0640 root:shadow, login.defs with UMASK 022, /etc/skel, apt.
pub fn debian_like() -> MemTree {
    MemTree::default()
        .symlink("bin", "usr/bin")
        .symlink("sbin", "usr/sbin")
        .symlink("lib", "usr/lib")
        .dir("usr")
        .dir("usr/bin")
        .dir("usr/sbin")
        .dir("usr/lib")
        .file_owned("usr/bin/bash", b"ELF", 0o755, 0, 0)
        .file_owned("usr/bin/dash", b"ELF", 0o755, 0, 0)
        .symlink("usr/bin/sh", "dash")
        .file_owned("usr/bin/apt", b"ELF", 0o755, 0, 0)
        .file_owned("usr/bin/sudo", b"ELF", 0o4755, 0, 0)
        .file("usr/lib/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nID=debian\n")
        .dir("etc")
        .symlink("etc/os-release", "../usr/lib/os-release")
        .file("etc/passwd", DEBIAN_PASSWD)
        .file("etc/group", DEBIAN_GROUP)
        .file_owned("etc/shadow", DEBIAN_SHADOW.as_bytes(), 0o640, 0, 42)
        .file_owned("etc/gshadow", DEBIAN_GSHADOW.as_bytes(), 0o640, 0, 42)
        .file("etc/login.defs", "# comment\nUMASK\t\t022\n#HOME_MODE\t0700\n")
        .file("etc/profile", "if [ -d /etc/profile.d ]; then\n  for i in /etc/profile.d/*.sh; do . $i; done\nfi\n")
        .dir("etc/profile.d")
        .file_owned("etc/sudoers", b"root ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n", 0o440, 0, 0)
        .dir("etc/sudoers.d")
        .dir("etc/skel")
        .file("etc/skel/.bashrc", "# ~/.bashrc\n")
        .file("etc/skel/.profile", "# ~/.profile\n")
        .dir("etc/skel/.config")
        .file("etc/skel/.config/app.conf", "x=1\n")
        .symlink("etc/skel/.link", ".bashrc")
        .dir("home")
        .dir("root")
}

/// Fedora-like: wheel group, plain /etc/os-release, shadow mode 0000, HOME_MODE 0700, dnf,
/// no gshadow.
pub fn fedora_like() -> MemTree {
    MemTree::default()
        .symlink("bin", "usr/bin")
        .dir("usr")
        .dir("usr/bin")
        .file_owned("usr/bin/bash", b"ELF", 0o755, 0, 0)
        .symlink("usr/bin/sh", "bash")
        .file_owned("usr/bin/dnf", b"ELF", 0o755, 0, 0)
        .dir("etc")
        .file("etc/os-release", "NAME=\"Fedora Linux\"\nVERSION_ID=40\nID=fedora\nPRETTY_NAME=\"Fedora Linux 40 (Container Image)\"\n")
        .file("etc/passwd", "root:x:0:0:Super User:/root:/bin/bash\nbin:x:1:1:bin:/bin:/sbin/nologin\n")
        .file("etc/group", "root:x:0:\nbin:x:1:\nwheel:x:10:\n")
        .file_owned("etc/shadow", b"root:!locked::0:99999:7:::\nbin:*:19000:0:99999:7:::\n", 0o000, 0, 0)
        .file("etc/login.defs", "UMASK 022\nHOME_MODE 0700\n")
        .dir("etc/skel")
        .file("etc/skel/.bashrc", "# .bashrc\n")
        .dir("home")
}

/// Alpine-like: busybox /bin/sh symlink, apk, wheel, os-release as a plain file, no login.defs.
pub fn alpine_like() -> MemTree {
    MemTree::default()
        .dir("bin")
        .file_owned("bin/busybox", b"ELF", 0o755, 0, 0)
        .symlink("bin/sh", "/bin/busybox")
        .dir("sbin")
        .file_owned("sbin/apk", b"ELF", 0o755, 0, 0)
        .dir("etc")
        .file("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n")
        .file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n")
        .file("etc/group", "root:x:0:root\nwheel:x:10:root\n")
        .file_owned("etc/shadow", b"root:*::0:::::\n", 0o640, 0, 42)
        .file("etc/profile", "for script in /etc/profile.d/*.sh ; do . \"$script\"; done\n")
        .dir("home")
}

pub fn digest() -> Digest {
    format!("sha256:{}", "ab".repeat(32)).parse().unwrap()
}

pub fn platform() -> Platform {
    Platform {
        os: "linux".into(),
        architecture: "amd64".into(),
        variant: None,
    }
}

pub fn run(
    tree: &MemTree,
    config: &ImageConfigSummary,
    opts: &WslOptions,
) -> Result<(Customization, MemTree), wslbox_rootfs::customize::CustomizeError> {
    let digest = digest();
    let platform = platform();
    let facts = ImageFacts {
        reference: "docker.io/library/debian:bookworm",
        manifest_digest: &digest,
        platform: &platform,
        config,
        exported_at: EXPORTED_AT,
    };
    let c = customize(tree, &facts, opts)?;
    let after = tree.with_overlays(&c.overlays);
    Ok((c, after))
}

pub fn with_user(spec: &str) -> WslOptions {
    WslOptions {
        user: Some(spec.parse().unwrap()),
        ..WslOptions::default()
    }
}
