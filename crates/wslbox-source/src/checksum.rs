//! `--sha256 HEX` and `--sha256-url URL`: the checksum a tarball must match. A sums file may be
//! GNU style (`<hex>  name`, `<hex> *name`) or BSD style (`SHA256 (name) = <hex>`), as
//! distributions publish them.

use std::io::Read;

use wslbox_reference::Digest;

use crate::registry::client;
use crate::tarball::file_name;
use crate::{Checksum, OpenOptions, SourceError, TarballLocation};

/// A sums file larger than this is not one.
const MAX_SUMS: u64 = 1 << 20;

/// The sha256 the tarball at `location` must have.
pub(crate) fn expected_sha256(
    checksum: &Checksum,
    location: &TarballLocation,
    opts: &OpenOptions,
) -> Result<Digest, SourceError> {
    let url = match checksum {
        Checksum::Sha256(digest) => return Ok(digest.clone()),
        Checksum::Sha256Url(url) => url,
    };
    let shown = wslbox_registry::redact_url_text(url);
    let invalid = |reason: String| SourceError::InvalidSpec {
        input: format!("--sha256-url {shown}"),
        reason,
    };
    let Some(name) = file_name(location) else {
        return Err(invalid(
            "standard input has no file name to look up in a sums file; pass --sha256 HEX".into(),
        ));
    };
    let mut text = Vec::new();
    let read = |r: &mut dyn Read, text: &mut Vec<u8>| r.take(MAX_SUMS).read_to_end(text);
    if url.starts_with("http://") || url.starts_with("https://") {
        let parsed = url::Url::parse(url).map_err(|e| invalid(format!("not a valid URL: {e}")))?;
        let mut reader = client(opts)?.open_url(&parsed)?;
        read(&mut reader, &mut text)
    } else {
        fs_err::File::open(url).and_then(|mut f| read(&mut f, &mut text))
    }
    .map_err(|source| SourceError::Io {
        what: format!("reading the sums file {shown}"),
        source,
    })?;
    let text = String::from_utf8_lossy(&text);
    find(&text, &name).ok_or_else(|| {
        let listed: Vec<String> = entries(&text).map(|(_, n)| n.to_owned()).take(10).collect();
        invalid(format!(
            "it lists no sha256 for `{name}` (it lists: {}); check the URL, or pass --sha256 HEX",
            if listed.is_empty() {
                "nothing".to_owned()
            } else {
                listed.join(", ")
            }
        ))
    })
}

/// The digest listed for `name`.
fn find(text: &str, name: &str) -> Option<Digest> {
    entries(text)
        .find(|(_, n)| n.trim_start_matches("./") == name)
        .and_then(|(hex, _)| format!("sha256:{}", hex.to_ascii_lowercase()).parse().ok())
}

/// `(hex, name)` for every line that looks like a sha256 entry.
fn entries(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().filter_map(|line| {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("SHA256 (") {
            let (name, hex) = rest.split_once(") = ")?;
            return is_hex(hex).then_some((hex, name));
        }
        let (hex, name) = line.split_once(char::is_whitespace)?;
        let name = name.trim_start().trim_start_matches('*');
        (is_hex(hex) && !name.is_empty()).then_some((hex, name))
    })
}

fn is_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::find;

    const A: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    const B: &str = "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752";

    #[test]
    fn gnu_and_bsd_sums_files_are_read() {
        let gnu = format!("{A}  other.tar.xz\n{B} *rootfs.tar.xz\n");
        assert_eq!(find(&gnu, "rootfs.tar.xz").unwrap().hex(), B);
        let bsd = format!("SHA256 (rootfs.tar.xz) = {A}\n");
        assert_eq!(find(&bsd, "rootfs.tar.xz").unwrap().hex(), A);
        let dotted = format!("{A}  ./rootfs.tar.xz\n");
        assert_eq!(find(&dotted, "rootfs.tar.xz").unwrap().hex(), A);
        assert!(find(&gnu, "missing.tar").is_none());
        assert!(find("garbage\n-----BEGIN PGP", "rootfs.tar.xz").is_none());
    }
}
