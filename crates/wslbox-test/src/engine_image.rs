//! One real engine-built image for the `podman:`, `docker-daemon:` and `--via` tests, built
//! once ([`cached_fixture`]) and handed to each test's own store as a `docker-archive`.
//!
//! `podman build` on the Debian minbase with `RUN` steps that make the entries real tools
//! make: a file deleted in a later step (`.wh.NAME`), a directory removed with `rm -rf` (a
//! whiteout for the directory), `rm -rf DIR && mkdir DIR` (with the overlay driver, the
//! kernel marks the new directory opaque and podman writes `DIR/.wh..wh..opq`; the vfs driver
//! would write one `.wh.` per old child instead, see `tests/podman_engine.rs`), a hardlink, a
//! setuid chmod, a chmod through a symlink, a fifo, and config (`ENV`, `USER`, `WORKDIR`).
//! The build uses the overlay driver for that opaque whiteout; the stores the tests read from
//! use vfs (a vfs store loading the archive saves it back byte for byte: containers/storage
//! keeps each layer's tar-split).

use std::path::PathBuf;
use std::time::Instant;

use crate::layers::cached_fixture;
use crate::podman::{Podman, StorageDriver};

/// The tag the image carries in the archive.
pub const ENGINE_IMAGE: &str = "localhost/wslbox-engine:v1";

const CONTAINERFILE: &str = "FROM localhost/minbase:latest
RUN mkdir -p /opt/app/cache /opt/gone && echo one > /opt/app/cache/a && echo keep > /opt/app/keep \
    && echo bye > /opt/gone/file && echo x > /etc/deleted-later
RUN rm /etc/deleted-later && rm -rf /opt/gone \
    && rm -rf /opt/app/cache && mkdir /opt/app/cache && echo two > /opt/app/cache/b \
    && rm -rf /usr/share/doc && mkdir /usr/share/doc && echo new > /usr/share/doc/README
RUN echo linked > /opt/app/target && ln /opt/app/target /opt/app/hardlink \
    && chmod 4750 /opt/app/target && chmod 0700 /opt/app && chmod 0600 /etc/os-release \
    && mkfifo /opt/app/fifo && ln -s ../keep /opt/app/cache/keep-link
ENV WSLBOX_TEST=engine
USER nobody
WORKDIR /opt
";

/// `podman save --format docker-archive` of [`ENGINE_IMAGE`] (built on first use; the
/// import and build times are printed to stderr then).
pub fn engine_image_archive() -> anyhow::Result<PathBuf> {
    cached_fixture("engine-image-v1.tar", |scratch, part| {
        let podman = Podman::with_driver(StorageDriver::Overlay)?;
        let started = Instant::now();
        podman.import_debian_minbase("localhost/minbase:latest")?;
        eprintln!(
            "podman import of the minbase (overlay): {:.1?}",
            started.elapsed()
        );
        let context = scratch.join("context");
        fs_err::create_dir_all(&context)?;
        fs_err::write(context.join("Containerfile"), CONTAINERFILE)?;
        let started = Instant::now();
        podman.build(&context, ENGINE_IMAGE)?;
        eprintln!(
            "podman build (overlay, 3 RUN steps): {:.1?}",
            started.elapsed()
        );
        podman.save(ENGINE_IMAGE, "docker-archive", part)
    })
}

/// A fresh vfs [`Podman`] holding [`ENGINE_IMAGE`] (`podman load` of the archive).
pub fn podman_with_engine_image() -> anyhow::Result<Podman> {
    let archive = engine_image_archive()?;
    let podman = Podman::new()?;
    let started = Instant::now();
    podman.load(&archive)?;
    eprintln!("podman load (vfs): {:.1?}", started.elapsed());
    Ok(podman)
}
