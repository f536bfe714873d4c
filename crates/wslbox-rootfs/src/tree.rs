//! The in-memory model of the flattened tree: directory nodes keyed by name, non-directory
//! names pointing at shared inodes (so hardlink groups are exact), file bodies referenced in
//! the layer spools or, for overlays, held in memory (they are small config files).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use wslbox_image::{BlobOpener, LayerDescriptor};

use crate::error::{FlattenError, show};
use crate::layer::EntryMeta as Meta;
use crate::path::{components, join, normalize, split_last};
use crate::spool::{BodyReader, BodyRef};
use crate::{NodeInfo, NodeKind, Overlay, OverlayContent, TreeView};

pub(crate) type NodeId = u32;
pub(crate) type InodeId = u32;

/// Linux gives up resolving after this many symlinks (ELOOP); so does securejoin in umoci.
const MAX_SYMLINKS: u32 = 255;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Data {
    Spool(BodyRef),
    /// Index into [`FlatTree::mem`].
    Mem(u32),
    /// Left in the layer, read again from [`FlatTree::reread`] for the output.
    Layer(LayerBody),
}

/// A body in a layer: the `entry`-th archive entry of layer `layer` (the index of the layer
/// in [`Reread::layers`], as of its spool in [`FlatTree::spools`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LayerBody {
    pub layer: u32,
    pub entry: u64,
    pub len: u64,
}

/// Where the bodies left in their layers are read again.
pub(crate) struct Reread {
    pub opener: Arc<dyn BlobOpener>,
    pub layers: Vec<LayerDescriptor>,
}

