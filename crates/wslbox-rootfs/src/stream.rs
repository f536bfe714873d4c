//! Streaming one layer into the output while it is read ([`crate::flatten_into`]).
//!
//! The layer chosen is the biggest: the one whose download ends last. Every other layer is
//! read first, the lower ones applied to the tree. Then, as the chosen layer is read and its
//! entries applied one by one, the body of a regular file that would otherwise stay in the
//! layer (see [`LayerBuilder::leaves_in_layer`]) goes straight to the output, header first,
//! when it is certain to survive:
//!
//! - the upper layers leave its path alone ([`Shadow`]): no entry at it, no whiteout, opaque
//!   directory or non-directory at or above it. This is decided on the upper layers' own
//!   paths, which is exact only if none of them can land elsewhere through a symlink of a
//!   lower layer: every parent of every upper entry must be made a directory by the upper
//!   layers themselves (image builders write those entries), and every upper hardlink must
//!   point at a file the upper layers wrote. Otherwise nothing is streamed.
//! - it is not [held](crate::FlattenOptions::hold): customization and upgrades replace
//!   files below those paths.
//!
//! What remains possible is a later entry of the same layer replacing or removing the file
//! (a path named twice, which image tools never write). [`FlatTree::remove`] notices that,
//! and the output then fails instead of holding a file the tree does not
//! ([`crate::OutputError::Streamed`]).

use std::collections::HashSet;
use std::io::Read;

use crate::apply::{Applying, OPAQUE};
use crate::error::FlattenError;
use crate::layer::{EntryKind, EntryMeta, LayerBuilder, ParsedLayer, is_whiteout};
use crate::output::{Output, StreamError};
use crate::path::{is_within, join, split_last};
use crate::read::Entries;
use crate::report::Reporter;
use crate::tree::{Data, FlatTree, InodeKind};

/// What the layers above the streamed one do to the paths below them, by their own paths.
#[derive(Debug, Default)]
pub(crate) struct Shadow {
    /// Paths an upper entry writes.
    written: HashSet<Vec<u8>>,
    /// Paths removed with everything below: whiteout targets, non-directory entries.
    gone: HashSet<Vec<u8>>,
    /// Directories whose lower contents an opaque whiteout hides.
    opaque: HashSet<Vec<u8>>,
}

impl Shadow {
    /// `None` when an upper entry's place depends on the layers below it.
    pub(crate) fn of(uppers: &[ParsedLayer]) -> Option<Shadow> {
        let mut shadow = Shadow::default();
        // Paths the upper layers made directories (or removed, so that whatever is created
        // there later is theirs too), and the non-directories they wrote.
        let mut dirs: HashSet<Vec<u8>> = HashSet::new();
        let mut files: HashSet<Vec<u8>> = HashSet::new();
        let fixed = |dirs: &HashSet<Vec<u8>>, dir: &[u8]| {
            let mut d = dir;
            while !d.is_empty() {
                if !dirs.contains(d) {
                    return false;
                }
                d = split_last(d).0;
            }
            true
        };
        for layer in uppers {
            // Paths this layer wrote: its whiteouts leave them alone.
            let mut own: HashSet<&[u8]> = HashSet::new();
            for e in &layer.entries {
                if e.path.is_empty() {
                    continue; // the root's metadata
                }
                let (dir, name) = split_last(&e.path);
                if !fixed(&dirs, dir) {
                    return None;
                }
                if layer.whiteouts && is_whiteout(&e.path) {
                    if name == OPAQUE {
                        shadow.opaque.insert(dir.to_vec());
                    } else {
                        let target = join(dir, &name[4..]);
                        if !own.contains(&target[..]) {
                            files.remove(&target);
                            dirs.insert(target.clone());
                        }
                        shadow.gone.insert(target);
                    }
                    continue;
                }
                own.insert(&e.path);
                shadow.written.insert(e.path.clone());
                if let EntryKind::Dir = e.kind {
                    files.remove(&e.path);
                    dirs.insert(e.path.clone());
                    continue;
                }
                if let EntryKind::Hardlink(target) = &e.kind
                    && !(files.contains(target) && fixed(&dirs, split_last(target).0))
                {
                    return None;
                }
                shadow.gone.insert(e.path.clone());
                dirs.remove(&e.path);
                files.insert(e.path.clone());
            }
        }
        Some(shadow)
    }

    /// Whether an upper layer writes, replaces or hides `path`.
    fn hides(&self, path: &[u8]) -> bool {
        if self.written.contains(path) {
            return true;
        }
        let mut p = path;
        loop {
            if self.gone.contains(p) || (p.len() < path.len() && self.opaque.contains(p)) {
                return true;
            }
            if p.is_empty() {
                return false;
            }
            p = split_last(p).0;
        }
    }
}

