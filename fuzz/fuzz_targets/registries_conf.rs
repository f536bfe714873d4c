//! Arbitrary bytes → a containers-registries.conf, and each line as a mirror entry. Must never
//! panic; every mirror parsed is valid (see `wslbox_fuzz::credentials`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    wslbox_fuzz::credentials::check_registries_conf(&text);
    for line in text.lines() {
        wslbox_fuzz::credentials::check_mirror(line);
    }
});
