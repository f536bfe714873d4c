//! Rootfs tarballs: `tarball:FILE`, `tarball:URL`, `tarball:-`. One layer without whiteout
//! semantics, compression sniffed from the first bytes, paths mapped by `--strip-components`
//! or `--subdir`. The sha256 is computed while the bytes stream by; with `--sha256` or
//! `--sha256-url` it must match, and a download is then kept in the cache under that digest
//! and read from there next time.

use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use wslbox_cache::{Acquired, BlobStore, BlobWriter};
use wslbox_image::Compression;
use wslbox_reference::{Algorithm, Digest, Hasher};
use wslbox_rootfs::{FlatTree, FlattenOptions, LayerBuilder, LayerOptions};

use crate::checksum::expected_sha256;
use crate::registry::client;
use crate::{
    Flattened, OpenOptions, Reporter, Source, SourceError, SourceInfo, SourceKind, TarballLocation,
};

pub(crate) fn open(
    location: &TarballLocation,
    opts: &OpenOptions,
) -> Result<Box<dyn Source>, SourceError> {
    let reference = match location {
        TarballLocation::File(path) => {
            let absolute = std::path::absolute(path).map_err(|source| SourceError::Io {
                what: format!("rootfs tarball {}", path.display()),
                source,
            })?;
            crate::spec::check_is_file(&absolute, "a rootfs tarball")?;
            format!("tarball:{}", absolute.display())
        }
        // The name printed, recorded and pushed as a label: no user info, no signed query.
        TarballLocation::Url(url) => format!("tarball:{}", wslbox_registry::redact_url(url)),
        TarballLocation::Stdin => match &opts.stdin {
            Some(stream) => stream.name.clone(),
            None => "tarball:-".into(),
        },
    };
    Ok(Box::new(TarballSource {
        info: SourceInfo::new(SourceKind::Tarball, reference),
        location: location.clone(),
        opts: opts.clone(),
    }))
}

/// The bytes to read, the cache writer a verified download goes to, and whether they come
/// from the cache.
type Raw = (Box<dyn Read + Send>, Option<Box<BlobWriter>>, bool);

/// The digest of everything read, and the cache writer, once the stream ended.
type HashResult = Arc<Mutex<Option<(Digest, u64, Option<Box<BlobWriter>>)>>>;

struct TarballSource {
    info: SourceInfo,
    location: TarballLocation,
    opts: OpenOptions,
}

impl TarballSource {
    /// What errors call it: `rootfs tarball https://…/rootfs.tar.xz`.
    fn label(&self) -> String {
        format!(
            "rootfs tarball {}",
            self.info.reference.trim_start_matches("tarball:")
        )
    }

    /// The raw bytes, from the cache when a verified copy is there.
    fn raw(&self, expected: Option<&Digest>, store: &BlobStore) -> Result<Raw, SourceError> {
        let io_err = |source| SourceError::Io {
            what: self.label(),
            source,
        };
        match &self.location {
            TarballLocation::File(path) => {
                let file = fs_err::File::open(path).map_err(io_err)?;
                Ok((Box::new(file), None, false))
            }
            TarballLocation::Stdin => match &self.opts.stdin {
                Some(stream) => match stream.take() {
                    Some(reader) => Ok((reader, None, false)),
                    None => Err(io_err(io::Error::other(format!(
                        "{} can be read only once",
                        stream.name
                    )))),
                },
                None => Ok((Box::new(io::stdin()), None, false)),
            },
            TarballLocation::Url(url) => {
                let writer = match expected {
                    Some(digest) => match store.acquire(digest, None)? {
                        Acquired::Cached(path) => {
                            let file = fs_err::File::open(path).map_err(io_err)?;
                            return Ok((Box::new(file), None, true));
                        }
                        Acquired::Write(writer) => Some(writer),
                    },
                    None => None,
                };
                let reader = client(&self.opts)?.open_url(url)?;
                Ok((Box::new(reader), writer, false))
            }
        }
    }
}

impl Source for TarballSource {
    fn info(&self) -> &SourceInfo {
        &self.info
    }

