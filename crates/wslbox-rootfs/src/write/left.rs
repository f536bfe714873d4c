//! The second part of the tar stream: bodies that stayed in their layers, written as each
//! layer is read again, in layer order and then archive order. Every other name of such an
//! inode follows its body as a hardlink entry, so links still come after their targets, and
//! every directory came before, in the tree walk.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read};

use super::{CopyError, Kind, TarWriter, copy_body};
use crate::error::{OutputError, show};
use crate::report::Reporter;
use crate::reread::{Visit, changed, check_size, replay};
use crate::tree::{Data, FlatTree, InodeId, InodeKind};

/// The inodes whose body stayed in a layer, found during the tree walk.
#[derive(Default)]
pub(super) struct Left {
    /// By (layer, entry): usually one inode; more when customization copied the file.
    by_body: BTreeMap<(u32, u64), Vec<InodeId>>,
    /// Each such inode's names, in tree order.
    names: HashMap<InodeId, Vec<Vec<u8>>>,
}

impl Left {
    /// Takes the name `path` of `inode` if its body is in a layer.
    pub fn take(&mut self, tree: &FlatTree, inode: InodeId, path: &[u8]) -> bool {
        let InodeKind::File(Data::Layer(body)) = tree.inodes[inode as usize].kind else {
            return false;
        };
        let names = self.names.entry(inode).or_default();
        if names.is_empty() {
            self.by_body
                .entry((body.layer, body.entry))
                .or_default()
                .push(inode);
        }
        names.push(path.to_vec());
        true
    }

    /// Reads each layer with bodies left in it again and writes them; returns the entries
    /// written.
    pub fn write(
        self,
        tree: &FlatTree,
        w: &mut TarWriter<'_>,
        reporter: &dyn Reporter,
    ) -> Result<u64, OutputError> {
        if self.by_body.is_empty() {
            return Ok(0);
        }
        let reread = (tree.reread.as_ref())
            .expect("bodies are left in layers only by a flatten that can read them again");
        let mut entries = 0;
        let mut layers: BTreeMap<u32, Vec<(u64, &[InodeId])>> = BTreeMap::new();
        for (&(layer, entry), inodes) in &self.by_body {
            layers.entry(layer).or_default().push((entry, inodes));
        }
        for (layer, wanted) in layers {
            let descriptor = &reread.layers[layer as usize];
            let mut wanted = wanted.into_iter().peekable();
            let mut failed = None;
            let result = replay(&*reread.opener, descriptor, &mut |index, body, size| {
                if wanted.peek().is_none_or(|&(entry, _)| entry != index) {
                    return Ok(Visit::Next);
                }
                let (_, inodes) = wanted.next().expect("peeked");
                let len = tree.data_len(tree.inodes[inodes[0] as usize].kind_data());
                check_size(descriptor, index, size, len)?;
                match self.write_body(tree, inodes, body, len, w, reporter) {
                    Ok(n) => {
                        entries += n;
                        Ok(Visit::Next)
                    }
                    Err(e) => {
                        failed = Some(e);
                        Err(io::Error::other("the output failed"))
                    }
                }
            });
            if let Some(e) = failed {
                return Err(e);
            }
            let layer_err = |source| OutputError::Layer {
                layer: descriptor.digest.to_string(),
                source,
            };
            result.map_err(layer_err)?;
            if let Some((entry, _)) = wanted.next() {
                return Err(layer_err(changed(
                    descriptor,
                    entry,
                    "it has fewer entries",
                )));
            }
        }
        Ok(entries)
    }

    /// One body under the first name of each inode sharing it, then the other names as links.
    fn write_body(
        &self,
        tree: &FlatTree,
        inodes: &[InodeId],
        body: &mut dyn Read,
        len: u64,
        w: &mut TarWriter<'_>,
        reporter: &dyn Reporter,
    ) -> Result<u64, OutputError> {
        let cancel = || reporter.cancelled();
        // Copies of one body (rare: customization copying a big file) come from memory.
        let shared = if inodes.len() > 1 {
            let mut bytes = Vec::new();
            body.read_to_end(&mut bytes)
                .map_err(|source| read_err(self, inodes[0], source))?;
            Some(bytes)
        } else {
            None
        };
        let mut entries = 0;
        for &inode in inodes {
            let names = &self.names[&inode];
            let meta = &tree.inodes[inode as usize].meta;
            let before = w.bytes;
            w.header(&names[0], meta, Kind::File, len).map_err(io_err)?;
            let copied = match &shared {
                Some(bytes) => copy_body(&mut &bytes[..], w, &cancel),
                None => copy_body(body, w, &cancel),
            }
            .map_err(|e| match e {
                CopyError::Read(source) => read_err(self, inode, source),
                CopyError::Write(source) => io_err(source),
                CopyError::Cancelled => OutputError::Interrupted,
            })?;
            if copied != len {
                let short = io::Error::new(io::ErrorKind::UnexpectedEof, "the body is short");
                return Err(read_err(self, inode, short));
            }
            w.pad(len).map_err(io_err)?;
            reporter.output_progress(1, w.bytes - before);
            entries += 1;
            for name in &names[1..] {
                let before = w.bytes;
                w.header(name, meta, Kind::Hardlink(&names[0]), 0)
                    .map_err(io_err)?;
                reporter.output_progress(1, w.bytes - before);
                entries += 1;
            }
        }
        Ok(entries)
    }
}

fn io_err(source: io::Error) -> OutputError {
    OutputError::Io {
        dest: "the output".to_owned(),
        source,
    }
}

fn read_err(left: &Left, inode: InodeId, source: io::Error) -> OutputError {
    OutputError::Spool {
        path: show(&left.names[&inode][0]),
        source,
    }
}
