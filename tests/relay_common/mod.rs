//! Helpers of the connect/listen/proxy tests: processes whose `listening
//! on` line may come on stderr, free ports, retries on readiness, digests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest any single step may take.
pub const LIMIT: Duration = Duration::from_secs(30);

/// A process killed on drop, its stderr collected, with the address of its
/// `listening on` line.
pub struct Running {
    pub child: Child,
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    /// Starts `cmd` and waits for `listening on ADDR` on stdout or stderr
    /// (`listen` with stdio prints it on stderr: stdout carries data).
    /// `stdout_is_line` says which; stdout is otherwise left as set.
    pub fn start(mut cmd: Command, on_stdout: bool) -> Running {
        cmd.stderr(Stdio::piped());
        if on_stdout {
            cmd.stdout(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("spawn");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let err = child.stderr.take().expect("piped stderr");
        let sink = stderr.clone();
        let tx_err = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx_err.send(addr.to_string());
                }
                let mut all = sink.lock().expect("lock");
                all.push_str(&line);
                all.push('\n');
            }
        });
        if on_stdout {
            let out = child.stdout.take().expect("piped stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(addr) = line.strip_prefix("listening on ") {
                        let _ = tx.send(addr.to_string());
                    }
                }
            });
        }
        let addr = rx.recv_timeout(LIMIT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "no `listening on` line; stderr: {}",
                stderr.lock().expect("lock")
            )
        });
        Running {
            child,
            addr,
            stderr,
        }
    }

    /// The port of its address.
    pub fn port(&self) -> u16 {
        self.addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port")
    }

    /// What it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits for it to exit.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        wait(&mut self.child)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits for a child to exit, failing after [`LIMIT`].
pub fn wait(child: &mut Child) -> std::process::ExitStatus {
    crate::common::wait_child(child, LIMIT)
}

/// A loopback port free a moment ago, for peers (nc, ncat, socat) that
/// cannot pick their own and say which.
pub fn free_port() -> u16 {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

/// A free loopback UDP port, as [`free_port`].
pub fn free_udp_port() -> u16 {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket.local_addr().expect("addr").port()
}

/// Runs `make()` with `input` until it exits successfully: the way to
/// wait for a peer that says nothing when it is ready (a refused try exits
/// at once).
pub fn until_it_connects(mut make: impl FnMut() -> Command, input: &[u8]) -> std::process::Output {
    let until = Instant::now() + LIMIT;
    loop {
        let output = crate::common::run_with_input(&mut make(), input, LIMIT);
        // Ours says "no such file or directory" (a Unix socket not made yet).
        let stderr = String::from_utf8_lossy(&output.stderr).to_lowercase();
        let refused = ["refused", "unreachable", "no such file"]
            .iter()
            .any(|why| stderr.contains(why));
        if output.status.success() || !refused {
            return output;
        }
        assert!(Instant::now() < until, "never connected: {output:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `len` bytes that do not compress and are not text, the same every run.
pub fn binary_file(path: &Path, len: usize) {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut data = Vec::with_capacity(len + 8);
    while data.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(len);
    std::fs::write(path, data).expect("write test file");
}

/// The SHA-256 of a file, in hex.
pub fn sha256(path: &Path) -> String {
    let data = std::fs::read(path).expect("read");
    ring::digest::digest(&ring::digest::SHA256, &data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A path for a file of the test in a temporary directory.
pub fn file(dir: &tempfile::TempDir, name: &str) -> std::path::PathBuf {
    dir.path().join(name)
}
