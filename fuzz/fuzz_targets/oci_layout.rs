//! Arbitrary bytes → an OCI layout directory, an oci-archive or a docker-archive tar (see
//! `wslbox_fuzz::layout::Input`) → the local layout readers. Must never panic, never read
//! outside the layout, and every accepted layer must verify against its digest.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::layout::check_bytes(data);
});
