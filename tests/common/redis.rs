//! A redis-server of a test's own, on a free loopback port, stopped (and
//! restarted on the same port) when the test says.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{TIMEOUT, require, signal, wait_child};

/// How the server keeps its data across a restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persistence {
    /// `--save "" --appendonly no`: a restart forgets everything.
    None,
    /// `--appendonly yes --appendfsync always`: nothing acknowledged is lost.
    Aof,
}

/// A running redis-server, killed on drop.
pub struct Redis {
    child: Option<Child>,
    pub port: u16,
    persistence: Persistence,
    dir: tempfile::TempDir,
}

impl Redis {
    /// Starts one and waits until it answers PING.
    pub fn start(persistence: Persistence) -> Redis {
        require("redis-server");
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe");
            probe.local_addr().expect("probe address").port()
        };
        let mut redis = Redis {
            child: None,
            port,
            persistence,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        redis.spawn();
        redis
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops it as an operator would (SIGTERM: an AOF is flushed first).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            signal(&child, libc::SIGTERM);
            wait_child(&mut child, TIMEOUT);
        }
    }

    /// Starts it again on the same port with the same directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--daemonize", "no", "--protected-mode", "yes"])
            .arg("--dir")
            .arg(PathBuf::from(self.dir.path()));
        match self.persistence {
            Persistence::None => cmd.args(["--appendonly", "no"]),
            Persistence::Aof => cmd.args(["--appendonly", "yes", "--appendfsync", "always"]),
        };
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        self.wait_ready();
    }

    /// PING until PONG: the port may refuse at first, and a server loading
    /// its AOF answers -LOADING.
    fn wait_ready(&self) {
        let until = Instant::now() + TIMEOUT;
        loop {
            if self.ping() {
                return;
            }
            assert!(
                Instant::now() < until,
                "redis-server on {} never answered",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(mut conn) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
        let mut reply = [0u8; 5];
        conn.write_all(b"PING\r\n").is_ok()
            && conn.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG"
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
