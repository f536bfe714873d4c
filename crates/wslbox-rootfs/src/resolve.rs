//! Path resolution inside the flattened tree: symlinks are followed the way the kernel would
//! inside a chroot (absolute targets restart at the tree's root, `..` never leaves it).

use crate::{NodeInfo, NodeKind, TreeView};

/// Linux gives up after 40 symlinks (`MAXSYMLINKS`); so do we, which also stops loops.
const MAX_SYMLINKS: usize = 40;

/// Resolves `path` (relative or absolute, e.g. `etc/os-release` or `/bin/sh`) to the path of
/// the node it finally names, following symlinks in every component.
///
/// Returns the resolved relative path and that node's metadata, or `None` when a component is
/// missing, a non-directory is used as a directory, or there are too many symlinks.
pub fn resolve(view: &dyn TreeView, path: &[u8]) -> Option<(Vec<u8>, NodeInfo)> {
    resolve_with(&|p| view.lookup(p), path)
}

/// [`resolve`] over any lookup function, so staged (not yet written) overlays can be seen too.
pub(crate) fn resolve_with(
    lookup: &dyn Fn(&[u8]) -> Option<NodeInfo>,
    path: &[u8],
) -> Option<(Vec<u8>, NodeInfo)> {
    // The root always exists, whether or not the tree records a node for it.
    let lookup = |p: &[u8]| match lookup(p) {
        None if p.is_empty() => Some(root_node()),
        found => found,
    };
    // Components still to walk, in reverse order so the next one is at the end.
    let mut pending: Vec<Vec<u8>> = components(path).rev().map(<[u8]>::to_vec).collect();
    let mut resolved: Vec<Vec<u8>> = Vec::new();
    let mut links = 0;
    let mut node = lookup(b"")?;
    while let Some(component) = pending.pop() {
        if node.kind != NodeKind::Dir {
            return None;
        }
        if component == b".." {
            resolved.pop();
            node = lookup(&resolved.join(&b'/'))?;
            continue;
        }
        resolved.push(component);
        let here = resolved.join(&b'/');
        let info = lookup(&here)?;
        if info.kind == NodeKind::Symlink {
            links += 1;
            if links > MAX_SYMLINKS {
                return None;
            }
            let target = info.link_target.clone().unwrap_or_default();
            resolved.pop();
            if target.first() == Some(&b'/') {
                resolved.clear();
            }
            pending.extend(components(&target).rev().map(<[u8]>::to_vec));
            node = lookup(&resolved.join(&b'/'))?;
        } else {
            node = info;
        }
    }
    Some((resolved.join(&b'/'), node))
}

fn root_node() -> NodeInfo {
    NodeInfo {
        kind: NodeKind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: 0,
        mtime: 0,
        link_target: None,
    }
}

/// Reads the regular file that `path` resolves to; `None` when it is missing or not a file.
pub fn read_resolved(view: &dyn TreeView, path: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
    match resolve(view, path) {
        Some((real, info)) if info.kind == NodeKind::File => view.read(&real),
        _ => Ok(None),
    }
}

/// Path components without empty ones and `.`.
fn components(path: &[u8]) -> impl DoubleEndedIterator<Item = &[u8]> {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
}