/// The streamed layer's entries: added to the builder, applied to the tree one by one, and
/// the bodies that can go to the output written there at once.
pub(crate) struct Streaming<'a> {
    builder: LayerBuilder,
    tree: &'a mut FlatTree,
    applying: Option<Applying>,
    /// How many of the builder's entries are applied.
    applied: usize,
    /// `None`: nothing may be streamed.
    shadow: Option<Shadow>,
    hold: &'a [Vec<u8>],
    out: &'a mut Output,
    /// The index of this layer, as its bodies name it ([`crate::tree::LayerBody::layer`]).
    layer: u32,
    /// The entry (builder index) just streamed, and the path it went out under.
    pending: Option<(usize, Vec<u8>)>,
    reporter: &'a dyn Reporter,
}

impl<'a> Streaming<'a> {
    pub(crate) fn new(
        builder: LayerBuilder,
        tree: &'a mut FlatTree,
        shadow: Option<Shadow>,
        hold: &'a [Vec<u8>],
        out: &'a mut Output,
        reporter: &'a dyn Reporter,
    ) -> Self {
        let applying = tree.start_layer(builder.label(), builder.whiteouts());
        let layer = applying.spool();
        Self {
            builder,
            tree,
            applying: Some(applying),
            applied: 0,
            shadow,
            hold,
            out,
            layer,
            pending: None,
            reporter,
        }
    }

    /// Applies the entries added since the last call, marking the streamed one once it is in
    /// the tree, so that anything replacing it later is noticed.
    fn catch_up(&mut self) -> Result<(), FlattenError> {
        while self.applied < self.builder.entries().len() {
            let i = self.applied;
            let applying = self.applying.as_mut().expect("the layer is being read");
            self.tree
                .apply_entries(applying, &self.builder.entries()[i..=i])?;
            self.applied += 1;
            if let Some((_, path)) = self.pending.take_if(|(at, _)| *at == i) {
                self.mark(path);
            }
        }
        Ok(())
    }

    /// Records the node at `path`, which must hold the body just streamed.
    fn mark(&mut self, path: Vec<u8>) {
        let entry = match self.builder.entries()[self.applied - 1].kind {
            EntryKind::Reread { entry, .. } => entry,
            _ => unreachable!("a streamed file stays in its layer"),
        };
        let node = self.tree.lookup_lexical(&path);
        let holds_it = node.is_some_and(|n| {
            matches!(self.tree.inode_of(n).kind,
                InodeKind::File(Data::Layer(b)) if b.layer == self.layer && b.entry == entry)
        });
        match node {
            Some(n) if holds_it => {
                self.tree.streamed.insert(n, path);
            }
            // Applying the entry put it elsewhere (or failed): the output holds a file the
            // tree does not.
            _ => {
                self.tree.stream_conflict.get_or_insert(path);
            }
        }
    }

    /// Where the file at `path` (a tree path, symlinks in its parents not yet resolved) goes,
    /// if it can be streamed.
    fn place(&self, path: &[u8]) -> Option<Vec<u8>> {
        let shadow = self.shadow.as_ref()?;
        let (dir, name) = split_last(path);
        let real = join(&self.tree.resolve(dir).ok()?, name);
        let held = self.hold.iter().any(|h| is_within(&real, h));
        (!held && !shadow.hides(&real)).then_some(real)
    }

    /// Applies what is left; the layer is complete. Returns its number of entries.
    pub(crate) fn finish(mut self) -> Result<usize, FlattenError> {
        self.catch_up()?;
        let applying = self.applying.take().expect("finished once");
        let parsed = self.builder.finish()?;
        let entries = parsed.len();
        self.tree.finish_layer(applying, parsed.spool);
        Ok(entries)
    }
}

impl Entries for Streaming<'_> {
    fn builder(&self) -> &LayerBuilder {
        &self.builder
    }
    fn builder_mut(&mut self) -> &mut LayerBuilder {
        &mut self.builder
    }

    fn file(
        &mut self,
        raw_path: &[u8],
        meta: EntryMeta,
        len: u64,
        body: &mut dyn Read,
    ) -> Result<(), FlattenError> {
        if self.shadow.is_some()
            && let Some(path) = self.builder.leaves_in_layer(raw_path, len)?
        {
            self.catch_up()?;
            if let Some(real) = self.place(&path) {
                let label = self.builder.label().to_owned();
                self.out
                    .stream_file(&real, &meta, len, body, self.reporter)
                    .map_err(|e| match e {
                        StreamError::Read(source) => FlattenError::Read {
                            layer: label,
                            source,
                        },
                        StreamError::Output(e) => FlattenError::Output(Box::new(e)),
                    })?;
                self.builder.add_left(raw_path, meta, len)?;
                self.pending = Some((self.builder.entries().len() - 1, real));
                return Ok(());
            }
        }
        self.builder.add_body(raw_path, meta, len, body)
    }
}
