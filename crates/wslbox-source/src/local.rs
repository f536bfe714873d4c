//! Local image layouts (`oci:`, `oci-archive:`, `docker-archive:`), read in place by
//! `wslbox-image`.

use std::sync::Arc;

use wslbox_image::BlobOpener;
use wslbox_rootfs::{FlattenOptions, Output};

use crate::registry::check_platform;
use crate::{Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind};

pub(crate) fn open(
    spec: &str,
    opts: &OpenOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Box<dyn Source>, SourceError> {
    let Some((image, opener)) = wslbox_image::open_local(spec, &opts.wanted_platform())? else {
        unreachable!("SourceSpec::Local is only made for local transports")
    };
    check_platform(opts, &image, reporter.as_ref())?;
    let kind = match spec.split(':').next() {
        Some("oci") => SourceKind::Oci,
        Some("oci-archive") => SourceKind::OciArchive,
        _ => SourceKind::DockerArchive,
    };
    Ok(Box::new(LayersSource {
        info: SourceInfo::from_image(kind, &image),
        opener,
    }))
}

/// An image whose layers an opener reads (local layouts, engine archives).
pub(crate) struct LayersSource {
    pub info: SourceInfo,
    pub opener: Box<dyn BlobOpener>,
}

impl Source for LayersSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        reporter.flatten_started(self.info.layers.len());
        let tree = wslbox_rootfs::flatten(
            &self.info.layers,
            self.opener.as_ref(),
            opts,
            reporter.as_ref(),
        )?;
        Ok(Flattened {
            tree,
            info: self.info,
        })
    }

    fn flatten_into(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
        out: &mut Output,
    ) -> Result<Flattened, SourceError> {
        reporter.flatten_started(self.info.layers.len());
        let tree = wslbox_rootfs::flatten_into(
            &self.info.layers,
            self.opener.as_ref(),
            opts,
            reporter.as_ref(),
            out,
        )?;
        Ok(Flattened {
            tree,
            info: self.info,
        })
    }
}
