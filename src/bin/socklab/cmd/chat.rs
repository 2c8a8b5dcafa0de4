//! `socklab chat`: options in, the library called, its results shown; and
//! the tour's scripted two-person conversation: two clients run
//! [`chat::session`] with piped input, and each step waits until the room
//! has answered, so the transcript is the same every time (but for the
//! clock and the ports).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;

use crate::cli::{ChatClientArgs, ChatServerArgs};
use socklab::chat;
use socklab::net::Endpoint;

/// The server's options from the command line; the connection limits and
/// the send buffer (an accept-loop option) are the caller's.
pub fn options(args: &ChatServerArgs) -> chat::Options {
    chat::Options {
        max_line: args.max_line.max(1),
        max_queue: args.max_queue,
        ..chat::Options::default()
    }
}

/// The shared room's options, when `--redis` was given, checked.
pub fn shared(args: &ChatServerArgs) -> Result<Option<chat::shared::Options>> {
    let redis = &args.redis;
    let Some(url) = redis.redis.as_deref() else {
        return Ok(None);
    };
    let mut options = chat::shared::Options::new(url, &redis.room);
    if let Some(id) = &redis.node_id {
        options.node_id.clone_from(id);
    }
    options.presence_ttl = redis.presence_ttl;
    options.history = redis.history;
    options.max_pending = redis.max_pending;
    options.check()?;
    Ok(Some(options))
}

/// Runs `chat client` on the terminal (or whatever stdin and stdout are).
pub async fn client(args: &ChatClientArgs) -> Result<()> {
    let io = args.target.endpoint(chat::DEFAULT_PORT)?.connect().await?;
    chat::session(
        io,
        tokio::io::stdin(),
        tokio::io::stdout(),
        args.nick.as_deref(),
    )
    .await?;
    Ok(())
}

/// How long any step may take before the tour gives up.
const STEP: Duration = Duration::from_secs(5);

/// Runs the conversation against the server at `server` and prints what
/// each client's screen showed.
pub async fn conversation(server: &Endpoint) -> Result<()> {
    let mut alice = Scripted::join(server, "alice").await?;
    alice.wait_for("is now alice").await?;
    let mut bob = Scripted::join(server, "bob").await?;
    alice.wait_for("is now bob").await?;
    alice.say("hi bob").await?;
    bob.wait_for("hi bob\n").await?;
    bob.say("hello alice").await?;
    alice.wait_for("hello alice\n").await?;
    bob.say("/nick alice").await?;
    bob.wait_for("is taken\n").await?;
    bob.say("/who").await?;
    bob.wait_for("* here").await?;
    alice.say("quit").await?;
    alice.finish().await?;
    bob.wait_for("* alice left\n").await?;
    bob.finish().await?;
    for (name, client) in [("alice", &alice), ("bob", &bob)] {
        println!("-- {name}'s screen:");
        for line in client.screen().lines() {
            println!("   {line}");
        }
    }
    Ok(())
}

/// A chat client whose keyboard is this script.
struct Scripted {
    keyboard: Option<DuplexStream>,
    screen: Arc<Mutex<String>>,
    session: Option<JoinHandle<Result<()>>>,
}

impl Scripted {
    async fn join(server: &Endpoint, nick: &str) -> Result<Scripted> {
        let io = server.connect().await?;
        let (keyboard, input) = tokio::io::duplex(4096);
        let (output, mut display) = tokio::io::duplex(64 * 1024);
        let nick = nick.to_string();
        let session =
            tokio::spawn(async move { Ok(chat::session(io, input, output, Some(&nick)).await?) });
        let screen = Arc::new(Mutex::new(String::new()));
        let sink = screen.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n @ 1..) = display.read(&mut buf).await {
                if let Ok(mut screen) = sink.lock() {
                    screen.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        Ok(Scripted {
            keyboard: Some(keyboard),
            screen,
            session: Some(session),
        })
    }

    fn screen(&self) -> String {
        self.screen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    async fn say(&mut self, line: &str) -> Result<()> {
        let keyboard = self.keyboard.as_mut().context("input already closed")?;
        keyboard.write_all(format!("{line}\n").as_bytes()).await?;
        Ok(())
    }

    /// Waits until the screen shows `needle`.
    async fn wait_for(&self, needle: &str) -> Result<()> {
        let deadline = tokio::time::Instant::now() + STEP;
        while !self.screen().contains(needle) {
            if tokio::time::Instant::now() > deadline {
                bail!("the chat room never showed {needle:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Ends the input (Ctrl-D) and waits for the client to leave.
    async fn finish(&mut self) -> Result<()> {
        self.keyboard = None;
        let session = self.session.take().context("already finished")?;
        tokio::time::timeout(STEP, session)
            .await
            .context("the chat client did not leave")??
    }
}
