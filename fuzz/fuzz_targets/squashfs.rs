//! Arbitrary bytes → a `squashfs:` image → flatten → tar output. Must never panic and never
//! emit an unsafe path (see `wslbox_fuzz::squashfs`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::squashfs::check_image(data);
});
