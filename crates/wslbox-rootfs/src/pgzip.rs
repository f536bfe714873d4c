//! Parallel gzip, as pigz does it in spirit: the stream is cut into fixed-size chunks that
//! worker threads compress into independent gzip members, written out in order. A sequence
//! of members is one valid gzip file (RFC 1952 §2.2) that gzip, bsdtar and GNU tar read.
//! Memory is bounded by the chunks in flight.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;

const CHUNK: usize = 1 << 20;

type Job = (u64, Vec<u8>);
type Done = (u64, io::Result<Vec<u8>>);

pub(crate) struct ParGzWriter<W: Write> {
    out: W,
    buf: Vec<u8>,
    tx: Option<mpsc::Sender<Job>>,
    done: mpsc::Receiver<Done>,
    workers: Vec<JoinHandle<()>>,
    sent: u64,
    written: u64,
    ready: BTreeMap<u64, Vec<u8>>,
    max_in_flight: u64,
}

impl<W: Write> ParGzWriter<W> {
    pub fn new(out: W, threads: usize, level: u32) -> Self {
        let threads = threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let (done_tx, done) = mpsc::channel::<Done>();
        let rx = Arc::new(Mutex::new(rx));
        let workers = (0..threads)
            .map(|_| {
                let rx = Arc::clone(&rx);
                let done_tx = done_tx.clone();
                std::thread::spawn(move || {
                    loop {
                        let job = rx
                            .lock()
                            .map_err(|_| ())
                            .and_then(|r| r.recv().map_err(|_| ()));
                        let Ok((seq, chunk)) = job else { return };
                        if done_tx.send((seq, compress(&chunk, level))).is_err() {
                            return;
                        }
                    }
                })
            })
            .collect();
        Self {
            out,
            buf: Vec::with_capacity(CHUNK),
            tx: Some(tx),
            done,
            workers,
            sent: 0,
            written: 0,
            ready: BTreeMap::new(),
            max_in_flight: 2 * threads as u64,
        }
    }

    fn dispatch(&mut self) -> io::Result<()> {
        while self.sent - self.written >= self.max_in_flight {
            self.collect_one()?;
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        let tx = self.tx.as_ref().expect("not finished");
        tx.send((self.sent, chunk))
            .map_err(|_| io::Error::other("gzip worker thread died"))?;
        self.sent += 1;
        Ok(())
    }

    /// Waits for one compressed chunk, then writes every chunk that is next in order.
    fn collect_one(&mut self) -> io::Result<()> {
        let (seq, result) = self
            .done
            .recv()
            .map_err(|_| io::Error::other("gzip worker thread died"))?;
        self.ready.insert(seq, result?);
        while let Some(member) = self.ready.remove(&self.written) {
            self.out.write_all(&member)?;
            self.written += 1;
        }
        Ok(())
    }

    /// Compresses what is left and returns the destination.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() || self.sent == 0 {
            self.dispatch()?;
        }
        while self.written < self.sent {
            self.collect_one()?;
        }
        self.tx = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

fn compress(chunk: &[u8], level: u32) -> io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(chunk.len() / 2),
        flate2::Compression::new(level),
    );
    enc.write_all(chunk)?;
    enc.finish()
}

impl<W: Write> Write for ParGzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.dispatch()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn members_decompress_to_the_input_in_order() {
        let input: Vec<u8> = (0..3 * CHUNK + 123).map(|i| (i % 251) as u8).collect();
        let mut w = ParGzWriter::new(Vec::new(), 3, 1);
        for piece in input.chunks(7777) {
            w.write_all(piece).unwrap();
        }
        let gz = w.finish().unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn empty_input_is_a_valid_gzip_file() {
        let gz = ParGzWriter::new(Vec::new(), 2, 6).finish().unwrap();
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        assert!(out.is_empty());
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    }
}
