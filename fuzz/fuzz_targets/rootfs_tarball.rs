//! Arbitrary bytes → one rootfs tarball (no whiteouts, `--strip-components` 0–2) → tar output.
//! Must never panic and never emit an unsafe path (see `wslbox_fuzz::check_rootfs_tarball`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::check_rootfs_tarball(data);
});
