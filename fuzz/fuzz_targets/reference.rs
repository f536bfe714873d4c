//! Arbitrary bytes → text → image reference, digest and platform parsers. Must never panic;
//! what is accepted round-trips and is safe as a path (see `wslbox_fuzz::reference`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::reference::check_bytes(data);
});
