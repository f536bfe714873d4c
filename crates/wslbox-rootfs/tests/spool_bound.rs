//! Temp space stays bounded: when layers can be read again, big bodies stay in them, so an
//! image far bigger than the spool directory flattens into a tmpfs that could not hold it —
//! and the output is still exact, a hardlink to a later deleted target included. The same
//! image with an opener that reads only once runs that tmpfs out of space, which shows the
//! measurement is real.

mod common;

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;
use std::process::Command;

use common::layout;
use wslbox_image::{BlobOpener, LayerDescriptor};
use wslbox_rootfs::{FlattenError, FlattenOptions, NoReporter, OutputDest, OutputFormat};
use wslbox_test::chroot::{must_run, require_root};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;
use wslbox_test::registry_fixture::noise;

const BIG: usize = 3 << 20;

fn tar_of(entries: &[(&str, tar::EntryType, Vec<u8>, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, kind, body, link) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(*kind);
        h.set_mode(0o644);
        h.set_size(body.len() as u64);
        if !link.is_empty() {
            h.set_link_name(link).unwrap();
        }
        b.append_data(&mut h, path, &body[..]).unwrap();
    }
    b.into_inner().unwrap()
}

/// A tmpfs of `size` at `dir`, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs_err::create_dir_all(dir).unwrap();
        must_run(
            Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir),
            "mount a tmpfs",
        );
        Tmpfs(dir.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The same layout, read only once: every body is spooled, as for a stream source.
struct Once<'a>(&'a dyn BlobOpener);

impl BlobOpener for Once<'_> {
    fn open(&self, layer: &LayerDescriptor) -> io::Result<Box<dyn Read + Send>> {
        self.0.open(layer)
    }
}

/// Path → (type, body) of a tar stream; hardlinks as `link:TARGET`.
fn listing(tar: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut archive = tar::Archive::new(fs_err::File::open(tar).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let value = match entry.header().entry_type() {
            tar::EntryType::Link => {
                let target = entry.link_name_bytes().unwrap().into_owned();
                [b"link:".as_slice(), &target].concat()
            }
            tar::EntryType::Directory => b"dir".to_vec(),
            _ => {
                let mut body = Vec::new();
                entry.read_to_end(&mut body).unwrap();
                body
            }
        };
        out.insert(path, value);
    }
    out
}

#[test]
fn an_image_bigger_than_the_spool_directory_flattens_exactly() {
    require_root();
    let scratch = Scratch::new().unwrap();
    let f = tar::EntryType::Regular;
    let mut lower: Vec<(String, tar::EntryType, Vec<u8>, &str)> = (0..8)
        .map(|i| (format!("big/{i}.bin"), f, noise(i, BIG), ""))
        .collect();
    lower.extend((0..200).map(|i| (format!("etc/small{i}.conf"), f, noise(100 + i, 1000), "")));
    lower.push((
        "big/link-to-2".into(),
        tar::EntryType::Link,
        Vec::new(),
        "big/2.bin",
    ));
    let lower: Vec<_> = lower
        .iter()
        .map(|(p, k, b, l)| (p.as_str(), *k, b.clone(), *l))
        .collect();
    // The upper layer replaces 1.bin and deletes 2.bin, which its hardlink outlives.
    let upper = tar_of(&[
        ("big/1.bin", f, noise(1000, BIG), ""),
        ("big/.wh.2.bin", f, Vec::new(), ""),
    ]);
    let (l, image) = layout(
        &scratch.path("layout"),
        &[
            (TarSource::Bytes(tar_of(&lower)), Compression::Gzip),
            (TarSource::Bytes(upper), Compression::Zstd),
        ],
    );
    let spool = scratch.path("spool");
    let _tmpfs = Tmpfs::mount(&spool, "4m");
    let opts = FlattenOptions {
        spool_budget: 1 << 20,
        ..FlattenOptions::new(spool.clone())
    };

    let tree = wslbox_rootfs::flatten(&image.layers, &l.opener(), &opts, &NoReporter)
        .expect("bodies beyond the budget stay in their layers");
    let out = scratch.path("out.tar");
    wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .unwrap();
    drop(tree);

    let got = listing(&out);
    for i in [0u64, 3, 4, 5, 6, 7] {
        assert!(got[&format!("big/{i}.bin")] == noise(i, BIG), "big/{i}.bin");
    }
    assert!(
        got["big/1.bin"] == noise(1000, BIG),
        "the upper layer's 1.bin"
    );
    assert!(!got.contains_key("big/2.bin"), "2.bin was deleted");
    assert!(
        got["big/link-to-2"] == noise(2, BIG),
        "the link keeps the deleted file's body"
    );
    for i in 0..200u64 {
        assert_eq!(got[&format!("etc/small{i}.conf")], noise(100 + i, 1000));
    }
    let files = got.values().filter(|v| v.as_slice() != b"dir").count();
    assert_eq!(files, 8 + 200, "{:?}", got.keys().collect::<Vec<_>>());

    // Read once, the same image needs the whole 27 MiB in the spool: the tmpfs is too small.
    let err = wslbox_rootfs::flatten(&image.layers, &Once(&l.opener()), &opts, &NoReporter)
        .expect_err("spooling every body cannot fit");
    assert!(matches!(err, FlattenError::Spool { .. }), "{err}");
}
