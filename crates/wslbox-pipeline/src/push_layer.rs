//! The pushed layer: the export pipeline writes the tar into a [`LayerEncoder`] (diff_id +
//! compression) whose output a [`BlobWriter`] uploads in chunks as it comes. When the
//! registry forgets the upload after a broken connection (distribution cancels an upload whose
//! bytes no longer match its state), the layer is built and sent once more, if the source can
//! be read again.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use wslbox_registry::{BlobWriter, Client, PushTarget, RegistryError, UploadedBlob};
use wslbox_rootfs::{LayerEncoder, OutputDest, OutputFormat};
use wslbox_source::{OpenOptions, SourceSpec, TarballLocation};

use crate::push::PushRequest;
use crate::{ExportRequest, ExportSummary, PipelineError, Reporter};

/// A layer built and uploaded.
pub(crate) struct Built {
    pub exported: ExportSummary,
    pub diff_id: wslbox_reference::Digest,
    pub tar_bytes: u64,
    pub uploaded: UploadedBlob,
}

pub(crate) fn build_layer(
    spec: &SourceSpec,
    open: &OpenOptions,
    request: &PushRequest,
    client: &Client,
    target: &PushTarget,
    rt: &tokio::runtime::Runtime,
    reporter: &Arc<dyn Reporter>,
) -> Result<Built, PipelineError> {
    let rereadable = !matches!(spec, SourceSpec::Tarball(TarballLocation::Stdin));
    match build_once(spec, open, request, client, target, rt, reporter) {
        Err(e) if rereadable && upload_lost(&e) => {
            reporter.warn(&format!("{e}; building and uploading the layer again"));
            build_once(spec, open, request, client, target, rt, reporter)
        }
        other => other,
    }
}

fn build_once(
    spec: &SourceSpec,
    open: &OpenOptions,
    request: &PushRequest,
    client: &Client,
    target: &PushTarget,
    rt: &tokio::runtime::Runtime,
    reporter: &Arc<dyn Reporter>,
) -> Result<Built, PipelineError> {
    let writer = client.blob_writer(
        target,
        rt.handle().clone(),
        request.chunk_size,
        Arc::new(UploadProgress(Arc::clone(reporter))),
    );
    let encoder =
        LayerEncoder::new(writer, request.compression).map_err(|source| PipelineError::Io {
            what: "starting the layer compressor".into(),
            source,
        })?;
    let shared = Arc::new(Mutex::new(Some(encoder)));
    let export = ExportRequest {
        wsl: request.wsl.clone(),
        raw: request.raw,
        dest: OutputDest::Writer(Box::new(SharedWriter(Arc::clone(&shared)))),
        format: OutputFormat::Tar,
        label: target.reference.to_string(),
        typed: request.typed.clone(),
        catalog: request.catalog.clone(),
        keep: None,
        stream: request.stream,
        timestamp: request.timestamp,
    };
    let exported = crate::export(spec, open, export, reporter)?;
    let encoder = shared
        .lock()
        .expect("layer encoder")
        .take()
        .expect("the export hands the writer back");
    let (writer, diff_id, tar_bytes) = encoder.finish().map_err(|source| PipelineError::Io {
        what: format!("uploading the layer to {}", target.reference),
        source,
    })?;
    let uploaded = writer.finish()?;
    Ok(Built {
        exported,
        diff_id,
        tar_bytes,
        uploaded,
    })
}

/// Whether `err` comes from an upload the registry forgot ([`RegistryError::UploadLost`]),
/// wherever in the chain (the output stream's I/O errors carry it).
fn upload_lost(err: &PipelineError) -> bool {
    // `#[error(transparent)]` hands out the inner error's source, not the inner error.
    if let PipelineError::Registry(e) = err
        && matches!(**e, RegistryError::UploadLost { .. })
    {
        return true;
    }
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = next {
        let mut current = e;
        loop {
            if matches!(
                current.downcast_ref::<RegistryError>(),
                Some(RegistryError::UploadLost { .. })
            ) {
                return true;
            }
            match current
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => current = inner,
                None => break,
            }
        }
        next = e.source();
    }
    false
}

/// The export's output handle: writes into the encoder the push takes back afterwards.
struct SharedWriter(Arc<Mutex<Option<LayerEncoder<BlobWriter>>>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.0.lock().expect("layer encoder").as_mut() {
            Some(encoder) => encoder.write(buf),
            None => Err(io::Error::other("the layer was already finished")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.0.lock().expect("layer encoder").as_mut() {
            Some(encoder) => encoder.flush(),
            None => Ok(()),
        }
    }
}

/// Upload progress to the pipeline reporter.
struct UploadProgress(Arc<dyn Reporter>);

impl wslbox_registry::Reporter for UploadProgress {
    fn on_upload_progress(&self, bytes: u64) {
        self.0.upload_progress(bytes);
    }
}
