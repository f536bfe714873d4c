//! Bad tarballs get errors that name the file and the entry, and leave nothing behind.

mod common;

use std::io::Write;

use wslbox_source::SourceError;
use wslbox_test::oracle::Scratch;

fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, body) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        // Written raw, so `..` survives (the tar crate refuses it in set_path).
        h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        b.append(&h, *body).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn flatten_file(scratch: &Scratch, name: &str, bytes: &[u8]) -> Result<(), SourceError> {
    let path = scratch.path(name);
    fs_err::write(&path, bytes).unwrap();
    let opts = common::file_options(&scratch.path("cache"));
    common::flatten_spec(
        &format!("tarball:{}", path.display()),
        &opts,
        &Default::default(),
    )
    .map(drop)
}

#[test]
fn dotdot_entry_is_refused_naming_the_tarball_and_entry() {
    let scratch = Scratch::new().unwrap();
    let data = tar_with(&[("etc/ok", b"fine"), ("etc/../../escape", b"evil")]);
    let err = flatten_file(&scratch, "evil.tar", &data)
        .unwrap_err()
        .to_string();
    assert!(err.contains("evil.tar"), "{err}");
    assert!(err.contains("etc/../../escape"), "{err}");
    assert!(err.contains("`..`"), "{err}");
}

#[test]
fn truncated_gzip_tarball_is_an_error_naming_it() {
    let scratch = Scratch::new().unwrap();
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let gz = gzip(&tar_with(&[("big", &big)]));
    let err = flatten_file(&scratch, "cut.tar.gz", &gz[..gz.len() / 2])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rootfs tarball") && err.contains("cut.tar.gz"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_a_tar_says_what_it_is() {
    let scratch = Scratch::new().unwrap();
    let err = flatten_file(
        &scratch,
        "notes.txt",
        b"just some text, long enough to look at",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("is not a tar archive"), "{err}");
    assert!(
        err.contains("6a 75 73 74"),
        "the first bytes are shown: {err}"
    );
    let err = flatten_file(&scratch, "image.sfs", b"hsqs\x05\0\0\0rest of a superblock")
        .unwrap_err()
        .to_string();
    assert!(err.contains("use squashfs:FILE"), "{err}");
}

#[test]
fn a_missing_file_is_named() {
    let scratch = Scratch::new().unwrap();
    let missing = scratch.path("nope.tar.xz");
    let opts = common::file_options(&scratch.path("cache"));
    let err = common::flatten_spec(
        &format!("tarball:{}", missing.display()),
        &opts,
        &Default::default(),
    )
    .err()
    .expect("a missing file fails")
    .to_string();
    assert!(
        err.contains("nope.tar.xz") && err.contains("no such file"),
        "{err}"
    );
}

#[test]
fn a_wrong_sha256_is_refused_showing_both_digests() {
    let scratch = Scratch::new().unwrap();
    let data = tar_with(&[("etc/hostname", b"box\n")]);
    let path = scratch.path("r.tar");
    fs_err::write(&path, &data).unwrap();
    let mut opts = common::file_options(&scratch.path("cache"));
    let wrong: wslbox_reference::Digest = format!("sha256:{}", "ab".repeat(32)).parse().unwrap();
    opts.checksum = Some(wslbox_source::Checksum::Sha256(wrong.clone()));
    let err = common::flatten_spec(
        &format!("tarball:{}", path.display()),
        &opts,
        &Default::default(),
    )
    .err()
    .expect("a mismatch fails");
    let SourceError::Checksum {
        expected, actual, ..
    } = &err
    else {
        panic!("not a checksum error: {err}");
    };
    assert_eq!(expected, &wrong);
    assert_eq!(actual.hex().len(), 64);
    let msg = err.to_string();
    assert!(
        msg.contains(&wrong.to_string()) && msg.contains(&actual.to_string()),
        "{msg}"
    );
}

#[test]
fn whiteout_names_in_a_rootfs_tarball_are_ordinary_files() {
    let scratch = Scratch::new().unwrap();
    let data = tar_with(&[("etc/a", b"a"), ("etc/.wh.a", b"kept")]);
    let path = scratch.path("wh.tar");
    fs_err::write(&path, &data).unwrap();
    let opts = common::file_options(&scratch.path("cache"));
    let flattened = common::flatten_spec(
        &format!("tarball:{}", path.display()),
        &opts,
        &Default::default(),
    )
    .unwrap();
    use wslbox_rootfs::TreeView;
    assert_eq!(flattened.tree.read(b"etc/a").unwrap().unwrap(), b"a");
    assert_eq!(flattened.tree.read(b"etc/.wh.a").unwrap().unwrap(), b"kept");
}
