//! The room's tests: membership, notices, the bounded log and its readers.

use super::*;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::time::Duration;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Everything queued for a member right now, as text.
async fn drain(outbox: &Outbox) -> String {
    let mut text = String::new();
    outbox.close_with(None);
    while let Batch::Lines(batch) = outbox.next_batch(usize::MAX).await {
        text.push_str(&String::from_utf8_lossy(&batch));
    }
    text
}

/// What a member can take right now, without waiting.
fn take_any(outbox: &Outbox, max_bytes: usize) -> Option<Batch> {
    outbox.hub.room().take(outbox.id, max_bytes)
}

/// The lines a member can take right now, without waiting, as text.
fn take(outbox: &Outbox, max_bytes: usize) -> Option<String> {
    match take_any(outbox, max_bytes) {
        Some(Batch::Lines(batch)) => Some(String::from_utf8_lossy(&batch).into_owned()),
        None => None,
        Some(other) => panic!("member {} got {other:?}", outbox.id),
    }
}

/// The log's length in lines and its counted size, checked against
/// its entries.
fn log_size(hub: &Hub) -> (usize, usize) {
    let room = hub.inner.room();
    let counted: usize = room.log.entries().map(crate::chat::log::Entry::cost).sum();
    assert_eq!(room.log.bytes(), counted, "the log's byte count drifted");
    (room.log.entries().count(), room.log.bytes())
}

#[test]
fn a_log_entry_fits_its_overhead() {
    // The slot, plus a malloc header for the line's own allocation.
    assert!(std::mem::size_of::<Entry>() + 16 <= LINE_OVERHEAD);
}

#[tokio::test]
async fn notices_names_and_private_lines() {
    let hub = Hub::new(1 << 20);
    let (a, a_box) = hub.join(addr(1));
    let (b, b_box) = hub.join(addr(2));
    hub.rename(a, "alice").expect("free name");
    assert_eq!(
        hub.rename(b, "alice"),
        Err(NickError::Taken("alice".into()))
    );
    assert!(matches!(hub.rename(b, "*x"), Err(NickError::Invalid(_))));
    hub.who(b);
    hub.leave(a, false);
    assert_eq!(
        drain(&a_box).await,
        "* 127.0.0.1 1 joined\n* 127.0.0.1 2 joined\n* 127.0.0.1 1 is now alice\n"
    );
    assert_eq!(
        drain(&b_box).await,
        "* 127.0.0.1 2 joined\n* 127.0.0.1 1 is now alice\n\
         * here (2): 127.0.0.1 2, alice\n* alice left\n"
    );
    // alice's name is free again once she has left.
    hub.rename(b, "alice").expect("freed");
}

#[tokio::test]
async fn an_overflowing_member_is_dropped_and_the_room_told() {
    let hub = Hub::new(300);
    let (_, slow_box) = hub.join(addr(1));
    let (fast, fast_box) = hub.join(addr(2));
    // The fast member keeps up: its queue is drained after every line.
    let mut seen = String::new();
    for i in 0..10 {
        hub.say(fast, &format!("line {i}"));
        let next = fast_box.next_batch(usize::MAX);
        match tokio::time::timeout(Duration::from_secs(1), next).await {
            Ok(Batch::Lines(batch)) => seen.push_str(&String::from_utf8_lossy(&batch)),
            other => panic!("fast member got {other:?}"),
        }
    }
    assert_eq!(hub.len(), 1, "the slow member is still in the room");
    assert_eq!(slow_box.next_batch(usize::MAX).await, Batch::Kicked);
    tokio::time::timeout(Duration::from_secs(1), slow_box.kicked())
        .await
        .expect("kicked resolves");
    assert!(seen.contains("* 127.0.0.1 1 was disconnected (too slow: more than 300 bytes queued)"));
    assert_eq!(seen.matches("\nline ").count(), 10, "{seen}");
}

