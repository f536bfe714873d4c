//! SquashFS images for the `squashfs:FILE` source, made by Debian's `mksquashfs` (the tool
//! distributions and WSL-image builders use) from real directory trees: the crafted tree of
//! [`crate::tree_builder::crafted_tree`], or the debootstrap minbase fixture
//! ([`debian_minbase_squashfs`], cached). Every compressor a reader must handle is offered
//! ([`Compressor`]); xattrs are always stored.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::bail;

use crate::layers::{cached_fixture, debian_minbase_tar};
use crate::tool;

/// A `mksquashfs -comp` choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compressor {
    Gzip,
    Xz,
    Zstd,
    Lz4,
    Lzo,
    /// LZMA1 (`lzma_alone`), still offered by Debian's mksquashfs.
    Lzma,
}

impl Compressor {
    pub const ALL: [Self; 6] = [
        Self::Gzip,
        Self::Xz,
        Self::Zstd,
        Self::Lz4,
        Self::Lzo,
        Self::Lzma,
    ];

    /// The name `mksquashfs -comp` takes and `unsquashfs -s` prints.
    pub fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Xz => "xz",
            Self::Zstd => "zstd",
            Self::Lz4 => "lz4",
            Self::Lzo => "lzo",
            Self::Lzma => "lzma",
        }
    }
}

impl fmt::Display for Compressor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `mksquashfs TREE OUT -comp C -noappend -no-progress -quiet -xattrs` (run as root so every
/// xattr namespace can be read). The image's root inode takes TREE's own metadata.
pub fn mksquashfs(tree: &Path, out: &Path, compressor: Compressor) -> anyhow::Result<()> {
    tool::require_root("mksquashfs reads trusted.* xattrs only as root")?;
    tool::run(
        Command::new("mksquashfs")
            .arg(tree)
            .arg(out)
            .args(["-comp", compressor.name()])
            .args(["-noappend", "-no-progress", "-quiet", "-xattrs"]),
        &format!("mksquashfs -comp {compressor} {}", tree.display()),
        "squashfs-tools",
    )?;
    Ok(())
}

/// The compressor recorded in an image's superblock (`unsquashfs -s`).
pub fn compressor_of(image: &Path) -> anyhow::Result<String> {
    let out = tool::run(
        Command::new("unsquashfs").arg("-s").arg(image),
        "unsquashfs -s",
        "squashfs-tools",
    )?;
    match out
        .lines()
        .find_map(|l| l.strip_prefix("Compression "))
        .map(str::trim)
    {
        Some(name) => Ok(name.to_owned()),
        None => bail!(
            "unsquashfs -s {} names no compression:\n{out}",
            image.display()
        ),
    }
}

/// The debootstrap bookworm minbase rootfs ([`debian_minbase_tar`]) as a SquashFS image:
/// extracted with GNU tar as root, then [`mksquashfs`]. Built once per compressor and cached
/// under [`crate::layers::fixtures_dir`].
pub fn debian_minbase_squashfs(compressor: Compressor) -> anyhow::Result<PathBuf> {
    let tar = debian_minbase_tar()?;
    cached_fixture(
        &format!("debootstrap-bookworm-minbase-{compressor}.squashfs"),
        |scratch, part| {
            let rootfs = scratch.join("rootfs");
            fs_err::create_dir_all(&rootfs)?;
            tool::run(
                Command::new("tar")
                    .args(["-xp", "--xattrs", "--xattrs-include=*", "--numeric-owner"])
                    .arg("-f")
                    .arg(&tar)
                    .arg("-C")
                    .arg(&rootfs),
                "GNU tar -x of the minbase fixture",
                "tar",
            )?;
            mksquashfs(&rootfs, part, compressor)
        },
    )
}
