//! `open_local` against real layouts and archives built here in a temp dir (and, once each, by
//! skopeo), reading layers back through the returned opener.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest as _, Sha256};
use wslbox_image::{BlobOpener, Compression, LayoutError, ResolvedImage, open_local};
use wslbox_reference::Platform;

fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn amd64() -> Platform {
    "linux/amd64".parse().unwrap()
}

/// A one-file layer tar.
fn layer_tar(name: &str, content: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(content.len() as u64);
    h.set_mode(0o644);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    b.append_data(&mut h, name, content).unwrap();
    b.into_inner().unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut e, bytes).unwrap();
    e.finish().unwrap()
}

fn config_json(arch: &str) -> Vec<u8> {
    format!(
        r#"{{"architecture":"{arch}","os":"linux","config":{{"Env":["PATH=/bin"],"User":"dev","Cmd":["/bin/sh"]}},
            "rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    )
    .into_bytes()
}

/// Writes OCI layouts blob by blob.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(dir: &Path) -> Self {
        fs_err::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs_err::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_owned(),
        }
    }

    /// Stores a blob; returns a descriptor JSON fragment for it.
    fn put(&self, media_type: &str, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        fs_err::write(self.dir.join("blobs/sha256").join(&digest[7..]), bytes).unwrap();
        format!(
            r#""mediaType":"{media_type}","digest":"{digest}","size":{}"#,
            bytes.len()
        )
    }

    /// A gzip-layer image for `arch`; returns the manifest descriptor fragment.
    fn image(&self, arch: &str, layer: &[u8]) -> String {
        let config = self.put(
            "application/vnd.oci.image.config.v1+json",
            &config_json(arch),
        );
        let layer = self.put("application/vnd.oci.image.layer.v1.tar+gzip", &gzip(layer));
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{{config}}},"layers":[{{{layer}}}]}}"#
        );
        self.put(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.as_bytes(),
        )
    }

    fn index_json(&self, entries: &[String]) {
        let body = format!(
            r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
            entries.join(",")
        );
        fs_err::write(self.dir.join("index.json"), body).unwrap();
    }
}

fn tagged(descriptor: &str, tag: &str) -> String {
    format!(r#"{{{descriptor},"annotations":{{"org.opencontainers.image.ref.name":"{tag}"}}}}"#)
}

fn read_layer(
    opener: &dyn BlobOpener,
    image: &ResolvedImage,
    i: usize,
) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    opener.open(&image.layers[i])?.read_to_end(&mut out)?;
    Ok(out)
}

fn open(spec: &str) -> (ResolvedImage, Box<dyn BlobOpener>) {
    match open_local(spec, &amd64()) {
        Ok(Some(found)) => found,
        Ok(None) => panic!("{spec} was not taken as local"),
        Err(e) => panic!("{spec}: {e}"),
    }
}

fn open_err(spec: &str) -> LayoutError {
    match open_local(spec, &amd64()) {
        Ok(Some(_)) => panic!("{spec} unexpectedly opened"),
        Ok(None) => panic!("{spec} was not taken as local"),
        Err(e) => e,
    }
}

#[test]
fn oci_dir_tag_resolves_config_and_verified_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(&tmp.path().join("img"));
    let layer = layer_tar("hello.txt", b"hello from the layer\n");
    let manifest = layout.image("amd64", &layer);
    layout.index_json(&[tagged(&manifest, "v1")]);

    let spec = format!("oci:{}:v1", tmp.path().join("img").display());
    let (image, opener) = open(&spec);
    assert_eq!(image.reference, spec, "the path is already absolute");
    assert_eq!(image.index_digest, None);
    assert_eq!(image.platform.to_string(), "linux/amd64");
    assert_eq!(image.platforms, std::slice::from_ref(&image.platform));
    assert_eq!(image.config.user.as_deref(), Some("dev"));
    assert_eq!(image.config.cmd, ["/bin/sh"]);
    assert_eq!(image.layers.len(), 1);
    assert_eq!(image.layers[0].compression, Compression::Gzip);
    assert_eq!(
        read_layer(opener.as_ref(), &image, 0).unwrap(),
        gzip(&layer)
    );
}

