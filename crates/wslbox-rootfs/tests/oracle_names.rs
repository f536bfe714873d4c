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
        .add(Entry::dir(&dir150))
        .add(Entry::file(&name300, "long"))
        .add(Entry::file(format!("{dir150}/{}", "g".repeat(120)), "long2"))
        .add(Entry::symlink(format!("{dir150}/sym"), "s".repeat(180)))
        .add(Entry::hardlink("short-link", &name300))
        .add(Entry::hardlink(format!("{dir150}/{}", "h".repeat(110)), &name300))
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
        .add(Entry::dir(b"caf\xe9".as_slice()))
        .add(Entry::file(b"caf\xe9/men\xfc".as_slice(), "latin-1"))
        .add(Entry::file(long.clone(), "long latin-1"))
        .add(Entry::symlink(b"link-\x80".as_slice(), b"caf\xe9/men\xfc".as_slice()))
        .add(Entry::hardlink(b"hard-\xfe".as_slice(), long))
        .add(Entry::file("utf8-été", "utf-8"))
        .finish();
    check(vec![layer]);
}

#[test]
fn dot_slash_and_absolute_prefixes_are_normalized() {
    let lower = Layer::new()
        .add(Entry::dir("./etc/"))
        .add(Entry::file("./etc/a", "a"))
        .add(Entry::file("/etc/b", "b"))
        .add(Entry::file("etc//c", "c"))
        .finish();
    let upper = Layer::new().add(Entry::whiteout("/etc/a")).add(Entry::file("./etc/./b", "b2")).finish();
    check(vec![lower, upper]);
}

#[test]
fn duplicate_paths_within_one_layer_last_wins() {
    let layer = Layer::new()
        .add(Entry::file("f", "first"))
        .add(Entry::file("f", "second").mode(0o600))
        .add(Entry::file("d", "a file first"))
        .add(Entry::dir("d").mode(0o710))
        .add(Entry::file("d/in", "in"))
        .add(Entry::dir("e"))
        .add(Entry::file("e/lost", "lost"))
        .add(Entry::file("e", "then a file"))
        .add(Entry::dir("m").mode(0o700))
        .add(Entry::dir("m").mode(0o755).owner(1, 1))
        .finish();
    check(vec![layer]);
}

#[test]
fn root_entries_dot_slash_dot_and_slash_set_root_metadata() {
    let layer = Layer::new().add(Entry::dir("./").mode(0o700)).add(Entry::file("a", "a")).finish();
    let layer2 = Layer::new().add(Entry::dir(".").mode(0o750).owner(0, 3)).finish();
    let layer3 = Layer::new().add(Entry::dir("/").mode(0o751)).add(Entry::file("b", "b")).finish();
    check(vec![layer, layer2, layer3]);
}

#[test]
fn paths_through_symlinked_directories_land_in_the_target() {
    // Debian's merged /usr: /lib -> usr/lib; later layers still write /lib/...
    let lower = Layer::new()
        .add(Entry::dir("usr"))
        .add(Entry::dir("usr/lib"))
        .add(Entry::symlink("lib", "usr/lib"))
        .add(Entry::symlink("abs", "/usr"))
        .add(Entry::symlink("up", "../../usr/lib"))
        .finish();
    let upper = Layer::new()
        .add(Entry::file("lib/libx.so", "x"))
        .add(Entry::dir("abs/share"))
        .add(Entry::file("abs/share/doc", "doc"))
        .add(Entry::file("up/liby.so", "y"))
        .add(Entry::hardlink("lib/libx-link.so", "lib/libx.so"))
        .finish();
    let top = Layer::new().add(Entry::whiteout("lib/libx.so")).add(Entry::opaque("abs/share")).finish();
    check(vec![lower, upper, top]);
}
