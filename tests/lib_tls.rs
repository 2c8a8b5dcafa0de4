//! The tls module through the library API, in process: a ServerTls and a
//! ClientTls over a duplex pipe, and every mistake SPEC §14 names coming back
//! as the TlsError that words it. Every await is under a timeout.

use std::future::Future;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair, date_time_ymd};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use socklab::tls::{ClientOptions, ClientTls, DevStore, Pin, ServerTls, Side, TlsError};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};
use tokio::time::timeout;

const LIMIT: Duration = Duration::from_secs(30);

/// Awaits `future`, failing the test if it takes longer than [`LIMIT`].
async fn within<F: Future>(future: F) -> F::Output {
    timeout(LIMIT, future).await.expect("in time")
}

/// A development store in a fresh temporary directory.
fn temp_store() -> (tempfile::TempDir, DevStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = DevStore::new(dir.path());
    (dir, store)
}

/// A server on `store`'s development certificate.
fn dev_server(store: &DevStore) -> ServerTls {
    ServerTls::development(store, &[], None).expect("development server")
}

/// A client trusting `store`'s CA.
fn trusting(store: &DevStore) -> ClientTls {
    let cacert = Some(store.ca().expect("CA"));
    ClientTls::new(&ClientOptions {
        cacert,
        ..ClientOptions::default()
    })
    .expect("client")
}

type Handshakes = (
    Result<tokio_rustls::server::TlsStream<DuplexStream>, TlsError>,
    Result<tokio_rustls::client::TlsStream<DuplexStream>, TlsError>,
);

/// Both ends of a handshake over a pipe, the client connecting to `host`.
async fn handshake(server: &ServerTls, client: &ClientTls, host: &str) -> Handshakes {
    let (ours, theirs) = duplex(64 * 1024);
    within(async { tokio::join!(server.accept(theirs), client.connect(ours, host)) }).await
}

#[tokio::test]
async fn dev_certificate_serves_names_and_addresses_and_carries_bytes() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let client = trusting(&store);
    for host in ["localhost", "127.0.0.1", "::1", "[::1]"] {
        let (accepted, connected) = handshake(&server, &client, host).await;
        let (mut accepted, mut connected) = (accepted.expect(host), connected.expect(host));
        within(connected.write_all(b"ping\n")).await.expect("write");
        within(connected.flush()).await.expect("flush");
        let mut got = [0u8; 5];
        within(accepted.read_exact(&mut got)).await.expect("read");
        assert_eq!(&got, b"ping\n");
        within(accepted.write_all(b"pong\n"))
            .await
            .expect("write back");
        within(accepted.flush()).await.expect("flush back");
        within(connected.read_exact(&mut got))
            .await
            .expect("read back");
        assert_eq!(&got, b"pong\n");
    }
}

#[tokio::test]
async fn a_returning_client_resumes_its_session() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let client = trusting(&store);
    let mut kinds = Vec::new();
    for _ in 0..2 {
        let (accepted, connected) = handshake(&server, &client, "localhost").await;
        let (mut accepted, mut connected) = (accepted.expect("server"), connected.expect("client"));
        // TLS 1.3 tickets travel after the handshake: one exchange delivers them.
        within(accepted.write_all(b"x")).await.expect("write");
        within(accepted.flush()).await.expect("flush");
        let mut byte = [0u8; 1];
        within(connected.read_exact(&mut byte)).await.expect("read");
        kinds.push(connected.get_ref().1.handshake_kind());
    }
    use rustls::HandshakeKind::{Full, Resumed};
    assert_eq!(kinds, [Some(Full), Some(Resumed)]);
}

#[tokio::test]
async fn pin_alone_trusts_the_dev_server_and_a_wrong_pin_is_named() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let pinned = |pin: Pin| {
        ClientTls::new(&ClientOptions {
            pin: Some(pin),
            ..ClientOptions::default()
        })
        .expect("client")
    };
    // No CA and a name the certificate does not have: the pin is enough.
    let (accepted, connected) = handshake(&server, &pinned(*server.pin()), "example.org").await;
    accepted.expect("server side");
    connected.expect("client side");

    let (_other_dir, other) = temp_store();
    let wrong = *dev_server(&other).pin();
    let (_, connected) = handshake(&server, &pinned(wrong), "localhost").await;
    let err = connected.expect_err("wrong pin");
    assert!(matches!(err, TlsError::PinMismatch { expected, got, .. }
        if expected == wrong && got == *server.pin()));
    assert_eq!(
        err.to_string(),
        format!(
            "certificate verify failed for localhost: pin mismatch: expected {wrong}, got {}",
            server.pin()
        )
    );
}

#[tokio::test]
async fn pin_with_cacert_needs_both() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let (_other_dir, other) = temp_store();
    let options = ClientOptions {
        pin: Some(*server.pin()),
        cacert: Some(other.ca().expect("other CA")),
        ..ClientOptions::default()
    };
    let client = ClientTls::new(&options).expect("client");
    let (_, connected) = handshake(&server, &client, "localhost").await;
    assert!(matches!(connected, Err(TlsError::UnknownIssuer { .. })));
}

