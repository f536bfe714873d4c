//! Arbitrary bytes → a docker `config.json` → credential lookups for several registries.
//! Must never panic or show a secret of the file (see `wslbox_fuzz::credentials`).

#![no_main]

use std::sync::LazyLock;

/// One scratch directory for the whole run: the file is rewritten for every input.
static DIR: LazyLock<tempfile::TempDir> =
    LazyLock::new(|| tempfile::tempdir().expect("scratch directory"));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    wslbox_fuzz::credentials::check_config_json(data, DIR.path());
});
