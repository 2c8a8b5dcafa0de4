//! The TCP proxy's toxics measured on live traffic, in process through the
//! library: latency's distribution, bandwidth's rate, slicer's writes,
//! slow_close, timeout, reset_peer, limit_data, toxicity; and the binary's
//! memory while a sender is held back by a slow link.

mod common;
mod relay_common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use socklab::net::{Endpoint, ServerOptions};
use socklab::proxy::{Toxic, tcp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

/// A proxy to `upstream` with `specs` as `--toxic` gives them.
struct Proxy {
    addr: SocketAddr,
    _toxics: watch::Sender<Arc<Vec<Toxic>>>,
    stop: CancellationToken,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn proxy(upstream: SocketAddr, specs: &[&str], seed: Option<u64>) -> Proxy {
    let toxics = specs
        .iter()
        .map(|s| Toxic::parse(s).expect("toxic"))
        .collect();
    let (sender, toxics) = watch::channel(Arc::new(toxics));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let options = tcp::Options {
        upstream: Endpoint::new("127.0.0.1", upstream.port()),
        toxics,
        seed,
        server: ServerOptions::default(),
        relay: Default::default(),
    };
    tokio::spawn(tcp::serve(
        listener,
        options,
        stop.clone().cancelled_owned(),
    ));
    Proxy {
        addr,
        _toxics: sender,
        stop,
    }
}

/// An upstream server running `serve` on every connection.
async fn upstream<F, Fut>(serve: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(serve(stream));
        }
    });
    addr
}

async fn echo(mut stream: TcpStream) {
    let (mut r, mut w) = stream.split();
    let _ = tokio::io::copy(&mut r, &mut w).await;
}

/// Round trips of one byte on `stream`, in milliseconds.
async fn round_trips(stream: &mut TcpStream, count: usize) -> Vec<f64> {
    let mut times = Vec::with_capacity(count);
    let mut byte = [0u8; 1];
    for _ in 0..count {
        let start = Instant::now();
        stream.write_all(b"x").await.expect("write");
        timeout(LIMIT, stream.read_exact(&mut byte))
            .await
            .expect("in time")
            .expect("read");
        times.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    times
}

fn mean_and_sd(values: &[f64]) -> (f64, f64) {
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
    (mean, var.sqrt())
}

// latency=100,jitter=20: each round trip is 80 to 120 ms plus loopback's
// fraction of one, the mean near 100, and the spread of a uniform ±20
// (standard deviation 20/√3 ≈ 11.5 ms).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_adds_l_plus_or_minus_j() {
    let server = upstream(echo).await;
    let proxy = proxy(server, &["latency:latency=100,jitter=20"], Some(1)).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    let times = round_trips(&mut stream, 40).await;
    let (mean, sd) = mean_and_sd(&times);
    eprintln!("latency 100±20: mean {mean:.1} ms, sd {sd:.1} ms");
    for t in &times {
        assert!(
            (79.0..150.0).contains(t),
            "a round trip of {t:.1} ms: {times:?}"
        );
    }
    assert!((92.0..110.0).contains(&mean), "mean {mean:.1} ms");
    assert!((6.0..17.0).contains(&sd), "standard deviation {sd:.1} ms");
}

// rate=2000 KB/s: 6 MB take 3 s, within 5 %.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_holds_the_rate_within_5_percent() {
    const BYTES: usize = 6_000_000;
    let server = upstream(|mut stream: TcpStream| async move {
        let block = vec![0x5au8; 64 * 1024];
        let mut left = BYTES;
        while left > 0 {
            let n = left.min(block.len());
            if stream.write_all(&block[..n]).await.is_err() {
                return;
            }
            left -= n;
        }
    })
    .await;
    let proxy = proxy(server, &["bandwidth:rate=2000"], None).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = timeout(LIMIT, stream.read(&mut buf))
        .await
        .expect("first bytes")
        .expect("read");
    let start = Instant::now();
    let first = got;
    while got < BYTES {
        let n = timeout(LIMIT, stream.read(&mut buf))
            .await
            .expect("in time")
            .expect("read");
        assert!(n > 0, "closed after {got} bytes");
        got += n;
    }
    let rate = (got - first) as f64 / start.elapsed().as_secs_f64();
    eprintln!("bandwidth 2000 KB/s: {rate:.0} bytes/s");
    assert!(
        (1_900_000.0..2_100_000.0).contains(&rate),
        "{rate:.0} bytes/s for a 2,000,000 bytes/s link"
    );
}

