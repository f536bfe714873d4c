//! Test support: registry processes, token server, fixture image builder, oracle comparison.
pub mod registry;
pub mod registry_fixture;
pub mod registry_front;
pub mod registry_http;
pub mod skopeo;
pub mod token_server;
pub mod registry_env;
