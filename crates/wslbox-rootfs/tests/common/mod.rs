//! Shared driver of the differential tests: build an OCI layout from layer tars, unpack it
//! with umoci (the oracle), flatten it with wslbox-rootfs, extract our tar with bsdtar and
//! GNU tar, and compare the trees. Also checks the output's structural promises.

#![allow(dead_code)] // each test binary uses a different part

pub mod streaming;

use std::path::Path;

use wslbox_rootfs::{
    FlatTree, FlattenError, FlattenOptions, NoReporter, Output, OutputDest, OutputFormat,
};
use wslbox_test::oci_layout::{Compression, Image, OciLayout, Platform, TarSource};
use wslbox_test::oracle::{self, Scratch};
use wslbox_test::output_check::check_output;

/// Builds a layout with `layers`, tagged `latest`.
pub fn layout(dir: &Path, layers: &[(TarSource, Compression)]) -> (OciLayout, Image) {
    let layout = OciLayout::create(dir).expect("create layout");
    let image = layout
        .add_image(layers, &Platform::linux("amd64"))
        .expect("write image");
    layout
        .write_index(&[image.tagged("latest")])
        .expect("write index.json");
    (layout, image)
}

pub fn flatten(layout: &OciLayout, image: &Image, spool: &Path) -> Result<FlatTree, FlattenError> {
    wslbox_rootfs::flatten(
        &image.layers,
        &layout.opener(),
        &options(spool),
        &NoReporter,
    )
}

/// A tiny spool budget: a few small bodies are spooled, every other body is read again from
/// its layer for the output (or streamed), so every path meets the oracles in every case.
pub fn options(spool: &Path) -> FlattenOptions {
    fs_err::create_dir_all(spool).unwrap();
    FlattenOptions {
        spool_budget: 4096,
        jobs: 2,
        ..FlattenOptions::new(spool.to_owned())
    }
}

/// Flattens with [`wslbox_rootfs::flatten_into`], streaming into the tar file `out`, and
/// writes the rest; returns the stats and how many entries were streamed.
pub fn flatten_streamed(
    layout: &OciLayout,
    image: &Image,
    spool: &Path,
    out: &Path,
) -> Result<(wslbox_rootfs::Stats, u64), String> {
    let mut output = Output::open(OutputDest::File(out.to_owned()), OutputFormat::Tar)
        .map_err(|e| e.to_string())?;
    let tree = wslbox_rootfs::flatten_into(
        &image.layers,
        &layout.opener(),
        // No spool budget: every body that can be streamed is.
        &FlattenOptions {
            spool_budget: 0,
            ..options(spool)
        },
        &NoReporter,
        &mut output,
    )
    .map_err(|e| e.to_string())?;
    let streamed = output.written();
    let stats = output
        .finish(&tree, &NoReporter)
        .map_err(|e| e.to_string())?;
    Ok((stats, streamed))
}

/// Differential check of gzip layers.
pub fn check(layers: Vec<Vec<u8>>) {
    check_with(
        layers
            .into_iter()
            .map(|t| (TarSource::Bytes(t), Compression::Gzip))
            .collect(),
    );
}

/// Differential check: our flattening of `layers` must extract to exactly umoci's tree.
/// zstd layers are given to umoci (which cannot read zstd) as gzip of the same tar bytes.
pub fn check_with(layers: Vec<(TarSource, Compression)>) {
    check_streamed(layers);
}

/// [`check_with`], returning how many files went to the output while their layer was read.
pub fn check_streamed(layers: Vec<(TarSource, Compression)>) -> u64 {
    let scratch = Scratch::new().expect("scratch dir");
    let (ours, image) = layout(&scratch.path("layout"), &layers);
    let oracle_layout = if layers.iter().any(|(_, c)| *c == Compression::Zstd) {
        let gz: Vec<_> = layers
            .iter()
            .map(|(t, c)| {
                (
                    t.clone(),
                    if *c == Compression::Zstd {
                        Compression::Gzip
                    } else {
                        *c
                    },
                )
            })
            .collect();
        layout(&scratch.path("oracle-layout"), &gz).0
    } else {
        ours.clone()
    };
    oracle::umoci_unpack(&oracle_layout.dir, "latest", &scratch.path("umoci"))
        .expect("umoci is the oracle");
    let expected = oracle::snapshot(&scratch.path("umoci")).unwrap();

    let tree = flatten(&ours, &image, &scratch.path("spool")).expect("flatten");
    let out = scratch.path("out.tar");
    let stats = wslbox_rootfs::write_output(
        &tree,
        OutputDest::File(out.clone()),
        OutputFormat::Tar,
        &NoReporter,
    )
    .expect("write output");
    assert!(stats.entries >= 1);
    check_structure(&out);

    oracle::bsdtar_extract(&out, &scratch.path("bsdtar")).unwrap();
    oracle::assert_same(
        &expected,
        &oracle::snapshot(&scratch.path("bsdtar")).unwrap(),
        "bsdtar -xp of our output",
    );
    oracle::gnu_tar_extract(&out, &scratch.path("gnutar")).unwrap();
    oracle::assert_same(
        &expected,
        &oracle::snapshot(&scratch.path("gnutar")).unwrap(),
        "GNU tar -xp of our output",
    );

    // The same with the biggest layer streamed into the output while it is read.
    let streamed_out = scratch.path("streamed.tar");
    let (streamed_stats, n_streamed) = flatten_streamed(
        &ours,
        &image,
        &scratch.path("spool-streamed"),
        &streamed_out,
    )
    .expect("flatten while streaming");
    assert_eq!(streamed_stats.entries, stats.entries, "the same entries");
    check_structure(&streamed_out);
    oracle::bsdtar_extract(&streamed_out, &scratch.path("bsdtar-streamed")).unwrap();
    oracle::assert_same(
        &expected,
        &oracle::snapshot(&scratch.path("bsdtar-streamed")).unwrap(),
        "bsdtar -xp of our streamed output",
    );
    oracle::gnu_tar_extract(&streamed_out, &scratch.path("gnutar-streamed")).unwrap();
    oracle::assert_same(
        &expected,
        &oracle::snapshot(&scratch.path("gnutar-streamed")).unwrap(),
        "GNU tar -xp of our streamed output",
    );
    n_streamed
}

/// The output promises (`wslbox_test::output_check`) of the tar file at `tar_path`.
pub fn check_structure(tar_path: &Path) {
    let file = fs_err::File::open(tar_path).unwrap();
    check_output(std::io::BufReader::new(file));
}
