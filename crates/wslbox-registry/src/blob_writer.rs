//! A blob uploaded while it is written: a blocking [`std::io::Write`] for the synchronous
//! pipeline, bridged to the async uploader by a small bounded channel of chunks. Nothing is
//! spooled to disk: at most a few chunks are in memory, and a blob smaller than one chunk
//! goes up in a single `PUT` once its digest is known (after a `HEAD` that may skip it).

use std::io::{self, Write};
use std::sync::Arc;

use bytes::Bytes;
use sha2::{Digest as _, Sha256};
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use wslbox_reference::Digest;

use crate::upload::{PushTarget, UploadSession};
use crate::{Client, RegistryError, Reporter};

/// Chunks queued for the uploader, beyond the one being sent: bounds memory to about
/// `(QUEUE + 2) × chunk size` while keeping the link busy during compression stalls.
const QUEUE: usize = 2;

/// The uploader task; it hands back its upload session when the channel closes.
type UploadTask = JoinHandle<Result<UploadSession, RegistryError>>;

/// What [`BlobWriter::finish`] uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedBlob {
    pub digest: Digest,
    pub size: u64,
    /// Whether the registry had it already (only known for blobs smaller than a chunk).
    pub existed: bool,
}

/// Uploads everything written to it as one blob; see the module docs. Dropped without
/// [`finish`](Self::finish), the upload is abandoned (the registry expires it).
pub struct BlobWriter {
    client: Client,
    target: PushTarget,
    handle: Handle,
    reporter: Arc<dyn Reporter>,
    chunk_size: usize,
    buf: Vec<u8>,
    /// The upload failed: every later write fails too.
    failed: bool,
    hasher: Sha256,
    size: u64,
    /// Set once the first full chunk went to the uploader task.
    uploader: Option<(mpsc::Sender<Bytes>, UploadTask)>,
}

impl Client {
    /// A writer that uploads to `target` in chunks of `chunk_size` bytes, running the
    /// requests on `handle` (a runtime the caller keeps alive, not the current thread's).
    pub fn blob_writer(
        &self,
        target: &PushTarget,
        handle: Handle,
        chunk_size: usize,
        reporter: Arc<dyn Reporter>,
    ) -> BlobWriter {
        BlobWriter {
            client: self.clone(),
            target: target.clone(),
            handle,
            reporter,
            chunk_size: chunk_size.max(64 << 10),
            buf: Vec::new(),
            failed: false,
            hasher: Sha256::new(),
            size: 0,
            uploader: None,
        }
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.size
    }

    /// Sends the last bytes and completes the upload with the digest of everything written.
    pub fn finish(mut self) -> Result<UploadedBlob, RegistryError> {
        let digest: Digest = format!("sha256:{}", hex::encode(self.hasher.clone().finalize()))
            .parse()
            .expect("a sha256 digest");
        let last = Bytes::from(std::mem::take(&mut self.buf));
        let size = self.size;
        let client = self.client.clone();
        let target = self.target.clone();
        match self.uploader.take() {
            None => {
                let reporter = Arc::clone(&self.reporter);
                let existed = self.handle.block_on(async {
                    if client.blob_exists(&target, &digest).await? {
                        return Ok::<_, RegistryError>(true);
                    }
                    let len = last.len() as u64;
                    client.upload_blob(&target, &digest, last).await?;
                    reporter.on_upload_progress(len);
                    Ok(false)
                })?;
                Ok(UploadedBlob {
                    digest,
                    size,
                    existed,
                })
            }
            Some((tx, task)) => {
                // Closing the channel ends the task, which hands back its upload session; the
                // last bytes go in the completing `PUT`.
                drop(tx);
                let session = self.handle.block_on(task).map_err(|e| {
                    target.upload_error("a layer", format!("the upload task failed: {e}"))
                })??;
                let len = last.len() as u64;
                self.handle.block_on(client.inner.finish_upload(
                    &target,
                    &session,
                    &digest,
                    Some(last),
                ))?;
                self.reporter.on_upload_progress(len);
                Ok(UploadedBlob {
                    digest,
                    size,
                    existed: false,
                })
            }
        }
    }

    /// Hands a full chunk to the uploader, starting it on the first one.
    fn send_chunk(&mut self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the upload failed earlier",
            ));
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(self.chunk_size),
        ));
        if self.uploader.is_none() {
            let (tx, rx) = mpsc::channel(QUEUE);
            let client = self.client.clone();
            let target = self.target.clone();
            let reporter = Arc::clone(&self.reporter);
            let task = self
                .handle
                .spawn(async move { client.upload_chunks(&target, rx, reporter.as_ref()).await });
            self.uploader = Some((tx, task));
        }
        let (tx, _) = self.uploader.as_ref().expect("started above");
        if tx.blocking_send(chunk).is_ok() {
            return Ok(());
        }
        // The task ended early: its error is why.
        self.failed = true;
        let (_, task) = self.uploader.take().expect("started above");
        let reason = match self.handle.block_on(task) {
            Ok(Err(e)) => e,
            Ok(Ok(_)) => self
                .target
                .upload_error("a layer", "the uploader stopped early"),
            Err(e) => self
                .target
                .upload_error("a layer", format!("the upload task failed: {e}")),
        };
        Err(io::Error::new(io::ErrorKind::BrokenPipe, reason))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = self.chunk_size - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        self.hasher.update(&data[..n]);
        self.size += n as u64;
        if self.buf.len() == self.chunk_size {
            self.send_chunk()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Client {
    /// The uploader task: opens the upload and `PATCH`es each chunk as it arrives; hands the
    /// session back when the channel closes.
    async fn upload_chunks(
        &self,
        target: &PushTarget,
        mut rx: mpsc::Receiver<Bytes>,
        reporter: &dyn Reporter,
    ) -> Result<UploadSession, RegistryError> {
        let mut session = self.inner.start_upload(target).await?;
        while let Some(chunk) = rx.recv().await {
            let len = chunk.len() as u64;
            self.inner.patch_chunk(target, &mut session, chunk).await?;
            reporter.on_upload_progress(len);
        }
        Ok(session)
    }
}
