//! Arbitrary bytes → a `WWW-Authenticate` value, and a generated header's round trip. Must
//! never panic; parameters are what the header said (see `wslbox_fuzz::challenge`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::challenge::check_bytes(data);
});
