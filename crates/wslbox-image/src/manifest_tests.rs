//! Unit tests for manifest parsing, platform selection and config parsing.

use super::*;
use crate::Compression;

fn d(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

fn entry(c: char, platform: &str, extra: &str) -> String {
    let (os, arch_variant) = platform.split_once('/').unwrap();
    let (arch, variant) = match arch_variant.split_once('/') {
        Some((a, v)) => (a, format!(r#","variant":"{v}""#)),
        None => (arch_variant, String::new()),
    };
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":100,
            "platform":{{"os":"{os}","architecture":"{arch}"{variant}}}{extra}}}"#,
        d(c)
    )
}

fn index(entries: &[String]) -> Vec<IndexEntry> {
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
        entries.join(",")
    );
    match parse(None, body.as_bytes(), "img").unwrap() {
        Parsed::Index(e) => e,
        other => panic!("expected an index, got {other:?}"),
    }
}

fn p(s: &str) -> Platform {
    s.parse().unwrap()
}

#[test]
fn multi_arch_index_selects_amd64_past_arm64_and_attestation() {
    let attestation = r#","annotations":{"vnd.docker.reference.type":"attestation-manifest","vnd.docker.reference.digest":"sha256:x"}"#;
    let entries = index(&[
        entry('a', "linux/arm64/v8", ""),
        entry('b', "linux/amd64", ""),
        entry('c', "unknown/unknown", attestation),
    ]);
    assert!(entries[2].is_attestation);
    let chosen = select(&entries, &p("linux/amd64"), "img").unwrap();
    assert_eq!(chosen.target.digest.to_string(), d('b'));
    // platforms() reports what the index says (arm64/v8), not the normalized form.
    assert_eq!(
        platforms(&entries),
        [
            Platform::new("linux", "arm64", Some("v8")),
            Platform::new("linux", "amd64", None)
        ]
    );
}

#[test]
fn unknown_unknown_is_an_attestation_even_without_annotation() {
    let entries = index(&[entry('a', "unknown/unknown", "")]);
    assert!(entries[0].is_attestation);
    let err = select(&entries, &p("linux/amd64"), "img").unwrap_err();
    assert_eq!(
        err.to_string(),
        "img has no image for platform linux/amd64; available: none"
    );
}

#[test]
fn no_match_lists_available_platforms() {
    let entries = index(&[
        entry('a', "linux/arm64/v8", ""),
        entry('b', "linux/s390x", ""),
    ]);
    let err = select(&entries, &p("linux/amd64"), "docker.io/library/x:1").unwrap_err();
    assert_eq!(
        err.to_string(),
        "docker.io/library/x:1 has no image for platform linux/amd64; available: linux/arm64/v8, linux/s390x"
    );
}

#[test]
fn arm64_request_selects_entry_with_v8_variant() {
    let entries = index(&[
        entry('a', "linux/amd64", ""),
        entry('b', "linux/arm64/v8", ""),
    ]);
    assert_eq!(
        select(&entries, &p("linux/arm64"), "img")
            .unwrap()
            .target
            .digest
            .to_string(),
        d('b')
    );
}

#[test]
fn exact_arm_variant_beats_compatible_older_one() {
    let entries = index(&[
        entry('a', "linux/arm/v6", ""),
        entry('b', "linux/arm/v7", ""),
    ]);
    assert_eq!(
        select(&entries, &p("linux/arm/v7"), "img")
            .unwrap()
            .target
            .digest
            .to_string(),
        d('b')
    );
    let only_v5_v6 = index(&[
        entry('a', "linux/arm/v5", ""),
        entry('b', "linux/arm/v6", ""),
    ]);
    assert_eq!(
        select(&only_v5_v6, &p("linux/arm/v7"), "img")
            .unwrap()
            .target
            .digest
            .to_string(),
        d('b')
    );
    let only_v8 = index(&[entry('a', "linux/arm/v8", "")]);
    assert!(select(&only_v8, &p("linux/arm/v7"), "img").is_err());
}

#[test]
fn amd64_without_variant_falls_back_to_oldest_offered_variant() {
    let entries = index(&[
        entry('a', "linux/amd64/v3", ""),
        entry('b', "linux/amd64/v2", ""),
    ]);
    assert_eq!(
        select(&entries, &p("linux/amd64"), "img")
            .unwrap()
            .target
            .digest
            .to_string(),
        d('b')
    );
    // An explicit variant is honoured strictly.
    assert!(
        select(&entries, &p("linux/amd64/v1"), "img")
            .is_ok_and(|e| e.target.digest.to_string() == d('b'))
    );
}

