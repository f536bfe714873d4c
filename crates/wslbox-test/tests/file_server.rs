//! The tarball-URL file server, checked over raw HTTP and with curl (a real client that
//! follows redirects, drops credentials across hosts and resumes with `Range`), so a failing
//! `tarball:URL` test points at wslbox, not the server.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Output};

use sha2::{Digest as _, Sha256};
use wslbox_test::file_server::{Cut, FileServer, Serve, sha256sums};
use wslbox_test::registry_fixture::noise;
use wslbox_test::registry_http::{ClientResponse, get};

fn header<'a>(response: &'a ClientResponse, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn range(addr: SocketAddr, path: &str, spec: &str) -> ClientResponse {
    get(addr, path, &[("Range", spec)]).unwrap()
}

fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("curl (Debian package `curl`, see scripts/install-test-deps)")
}

#[test]
fn plain_serves_the_bytes_with_a_length_and_ignores_range() {
    let server = FileServer::start();
    let body = noise(1, 100_000);
    server.serve("/rootfs.tar.gz", body.clone(), Serve::plain());
    let full = get(server.addr(), "/rootfs.tar.gz?x=1", &[]).unwrap();
    assert_eq!(full.status, 200);
    assert_eq!(header(&full, "content-length"), Some("100000"));
    assert_eq!(header(&full, "accept-ranges"), Some("none"));
    assert_eq!(full.body, body);
    let ranged = range(server.addr(), "/rootfs.tar.gz", "bytes=10-");
    assert_eq!(ranged.status, 200, "no range support: the whole body again");
    assert_eq!(ranged.body, body);
    assert_eq!(get(server.addr(), "/missing", &[]).unwrap().status, 404);
    let seen = server.requests_for("/rootfs.tar.gz");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].target, "/rootfs.tar.gz?x=1");
    assert_eq!(seen[1].header("range"), Some("bytes=10-"));
}

#[test]
fn ranges_give_206_with_content_range_and_416_past_the_end() {
    let server = FileServer::start();
    let body = noise(2, 1000);
    server.serve("/f", body.clone(), Serve::ranges());
    let addr = server.addr();
    let r = range(addr, "/f", "bytes=100-199");
    assert_eq!(r.status, 206);
    assert_eq!(header(&r, "content-range"), Some("bytes 100-199/1000"));
    assert_eq!(header(&r, "content-length"), Some("100"));
    assert_eq!(r.body, body[100..200]);
    let open = range(addr, "/f", "bytes=990-");
    assert_eq!((open.status, &open.body[..]), (206, &body[990..]));
    let suffix = range(addr, "/f", "bytes=-5");
    assert_eq!(header(&suffix, "content-range"), Some("bytes 995-999/1000"));
    let clamped = range(addr, "/f", "bytes=900-5000");
    assert_eq!(
        header(&clamped, "content-range"),
        Some("bytes 900-999/1000")
    );
    let past = range(addr, "/f", "bytes=1000-");
    assert_eq!(past.status, 416);
    assert_eq!(header(&past, "content-range"), Some("bytes */1000"));
    let several = range(addr, "/f", "bytes=0-1,5-6");
    assert_eq!((several.status, several.body.len()), (200, 1000));
    let full = get(addr, "/f", &[]).unwrap();
    assert_eq!(header(&full, "accept-ranges"), Some("bytes"));
}

#[test]
fn redirects_to_a_path_and_to_another_host_without_credentials() {
    let front = FileServer::start();
    let other = FileServer::start_on(Ipv4Addr::new(127, 0, 0, 2).into());
    let body = noise(3, 5000);
    front.serve("/real.tar", body.clone(), Serve::plain());
    front.redirect("/moved.tar", "/real.tar");
    other.serve("/cdn/real.tar", body.clone(), Serve::plain());
    front.redirect("/away.tar", other.url("/cdn/real.tar"));
    front.redirect_with("/alias.tar", 307, front.localhost_url("/real.tar"));

    let r = get(front.addr(), "/moved.tar", &[]).unwrap();
    assert_eq!((r.status, header(&r, "location")), (302, Some("/real.tar")));

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("away");
    let curl_out = curl(&[
        "--location",
        "-H",
        "Authorization: Bearer secret-token",
        "-o",
        out.to_str().unwrap(),
        &front.url("/away.tar"),
    ]);
    assert!(curl_out.status.success(), "{curl_out:?}");
    assert_eq!(fs_err::read(&out).unwrap(), body);
    let first = front.requests_for("/away.tar");
    assert_eq!(
        first[0].header("authorization"),
        Some("Bearer secret-token")
    );
    let followed = other.requests_for("/cdn/real.tar");
    assert_eq!(followed.len(), 1);
    assert_eq!(
        followed[0].header("authorization"),
        None,
        "curl drops credentials on a redirect to another host"
    );
    assert_eq!(
        followed[0].header("host"),
        Some(other.addr().to_string().as_str())
    );

    let alias = get(front.addr(), "/alias.tar", &[]).unwrap();
    assert_eq!(alias.status, 307);
    let location = front.localhost_url("/real.tar");
    assert_eq!(header(&alias, "location"), Some(location.as_str()));
    assert!(location.starts_with("http://localhost:"));
}

