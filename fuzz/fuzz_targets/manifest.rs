//! Arbitrary bytes → a `Content-Type` and a manifest/index/config body → the manifest parser
//! and the config readers. Must never panic; what is accepted is well-formed (see
//! `wslbox_fuzz::manifest`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::manifest::check_bytes(data);
});
