//! The tree as customization sees it while it works: the flattened image plus the overlays
//! produced so far, so one step (e.g. adding root) is visible to the next (adding a user).

use std::collections::HashMap;

use super::CustomizeError;
use crate::resolve::resolve_with;
use crate::{NodeInfo, NodeKind, Overlay, OverlayContent, TreeView};

pub(crate) struct Staged<'a> {
    view: &'a dyn TreeView,
    overlays: Vec<Overlay>,
    index: HashMap<Vec<u8>, usize>,
    /// Modification time for everything customization writes (the export time).
    pub mtime: i64,
}

impl<'a> Staged<'a> {
    pub fn new(view: &'a dyn TreeView, mtime: i64) -> Self {
        Self {
            view,
            overlays: Vec::new(),
            index: HashMap::new(),
            mtime,
        }
    }

    pub fn view(&self) -> &'a dyn TreeView {
        self.view
    }

    pub fn into_overlays(self) -> Vec<Overlay> {
        self.overlays
    }

    /// The node at `path` with staged overlays applied (symlinks not followed).
    pub fn lookup(&self, path: &[u8]) -> Option<NodeInfo> {
        let Some(&i) = self.index.get(path) else {
            return self.view.lookup(path);
        };
        let o = &self.overlays[i];
        let (kind, link_target) = match &o.content {
            OverlayContent::File(_) | OverlayContent::CopyOf(_) => (NodeKind::File, None),
            OverlayContent::Dir => (NodeKind::Dir, None),
            OverlayContent::Symlink(t) => (NodeKind::Symlink, Some(t.clone())),
        };
        Some(NodeInfo {
            kind,
            mode: o.mode,
            uid: o.uid,
            gid: o.gid,
            size: 0,
            mtime: o.mtime,
            link_target,
        })
    }

    /// [`super::resolve`] over the staged tree.
    pub fn resolve(&self, path: &[u8]) -> Option<(Vec<u8>, NodeInfo)> {
        resolve_with(&|p| self.lookup(p), path)
    }

    /// Contents of the regular file at the exact `path` (staged contents win).
    pub fn read(&self, path: &[u8]) -> Result<Option<Vec<u8>>, CustomizeError> {
        let from_view = |p: &[u8]| {
            self.view.read(p).map_err(|source| CustomizeError::Read {
                path: display(p),
                source,
            })
        };
        match self.index.get(path).map(|&i| &self.overlays[i].content) {
            Some(OverlayContent::File(data)) => Ok(Some(data.clone())),
            Some(OverlayContent::CopyOf(src)) => from_view(src),
            Some(_) => Ok(None),
            None => from_view(path),
        }
    }

    /// Where to edit the file named by `path` and what is there now: symlinks such as
    /// `/etc/os-release → ../usr/lib/os-release` are followed so the real file is replaced.
    pub fn file_for_edit(&mut self, path: &[u8]) -> Result<EditTarget, CustomizeError> {
        if let Some((real, info)) = self.resolve(path)
            && info.kind == NodeKind::File
        {
            let content = self.read(&real)?.unwrap_or_default();
            return Ok(EditTarget {
                path: real,
                existing: Some((info, content)),
            });
        }
        Ok(EditTarget {
            path: self.dir_for_new(path)?,
            existing: None,
        })
    }

    /// The real path for a new entry at `path`: parent directories are resolved through
    /// symlinks (bsdtar refuses to extract through them) and created (0755 root) when missing.
    pub fn dir_for_new(&mut self, path: &[u8]) -> Result<Vec<u8>, CustomizeError> {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let mut real = self.ensure_dir(parent, 0o755)?;
        if !real.is_empty() {
            real.push(b'/');
        }
        real.extend_from_slice(name);
        Ok(real)
    }

    /// Makes sure `path` is a directory, creating missing components (the last one with
    /// `leaf_mode`, the others 0755, all owned by root), and returns its real path.
    pub fn ensure_dir(&mut self, path: &[u8], leaf_mode: u32) -> Result<Vec<u8>, CustomizeError> {
        let parts: Vec<&[u8]> = path
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .collect();
        let mut real: Vec<u8> = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let mut candidate = real.clone();
            if !candidate.is_empty() {
                candidate.push(b'/');
            }
            candidate.extend_from_slice(part);
            match self.resolve(&candidate) {
                Some((r, info)) if info.kind == NodeKind::Dir => real = r,
                None if self.lookup(&candidate).is_none() => {
                    let mode = if i + 1 == parts.len() {
                        leaf_mode
                    } else {
                        0o755
                    };
                    let mtime = self.mtime;
                    self.put(Overlay {
                        path: candidate.clone(),
                        content: OverlayContent::Dir,
                        mode,
                        uid: 0,
                        gid: 0,
                        mtime,
                    });
                    real = candidate;
                }
                _ => {
                    return Err(CustomizeError::NotADirectory {
                        path: display(&candidate),
                    });
                }
            }
        }
        Ok(real)
    }

    /// Adds or replaces the overlay at `overlay.path`.
    pub fn put(&mut self, overlay: Overlay) {
        match self.index.get(&overlay.path) {
            Some(&i) => self.overlays[i] = overlay,
            None => {
                self.index.insert(overlay.path.clone(), self.overlays.len());
                self.overlays.push(overlay);
            }
        }
    }

    pub fn put_file(&mut self, path: Vec<u8>, data: Vec<u8>, mode: u32, uid: u64, gid: u64) {
        let mtime = self.mtime;
        self.put(Overlay {
            path,
            content: OverlayContent::File(data),
            mode,
            uid,
            gid,
            mtime,
        });
    }
}

/// A file about to be edited: its real path, and its metadata and contents when it exists.
pub(crate) struct EditTarget {
    pub path: Vec<u8>,
    pub existing: Option<(NodeInfo, Vec<u8>)>,
}

impl EditTarget {
    /// The current contents; empty when the file does not exist yet.
    pub fn contents(&self) -> Vec<u8> {
        self.existing
            .as_ref()
            .map(|(_, data)| data.clone())
            .unwrap_or_default()
    }

    /// Stages `data` at this path, keeping the image's mode and owner; a new file gets `mode`
    /// and root ownership.
    pub fn replace(self, staged: &mut Staged, data: Vec<u8>, mode: u32) {
        let (mode, uid, gid) = self
            .existing
            .map_or((mode, 0, 0), |(info, _)| (info.mode, info.uid, info.gid));
        staged.put_file(self.path, data, mode, uid, gid);
    }
}

/// A tree path for messages: `/etc/passwd`.
pub(crate) fn display(path: &[u8]) -> String {
    format!("/{}", String::from_utf8_lossy(path))
}
