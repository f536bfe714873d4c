//! Streaming the biggest layer into the output while it is read ([`wslbox_rootfs::flatten_into`]):
//! what may be streamed (the Shadow of the upper layers, held paths), and that the result is
//! exactly umoci's tree whatever was streamed. When the stream cannot stand (a path named
//! twice, a layer that breaks off), and compressed outputs: `stream_output.rs`.

mod common;

use std::collections::BTreeSet;
use std::io::Read;

use common::streaming::{SharedBuf, dir_tar, middle_layers, stream_opts, stream_to, write};
use common::{check_streamed, flatten_streamed, layout};
use wslbox_rootfs::{FlattenOptions, OutputDest, OutputFormat};
use wslbox_test::layers::{Entry, Layer, debian_minbase_tar};
use wslbox_test::oci_layout::{Compression, TarSource};
use wslbox_test::oracle::Scratch;
use wslbox_test::registry_fixture::noise;

/// Without `./`, leading and trailing slashes.
fn normalize(p: &[u8]) -> Vec<u8> {
    p.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .collect::<Vec<_>>()
        .join(&b'/')
}

/// The entries of a tar, in order.
fn tar_entries(input: impl Read) -> Entries {
    let mut archive = tar::Archive::new(input);
    archive
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (normalize(&e.path_bytes()), e.header().entry_type())
        })
        .collect()
}

/// Tar entries: normalized path and type.
type Entries = Vec<(Vec<u8>, tar::EntryType)>;