// average_size=1, delay=20 ms: the write reaches the server in pieces spread
// over 10 delays. A late reader may find two pieces waiting and read them at
// once, so the exact one-byte writes are checked in the stage's unit test.
#[tokio::test]
async fn slicer_splits_writes() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let server = upstream(move |mut stream: TcpStream| {
        let tx = tx.clone();
        async move {
            let mut buf = [0u8; 64];
            while let Ok(n @ 1..) = stream.read(&mut buf).await {
                let _ = tx.send(buf[..n].to_vec());
            }
        }
    })
    .await;
    let proxy = proxy(
        server,
        &["slicer:average_size=1,delay=20000,stream=upstream"],
        None,
    )
    .await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let start = Instant::now();
    stream.write_all(b"hello world").await.expect("write");
    let mut reads: Vec<Vec<u8>> = Vec::new();
    while reads.iter().map(Vec::len).sum::<usize>() < 11 {
        reads.push(
            timeout(LIMIT, rx.recv())
                .await
                .expect("in time")
                .expect("a read"),
        );
    }
    let took = start.elapsed();
    assert_eq!(reads.concat(), b"hello world");
    assert!(
        took >= Duration::from_millis(200),
        "the last of 11 pieces 20 ms apart came after {took:?}"
    );
    assert!(reads.len() > 1, "one write came as one read: {reads:?}");
}

/// A server that writes `bye` and closes at once.
async fn bye(mut stream: TcpStream) {
    let _ = stream.write_all(b"bye").await;
}

// The server's FIN comes 500 ms after its last byte.
#[tokio::test]
async fn slow_close_delays_the_fin() {
    let server = upstream(bye).await;
    let proxy = proxy(server, &["slow_close:delay=500"], None).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut buf = [0u8; 3];
    timeout(LIMIT, stream.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    let start = Instant::now();
    let n = timeout(LIMIT, stream.read(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(n, 0, "EOF");
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(480), "FIN after {waited:?}");
    assert!(waited < Duration::from_millis(1500), "FIN after {waited:?}");
}

// timeout=300: nothing gets through, and the connection closes at 300 ms;
// timeout=0 holds it open with nothing getting through.
#[tokio::test]
async fn timeout_blackholes_then_closes() {
    let server = upstream(echo).await;
    let proxy = proxy(server, &["timeout:timeout=300"], None).await;
    let start = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    stream.write_all(b"anyone?").await.expect("write");
    let mut buf = [0u8; 16];
    let n = timeout(LIMIT, stream.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "data got through a timeout toxic");
    let waited = start.elapsed();
    assert!(
        (Duration::from_millis(280)..Duration::from_millis(1500)).contains(&waited),
        "{waited:?}"
    );

    let forever = proxy_forever(server).await;
    let mut stream = TcpStream::connect(forever.addr).await.expect("connect");
    stream.write_all(b"anyone?").await.expect("write");
    let silent = timeout(Duration::from_millis(700), stream.read(&mut buf)).await;
    assert!(
        silent.is_err(),
        "timeout=0 let something happen: {silent:?}"
    );
}

async fn proxy_forever(server: SocketAddr) -> Proxy {
    proxy(server, &["timeout:timeout=0"], None).await
}

// reset_peer=200: the client's read fails with a reset about 200 ms in.
#[tokio::test]
async fn reset_peer_resets() {
    let server = upstream(echo).await;
    let proxy = proxy(server, &["reset_peer:timeout=200"], None).await;
    let start = Instant::now();
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut buf = [0u8; 16];
    let read = timeout(LIMIT, stream.read(&mut buf))
        .await
        .expect("in time");
    let err = read.expect_err("a reset, not an EOF");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset, "{err}");
    let waited = start.elapsed();
    assert!(
        (Duration::from_millis(180)..Duration::from_millis(1500)).contains(&waited),
        "{waited:?}"
    );
}

// limit_data=1000: exactly 1000 of the server's 5000 bytes, then the end.
#[tokio::test]
async fn limit_data_closes_after_n_bytes() {
    let server = upstream(|mut stream: TcpStream| async move {
        let _ = stream.write_all(&[7u8; 5000]).await;
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    })
    .await;
    let proxy = proxy(server, &["limit_data:bytes=1000"], None).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut got = Vec::new();
    timeout(LIMIT, stream.read_to_end(&mut got))
        .await
        .expect("closed in time")
        .expect("read");
    assert_eq!(got.len(), 1000);
}

// toxicity=0.5 over 60 connections: a binomial(60, 0.5) count of slowed
// ones, 30 ± 11.6 (3 standard deviations).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_half_hits_about_half_the_connections() {
    let server = upstream(echo).await;
    let proxy = proxy(server, &["latency:latency=60,toxicity=0.5"], Some(42)).await;
    let mut slowed = 0;
    for _ in 0..60 {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        let time = round_trips(&mut stream, 1).await[0];
        if time >= 55.0 {
            slowed += 1;
        }
    }
    eprintln!("toxicity 0.5: {slowed} of 60 connections slowed");
    assert!(
        (19..=41).contains(&slowed),
        "{slowed} of 60 connections slowed"
    );
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

// A sender tries to push 1 GiB through a 1 MB/s toxic for 10 s: about
// 10 MB cross, the sender is held back (it cannot have written more than
// the link plus the kernel's buffers), and the proxy's memory stays flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_link_pushes_back_instead_of_queueing() {
    const GIB: u64 = 1 << 30;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = std::sync::Mutex::new(Some(tx));
    let server = upstream(move |mut stream: TcpStream| {
        let tx = tx.lock().expect("lock").take();
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0u64;
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                match timeout(Duration::from_millis(100), stream.read(&mut buf)).await {
                    Ok(Ok(0)) | Ok(Err(_)) => break,
                    Ok(Ok(n)) => got += n as u64,
                    Err(_) => {}
                }
            }
            if let Some(tx) = tx {
                let _ = tx.send(got);
            }
        }
    })
    .await;
    let mut cmd = common::socklab();
    cmd.args([
        "proxy",
        "127.0.0.1:0",
        &format!("127.0.0.1:{}", server.port()),
        "--toxic",
        "bandwidth:rate=1000,stream=upstream",
    ]);
    let proxy = relay_common::Running::start(cmd, true);
    let before = rss_kib(proxy.child.id());
    let mut stream = TcpStream::connect(&proxy.addr).await.expect("connect");
    let sent = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let counter = sent.clone();
    let sender = tokio::spawn(async move {
        let block = vec![1u8; 256 * 1024];
        let mut total = 0;
        while total < GIB {
            if stream.write_all(&block).await.is_err() {
                break;
            }
            total += block.len() as u64;
            counter.store(total, std::sync::atomic::Ordering::Relaxed);
        }
    });
    let mut peak = before;
    let got = {
        let mut rx = rx;
        loop {
            match timeout(Duration::from_millis(500), &mut rx).await {
                Ok(got) => break got.expect("the server's count"),
                Err(_) => peak = peak.max(rss_kib(proxy.child.id())),
            }
        }
    };
    sender.abort();
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "1 MB/s for 10 s: {got} bytes crossed, {sent} written, RSS {before} -> peak {peak} KiB"
    );
    assert!(
        (9_000_000..11_500_000).contains(&got),
        "{got} bytes crossed in 10 s at 1 MB/s"
    );
    // Kernel buffers on both sockets may hold some MB; not the GiB.
    assert!(
        sent < got + 40_000_000,
        "the sender was not held back: {sent} bytes written"
    );
    assert!(
        peak < before + 16 * 1024,
        "RSS grew from {before} KiB to {peak} KiB"
    );
}

