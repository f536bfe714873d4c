//! One sequential pass over a `podman save` / `docker save` archive.
//!
//! Members come in whatever order the engine writes them: podman puts the layers first and
//! `manifest.json` last; Docker 20.10 writes `<v1 id>/layer.tar` directories in lexical (not
//! layer) order; Docker 25+ writes `blobs/sha256/<hex>` in hex order, then `index.json` and
//! `manifest.json`. So nothing can wait for the manifest: every member that looks like a
//! layer (compressed, or a tar header) is parsed at once into a [`ParsedLayer`] — its file
//! bodies go to the spool the flattener needs anyway — while its raw bytes are hashed; small
//! members (JSON documents) are kept in memory; links between members are remembered. Which
//! member is which is decided afterwards (`assemble`).

use std::collections::HashMap;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use wslbox_image::Compression;
use wslbox_image::layout::{link_destination, member_path};
use wslbox_reference::{Algorithm, Digest, Hasher};
use wslbox_rootfs::{FlattenError, LayerBuilder, LayerOptions, ParsedLayer};

use crate::Reporter;

/// Members up to this size that are not layers are kept in memory: manifests, configs,
/// `repositories`, legacy `json` files. (The same bound as local layouts use.)
pub(crate) const MAX_SMALL: u64 = 16 << 20;

const CHUNK: usize = 256 << 10;

/// A member parsed as a layer while it streamed by.
pub(crate) struct StreamedLayer {
    /// sha256 of the member as stored.
    pub digest: Digest,
    pub size: u64,
    pub compression: Compression,
    /// The parsed layer, or why it did not parse (reported only if the digest is right).
    pub parsed: Result<ParsedLayer, FlattenError>,
}

/// A regular-file member of the archive.
pub(crate) enum Member {
    Layer(StreamedLayer),
    /// A small member, whole.
    Small(Vec<u8>),
    /// A large member that is not a tar, passed over.
    Skipped,
}

/// What a pass over the archive collected, by normalized member path.
#[derive(Default)]
pub(crate) struct Collected {
    pub members: HashMap<String, Member>,
    /// Symlinks (relative to their directory) and hardlinks (from the archive root).
    pub links: HashMap<String, (bool, String)>,
}

/// Why a pass stopped.
pub(crate) enum StreamError {
    /// The reporter asked to stop.
    Interrupted,
    /// The archive stream itself is unreadable or malformed (the engine may have died).
    Archive(io::Error),
    /// A layer could not even be started (spool directory).
    Flatten(FlattenError),
}

/// Reads `input` to its end. `what` names the source in layer labels; `cancel` is set (and
/// the pass stops) once `reporter.cancelled()`.
pub(crate) fn collect(
    input: impl Read,
    what: &str,
    spool_dir: &Path,
    reporter: &dyn Reporter,
    cancel: &AtomicBool,
) -> Result<Collected, StreamError> {
    let mut reader = BufReader::with_capacity(CHUNK, input);
    let mut collected = Collected::default();
    let mut layer_index = 0;
    {
        let mut archive = tar::Archive::new(&mut reader);
        for entry in archive.entries().map_err(StreamError::Archive)? {
            let mut entry = entry.map_err(StreamError::Archive)?;
            let path = member_path(&String::from_utf8_lossy(&entry.path_bytes()));
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name_bytes() {
                        let target = String::from_utf8_lossy(&target).into_owned();
                        collected
                            .links
                            .insert(path, (kind == tar::EntryType::Link, target));
                    }
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            let mut head = vec![0u8; 512.min(size as usize)];
            entry.read_exact(&mut head).map_err(StreamError::Archive)?;
            let member = if looks_like_layer(&head) {
                let label = format!("layer `{path}` of {what}");
                let layer = stream_layer(
                    head,
                    &mut entry,
                    size,
                    LayerBuilder::new(label, spool_dir, LayerOptions::image_layer())
                        .map_err(StreamError::Flatten)?,
                    layer_index,
                    reporter,
                    cancel,
                )?;
                if let Ok(parsed) = &layer.parsed {
                    reporter.layer_finished(layer_index, parsed.len() as u64);
                }
                layer_index += 1;
                Member::Layer(layer)
            } else if size <= MAX_SMALL {
                let mut bytes = head;
                entry
                    .read_to_end(&mut bytes)
                    .map_err(StreamError::Archive)?;
                Member::Small(bytes)
            } else {
                skip(&mut entry, reporter, cancel)?;
                Member::Skipped
            };
            collected.members.insert(path, member);
        }
    }
    // Whatever follows the end-of-archive blocks is read too, so the engine never blocks on
    // a full pipe and its exit status is the real one.
    io::copy(&mut reader, &mut io::sink()).map_err(StreamError::Archive)?;
    Ok(collected)
}