/// The entries before the root directory's (the streamed files), and the rest.
fn split_at_root(entries: Entries) -> (Entries, Entries) {
    let root = entries
        .iter()
        .position(|(p, _)| p.is_empty())
        .expect("the output has a root entry");
    let mut streamed = entries;
    let rest = streamed.split_off(root);
    (streamed, rest)
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn within(path: &[u8], dir: &str) -> bool {
    path.strip_prefix(dir.as_bytes())
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}
// --- 1. Debian minbase under a layer of deletions and replacements --------------------------

/// Regular files of Debian minbase the changes layer removes or replaces.
const DEBIAN_HIDDEN_FILES: &[&str] = &[
    "usr/bin/perl",       // usr/bin/perl5.36.0 is a hardlink to it, and stays
    "usr/bin/uncompress", // usr/bin/gunzip is a hardlink to it, and stays
    "usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30",
    "usr/bin/dpkg", // new content
    "usr/bin/zcat", // becomes a directory
];

/// Directories of Debian minbase whose files the changes layer hides.
const DEBIAN_HIDDEN_DIRS: &[&str] = &[
    "usr/lib/x86_64-linux-gnu/perl-base", // opaque
    "usr/share/doc/gzip",                 // becomes a symlink
    "usr/share/doc/diffutils",            // becomes a file
];

fn debian_changes(scratch: &Scratch) -> Vec<u8> {
    let root = scratch.path("changes-root");
    write(&root, "usr/bin/.wh.perl", "");
    write(&root, "usr/bin/.wh.uncompress", "");
    write(
        &root,
        "usr/lib/x86_64-linux-gnu/.wh.libstdc++.so.6.0.30",
        "",
    );
    write(&root, "usr/lib/x86_64-linux-gnu/perl-base/.wh..wh..opq", "");
    write(
        &root,
        "usr/lib/x86_64-linux-gnu/perl-base/strict.pm",
        "package strict; 1;\n",
    );
    write(&root, "usr/bin/dpkg", "#!/bin/sh\necho not dpkg\n");
    write(
        &root,
        "usr/bin/zcat/inside",
        "a directory where a file was\n",
    );
    fs_err::create_dir_all(root.join("usr/share/doc")).unwrap();
    std::os::unix::fs::symlink("dpkg", root.join("usr/share/doc/gzip")).unwrap();
    write(
        &root,
        "usr/share/doc/diffutils",
        "a file where a directory was\n",
    );
    write(&root, "usr/local/bin/tool", noise(7, 200_000));
    fs_err::hard_link(
        root.join("usr/local/bin/tool"),
        root.join("usr/local/bin/tool-link"),
    )
    .unwrap();
    dir_tar(&root, &scratch.path("changes.tar"))
}

#[test]
fn debian_minbase_streams_every_surviving_file_under_real_changes() {
    let base = debian_minbase_tar()
        .expect("debootstrap --variant=minbase bookworm (see scripts/install-test-deps)");
    let scratch = Scratch::new().unwrap();
    let changes = debian_changes(&scratch);

    // What the rules say goes out while the base is read: every non-empty regular file
    // that is neither held nor hidden by the changes.
    let mut expected = 0u64;
    let mut seen_hidden_files = BTreeSet::new();
    let mut seen_hidden_dirs = BTreeSet::new();
    let mut archive = tar::Archive::new(fs_err::File::open(&base).unwrap());
    for e in archive.entries().unwrap() {
        let e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular || e.size() == 0 {
            continue;
        }
        let path = normalize(&e.path_bytes());
        if let Some(f) = DEBIAN_HIDDEN_FILES.iter().find(|f| path == f.as_bytes()) {
            seen_hidden_files.insert(*f);
            continue;
        }
        if let Some(d) = DEBIAN_HIDDEN_DIRS.iter().find(|d| within(&path, d)) {
            seen_hidden_dirs.insert(*d);
            continue;
        }
        if ["etc", "home", "root"].iter().any(|h| within(&path, h)) {
            continue;
        }
        expected += 1;
    }
    // The changes hit real files of the base, or this test would prove little.
    assert_eq!(seen_hidden_files.len(), DEBIAN_HIDDEN_FILES.len());
    assert_eq!(seen_hidden_dirs.len(), DEBIAN_HIDDEN_DIRS.len());

    let streamed = check_streamed(vec![
        (TarSource::File(base), Compression::None),
        (TarSource::Bytes(changes), Compression::Gzip),
    ]);
    assert!(streamed > 1000, "only {streamed} files streamed");
    assert_eq!(
        streamed, expected,
        "every surviving, unheld, non-empty file of the base is streamed, and nothing else"
    );
}

// --- 2. Upper entries whose place depends on a lower symlink --------------------------------

/// The biggest layer: merged /usr with `bin -> usr/bin` and two big programs.
fn merged_usr_base() -> Vec<u8> {
    Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/bin"))
        .with(Entry::symlink("bin", "usr/bin"))
        .with(Entry::file("usr/bin/rmdir", noise(1, 100_000)).mode(0o755))
        .with(Entry::file("usr/bin/other", noise(2, 100_000)).mode(0o755))
        .finish()
}

fn streamed_over_merged_usr(uppers: Vec<Layer>) -> u64 {
    let mut layers = vec![(TarSource::Bytes(merged_usr_base()), Compression::Gzip)];
    layers.extend(
        uppers
            .into_iter()
            .map(|l| (TarSource::Bytes(l.finish()), Compression::Gzip)),
    );
    check_streamed(layers)
}

#[test]
fn whiteout_through_a_lower_symlink_streams_nothing() {
    // `bin` is no directory of the upper layer: `bin/rmdir` is wherever the symlink says.
    let n = streamed_over_merged_usr(vec![Layer::new().with(Entry::whiteout("bin/rmdir"))]);
    assert_eq!(
        n, 0,
        "an upper entry below a lower symlink: nothing may be streamed"
    );
}

#[test]
fn upper_entries_below_a_directory_they_did_not_make_stream_nothing() {
    // `usr/bin/` has an entry, `usr/` has not.
    let n = streamed_over_merged_usr(vec![
        Layer::new()
            .with(Entry::dir("usr/bin"))
            .with(Entry::whiteout("usr/bin/rmdir")),
    ]);
    assert_eq!(n, 0);
}

#[test]
fn upper_hardlink_to_a_lower_file_streams_nothing() {
    let n = streamed_over_merged_usr(vec![
        Layer::new()
            .with(Entry::dir("usr"))
            .with(Entry::dir("usr/bin"))
            .with(Entry::hardlink("usr/bin/again", "usr/bin/other")),
    ]);
    assert_eq!(n, 0);
}

#[test]
fn upper_entries_below_their_own_directories_stream_the_rest() {
    // The control: with every parent an upper directory, the survivor is streamed.
    let n = streamed_over_merged_usr(vec![
        Layer::new()
            .with(Entry::dir("usr"))
            .with(Entry::dir("usr/bin"))
            .with(Entry::whiteout("usr/bin/rmdir")),
    ]);
    assert_eq!(n, 1, "usr/bin/other, and only it");
    // The symlink removed, `bin/` is a new directory of the upper layer: both programs stay.
    let n = streamed_over_merged_usr(vec![
        Layer::new()
            .with(Entry::whiteout("bin"))
            .with(Entry::file("bin/new", "new")),
    ]);
    assert_eq!(n, 2);
}

#[test]
fn upper_symlink_its_own_layer_whites_out_still_redirects_the_next_layer() {
    // A whiteout never removes what its own layer made: `x` stays a symlink to usr/bin, so
    // the next layer's `x/rmdir` replaces usr/bin/rmdir. Streaming it would be a conflict.
    let uppers = || {
        vec![
            Layer::new()
                .with(Entry::symlink("x", "usr/bin"))
                .with(Entry::whiteout("x")),
            Layer::new().with(Entry::file("x/rmdir", "replaced through x")),
        ]
    };
    let n = streamed_over_merged_usr(uppers());
    assert_eq!(n, 0, "`x/rmdir` is below a symlink, not an upper directory");

    // A stream cannot start over: it must not have streamed anything that goes away.
    let scratch = Scratch::new().unwrap();
    let mut layers = vec![(TarSource::Bytes(merged_usr_base()), Compression::Gzip)];
    layers.extend(
        uppers()
            .into_iter()
            .map(|l| (TarSource::Bytes(l.finish()), Compression::Gzip)),
    );
    let (l, image) = layout(&scratch.path("layout"), &layers);
    let buf = SharedBuf::default();
    let (result, _) = stream_to(
        &l,
        &image,
        &stream_opts(&scratch.path("spool")),
        OutputDest::Writer(Box::new(buf.clone())),
        OutputFormat::Tar,
    );
    result.expect("a valid image streams to a writer");
    let names: Vec<_> = tar_entries(&buf.0.lock().unwrap()[..])
        .into_iter()
        .filter(|(p, _)| p == b"usr/bin/rmdir")
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// The biggest layer, with symlinks (relative, absolute, to a directory) and files written
/// through them.
fn symlinked_base() -> Vec<u8> {
    let big = |seed| noise(seed, 50_000);
    Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/bin"))
        .with(Entry::dir("usr/lib"))
        .with(Entry::dir("usr/lib/sub"))
        .with(Entry::symlink("bin", "usr/bin"))
        .with(Entry::symlink("lib", "usr/lib"))
        .with(Entry::symlink("abs", "/usr/lib"))
        .with(Entry::dir("d"))
        .with(Entry::symlink("link", "d"))
        .with(Entry::file("usr/bin/a", big(1)))
        .with(Entry::file("usr/bin/b", big(2)))
        .with(Entry::file("usr/lib/sub/f", big(3)))
        .with(Entry::file("usr/lib/g", big(4)))
        .with(Entry::file("d/x", big(5)))
        .with(Entry::file("abs/h", big(6)))
        .with(Entry::file("lib/i", big(7)))
        .with(Entry::file("link/y", big(8)))
        .finish()
}

#[test]
fn valid_images_never_fail_a_stream() {
    let dirs = |names: &[&str]| names.iter().map(Entry::dir).collect::<Vec<_>>();
    let usr_bin = || Layer::new().with_all(dirs(&["usr", "usr/bin"]));
    let usr_lib = || Layer::new().with_all(dirs(&["usr", "usr/lib"]));
    // What each stack of upper layers does, and how many of the base's eight files are
    // then streamed.
    let cases: Vec<(&str, u64, Vec<Layer>)> = vec![
        (
            "a directory replaces the symlink lib",
            8,
            vec![
                Layer::new()
                    .with(Entry::dir("lib"))
                    .with(Entry::whiteout("lib/sub"))
                    .with(Entry::file("lib/new", "new")),
            ],
        ),
        (
            "the directory symlink removed, then a directory there",
            8,
            vec![
                Layer::new()
                    .with(Entry::whiteout("link"))
                    .with(Entry::dir("link"))
                    .with(Entry::file("link/x", "x")),
            ],
        ),
        (
            "an upper symlink, then a directory over it",
            8,
            vec![
                Layer::new().with(Entry::symlink("new", "usr/bin")),
                Layer::new()
                    .with(Entry::dir("new"))
                    .with(Entry::file("new/a", "a")),
            ],
        ),
        (
            "opaque lower directory",
            4,
            vec![
                usr_lib()
                    .with(Entry::opaque("usr/lib"))
                    .with(Entry::file("usr/lib/g", "g")),
            ],
        ),
        (
            "a file replaced by a directory",
            7,
            vec![
                usr_bin()
                    .with(Entry::dir("usr/bin/a"))
                    .with(Entry::file("usr/bin/a/x", "x")),
            ],
        ),
        (
            "a hardlink between upper layers",
            8,
            vec![
                Layer::new()
                    .with(Entry::dir("h"))
                    .with(Entry::file("h/f", "f")),
                Layer::new().with(Entry::hardlink("h/g", "h/f")),
            ],
        ),
        (
            "whiteout and file in one layer, both orders",
            6,
            vec![
                usr_bin()
                    .with(Entry::whiteout("usr/bin/a"))
                    .with(Entry::file("usr/bin/a", "new a"))
                    .with(Entry::file("usr/bin/b", "new b"))
                    .with(Entry::whiteout("usr/bin/b")),
            ],
        ),
        (
            "files the base wrote through symlinks",
            5,
            vec![
                usr_lib()
                    .with(Entry::whiteout("usr/lib/h"))
                    .with(Entry::file("usr/lib/i", "new i"))
                    .with(Entry::dir("d"))
                    .with(Entry::whiteout("d/y")),
            ],
        ),
        (
            "the symlinks the base wrote through removed",
            8,
            vec![
                Layer::new()
                    .with(Entry::whiteout("lib"))
                    .with(Entry::whiteout("abs"))
                    .with(Entry::file("link", "a file now")),
            ],
        ),
        (
            "an own symlink whited out, then written through",
            0,
            vec![
                Layer::new()
                    .with(Entry::symlink("x", "usr/bin"))
                    .with(Entry::whiteout("x")),
                Layer::new().with(Entry::file("x/a", "through x")),
            ],
        ),
        (
            "an own file whited out, then linked to",
            8,
            vec![
                Layer::new()
                    .with(Entry::file("own", "own"))
                    .with(Entry::whiteout("own")),
                Layer::new().with(Entry::hardlink("own-link", "own")),
            ],
        ),
        (
            "opaque root",
            0,
            vec![
                Layer::new()
                    .with(Entry::opaque(""))
                    .with(Entry::file("only", "only")),
            ],
        ),
    ];
    for (what, expected, uppers) in cases {
        let mut layers = vec![(TarSource::Bytes(symlinked_base()), Compression::Gzip)];
        layers.extend(
            uppers
                .into_iter()
                .map(|l| (TarSource::Bytes(l.finish()), Compression::Gzip)),
        );
        let n = check_streamed(layers.clone());

        let scratch = Scratch::new().unwrap();
        let (l, image) = layout(&scratch.path("layout"), &layers);
        let buf = SharedBuf::default();
        let (result, written) = stream_to(
            &l,
            &image,
            &stream_opts(&scratch.path("spool")),
            OutputDest::Writer(Box::new(buf.clone())),
            OutputFormat::Tar,
        );
        assert_eq!(written, n, "{what}");
        result.unwrap_or_else(|e| panic!("{what}: {e}"));
        let (streamed, _) = split_at_root(tar_entries(&buf.0.lock().unwrap()[..]));
        assert_eq!(streamed.len() as u64, n, "{what}");
        assert_eq!(n, expected, "{what}");
    }
}

// --- 3. Held paths ---------------------------------------------------------------------------

#[test]
fn held_paths_of_debian_minbase_are_not_streamed() {
    let base = debian_minbase_tar()
        .expect("debootstrap --variant=minbase bookworm (see scripts/install-test-deps)");
    let scratch = Scratch::new().unwrap();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::File(base), Compression::None)],
    );
    let out = scratch.path("out.tar");
    let (stats, n) = flatten_streamed(&l, &image, &scratch.path("spool"), &out).unwrap();
    let (streamed, rest) = split_at_root(tar_entries(fs_err::File::open(&out).unwrap()));
    assert!(!streamed.is_empty(), "nothing streamed");
    assert_eq!(streamed.len() as u64, n);
    assert_eq!((streamed.len() + rest.len()) as u64, stats.entries);
    for (p, kind) in &streamed {
        assert_eq!(*kind, tar::EntryType::Regular, "{} streamed", show(p));
        assert!(
            !["etc", "home", "root"].iter().any(|h| within(p, h)),
            "held {} was streamed",
            show(p)
        );
    }
    assert!(
        streamed.iter().any(|(p, _)| p == b"usr/bin/perl"),
        "a big program is streamed"
    );
    for held in ["etc/passwd", "etc/debian_version", "root/.bashrc"] {
        assert!(
            rest.iter()
                .any(|(p, k)| p == held.as_bytes() && *k == tar::EntryType::Regular),
            "{held} is written after the root"
        );
    }
    assert!(
        rest.iter()
            .filter(|(p, k)| within(p, "etc") && *k == tar::EntryType::Regular)
            .count()
            > 50
    );
}

