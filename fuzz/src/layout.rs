//! The local layout readers' fuzzing invariant (`wslbox_image::open_local` for `oci:`,
//! `oci-archive:` and `docker-archive:`), shared by the `oci_layout` cargo-fuzz target and
//! `crates/wslbox-image/tests/fuzz_layout.rs`.
//!
//! The input describes a layout ([`Input::decode`]): which transport, a tag, a platform, the
//! top document (`index.json`, or `manifest.json` of a docker archive) and blobs. A blob is
//! stored under `blobs/sha256/<its digest>`, or under any member name the input gives it
//! (`..`, absolute names, symlinks and hardlinks included) in an archive. Next to the layout,
//! outside it, lies a canary: a valid image config and layer the input may name by path or by
//! digest but that is not in the layout.
//!
//! Reading must never panic and never read outside the layout (no accepted image has the
//! canary's digest as its manifest, config or a layer); an accepted image's manifest and config
//! are blobs of the layout, and each of its layers reads back with exactly its digest and
//! size (or fails while being read).

use std::io::Read;
use std::path::Path;

use sha2::{Digest as _, Sha256};
use wslbox_image::LayerDescriptor;
use wslbox_reference::{Algorithm, Digest, Platform};

/// Separates the parts of an [`Input`] in fuzz bytes.
pub const SEPARATOR: &[u8] = b"\n--\n";

/// The canary's config: a valid image config with one diff_id (the canary layer's).
pub const CANARY_CONFIG: &[u8] = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]}}"#;
/// The canary's layer (not a tar: it is only ever named, never unpacked).
pub const CANARY_LAYER: &[u8] = b"wslbox fuzz canary: this layer lies outside the layout\n";

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// Which reader a case goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Oci,
    OciArchive,
    DockerArchive,
}

/// A blob of the layout: where it is stored, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blob {
    /// At `blobs/sha256/<sha256 of the bytes>`.
    Addressed(Vec<u8>),
    /// At a member name of the input's choosing (archives; a directory layout gets it only
    /// when the name is a plain relative path).
    Named(String, Vec<u8>),
    Symlink(String, String),
    Hardlink(String, String),
}

/// One fuzz case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    pub transport: Transport,
    pub tag: Option<String>,
    /// Index into [`platforms`].
    pub platform: u8,
    /// Keep only this share (out of 256) of an archive; 0 keeps it whole.
    pub truncate: u8,
    /// `index.json` (OCI) or `manifest.json` (docker archive).
    pub top: Vec<u8>,
    pub blobs: Vec<Blob>,
}

/// The platforms a case may ask for.
pub fn platforms() -> [Platform; 3] {
    [
        Platform::new("linux", "amd64", None),
        Platform::new("linux", "arm64", None),
        Platform::new("linux", "arm", Some("v7")),
    ]
}

pub fn sha256(bytes: &[u8]) -> Digest {
    Digest::from_bytes(Algorithm::Sha256, &Sha256::digest(bytes))
}

fn split<'a>(mut data: &'a [u8], sep: &[u8]) -> Vec<&'a [u8]> {
    let mut parts = Vec::new();
    while let Some(i) = data.windows(sep.len()).position(|w| w == sep) {
        parts.push(&data[..i]);
        data = &data[i + sep.len()..];
    }
    parts.push(data);
    parts
}

