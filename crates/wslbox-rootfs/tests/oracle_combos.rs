//! Combinations: a deep stack of 32 layers, and many cases in one image.

mod common;

use common::check;
use wslbox_test::layers::{Entry, Layer};

#[test]
fn deep_stack_of_32_layers() {
    let mut layers = vec![
        Layer::new()
            .with(Entry::dir("data"))
            .with(Entry::file("data/base", "0"))
            .finish(),
    ];
    for i in 1..32u32 {
        let mut l = Layer::new()
            .with(Entry::file(format!("data/f{i}"), format!("{i}")).mode(0o600 + (i % 8)))
            .with(Entry::file("data/counter", format!("{i}")))
            .with(Entry::hardlink(format!("data/link{i}"), "data/counter"));
        if i % 3 == 0 {
            l = l.with(Entry::whiteout(format!("data/f{}", i - 1)));
        }
        if i % 7 == 0 {
            l = l
                .with(Entry::opaque("data"))
                .with(Entry::file("data/after-opaque", format!("{i}")));
        }
        if i % 5 == 0 {
            l = l
                .with(Entry::dir(format!("dir{i}")))
                .with(Entry::whiteout(format!("dir{}", i - 5)));
        }
        layers.push(l.finish());
    }
    assert_eq!(layers.len(), 32);
    check(layers);
}

#[test]
fn many_cases_in_one_image() {
    let cap: &[u8] = &[
        0x01, 0, 0, 0x02, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let l1 = Layer::new()
        .with(Entry::dir("usr"))
        .with(Entry::dir("usr/bin"))
        .with(Entry::symlink("bin", "usr/bin"))
        .with(
            Entry::file("usr/bin/ping", "ping")
                .mode(0o4755)
                .xattr("security.capability", cap),
        )
        .with(Entry::hardlink("usr/bin/ping6", "usr/bin/ping"))
        .with(Entry::dir("etc"))
        .with(Entry::file("etc/passwd", "root:x:0:0::/root:/bin/sh\n"))
        .with(Entry::dir("var/cache/apt").mode(0o700))
        .with(Entry::file("var/cache/apt/pkg.bin", vec![7u8; 100_000]))
        .with(Entry::char_dev("dev-null", 1, 3))
        .finish();
    let l2 = Layer::new()
        .with(Entry::opaque("var/cache/apt"))
        .with(Entry::file("bin/new-tool", "via symlink").owner(5_000_000, 5_000_000))
        .with(Entry::file("usr/bin/ping", "ping v2").mode(0o755))
        .with(Entry::whiteout("etc/passwd"))
        .with(Entry::file("etc/passwd", "root:x:0:0::/root:/bin/bash\n"))
        .with(Entry::dir(format!("etc/{}", "n".repeat(120))))
        .with(Entry::file(
            format!("etc/{}/{}", "n".repeat(120), "m".repeat(150)),
            "long",
        ))
        .with(Entry::file(b"etc/\xff\xfe".as_slice(), "bytes"))
        .finish();
    let l3 = Layer::new()
        .with(Entry::whiteout("usr/bin/ping"))
        .with(Entry::dir("etc").mode(0o751))
        .with(Entry::file("./etc/hostname", "box"))
        .with(Entry::file("/etc/hostname", "box2"))
        .finish();
    check(vec![l1, l2, l3]);
}
