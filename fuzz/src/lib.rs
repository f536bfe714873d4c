//! Fuzzing invariants, one module per parser of outside data. Each is shared by a thin
//! cargo-fuzz target (`fuzz_targets/`) and a stable-Rust test in the owning crate that
//! `#[path]`-includes the same module, so every invariant is written once.
//!
//! - [`check`] (re-exported at the root): the layer flattener and rootfs tarballs.
//! - [`reference`]: image references, digests and platforms.
//! - [`manifest`]: manifests, indexes and image configs as a registry serves them.
//! - [`layout`]: OCI layout directories, oci-archive and docker-archive tars.
//! - [`challenge`]: `WWW-Authenticate` headers.
//! - [`token`]: token server responses.
//! - [`credentials`]: docker `config.json` / podman `auth.json`, and `registries.conf`.
//! - [`accounts`]: passwd/group/shadow/gshadow/subuid edits by customization.
//! - [`ini`]: in-place edits of `wsl.conf` and `wsl-distribution.conf`.
//! - [`jsonc`]: comment-preserving edits of Windows Terminal JSON (rename, repoint).
//! - [`squashfs`]: the SquashFS reader (`squashfs:` sources).
//! - [`rng`] and [`cases`]: deterministic case generation for the stable tests.

#[path = "check.rs"]
pub mod check;
pub use check::*;

pub mod accounts;
pub mod cases;
pub mod challenge;
pub mod credentials;
pub mod ini;
pub mod jsonc;
pub mod layout;
pub mod manifest;
pub mod reference;
pub mod rng;
pub mod squashfs;
pub mod token;