// With no toxic the proxy splices: every byte both ways and in order (a
// digest that depends on each byte's place), the client's half-close passed
// on, the reply after it delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_toxic_relays_every_byte_and_the_half_close() {
    const BYTES: usize = 8 * 1024 * 1024;
    let server = upstream(|mut stream: TcpStream| async move {
        let mut got = Vec::new();
        if stream.read_to_end(&mut got).await.is_ok() {
            let sum = digest(&got);
            let reply = format!("{} bytes, sum {sum}", got.len());
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    })
    .await;
    let proxy = proxy(server, &[], None).await;
    let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let data: Vec<u8> = (0..BYTES)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let sum = digest(&data);
    timeout(LIMIT, stream.write_all(&data))
        .await
        .expect("in time")
        .expect("write");
    stream.shutdown().await.expect("half-close");
    let mut reply = String::new();
    timeout(LIMIT, stream.read_to_string(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(reply, format!("{BYTES} bytes, sum {sum}"));
}

/// A digest that changes when bytes change places.
fn digest(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |h: u64, &b| {
        h.wrapping_mul(1_000_003).wrapping_add(u64::from(b))
    })
}

// iperf3's server closes its data connection with bytes unread: a reset
// while the proxy splices into it. splice(2) then raises SIGPIPE (it has no
// MSG_NOSIGNAL, and the signal goes to the whole process), which killed the
// proxy in every run before the proxy command ignored SIGPIPE.
#[test]
fn iperf3_runs_leave_the_proxy_serving() {
    let port = relay_common::free_port();
    let server = common::Program::spawn(
        "iperf3 -s (scripts/test.sh installs it)",
        std::process::Command::new("iperf3").args([
            "-s",
            "--forceflush",
            "-B",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ]),
    );
    server.wait_for("Server listening");
    let mut cmd = common::socklab();
    cmd.args(["proxy", "127.0.0.1:0", &format!("127.0.0.1:{port}")]);
    let mut proxy = relay_common::Running::start(cmd, true);
    for _ in 0..4 {
        let mut client = std::process::Command::new("iperf3");
        client.args([
            "-c",
            "127.0.0.1",
            "-p",
            &proxy.port().to_string(),
            "-t",
            "1",
        ]);
        let mut run = client
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("iperf3 -c");
        let status = relay_common::wait(&mut run);
        if let Some(died) = proxy.child.try_wait().expect("try_wait") {
            panic!("the proxy died ({died}); stderr: {}", proxy.stderr());
        }
        assert!(status.success(), "iperf3 through the proxy: {status}");
    }
}
