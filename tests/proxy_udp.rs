//! `proxy --udp` with netem's faults on live datagrams: loss within 3
//! standard deviations over 10,000 datagrams, duplicate, corrupt, reorder
//! and delay as set, and the texts' retransmitting client backing off
//! through loss.

mod common;
mod relay_common;

use std::net::SocketAddr;
use std::time::Duration;

use socklab::proxy::netem::DirectedFault;
use socklab::proxy::udp;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use tokio_util::sync::CancellationToken;

const LIMIT: Duration = Duration::from_secs(20);

/// An upstream that hands every datagram to the test and echoes it.
async fn upstream() -> (SocketAddr, mpsc::UnboundedReceiver<Vec<u8>>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 2048];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let _ = tx.send(buf[..n].to_vec());
            let _ = socket.send_to(&buf[..n], from).await;
        }
    });
    (addr, rx)
}

/// A proxy to `upstream` with the faults `specs`, and its stop.
async fn proxy(upstream: SocketAddr, specs: &[&str], seed: u64) -> (SocketAddr, CancellationToken) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let addr = socket.local_addr().expect("addr");
    let options = udp::Options {
        faults: specs
            .iter()
            .map(|s| DirectedFault::parse(s).expect("fault"))
            .collect(),
        seed: Some(seed),
        ..udp::Options::new(upstream)
    };
    let stop = CancellationToken::new();
    tokio::spawn(udp::serve(socket, options, stop.clone().cancelled_owned()));
    (addr, stop)
}

/// Sends `count` numbered datagrams upstream, paced so that no socket
/// buffer overflows, then an end marker until one arrives (datagrams on
/// loopback keep their order, so all before it have arrived by then);
/// returns what the upstream received, the markers left out.
async fn send_all(
    client: &UdpSocket,
    received: &mut mpsc::UnboundedReceiver<Vec<u8>>,
    count: u32,
) -> Vec<Vec<u8>> {
    for i in 0..count {
        client.send(&i.to_be_bytes()).await.expect("send");
        if i % 32 == 31 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + LIMIT;
    loop {
        client.send(b"end").await.expect("send");
        while let Ok(Some(data)) = timeout(Duration::from_millis(50), received.recv()).await {
            // The marker is the only 3-byte datagram (a corrupt fault may
            // have flipped one of its bits).
            if data.len() == 3 {
                return got;
            }
            got.push(data);
        }
        assert!(Instant::now() < deadline, "no end marker got through");
    }
}

async fn client(proxy: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    socket.connect(proxy).await.expect("connect");
    socket
}

// loss:percent=10 over 10,000 datagrams: 9,000 arrive ± 90 (3 standard
// deviations of a binomial: 3 * sqrt(10000 * 0.1 * 0.9)).
#[tokio::test]
async fn loss_rate_is_within_3_sigma_over_10000_datagrams() {
    let (server, mut received) = upstream().await;
    let (addr, _stop) = proxy(server, &["loss:percent=10,stream=upstream"], 7).await;
    let client = client(addr).await;
    let got = send_all(&client, &mut received, 10_000).await;
    eprintln!("loss 10 %: {} of 10000 arrived", got.len());
    assert!(
        (8910..=9090).contains(&got.len()),
        "{} of 10000 arrived",
        got.len()
    );
}

#[tokio::test]
async fn duplicate_corrupt_and_reorder_are_seen_as_set() {
    // A fresh upstream each time: what one proxy duplicated is not left
    // for the next.
    let (server, mut received) = upstream().await;
    // duplicate 20 %: 1200 ± 38 of 1000.
    let (addr, _stop) = proxy(server, &["duplicate:percent=20,stream=upstream"], 1).await;
    let got = send_all(&client(addr).await, &mut received, 1000).await;
    eprintln!("duplicate 20 %: {} arrived for 1000 sent", got.len());
    assert!(
        (1162..=1238).contains(&got.len()),
        "{} arrived for 1000 sent",
        got.len()
    );

    // corrupt 20 %: 200 ± 38 datagrams differ from what was sent, each in one bit.
    let (server, mut received) = upstream().await;
    let (addr, _stop) = proxy(server, &["corrupt:percent=20,stream=upstream"], 2).await;
    let got = send_all(&client(addr).await, &mut received, 1000).await;
    let flipped: Vec<u32> = got
        .iter()
        .enumerate()
        .map(|(i, data)| {
            let sent = (i as u32).to_be_bytes();
            data.iter()
                .zip(sent)
                .map(|(a, b)| (a ^ b).count_ones())
                .sum()
        })
        .filter(|&bits| bits > 0)
        .collect();
    assert_eq!(got.len(), 1000);
    assert!(flipped.iter().all(|&bits| bits == 1), "{flipped:?}");
    eprintln!("corrupt 20 %: {} of 1000 corrupted", flipped.len());
    assert!(
        (162..=238).contains(&flipped.len()),
        "{} corrupted",
        flipped.len()
    );

    // reorder 10 %, gap 3: every datagram arrives, ~100 of them 3 places late.
    let (server, mut received) = upstream().await;
    let (addr, _stop) = proxy(server, &["reorder:percent=10,gap=3,stream=upstream"], 3).await;
    let got = send_all(&client(addr).await, &mut received, 1000).await;
    let numbers: Vec<u32> = got
        .iter()
        .filter_map(|d| Some(u32::from_be_bytes(d.as_slice().try_into().ok()?)))
        .collect();
    let late = numbers.windows(2).filter(|w| w[1] < w[0]).count();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..1000).collect::<Vec<_>>(), "lost or doubled");
    eprintln!("reorder 10 %: {late} of 1000 out of order");
    assert!((60..=140).contains(&late), "{late} datagrams out of order");
}

