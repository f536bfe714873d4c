//! Every way `wslbox pull` authenticates, against real `docker-registry` processes: open,
//! htpasswd (config.json `auths`, `credsStore`, `credHelpers`, podman's auth.json), token auth
//! (anonymous, with credentials, `access_token`-only, a token expiring mid-pull), and the
//! `login`/`logout` commands.

use serde_json::json;
use wslbox_test::registry::{Auth, Registry};
use wslbox_test::registry_env::{CliEnv, CredentialHelper, Outcome};
use wslbox_test::registry_fixture::{Image, ImageSpec, noise};
use wslbox_test::registry_front::{Front, FrontOptions};
use wslbox_test::skopeo::PushOptions;
use wslbox_test::token_server::{TokenField, TokenPolicy, TokenRequest, TokenServer};

const USER: &str = "alice";
const PASSWORD: &str = "correct horse";

fn cli() -> CliEnv {
    CliEnv::new(env!("CARGO_BIN_EXE_wslbox"))
}

fn push_small(registry: &Registry, reference: &str) -> Image {
    registry.push_image(
        reference,
        &ImageSpec::small("amd64"),
        &PushOptions::default(),
    )
}

/// A registry that requires `USER`/`PASSWORD`, with a small `app:v1` pushed.
fn htpasswd_registry() -> (Registry, Image) {
    let registry = Registry::start(Auth::htpasswd(USER, PASSWORD));
    let image = push_small(&registry, "app:v1");
    (registry, image)
}

/// A registry whose token server follows `policy`, with a small image pushed as `reference`.
fn token_registry(policy: TokenPolicy, reference: &str) -> (TokenServer, Registry, Image) {
    let server = TokenServer::start(policy);
    let registry = Registry::start(Auth::token(&server));
    let image = push_small(&registry, reference);
    (server, registry, image)
}

/// Gives `env`'s Docker config.json an `auths` entry for `registry`.
fn write_docker_auths(env: &CliEnv, registry: &str, user: &str, password: &str) {
    CliEnv::write_auths_file(
        &env.docker_config_dir().join("config.json"),
        registry,
        user,
        password,
    );
}

/// `wslbox login <host> -u <user> --password-stdin`, fed `stdin`.
fn login(env: &CliEnv, host: &str, user: &str, stdin: &str) -> Outcome {
    env.run_with_stdin(&["login", host, "-u", user, "--password-stdin"], stdin)
}

/// Asserts `wslbox pull <reference>` succeeds and prints the reference and the manifest digest.
#[track_caller]
fn assert_pulls(env: &CliEnv, reference: &str, image: &Image) {
    let outcome = env.run(&["pull", reference]);
    outcome.success();
    assert_eq!(
        outcome.stdout_field("Pulled "),
        Some(reference),
        "{outcome}"
    );
    assert_eq!(
        outcome.stdout_field("Digest: "),
        Some(image.manifest.digest.as_str()),
        "{outcome}"
    );
}

/// Asserts `outcome` is a failure whose error names `registry`.
#[track_caller]
fn assert_failed_naming(outcome: &Outcome, registry: &str) {
    outcome.failure();
    assert!(
        outcome.stderr.contains(registry),
        "the error should name {registry}:\n{outcome}"
    );
}

/// Asserts `wslbox pull <reference>` fails with an authentication error that names
/// `registry` and suggests `wslbox login`.
#[track_caller]
fn assert_pull_refused(env: &CliEnv, reference: &str, registry: &str) {
    let outcome = env.run(&["pull", reference]);
    assert_failed_naming(&outcome, registry);
    assert!(
        outcome.stderr.contains("wslbox login"),
        "the error should suggest `wslbox login`:\n{outcome}"
    );
}

/// Asserts `helper` was asked for `registry`'s credentials.
#[track_caller]
fn assert_helper_asked_for(helper: &CredentialHelper, registry: &str) {
    assert!(
        helper.calls().contains(&format!("get {registry}")),
        "helper calls: {:?}",
        helper.calls()
    );
}

/// Asserts every token request that names scopes asks for `scope` alone: tokens are scoped
/// to the one repository, read-only.
#[track_caller]
fn assert_scoped_to(requests: &[TokenRequest], scope: &str) {
    for request in requests.iter().filter(|r| !r.scopes.is_empty()) {
        assert_eq!(request.scopes, [scope], "{request:?}");
    }
}

