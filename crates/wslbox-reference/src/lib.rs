//! Image references, digests and platforms: the vocabulary every other wslbox crate speaks.
//!
//! - [`Reference`] parses and normalizes references exactly as Docker's `distribution/reference`
//!   does (`alpine` → `docker.io/library/alpine:latest`).
//! - [`Digest`] is a validated content address (`sha256:<64 hex>`); a `Digest` can always be
//!   turned into a path component safely.
//! - [`Hasher`] computes a [`Digest`] incrementally, for verifying blobs as they stream.
//! - [`Platform`] is `os/arch[/variant]`, with the default wslbox picks for the host.
//!
//! This crate does no I/O.

mod digest;
mod hasher;
mod platform;
mod reference;

pub use digest::{Algorithm, Digest, DigestError};
pub use hasher::Hasher;
pub use platform::{Fit, Platform, PlatformError};
pub use reference::{DOCKER_HUB_API_HOST, DOCKER_HUB_REGISTRY, Reference, ReferenceError};
