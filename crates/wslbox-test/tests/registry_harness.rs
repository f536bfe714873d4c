//! The registry harness itself, checked over raw HTTP: each setup really authenticates the
//! way the wslbox tests assume, so a failing wslbox test points at wslbox, not the harness.

use std::net::SocketAddr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_fixture::{ImageSpec, Layout, MEDIA_INDEX, MEDIA_MANIFEST};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::registry_http::{ClientResponse, get};
use wslbox_test::skopeo::PushOptions;
use wslbox_test::token_server::{SERVICE, TokenField, TokenPolicy, TokenServer};

const ACCEPT: &str =
    "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

fn push_small(registry: &Registry, name: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::create(dir.path());
    let image = layout.image(&ImageSpec::small("amd64"));
    layout.tag("v1", &image.manifest);
    registry.push(layout.dir(), "v1", &format!("{name}:v1"));
    image.manifest.digest
}

fn header<'a>(response: &'a ClientResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn manifest(addr: SocketAddr, name: &str, reference: &str, auth: Option<&str>) -> ClientResponse {
    let mut headers = vec![("Accept", ACCEPT)];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    get(addr, &format!("/v2/{name}/manifests/{reference}"), &headers).unwrap()
}

fn token(server: &TokenServer, scope: &str, creds: Option<(&str, &str)>) -> (u16, Value) {
    let realm = server.realm();
    let addr: SocketAddr = realm
        .trim_start_matches("http://")
        .trim_end_matches("/token")
        .parse()
        .unwrap();
    let basic = creds.map(|(u, p)| format!("Basic {}", STANDARD.encode(format!("{u}:{p}"))));
    let headers: Vec<(&str, &str)> = basic
        .iter()
        .map(|b| ("Authorization", b.as_str()))
        .collect();
    let response = get(
        addr,
        &format!("/token?service={SERVICE}&scope={scope}"),
        &headers,
    )
    .unwrap();
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap(),
    )
}

#[test]
fn open_registry_serves_pushed_manifest() {
    let registry = Registry::start(Auth::None);
    let digest = push_small(&registry, "app");
    let response = manifest(registry.addr(), "app", "v1", None);
    assert_eq!(response.status, 200, "{}", registry.log());
    assert_eq!(
        header(&response, "docker-content-digest"),
        Some(digest.as_str())
    );
    assert!(registry.blob_data_path(&digest).is_file());
}

#[test]
fn htpasswd_registry_requires_basic_credentials() {
    let registry = Registry::start(Auth::htpasswd("alice", "secret"));
    push_small(&registry, "app");
    assert_eq!(manifest(registry.addr(), "app", "v1", None).status, 401);
    let wrong = format!("Basic {}", STANDARD.encode("alice:wrong"));
    assert_eq!(
        manifest(registry.addr(), "app", "v1", Some(&wrong)).status,
        401
    );
    let right = format!("Basic {}", STANDARD.encode("alice:secret"));
    assert_eq!(
        manifest(registry.addr(), "app", "v1", Some(&right)).status,
        200
    );
}

#[test]
fn token_registry_accepts_only_tokens_scoped_by_policy() {
    let server = TokenServer::start(TokenPolicy {
        field: TokenField::AccessToken,
        ..TokenPolicy::default()
    });
    let registry = Registry::start(Auth::token(&server));
    push_small(&registry, "public/app");
    push_small(&registry, "private/app");

    let challenge = manifest(registry.addr(), "private/app", "v1", None);
    assert_eq!(challenge.status, 401);
    let www = header(&challenge, "www-authenticate").unwrap();
    assert!(
        www.starts_with("Bearer ") && www.contains(&server.realm()),
        "{www}"
    );

    let (status, body) = token(&server, "repository:public/app:pull", None);
    assert_eq!(status, 200);
    assert!(
        body.get("token").is_none(),
        "access_token-only policy: {body}"
    );
    let anonymous = format!("Bearer {}", body["access_token"].as_str().unwrap());
    assert_eq!(
        manifest(registry.addr(), "public/app", "v1", Some(&anonymous)).status,
        200,
        "{}",
        registry.log()
    );
    // The anonymous token grants nothing on private/, so the registry refuses it.
    assert_eq!(
        manifest(registry.addr(), "private/app", "v1", Some(&anonymous)).status,
        401
    );

    let (status, _) = token(
        &server,
        "repository:private/app:pull",
        Some(("tokenuser", "wrong")),
    );
    assert_eq!(status, 401);
    let (status, body) = token(
        &server,
        "repository:private/app:pull",
        Some(("tokenuser", "tokenpass")),
    );
    assert_eq!(status, 200);
    let user = format!("Bearer {}", body["access_token"].as_str().unwrap());
    assert_eq!(
        manifest(registry.addr(), "private/app", "v1", Some(&user)).status,
        200
    );

    let requests = server.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.scopes == ["repository:private/app:pull"] && r.authenticated)
    );
    assert!(
        requests
            .iter()
            .any(|r| r.user.as_deref() == Some("tokenuser") && !r.authenticated && r.status == 401)
    );
}

