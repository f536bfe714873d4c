//! Phase 2: applies one parsed layer to the [`FlatTree`], reproducing what `umoci raw unpack`
//! does on a POSIX filesystem as root (umoci `oci/layer/tar_extract.go`, `UnpackEntry`).
//!
//! The image-spec rules implemented here (`layer.md`, "Applying Changesets" and "Whiteouts"):
//!
//! - "Whiteout files MUST only apply to resources in lower/parent layers. Files that are
//!   present in the same layer as a whiteout file can only be hidden by whiteout files in
//!   subsequent layers." — like umoci, we remember every path this layer created (and its
//!   ancestors: the "upper" paths) and a whiteout never removes those.
//! - "An opaque whiteout entry is a file with the name `.wh..wh..opq` indicating that all
//!   siblings are hidden in the lower layer." — the directory itself stays, with its metadata.
//! - "Hardlinks: ... the linked file MUST exist in the same or a lower layer": a link shares
//!   the target's inode, so a later overwrite or deletion of the target name leaves the link
//!   with the old content, exactly as on disk.
//! - "Modifications ... are represented as the complete file": a non-directory entry replaces
//!   whatever was at its path (`RemoveAll`, then create); a directory entry over an existing
//!   directory only updates its metadata and keeps its children.

use std::collections::HashSet;

use crate::error::FlattenError;
use crate::layer::{EntryKind, EntryMeta as Meta, LayerEntry, ParsedLayer, is_whiteout};
use crate::path::{components, join, split_last};
use crate::spool::BodyRef;
use crate::tree::{Data, FlatTree, InodeKind, LayerBody, NodeId, ROOT};

/// The opaque whiteout's file name (image-spec layer.md, "Opaque Whiteout").
pub(crate) const OPAQUE: &[u8] = b".wh..wh..opq";

/// Implicit parents are made by `MkdirAll(dir, 0777)` under the usual umask 022.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// A layer being applied entry by entry ([`FlatTree::apply_entries`]), for a layer streamed
/// while it is read.
pub(crate) struct Applying {
    label: String,
    spool: u32,
    whiteouts: bool,
    /// Paths this layer created, and their ancestors: its whiteouts never remove those.
    upper: HashSet<Vec<u8>>,
}

impl Applying {
    /// The index of the layer's spool, which its left bodies name as their layer.
    pub(crate) fn spool(&self) -> u32 {
        self.spool
    }
}

impl FlatTree {
    /// Applies the next layer on top of the tree (its entries in archive order); its spool
    /// file then belongs to the tree.
    pub fn apply(&mut self, layer: ParsedLayer) -> Result<(), FlattenError> {
        let mut applying = self.start_layer(&layer.label, layer.whiteouts);
        self.apply_entries(&mut applying, &layer.entries)?;
        self.finish_layer(applying, layer.spool);
        Ok(())
    }

    /// Starts applying the next layer; its spool file is handed over by
    /// [`Self::finish_layer`], and no other layer may be applied in between.
    pub(crate) fn start_layer(&mut self, label: &str, whiteouts: bool) -> Applying {
        Applying {
            label: label.to_owned(),
            spool: u32::try_from(self.spools.len()).expect("fewer than 2^32 layers"),
            whiteouts,
            upper: HashSet::new(),
        }
    }

    /// Applies the next entries of the layer being applied, in archive order.
    pub(crate) fn apply_entries(
        &mut self,
        applying: &mut Applying,
        entries: &[LayerEntry],
    ) -> Result<(), FlattenError> {
        for entry in entries {
            self.apply_entry(
                entry,
                applying.spool,
                applying.whiteouts,
                &mut applying.upper,
            )
            .map_err(|(unsafe_input, reason)| {
                let path = String::from_utf8_lossy(&entry.path).into_owned();
                let layer = applying.label.clone();
                if unsafe_input {
                    FlattenError::UnsafePath {
                        layer,
                        path,
                        reason,
                    }
                } else {
                    FlattenError::InvalidEntry {
                        layer,
                        path,
                        reason,
                    }
                }
            })?;
        }
        Ok(())
    }

    /// The layer being applied is complete; `spool` holds its spooled bodies.
    pub(crate) fn finish_layer(&mut self, applying: Applying, spool: std::fs::File) {
        assert_eq!(
            applying.spool as usize,
            self.spools.len(),
            "layers are applied one after the other"
        );
        self.spools.push(spool);
    }

    /// A tree made of `layers`, bottom first.
    pub fn from_layers(
        layers: impl IntoIterator<Item = ParsedLayer>,
    ) -> Result<FlatTree, FlattenError> {
        let mut tree = FlatTree::new();
        for layer in layers {
            tree.apply(layer)?;
        }
        Ok(tree)
    }

