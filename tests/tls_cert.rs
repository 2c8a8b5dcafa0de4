//! SPEC §14's development certificate, checked by real peers: `socklab cert`
//! with SOCKLAB_DATA_DIR in a temporary directory, read back by
//! `openssl x509` and `openssl verify`; a ServerTls on loopback spoken to by
//! `openssl s_client` (TLS 1.2 and 1.3, and with a client certificate) and
//! `curl --cacert`.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{TIMEOUT, require, run, run_with_input, socklab, text};
use socklab::tls::{DATA_DIR_ENV, DevStore, ServerTls};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// Runs `socklab cert ARGS` on the store in `dir`; returns stdout.
fn cert(dir: &Path, args: &[&str]) -> String {
    let out = run(
        socklab().env(DATA_DIR_ENV, dir).arg("cert").args(args),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "cert {args:?}: {stderr}");
    stdout
}

/// The pin on `cert show`'s last line.
fn pin_of(show: &str) -> String {
    let last = show.lines().last().expect("output");
    last.strip_prefix("certificate ")
        .unwrap_or_else(|| panic!("no pin line in {show:?}"))
        .to_string()
}

/// Runs `openssl ARGS` in `dir`; returns its status and stdout.
fn openssl(dir: &Path, args: &[&str]) -> (bool, String) {
    require("openssl");
    let out = run(Command::new("openssl").current_dir(dir).args(args), TIMEOUT);
    let (stdout, stderr) = text(&out);
    (out.status.success(), stdout + &stderr)
}

#[test]
fn dev_certificate_is_p256_sha256_for_a_year_with_the_loopback_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("socklab");
    let show = cert(&store, &["show"]);
    assert!(
        show.contains("names:       localhost, 127.0.0.1, ::1\n"),
        "{show}"
    );

    let (ok, leaf) = openssl(&store, &["x509", "-in", "cert.pem", "-text", "-noout"]);
    assert!(ok, "{leaf}");
    for part in [
        "Public Key Algorithm: id-ecPublicKey",
        "ASN1 OID: prime256v1",
        "Signature Algorithm: ecdsa-with-SHA256",
        "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
        "CA:FALSE",
        "TLS Web Server Authentication, TLS Web Client Authentication",
        "Digital Signature",
    ] {
        assert!(leaf.contains(part), "{part:?} not in {leaf}");
    }
    let (ok, ca) = openssl(&store, &["x509", "-in", "ca.pem", "-text", "-noout"]);
    assert!(ok, "{ca}");
    for part in [
        "CA:TRUE",
        "Certificate Sign",
        "ecdsa-with-SHA256",
        "prime256v1",
    ] {
        assert!(ca.contains(part), "{part:?} not in {ca}");
    }

    // A year ahead, give or take the test's own minutes; and backdated.
    let year = (365 * 86_400 - 7_200).to_string();
    let (ok, said) = openssl(
        &store,
        &["x509", "-in", "cert.pem", "-noout", "-checkend", &year],
    );
    assert!(ok, "expires within a year: {said}");
    let (ok, said) = openssl(&store, &["verify", "-CAfile", "ca.pem", "cert.pem"]);
    assert!(ok && said.trim() == "cert.pem: OK", "{said}");

    let mode = |name: &str| {
        let meta = std::fs::metadata(store.join(name)).expect("metadata");
        meta.permissions().mode() & 0o777
    };
    assert_eq!(mode("key.pem"), 0o600);
    assert_eq!(mode("ca-key.pem"), 0o600);
}

#[test]
fn pin_is_stable_matches_openssl_and_changes_with_cert_new() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path();
    let first = pin_of(&cert(store, &["show"]));
    assert_eq!(
        pin_of(&cert(store, &["show"])),
        first,
        "the same pin on every run"
    );

    // curl's --pinnedpubkey recipe, through a shell pipeline.
    require("openssl");
    let recipe = "openssl x509 -in cert.pem -pubkey -noout | openssl pkey -pubin -outform der \
                  | openssl dgst -sha256 -binary | base64";
    let out = run(
        Command::new("sh").current_dir(store).args(["-c", recipe]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(first, format!("sha256//{}", stdout.trim()));

    // A new SAN re-issues the leaf on the same key: the pin holds.
    let wider = cert(
        store,
        &["show", "--san", "127.0.0.5", "--san", "myhost.test"],
    );
    assert!(
        wider.contains("names:       localhost, myhost.test, 127.0.0.1, 127.0.0.5, ::1\n"),
        "{wider}"
    );
    assert_eq!(pin_of(&wider), first);

    let renewed = pin_of(&cert(store, &["new"]));
    assert_ne!(renewed, first, "cert new makes a new key");
    assert_eq!(pin_of(&cert(store, &["show"])), renewed);
}

#[test]
fn cert_ca_prints_the_path_or_the_pem() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = cert(dir.path(), &["ca"]);
    assert_eq!(path, format!("{}\n", dir.path().join("ca.pem").display()));
    let pem = cert(dir.path(), &["ca", "--pem"]);
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
    assert_eq!(
        pem,
        std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca.pem")
    );
}