#[test]
fn anonymous_pull_from_open_registry() {
    let registry = Registry::start(Auth::None);
    let image = push_small(&registry, "app:v1");
    assert_pulls(&cli(), &registry.image("app:v1"), &image);
}

#[test]
fn htpasswd_registry_refuses_pull_without_credentials() {
    let (registry, _) = htpasswd_registry();
    assert_pull_refused(&cli(), &registry.image("app:v1"), &registry.host());
}

#[test]
fn htpasswd_credentials_from_docker_config_auths() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    write_docker_auths(&env, &registry.host(), USER, PASSWORD);
    assert_pulls(&env, &registry.image("app:v1"), &image);
}

#[test]
fn htpasswd_credentials_from_creds_store_helper() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    let helper = env.install_credential_helper("testhelper");
    helper.put(&registry.host(), USER, PASSWORD);
    env.write_docker_config(&json!({"credsStore": "testhelper"}));
    assert_pulls(&env, &registry.image("app:v1"), &image);
    assert_helper_asked_for(&helper, &registry.host());
}

#[test]
fn htpasswd_credentials_from_cred_helpers_entry() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    let helper = env.install_credential_helper("testhelper");
    helper.put(&registry.host(), USER, PASSWORD);
    // credHelpers names the helper for this registry only; the (missing) credsStore must not be used.
    env.write_docker_config(
        &json!({"credsStore": "absent", "credHelpers": {registry.host(): "testhelper"}}),
    );
    assert_pulls(&env, &registry.image("app:v1"), &image);
    assert_helper_asked_for(&helper, &registry.host());
}

#[test]
fn podman_auth_file_from_registry_auth_file() {
    let (registry, image) = htpasswd_registry();
    let mut env = cli();
    let auth_file = env.root().join("podman-auth.json");
    CliEnv::write_auths_file(&auth_file, &registry.host(), USER, PASSWORD);
    env.set_var("REGISTRY_AUTH_FILE", &auth_file);
    assert_pulls(&env, &registry.image("app:v1"), &image);
}

#[test]
fn podman_auth_file_in_xdg_runtime_dir() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    let containers = env.root().join("runtime/containers");
    fs_err::create_dir_all(&containers).unwrap();
    CliEnv::write_auths_file(
        &containers.join("auth.json"),
        &registry.host(),
        USER,
        PASSWORD,
    );
    assert_pulls(&env, &registry.image("app:v1"), &image);
}

#[test]
fn wrong_password_names_the_registry() {
    let (registry, _) = htpasswd_registry();
    let env = cli();
    write_docker_auths(&env, &registry.host(), USER, "wrong");
    assert_pull_refused(&env, &registry.image("app:v1"), &registry.host());
}

#[test]
fn token_anonymous_pull_of_public_repository() {
    let (server, registry, image) = token_registry(TokenPolicy::default(), "public/app:v1");
    let pushed = server.requests().len();
    assert_pulls(&cli(), &registry.image("public/app:v1"), &image);
    let pulls: Vec<_> = server.requests().split_off(pushed);
    assert!(
        !pulls.is_empty(),
        "wslbox never asked the token server for a token"
    );
    for request in pulls.iter().filter(|r| !r.scopes.is_empty()) {
        assert_eq!(
            request.user, None,
            "no credentials were configured: {request:?}"
        );
    }
    assert_scoped_to(&pulls, "repository:public/app:pull");
}

#[test]
fn token_anonymous_pull_of_private_repository_is_refused() {
    let (_server, registry, _) = token_registry(TokenPolicy::default(), "private/app:v1");
    assert_pull_refused(&cli(), &registry.image("private/app:v1"), &registry.host());
}

#[test]
fn token_pull_with_credentials() {
    let (server, registry, image) = token_registry(TokenPolicy::default(), "private/app:v1");
    let env = cli();
    write_docker_auths(&env, &registry.host(), "tokenuser", "tokenpass");
    let pushed = server.requests().len();
    assert_pulls(&env, &registry.image("private/app:v1"), &image);
    let pulls: Vec<_> = server.requests().split_off(pushed);
    assert!(
        pulls.iter().any(|r| r.authenticated),
        "no authenticated token request: {pulls:?}"
    );
    assert_scoped_to(&pulls, "repository:private/app:pull");
}

