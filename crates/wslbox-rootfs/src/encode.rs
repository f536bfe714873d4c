//! A rootfs tar encoded as an image layer: compressed with all cores (gzip members as
//! `.tar.gz` outputs are, or multithreaded zstd) while the uncompressed bytes are hashed into
//! the layer's `diff_id`.

use std::io::{self, Write};

use sha2::{Digest as _, Sha256};
use wslbox_reference::Digest;

use crate::pgzip::ParGzWriter;

/// gzip level of pushed layers (pigz's default, as `.tar.gz` outputs).
const GZIP_LEVEL: u32 = 6;
/// zstd level of pushed layers (zstd's default).
const ZSTD_LEVEL: i32 = 3;

/// How a pushed layer is compressed (`--compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerCompression {
    #[default]
    Gzip,
    Zstd,
}

enum Encoder<W: Write> {
    Gzip(ParGzWriter<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

/// Compresses a tar stream into `W` and hashes it; [`finish`](Self::finish) returns `W`,
/// the `diff_id` and the tar's size.
pub struct LayerEncoder<W: Write> {
    encoder: Encoder<W>,
    hasher: Sha256,
    tar_bytes: u64,
}

impl<W: Write> LayerEncoder<W> {
    pub fn new(out: W, compression: LayerCompression) -> io::Result<Self> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let encoder = match compression {
            LayerCompression::Gzip => Encoder::Gzip(ParGzWriter::new(out, threads, GZIP_LEVEL)),
            LayerCompression::Zstd => {
                let mut z = zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?;
                z.multithread(u32::try_from(threads).unwrap_or(1))?;
                Encoder::Zstd(z)
            }
        };
        Ok(LayerEncoder {
            encoder,
            hasher: Sha256::new(),
            tar_bytes: 0,
        })
    }

    /// Ends the compressed stream: the destination, the `diff_id` (sha256 of the tar) and
    /// the tar's length.
    pub fn finish(self) -> io::Result<(W, Digest, u64)> {
        let out = match self.encoder {
            Encoder::Gzip(g) => g.finish()?,
            Encoder::Zstd(z) => z.finish()?,
        };
        let diff_id = format!("sha256:{}", hex::encode(self.hasher.finalize()))
            .parse()
            .expect("a sha256 digest");
        Ok((out, diff_id, self.tar_bytes))
    }
}

impl<W: Write> Write for LayerEncoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.encoder {
            Encoder::Gzip(g) => g.write(buf)?,
            Encoder::Zstd(z) => z.write(buf)?,
        };
        self.hasher.update(&buf[..n]);
        self.tar_bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.encoder {
            Encoder::Gzip(g) => g.flush(),
            Encoder::Zstd(z) => z.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn roundtrip(compression: LayerCompression) {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut enc = LayerEncoder::new(Vec::new(), compression).unwrap();
        for piece in data.chunks(77_777) {
            enc.write_all(piece).unwrap();
        }
        let (compressed, diff_id, len) = enc.finish().unwrap();
        assert_eq!(len, data.len() as u64);
        assert_eq!(
            diff_id.to_string(),
            format!("sha256:{}", hex::encode(Sha256::digest(&data)))
        );
        let mut back = Vec::new();
        match compression {
            LayerCompression::Gzip => flate2::read::MultiGzDecoder::new(&compressed[..])
                .read_to_end(&mut back)
                .unwrap(),
            LayerCompression::Zstd => zstd::stream::read::Decoder::new(&compressed[..])
                .unwrap()
                .read_to_end(&mut back)
                .unwrap(),
        };
        assert!(back == data, "{compression:?} does not decode to its input");
        assert!(compressed.len() < data.len() / 4);
    }

    #[test]
    fn gzip_layers_decode_to_the_hashed_tar() {
        roundtrip(LayerCompression::Gzip);
    }

    #[test]
    fn zstd_layers_decode_to_the_hashed_tar() {
        roundtrip(LayerCompression::Zstd);
    }
}