// delay=100,jitter=10 downstream: each round trip 90 to 110 ms (+ loopback;
// the upper bound leaves 40 ms for a loaded machine's scheduling).
#[tokio::test]
async fn delay_adds_its_time() {
    let (server, _received) = upstream().await;
    let (addr, _stop) = proxy(server, &["delay:delay=100,jitter=10"], 4).await;
    let client = client(addr).await;
    let mut buf = [0u8; 16];
    for _ in 0..10 {
        let start = Instant::now();
        client.send(b"hi").await.expect("send");
        timeout(LIMIT, client.recv(&mut buf))
            .await
            .expect("in time")
            .expect("recv");
        let rtt = start.elapsed();
        assert!(
            (Duration::from_millis(89)..Duration::from_millis(150)).contains(&rtt),
            "{rtt:?}"
        );
    }
}

// The texts' client through 50 % loss: each wait doubles until a reply
// gets through. The seed makes the first two requests lost.
#[test]
fn the_udp_client_backs_off_through_loss() {
    let mut cmd = common::socklab();
    cmd.args(["udp", "server", "127.0.0.1", "0"]);
    let server = relay_common::Running::start(cmd, true);
    let mut cmd = common::socklab();
    cmd.args([
        "proxy",
        "--udp",
        "127.0.0.1:0",
        &server.addr,
        "--toxic",
        "loss:percent=50,stream=upstream",
        "--seed",
        "5",
    ]);
    let proxy = relay_common::Running::start(cmd, true);
    let out = common::socklab()
        .args([
            "udp",
            "client",
            "127.0.0.1",
            &proxy.port().to_string(),
            "--start",
            "0.05s",
            "--max-wait",
            "5s",
        ])
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (waits, last) = lines.split_at(lines.len() - 1);
    assert!(
        last[0].starts_with("The server replied \"Here's your lucky number:"),
        "{text}"
    );
    assert!(waits.len() >= 3, "no loss to back off from: {text}");
    for (i, line) in waits.iter().enumerate() {
        let expected = format!(
            "Waiting up to {} seconds for a reply",
            0.05 * f64::from(1u32 << i)
        );
        assert_eq!(*line, expected);
    }
}