/// Held paths are directories, matched by components and on the real path.
fn held_layer() -> Vec<u8> {
    let big = |seed| noise(seed, 100_000);
    Layer::new()
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/big", big(1)))
        .with(Entry::dir("etcetera"))
        .with(Entry::file("etcetera/big", big(2)))
        .with(Entry::dir("home"))
        .with(Entry::dir("home/user"))
        .with(Entry::file("home/user/big", big(3)))
        .with(Entry::dir("root"))
        .with(Entry::file("root/big", big(4)))
        .with(Entry::file("rootfs-big", big(5)))
        .with(Entry::symlink("config", "etc"))
        .with(Entry::file("config/through-a-link", big(6)))
        .with(Entry::dir("usr"))
        .with(Entry::file("usr/big", big(7)))
        .with(Entry::file("usr/small", "a small file"))
        .with(Entry::file("usr/exactly-64k", noise(8, 64 << 10)))
        .with(Entry::file("usr/over-64k", noise(9, (64 << 10) + 1)))
        .with(Entry::file("usr/empty", ""))
        .finish()
}

#[test]
fn held_paths_are_whole_components_of_the_real_path() {
    let n = check_streamed(vec![(TarSource::Bytes(held_layer()), Compression::Gzip)]);
    assert_eq!(n, 6);

    let scratch = Scratch::new().unwrap();
    let (l, image) = layout(
        &scratch.path("layout"),
        &[(TarSource::Bytes(held_layer()), Compression::Gzip)],
    );
    let names = |opts: &FlattenOptions, name: &str| {
        let out = scratch.path(name);
        let (result, _) = stream_to(
            &l,
            &image,
            opts,
            OutputDest::File(out.clone()),
            OutputFormat::Tar,
        );
        result.unwrap();
        let (streamed, _) = split_at_root(tar_entries(fs_err::File::open(&out).unwrap()));
        streamed
            .into_iter()
            .map(|(p, _)| show(&p))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&stream_opts(&scratch.path("spool")), "no-budget.tar"),
        [
            "etcetera/big",
            "rootfs-big",
            "usr/big",
            "usr/small",
            "usr/exactly-64k",
            "usr/over-64k"
        ]
    );
    // The default budget spools small bodies: only those over 64 KiB stay in the layer.
    let default = FlattenOptions {
        jobs: 2,
        ..FlattenOptions::new(scratch.path("spool"))
    };
    assert_eq!(
        names(&default, "default.tar"),
        ["etcetera/big", "rootfs-big", "usr/big", "usr/over-64k"]
    );
}