#[test]
fn docker_manifest_list_is_an_index() {
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json",
            "manifests":[{{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{}","size":528,
              "platform":{{"architecture":"amd64","os":"linux"}}}},
              {{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"{}","size":528,
              "platform":{{"architecture":"arm","os":"linux","variant":"v7"}}}}]}}"#,
        d('1'),
        d('2')
    );
    let Parsed::Index(entries) = parse(
        Some("application/vnd.docker.distribution.manifest.list.v2+json"),
        body.as_bytes(),
        "img",
    )
    .unwrap() else {
        panic!("expected index")
    };
    assert_eq!(entries.len(), 2);
    assert_eq!(
        entries[1].platform,
        Some(Platform::new("linux", "arm", Some("v7")))
    );
    assert_eq!(
        entries[1].target.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        select(&entries, &p("linux/armhf"), "img")
            .unwrap()
            .target
            .digest
            .to_string(),
        d('2')
    );
}

fn manifest_body(media_type: &str, layer_types: &[&str]) -> String {
    let layers: Vec<String> = layer_types
        .iter()
        .enumerate()
        .map(|(i, t)| {
            format!(
                r#"{{"mediaType":"{t}","digest":"{}","size":{}}}"#,
                d(char::from(b'a' + i as u8)),
                10 + i
            )
        })
        .collect();
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{media_type}",
            "config":{{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"{}","size":1469}},
            "layers":[{}]}}"#,
        d('f'),
        layers.join(",")
    )
}

#[test]
fn docker_schema2_manifest_layers_and_config() {
    let body = manifest_body(
        "application/vnd.docker.distribution.manifest.v2+json",
        &[
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        ],
    );
    let Parsed::Manifest(m) = parse(None, body.as_bytes(), "img").unwrap() else {
        panic!("expected manifest")
    };
    assert_eq!(m.config.digest.to_string(), d('f'));
    assert_eq!(m.config.size, 1469);
    assert_eq!(m.layers.len(), 2);
    assert_eq!(m.layers[0].compression, Compression::Gzip);
    assert_eq!(m.layers[1].size, 11);
}

#[test]
fn zstd_and_nondistributable_layers_keep_media_type_and_urls() {
    let body = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",
            "config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},
            "layers":[
              {{"mediaType":"application/vnd.oci.image.layer.v1.tar+zstd","digest":"{}","size":3}},
              {{"mediaType":"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip","digest":"{}","size":4,
                "urls":["https://example.com/layer.tgz"]}},
              {{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{}","size":5}}]}}"#,
        d('0'),
        d('1'),
        d('2'),
        d('3')
    );
    let Parsed::Manifest(m) = parse(
        Some("application/vnd.oci.image.manifest.v1+json"),
        body.as_bytes(),
        "img",
    )
    .unwrap() else {
        panic!("expected manifest")
    };
    let kinds: Vec<_> = m.layers.iter().map(|l| l.compression).collect();
    assert_eq!(
        kinds,
        [Compression::Zstd, Compression::Gzip, Compression::None]
    );
    assert_eq!(m.layers[1].urls, ["https://example.com/layer.tgz"]);
    assert_eq!(
        m.layers[1].media_type,
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
    );
}

#[test]
fn unsupported_layer_type_names_layer() {
    let body = manifest_body(
        OCI_MANIFEST_TYPE,
        &["application/vnd.oci.image.layer.v1.tar+bzip2"],
    );
    let err = parse(None, body.as_bytes(), "ghcr.io/o/i:1").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "ghcr.io/o/i:1: unsupported layer media type `application/vnd.oci.image.layer.v1.tar+bzip2` for layer {}",
            d('a')
        )
    );
}

const OCI_MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

#[test]
fn schema1_is_rejected_by_content_type_and_by_body() {
    let schema1 = br#"{"schemaVersion":1,"name":"library/old","tag":"latest","architecture":"amd64",
        "fsLayers":[{"blobSum":"sha256:a3ed95caeb02ffe68cdd9fd84406680ae93d633cb16422d00e8a7c22955b46d4"}],"history":[]}"#;
    for content_type in [
        Some("application/vnd.docker.distribution.manifest.v1+prettyjws"),
        Some("application/vnd.docker.distribution.manifest.v1+json"),
        Some("application/json"),
        None,
    ] {
        let err = parse(content_type, schema1, "docker.io/library/old:latest").unwrap_err();
        assert!(
            matches!(err, ManifestError::Schema1 { .. }),
            "{content_type:?}: {err}"
        );
        assert!(
            err.to_string()
                .starts_with("docker.io/library/old:latest uses the legacy Docker schema 1"),
            "{err}"
        );
    }
}

