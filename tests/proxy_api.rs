//! toxiproxy's HTTP API driven with curl: create a proxy, add a latency
//! toxic and see it on a connection already open, delete it, reset.

mod common;
mod relay_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{require, socklab};
use relay_common::{LIMIT, Running};
use serde_json::{Value, json};

/// `curl -X METHOD URL [-d BODY]`: the status and the body as JSON (Null if empty).
fn curl(method: &str, url: &str, body: Option<&Value>) -> (u16, Value) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-m", "10", "-w", "\n%{http_code}", "-X", method, url]);
    if let Some(body) = body {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "-d",
            &body.to_string(),
        ]);
    }
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').expect("status line");
    let json = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{body:?}: {e}"))
    };
    (code.parse().expect("status"), json)
}

/// One echoed byte's round trip on `stream`.
fn round_trip(stream: &mut TcpStream) -> Duration {
    let start = Instant::now();
    stream.write_all(b"x").expect("write");
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).expect("echoed");
    start.elapsed()
}

#[test]
fn curl_drives_the_proxy_and_live_connections_follow() {
    require("curl");
    let mut cmd = socklab();
    cmd.args(["echo", "server", "127.0.0.1", "0"]);
    let echo = Running::start(cmd, true);
    let mut cmd = socklab();
    cmd.args(["proxy", "--api", "127.0.0.1:0"]);
    let api = Running::start(cmd, true);
    let base = format!("http://{}", api.addr);

    let (code, created) = curl(
        "POST",
        &format!("{base}/proxies"),
        Some(
            &json!({"name": "echo", "listen": "127.0.0.1:0", "upstream": echo.addr, "enabled": true}),
        ),
    );
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["name"], "echo");
    assert_eq!(created["upstream"], echo.addr.as_str());
    assert_eq!(created["toxics"], json!([]));
    let listen = created["listen"].as_str().expect("listen").to_string();
    let (code, again) = curl(
        "POST",
        &format!("{base}/proxies"),
        Some(&json!({"name": "echo", "listen": "127.0.0.1:0", "upstream": echo.addr})),
    );
    assert_eq!((code, again["status"].clone()), (409, json!(409)));

    let mut stream = TcpStream::connect(&listen).expect("through the proxy");
    stream.set_nodelay(true).expect("nodelay");
    stream.set_read_timeout(Some(LIMIT)).expect("timeout");
    assert!(round_trip(&mut stream) < Duration::from_millis(150));

    let (code, toxic) = curl(
        "POST",
        &format!("{base}/proxies/echo/toxics"),
        Some(
            &json!({"type": "latency", "stream": "downstream", "toxicity": 1.0, "attributes": {"latency": 300, "jitter": 0}}),
        ),
    );
    assert_eq!(code, 200, "{toxic}");
    assert_eq!(
        toxic,
        json!({"name": "latency_downstream", "type": "latency", "stream": "downstream",
               "toxicity": 1.0, "attributes": {"latency": 300, "jitter": 0}})
    );
    // The connection opened before the toxic now pays for it.
    let slow = round_trip(&mut stream);
    assert!(
        slow >= Duration::from_millis(290),
        "{slow:?} with a 300 ms toxic"
    );

    let (code, listed) = curl("GET", &format!("{base}/proxies"), None);
    assert_eq!(code, 200);
    assert_eq!(listed["echo"]["toxics"][0]["name"], "latency_downstream");

    let (code, _) = curl(
        "DELETE",
        &format!("{base}/proxies/echo/toxics/latency_downstream"),
        None,
    );
    assert_eq!(code, 204);
    let fast = round_trip(&mut stream);
    assert!(fast < Duration::from_millis(150), "{fast:?} once deleted");

    curl(
        "POST",
        &format!("{base}/proxies/echo/toxics"),
        Some(&json!({"type": "bandwidth", "attributes": {"rate": 1}})),
    );
    let (code, _) = curl("POST", &format!("{base}/reset"), None);
    assert_eq!(code, 204);
    let (_, toxics) = curl("GET", &format!("{base}/proxies/echo/toxics"), None);
    assert_eq!(toxics, json!([]));
    let (code, missing) = curl("GET", &format!("{base}/proxies/nope"), None);
    assert_eq!(
        (code, missing),
        (404, json!({"error": "proxy not found", "status": 404}))
    );
    let (code, version) = curl("GET", &format!("{base}/version"), None);
    assert_eq!(code, 200);
    assert!(version["version"].is_string());

    let (code, _) = curl("DELETE", &format!("{base}/proxies/echo"), None);
    assert_eq!(code, 204);
    // Deleting a proxy closes its connections (an end or a reset, not a
    // read that times out) and its listener.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut rest = Vec::new();
    if let Err(err) = stream.read_to_end(&mut rest) {
        let timed_out = matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        );
        assert!(!timed_out, "the connection outlived its proxy");
    }
    let until = Instant::now() + LIMIT;
    while TcpStream::connect(&listen).is_ok() {
        assert!(Instant::now() < until, "the listener outlived its proxy");
        std::thread::sleep(Duration::from_millis(10));
    }
}
