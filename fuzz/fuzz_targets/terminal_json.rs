//! Arbitrary bytes → Windows Terminal `settings.json` or fragment text → rename and profile
//! repoint edits. Must never panic; edits keep every byte outside the edited string values and
//! are idempotent (see `wslbox_fuzz::jsonc`).

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::jsonc::check_terminal_json(data);
});
