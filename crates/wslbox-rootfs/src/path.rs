//! Entry path normalization: tar names are raw bytes; the tree uses relative paths without
//! `/` or `./` prefixes, and the root is the empty path.

/// Normalizes a tar entry name (or hardlink target): leading `/`, `./`, repeated and trailing
/// slashes and `.` components are dropped. A `..` component is refused rather than clamped
/// (umoci would clamp it at the root; an image that needs that is broken or hostile).
pub(crate) fn normalize(raw: &[u8]) -> Result<Vec<u8>, &'static str> {
    if raw.contains(&0) {
        return Err("the name contains a NUL byte");
    }
    let mut out = Vec::with_capacity(raw.len());
    for comp in raw.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => return Err("the name has a `..` component"),
            _ => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(comp);
            }
        }
    }
    Ok(out)
}

/// The components of a normalized path (none for the root).
pub(crate) fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

/// Splits a normalized, non-root path into its parent and its last component.
pub(crate) fn split_last(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

/// Joins a normalized parent path and one component.
pub(crate) fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parent.len() + 1 + name.len());
    out.extend_from_slice(parent);
    if !parent.is_empty() && !name.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

/// Whether the normalized `path` is `dir` or lies below it (the root holds everything).
pub(crate) fn is_within(path: &[u8], dir: &[u8]) -> bool {
    dir.is_empty()
        || path
            .strip_prefix(dir)
            .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_slashes_are_dropped() {
        assert_eq!(normalize(b"./etc//passwd/").unwrap(), b"etc/passwd");
        assert_eq!(normalize(b"/usr/./bin").unwrap(), b"usr/bin");
        assert_eq!(normalize(b"./").unwrap(), b"");
        assert_eq!(normalize(b"/").unwrap(), b"");
        assert_eq!(normalize(b".").unwrap(), b"");
    }

    #[test]
    fn dotdot_is_refused() {
        assert!(normalize(b"a/../b").is_err());
        assert!(normalize(b"../etc/passwd").is_err());
        assert!(normalize(b"a/..").is_err());
        assert_eq!(normalize(b"a/..b").unwrap(), b"a/..b");
    }

    #[test]
    fn split_and_join_round_trip() {
        assert_eq!(split_last(b"a/b/c"), (&b"a/b"[..], &b"c"[..]));
        assert_eq!(split_last(b"c"), (&b""[..], &b"c"[..]));
        assert_eq!(join(b"a/b", b"c"), b"a/b/c");
        assert_eq!(join(b"", b"c"), b"c");
    }
}