#[test]
fn oci_dir_without_tag_takes_the_single_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let manifest = layout.image("amd64", &layer_tar("a", b"a"));
    layout.index_json(&[format!("{{{manifest}}}")]);
    let (image, _) = open(&format!("oci:{}", tmp.path().display()));
    assert_eq!(image.layers.len(), 1);
}

#[test]
fn relative_oci_path_is_reported_absolute() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let manifest = layout.image("amd64", &layer_tar("a", b"a"));
    layout.index_json(&[tagged(&manifest, "t")]);
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(tmp.path(), &cwd);
    let (image, _) = open(&format!("oci:{}:t", relative.display()));
    assert!(
        Path::new(
            image
                .reference
                .strip_prefix("oci:")
                .unwrap()
                .trim_end_matches(":t")
        )
        .is_absolute(),
        "{}",
        image.reference
    );
}

/// `path` relative to `base` (both absolute), via `..` steps.
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let depth = base.components().count() - 1;
    let mut rel: PathBuf = std::iter::repeat_n("..", depth).collect();
    rel.push(path.strip_prefix("/").unwrap());
    rel
}

#[test]
fn oci_dir_unknown_tag_lists_available_tags() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let a = layout.image("amd64", &layer_tar("a", b"a"));
    let b = layout.image("amd64", &layer_tar("b", b"b"));
    layout.index_json(&[tagged(&a, "one"), tagged(&b, "two")]);
    let err = open_err(&format!("oci:{}:three", tmp.path().display()));
    assert!(
        err.to_string()
            .ends_with("no image tagged `three`; the layout has: one, two"),
        "{err}"
    );
    let err = open_err(&format!("oci:{}", tmp.path().display()));
    assert!(matches!(err, LayoutError::Ambiguous { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("holds several images; name one as oci:"),
        "{err}"
    );
}

#[test]
fn oci_dir_nested_index_selects_amd64_past_arm64_and_attestation() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let arm = layout.image("arm64", &layer_tar("arch", b"arm64"));
    let amd = layout.image("amd64", &layer_tar("arch", b"amd64"));
    let att = layout.put("application/vnd.oci.image.manifest.v1+json", br#"{"schemaVersion":2,"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}"#);
    let index = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
            {{{arm},"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}},
            {{{amd},"platform":{{"os":"linux","architecture":"amd64"}}}},
            {{{att},"platform":{{"os":"unknown","architecture":"unknown"}},"annotations":{{"vnd.docker.reference.type":"attestation-manifest"}}}}]}}"#
    );
    let index_desc = layout.put("application/vnd.oci.image.index.v1+json", index.as_bytes());
    layout.index_json(&[tagged(&index_desc, "multi")]);

    let (image, opener) = open(&format!("oci:{}:multi", tmp.path().display()));
    assert_eq!(image.platform.to_string(), "linux/amd64");
    assert_eq!(
        image.index_digest.as_ref().map(ToString::to_string),
        Some(sha256(index.as_bytes()))
    );
    let shown: Vec<String> = image.platforms.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["linux/arm64/v8", "linux/amd64"]);
    assert_eq!(
        read_layer(opener.as_ref(), &image, 0).unwrap(),
        gzip(&layer_tar("arch", b"amd64"))
    );

    let err = open_local(
        &format!("oci:{}:multi", tmp.path().display()),
        &"linux/s390x".parse().unwrap(),
    )
    .err()
    .unwrap();
    assert!(
        err.to_string().contains(
            "has no image for platform linux/s390x; available: linux/arm64/v8, linux/amd64"
        ),
        "{err}"
    );
}

