//! Test support: registry processes, token server, fixture builders, file servers, container
//! engines, oracle comparison, output tar checks ([`output_check`]).
//!
//! For the non-registry rootfs sources: crafted trees on disk ([`tree_builder`]), SquashFS
//! images ([`squashfs`]), loopback HTTP file servers for tarball URLs ([`file_server`]), and
//! isolated container engines ([`podman`], [`dockerd`]); their oracles live in [`oracle`].
//! For the benchmark: a shaped network on loopback ([`shaper`], and the `net-shaper` program).
#[cfg(unix)]
pub mod chroot;
#[cfg(unix)]
pub mod dockerd;
#[cfg(unix)]
pub mod engine_image;
pub mod file_server;
pub mod front_faults;
pub mod layers;
pub mod layout_reader;
pub mod oci_layout;
#[cfg(unix)]
pub mod oracle;
pub mod output_check;
#[cfg(unix)]
pub mod podman;
pub mod registry;
pub mod registry_env;
pub mod registry_fixture;
pub mod registry_front;
pub mod registry_http;
pub mod shaper;
pub mod skopeo;
#[cfg(unix)]
pub mod squashfs;
pub mod token_server;
pub mod tool;
#[cfg(unix)]
pub mod tree_builder;

/// The names in `dir`, sorted: what a test expects to be left in a folder (and nothing else).
pub fn dir_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs_err::read_dir(dir)
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
