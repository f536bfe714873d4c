//! The `wsl_conf` fuzz target's invariant (`fuzz/src/ini.rs`) on stable: over the committed
//! seed corpus, and over generated `wsl.conf`-like files (duplicate and differently-cased
//! sections and keys, comments, CRLF, no final newline, broken headers, bytes that are not
//! UTF-8) and byte-level mutations of them.

#[path = "../../../fuzz/src/ini.rs"]
mod check;
#[allow(dead_code)]
#[path = "../../../fuzz/src/rng.rs"]
mod rng;

use rng::Rng;

const LINES: &[&str] = &[
    "[user]",
    "[ User ]",
    "[boot] # boot",
    "[network]",
    "[oobe]",
    "[interop]",
    "[user",
    "[]",
    "default=bob",
    "  Default = root # old",
    "systemd=false",
    "hostname = a",
    "command = /usr/lib/wsl/oobe.sh",
    "defaultUid=0",
    "x=1",
    "=v",
    "novalue",
    "# default=commented",
    "; systemd=true",
    "",
    "   ",
    "\u{e9}=\u{e9}",
];

fn file(rng: &mut Rng) -> Vec<u8> {
    let crlf = rng.below(5) == 0;
    let mut out = Vec::new();
    for _ in 0..rng.below(12) {
        out.extend_from_slice(rng.pick(LINES).as_bytes());
        if crlf {
            out.push(b'\r');
        }
        out.push(b'\n');
    }
    if rng.below(4) == 0 {
        out.pop();
    }
    if rng.below(10) == 0 {
        out.push(0xff);
    }
    out
}

#[test]
fn every_seed_in_the_corpus_keeps_the_invariant() {
    for (_, data) in rng::corpus(env!("CARGO_MANIFEST_DIR"), "wsl_conf") {
        check::check_ini(&data);
    }
}

#[test]
fn generated_files_and_their_mutations_keep_the_invariant() {
    let mut rng = Rng(0x5eed_01a1_0000_0001);
    for case in 0..4000 {
        let mut data = file(&mut rng);
        if case % 3 == 2 {
            data = rng.mutate(data, b"[]=#;\n\r \tuU");
        }
        check::check_ini(&data);
    }
}