// --- 6. The biggest layer in the middle ------------------------------------------------------

#[test]
fn biggest_layer_in_the_middle_streams_what_the_top_leaves_alone() {
    let scratch = Scratch::new().unwrap();
    let layers = middle_layers(&scratch);
    let n = check_streamed(layers.clone());
    // usr/bin/tool2, usr/share/big, usr/lib/e.so, the long name, the xattr file, café.
    assert_eq!(n, 6);

    // The same bytes into a writer as into a file.
    let (l, image) = layout(&scratch.path("layout"), &layers);
    assert!(
        image.layers[1].size > image.layers[0].size.max(image.layers[2].size),
        "the middle layer is the biggest"
    );
    let opts = stream_opts(&scratch.path("spool"));
    let file = scratch.path("streamed.tar");
    let (result, _) = stream_to(
        &l,
        &image,
        &opts,
        OutputDest::File(file.clone()),
        OutputFormat::Tar,
    );
    result.unwrap();
    let buf = SharedBuf::default();
    let (result, n) = stream_to(
        &l,
        &image,
        &opts,
        OutputDest::Writer(Box::new(buf.clone())),
        OutputFormat::Tar,
    );
    assert_eq!(n, 6);
    let stats = result.unwrap();
    let bytes = buf.0.lock().unwrap().clone();
    assert_eq!(stats.output_bytes, bytes.len() as u64);
    assert!(
        bytes == fs_err::read(&file).unwrap(),
        "writer and file differ"
    );
    let (streamed, _) = split_at_root(tar_entries(&bytes[..]));
    let streamed: BTreeSet<_> = streamed.into_iter().map(|(p, _)| p).collect();
    for p in ["usr/bin/tool2", "usr/share/big", "usr/lib/e.so"] {
        assert!(streamed.contains(p.as_bytes()), "{p} not streamed");
    }
}
