//! Arbitrary bytes → `wsl.conf` / `wsl-distribution.conf` → set, remove and refused edits.
//! Must never panic; edits keep every other line and are idempotent (see `wslbox_fuzz::ini`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::ini::check_ini(data);
});
