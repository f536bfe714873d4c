//! Arbitrary bytes → a token server's JSON body. Must never panic; an accepted token is
//! non-empty and its expiry never overflows (see `wslbox_fuzz::token`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::token::check_body(data);
});
