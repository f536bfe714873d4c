//! A token server for distribution's `auth: token` setup (the Docker registry token protocol).
//!
//! It issues ES256 JWTs whose header carries the signing certificate in `x5c`; distribution
//! 2.8 accepts a token when that chain verifies against its `rootcertbundle`, which
//! [`TokenServer::root_cert_bundle`] points at. The key and self-signed certificate are made
//! per server with the `openssl` CLI, so nothing secret lives in the repository.
//!
//! Policy ([`TokenPolicy`]): anonymous clients get `pull` on repositories under
//! `public_prefix`; a known user with the right password gets every action asked for; a wrong
//! password gets 401. Every request is recorded ([`TokenRequest`]) so tests can assert scopes.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use serde_json::json;
use tempfile::TempDir;

use crate::registry_http::{HttpServer, Request, Response};

/// The `service` the registry is configured with and clients must ask for.
pub const SERVICE: &str = "wslbox-test-registry";
/// The `iss` claim the registry trusts.
pub const ISSUER: &str = "wslbox-test-token-server";

/// Which JSON field carries the token (real servers differ; clients must accept both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenField {
    Token,
    AccessToken,
    Both,
}

/// Who may do what, and how tokens are shaped.
#[derive(Debug, Clone)]
pub struct TokenPolicy {
    /// Users and their passwords; each gets every action on every repository.
    pub users: Vec<(String, String)>,
    /// Anonymous clients may pull repositories whose name starts with this.
    pub public_prefix: String,
    /// `expires_in` in the response, and the lifetime of the JWT's `exp` claim.
    pub expires_in: u64,
    pub field: TokenField,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        Self {
            users: vec![("tokenuser".to_owned(), "tokenpass".to_owned())],
            public_prefix: "public/".to_owned(),
            expires_in: 300,
            field: TokenField::Both,
        }
    }
}

/// One request the token server answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub method: String,
    /// The Basic-auth user name, if the client sent one (valid or not).
    pub user: Option<String>,
    /// True when the client sent a known user with its correct password.
    pub authenticated: bool,
    /// `scope` values as sent, e.g. `repository:public/app:pull`.
    pub scopes: Vec<String>,
    pub service: Option<String>,
    /// HTTP status the server answered with.
    pub status: u16,
    /// The access granted, as `repository:NAME:ACTION,ACTION` strings.
    pub granted: Vec<String>,
}

/// A running token server; stops when dropped.
pub struct TokenServer {
    server: HttpServer,
    state: Arc<State>,
    dir: TempDir,
}

struct State {
    policy: TokenPolicy,
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    rng: SystemRandom,
    requests: Mutex<Vec<TokenRequest>>,
    issued: Mutex<u64>,
    /// Token requests still to reset, and how many were.
    resets: Mutex<(usize, usize)>,
}

impl TokenServer {
    /// Generates a signing key and certificate, then starts serving `/token` on 127.0.0.1.
    pub fn start(policy: TokenPolicy) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("wslbox-token-")
            .tempdir()
            .expect("create token server temp dir");
        let (key_der, cert_der) = make_signing_cert(dir.path());
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key_der, &rng)
            .expect("ring accepts the openssl-generated P-256 PKCS#8 key");
        let state = Arc::new(State {
            policy,
            key,
            cert_der,
            rng,
            requests: Mutex::new(Vec::new()),
            issued: Mutex::new(0),
            resets: Mutex::new((0, 0)),
        });
        let handler_state = Arc::clone(&state);
        let server = HttpServer::start(
            Ipv4Addr::LOCALHOST.into(),
            Arc::new(move |request: Request, mut stream: std::net::TcpStream| {
                if handler_state.reset_this_one() {
                    // SO_LINGER 0: the close sends RST, not FIN.
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    return;
                }
                let head_only = request.method == "HEAD";
                let response = handler_state.answer(&request);
                let _ = response.write_to(&mut stream, head_only);
            }),
        )
        .expect("start token server");
        Self { server, state, dir }
    }

    /// The `realm` URL for the registry's config and `WWW-Authenticate` challenges.
    pub fn realm(&self) -> String {
        format!("http://{}/token", self.server.addr())
    }

    /// PEM certificate the registry must trust (`auth.token.rootcertbundle`).
    pub fn root_cert_bundle(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The first configured user, used to push fixtures.
    pub fn first_user(&self) -> Option<(String, String)> {
        self.state.policy.users.first().cloned()
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state
            .requests
            .lock()
            .expect("token request log")
            .clone()
    }

    /// How many tokens were issued so far.
    pub fn tokens_issued(&self) -> u64 {
        *self.state.issued.lock().expect("token counter")
    }

    /// The next `n` token requests get a connection reset (RST) instead of an answer.
    pub fn reset_next(&self, n: usize) {
        self.state.resets.lock().expect("reset counter").0 = n;
    }

    /// How many token requests were reset ([`TokenServer::reset_next`]).
    pub fn resets(&self) -> usize {
        self.state.resets.lock().expect("reset counter").1
    }
}

impl State {
    fn reset_this_one(&self) -> bool {
        let mut resets = self.resets.lock().expect("reset counter");
        if resets.0 == 0 {
            return false;
        }
        resets.0 -= 1;
        resets.1 += 1;
        true
    }