impl Input {
    /// Parts separated by [`SEPARATOR`]: a header `[transport, platform, truncate]` followed
    /// by the tag's bytes, then the top document, then blobs. A blob starting with
    /// `@NAME\n` is stored under NAME; `@NAME -> TARGET` is a symlink, `@NAME => TARGET` a
    /// hardlink.
    pub fn decode(data: &[u8]) -> Input {
        let parts = split(data, SEPARATOR);
        let header = parts[0];
        let byte = |i: usize| header.get(i).copied().unwrap_or(0);
        let transport = match byte(0) % 3 {
            0 => Transport::Oci,
            1 => Transport::OciArchive,
            _ => Transport::DockerArchive,
        };
        let tag = header
            .get(3..)
            .filter(|t| !t.is_empty())
            .map(|t| String::from_utf8_lossy(t).into_owned());
        let blobs = parts
            .iter()
            .skip(2)
            .take(16)
            .map(|p| {
                let Some(rest) = p.strip_prefix(b"@") else {
                    return Blob::Addressed(p.to_vec());
                };
                let (line, body) = match rest.iter().position(|&b| b == b'\n') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, &[][..]),
                };
                let line = String::from_utf8_lossy(line).into_owned();
                if let Some((name, target)) = line.split_once(" -> ") {
                    Blob::Symlink(name.into(), target.into())
                } else if let Some((name, target)) = line.split_once(" => ") {
                    Blob::Hardlink(name.into(), target.into())
                } else {
                    Blob::Named(line, body.to_vec())
                }
            })
            .collect();
        Input {
            transport,
            tag,
            platform: byte(1),
            truncate: byte(2),
            top: parts.get(1).map(|p| p.to_vec()).unwrap_or_default(),
            blobs,
        }
    }

    /// The fuzz bytes [`Input::decode`] turns back into this input (for seeding the corpus).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![self.transport as u8, self.platform, self.truncate];
        out.extend(self.tag.as_deref().unwrap_or_default().as_bytes());
        out.extend(SEPARATOR);
        out.extend(&self.top);
        for b in &self.blobs {
            out.extend(SEPARATOR);
            match b {
                Blob::Addressed(bytes) => out.extend(bytes),
                Blob::Named(name, bytes) => {
                    out.extend(format!("@{name}\n").as_bytes());
                    out.extend(bytes);
                }
                Blob::Symlink(name, target) => {
                    out.extend(format!("@{name} -> {target}").as_bytes())
                }
                Blob::Hardlink(name, target) => {
                    out.extend(format!("@{name} => {target}").as_bytes())
                }
            }
        }
        out
    }

    fn top_name(&self) -> &'static str {
        match self.transport {
            Transport::DockerArchive => "manifest.json",
            _ => "index.json",
        }
    }

    /// The members of the layout or archive: (name, bytes) files and links.
    fn members(&self) -> Vec<Blob> {
        let mut members = Vec::new();
        if self.transport != Transport::DockerArchive {
            members.push(Blob::Named("oci-layout".into(), OCI_LAYOUT.to_vec()));
        }
        members.push(Blob::Named(self.top_name().into(), self.top.clone()));
        for b in &self.blobs {
            members.push(match b {
                Blob::Addressed(bytes) => Blob::Named(
                    format!("blobs/sha256/{}", sha256(bytes).hex()),
                    bytes.clone(),
                ),
                other => other.clone(),
            });
        }
        members
    }

    /// Whether the canary's bytes are in the layout itself (then finding them is no escape).
    fn holds_canary(&self) -> bool {
        self.blobs.iter().any(|b| match b {
            Blob::Addressed(x) | Blob::Named(_, x) => x == CANARY_CONFIG || x == CANARY_LAYER,
            _ => false,
        })
    }

    /// Every digest of a blob in the layout.
    fn digests(&self) -> Vec<Digest> {
        let mut d: Vec<Digest> = self
            .blobs
            .iter()
            .filter_map(|b| match b {
                Blob::Addressed(x) | Blob::Named(_, x) => Some(sha256(x)),
                _ => None,
            })
            .collect();
        d.push(sha256(&self.top));
        d.push(sha256(OCI_LAYOUT));
        d
    }
}

/// A relative path with only plain components: what a directory layout may be given.
fn plain_relative(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0', ':']))
}

fn write_dir(input: &Input, dir: &Path) {
    fs_err::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    for m in input.members() {
        let Blob::Named(name, bytes) = m else {
            continue;
        };
        if !plain_relative(&name) {
            continue;
        }
        let path = dir.join(&name);
        // A name may collide with a directory already made, or need a file as its parent.
        if let Some(parent) = path.parent()
            && fs_err::create_dir_all(parent).is_err()
        {
            continue;
        }
        let _ = fs_err::write(&path, &bytes);
    }
}

/// A tar header with `name` written byte for byte (the tar crate refuses `..` in paths).
fn raw_header(name: &str, kind: tar::EntryType, size: u64, link: Option<&str>) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    let bytes = name.as_bytes();
    let n = bytes.len().min(100);
    h.as_gnu_mut().expect("gnu header").name[..n].copy_from_slice(&bytes[..n]);
    if let Some(link) = link {
        let l = link.as_bytes();
        let n = l.len().min(100);
        h.as_gnu_mut().expect("gnu header").linkname[..n].copy_from_slice(&l[..n]);
    }
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

