//! Arbitrary bytes → NUL-separated `/etc/passwd`, `group`, `shadow`, `gshadow`, `subuid`,
//! `subgid` → customization with several `--user` options. Must never panic; edits keep
//! untouched lines, field counts and are idempotent (see `wslbox_fuzz::accounts`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::accounts::check_accounts(data);
});