    fn flatten(
        self: Box<Self>,
        opts: &FlattenOptions,
        reporter: &Arc<dyn Reporter>,
    ) -> Result<Flattened, SourceError> {
        let label = self.label();
        let expected = match &self.opts.checksum {
            Some(checksum) => Some(expected_sha256(checksum, &self.location, &self.opts)?),
            None => None,
        };
        if expected.is_none() && matches!(self.location, TarballLocation::Url(_)) {
            reporter.warn(&format!(
                "nothing verified the content of {}: pass --sha256 HEX or --sha256-url URL (distributions publish SHA256SUMS next to their tarballs)",
                self.info.reference.trim_start_matches("tarball:")
            ));
        }
        let store = BlobStore::open(&self.opts.cache_dir)?;
        let (raw, cache, from_cache) = self.raw(expected.as_ref(), &store)?;
        let result = Arc::new(Mutex::new(None));
        let hashing = Hashing {
            inner: raw,
            hasher: Some(Hasher::new(Algorithm::Sha256)),
            bytes: 0,
            cache,
            result: Arc::clone(&result),
        };
        let (compression, stream) = sniff(Box::new(hashing), &label)?;

        reporter.flatten_started(1);
        let builder = LayerBuilder::new(
            label.clone(),
            &opts.spool_dir,
            LayerOptions::rootfs(self.opts.paths.clone()),
        )?;
        let progress = |bytes| reporter.layer_progress(0, bytes);
        let cancel = AtomicBool::new(false);
        let read = wslbox_rootfs::read_tar(stream, compression, builder, &progress, &cancel);
        let outcome = result.lock().expect("hash result").take();
        let (actual, size, cache) = match outcome {
            Some(done) => done,
            // The stream failed before its end: the read error says why.
            None => return Err(read.err().map_or(SourceError::DownloadThread, Into::into)),
        };
        if let Some(expected) = &expected
            && *expected != actual
        {
            if let Some(writer) = cache {
                writer.discard()?;
            }
            if from_cache {
                // Damaged on disk since it was verified: drop it so the next run downloads.
                store.remove(expected)?;
            }
            return Err(SourceError::Checksum {
                what: label,
                expected: expected.clone(),
                actual,
            });
        }
        let layer = read?;
        reporter.layer_finished(0, layer.len() as u64);
        if let Some(writer) = cache {
            // Verified above; the store checks the digest once more as it commits.
            writer.commit()?;
        }
        let tree = FlatTree::from_layers([layer])?;
        let mut info = self.info;
        info.sha256 = Some(actual);
        info.size = Some(size);
        info.checksum_verified = expected.is_some();
        Ok(Flattened { tree, info })
    }
}

/// Hashes, counts (and optionally caches) the bytes as they stream by; at EOF leaves the
/// digest, the size and the cache writer in `result`.
struct Hashing {
    inner: Box<dyn Read + Send>,
    hasher: Option<Hasher>,
    bytes: u64,
    cache: Option<Box<BlobWriter>>,
    result: HashResult,
}

impl Read for Hashing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let Some(hasher) = self.hasher.as_mut() else {
            return Ok(n);
        };
        if n > 0 {
            hasher.update(&buf[..n]);
            self.bytes += n as u64;
            if let Some(writer) = self.cache.as_mut() {
                writer.write_chunk(&buf[..n]).map_err(io::Error::other)?;
            }
            return Ok(n);
        }
        let digest = self.hasher.take().expect("present").finish();
        *self.result.lock().expect("hash result") = Some((digest, self.bytes, self.cache.take()));
        Ok(0)
    }
}

/// Reads the first bytes to tell the compression; a plain stream must look like a tar.
fn sniff(
    mut raw: Box<dyn Read + Send>,
    label: &str,
) -> Result<(Compression, Box<dyn Read + Send>), SourceError> {
    let mut head = vec![0u8; 512];
    let mut n = 0;
    while n < head.len() {
        match raw.read(&mut head[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(SourceError::Io {
                    what: label.to_owned(),
                    source,
                });
            }
        }
    }
    head.truncate(n);
    let compression = Compression::sniff(&head);
    if compression == Compression::None && !crate::spec::is_tar_head(&head) {
        let hint = if head.starts_with(crate::spec::SQUASHFS_MAGIC) {
            "; it is a SquashFS image: use squashfs:FILE"
        } else {
            ""
        };
        return Err(SourceError::NotA {
            what: label.to_owned(),
            expected: "a tar archive (plain, gzip, xz, zstd or bzip2)",
            reason: format!("{}{hint}", crate::spec::describe_head(&head)),
        });
    }
    Ok((compression, Box::new(io::Cursor::new(head).chain(raw))))
}

/// The file name a `SHA256SUMS` list names the tarball by.
pub(crate) fn file_name(location: &TarballLocation) -> Option<String> {
    match location {
        TarballLocation::File(path) => Some(base_name(path)),
        TarballLocation::Url(url) => url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        TarballLocation::Stdin => None,
    }
}

fn base_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