#[test]
fn content_type_wins_over_body_and_generic_types_defer_to_body() {
    let body = manifest_body(
        OCI_MANIFEST_TYPE,
        &["application/vnd.oci.image.layer.v1.tar+gzip"],
    );
    assert!(matches!(
        parse(Some("application/octet-stream"), body.as_bytes(), "img"),
        Ok(Parsed::Manifest(_))
    ));
    let err = parse(
        Some("application/vnd.oci.artifact.manifest.v1+json"),
        body.as_bytes(),
        "img",
    )
    .unwrap_err();
    assert!(
        matches!(err, ManifestError::UnsupportedMediaType { .. }),
        "{err}"
    );
}

#[test]
fn oci_documents_without_media_type_are_told_apart_by_shape() {
    let index_body = format!(
        r#"{{"schemaVersion":2,"manifests":[{}]}}"#,
        entry('a', "linux/amd64", "")
    );
    assert!(matches!(
        parse(None, index_body.as_bytes(), "img"),
        Ok(Parsed::Index(_))
    ));
    let manifest = manifest_body(OCI_MANIFEST_TYPE, &[]).replace(
        r#""mediaType":"application/vnd.oci.image.manifest.v1+json","#,
        "",
    );
    assert!(matches!(
        parse(None, manifest.as_bytes(), "img"),
        Ok(Parsed::Manifest(_))
    ));
}

#[test]
fn malformed_digest_is_reported() {
    let body = manifest_body(OCI_MANIFEST_TYPE, &[]).replace(&d('f'), "sha256:nothex");
    let err = parse(None, body.as_bytes(), "img").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "img: malformed manifest: descriptor digest: invalid digest `sha256:nothex`"
        ),
        "{err}"
    );
}

#[test]
fn config_fields_and_platform() {
    let cfg = br#"{"architecture":"arm64","variant":"v8","os":"linux",
        "config":{"Env":["PATH=/usr/bin","LANG=C.UTF-8"],"User":"1000:1000","WorkingDir":"/home/dev",
                  "Entrypoint":["/bin/sh","-c"],"Cmd":["echo hi"],"Labels":{"org.opencontainers.image.title":"x"}},
        "rootfs":{"type":"layers","diff_ids":[]}}"#;
    let (summary, platform) = parse_config(cfg, "img").unwrap();
    assert_eq!(platform, Platform::new("linux", "arm64", Some("v8")));
    assert_eq!(summary.env, ["PATH=/usr/bin", "LANG=C.UTF-8"]);
    assert_eq!(summary.user.as_deref(), Some("1000:1000"));
    assert_eq!(summary.working_dir.as_deref(), Some("/home/dev"));
    assert_eq!(summary.entrypoint, ["/bin/sh", "-c"]);
    assert_eq!(summary.cmd, ["echo hi"]);
    assert_eq!(
        summary
            .labels
            .get("org.opencontainers.image.title")
            .map(String::as_str),
        Some("x")
    );
}

#[test]
fn config_tolerates_nulls_empty_strings_and_string_cmd() {
    let cfg = br#"{"architecture":"amd64","os":"linux",
        "config":{"Env":null,"User":"","WorkingDir":"","Entrypoint":null,"Cmd":"/bin/sh","Labels":null}}"#;
    let (summary, platform) = parse_config(cfg, "img").unwrap();
    assert_eq!(platform.to_string(), "linux/amd64");
    assert_eq!(
        summary,
        ImageConfigSummary {
            cmd: vec!["/bin/sh".into()],
            ..Default::default()
        }
    );
    let no_config = br#"{"architecture":"amd64","os":"linux","config":null}"#;
    assert_eq!(
        parse_config(no_config, "img").unwrap().0,
        ImageConfigSummary::default()
    );
}

#[test]
fn config_without_platform_is_malformed() {
    let err = parse_config(br#"{"config":{}}"#, "img").unwrap_err();
    assert_eq!(
        err.to_string(),
        "img: malformed manifest: image config: missing `os` or `architecture`"
    );
}

#[test]
fn diff_ids_come_in_layer_order() {
    let config = format!(
        r#"{{"os":"linux","architecture":"amd64","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        d('a'),
        d('b')
    );
    let ids = parse_diff_ids(config.as_bytes(), "img").unwrap();
    assert_eq!(
        ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
        [d('a'), d('b')]
    );
    assert!(
        parse_diff_ids(br#"{"os":"linux"}"#, "img")
            .unwrap()
            .is_empty()
    );
    let err = parse_diff_ids(br#"{"rootfs":{"diff_ids":["nope"]}}"#, "img").unwrap_err();
    assert!(err.to_string().contains("rootfs.diff_ids: `nope`"), "{err}");
}