    fn answer(&self, request: &Request) -> Response {
        let mut pairs = request.query_pairs();
        // The OAuth2 form (POST) carries the same fields in the body.
        if request.method == "POST" {
            pairs.extend(url::form_urlencoded::parse(&request.body).into_owned());
        }
        let scopes: Vec<String> = pairs
            .iter()
            .filter(|(k, _)| k == "scope")
            .map(|(_, v)| v.clone())
            .collect();
        let service = pairs
            .iter()
            .find(|(k, _)| k == "service")
            .map(|(_, v)| v.clone());
        let (user, password) = basic_credentials(request)
            .or_else(|| {
                let field = |name: &str| {
                    pairs
                        .iter()
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                };
                Some((field("username")?, field("password")?))
            })
            .map_or((None, None), |(u, p)| (Some(u), Some(p)));
        let authenticated = match (&user, &password) {
            (Some(u), Some(p)) => self
                .policy
                .users
                .iter()
                .any(|(user, pass)| user == u && pass == p),
            _ => false,
        };
        let mut record = TokenRequest {
            method: request.method.clone(),
            user: user.clone(),
            authenticated,
            scopes: scopes.clone(),
            service,
            status: 401,
            granted: Vec::new(),
        };
        let response = if user.is_some() && !authenticated {
            Response::json(
                401,
                &json!({"errors": [{"code": "UNAUTHORIZED", "message": "invalid username or password"}]}),
            )
        } else {
            let access = self.grant(&scopes, authenticated);
            record.granted = access
                .iter()
                .map(|(kind, name, actions)| format!("{kind}:{name}:{}", actions.join(",")))
                .collect();
            record.status = 200;
            self.token_response(
                user.as_deref().filter(|_| authenticated).unwrap_or(""),
                &access,
            )
        };
        self.requests
            .lock()
            .expect("token request log")
            .push(record);
        response
    }

    /// Intersects the requested scopes with the policy.
    fn grant(&self, scopes: &[String], authenticated: bool) -> Vec<(String, String, Vec<String>)> {
        let mut access = Vec::new();
        // One `scope` value may itself hold several space-separated scopes.
        for scope in scopes.iter().flat_map(|s| s.split(' ')) {
            let mut parts = scope.splitn(3, ':');
            let (Some(kind), Some(name), Some(actions)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let allowed: Vec<String> = actions
                .split(',')
                .filter(|action| {
                    kind == "repository"
                        && (authenticated
                            || (*action == "pull" && name.starts_with(&self.policy.public_prefix)))
                })
                .map(str::to_owned)
                .collect();
            if !allowed.is_empty() {
                access.push((kind.to_owned(), name.to_owned(), allowed));
            }
        }
        access
    }

    fn token_response(&self, subject: &str, access: &[(String, String, Vec<String>)]) -> Response {
        let now = unix_now();
        let jti = {
            let mut issued = self.issued.lock().expect("token counter");
            *issued += 1;
            *issued
        };
        let header =
            json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&self.cert_der)]});
        let claims = json!({
            "iss": ISSUER,
            "sub": subject,
            "aud": SERVICE,
            "exp": now + self.policy.expires_in,
            "nbf": now.saturating_sub(1),
            "iat": now,
            "jti": format!("wslbox-test-{jti}"),
            "access": access.iter().map(|(kind, name, actions)| json!({"type": kind, "name": name, "actions": actions})).collect::<Vec<_>>(),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("ES256 signing");
        let token = format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        );
        let mut body = json!({"expires_in": self.policy.expires_in, "issued_at": rfc3339_utc(now)});
        if matches!(self.policy.field, TokenField::Token | TokenField::Both) {
            body["token"] = json!(token);
        }
        if matches!(
            self.policy.field,
            TokenField::AccessToken | TokenField::Both
        ) {
            body["access_token"] = json!(token);
        }
        Response::json(200, &body)
    }
}

fn basic_credentials(request: &Request) -> Option<(String, String)> {
    let value = request.header("authorization")?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// Makes a P-256 key (PKCS#8 DER) and a self-signed certificate (`cert.pem`, returned as DER).
fn make_signing_cert(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    let key_pem = dir.join("key.pem");
    let cert_pem = dir.join("cert.pem");
    let key_der = dir.join("key.der");
    let cert_der = dir.join("cert.der");
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "3",
        "-subj",
        "/CN=wslbox-test-token-signer",
        "-keyout",
        &path_str(&key_pem),
        "-out",
        &path_str(&cert_pem),
    ]);
    openssl(&[
        "pkcs8",
        "-topk8",
        "-nocrypt",
        "-in",
        &path_str(&key_pem),
        "-outform",
        "DER",
        "-out",
        &path_str(&key_der),
    ]);
    openssl(&[
        "x509",
        "-in",
        &path_str(&cert_pem),
        "-outform",
        "DER",
        "-out",
        &path_str(&cert_der),
    ]);
    let read = |path: &Path| fs_err::read(path).unwrap_or_else(|err| panic!("{err}"));
    (read(&key_der), read(&cert_der))
}

fn openssl(args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run `openssl` ({err}); install it with scripts/install-test-deps")
        });
    assert!(
        output.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn path_str(path: &Path) -> String {
    path.to_str().expect("temp paths are UTF-8").to_owned()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Formats seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ` (civil-from-days, proleptic Gregorian).
fn rfc3339_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::rfc3339_utc;

    #[test]
    fn issued_at_is_rfc3339() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(1_709_251_199), "2024-02-29T23:59:59Z");
    }
}