#[test]
fn multi_arch_index_keeps_entry_order_and_attestation() {
    let registry = Registry::start(Auth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::create(dir.path());
    let index = layout.index(
        &[ImageSpec::small("arm64"), ImageSpec::small("amd64")],
        true,
    );
    layout.tag("multi", &index.index);
    registry.push_with(layout.dir(), "multi", "multi:latest", &PushOptions::all());

    let response = manifest(registry.addr(), "multi", "latest", None);
    assert_eq!(response.status, 200, "{}", registry.log());
    assert_eq!(header(&response, "content-type"), Some(MEDIA_INDEX));
    assert_eq!(
        header(&response, "docker-content-digest"),
        Some(index.index.digest.as_str())
    );
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    let archs: Vec<&str> = body["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["platform"]["architecture"].as_str().unwrap())
        .collect();
    assert_eq!(archs, ["arm64", "amd64", "unknown"]);
    let attestation = index.attestation.unwrap();
    assert_eq!(
        manifest(registry.addr(), "multi", &attestation.digest, None).status,
        200
    );
    assert_eq!(
        header(
            &manifest(
                registry.addr(),
                "multi",
                &index.images[1].manifest.digest,
                None
            ),
            "content-type"
        ),
        Some(MEDIA_MANIFEST)
    );
}

#[test]
fn front_redirects_blobs_to_another_host() {
    let registry = Registry::start(Auth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::create(dir.path());
    let image = layout.image(&ImageSpec::small("amd64"));
    layout.tag("v1", &image.manifest);
    registry.push(layout.dir(), "v1", "app:v1");
    let front = Front::start(
        &registry,
        FrontOptions {
            redirect_blobs: true,
            ..FrontOptions::default()
        },
    );
    let front_addr: SocketAddr = front.host().parse().unwrap();

    assert_eq!(manifest(front_addr, "app", "v1", None).status, 200);
    let layer = &image.layers[0];
    let redirect = get(
        front_addr,
        &format!("/v2/app/blobs/{}", layer.digest),
        &[("Authorization", "Basic eDp5")],
    )
    .unwrap();
    assert_eq!(redirect.status, 307);
    let location = header(&redirect, "location").unwrap();
    let cdn = front.cdn_addr();
    assert!(
        location.starts_with(&format!("http://{cdn}/")),
        "{location}"
    );
    let target = location.trim_start_matches(&format!("http://{cdn}"));
    let blob = get(cdn, target, &[]).unwrap();
    assert_eq!(blob.status, 200);
    assert_eq!(
        format!("sha256:{}", hex::encode(Sha256::digest(&blob.body))),
        layer.digest
    );
    let seen = front.cdn_requests();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].header("authorization").is_none());
}

#[test]
fn front_expires_first_token_so_registry_challenges_again() {
    let server = TokenServer::start(TokenPolicy::default());
    let registry = Registry::start(Auth::token(&server));
    push_small(&registry, "public/app");
    let front = Front::start(
        &registry,
        FrontOptions {
            expire_first_token_after: Some(1),
            ..FrontOptions::default()
        },
    );
    let front_addr: SocketAddr = front.host().parse().unwrap();

    let (_, first) = token(&server, "repository:public/app:pull", None);
    let first = format!("Bearer {}", first["token"].as_str().unwrap());
    assert_eq!(
        manifest(front_addr, "public/app", "v1", Some(&first)).status,
        200
    );
    let expired = manifest(front_addr, "public/app", "v1", Some(&first));
    assert_eq!(expired.status, 401);
    assert!(
        header(&expired, "www-authenticate")
            .unwrap()
            .contains("scope=\"repository:public/app:pull\"")
    );
    let (_, second) = token(&server, "repository:public/app:pull", None);
    let second = format!("Bearer {}", second["token"].as_str().unwrap());
    assert_ne!(first, second);
    assert_eq!(
        manifest(front_addr, "public/app", "v1", Some(&second)).status,
        200
    );
    assert_eq!(front.rejected_tokens(), 1);
}

#[test]
fn registry_serves_tampered_storage_bytes_unverified() {
    let registry = Registry::start(Auth::None);
    let digest = push_small(&registry, "app");
    let path = registry.blob_data_path(&digest);
    let text = fs_err::read_to_string(&path).unwrap();
    let tampered = text.replace(
        r#""org.wslbox.test.mutable":"a""#,
        r#""org.wslbox.test.mutable":"b""#,
    );
    assert_ne!(text, tampered);
    fs_err::write(&path, &tampered).unwrap();
    // The wslbox digest tests rely on the registry passing corrupt bytes through.
    let response = manifest(registry.addr(), "app", &digest, None);
    assert_eq!(response.status, 200, "{}", registry.log());
    assert_eq!(response.body, tampered.as_bytes());
    assert_eq!(
        header(&response, "docker-content-digest"),
        Some(digest.as_str())
    );
}

#[test]
fn front_cuts_first_blob_download_and_registry_serves_ranges() {
    let registry = Registry::start(Auth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut layout = Layout::create(dir.path());
    let mut spec = ImageSpec::small("amd64");
    spec.layers = vec![vec![(
        "big".to_owned(),
        wslbox_test::registry_fixture::noise(3, 64 * 1024),
    )]];
    let image = layout.image(&spec);
    layout.tag("v1", &image.manifest);
    registry.push(layout.dir(), "v1", "app:v1");
    let layer = &image.layers[0];
    let options = FrontOptions {
        truncate_blob: Some((layer.digest.clone(), 1000)),
        ..FrontOptions::default()
    };
    let front = Front::start(&registry, options);
    let front_addr: SocketAddr = front.host().parse().unwrap();
    let target = format!("/v2/app/blobs/{}", layer.digest);

    let cut = get(front_addr, &target, &[]).unwrap();
    assert_eq!(cut.status, 200);
    assert_eq!(
        header(&cut, "content-length"),
        Some(layer.size.to_string().as_str())
    );
    assert_eq!(cut.body.len(), 1000);
    let rest = get(front_addr, &target, &[("Range", "bytes=1000-")]).unwrap();
    assert_eq!(rest.status, 206);
    assert_eq!(rest.body.len() as u64, layer.size - 1000);
    let whole = [cut.body, rest.body].concat();
    assert_eq!(
        format!("sha256:{}", hex::encode(Sha256::digest(&whole))),
        layer.digest
    );
}
