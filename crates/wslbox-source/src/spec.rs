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
                    return Err(invalid(ONLY_HTTP));
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
            return Err(invalid(ONLY_HTTP));
        }
        if let Some(spec) = sniff_file(Path::new(input)) {
            return Ok(spec);
        }
        input.parse::<Reference>().map(SourceSpec::Registry).map_err(|e| {
            let reason = match not_a_source_file(Path::new(input)) {
                Some(reason) => reason,
                None => format!(
                    "{e}; a file needs an existing path or a prefix (squashfs:FILE, tarball:FILE)"
                ),
            };
            SourceError::InvalidSpec {
                input: input.to_owned(),
                reason,
            }
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
    let head = read_head(path)?;
    if head.starts_with(SQUASHFS_MAGIC) {
        return Some(SourceSpec::Squashfs(path.to_owned()));
    }
    if is_tar_head(&head) || Compression::sniff(&head) != Compression::None {
        return Some(SourceSpec::Tarball(TarballLocation::File(path.to_owned())));
    }
    None
}

/// The first 512 bytes of a regular file (fewer if it is shorter); `None` for anything else.
fn read_head(path: &Path) -> Option<Vec<u8>> {
    if !path.is_file() {
        return None;
    }
    let mut head = Vec::with_capacity(512);
    fs_err::File::open(path)
        .and_then(|f| f.take(512).read_to_end(&mut head))
        .ok()?;
    Some(head)
}

/// Whether `head` starts an uncompressed tar: the `ustar` magic of POSIX and GNU headers.
pub(crate) fn is_tar_head(head: &[u8]) -> bool {
    head.len() >= 262 && &head[257..262] == b"ustar"
}

/// What a file's first bytes are, for an error that says it is not what was expected.
pub(crate) fn describe_head(head: &[u8]) -> String {
    if head.is_empty() {
        return "it is empty".into();
    }
    let magic: Vec<String> = head.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("its first bytes are {}", magic.join(" "))
}

/// Refuses a path that is not a regular file (after symlinks), saying what it is instead.
pub(crate) fn check_is_file(path: &Path, expected: &'static str) -> Result<(), SourceError> {
    let reason = match fs_err::metadata(path) {
        Ok(meta) if meta.is_file() => return Ok(()),
        Ok(meta) if meta.is_dir() => DIRECTORY_REASON.to_owned(),
        Ok(_) => "it is not a regular file (a pipe or device); save it to a file first".to_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "there is no such file".to_owned(),
        Err(e) => e.to_string(),
    };
    Err(SourceError::NotA {
        what: std::path::absolute(path)
            .unwrap_or_else(|_| path.to_owned())
            .display()
            .to_string(),
        expected,
        reason,
    })
}

/// Why a URL of another scheme (`ftp://`, `file://`) is refused, with or without `tarball:`.
const ONLY_HTTP: &str = "only http:// and https:// URLs can be downloaded (as rootfs tarballs); for a file, give its path";

const DIRECTORY_REASON: &str = "it is a directory; for an OCI image layout pass oci:DIR, and a directory tree is read once it is a tarball (`tar -C DIR -cf rootfs.tar .`)";

/// Why an existing path that is not a reference is not a source either.
fn not_a_source_file(path: &Path) -> Option<String> {
    if path.is_dir() {
        return Some(DIRECTORY_REASON.to_owned());
    }
    let head = read_head(path)?;
    Some(format!(
        "it is a file, but neither a SquashFS image nor a tar archive (plain, gzip, xz, zstd or bzip2): {}",
        describe_head(&head)
    ))
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

    #[test]
    fn an_existing_path_that_is_no_source_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("notes.txt");
        fs_err::write(&text, b"vm\n").unwrap();
        let err = SourceSpec::parse(text.to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with(
                "it is a file, but neither a SquashFS image nor a tar archive (plain, gzip, xz, zstd or bzip2): its first bytes are 76 6d 0a"
            ),
            "{err}"
        );
        let err = SourceSpec::parse(dir.path().to_str().unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("it is a directory; for an OCI image layout pass oci:DIR"),
            "{err}"
        );
        // A name that is a reference stays one, whatever the current folder holds (tests run
        // in the crate's folder, which has a `src` directory).
        assert!(Path::new("src").is_dir());
        let parsed = SourceSpec::parse("src");
        assert!(matches!(parsed, Ok(SourceSpec::Registry(_))), "{parsed:?}");
    }

    #[test]
    fn a_prefixed_path_that_is_no_file_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_is_file(dir.path(), "a rootfs tarball")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("is not a rootfs tarball: it is a directory"),
            "{err}"
        );
        let missing = dir.path().join("missing.sfs");
        let err = check_is_file(&missing, "a SquashFS image")
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("is not a SquashFS image: there is no such file"),
            "{err}"
        );
        #[cfg(unix)]
        {
            let err = check_is_file(Path::new("/dev/null"), "a rootfs tarball").unwrap_err();
            assert!(err.to_string().contains("not a regular file"), "{err}");
        }
    }
}
