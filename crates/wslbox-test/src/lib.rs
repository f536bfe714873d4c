//! Test support: registry processes, token server, fixture image builder, oracle comparison,
//! output tar checks.
#[cfg(unix)]
pub mod chroot;
pub mod layers;
pub mod oci_layout;
#[cfg(unix)]
pub mod oracle;
pub mod output_check;
pub mod registry;
pub mod registry_env;
pub mod registry_fixture;
pub mod registry_front;
pub mod registry_http;
pub mod skopeo;
pub mod token_server;