    /// Errors are `(is_unsafe, reason)`.
    fn apply_entry(
        &mut self,
        e: &LayerEntry,
        spool: u32,
        whiteouts: bool,
        upper: &mut HashSet<Vec<u8>>,
    ) -> Result<(), (bool, String)> {
        let invalid = |r: &str| (false, r.to_owned());
        if e.path.is_empty() {
            // An entry for the root itself (`./`, `/`): only its metadata can change.
            if e.kind != EntryKind::Dir {
                return Err(invalid("refusing to change the type of the root directory"));
            }
            let inode = self.nodes[ROOT as usize].inode;
            self.inodes[inode as usize].meta = e.meta.clone();
            return Ok(());
        }
        let (unsafe_dir, file) = split_last(&e.path);
        let dir = self.resolve(unsafe_dir).map_err(invalid)?;

        if whiteouts && is_whiteout(&e.path) {
            self.whiteout(&dir, file, upper);
            return Ok(());
        }

        let full = join(&dir, file);
        let existing = self.lookup_lexical(&full);
        let parent = self.mkdir_all(&dir, e.meta.mtime).map_err(invalid)?;
        let keep_dir = existing.is_some_and(|n| self.nodes[n as usize].children.is_some())
            && e.kind == EntryKind::Dir;
        if existing.is_some() && !keep_dir {
            self.remove(&full);
        }

        let meta = e.meta.clone();
        let inode = match &e.kind {
            EntryKind::File { offset, len } => self.new_inode(
                InodeKind::File(Data::Spool(BodyRef {
                    spool,
                    offset: *offset,
                    len: *len,
                })),
                meta,
            ),
            EntryKind::Reread { entry, len } => self.new_inode(
                InodeKind::File(Data::Layer(LayerBody {
                    layer: spool,
                    entry: *entry,
                    len: *len,
                })),
                meta,
            ),
            EntryKind::Dir => {
                if let Some(node) = existing.filter(|_| keep_dir) {
                    let inode = self.nodes[node as usize].inode;
                    self.inodes[inode as usize].meta = meta;
                    mark_upper(upper, &full);
                    return Ok(());
                }
                self.new_inode(InodeKind::Dir, meta)
            }
            EntryKind::Symlink(target) => self.new_inode(InodeKind::Symlink(target.clone()), meta),
            EntryKind::Char(ma, mi) => self.new_inode(InodeKind::Char(*ma, *mi), meta),
            EntryKind::Block(ma, mi) => self.new_inode(InodeKind::Block(*ma, *mi), meta),
            EntryKind::Fifo => self.new_inode(InodeKind::Fifo, meta),
            EntryKind::Hardlink(target) => {
                // The link's own header metadata is ignored: a hardlink is another name for
                // the target's inode (umoci applies no metadata to TypeLink entries).
                if target.is_empty() {
                    return Err(invalid("a hardlink cannot point at the root directory"));
                }
                let (tdir, tfile) = split_last(target);
                let tdir = self.resolve(tdir).map_err(invalid)?;
                let Some(tnode) = self.lookup_lexical(&join(&tdir, tfile)) else {
                    return Err((
                        true,
                        format!(
                            "the hardlink target `{}` does not exist in this or a lower layer",
                            String::from_utf8_lossy(target)
                        ),
                    ));
                };
                if self.nodes[tnode as usize].children.is_some() {
                    return Err(invalid("a hardlink cannot point at a directory"));
                }
                self.nodes[tnode as usize].inode
            }
        };
        self.insert(parent, file, inode);
        mark_upper(upper, &full);
        Ok(())
    }

    /// Creates the missing directories of a resolved path; returns the last one.
    fn mkdir_all(&mut self, dir: &[u8], mtime: i64) -> Result<NodeId, &'static str> {
        let mut node = ROOT;
        for c in components(dir) {
            node = match self.child(node, c) {
                Some(n) if self.nodes[n as usize].children.is_some() => n,
                Some(_) => return Err("a parent of this path is not a directory"),
                None => {
                    let meta = Meta {
                        mode: IMPLICIT_DIR_MODE,
                        mtime,
                        ..Meta::default()
                    };
                    let inode = self.new_inode(InodeKind::Dir, meta);
                    self.insert(node, c, inode)
                }
            };
        }
        Ok(node)
    }

    /// Applies the whiteout `file` (`.wh.NAME` or `.wh..wh..opq`) in the resolved `dir`:
    /// removes everything at the target that this layer did not create, walking into paths it
    /// did create (an opaque whiteout never removes the directory itself).
    fn whiteout(&mut self, dir: &[u8], file: &[u8], upper: &HashSet<Vec<u8>>) {
        let opaque = file == OPAQUE;
        let name = &file[4..];
        let target = if opaque {
            dir.to_vec()
        } else {
            join(dir, name)
        };
        let Some(top) = self.lookup_lexical(&target) else {
            return;
        };
        // `.wh.` alone names its directory; for the root that can only mean its children.
        let keep_top = opaque || top == ROOT;
        let mut stack = vec![(target, top, true)];
        while let Some((path, node, is_top)) = stack.pop() {
            let keep = upper.contains(&path) || (is_top && keep_top);
            if !keep {
                self.remove(&path);
                continue;
            }
            if let Some(children) = &self.nodes[node as usize].children {
                for (child_name, &child) in children {
                    stack.push((join(&path, child_name), child, false));
                }
            }
        }
    }
}

/// Records a path this layer wrote, and its ancestors.
fn mark_upper(upper: &mut HashSet<Vec<u8>>, path: &[u8]) {
    let mut p = path;
    loop {
        if !upper.insert(p.to_vec()) {
            return; // its ancestors are already there
        }
        if p.is_empty() {
            return;
        }
        p = split_last(p).0;
    }
}
