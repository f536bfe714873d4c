//! xorshift64*, for the stable tests' generated cases: deterministic, so a failure reproduces.

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// Up to four edits of `bytes`: an overwrite, a cut, or an insertion from `alphabet`.
    pub fn mutate(&mut self, mut bytes: Vec<u8>, alphabet: &[u8]) -> Vec<u8> {
        for _ in 0..1 + self.below(4) {
            let i = self.below(bytes.len() + 1);
            let c = alphabet[self.below(alphabet.len())];
            match self.below(4) {
                0 if i < bytes.len() => bytes[i] = c,
                1 if i < bytes.len() => drop(bytes.remove(i)),
                2 => bytes.truncate(i),
                _ => bytes.insert(i, c),
            }
        }
        bytes
    }
}

/// Every file of the committed seed corpus `fuzz/corpus/<target>`, sorted by name.
pub fn corpus(manifest_dir: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = std::path::Path::new(manifest_dir)
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = fs_err::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.expect("corpus entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    files
        .into_iter()
        .map(|p| {
            let data = fs_err::read(&p).unwrap_or_else(|e| panic!("{e}"));
            (p.display().to_string(), data)
        })
        .collect()
}