#[test]
fn corrupted_layer_in_oci_dir_fails_at_eof_naming_both_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let manifest = layout.image("amd64", &layer_tar("f", b"original content"));
    layout.index_json(&[tagged(&manifest, "v1")]);
    let (image, opener) = open(&format!("oci:{}:v1", tmp.path().display()));

    // Same length, different bytes: only the digest can tell.
    let expected = image.layers[0].digest.clone();
    let blob = tmp.path().join("blobs/sha256").join(expected.hex());
    let mut bytes = fs_err::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs_err::write(&blob, &bytes).unwrap();

    let err = read_layer(opener.as_ref(), &image, 0).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("layer {expected} is corrupt: expected {expected}")),
        "{msg}"
    );
    assert!(msg.contains(&format!("got {}", sha256(&bytes))), "{msg}");
}

#[test]
fn corrupted_manifest_is_refused_when_opening() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(tmp.path());
    let manifest = layout.image("amd64", &layer_tar("f", b"x"));
    layout.index_json(&[tagged(&manifest, "v1")]);
    let digest = manifest
        .split(r#""digest":""#)
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let path = tmp.path().join("blobs/sha256").join(&digest[7..]);
    let text = fs_err::read_to_string(&path)
        .unwrap()
        .replace("schemaVersion\":2", "schemaVersion\":3");
    fs_err::write(&path, text).unwrap();
    let err = open_err(&format!("oci:{}:v1", tmp.path().display()));
    assert!(
        err.to_string()
            .contains(&format!("manifest {digest} is corrupt")),
        "{err}"
    );
}

#[test]
fn directory_without_oci_layout_file_is_not_a_layout() {
    let tmp = tempfile::tempdir().unwrap();
    let err = open_err(&format!("oci:{}", tmp.path().display()));
    assert!(matches!(err, LayoutError::NotALayout { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("is not an OCI image layout: cannot read its `oci-layout` file"),
        "{err}"
    );
}

/// Tars a directory with `./`-prefixed names, as `tar -C dir -cf file .` does.
fn tar_dir(dir: &Path, file: &Path) {
    let mut b = tar::Builder::new(fs_err::File::create(file).unwrap());
    b.append_dir_all(".", dir).unwrap();
    b.into_inner().unwrap();
}

#[test]
fn oci_archive_serves_blobs_as_sections_of_the_tar() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let layout = Layout::new(&dir);
    let layer = layer_tar("hello.txt", b"inside an archive\n");
    let manifest = layout.image("amd64", &layer);
    layout.index_json(&[tagged(&manifest, "v1")]);
    let archive = tmp.path().join("img.tar");
    tar_dir(&dir, &archive);
    fs_err::remove_dir_all(&dir).unwrap(); // nothing may be read from an extracted copy

    let spec = format!("oci-archive:{}:v1", archive.display());
    let (image, opener) = open(&spec);
    assert_eq!(image.reference, spec);
    assert_eq!(
        read_layer(opener.as_ref(), &image, 0).unwrap(),
        gzip(&layer)
    );
    // Two streams at once are independent.
    let mut a = opener.open(&image.layers[0]).unwrap();
    let mut b = opener.open(&image.layers[0]).unwrap();
    let (mut x, mut y) = ([0u8; 5], [0u8; 5]);
    a.read_exact(&mut x).unwrap();
    b.read_exact(&mut y).unwrap();
    assert_eq!(x, y);
}

#[test]
fn corrupted_layer_in_oci_archive_fails_at_eof() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let layout = Layout::new(&dir);
    let gz = gzip(&layer_tar("f", b"archive layer"));
    let manifest = layout.image("amd64", &layer_tar("f", b"archive layer"));
    layout.index_json(&[tagged(&manifest, "v1")]);
    let archive = tmp.path().join("img.tar");
    tar_dir(&dir, &archive);
    let (image, opener) = open(&format!("oci-archive:{}:v1", archive.display()));

    // Flip the last byte of the layer's data where it sits in the archive.
    let mut bytes = fs_err::read(&archive).unwrap();
    let at = bytes
        .windows(gz.len())
        .position(|w| w == gz.as_slice())
        .expect("layer stored verbatim");
    bytes[at + gz.len() - 1] ^= 0xff;
    fs_err::write(&archive, &bytes).unwrap();

    let err = read_layer(opener.as_ref(), &image, 0).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("layer {} is corrupt", image.layers[0].digest)),
        "{err}"
    );
}