#[test]
fn token_response_with_access_token_only() {
    let policy = TokenPolicy {
        field: TokenField::AccessToken,
        ..TokenPolicy::default()
    };
    let (_server, registry, image) = token_registry(policy, "private/app:v1");
    let env = cli();
    write_docker_auths(&env, &registry.host(), "tokenuser", "tokenpass");
    assert_pulls(&env, &registry.image("private/app:v1"), &image);
}

#[test]
fn token_response_with_token_only() {
    let policy = TokenPolicy {
        field: TokenField::Token,
        ..TokenPolicy::default()
    };
    let (_server, registry, image) = token_registry(policy, "public/app:v1");
    assert_pulls(&cli(), &registry.image("public/app:v1"), &image);
}

#[test]
fn token_expiring_mid_pull_is_refreshed() {
    let server = TokenServer::start(TokenPolicy::default());
    let registry = Registry::start(Auth::token(&server));
    let mut spec = ImageSpec::small("amd64");
    spec.layers = (0..4)
        .map(|i| vec![(format!("data/{i}"), noise(i, 64 * 1024))])
        .collect();
    let image = registry.push_image("private/app:v1", &spec, &PushOptions::default());
    // The first token stops working after two repository requests (manifest and one more).
    let front = Front::start(
        &registry,
        FrontOptions {
            expire_first_token_after: Some(2),
            ..FrontOptions::default()
        },
    );
    let env = cli();
    write_docker_auths(&env, &front.host(), "tokenuser", "tokenpass");
    let issued_before = server.tokens_issued();
    assert_pulls(&env, &front.image("private/app:v1"), &image);
    assert!(
        front.rejected_tokens() >= 1,
        "the expired token was never used again; the test proves nothing"
    );
    assert!(
        server.tokens_issued() - issued_before >= 2,
        "no new token after the 401: {:?}",
        server.requests()
    );
}

#[test]
fn login_pull_logout_cycle() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    let host = registry.host();
    login(&env, &host, USER, &format!("{PASSWORD}\n")).success();
    let config = env.docker_config().expect("login writes config.json");
    let auth = config["auths"][&host]["auth"]
        .as_str()
        .unwrap_or_else(|| panic!("no auths entry for {host}: {config}"));
    assert_eq!(
        auth,
        CliEnv::encode_auth(USER, PASSWORD),
        "config.json holds the wrong secret"
    );

    let reference = registry.image("app:v1");
    assert_pulls(&env, &reference, &image);

    env.run(&["logout", &host]).success();
    let config = env.docker_config().unwrap_or_default();
    assert!(
        config["auths"].get(&host).is_none(),
        "logout left credentials behind: {config}"
    );
    assert_pull_refused(&env, &reference, &host);
}

#[test]
fn login_stores_in_configured_credential_helper() {
    let (registry, image) = htpasswd_registry();
    let env = cli();
    let helper = env.install_credential_helper("testhelper");
    env.write_docker_config(&json!({"credsStore": "testhelper"}));
    let host = registry.host();
    login(&env, &host, USER, PASSWORD).success();
    assert_eq!(
        helper.get(&host),
        Some((USER.to_owned(), PASSWORD.to_owned()))
    );
    let config = env.docker_config().unwrap();
    assert!(
        config["auths"][&host].get("auth").is_none(),
        "the secret leaked into config.json: {config}"
    );

    assert_pulls(&env, &registry.image("app:v1"), &image);
    env.run(&["logout", &host]).success();
    assert_eq!(
        helper.get(&host),
        None,
        "logout left the helper entry; calls: {:?}",
        helper.calls()
    );
}

#[test]
fn login_with_wrong_password_is_refused_and_stores_nothing() {
    let registry = Registry::start(Auth::htpasswd(USER, PASSWORD));
    let env = cli();
    let host = registry.host();
    assert_failed_naming(&login(&env, &host, USER, "wrong"), &host);
    let config = env.docker_config().unwrap_or_default();
    assert!(
        config["auths"].get(&host).is_none(),
        "a refused login stored credentials: {config}"
    );
}

#[test]
fn token_login_then_private_pull() {
    let (_server, registry, image) = token_registry(TokenPolicy::default(), "private/app:v1");
    let env = cli();
    let host = registry.host();
    assert_failed_naming(&login(&env, &host, "tokenuser", "wrong"), &host);
    login(&env, &host, "tokenuser", "tokenpass").success();
    assert_pulls(&env, &registry.image("private/app:v1"), &image);
}