#[tokio::test]
async fn wrong_hostname_lists_the_names_the_certificate_has() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let (accepted, connected) = handshake(&server, &trusting(&store), "example.org").await;
    let err = connected.expect_err("wrong name");
    assert!(matches!(err, TlsError::WrongName { .. }), "{err:?}");
    let text = err.to_string();
    assert_eq!(
        text,
        "certificate verify failed for example.org: not valid for example.org \
         (it is for: localhost, 127.0.0.1, ::1)"
    );
    // Our server hears the client's alert and says so in its words.
    let server_err = accepted.expect_err("refused by the client");
    assert!(
        matches!(server_err, TlsError::ClientRefused(_)),
        "{server_err:?}"
    );
}

#[tokio::test]
async fn unknown_ca_is_named_with_the_fix() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let (_other_dir, other) = temp_store();
    for client in [
        trusting(&other),
        ClientTls::new(&ClientOptions::default()).expect("client"),
    ] {
        let (_, connected) = handshake(&server, &client, "localhost").await;
        let err = connected.expect_err("unknown CA");
        assert!(matches!(err, TlsError::UnknownIssuer { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            "certificate verify failed for localhost: unknown issuer \
             (no trusted CA signed it; trust one with --cacert FILE)"
        );
    }
}

#[tokio::test]
async fn expired_certificate_is_named_with_its_date() {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("key")).expect("CA");
    let key = KeyPair::generate().expect("key");
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2021, 1, 1);
    let cert = params.signed_by(&key, &ca).expect("leaf");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let server = ServerTls::new(vec![cert.der().clone()], key, None).expect("server");

    let dir = tempfile::tempdir().expect("tempdir");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca.pem()).expect("write CA");
    let client = ClientTls::new(&ClientOptions {
        cacert: Some(ca_file),
        ..ClientOptions::default()
    })
    .expect("client");
    let (_, connected) = handshake(&server, &client, "localhost").await;
    let err = connected.expect_err("expired");
    assert!(matches!(err, TlsError::Expired { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "certificate verify failed for localhost: expired on 2021-01-01 00:00:00 UTC"
    );
}

#[tokio::test]
async fn client_certificate_is_required_with_a_client_ca() {
    let (_dir, store) = temp_store();
    let ca = store.ca().expect("CA");
    let server = ServerTls::development(&store, &[], Some(&ca)).expect("mTLS server");

    // Without a certificate: our server names what is missing; the client
    // hears it in the handshake (TLS 1.2) or on its first read (TLS 1.3).
    let (accepted, connected) = handshake(&server, &trusting(&store), "localhost").await;
    assert!(
        matches!(accepted, Err(TlsError::ClientCertMissing)),
        "{accepted:?}"
    );
    let client_err = match connected {
        Err(err) => err,
        Ok(mut stream) => {
            let mut byte = [0u8; 1];
            let err = within(stream.read(&mut byte)).await.expect_err("refused");
            TlsError::from_io(&err, Side::Client).expect("a TLS error")
        }
    };
    assert!(
        matches!(client_err, TlsError::ClientCertRequired),
        "{client_err:?}"
    );
    assert_eq!(
        client_err.to_string(),
        "the server requires a client certificate (give one with --cert FILE --key FILE)"
    );

    // With the development leaf (it has the clientAuth usage) it is accepted.
    let with_cert = ClientTls::new(&ClientOptions {
        cacert: Some(ca.clone()),
        cert: Some(store.cert_path()),
        key: Some(store.key_path()),
        ..ClientOptions::default()
    })
    .expect("client with a certificate");
    let (accepted, connected) = handshake(&server, &with_cert, "localhost").await;
    accepted.expect("client certificate accepted");
    connected.expect("handshake");
}

#[tokio::test]
async fn plain_text_to_a_tls_server_is_named() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    for plain in [
        &b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"[..],
        b"hello, world\n",
    ] {
        let (mut ours, theirs) = duplex(64 * 1024);
        within(ours.write_all(plain)).await.expect("write");
        let err = within(server.accept(theirs)).await.expect_err("plain text");
        assert!(matches!(err, TlsError::PlainTextClient), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the client sent plain text, not TLS (is it a TLS client? use --tls)"
        );
    }
}

/// What a TLS client says of a plain server that answers its ClientHello
/// with `answer` (the hello itself, for an echo server) and then closes.
async fn against_plain_server(answer: Option<&'static [u8]>) -> TlsError {
    let (_dir, store) = temp_store();
    let client = trusting(&store);
    let (ours, mut theirs) = duplex(64 * 1024);
    let plain = async move {
        let mut hello = vec![0u8; 4096];
        let n = theirs.read(&mut hello).await.expect("the ClientHello");
        let reply = answer.unwrap_or(&hello[..n]);
        theirs.write_all(reply).await.expect("reply");
        theirs.shutdown().await.expect("close");
    };
    let (_, connected) =
        within(async { tokio::join!(plain, client.connect(ours, "localhost")) }).await;
    connected.expect_err("plain server")
}