#[test]
fn compressed_archive_is_refused_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("img.tar.gz");
    fs_err::write(&file, gzip(&layer_tar("x", b"x"))).unwrap();
    let err = open_err(&format!("oci-archive:{}", file.display()));
    assert!(
        err.to_string().contains(
            "it is gzip-compressed; wslbox reads archives in place, so decompress it first"
        ),
        "{err}"
    );
}

/// A legacy `docker save` archive: `<id>/layer.tar` files, the second image's layer a symlink to
/// the first's, one layer gzip-compressed.
fn legacy_docker_archive(file: &Path) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    let plain = layer_tar("etc/hostname", b"plain\n");
    let gz = gzip(&layer_tar("etc/motd", b"compressed\n"));
    let config = config_json("amd64");
    let config_name = format!("{}.json", &sha256(&config)[7..]);
    let manifest = format!(
        r#"[{{"Config":"{config_name}","RepoTags":["example.com/team/dev:1.0"],"Layers":["aaa/layer.tar","bbb/layer.tar"]}},
            {{"Config":"{config_name}","RepoTags":["alpine:latest"],"Layers":["ccc/layer.tar"]}}]"#
    );
    let mut b = tar::Builder::new(fs_err::File::create(file).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, data).unwrap();
    };
    add("aaa/layer.tar", &plain);
    add("bbb/layer.tar", &gz);
    add(&config_name, &config);
    add("manifest.json", manifest.as_bytes());
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_size(0);
    b.append_link(&mut h, "ccc/layer.tar", "../aaa/layer.tar")
        .unwrap();
    b.into_inner().unwrap();
    (plain, gz, config)
}

#[test]
fn docker_archive_legacy_layout_digests_files_as_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("save.tar");
    let (plain, gz, config) = legacy_docker_archive(&file);

    let (image, opener) = open(&format!(
        "docker-archive:{}:example.com/team/dev:1.0",
        file.display()
    ));
    assert_eq!(image.config_digest.to_string(), sha256(&config));
    assert_eq!(image.layers.len(), 2);
    assert_eq!(image.layers[0].digest.to_string(), sha256(&plain));
    assert_eq!(image.layers[0].compression, Compression::None);
    assert_eq!(
        image.layers[0].media_type,
        "application/vnd.oci.image.layer.v1.tar"
    );
    assert_eq!(image.layers[1].digest.to_string(), sha256(&gz));
    assert_eq!(image.layers[1].compression, Compression::Gzip);
    assert_eq!(image.layers[1].size, gz.len() as u64);
    assert_eq!(read_layer(opener.as_ref(), &image, 1).unwrap(), gz);

    // `alpine` normalizes to the archived `alpine:latest`; its layer is a symlink.
    let (alpine, opener) = open(&format!("docker-archive:{}:alpine", file.display()));
    assert_eq!(alpine.layers[0].digest.to_string(), sha256(&plain));
    assert_eq!(read_layer(opener.as_ref(), &alpine, 0).unwrap(), plain);
    let (by_index, _) = open(&format!("docker-archive:{}:@1", file.display()));
    assert_eq!(by_index.manifest_digest, alpine.manifest_digest);
}