impl std::fmt::Debug for Reread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reread")
            .field("layers", &self.layers.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InodeKind {
    Dir,
    File(Data),
    Symlink(Vec<u8>),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

#[derive(Debug, Clone)]
pub(crate) struct Inode {
    pub kind: InodeKind,
    pub meta: Meta,
}

impl Inode {
    /// The body of a regular file.
    pub fn kind_data(&self) -> Data {
        match self.kind {
            InodeKind::File(data) => data,
            _ => unreachable!("only regular files have a body"),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Node {
    pub inode: InodeId,
    /// `Some` exactly for directories.
    pub children: Option<BTreeMap<Vec<u8>, NodeId>>,
}

/// The flattened root filesystem: the result of [`crate::flatten`], input of
/// [`crate::write_output`], readable through [`TreeView`].
#[derive(Debug)]
pub struct FlatTree {
    pub(crate) nodes: Vec<Node>,
    pub(crate) inodes: Vec<Inode>,
    /// One spool file per layer, indexed by [`BodyRef::spool`].
    pub(crate) spools: Vec<File>,
    pub(crate) mem: Vec<Vec<u8>>,
    /// Set when some bodies were left in their layers.
    pub(crate) reread: Option<Reread>,
    /// Files whose entry the output already holds, written while their layer was read
    /// (`stream`): node → its path.
    pub(crate) streamed: HashMap<NodeId, Vec<u8>>,
    /// The first streamed path that a later change removed or replaced: the output cannot
    /// take it back, so writing the rest fails ([`crate::OutputError::Streamed`]).
    pub(crate) stream_conflict: Option<Vec<u8>>,
}

pub(crate) const ROOT: NodeId = 0;

impl Default for FlatTree {
    fn default() -> Self {
        Self::new()
    }
}

impl FlatTree {
    /// An empty root directory, as umoci creates it: 0755, owned by root, mtime the epoch.
    /// An empty tree: just the root directory.
    pub fn new() -> Self {
        let root = Inode {
            kind: InodeKind::Dir,
            meta: Meta {
                mode: 0o755,
                ..Meta::default()
            },
        };
        Self {
            nodes: vec![Node {
                inode: 0,
                children: Some(BTreeMap::new()),
            }],
            inodes: vec![root],
            spools: Vec::new(),
            mem: Vec::new(),
            reread: None,
            streamed: HashMap::new(),
            stream_conflict: None,
        }
    }

    /// Bytes of file content reachable from the root, each hard-linked body counted once:
    /// the size the image store records for a root filesystem.
    pub fn content_bytes(&self) -> u64 {
        let mut seen = vec![false; self.inodes.len()];
        let mut stack = vec![ROOT];
        let mut total = 0;
        while let Some(node) = stack.pop() {
            let node = &self.nodes[node as usize];
            if let Some(children) = &node.children {
                stack.extend(children.values().copied());
            }
            let inode = node.inode as usize;
            if std::mem::replace(&mut seen[inode], true) {
                continue;
            }
            total += match &self.inodes[inode].kind {
                InodeKind::File(data) => self.data_len(*data),
                _ => 0,
            };
        }
        total
    }

    pub(crate) fn inode_of(&self, node: NodeId) -> &Inode {
        &self.inodes[self.nodes[node as usize].inode as usize]
    }

    pub(crate) fn child(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        self.nodes[dir as usize]
            .children
            .as_ref()?
            .get(name)
            .copied()
    }

    /// The node at a path, following no symlinks at all.
    pub(crate) fn lookup_lexical(&self, path: &[u8]) -> Option<NodeId> {
        components(path).try_fold(ROOT, |node, c| self.child(node, c))
    }

    /// Resolves every symlink in `path` inside the root, as securejoin does for umoci: `..`
    /// stops at the root, absolute targets restart at the root, and components that do not
    /// exist (or sit below a non-directory) are kept as they are.
    pub(crate) fn resolve(&self, path: &[u8]) -> Result<Vec<u8>, &'static str> {
        let mut queue: std::collections::VecDeque<Vec<u8>> =
            components(path).map(<[u8]>::to_vec).collect();
        let mut resolved: Vec<Vec<u8>> = Vec::new();
        let mut node = Some(ROOT);
        let mut links = 0;
        while let Some(c) = queue.pop_front() {
            match &c[..] {
                b"." => continue,
                b".." => {
                    resolved.pop();
                    node = self.lookup_lexical(&resolved.join(&b'/'));
                    continue;
                }
                _ => {}
            }
            let next = node.and_then(|n| self.child(n, &c));
            match next.map(|n| (n, &self.inode_of(n).kind)) {
                Some((_, InodeKind::Symlink(target))) => {
                    links += 1;
                    if links > MAX_SYMLINKS {
                        return Err("too many levels of symbolic links");
                    }
                    if target.starts_with(b"/") {
                        resolved.clear();
                        node = Some(ROOT);
                    }
                    for t in components(target).collect::<Vec<_>>().into_iter().rev() {
                        queue.push_front(t.to_vec());
                    }
                }
                Some((n, InodeKind::Dir)) => {
                    resolved.push(c);
                    node = Some(n);
                }
                _ => {
                    resolved.push(c);
                    node = None;
                }
            }
        }
        Ok(resolved.join(&b'/'))
    }

    /// The node at `path` with symlinks in its parent resolved, the last component not followed.
    fn lookup_nofollow(&self, path: &[u8]) -> Option<(Vec<u8>, NodeId)> {
        let path = normalize(path).ok()?;
        if path.is_empty() {
            return Some((path, ROOT));
        }
        let (parent, name) = split_last(&path);
        let full = join(&self.resolve(parent).ok()?, name);
        let node = self.lookup_lexical(&full)?;
        Some((full, node))
    }

    /// Detaches the node at a (resolved) path, with everything below it. Every removal and
    /// replacement comes through here, so this is where a streamed file that does not
    /// survive is noticed.
    pub(crate) fn remove(&mut self, path: &[u8]) {
        let (parent, name) = split_last(path);
        if let Some(p) = self.lookup_lexical(parent)
            && let Some(children) = self.nodes[p as usize].children.as_mut()
            && let Some(gone) = children.remove(name)
            && !self.streamed.is_empty()
            && self.stream_conflict.is_none()
        {
            self.stream_conflict = self.streamed_below(gone);
        }
    }

    /// The path of a streamed file at or below `top`, if there is one.
    fn streamed_below(&self, top: NodeId) -> Option<Vec<u8>> {
        let mut stack = vec![top];
        while let Some(n) = stack.pop() {
            if let Some(path) = self.streamed.get(&n) {
                return Some(path.clone());
            }
            if let Some(children) = &self.nodes[n as usize].children {
                stack.extend(children.values().copied());
            }
        }
        None
    }

    /// Adds a new name in the (existing, resolved) directory `parent`.
    pub(crate) fn insert(&mut self, parent: NodeId, name: &[u8], inode: InodeId) -> NodeId {
        let is_dir = matches!(self.inodes[inode as usize].kind, InodeKind::Dir);
        let id = NodeId::try_from(self.nodes.len()).expect("fewer than 2^32 nodes");
        self.nodes.push(Node {
            inode,
            children: is_dir.then(BTreeMap::new),
        });
        self.nodes[parent as usize]
            .children
            .as_mut()
            .expect("parent is a directory")
            .insert(name.to_vec(), id);
        id
    }

    pub(crate) fn new_inode(&mut self, kind: InodeKind, meta: Meta) -> InodeId {
        let id = InodeId::try_from(self.inodes.len()).expect("fewer than 2^32 inodes");
        self.inodes.push(Inode { kind, meta });
        id
    }

    /// A reader over a regular file's body. One left in its layer is read again (the layer is
    /// decoded up to it), so that is for the rare big file customization reads.
    pub(crate) fn body(&self, data: Data) -> std::io::Result<Box<dyn Read + '_>> {
        Ok(match data {
            Data::Spool(b) => Box::new(BodyReader::new(
                &self.spools[b.spool as usize],
                b.offset,
                b.len,
            )),
            Data::Mem(i) => Box::new(&self.mem[i as usize][..]),
            Data::Layer(b) => {
                let reread = self
                    .reread
                    .as_ref()
                    .expect("layer bodies come with their layers");
                let layer = &reread.layers[b.layer as usize];
                let bytes = crate::reread::read_body(&*reread.opener, layer, b.entry, b.len)?;
                Box::new(std::io::Cursor::new(bytes))
            }
        })
    }

    pub(crate) fn data_len(&self, data: Data) -> u64 {
        match data {
            Data::Spool(b) => b.len,
            Data::Mem(i) => self.mem[i as usize].len() as u64,
            Data::Layer(b) => b.len,
        }
    }

    /// Adds or replaces files from WSL customization. An existing directory at an overlay's
    /// path keeps its contents and takes the overlay's metadata; anything else there is
    /// replaced. Overlay paths are taken literally (symlinks in their parents are followed).
    pub fn apply_overlays(&mut self, overlays: Vec<Overlay>) -> Result<(), FlattenError> {
        for o in overlays {
            let err = |reason: &str| FlattenError::Overlay {
                path: show(&o.path),
                reason: reason.to_owned(),
            };
            let path = normalize(&o.path).map_err(err)?;
            if path.is_empty() {
                return Err(err("the root itself cannot be replaced"));
            }
            let (parent, name) = split_last(&path);
            let parent = self.resolve(parent).map_err(err)?;
            let Some(parent_node) = self
                .lookup_lexical(&parent)
                .filter(|&n| self.nodes[n as usize].children.is_some())
            else {
                return Err(err("its parent directory does not exist"));
            };
            let meta = Meta {
                mode: o.mode & 0o7777,
                uid: o.uid,
                gid: o.gid,
                mtime: o.mtime,
                ..Meta::default()
            };
            let kind = match o.content {
                OverlayContent::Dir => InodeKind::Dir,
                OverlayContent::Symlink(target) => InodeKind::Symlink(target),
                OverlayContent::File(bytes) => {
                    self.mem.push(bytes);
                    InodeKind::File(Data::Mem(
                        u32::try_from(self.mem.len() - 1).expect("few overlays"),
                    ))
                }
                OverlayContent::CopyOf(src) => {
                    let src = self
                        .resolve(&src)
                        .ok()
                        .and_then(|p| self.lookup_lexical(&p));
                    match src.map(|n| &self.inode_of(n).kind) {
                        Some(InodeKind::File(data)) => InodeKind::File(*data),
                        _ => {
                            return Err(err(
                                "the file to copy does not exist or is not a regular file",
                            ));
                        }
                    }
                }
            };
            let existing = self.child(parent_node, name);
            if let Some(e) = existing
                && kind == InodeKind::Dir
                && self.nodes[e as usize].children.is_some()
            {
                let inode = self.nodes[e as usize].inode;
                self.inodes[inode as usize].meta = meta;
                continue;
            }
            if existing.is_some() {
                self.remove(&join(&parent, name));
            }
            let inode = self.new_inode(kind, meta);
            self.insert(parent_node, name, inode);
        }
        Ok(())
    }

    /// How many names each inode has in the tree (hardlink group sizes).
    pub(crate) fn link_counts(&self) -> Vec<u32> {
        let mut counts = vec![0u32; self.inodes.len()];
        let mut stack = vec![ROOT];
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            counts[node.inode as usize] += 1;
            if let Some(children) = &node.children {
                stack.extend(children.values().copied());
            }
        }
        counts
    }
}

impl TreeView for FlatTree {
    fn lookup(&self, path: &[u8]) -> Option<NodeInfo> {
        let (_, node) = self.lookup_nofollow(path)?;
        let inode = self.inode_of(node);
        let (kind, size, link_target) = match &inode.kind {
            InodeKind::Dir => (NodeKind::Dir, 0, None),
            InodeKind::File(d) => (NodeKind::File, self.data_len(*d), None),
            InodeKind::Symlink(t) => (NodeKind::Symlink, t.len() as u64, Some(t.clone())),
            InodeKind::Char(..) => (NodeKind::CharDevice, 0, None),
            InodeKind::Block(..) => (NodeKind::BlockDevice, 0, None),
            InodeKind::Fifo => (NodeKind::Fifo, 0, None),
        };
        let mode = if kind == NodeKind::Symlink {
            0o777
        } else {
            inode.meta.mode
        };
        Some(NodeInfo {
            kind,
            mode,
            uid: inode.meta.uid,
            gid: inode.meta.gid,
            size,
            mtime: inode.meta.mtime,
            link_target,
        })
    }

    fn read(&self, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        let Some((_, node)) = self.lookup_nofollow(path) else {
            return Ok(None);
        };
        let InodeKind::File(data) = self.inode_of(node).kind else {
            return Ok(None);
        };
        let mut out = Vec::new();
        self.body(data)?.read_to_end(&mut out)?;
        Ok(Some(out))
    }

    fn children(&self, path: &[u8]) -> Vec<Vec<u8>> {
        let node = normalize(path)
            .ok()
            .and_then(|p| self.resolve(&p).ok())
            .and_then(|p| self.lookup_lexical(&p));
        match node.and_then(|n| self.nodes[n as usize].children.as_ref()) {
            Some(children) => children.keys().cloned().collect(),
            None => Vec::new(),
        }
    }
}