#[test]
fn the_log_forgets_a_line_once_everyone_has_passed_it() {
    let hub = Hub::new(1 << 20);
    let (a, a_box) = hub.join(addr(1));
    let (_, b_box) = hub.join(addr(2));
    assert!(take(&a_box, usize::MAX).is_some());
    assert!(take(&b_box, usize::MAX).is_some());
    assert_eq!(log_size(&hub), (0, 0), "both joins were taken by everyone");

    hub.say(a, "hello");
    let one = log_size(&hub);
    assert_eq!(one.0, 1);
    assert!(
        take(&a_box, usize::MAX)
            .expect("a's line")
            .ends_with("\nhello\n")
    );
    assert_eq!(log_size(&hub), one, "b has not taken it yet");
    assert!(
        take(&b_box, usize::MAX)
            .expect("b's line")
            .ends_with("\nhello\n")
    );
    assert_eq!(log_size(&hub), (0, 0));
    assert_eq!(take(&a_box, usize::MAX), None, "nothing new");

    // A member that goes away stops holding lines back.
    hub.say(a, "again");
    assert!(take(&a_box, usize::MAX).is_some());
    assert_eq!(log_size(&hub).0, 1);
    drop(b_box);
    assert_eq!(log_size(&hub), (0, 0));
}

#[test]
fn a_batch_stops_at_the_byte_limit_and_takes_one_line_at_least() {
    let hub = Hub::new(1 << 20);
    let (a, a_box) = hub.join(addr(1));
    take(&a_box, usize::MAX);
    for i in 0..3 {
        hub.tell(a, &format!("note {i}"));
    }
    // Each is 9 bytes: a 1-byte limit still takes one, 18 takes two.
    assert_eq!(take(&a_box, 1).as_deref(), Some("* note 0\n"));
    assert_eq!(take(&a_box, 18).as_deref(), Some("* note 1\n* note 2\n"));
    assert_eq!(log_size(&hub), (0, 0));
}

#[test]
fn a_private_line_reaches_its_recipient_alone_and_in_order() {
    let hub = Hub::new(1 << 20);
    let (a, a_box) = hub.join(addr(1));
    let (b, b_box) = hub.join(addr(2));
    hub.say(a, "one");
    hub.tell(b, "for b only");
    hub.say(a, "two");
    let a_saw = take(&a_box, usize::MAX).expect("a's lines");
    let b_saw = take(&b_box, usize::MAX).expect("b's lines");
    assert!(!a_saw.contains("for b only"), "{a_saw}");
    let b_order: Vec<&str> = b_saw
        .lines()
        .filter(|line| ["one", "* for b only", "two"].contains(line))
        .collect();
    assert_eq!(b_order, ["one", "* for b only", "two"], "{b_saw}");
    assert_eq!(log_size(&hub), (0, 0), "a stepped over b's line");

    // A private line for someone who is gone is not logged at all.
    hub.leave(b, true);
    hub.tell(b, "too late");
    assert_eq!(log_size(&hub), (0, 0));
}

#[tokio::test]
async fn a_leaving_member_gets_what_was_said_before_then_its_last_line() {
    let hub = Hub::new(1 << 20);
    let (a, a_box) = hub.join(addr(1));
    let (b, _b_box) = hub.join(addr(2));
    hub.say(b, "before");
    hub.leave(a, true);
    hub.say(b, "after");
    a_box.close_with(Some(notice("bye")));
    let got = drain(&a_box).await;
    assert!(got.contains("\nbefore\n"), "{got}");
    assert!(!got.contains("after"), "{got}");
    assert!(got.ends_with("* bye\n"), "{got}");
    assert_eq!(a_box.next_batch(usize::MAX).await, Batch::Closed);
}

#[test]
fn a_slow_member_is_dropped_while_the_others_read_on() {
    const MAX: usize = 4096;
    let hub = Hub::new(MAX);
    let (_, slow_box) = hub.join(addr(1));
    let fast: Vec<(MemberId, Outbox)> = (2..5).map(|port| hub.join(addr(port))).collect();
    let mut heard = vec![String::new(); fast.len()];
    for i in 0..100 {
        let (speaker, _) = fast[i % fast.len()];
        hub.say(speaker, &format!("line {i} {}", "x".repeat(i)));
        for ((_, outbox), heard) in fast.iter().zip(&mut heard) {
            heard.push_str(&take(outbox, usize::MAX).expect("a line each time"));
        }
        let (_, bytes) = log_size(&hub);
        assert!(bytes <= MAX, "the log holds {bytes} bytes");
    }
    assert!(slow_box.kicked.is_cancelled());
    assert_eq!(hub.len(), fast.len());
    let kicked = "* 127.0.0.1 1 was disconnected (too slow: more than 4096 bytes queued)\n";
    for heard in &heard {
        assert_eq!(heard.matches(kicked).count(), 1, "{heard}");
        for i in 0..100 {
            assert!(heard.contains(&format!("\nline {i} ")), "line {i} missing");
        }
    }
    // With the slow member gone, the readers have passed everything.
    assert_eq!(log_size(&hub), (0, 0));
}