/// A layer: gzip/zstd/xz/bzip2 magic, a ustar header, or an empty tar (zero blocks).
fn looks_like_layer(head: &[u8]) -> bool {
    Compression::sniff(head) != Compression::None
        || (head.len() >= 262 && &head[257..262] == b"ustar")
        || (head.len() == 512 && head.iter().all(|b| *b == 0))
}

/// Parses one member on a scoped thread while this one feeds it and hashes the raw bytes. A
/// parse error does not stop the pass: the rest of the member is still hashed, so that a
/// corrupt member is reported by its digest, the root cause, once the manifest is known.
fn stream_layer(
    head: Vec<u8>,
    entry: &mut dyn Read,
    size: u64,
    builder: LayerBuilder,
    index: usize,
    reporter: &dyn Reporter,
    cancel: &AtomicBool,
) -> Result<StreamedLayer, StreamError> {
    let compression = Compression::sniff(&head);
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let progress = |bytes| reporter.layer_progress(index, bytes);
    let parsed = std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(8);
        let parser = scope.spawn(|| {
            let raw = Box::new(ChunkReader {
                rx,
                chunk: Vec::new(),
                pos: 0,
            });
            wslbox_rootfs::read_tar(raw, compression, builder, &progress, cancel)
        });
        hasher.update(&head);
        let mut feeding = tx.send(head).is_ok();
        let fed = loop {
            if reporter.cancelled() {
                cancel.store(true, Ordering::Relaxed);
                break Err(StreamError::Interrupted);
            }
            let mut buf = vec![0u8; CHUNK];
            let n = match entry.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => break Err(StreamError::Archive(e)),
            };
            buf.truncate(n);
            hasher.update(&buf);
            // Once the parser gave up, only the hash goes on.
            feeding = feeding && tx.send(buf).is_ok();
        };
        drop(tx);
        if fed.is_err() {
            cancel.store(true, Ordering::Relaxed);
        }
        let parsed = parser.join().expect("the layer parser does not panic");
        fed.map(|()| parsed)
    })?;
    Ok(StreamedLayer {
        digest: hasher.finish(),
        size,
        compression,
        parsed,
    })
}

fn skip(
    input: &mut dyn Read,
    reporter: &dyn Reporter,
    cancel: &AtomicBool,
) -> Result<(), StreamError> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        if reporter.cancelled() {
            cancel.store(true, Ordering::Relaxed);
            return Err(StreamError::Interrupted);
        }
        match input.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(StreamError::Archive(e)),
        }
    }
}

/// The raw bytes of one member, as the layer parser's input.
struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl Read for ChunkReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.chunk.len() {
            match self.rx.recv() {
                Ok(chunk) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len() - self.pos);
        buf[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl Collected {
    /// The member `path` names, following links (legacy archives link repeated layers).
    pub fn resolve(&self, path: &str) -> Option<(&str, &Member)> {
        let mut current = member_path(path);
        for _ in 0..16 {
            if let Some((key, member)) = self.members.get_key_value(&current) {
                return Some((key.as_str(), member));
            }
            let (hard, target) = self.links.get(&current)?;
            current = link_destination(&current, target, *hard);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_are_told_from_documents_by_their_first_bytes() {
        let mut tar_head = vec![0u8; 512];
        tar_head[257..262].copy_from_slice(b"ustar");
        assert!(looks_like_layer(&tar_head));
        assert!(looks_like_layer(&[0u8; 512]), "an empty tar");
        assert!(looks_like_layer(&[0x1f, 0x8b, 8, 0]));
        assert!(!looks_like_layer(br#"{"schemaVersion":2}"#));
        assert!(!looks_like_layer(&[0u8; 20]), "too short for a tar");
    }

    #[test]
    fn links_between_members_are_followed() {
        let mut c = Collected::default();
        c.members
            .insert("abc.tar".into(), Member::Small(b"x".to_vec()));
        c.links
            .insert("v1/layer.tar".into(), (false, "../abc.tar".into()));
        c.links
            .insert("v2/layer.tar".into(), (true, "v1/layer.tar".into()));
        assert_eq!(c.resolve("./v2/layer.tar").unwrap().0, "abc.tar");
        assert!(c.resolve("missing.tar").is_none());
        c.links.insert("loop".into(), (true, "loop".into()));
        assert!(c.resolve("loop").is_none());
    }
}
