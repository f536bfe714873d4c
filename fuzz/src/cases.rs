//! Structured-case helpers for the stable-Rust fuzz tests, on top of [`super::rng::Rng`]:
//! strings over an alphabet, and the byte edits libFuzzer tries first plus splices of
//! fragments that matter to the grammar at hand (`..`, `/`, quotes, …).

use super::rng::Rng;

/// True about once in `n` calls.
pub fn chance(rng: &mut Rng, n: usize) -> bool {
    rng.below(n) == 0
}

/// `len` characters drawn from `alphabet`.
pub fn string(rng: &mut Rng, alphabet: &str, len: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    (0..len).map(|_| chars[rng.below(chars.len())]).collect()
}

/// Up to four edits of `bytes`: an overwrite, a bit flip, a cut, a removal, an inserted byte,
/// or a splice of one of `interesting`.
pub fn mutate(rng: &mut Rng, mut bytes: Vec<u8>, interesting: &[&str]) -> Vec<u8> {
    for _ in 0..1 + rng.below(4) {
        let i = rng.below(bytes.len() + 1);
        match rng.below(6) {
            0 if i < bytes.len() => bytes[i] = rng.next() as u8,
            1 if i < bytes.len() => bytes[i] ^= 1 << rng.below(8),
            2 => bytes.truncate(i),
            3 if i < bytes.len() => drop(bytes.remove(i)),
            4 if !interesting.is_empty() => {
                let s = rng.pick(interesting).as_bytes();
                bytes.splice(i..i, s.iter().copied());
            }
            _ => bytes.insert(i, rng.next() as u8),
        }
    }
    bytes
}
