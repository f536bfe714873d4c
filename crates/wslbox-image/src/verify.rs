//! Digest and size verification of blob streams, so that a corrupt blob never silently reaches
//! the output: [`VerifyingReader`] hashes while it is read and fails at EOF on a mismatch.

use std::io::{self, Read};

use wslbox_reference::{Digest, Hasher};

use crate::LayerDescriptor;

/// Checks an in-memory blob (a manifest or config) against its descriptor.
pub fn verify_bytes(
    what: &str,
    bytes: &[u8],
    expected: &Digest,
    expected_size: u64,
) -> io::Result<()> {
    let actual = Hasher::digest(expected.algorithm(), bytes);
    let size = bytes.len() as u64;
    if actual == *expected && size == expected_size {
        return Ok(());
    }
    Err(corrupt(what, expected, expected_size, &actual, size))
}

fn corrupt(
    what: &str,
    expected: &Digest,
    expected_size: u64,
    actual: &Digest,
    size: u64,
) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{what} {expected} is corrupt: expected {expected} ({expected_size} bytes), got {actual} ({size} bytes); \
             the source holds different content than its manifest says"
        ),
    )
}

/// Wraps a blob stream: passes bytes through, hashing and counting them, and at EOF returns an
/// [`io::ErrorKind::InvalidData`] error naming both digests and sizes if they differ from the
/// descriptor. Reading past the expected size fails at once, so a stream that never ends cannot
/// fill a disk.
pub struct VerifyingReader<R> {
    inner: R,
    what: String,
    expected: Digest,
    expected_size: u64,
    hasher: Option<Hasher>,
    read: u64,
    /// Set once verification failed: every later read repeats the error instead of a clean EOF.
    failure: Option<String>,
}

impl<R: Read> VerifyingReader<R> {
    /// Verifies `inner` against `expected` and `expected_size`; errors call it a "blob".
    pub fn new(inner: R, expected: Digest, expected_size: u64) -> Self {
        let hasher = Some(Hasher::new(expected.algorithm()));
        VerifyingReader {
            inner,
            what: "blob".into(),
            expected,
            expected_size,
            hasher,
            read: 0,
            failure: None,
        }
    }

    /// Verifies a layer stream; errors call it a "layer".
    pub fn layer(inner: R, layer: &LayerDescriptor) -> Self {
        Self::new(inner, layer.digest.clone(), layer.size).named("layer")
    }

    /// What the blob is called in errors ("layer", "config", "manifest").
    pub fn named(mut self, what: impl Into<String>) -> Self {
        self.what = what.into();
        self
    }

    /// Bytes passed through so far.
    pub fn bytes_read(&self) -> u64 {
        self.read
    }

    fn fail(&mut self, message: String) -> io::Error {
        self.failure = Some(message.clone());
        io::Error::new(io::ErrorKind::InvalidData, message)
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        let actual = hasher.finish();
        if actual == self.expected && self.read == self.expected_size {
            return Ok(());
        }
        let e = corrupt(
            &self.what,
            &self.expected,
            self.expected_size,
            &actual,
            self.read,
        );
        Err(self.fail(e.to_string()))
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(message) = &self.failure {
            return Err(io::Error::new(io::ErrorKind::InvalidData, message.clone()));
        }
        let n = self.inner.read(buf)?;
        if n == 0 {
            if !buf.is_empty() {
                self.finish()?;
            }
            return Ok(0);
        }
        self.read += n as u64;
        if self.read > self.expected_size {
            let message = format!(
                "{} {} is corrupt: expected {} bytes, but the stream is longer; the source holds different content than its manifest says",
                self.what, self.expected, self.expected_size
            );
            return Err(self.fail(message));
        }
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wslbox_reference::Algorithm;

    fn sha(bytes: &[u8]) -> Digest {
        Hasher::digest(Algorithm::Sha256, bytes)
    }

    #[test]
    fn matching_stream_reads_through() {
        let data = b"hello layer".to_vec();
        let mut r = VerifyingReader::new(&data[..], sha(&data), data.len() as u64);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(r.bytes_read(), data.len() as u64);
    }

    #[test]
    fn digest_mismatch_names_both_digests_at_eof() {
        let good = sha(b"expected content");
        let bad = sha(b"tampered content");
        let mut r = VerifyingReader::new(&b"tampered content"[..], good.clone(), 16).named("layer");
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let msg = err.to_string();
        assert!(
            msg.starts_with(&format!(
                "layer {good} is corrupt: expected {good} (16 bytes), got {bad} (16 bytes)"
            )),
            "{msg}"
        );
        // The error sticks: a retry must not look like a clean EOF.
        assert!(r.read(&mut [0; 8]).is_err());
    }

    #[test]
    fn short_stream_is_a_size_mismatch() {
        let data = b"abc";
        let mut r = VerifyingReader::new(&data[..], sha(data), 4);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("(4 bytes), got"), "{err}");
        assert!(err.to_string().contains("(3 bytes)"), "{err}");
    }

    #[test]
    fn overlong_stream_fails_before_eof() {
        let data = [7u8; 100];
        let mut r = VerifyingReader::new(&data[..], sha(&data[..10]), 10);
        let err = io::copy(&mut r, &mut io::sink()).unwrap_err();
        assert!(
            err.to_string()
                .contains("expected 10 bytes, but the stream is longer"),
            "{err}"
        );
    }

    #[test]
    fn sha512_digests_are_verified_with_sha512() {
        let data = b"sha512 content";
        let d = Hasher::digest(Algorithm::Sha512, data);
        assert_eq!(d.hex().len(), 128);
        let mut r = VerifyingReader::new(&data[..], d, data.len() as u64);
        io::copy(&mut r, &mut io::sink()).unwrap();
    }

    #[test]
    fn verify_bytes_detects_mismatch() {
        assert!(verify_bytes("config", b"{}", &sha(b"{}"), 2).is_ok());
        let err = verify_bytes("config", b"{} ", &sha(b"{}"), 2).unwrap_err();
        assert!(err.to_string().starts_with("config sha256:"), "{err}");
    }
}
