//! `login` verifies credentials against the registry before storing them; `logout` removes them.

mod support;

use std::path::Path;

use base64::Engine as _;
use support::{Reply, Server};
use wslbox_registry::{
    Client, ClientOptions, Credential, CredentialLocation, CredentialStore, ProxyConfig,
    RegistryError,
};

fn client(config_dir: &Path) -> Client {
    let credentials = CredentialStore {
        docker_config_dir: Some(config_dir.to_owned()),
        podman_auth_files: Vec::new(),
        helper_path: Some("".into()),
    };
    Client::new(ClientOptions {
        proxy: ProxyConfig::none(),
        credentials,
        ..ClientOptions::default()
    })
    .unwrap()
}

fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

async fn basic_registry() -> Server {
    let good = basic("alice", "right");
    Server::start("127.0.0.1", move |req, _| {
        if req.header("Authorization") == Some(good.as_str()) {
            Reply::new(200)
        } else {
            Reply::new(401).header("WWW-Authenticate", r#"Basic realm="test""#)
        }
    })
    .await
}

#[tokio::test]
async fn login_to_basic_registry_verifies_then_stores_in_config_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = basic_registry().await;
    let client = client(dir.path());
    let location = client
        .login(&server.authority(), "alice", "right")
        .await
        .unwrap();
    assert_eq!(
        location,
        CredentialLocation::File(dir.path().join("config.json"))
    );
    assert_eq!(
        client
            .options()
            .credentials
            .get(&server.authority())
            .unwrap(),
        Some(Credential::basic("alice", "right"))
    );
    assert!(
        server
            .seen()
            .iter()
            .any(|r| r.header("Authorization") == Some(basic("alice", "right").as_str()))
    );
}

#[tokio::test]
async fn wrong_password_is_refused_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let server = basic_registry().await;
    let client = client(dir.path());
    let err = client
        .login(&server.authority(), "alice", "wrong")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");
    assert!(err.to_string().contains(&server.authority()), "{err}");
    assert!(
        !err.to_string().contains("wrong\""),
        "no secret in the message: {err}"
    );
    assert!(!dir.path().join("config.json").exists());
}

#[tokio::test]
async fn login_to_token_registry_obtains_a_token_with_the_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let good = basic("bob", "pw");
    let server = Server::start("127.0.0.1", move |req, _| {
        if req.path().starts_with("/token") {
            return if req.header("Authorization") == Some(good.as_str()) {
                Reply::json(r#"{"access_token":"tkn","expires_in":120}"#)
            } else {
                Reply::new(401)
            };
        }
        if req.header("Authorization") == Some("Bearer tkn") {
            return Reply::new(200);
        }
        let realm = format!("http://{}/token", req.header("Host").unwrap());
        Reply::new(401).header(
            "WWW-Authenticate",
            format!(r#"Bearer realm="{realm}",service="tiny""#),
        )
    })
    .await;
    let client = client(dir.path());

    let err = client
        .login(&server.authority(), "bob", "nope")
        .await
        .unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err:?}");

    client
        .login(&server.authority(), "bob", "pw")
        .await
        .unwrap();
    let token_req = server
        .seen()
        .into_iter()
        .rev()
        .find(|r| r.path().starts_with("/token"))
        .unwrap();
    assert!(
        token_req.target.contains("service=tiny") && token_req.target.contains("account=bob"),
        "{}",
        token_req.target
    );
    assert_eq!(
        client
            .options()
            .credentials
            .get(&server.authority())
            .unwrap(),
        Some(Credential::basic("bob", "pw"))
    );
}

#[tokio::test]
async fn logout_removes_the_login_and_then_reports_not_logged_in() {
    let dir = tempfile::tempdir().unwrap();
    let server = basic_registry().await;
    let client = client(dir.path());
    client
        .login(&format!("http://{}/", server.authority()), "alice", "right")
        .await
        .unwrap();
    client.logout(&server.authority()).unwrap();
    assert_eq!(
        client
            .options()
            .credentials
            .get(&server.authority())
            .unwrap(),
        None
    );
    let err = client.logout(&server.authority()).unwrap_err();
    assert!(err.to_string().contains("not logged in"), "{err}");
}

#[test]
fn registry_names_are_normalized_like_docker_login() {
    use wslbox_registry::registry_name;
    assert_eq!(registry_name("https://index.docker.io/v1/"), "docker.io");
    assert_eq!(registry_name("registry-1.docker.io"), "docker.io");
    assert_eq!(registry_name("https://GHCR.io/"), "ghcr.io");
    assert_eq!(registry_name("localhost:5000"), "localhost:5000");
}