fn write_tar(input: &Input, file: &Path) {
    let mut b = tar::Builder::new(Vec::new());
    for m in input.members() {
        let (h, data) = match &m {
            Blob::Named(name, bytes) => (
                raw_header(name, tar::EntryType::Regular, bytes.len() as u64, None),
                bytes.as_slice(),
            ),
            Blob::Symlink(name, target) => (
                raw_header(name, tar::EntryType::Symlink, 0, Some(target)),
                &[][..],
            ),
            Blob::Hardlink(name, target) => (
                raw_header(name, tar::EntryType::Link, 0, Some(target)),
                &[][..],
            ),
            Blob::Addressed(_) => unreachable!("members() names every blob"),
        };
        b.append(&h, data).expect("tar in memory");
    }
    let mut tar = b.into_inner().expect("tar in memory");
    if input.truncate != 0 {
        tar.truncate(tar.len() * usize::from(input.truncate) / 256);
    }
    fs_err::write(file, tar).expect("write archive");
}

/// Reads a layer through the image's opener; whether it read to the end without an error.
fn read_layer(opener: &dyn wslbox_image::BlobOpener, layer: &LayerDescriptor) -> bool {
    let Ok(mut stream) = opener.open(layer) else {
        return false;
    };
    let mut bytes = Vec::new();
    // Every blob of a case is part of the input, so it is small.
    if stream
        .by_ref()
        .take(1 << 24)
        .read_to_end(&mut bytes)
        .is_err()
    {
        return false;
    }
    assert_eq!(
        bytes.len() as u64,
        layer.size,
        "layer {} read with another size",
        layer.digest
    );
    if layer.digest.algorithm() == Algorithm::Sha256 {
        assert_eq!(
            sha256(&bytes),
            layer.digest,
            "layer read with another digest"
        );
    }
    true
}

/// Panics when reading `input`'s layout breaks the invariant; returns whether it was accepted.
/// `root` is an empty scratch directory.
pub fn check_input(input: &Input, root: &Path) -> bool {
    let outside = root.join("outside");
    fs_err::create_dir_all(&outside).expect("scratch dir");
    fs_err::write(outside.join("config.json"), CANARY_CONFIG).expect("canary");
    fs_err::write(outside.join("layer.tar"), CANARY_LAYER).expect("canary");
    let blobs = outside.join("blobs/sha256");
    fs_err::create_dir_all(&blobs).expect("canary dir");
    for bytes in [CANARY_CONFIG, CANARY_LAYER] {
        fs_err::write(blobs.join(sha256(bytes).hex()), bytes).expect("canary blob");
    }
    let (prefix, path) = match input.transport {
        Transport::Oci => {
            let dir = root.join("layout");
            write_dir(input, &dir);
            ("oci", dir)
        }
        Transport::OciArchive => {
            let file = root.join("image.tar");
            write_tar(input, &file);
            ("oci-archive", file)
        }
        Transport::DockerArchive => {
            let file = root.join("image.tar");
            write_tar(input, &file);
            ("docker-archive", file)
        }
    };
    let mut spec = format!("{prefix}:{}", path.display());
    if let Some(tag) = &input.tag {
        spec.push(':');
        spec.push_str(tag);
    }
    let platform = &platforms()[usize::from(input.platform) % 3];
    let Ok(Some((image, opener))) = wslbox_image::open_local(&spec, platform) else {
        return false;
    };
    // Manifests and configs are read while resolving; layers only when opened, below.
    let canaries = [sha256(CANARY_CONFIG), sha256(CANARY_LAYER)];
    let outside = !input.holds_canary();
    for d in [&image.manifest_digest, &image.config_digest] {
        assert!(
            !(outside && canaries.contains(d)),
            "{spec}: read {d} from outside the layout"
        );
    }
    let digests = input.digests();
    if input.transport != Transport::DockerArchive {
        assert!(
            digests.contains(&image.manifest_digest),
            "manifest is no blob of the layout"
        );
    }
    assert!(
        digests.contains(&image.config_digest),
        "config is no blob of the layout"
    );
    for layer in &image.layers {
        let read = read_layer(opener.as_ref(), layer);
        assert!(
            !(read && outside && canaries.contains(&layer.digest)),
            "{spec}: layer {} read from outside the layout",
            layer.digest
        );
    }
    true
}

/// Fuzz bytes → [`Input`] → the invariant, in a fresh scratch directory.
pub fn check_bytes(data: &[u8]) {
    let root = tempfile::tempdir().expect("scratch dir");
    check_input(&Input::decode(data), root.path());
}