#[test]
fn docker_archive_with_several_images_needs_a_selector() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("save.tar");
    legacy_docker_archive(&file);
    let err = open_err(&format!("docker-archive:{}", file.display()));
    assert!(
        err.to_string()
            .contains("(available: example.com/team/dev:1.0, alpine:latest)"),
        "{err}"
    );
    let err = open_err(&format!("docker-archive:{}:busybox", file.display()));
    assert!(
        err.to_string().contains("no image tagged `busybox`"),
        "{err}"
    );
    let err = open_err(&format!("docker-archive:{}:@7", file.display()));
    assert!(
        err.to_string()
            .contains("there is no image @7; the archive holds 2"),
        "{err}"
    );
}

fn skopeo(args: &[&str]) {
    let out = Command::new("skopeo")
        .args(["--insecure-policy"])
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("skopeo is required for this test (scripts/install-test-deps installs it): {e}")
        });
    assert!(
        out.status.success(),
        "skopeo {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn skopeo_written_docker_archive_and_oci_archive_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("layout");
    let layout = Layout::new(&dir);
    let layer = layer_tar("usr/share/hello", b"written by skopeo\n");
    let manifest = layout.image("amd64", &layer);
    layout.index_json(&[tagged(&manifest, "v1")]);

    let docker = tmp.path().join("docker.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:v1", dir.display()),
        &format!("docker-archive:{}:example.com/x/y:v1", docker.display()),
    ]);
    let (image, opener) = open(&format!("docker-archive:{}", docker.display()));
    assert_eq!(image.platform.to_string(), "linux/amd64");
    assert_eq!(image.config.user.as_deref(), Some("dev"));
    assert_eq!(image.layers.len(), 1);
    let bytes = read_layer(opener.as_ref(), &image, 0).unwrap();
    assert_eq!(
        image.layers[0].digest.to_string(),
        sha256(&bytes),
        "digest is the stored file's sha256"
    );
    let stored = match image.layers[0].compression {
        Compression::Gzip => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        Compression::None => bytes,
        Compression::Zstd => zstd::decode_all(&bytes[..]).unwrap(),
        other => panic!("skopeo does not write {} layers", other.name()),
    };
    assert_eq!(stored, layer, "the archived layer holds the original tar");

    let oci = tmp.path().join("oci.tar");
    skopeo(&[
        "copy",
        &format!("oci:{}:v1", dir.display()),
        &format!("oci-archive:{}:v1", oci.display()),
    ]);
    let (image, opener) = open(&format!("oci-archive:{}:v1", oci.display()));
    assert_eq!(
        read_layer(opener.as_ref(), &image, 0).unwrap(),
        gzip(&layer)
    );
}

#[test]
fn docker_archive_new_format_trusts_blob_names_and_verifies_on_read() {
    // docker 25+ writes layers as blobs/sha256/<hex> next to an OCI index; manifest.json suffices.
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("save.tar");
    let layer = layer_tar("x", b"new format");
    let config = config_json("amd64");
    let (ld, cd) = (sha256(&layer), sha256(&config));
    let manifest = format!(
        r#"[{{"Config":"blobs/sha256/{}","RepoTags":["dev:1"],"Layers":["blobs/sha256/{}"]}}]"#,
        &cd[7..],
        &ld[7..]
    );
    let mut tampered = layer.clone();
    tampered[600] ^= 1;
    let mut b = tar::Builder::new(fs_err::File::create(&file).unwrap());
    for (name, data) in [
        (format!("blobs/sha256/{}", &ld[7..]), &tampered),
        (format!("blobs/sha256/{}", &cd[7..]), &config),
        ("manifest.json".to_owned(), &manifest.into_bytes()),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, name, &data[..]).unwrap();
    }
    b.into_inner().unwrap();

    let (image, opener) = open(&format!("docker-archive:{}", file.display()));
    assert_eq!(image.layers[0].digest.to_string(), ld);
    assert_eq!(image.config_digest.to_string(), cd);
    let err = read_layer(opener.as_ref(), &image, 0).unwrap_err();
    assert!(
        err.to_string()
            .starts_with(&format!("layer {ld} is corrupt: expected {ld}")),
        "{err}"
    );
}
