//! A shaped network on loopback, in user space (the kernel here has no netem): a TCP front
//! that forwards every connection to an upstream (the test registry) through a delay line and
//! token buckets, the way a far-away CDN looks to a client:
//!
//! - **latency**: every byte reaches the other side `rtt / 2` after it was read, in both
//!   directions, so each request/response exchange costs one round trip;
//! - **per connection**: each connection carries at most `per_connection` bytes per second in
//!   each direction, as one TCP stream over a long path gets only part of the line;
//! - **link**: all connections together carry at most `link` bytes per second downstream.
//!
//! It is a byte-level proxy: HTTP semantics are the upstream's. `Range` requests reach the
//! registry, which answers them with 206 (CNCF distribution serves blobs with Go's
//! `http.ServeContent`), as CDNs do.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// How the network is shaped.
#[derive(Debug, Clone, Copy)]
pub struct ShaperOptions {
    /// Bytes per second one connection carries, each direction.
    pub per_connection: u64,
    /// Bytes per second all connections together carry downstream (upstream → client).
    pub link: u64,
    /// Round-trip time added to every exchange.
    pub rtt: Duration,
}

impl Default for ShaperOptions {
    /// 8 MB/s per connection, a 40 MB/s link, 40 ms round trips (issue 11's setting).
    fn default() -> Self {
        ShaperOptions {
            per_connection: 8_000_000,
            link: 40_000_000,
            rtt: Duration::from_millis(40),
        }
    }
}

/// A running front; stops accepting when dropped (connections in flight finish).
pub struct Shaper {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Shaper {
    /// Listens on `127.0.0.1:port` (`0` for any free port) and forwards to `upstream`.
    pub fn start(port: u16, upstream: SocketAddr, options: ShaperOptions) -> io::Result<Shaper> {
        let listener = TcpListener::bind(("127.0.0.1", port))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let link = Arc::new(Mutex::new(Bucket::new(options.link)));
        let stopping = stop.clone();
        thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                let link = link.clone();
                thread::spawn(move || {
                    if let Ok(server) = TcpStream::connect(upstream) {
                        connect(client, server, options, &link);
                    }
                });
            }
        });
        Ok(Shaper { addr, stop })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Shaper {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

/// Joins the two directions of one connection.
fn connect(
    client: TcpStream,
    server: TcpStream,
    options: ShaperOptions,
    link: &Arc<Mutex<Bucket>>,
) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let half = options.rtt / 2;
    let up = thread::spawn(move || {
        direction(
            client2,
            server2,
            half,
            Bucket::new(options.per_connection),
            None,
        );
    });
    direction(
        server,
        client,
        half,
        Bucket::new(options.per_connection),
        Some(link.clone()),
    );
    let _ = up.join();
}

/// Forwards `from` to `to`: a reader stamps each chunk with the time it may arrive, a writer
/// releases it then, paced by the buckets. The end of `from` half-closes `to`.
fn direction(
    mut from: TcpStream,
    mut to: TcpStream,
    delay: Duration,
    mut own: Bucket,
    link: Option<Arc<Mutex<Bucket>>>,
) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    for (due, chunk) in rx {
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            thread::sleep(wait);
        }
        for slice in chunk.chunks(SLICE) {
            own.take(slice.len() as u64);
            if let Some(link) = &link {
                take_shared(link, slice.len() as u64);
            }
            if to.write_all(slice).is_err() {
                let _ = to.shutdown(Shutdown::Both);
                let _ = reader.join();
                return;
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
    let _ = reader.join();
}

/// Bytes written at once: small enough that pacing is smooth at a few MB/s.
const SLICE: usize = 16 * 1024;

/// A token bucket of `rate` bytes per second, holding at most 20 ms of them (and at least
/// one slice), so bursts stay short.
struct Bucket {
    rate: u64,
    capacity: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn new(rate: u64) -> Bucket {
        let capacity = (rate as f64 / 50.0).max(SLICE as f64);
        Bucket {
            rate: rate.max(1),
            capacity,
            tokens: capacity,
            at: Instant::now(),
        }
    }

    /// How long until `n` bytes may go, taking them (the balance may go negative: the next
    /// caller waits for it).
    fn reserve(&mut self, n: u64) -> Duration {
        let now = Instant::now();
        let earned = now.duration_since(self.at).as_secs_f64() * self.rate as f64;
        self.tokens = (self.tokens + earned).min(self.capacity);
        self.at = now;
        self.tokens -= n as f64;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate as f64)
        }
    }

    fn take(&mut self, n: u64) {
        let wait = self.reserve(n);
        if !wait.is_zero() {
            thread::sleep(wait);
        }
    }
}

fn take_shared(bucket: &Mutex<Bucket>, n: u64) {
    let wait = bucket.lock().unwrap_or_else(|e| e.into_inner()).reserve(n);
    if !wait.is_zero() {
        thread::sleep(wait);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_burst_through_then_paces_at_its_rate() {
        let mut bucket = Bucket::new(1_000_000);
        assert_eq!(bucket.reserve(20_000), Duration::ZERO, "20 ms of burst");
        let wait = bucket.reserve(100_000);
        assert!(
            wait >= Duration::from_millis(99) && wait <= Duration::from_millis(101),
            "100 kB more at 1 MB/s is 100 ms: {wait:?}"
        );
    }

    #[test]
    fn bytes_pass_through_unchanged_and_late() {
        let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
        let up_addr = upstream.local_addr().unwrap();
        let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let sent = body.clone();
        thread::spawn(move || {
            let (mut s, _) = upstream.accept().unwrap();
            let mut req = [0u8; 5];
            s.read_exact(&mut req).unwrap();
            assert_eq!(&req, b"hello");
            s.write_all(&sent).unwrap();
        });
        let shaper = Shaper::start(
            0,
            up_addr,
            ShaperOptions {
                per_connection: 1_000_000,
                link: 10_000_000,
                rtt: Duration::from_millis(40),
            },
        )
        .unwrap();
        let started = Instant::now();
        let mut c = TcpStream::connect(shaper.addr()).unwrap();
        c.write_all(b"hello").unwrap();
        let mut got = Vec::new();
        c.read_to_end(&mut got).unwrap();
        assert_eq!(got, body, "byte for byte");
        // One round trip, and 200 kB at 1 MB/s less the 20 ms burst: the shaping happened.
        assert!(
            started.elapsed() >= Duration::from_millis(200),
            "{:?}",
            started.elapsed()
        );
    }
}
