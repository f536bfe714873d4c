//! Names: long (> 100 and > 255 bytes, PAX and GNU), non-UTF-8, `./` and `/` prefixes,
//! duplicates within a layer, root entries, and paths through symlinked directories.

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer, LongNames};

fn long_name_layer(how: LongNames) -> Vec<u8> {
    let dir150 = "d".repeat(150);
    let name300 = format!("{dir150}/{}", "f".repeat(200));
    Layer::new()
        .long_names(how)
        .with(Entry::dir(&dir150))
        .with(Entry::file(&name300, "long"))
        .with(Entry::file(
            format!("{dir150}/{}", "g".repeat(120)),
            "long2",
        ))
        .with(Entry::symlink(format!("{dir150}/sym"), "s".repeat(180)))
        .with(Entry::hardlink("short-link", &name300))
        .with(Entry::hardlink(
            format!("{dir150}/{}", "h".repeat(110)),
            &name300,
        ))
        .finish()
}

#[test]
fn names_longer_than_100_and_255_bytes_with_pax_headers() {
    check(vec![long_name_layer(LongNames::Pax)]);
}

#[test]
fn names_longer_than_100_and_255_bytes_with_gnu_headers() {
    check(vec![long_name_layer(LongNames::Gnu)]);
}

#[test]
fn non_utf8_names() {
    let mut long = b"latin1-\xe9t\xe9-".to_vec();
    long.extend(std::iter::repeat_n(b'\xff', 150));
    let layer = Layer::new()
        .with(Entry::dir(b"caf\xe9".as_slice()))
        .with(Entry::file(b"caf\xe9/men\xfc".as_slice(), "latin-1"))
        .with(Entry::file(long.clone(), "long latin-1"))
        .with(Entry::symlink(
            b"link-\x80".as_slice(),
            b"caf\xe9/men\xfc".as_slice(),
        ))
        .with(Entry::hardlink(b"hard-\xfe".as_slice(), long))
        .with(Entry::file("utf8-été", "utf-8"))
        .finish();
    check(vec![layer]);
}

#[test]
fn dot_slash_and_absolute_prefixes_are_normalized() {
    let lower = Layer::new()
        .with(Entry::dir("./etc/"))
        .with(Entry::file("./etc/a", "a"))
        .with(Entry::file("/etc/b", "b"))
        .with(Entry::file("etc//c", "c"))
        .finish();
    let upper = Layer::new()
        .with(Entry::whiteout("/etc/a"))
        .with(Entry::file("./etc/./b", "b2"))
        .finish();
    check(vec![lower, upper]);
}

#[test]
fn duplicate_paths_within_one_layer_last_wins() {
    let layer = Layer::new()
        .with(Entry::file("f", "first"))
        .with(Entry::file("f", "second").mode(0o600))
        .with(Entry::file("d", "a file first"))
        .with(Entry::dir("d").mode(0o710))
        .with(Entry::file("d/in", "in"))
        .with(Entry::dir("e"))
        .with(Entry::file("e/lost", "lost"))
        .with(Entry::file("e", "then a file"))
        .with(Entry::dir("m").mode(0o700))
        .with(Entry::dir("m").mode(0o755).owner(1, 1))
        .finish();
    check(vec![layer]);
}

#[test]
fn root_entries_dot_slash_dot_and_slash_set_root_metadata() {
    let layer = Layer::new()
        .with(Entry::dir("./").mode(0o700))
        .with(Entry::file("a", "a"))
        .finish();
    let layer2 = Layer::new()
        .with(Entry::dir(".").mode(0o750).owner(0, 3))
        .finish();
    let layer3 = Layer::new()
        .with(Entry::dir("/").mode(0o751))
        .with(Entry::file("b", "b"))
        .finish();
    check(vec![layer, layer2, layer3]);
}

#[test]
fn paths_through_symlinked_directories_land_in_the_target() {
    // Debian's merged /usr: /lib -> usr/lib; later layers still write /lib/...
    let lower = Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/lib"))
        .with(Entry::symlink("lib", "usr/lib"))
        .with(Entry::symlink("abs", "/usr"))
        .with(Entry::symlink("up", "../../usr/lib"))
        .finish();
    let upper = Layer::new()
        .with(Entry::file("lib/libx.so", "x"))
        .with(Entry::dir("abs/share"))
        .with(Entry::file("abs/share/doc", "doc"))
        .with(Entry::file("up/liby.so", "y"))
        .with(Entry::hardlink("lib/libx-link.so", "lib/libx.so"))
        .finish();
    let top = Layer::new()
        .with(Entry::whiteout("lib/libx.so"))
        .with(Entry::opaque("abs/share"))
        .finish();
    check(vec![lower, upper, top]);
}

#[test]
fn type_nul_entry_with_trailing_slash_is_a_regular_file_as_in_umoci() {
    let layer = Layer::new()
        .with(Entry::other("olddir/", 0).mode(0o711))
        .with(Entry::other("oldfile", 0))
        .finish();
    check(vec![layer]);
}

#[test]
fn directory_entry_replaces_symlink_to_directory() {
    // Without --keep-dirlinks umoci replaces the symlink; the old target keeps its files.
    let lower = Layer::new()
        .with(Entry::dir("real"))
        .with(Entry::file("real/old", "old"))
        .with(Entry::symlink("link", "real"))
        .finish();
    let upper = Layer::new()
        .with(Entry::dir("link").mode(0o700))
        .with(Entry::file("link/new", "new"))
        .finish();
    check(vec![lower, upper]);
}
