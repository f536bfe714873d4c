//! End-to-end tests of `wslbox_wsl::host` under Wine: the registry, known folders, files and
//! shell links are Wine's real implementations; wsl.exe is the `wsl-simulator` test double.
//! Run them with `scripts/test-windows`. Each test uses its own distribution names, so they
//! can share one Wine prefix and run in parallel.
#![cfg(windows)]

mod fixtures;
mod support;

mod cli;
mod commit;
mod configure;
mod failures;
mod fallback;
mod kill;
mod lifecycle;
mod rename;
mod upgrade;