#[test]
fn a_bad_san_is_a_one_line_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run(
        socklab()
            .env(DATA_DIR_ENV, dir.path())
            .args(["cert", "show", "--san", "no such name"]),
        TIMEOUT,
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout.is_empty(), "{stdout}");
    assert_eq!(
        stderr,
        "error: \"no such name\" is neither an IP address nor a DNS name\n"
    );
}

/// Serves `tls` on 127.0.0.1:0: each connection's first line is answered by
/// `answer(line)`, then the connection is closed.
async fn serve_one_line(tls: ServerTls, answer: fn(&str) -> String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let tls = tls.clone();
            tokio::spawn(async move {
                let Ok(stream) = tls.accept(tcp).await else {
                    return;
                };
                let mut stream = BufReader::new(stream);
                let mut line = String::new();
                if stream.read_line(&mut line).await.is_ok() {
                    let _ = stream.write_all(answer(&line).as_bytes()).await;
                    let _ = stream.shutdown().await;
                }
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_verifies_and_talks_to_a_dev_server() {
    require("openssl");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DevStore::new(dir.path());
    let tls = ServerTls::development(&store, &[], None).expect("server");
    let port = serve_one_line(tls, |line| line.to_string()).await;
    for version in ["-tls1_2", "-tls1_3"] {
        let ca = store.ca_path();
        let connect = format!("127.0.0.1:{port}");
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new("openssl");
            cmd.args(["s_client", "-connect", &connect, "-CAfile"])
                .arg(&ca)
                .args(["-verify_return_error", "-quiet", version]);
            run_with_input(&mut cmd, b"hello over tls\n", TIMEOUT)
        })
        .await
        .expect("s_client");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{version}: {stderr}");
        assert_eq!(stdout, "hello over tls\n", "{version}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_with_a_client_certificate_passes_mutual_tls() {
    require("openssl");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DevStore::new(dir.path());
    let ca = store.ca().expect("CA");
    let tls = ServerTls::development(&store, &[], Some(&ca)).expect("mTLS server");
    let port = serve_one_line(tls, |line| line.to_string()).await;
    for with_cert in [true, false] {
        let (ca, cert, key) = (ca.clone(), store.cert_path(), store.key_path());
        let connect = format!("127.0.0.1:{port}");
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new("openssl");
            cmd.args(["s_client", "-connect", &connect, "-CAfile"])
                .arg(&ca);
            if with_cert {
                cmd.arg("-cert").arg(&cert).arg("-key").arg(&key);
            }
            cmd.args(["-verify_return_error", "-quiet"]);
            run_with_input(&mut cmd, b"mutual\n", TIMEOUT)
        })
        .await
        .expect("s_client");
        let (stdout, stderr) = text(&out);
        match with_cert {
            true => assert_eq!(stdout, "mutual\n", "{stderr}"),
            false => assert!(
                stdout.is_empty() && !out.status.success(),
                "{stdout} {stderr}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_accepts_the_dev_leaf_with_cacert() {
    require("curl");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DevStore::new(dir.path());
    let tls = ServerTls::development(&store, &[], None)
        .expect("server")
        .with_alpn(vec![b"http/1.1".to_vec()]);
    let port = serve_one_line(tls, |_| {
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nConnection: close\r\n\r\nhello\n".to_string()
    })
    .await;
    let resolve = format!("localhost:{port}:127.0.0.1");
    for url in [
        format!("https://localhost:{port}/"),
        format!("https://127.0.0.1:{port}/"),
    ] {
        let ca = store.ca_path();
        let resolve = resolve.clone();
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = Command::new("curl");
            cmd.args([
                "--silent",
                "--show-error",
                "--max-time",
                "20",
                "--resolve",
                &resolve,
            ])
            .arg("--cacert")
            .arg(&ca)
            .arg(&url);
            run(&mut cmd, TIMEOUT)
        })
        .await
        .expect("curl");
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stdout, "hello\n");
    }
}
