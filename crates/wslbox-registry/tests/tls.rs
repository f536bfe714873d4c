//! HTTPS trusts the certificates named by `SSL_CERT_FILE` (a corporate CA), against a real
//! TLS server (`openssl s_server`). The client reads the variable when it is built, so each
//! case runs in a child process with its own environment.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wslbox_registry::{Client, ClientOptions, CredentialStore, ProxyConfig};

const PORT_VAR: &str = "WSLBOX_TLS_TEST_PORT";
const DIR_VAR: &str = "WSLBOX_TLS_TEST_DIR";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("`openssl` is required for the TLS tests (scripts/install-test-deps installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Stops the TLS server when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run_child(port: u16, dir: &Path, ca_file: &Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_login_over_tls",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(PORT_VAR, port.to_string())
        .env(DIR_VAR, dir)
        .env("SSL_CERT_FILE", ca_file)
        .env_remove("SSL_CERT_DIR")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    stdout
        .split("RESULT=")
        .nth(1)
        .map(|r| r.lines().next().unwrap_or_default().to_owned())
        .unwrap_or_else(|| {
            panic!(
                "child printed no result: {stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

#[test]
fn https_trusts_the_ca_named_by_ssl_cert_file() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    for ca in ["corp-ca", "other-ca"] {
        let mut args = vec!["req", "-x509"];
        args.extend(ec);
        let (key, pem, subj) = (
            format!("{ca}.key"),
            format!("{ca}.pem"),
            format!("/CN={ca}"),
        );
        args.extend(["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
        openssl(dir, &args);
    }
    let mut args = vec!["req"];
    args.extend(ec);
    args.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=registry.example",
    ]);
    openssl(dir, &args);
    fs_err::write(
        dir.join("ext"),
        "subjectAltName=DNS:registry.example\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "corp-ca.pem",
            "-CAkey",
            "corp-ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Command::new("openssl")
        .args([
            "s_server",
            "-accept",
            &format!("127.0.0.1:{port}"),
            "-cert",
            "srv.pem",
            "-key",
            "srv.key",
            "-www",
            "-quiet",
        ])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .expect("start openssl s_server");
    let _server = Killed(server);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "openssl s_server did not start listening on {port}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    assert_eq!(run_child(port, dir, &dir.join("corp-ca.pem")), "ok");
    let refused = run_child(port, dir, &dir.join("other-ca.pem"));
    assert!(
        refused.starts_with("err:") && refused.contains("SSL_CERT_FILE"),
        "{refused}"
    );
}

/// Child side of `https_trusts_the_ca_named_by_ssl_cert_file`.
#[test]
#[ignore = "run as a child process by https_trusts_the_ca_named_by_ssl_cert_file"]
fn child_login_over_tls() {
    let port: u16 = std::env::var(PORT_VAR)
        .expect("run by the TLS test")
        .parse()
        .unwrap();
    let dir = std::path::PathBuf::from(std::env::var(DIR_VAR).unwrap());
    let options = ClientOptions {
        proxy: ProxyConfig::none(),
        // A non-loopback name, so HTTPS is the only option.
        resolve: vec![("registry.example".into(), "127.0.0.1".parse().unwrap())],
        credentials: CredentialStore {
            docker_config_dir: Some(dir.join("docker")),
            ..CredentialStore::default()
        },
        retry: wslbox_registry::RetryPolicy {
            max_attempts: 1,
            ..Default::default()
        },
        ..ClientOptions::default()
    };
    let client = Client::new(options).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `openssl s_server -www` answers any GET with 200, so login succeeds iff TLS does.
    match rt.block_on(client.login(&format!("registry.example:{port}"), "u", "p")) {
        Ok(_) => println!("RESULT=ok"),
        Err(e) => println!("RESULT=err:{e}"),
    }
}