#[test]
fn cut_once_then_curl_resumes_with_range() {
    let server = FileServer::start();
    let body = noise(4, 300_000);
    server.serve(
        "/big.tar",
        body.clone(),
        Serve::ranges().cut(Cut::once(70_000)),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("big.tar");
    let url = server.url("/big.tar");
    let first = curl(&["-o", out.to_str().unwrap(), &url]);
    assert_eq!(
        first.status.code(),
        Some(18),
        "curl: partial file: {first:?}"
    );
    assert_eq!(fs_err::read(&out).unwrap(), body[..70_000]);
    let resumed = curl(&["-C", "-", "-o", out.to_str().unwrap(), &url]);
    assert!(resumed.status.success(), "{resumed:?}");
    assert_eq!(fs_err::read(&out).unwrap(), body);
    let seen = server.requests_for("/big.tar");
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("range"), None);
    assert_eq!(seen[1].header("range"), Some("bytes=70000-"));
}

#[test]
fn cut_always_limits_every_response() {
    let server = FileServer::start();
    let body = noise(5, 10_000);
    server.serve("/f", body.clone(), Serve::ranges().cut(Cut::always(1000)));
    server.serve(
        "/twice",
        body.clone(),
        Serve::plain().cut(Cut {
            after: 10,
            times: Some(2),
        }),
    );
    let addr = server.addr();
    let a = get(addr, "/f", &[]).unwrap();
    assert_eq!(header(&a, "content-length"), Some("10000"));
    assert_eq!(a.body, body[..1000]);
    let b = range(addr, "/f", "bytes=1000-");
    assert_eq!((b.status, &b.body[..]), (206, &body[1000..2000]));
    let lens: Vec<usize> = (0..3)
        .map(|_| get(addr, "/twice", &[]).unwrap().body.len())
        .collect();
    assert_eq!(lens, [10, 10, 10_000]);
}

#[test]
fn corrupt_serves_the_right_length_with_the_wrong_hash() {
    let server = FileServer::start();
    let body = noise(6, 4096);
    server.serve("/rootfs.tar", body.clone(), Serve::ranges().corrupt());
    server.serve_sha256sums("/SHA256SUMS", &[("rootfs.tar", &body), ("other", b"x")]);
    let got = get(server.addr(), "/rootfs.tar", &[]).unwrap();
    assert_eq!(got.body.len(), body.len());
    assert_ne!(got.body, body);
    let differing: Vec<usize> = (0..body.len())
        .filter(|&i| got.body[i] != body[i])
        .collect();
    assert_eq!(differing, [2048]);
    let tail = range(server.addr(), "/rootfs.tar", "bytes=2000-");
    assert_eq!(
        tail.body,
        got.body[2000..],
        "ranges see the same wrong bytes"
    );
    let sums = get(server.addr(), "/SHA256SUMS", &[]).unwrap();
    let text = String::from_utf8(sums.body).unwrap();
    let expected = format!("{}  rootfs.tar", hex::encode(Sha256::digest(&body)));
    assert_eq!(text.lines().next(), Some(expected.as_str()));
    assert_eq!(text, sha256sums(&[("rootfs.tar", &body), ("other", b"x")]));
    assert!(text.ends_with(&format!("{}  other\n", hex::encode(Sha256::digest(b"x")))));
}

#[test]
fn files_stream_from_disk_with_head_and_statuses() {
    let server = FileServer::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.bin");
    let body = noise(7, 200_000);
    fs_err::write(&path, &body).unwrap();
    server.serve(
        "/disk",
        wslbox_test::file_server::Body::File(path),
        Serve::ranges(),
    );
    server.respond("/broken", 503);
    let r = range(server.addr(), "/disk", "bytes=65530-65545");
    assert_eq!(r.body, body[65530..65546]);
    let curl_head = curl(&["--head", &server.url("/disk")]);
    let head = String::from_utf8_lossy(&curl_head.stdout);
    assert!(head.contains("Content-Length: 200000"), "{head}");
    assert_eq!(server.requests_for("/disk")[1].method, "HEAD");
    assert_eq!(get(server.addr(), "/broken", &[]).unwrap().status, 503);
}