#[tokio::test]
async fn a_plain_server_is_named() {
    for answer in [
        Some(&b"Welcome!\r\n"[..]),
        Some(b"HTTP/1.1 400 Bad Request\r\n\r\n"),
        None,
    ] {
        let err = against_plain_server(answer).await;
        assert!(
            matches!(err, TlsError::PlainTextServer),
            "{answer:?}: {err:?}"
        );
        assert_eq!(
            err.to_string(),
            "the server answered in plain text, not TLS (is it a TLS server?)"
        );
    }
    let err = against_plain_server(Some(b"")).await;
    assert!(matches!(err, TlsError::ServerClosed), "{err:?}");
}

#[tokio::test]
async fn a_stalled_handshake_times_out() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store).with_handshake_timeout(Duration::from_millis(200));
    let (_ours, theirs) = duplex(64 * 1024);
    let err = within(server.accept(theirs)).await.expect_err("stalled");
    assert!(matches!(err, TlsError::ClientStalled(_)), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the client did not finish a TLS handshake within 200ms \
         (a stalled peer, or a plain-text client waiting for an answer)"
    );

    // A client that stalls the server's side: no answer to its hello.
    let client = ClientTls::new(&ClientOptions {
        handshake_timeout: Duration::from_millis(200),
        ..ClientOptions::default()
    })
    .expect("client");
    let (ours, _theirs) = duplex(64 * 1024);
    let err = within(client.connect(ours, "localhost"))
        .await
        .expect_err("stalled");
    assert_eq!(err.to_string(), "TLS handshake timed out after 200ms");
}

#[tokio::test]
async fn insecure_trusts_anything_and_says_so() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store);
    let client = ClientTls::new(&ClientOptions {
        insecure: true,
        ..ClientOptions::default()
    })
    .expect("client");
    assert!(client.is_insecure());
    assert!(!trusting(&store).is_insecure());
    let (accepted, connected) = handshake(&server, &client, "example.org").await;
    accepted.expect("server side");
    connected.expect("client side");
}

#[tokio::test]
async fn alpn_is_negotiated_when_both_offer_it() {
    let (_dir, store) = temp_store();
    let server = dev_server(&store).with_alpn(vec![b"http/1.1".to_vec()]);
    let cacert = Some(store.ca().expect("CA"));
    let client = ClientTls::new(&ClientOptions {
        cacert,
        alpn: vec![b"http/1.1".to_vec()],
        ..ClientOptions::default()
    })
    .expect("client");
    let (accepted, connected) = handshake(&server, &client, "localhost").await;
    let accepted = accepted.expect("server side");
    let connected = connected.expect("client side");
    assert_eq!(accepted.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    assert_eq!(
        connected.get_ref().1.alpn_protocol(),
        Some(&b"http/1.1"[..])
    );
}

#[tokio::test]
async fn from_files_serves_a_pem_pair_and_refuses_a_key_that_does_not_match() {
    let (_dir, store) = temp_store();
    let leaf = store.leaf(&[]).expect("leaf");
    let server =
        ServerTls::from_files(&store.cert_path(), &store.key_path(), None).expect("server");
    assert_eq!(*server.pin(), leaf.info.pin);
    let summary = server.certificate().to_string();
    assert!(
        summary.starts_with("CN=localhost, O=socklab for localhost, 127.0.0.1, ::1 until "),
        "{summary}"
    );
    assert!(
        summary.ends_with(&format!("({})", leaf.info.pin)),
        "{summary}"
    );
    let (accepted, connected) = handshake(&server, &trusting(&store), "127.0.0.1").await;
    accepted.expect("server side");
    connected.expect("client side");

    let (_other_dir, other) = temp_store();
    other.leaf(&[]).expect("other leaf");
    let err =
        ServerTls::from_files(&store.cert_path(), &other.key_path(), None).expect_err("mismatch");
    assert!(matches!(err, TlsError::Config(_)), "{err:?}");
    assert!(
        err.to_string().starts_with("cannot use the certificate: "),
        "{err}"
    );
}

#[test]
fn missing_files_and_half_a_client_certificate_are_named() {
    let err = ServerTls::from_files(
        "/nonexistent/cert.pem".as_ref(),
        "/nonexistent/key.pem".as_ref(),
        None,
    )
    .expect_err("missing files");
    assert!(
        err.to_string()
            .starts_with("cannot read /nonexistent/cert.pem: "),
        "{err}"
    );
    let err = ClientTls::new(&ClientOptions {
        cert: Some("cert.pem".into()),
        ..ClientOptions::default()
    })
    .expect_err("no key");
    assert!(matches!(err, TlsError::CertWithoutKey));
}
