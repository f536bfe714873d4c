//! The SquashFS reader's invariant (`squashfs:FILE` sources), shared by the `squashfs`
//! cargo-fuzz target and crates/wslbox-source/tests/squashfs_fuzz.rs: for any image bytes,
//! opening and flattening either fails with an error or gives a tree whose output tar keeps
//! the output promises (`wslbox_test::output_check`: relative names without `..`, no
//! duplicates, directories before their contents, hardlinks after their targets). Never a
//! panic.

use std::path::Path;
use std::sync::Arc;

use wslbox_rootfs::FlattenOptions;
use wslbox_source::{OpenOptions, Reporter, SourceSpec};

/// Checks the image at `image`, spooling under `work`. Panics when the invariant is broken;
/// returns whether the image was accepted.
pub fn check_image_file(image: &Path, work: &Path) -> bool {
    let reporter: Arc<dyn Reporter> = Arc::new(wslbox_source::NoReporter);
    let spec = SourceSpec::Squashfs(image.to_owned());
    let Ok(source) = wslbox_source::open(&spec, &OpenOptions::new(work.join("cache")), &reporter)
    else {
        return false;
    };
    let spool = work.join("spool");
    fs_err::create_dir_all(&spool).expect("spool dir");
    let Ok(flattened) = source.flatten(&FlattenOptions::new(spool), &reporter) else {
        return false;
    };
    let mut out = Vec::new();
    wslbox_rootfs::write_tar(&flattened.tree, &mut out, &wslbox_rootfs::NoReporter)
        .expect("writing to memory cannot fail");
    wslbox_test::output_check::check_output(&out[..]);
    true
}

/// [`check_image_file`] for image bytes (the fuzz input), written to a temporary file.
pub fn check_image(data: &[u8]) -> bool {
    let work = tempfile::tempdir().expect("temp dir");
    let image = work.path().join("image.squashfs");
    fs_err::write(&image, data).expect("writing the image");
    check_image_file(&image, work.path())
}
