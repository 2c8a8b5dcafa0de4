//! Shared test harness: the socklab binary as a real server process, commands
//! with timeouts, and log capture. Every wait here is bounded.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub mod redis;

/// The longest any single step of a test may take.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A `Command` for the socklab binary under test.
pub fn socklab() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_socklab"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// A socklab server running as its own process, killed on drop.
pub struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `socklab ARGS...` and waits for its `listening on ADDR` line.
    pub fn start(args: &[&str]) -> Server {
        let mut cmd = socklab();
        cmd.args(args);
        Server::start_command(cmd)
    }

    /// Starts a prepared command that runs a socklab server (e.g. under
    /// `ip netns exec`) and waits for its `listening on ADDR` line.
    pub fn start_command(mut cmd: Command) -> Server {
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn socklab");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = logs.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().expect("log lock").push(line);
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let first = rx.recv_timeout(TIMEOUT).unwrap_or_else(|_| {
            let _ = child.kill();
            panic!(
                "no `listening on` line from socklab {args:?}: {:?}",
                logs.lock()
            )
        });
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
            .parse()
            .expect("address after `listening on`");
        Server { child, addr, logs }
    }

    /// The port as a command-line argument.
    pub fn port(&self) -> String {
        self.addr.port().to_string()
    }

    /// Everything the server logged so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("log lock").clone()
    }

    /// Waits until a log line contains `needle`.
    pub fn wait_for_log(&self, needle: &str, limit: Duration) -> String {
        let until = Instant::now() + limit;
        loop {
            if let Some(line) = self.logs().into_iter().find(|l| l.contains(needle)) {
                return line;
            }
            assert!(
                Instant::now() < until,
                "no log line with {needle:?} in {:?}",
                self.logs()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub fn terminate(&mut self, limit: Duration) -> ExitStatus {
        signal(&self.child, libc::SIGTERM);
        wait_child(&mut self.child, limit)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `sig` to a child process.
pub fn signal(child: &Child, sig: i32) {
    let pid = i32::try_from(child.id()).expect("pid fits");
    // SAFETY: plain kill(2) on a child we own and have not reaped yet.
    unsafe { libc::kill(pid, sig) };
}

/// Waits for `child` to exit, killing it and failing after `limit`.
pub fn wait_child(child: &mut Child, limit: Duration) -> ExitStatus {
    let until = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("process did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a command to completion with a time limit, capturing its output.
pub fn run(cmd: &mut Command, limit: Duration) -> Output {
    run_with_input(cmd, b"", limit)
}

/// Like [`run`], writing `input` to the command's stdin and then closing it.
pub fn run_with_input(cmd: &mut Command, input: &[u8], limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out.read_to_end(&mut buf);
        buf
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err.read_to_end(&mut buf);
        buf
    });
    let status = wait_child(&mut child, limit);
    let _ = writer.join();
    Output {
        status,
        stdout: out_reader.join().expect("stdout reader"),
        stderr: err_reader.join().expect("stderr reader"),
    }
}

/// Runs socklab with `args` and a time limit.
pub fn run_socklab(args: &[&str], limit: Duration) -> Output {
    run(socklab().args(args), limit)
}

/// Stdout and stderr of an output as text, for assertions and messages.
pub fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A loopback TCP port that refuses connections, with the socket that keeps
/// it so: bound but never listening. Unlike a port bound and let go, no server
/// started meanwhile (by a test running in parallel) can take it.
pub fn refused_tcp_port() -> (socket2::Socket, u16) {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    let any: SocketAddr = "127.0.0.1:0".parse().expect("literal");
    socket.bind(&any.into()).expect("bind");
    let port = socket
        .local_addr()
        .expect("addr")
        .as_socket()
        .expect("an IP address")
        .port();
    (socket, port)
}

/// A loopback UDP port where every datagram draws ICMP port unreachable, with
/// the socket that keeps it so: connected to itself, it takes no one else's
/// datagrams, and no socket bound meanwhile can take the port.
pub fn refused_udp_port() -> (std::net::UdpSocket, u16) {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = socket.local_addr().expect("addr");
    socket.connect(addr).expect("connect to itself");
    (socket, addr.port())
}

/// Fails the test with a clear message when a peer program is not installed;
/// `scripts/test.sh` installs them, so a missing one is a set-up bug.
pub fn require(program: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed: run scripts/test.sh, which installs it"
    );
}

/// A peer program with piped stdin and its stdout collected as it comes.
pub struct Program {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<String>>,
    label: &'static str,
}

impl Program {
    /// Starts `cmd` (`label` names it in failures).
    pub fn spawn(label: &'static str, cmd: &mut Command) -> Program {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("spawn {label}: {err}"));
        let mut stdout = child.stdout.take().expect("piped stdout");
        let out = Arc::new(Mutex::new(String::new()));
        let sink = out.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buf) {
                sink.lock()
                    .expect("output lock")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Program {
            stdin: child.stdin.take(),
            child,
            out,
            label,
        }
    }

    /// Writes `line` and a newline to its stdin.
    pub fn send(&mut self, line: &str) {
        self.send_bytes(format!("{line}\n").as_bytes());
    }

    /// Writes `bytes` to its stdin as they are.
    pub fn send_bytes(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to stdin");
        stdin.flush().expect("flush stdin");
    }

    /// Everything it printed so far.
    pub fn output(&self) -> String {
        self.out.lock().expect("output lock").clone()
    }

    /// Waits until the output contains `needle` `times` times.
    pub fn wait_for_n(&self, needle: &str, times: usize) {
        let until = Instant::now() + TIMEOUT;
        while self.output().matches(needle).count() < times {
            assert!(
                Instant::now() < until,
                "{}: no {needle:?} (x{times}) in {:?}",
                self.label,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until the output contains `needle`.
    pub fn wait_for(&self, needle: &str) {
        self.wait_for_n(needle, 1);
    }

    /// Closes its stdin: the end of its input.
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for it to exit, failing after [`TIMEOUT`].
    pub fn wait(&mut self) -> ExitStatus {
        let until = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < until,
                "{} did not exit; it printed {:?}",
                self.label,
                self.output()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
