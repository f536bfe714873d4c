//! `net-shaper`: the shaped network of `bench/run net` (see `wslbox_test::shaper`). Forwards
//! `127.0.0.1:PORT` to an upstream through a delay line and token buckets, prints the address
//! it listens on, and runs until its stdin closes.
//!
//! ```text
//! net-shaper --upstream 127.0.0.1:5055 [--port 0] [--per-connection 8000000] \
//!            [--link 40000000] [--rtt-ms 40]
//! ```

use std::io::Read;
use std::net::SocketAddr;
use std::time::Duration;

use wslbox_test::shaper::{Shaper, ShaperOptions};

fn main() {
    let mut options = ShaperOptions::default();
    let (mut port, mut upstream) = (0u16, None::<SocketAddr>);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| usage(&format!("{flag} needs a value")));
        let number = || {
            value
                .parse::<u64>()
                .unwrap_or_else(|_| usage(&format!("{flag}: `{value}` is not a number")))
        };
        match flag.as_str() {
            "--upstream" => {
                upstream = Some(
                    value
                        .parse()
                        .unwrap_or_else(|_| usage("--upstream HOST:PORT")),
                )
            }
            "--port" => port = u16::try_from(number()).unwrap_or_else(|_| usage("--port")),
            "--per-connection" => options.per_connection = number(),
            "--link" => options.link = number(),
            "--rtt-ms" => options.rtt = Duration::from_millis(number()),
            other => usage(&format!("unknown option {other}")),
        }
    }
    let upstream = upstream.unwrap_or_else(|| usage("--upstream is required"));
    let shaper = Shaper::start(port, upstream, options)
        .unwrap_or_else(|e| usage(&format!("cannot listen on 127.0.0.1:{port}: {e}")));
    println!("{}", shaper.addr());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn usage(problem: &str) -> ! {
    eprintln!(
        "net-shaper: {problem}\nusage: net-shaper --upstream HOST:PORT [--port N] [--per-connection BYTES/S] [--link BYTES/S] [--rtt-ms MS]"
    );
    std::process::exit(2);
}
