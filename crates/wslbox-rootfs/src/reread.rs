//! Reading a layer again for the bodies that were left in it (`EntryKind::Reread`): the
//! archive is decoded and walked the same way as the first time, so entry numbers match, and
//! read to its end, so the opener's digest check runs again. Three threads: one reads (and
//! verifies) the blob, one decompresses, and the caller's parses and writes, so inflating
//! overlaps writing the output.

use std::io::{self, Read};
use std::sync::mpsc;

use wslbox_image::{BlobOpener, LayerDescriptor};

use crate::read::{ChannelReader, READ_AHEAD_CHUNKS, decoder, pump};

/// What [`replay`] does after a visit.
pub(crate) enum Visit {
    Next,
    /// Stop reading; the rest of the layer is not checked.
    Stop,
}

/// Walks every entry of `layer`, handing `visit` its number, its body and the body size its
/// header gives. The visitor may read the body or leave it.
pub(crate) fn replay(
    opener: &dyn BlobOpener,
    layer: &LayerDescriptor,
    visit: &mut dyn FnMut(u64, &mut dyn Read, u64) -> io::Result<Visit>,
) -> io::Result<()> {
    let raw = opener.open(layer)?;
    let compression = layer.compression;
    std::thread::scope(|scope| {
        let (tx, rx) = mpsc::sync_channel(READ_AHEAD_CHUNKS);
        scope.spawn(move || pump(raw, &tx, &|_| {}));
        let (decoded_tx, decoded_rx) = mpsc::sync_channel(READ_AHEAD_CHUNKS);
        scope.spawn(move || {
            let mut counted = ChannelReader::new(rx);
            if let Err(e) = decode_into(compression, &mut counted, &decoded_tx) {
                let _ = decoded_tx.send(Err(e));
            }
        });
        let mut archive = tar::Archive::new(ChannelReader::new(decoded_rx));
        for (index, entry) in archive.entries()?.enumerate() {
            let mut entry = entry?;
            let size = entry.size();
            if let Visit::Stop = visit(index as u64, &mut entry, size)? {
                return Ok(());
            }
        }
        // The rest carries any error of the layer's end: its trailer and its digest.
        io::copy(&mut archive.into_inner(), &mut io::sink())?;
        Ok(())
    })
}

/// Decompresses `raw` into chunks for `tx`, then reads the raw rest, so the verifying
/// opener's check at its end runs. Returns early when the receiver hangs up.
fn decode_into(
    compression: wslbox_image::Compression,
    raw: &mut dyn Read,
    tx: &mpsc::SyncSender<io::Result<Vec<u8>>>,
) -> io::Result<()> {
    let mut decoded = decoder(compression, raw)?;
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        let mut filled = 0;
        while filled < chunk.len() {
            match decoded.read(&mut chunk[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if filled == 0 {
            break;
        }
        chunk.truncate(filled);
        if tx.send(Ok(chunk)).is_err() {
            return Ok(());
        }
    }
    drop(decoded);
    io::copy(raw, &mut io::sink())?;
    Ok(())
}

/// The body of entry `entry` of `layer`, which has `len` bytes.
pub(crate) fn read_body(
    opener: &dyn BlobOpener,
    layer: &LayerDescriptor,
    entry: u64,
    len: u64,
) -> io::Result<Vec<u8>> {
    let mut body = None;
    replay(opener, layer, &mut |index, reader, size| {
        if index < entry {
            return Ok(Visit::Next);
        }
        check_size(layer, index, size, len)?;
        let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        reader.read_to_end(&mut bytes)?;
        body = Some(bytes);
        Ok(Visit::Stop)
    })?;
    body.ok_or_else(|| changed(layer, entry, "it has fewer entries"))
}

/// Fails unless the header size of entry `index` is the `len` the first reading found.
pub(crate) fn check_size(
    layer: &LayerDescriptor,
    index: u64,
    size: u64,
    len: u64,
) -> io::Result<()> {
    if size == len {
        return Ok(());
    }
    Err(changed(
        layer,
        index,
        &format!("that entry now holds {size} bytes, not {len}"),
    ))
}

pub(crate) fn changed(layer: &LayerDescriptor, entry: u64, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "layer {} changed while it was read a second time (entry {entry}: {why}); run the \
             command again",
            layer.digest
        ),
    )
}
