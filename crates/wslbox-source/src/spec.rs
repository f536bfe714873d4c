//! What the user typed, parsed into a [`SourceSpec`]. Prefixes follow skopeo's transport names
//! where one exists (`oci:`, `oci-archive:`, `docker-archive:`, `docker-daemon:`) and the
//! obvious name otherwise (`squashfs:`, `tarball:`, `podman:`). A path to an existing file
//! without a prefix is recognized by its first bytes; anything else is a registry reference.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use wslbox_image::Compression;
use wslbox_reference::Reference;

use crate::{OpenOptions, SourceError};

/// The SquashFS superblock magic, `hsqs` (little-endian 0x73717368).
pub const SQUASHFS_MAGIC: &[u8; 4] = b"hsqs";

/// A container engine wslbox can read images from (or let pull them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Podman,
    Docker,
}

impl Engine {
    /// The engine's command.
    pub fn command(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker",
        }
    }

    /// The source prefix naming an image in this engine.
    pub fn prefix(self) -> &'static str {
        match self {
            Engine::Podman => "podman",
            Engine::Docker => "docker-daemon",
        }
    }
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "podman" => Ok(Engine::Podman),
            "docker" => Ok(Engine::Docker),
            other => Err(format!("unknown engine `{other}`; use podman or docker")),
        }
    }
}

/// Where a rootfs tarball is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarballLocation {
    File(PathBuf),
    Url(url::Url),
    /// `tarball:-`.
    Stdin,
}

/// One input, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    Registry(Reference),
    /// `oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`, `docker-archive:FILE[:REF|:@N]`, verbatim.
    Local(String),
    Squashfs(PathBuf),
    Tarball(TarballLocation),
    /// `podman:IMAGE`, `docker-daemon:IMAGE`.
    Engine {
        engine: Engine,
        image: String,
    },
}

impl SourceSpec {
    /// Parses a source as typed on the command line.
    pub fn parse(input: &str) -> Result<SourceSpec, SourceError> {
        // Never the password or signed query of a URL typed here.
        let shown = wslbox_registry::redact_url_text(input);
        let invalid = |reason: &str| SourceError::InvalidSpec {
            input: shown.clone(),
            reason: reason.to_owned(),
        };
        let url = |text: &str| -> Result<SourceSpec, SourceError> {
            let url =
                url::Url::parse(text).map_err(|e| invalid(&format!("not a valid URL: {e}")))?;
            Ok(SourceSpec::Tarball(TarballLocation::Url(url)))
        };
        let is_http = |text: &str| text.starts_with("http://") || text.starts_with("https://");
        if wslbox_image::is_local(input) {
            return Ok(SourceSpec::Local(input.to_owned()));
        }
        if let Some(path) = input.strip_prefix("squashfs:") {
            if path.is_empty() {
                return Err(invalid("no file after `squashfs:`"));
            }
            if path.contains("://") {
                return Err(invalid(
                    "a SquashFS image is read from a file (it is read out of order, not as a stream); download it, then pass squashfs:FILE",
                ));
            }
            return Ok(SourceSpec::Squashfs(PathBuf::from(path)));
        }
        if let Some(rest) = input.strip_prefix("tarball:") {
            return Ok(SourceSpec::Tarball(match rest {
                "" => return Err(invalid("no file or URL after `tarball:`")),
                "-" => TarballLocation::Stdin,
                _ if is_http(rest) => return url(rest),
                _ if rest.contains("://") => {
                    return Err(invalid("only http:// and https:// URLs can be downloaded"));
                }
                _ => TarballLocation::File(PathBuf::from(rest)),
            }));
        }
        for engine in [Engine::Podman, Engine::Docker] {
            if let Some(image) = input
                .strip_prefix(engine.prefix())
                .and_then(|r| r.strip_prefix(':'))
            {
                if image.is_empty() {
                    return Err(invalid(&format!(
                        "no image after `{}:`; name one as {}:IMAGE[:TAG]",
                        engine.prefix(),
                        engine.prefix()
                    )));
                }
                return Ok(SourceSpec::Engine {
                    engine,
                    image: image.to_owned(),
                });
            }
        }
        // A reference never has `://`: a bare URL is a rootfs tarball to download, as with
        // `tarball:URL`.
        if is_http(input) {
            return url(input);
        }
        if input.contains("://") {
            return Err(invalid(
                "only http:// and https:// URLs can be downloaded (as rootfs tarballs); for a file, give its path",
            ));
        }
        if let Some(spec) = sniff_file(Path::new(input)) {
            return Ok(spec);
        }
        input
            .parse::<Reference>()
            .map(SourceSpec::Registry)
            .map_err(|e| SourceError::InvalidSpec {
                input: input.to_owned(),
                reason: format!(
                    "{e}; a file needs an existing path or a prefix (squashfs:FILE, tarball:FILE)"
                ),
            })
    }