/// A step of a random conversation: who acts, how, and a size.
#[derive(Debug, Clone)]
enum Step {
    Say(usize, usize),
    Read(usize, usize),
    Who(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4usize, 0..600usize).prop_map(|(who, len)| Step::Say(who, len)),
        (0..4usize, 1..4000usize).prop_map(|(who, max)| Step::Read(who, max)),
        (0..4usize).prop_map(Step::Who),
    ]
}

/// Plays `steps` in a room of four limited to `max` bytes, checking
/// after each one that the log stays within the limit and that every
/// member gets the numbered lines in the order they were said.
fn converse(steps: Vec<Step>, max: usize) -> Result<(), TestCaseError> {
    let hub = Hub::new(max);
    let members: Vec<(MemberId, Outbox)> = (1..5).map(|port| hub.join(addr(port))).collect();
    let mut said = 0;
    let mut last_heard = vec![None; members.len()];
    for step in steps {
        match step {
            Step::Say(who, len) => {
                hub.say(members[who].0, &format!("#{said} {}", "x".repeat(len)));
                said += 1;
            }
            Step::Read(who, max_bytes) => match take_any(&members[who].1, max_bytes) {
                Some(Batch::Lines(batch)) => {
                    for line in String::from_utf8_lossy(&batch).lines() {
                        let Some((n, _)) = line.strip_prefix('#').and_then(|l| l.split_once(' '))
                        else {
                            continue;
                        };
                        let n: usize = n.parse().expect("numbered");
                        prop_assert!(last_heard[who].is_none_or(|last| n > last));
                        last_heard[who] = Some(n);
                    }
                }
                Some(Batch::Kicked) => prop_assert!(members[who].1.kicked.is_cancelled()),
                Some(Batch::Closed) => prop_assert!(false, "nobody closed"),
                None => {}
            },
            Step::Who(who) => hub.who(members[who].0),
        }
        let (_, bytes) = log_size(&hub);
        prop_assert!(bytes <= max, "the log holds {} bytes", bytes);
    }
    Ok(())
}

proptest! {
    /// Whatever members say and however fast they read, the log never
    /// holds more than `max_queue` bytes (so not even one line more),
    /// and each member gets the lines in the order they were said.
    #[test]
    fn the_log_never_holds_more_than_max_queue(steps in vec(step(), 1..200)) {
        converse(steps, 2048)?;
    }
}

/// A broker that hands every line to another hub, as Redis would.
struct Relay(Arc<Mutex<Vec<Bytes>>>);

impl Broker for Relay {
    fn publish(&self, line: Bytes, _about: About<'_>) -> Option<Bytes> {
        self.0.lock().expect("relay lock").push(line);
        None
    }
}

#[tokio::test]
async fn a_broker_carries_lines_to_another_node() {
    let wire = Arc::new(Mutex::new(Vec::new()));
    let here = Hub::with_broker(1 << 20, Relay(wire.clone()));
    let there = Hub::new(1 << 20);
    let (_, remote_box) = there.join(addr(9));
    let (a, local_box) = here.join(addr(1));
    here.say(a, "hello, other node");
    // The broker took the lines: nothing reaches anyone until it delivers.
    assert_eq!(here.inner.room().log.end(), 0);
    let lines: Vec<Bytes> = wire.lock().expect("relay lock").drain(..).collect();
    here.deliver(lines.clone());
    there.deliver(lines);
    let mine = drain(&local_box).await;
    assert!(
        mine.starts_with(
            "* 127.0.0.1 1 joined
"
        ),
        "{mine}"
    );
    let got = drain(&remote_box).await;
    assert!(got.ends_with(&mine), "{got} / {mine}");
    assert!(
        got.starts_with("* 127.0.0.1 9 joined\n* 127.0.0.1 1 joined\n"),
        "{got}"
    );
    assert!(got.ends_with(" 127.0.0.1 1\nhello, other node\n"), "{got}");
}
