//! The flattener's fuzzing invariant, shared by the cargo-fuzz target and the stable corpus
//! test: for any layer bytes, `flatten` either fails with an error or produces a tar that
//! keeps the output promises (`wslbox_test::output_check`: names safe, unique and in order)
//! and flattens again to the same bytes.

use std::io::{self, Read};

use sha2::{Digest as _, Sha256};
use wslbox_image::{BlobOpener, Compression, LayerDescriptor};
use wslbox_reference::{Algorithm, Digest};
use wslbox_rootfs::{FlattenOptions, NoReporter};

/// Splits fuzz input into 1–3 layers: the first byte picks the count, the next ones the cuts.
pub fn split_layers(data: &[u8]) -> Vec<Vec<u8>> {
    let Some((&n, rest)) = data.split_first() else {
        return vec![Vec::new()];
    };
    let n = usize::from(n % 3) + 1;
    if n == 1 || rest.len() < 4 {
        return vec![rest.to_vec()];
    }
    let cut = |b: u8| (usize::from(b) * 512).min(rest.len());
    let (a, b) = (cut(rest[0]), cut(rest[1]));
    let (a, b) = (a.min(b), a.max(b));
    let body = &rest[2..];
    let (a, b) = (a.min(body.len()), b.min(body.len()));
    let mut out = vec![body[..a].to_vec(), body[a..b].to_vec()];
    if n == 3 {
        out.push(body[b..].to_vec());
    } else {
        out[1].extend_from_slice(&body[b..]);
    }
    out
}

/// The fuzz input that [`split_layers`] turns back into `layers` (1–3 layers of whole 512-byte
/// blocks, the first two at most 255 blocks long), for seeding the fuzzer's corpus.
pub fn encode_seed(layers: &[Vec<u8>]) -> Option<Vec<u8>> {
    let blocks = |n: usize| u8::try_from(n / 512).ok().filter(|_| n.is_multiple_of(512));
    let (first, cut2) = match layers {
        [a] => return Some([&[0u8][..], a].concat()),
        [a, b] => (
            blocks(a.len())?,
            blocks(a.len() + b.len()).unwrap_or(u8::MAX),
        ),
        [a, b, _] => (blocks(a.len())?, blocks(a.len() + b.len())?),
        _ => return None,
    };
    let mut seed = vec![u8::try_from(layers.len() - 1).ok()?, first, cut2];
    seed.extend(layers.concat());
    (split_layers(&seed) == layers).then_some(seed)
}

struct MemOpener(Vec<Vec<u8>>);

impl BlobOpener for MemOpener {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        let i: usize = layer.urls[0].parse().expect("index");
        Ok(Box::new(io::Cursor::new(self.0[i].clone())))
    }
}

fn descriptors(layers: &[Vec<u8>]) -> Vec<LayerDescriptor> {
    layers
        .iter()
        .enumerate()
        .map(|(i, l)| LayerDescriptor {
            digest: Digest::from_bytes(Algorithm::Sha256, &Sha256::digest(l)),
            size: l.len() as u64,
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            compression: Compression::None,
            // Carries the layer index to the in-memory opener.
            urls: vec![i.to_string()],
        })
        .collect()
}

/// Flattens uncompressed `layers`; `None` when the flattener refused them.
pub fn flatten_to_tar(layers: &[Vec<u8>]) -> Option<Vec<u8>> {
    let spool = tempfile::tempdir().expect("temp dir");
    let opts = FlattenOptions {
        jobs: 2,
        ..FlattenOptions::new(spool.path().to_owned())
    };
    let tree = wslbox_rootfs::flatten(
        &descriptors(layers),
        &MemOpener(layers.to_vec()),
        &opts,
        &NoReporter,
    )
    .ok()?;
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&tree, &mut out, &NoReporter).expect("writing to memory cannot fail");
    Some(out)
}

/// Panics when the invariant is broken. Returns whether the layers were accepted.
pub fn check_layers(layers: &[Vec<u8>]) -> bool {
    let Some(out) = flatten_to_tar(layers) else {
        return false;
    };
    wslbox_test::output_check::check_output(&out[..]);
    // A directory the tree needed as a parent may be named `.wh.*` (umoci creates it too);
    // as a layer entry that name is a whiteout, so such trees cannot round-trip.
    let has_whiteout_name = tar::Archive::new(&out[..])
        .entries()
        .expect("output parses")
        .any(|e| {
            e.expect("output parses")
                .path_bytes()
                .split(|&b| b == b'/')
                .any(|c| c.starts_with(b".wh."))
        });
    if has_whiteout_name {
        return true;
    }
    let again = flatten_to_tar(std::slice::from_ref(&out)).expect("our own output flattens again");
    assert!(again == out, "flattening our output again changed it");
    true
}

/// The rootfs-tarball path (`tarball:`): the first byte picks `--strip-components` (0–2), the
/// rest is one tar read without whiteout semantics. Panics when the invariant is broken;
/// returns whether the tarball was accepted.
pub fn check_rootfs_tarball(data: &[u8]) -> bool {
    let Some((&strip, tar)) = data.split_first() else {
        return false;
    };
    let paths = wslbox_rootfs::PathMap::strip_components(usize::from(strip % 3));
    let spool = tempfile::tempdir().expect("temp dir");
    let Ok(builder) = wslbox_rootfs::LayerBuilder::new(
        "rootfs tarball fuzz",
        spool.path(),
        wslbox_rootfs::LayerOptions::rootfs(paths),
    ) else {
        return false;
    };
    let cancel = std::sync::atomic::AtomicBool::new(false);
    let raw: Box<dyn Read + Send> = Box::new(io::Cursor::new(tar.to_vec()));
    let Ok(layer) = wslbox_rootfs::read_tar(raw, Compression::None, builder, &|_| {}, &cancel)
    else {
        return false;
    };
    let Ok(tree) = wslbox_rootfs::FlatTree::from_layers([layer]) else {
        return false;
    };
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&tree, &mut out, &NoReporter).expect("writing to memory cannot fail");
    wslbox_test::output_check::check_output(&out[..]);
    true
}