    /// Refuses options that make no sense for this kind of source, naming the option.
    pub(crate) fn check_options(&self, opts: &OpenOptions) -> Result<(), SourceError> {
        let fits = |option: &'static str, ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(SourceError::OptionNotApplicable {
                    option,
                    source_spec: self.to_string(),
                })
            }
        };
        let file_source = matches!(self, SourceSpec::Squashfs(_) | SourceSpec::Tarball(_));
        fits(
            "--strip-components/--subdir",
            opts.paths.is_identity() || file_source,
        )?;
        fits(
            "--sha256/--sha256-url",
            opts.checksum.is_none() || matches!(self, SourceSpec::Tarball(_)),
        )?;
        fits(
            "--via",
            opts.via.is_none() || matches!(self, SourceSpec::Registry(_)),
        )?;
        Ok(())
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceSpec::Registry(r) => write!(f, "{r}"),
            SourceSpec::Local(s) => f.write_str(s),
            SourceSpec::Squashfs(p) => write!(f, "squashfs:{}", p.display()),
            SourceSpec::Tarball(TarballLocation::File(p)) => write!(f, "tarball:{}", p.display()),
            SourceSpec::Tarball(TarballLocation::Url(u)) => {
                write!(f, "tarball:{}", wslbox_registry::redact_url(u))
            }
            SourceSpec::Tarball(TarballLocation::Stdin) => f.write_str("tarball:-"),
            SourceSpec::Engine { engine, image } => write!(f, "{}:{image}", engine.prefix()),
        }
    }
}

/// A prefix-less existing file: SquashFS by its magic, a tarball when it is compressed or has
/// a tar header; `None` lets the input be read as a reference.
fn sniff_file(path: &Path) -> Option<SourceSpec> {
    if !path.is_file() {
        return None;
    }
    let mut head = [0u8; 512];
    let mut file = fs_err::File::open(path).ok()?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = &head[..n];
    if head.starts_with(SQUASHFS_MAGIC) {
        return Some(SourceSpec::Squashfs(path.to_owned()));
    }
    let tar = head.len() >= 262 && &head[257..262] == b"ustar";
    if tar || Compression::sniff(head) != Compression::None {
        return Some(SourceSpec::Tarball(TarballLocation::File(path.to_owned())));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_pick_the_source() {
        let parse = |s: &str| SourceSpec::parse(s).unwrap();
        assert!(matches!(parse("alpine"), SourceSpec::Registry(_)));
        assert!(matches!(parse("oci:/x:tag"), SourceSpec::Local(_)));
        assert_eq!(
            parse("squashfs:a.sfs"),
            SourceSpec::Squashfs("a.sfs".into())
        );
        assert_eq!(
            parse("tarball:-"),
            SourceSpec::Tarball(TarballLocation::Stdin)
        );
        assert!(matches!(
            parse("tarball:https://example.org/r.tar.xz"),
            SourceSpec::Tarball(TarballLocation::Url(_))
        ));
        assert_eq!(
            parse("docker-daemon:dev:1"),
            SourceSpec::Engine {
                engine: Engine::Docker,
                image: "dev:1".into()
            }
        );
        assert_eq!(
            parse("podman:localhost/dev:1").to_string(),
            "podman:localhost/dev:1"
        );
    }

    #[test]
    fn a_bare_http_url_is_a_tarball_to_download() {
        for url in [
            "https://example.org/r.tar.xz",
            "http://127.0.0.1:8080/a?x=1",
        ] {
            assert_eq!(
                SourceSpec::parse(url).unwrap(),
                SourceSpec::parse(&format!("tarball:{url}")).unwrap(),
                "{url}"
            );
        }
    }

    #[test]
    fn a_url_is_named_without_its_user_info_or_query() {
        let spec = SourceSpec::parse("https://alice:s3cr3t@example.org/r.tar?sig=dead").unwrap();
        assert_eq!(
            spec.to_string(),
            "tarball:https://***@example.org/r.tar?***"
        );
        // The URL fetched keeps them: the host it names is the one they are for.
        let SourceSpec::Tarball(TarballLocation::Url(url)) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(
            (url.password(), url.query()),
            (Some("s3cr3t"), Some("sig=dead"))
        );
        for bad in [
            "ftp://alice:s3cr3t@host/x.tar?sig=dead",
            "tarball:ftp://alice:s3cr3t@host/x.tar?sig=dead",
            "squashfs:https://alice:s3cr3t@host/x.sfs?sig=dead",
            "https://alice:s3cr3t@host:99999/x.tar?sig=dead",
        ] {
            let err = SourceSpec::parse(bad).unwrap_err().to_string();
            assert!(!err.contains("s3cr3t") && !err.contains("dead"), "{err}");
            assert!(err.contains("***@host"), "names the host: {err}");
        }
    }

    #[test]
    fn bad_specs_say_what_to_do() {
        let err = SourceSpec::parse("tarball:ftp://host/x.tar").unwrap_err();
        assert!(err.to_string().contains("http:// and https://"), "{err}");
        let err = SourceSpec::parse("file:///srv/x.tar").unwrap_err();
        assert!(err.to_string().contains("give its path"), "{err}");
        let err = SourceSpec::parse("squashfs:https://h/x.sfs").unwrap_err();
        assert!(err.to_string().contains("download it"), "{err}");
        let err = SourceSpec::parse("podman:").unwrap_err();
        assert!(err.to_string().contains("podman:IMAGE"), "{err}");
        let err = SourceSpec::parse("Not/A/Reference!").unwrap_err();
        assert!(err.to_string().contains("squashfs:FILE"), "{err}");
    }

    #[test]
    fn existing_files_are_recognized_by_magic() {
        let dir = tempfile::tempdir().unwrap();
        let sfs = dir.path().join("image");
        fs_err::write(&sfs, b"hsqs\0\0\0\0rest").unwrap();
        assert_eq!(
            SourceSpec::parse(sfs.to_str().unwrap()).unwrap(),
            SourceSpec::Squashfs(sfs.clone())
        );
        let xz = dir.path().join("rootfs");
        fs_err::write(&xz, b"\xfd7zXZ\0...").unwrap();
        assert!(matches!(
            SourceSpec::parse(xz.to_str().unwrap()).unwrap(),
            SourceSpec::Tarball(TarballLocation::File(_))
        ));
    }
}
