//! Arbitrary bytes → 1 to 3 uncompressed layer tars → flatten → tar output. Must never panic
//! and never emit an unsafe path (see `wslbox_fuzz::check_layers`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::check_layers(&wslbox_fuzz::split_layers(data));
});
