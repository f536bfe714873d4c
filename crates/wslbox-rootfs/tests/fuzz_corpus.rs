//! The fuzz target's invariant (`fuzz/src/check.rs`) on stable, over a deterministic
//! pseudo-random corpus: structured layers from few names (so whiteouts, opaques, links,
//! duplicates and `..` collide often) and byte-level mutations of them.

#[path = "../../../fuzz/src/check.rs"]
mod check;

use wslbox_test::layers::{Entry, Layer, LongNames};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const PARTS: &[&str] = &["a", "b", "c", ".wh.a", ".wh.b", ".wh..wh..opq", "d\u{e9}"];

fn name(rng: &mut Rng) -> String {
    let depth = 1 + rng.below(3);
    // `..` is refused outright and only a directory may name the root, so both are kept rare
    // enough for most cases to get through.
    let mut parts: Vec<&str> = (0..depth)
        .map(|_| match rng.below(200) {
            0 => "..",
            1..=6 => ".",
            7..=10 => "",
            _ => rng.pick(PARTS),
        })
        .collect();
    if rng.below(8) == 0 {
        parts.insert(0, "");
    }
    if rng.below(8) == 0 {
        parts.insert(0, ".");
    }
    parts.join("/")
}

fn entry(rng: &mut Rng) -> Entry {
    let n = name(rng);
    let e = match rng.below(9) {
        0..=2 => Entry::file(&n, "x".repeat(rng.below(1500))),
        3..=4 => Entry::dir(&n),
        5 => Entry::symlink(&n, name(rng)),
        6 => Entry::hardlink(&n, rng.pick(&["a", "b", "a/b", "c/a"])),
        7 => Entry::char_dev(&n, 1, 3),
        _ => Entry::fifo(&n),
    };
    let mut e = e.mode(rng.next() as u32 & 0o7777);
    if rng.below(6) == 0 {
        e = e.owner(rng.next() % 5_000_000, rng.next() % 70_000);
    }
    if rng.below(6) == 0 {
        e = e.xattr("user.k", [rng.next() as u8, 0, 1]);
    }
    e
}

fn layer(rng: &mut Rng) -> Vec<u8> {
    let how = if rng.below(2) == 0 {
        LongNames::Pax
    } else {
        LongNames::Gnu
    };
    let count = rng.below(9);
    Layer::new()
        .long_names(how)
        .with_all((0..count).map(|_| entry(rng)))
        .finish()
}

fn mutate(rng: &mut Rng, mut bytes: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let i = rng.below(bytes.len());
        match rng.below(3) {
            0 => bytes[i] = rng.next() as u8,
            1 => bytes.truncate(i),
            _ => bytes[i] ^= 0x80,
        }
    }
    bytes
}

#[test]
fn fuzz_invariant_holds_on_a_deterministic_corpus() {
    // WSLBOX_FUZZ_SEEDS=DIR also writes the accepted cases there, to seed `cargo fuzz`.
    let seeds = std::env::var_os("WSLBOX_FUZZ_SEEDS").map(std::path::PathBuf::from);
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..3000 {
        let count = 1 + rng.below(3);
        let mut layers: Vec<Vec<u8>> = (0..count).map(|_| layer(&mut rng)).collect();
        if case % 3 == 2 {
            let i = rng.below(layers.len());
            layers[i] = mutate(&mut rng, std::mem::take(&mut layers[i]));
        }
        if case % 10 == 9 {
            let raw: Vec<u8> = layers.concat();
            layers = check::split_layers(&mutate(&mut rng, raw));
        }
        total += 1;
        if check::check_layers(&layers) {
            accepted += 1;
            if let (Some(dir), Some(seed)) = (&seeds, check::encode_seed(&layers)) {
                fs_err::create_dir_all(dir).unwrap();
                fs_err::write(dir.join(format!("case-{case}")), seed).unwrap();
            }
        }
    }
    // The corpus must exercise the success path, not only the error paths.
    assert!(
        accepted * 4 > total,
        "only {accepted} of {total} cases were accepted"
    );
}

#[test]
fn rootfs_tarball_invariant_holds_on_a_deterministic_corpus() {
    let mut rng = Rng(0x5eed_1234_abcd_0002);
    let (mut accepted, mut total) = (0, 0);
    for case in 0..2000 {
        let mut tar = layer(&mut rng);
        if case % 3 == 2 {
            tar = mutate(&mut rng, tar);
        }
        let mut input = vec![rng.next() as u8];
        input.extend(tar);
        total += 1;
        if check::check_rootfs_tarball(&input) {
            accepted += 1;
        }
    }
    assert!(
        accepted * 4 > total,
        "only {accepted} of {total} cases were accepted"
    );
}
