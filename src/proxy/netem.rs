//! netem's UDP faults, per direction, drawn from a seedable generator: what
//! happens to each datagram and when it goes out.
//!
//! ```text
//! loss:percent=P               drop with probability P %
//! loss:p=P,r=R[,h=H,k=K]       Gilbert-Elliott: P % good→bad, R % bad→good,
//!                              H % lost in bad (default 100), K % in good (default 0)
//! duplicate:percent=P          send twice
//! corrupt:percent=P            flip one random bit
//! delay:delay=MS[,jitter=MS]   hold MS ± JITTER ms (jitter reorders, as in netem)
//! reorder:percent=P[,gap=N]    hold one back until N more (default 1) have gone
//! rate:rate=KB                 at most KB kilobytes (1000 bytes) per second
//! any of them: stream=upstream|downstream (default downstream)
//! ```
//! They act in netem's order: loss, duplicate, corrupt, delay, reorder, rate.
//! netem's own reorder needs a delay and sends the chosen datagrams early;
//! this one holds the chosen datagram back, which shows the same reordering
//! with or without a delay.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::RngExt;
use rand::rngs::StdRng;
use tokio::time::Instant;

use super::toxic::Direction;

/// One fault, as netem names it.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Random loss, in percent.
    Loss(f64),
    /// Bursty loss (Gilbert-Elliott), in percent: p (good→bad), r
    /// (bad→good), h (loss when bad), k (loss when good).
    Gilbert { p: f64, r: f64, h: f64, k: f64 },
    /// Duplication, in percent.
    Duplicate(f64),
    /// One flipped bit, in percent.
    Corrupt(f64),
    /// A delay and its uniform spread.
    Delay { delay: Duration, jitter: Duration },
    /// Held back behind `gap` later datagrams, in percent.
    Reorder { percent: f64, gap: usize },
    /// A rate limit in bytes per second.
    Rate(f64),
}

/// A fault and the direction it acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct DirectedFault {
    /// What it does.
    pub fault: Fault,
    /// Which way.
    pub stream: Direction,
}

/// Why a fault was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid fault {spec:?}: {why}")]
pub struct FaultError {
    spec: String,
    why: String,
}

impl DirectedFault {
    /// Parses `NAME:key=value,...`.
    pub fn parse(spec: &str) -> Result<DirectedFault, FaultError> {
        let fail = |why: String| FaultError {
            spec: spec.to_string(),
            why,
        };
        let (name, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut stream = Direction::Downstream;
        let mut keys: Vec<(&str, f64)> = Vec::new();
        for pair in rest.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| fail(format!("{pair:?} is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            if key == "stream" {
                stream = match value {
                    "upstream" => Direction::Upstream,
                    "downstream" => Direction::Downstream,
                    _ => return Err(fail(format!("stream={value} (upstream or downstream)"))),
                };
                continue;
            }
            match value.parse::<f64>() {
                Ok(number) if number >= 0.0 && number.is_finite() => keys.push((key, number)),
                _ => return Err(fail(format!("{key}={value} is not a number of 0 or more"))),
            }
        }
        let allowed: &[&str] = match name {
            "loss" if keys.iter().any(|(k, _)| *k == "p") => &["p", "r", "h", "k"],
            "loss" | "duplicate" | "corrupt" => &["percent"],
            "delay" => &["delay", "jitter"],
            "reorder" => &["percent", "gap"],
            "rate" => &["rate"],
            _ => {
                return Err(fail(
                    "unknown fault (loss, duplicate, corrupt, delay, reorder, rate)".into(),
                ));
            }
        };
        if let Some((key, _)) = keys.iter().find(|(k, _)| !allowed.contains(k)) {
            return Err(fail(format!(
                "{name} takes {}, not {key}",
                allowed.join(", ")
            )));
        }
        let get = |key: &str, default: f64| {
            keys.iter()
                .find(|(k, _)| *k == key)
                .map_or(default, |&(_, v)| v)
        };
        let percent = |key: &str, default: f64| match get(key, default) {
            p if p <= 100.0 => Ok(p),
            p => Err(fail(format!("{key}={p} is above 100 %"))),
        };
        let ms = |key: &str| Duration::from_secs_f64(get(key, 0.0) / 1000.0);
        let fault = match name {
            "loss" if keys.iter().any(|(k, _)| *k == "p") => Fault::Gilbert {
                p: percent("p", 0.0)?,
                r: percent("r", 100.0)?,
                h: percent("h", 100.0)?,
                k: percent("k", 0.0)?,
            },
            "loss" => Fault::Loss(percent("percent", 0.0)?),
            "duplicate" => Fault::Duplicate(percent("percent", 0.0)?),
            "corrupt" => Fault::Corrupt(percent("percent", 0.0)?),
            "delay" => Fault::Delay {
                delay: ms("delay"),
                jitter: ms("jitter"),
            },
            "reorder" => Fault::Reorder {
                percent: percent("percent", 0.0)?,
                gap: get("gap", 1.0).max(1.0) as usize,
            },
            _ => match get("rate", 0.0) {
                rate if rate > 0.0 => Fault::Rate(rate * 1000.0),
                _ => return Err(fail("rate needs rate above 0 (KB/s)".into())),
            },
        };
        Ok(DirectedFault { fault, stream })
    }
}

/// The faults of one direction with their state.
#[derive(Debug)]
pub struct Netem {
    faults: Vec<Fault>,
    bad: bool,
    // A datagram held back for reordering, datagrams still to pass it, its peer.
    held: Option<(Bytes, usize, SocketAddr)>,
    next_free: Instant,
}

/// A datagram to send: its bytes, when, and for whom.
pub type Outgoing = (Bytes, Instant, SocketAddr);

/// How long a reordered datagram waits at most for the ones that pass it.
pub const HOLD_LIMIT: Duration = Duration::from_secs(1);

impl Netem {
    /// The faults of `direction` among `faults`.
    pub fn new(faults: &[DirectedFault], direction: Direction) -> Netem {
        Netem {
            faults: faults
                .iter()
                .filter(|f| f.stream == direction)
                .map(|f| f.fault.clone())
                .collect(),
            bad: false,
            held: None,
            next_free: Instant::now(),
        }
    }

    /// What becomes of `data` for `peer`, received `now`: the datagrams to
    /// send, when and for whom, pushed on `out` (none when it is lost; a
    /// reordered one released by it may be another peer's).
    pub fn datagram(
        &mut self,
        data: Bytes,
        peer: SocketAddr,
        now: Instant,
        rng: &mut StdRng,
        out: &mut Vec<Outgoing>,
    ) {
        let hit =
            |rng: &mut StdRng, percent: f64| percent > 0.0 && rng.random::<f64>() * 100.0 < percent;
        let mut copies = vec![(data, now, peer)];
        for fault in &self.faults {
            match *fault {
                Fault::Loss(percent) => copies.retain(|_| !hit(rng, percent)),
                Fault::Gilbert { p, r, h, k } => {
                    // One state step per datagram, then a loss draw in it.
                    self.bad = if self.bad { !hit(rng, r) } else { hit(rng, p) };
                    let loss = if self.bad { h } else { k };
                    copies.retain(|_| !hit(rng, loss));
                }
                Fault::Duplicate(percent) => {
                    if let Some(first) = copies.first().cloned().filter(|_| hit(rng, percent)) {
                        copies.push(first);
                    }
                }
                Fault::Corrupt(percent) => {
                    for (data, _, _) in copies.iter_mut().filter(|(d, _, _)| !d.is_empty()) {
                        if hit(rng, percent) {
                            let mut bytes = BytesMut::from(&data[..]);
                            let bit = rng.random_range(0..bytes.len() * 8);
                            bytes[bit / 8] ^= 1 << (bit % 8);
                            *data = bytes.freeze();
                        }
                    }
                }
                Fault::Delay { delay, jitter } => {
                    for (_, at, _) in copies.iter_mut() {
                        let spread = if jitter.is_zero() {
                            0.0
                        } else {
                            rng.random_range(-jitter.as_secs_f64()..=jitter.as_secs_f64())
                        };
                        *at += Duration::from_secs_f64((delay.as_secs_f64() + spread).max(0.0));
                    }
                }
                Fault::Reorder { percent, gap } => {
                    let mut passed = Vec::with_capacity(copies.len() + 1);
                    for (data, at, to) in copies.drain(..) {
                        if self.held.is_none() && hit(rng, percent) {
                            self.held = Some((data, gap, to));
                            continue;
                        }
                        passed.push((data, at, to));
                        if let Some((_, left, _)) = &mut self.held {
                            *left -= 1;
                        }
                        if let Some((held, _, owner)) = self.held.take_if(|(_, left, _)| *left == 0)
                        {
                            passed.push((held, at, owner));
                        }
                    }
                    copies = passed;
                }
                Fault::Rate(per_second) => {
                    for (data, at, _) in copies.iter_mut() {
                        let start = (*at).max(self.next_free);
                        self.next_free =
                            start + Duration::from_secs_f64(data.len() as f64 / per_second);
                        *at = self.next_free;
                    }
                }
            }
        }
        out.extend(copies);
    }

    /// A datagram held back for reordering that waited [`HOLD_LIMIT`]
    /// (no later one came to pass it): it goes now.
    pub fn release_held(&mut self) -> Option<(Bytes, SocketAddr)> {
        self.held.take().map(|(data, _, peer)| (data, peer))
    }

    /// Whether a datagram is being held back.
    pub fn holds(&self) -> bool {
        self.held.is_some()
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn run(spec: &str, count: usize) -> Vec<Outgoing> {
        let faults = [DirectedFault::parse(spec).expect("parses")];
        let mut netem = Netem::new(&faults, Direction::Downstream);
        let mut rng = StdRng::seed_from_u64(7);
        let mut out = Vec::new();
        let now = Instant::now();
        for i in 0..count {
            let data = Bytes::from(format!("{i:05}"));
            let peer = SocketAddr::from(([127, 0, 0, 1], 9));
            netem.datagram(data, peer, now, &mut rng, &mut out);
        }
        out
    }

    #[test]
    fn loss_is_near_its_rate() {
        let kept = run("loss:percent=30", 10_000).len() as f64;
        // 3 sigma of a binomial(10000, 0.3): 3 * sqrt(10000 * 0.3 * 0.7) ≈ 137.
        assert!((kept - 7000.0).abs() < 137.5, "{kept} kept");
    }

    #[test]
    fn duplicate_corrupt_reorder_and_delay_do_what_they_say() {
        let doubled = run("duplicate:percent=100", 10);
        assert_eq!(doubled.len(), 20);
        let corrupted = run("corrupt:percent=100", 10);
        for (i, (data, _, _)) in corrupted.iter().enumerate() {
            let plain = format!("{i:05}");
            let flipped: u32 = data
                .iter()
                .zip(plain.bytes())
                .map(|(a, b)| (a ^ b).count_ones())
                .sum();
            assert_eq!(flipped, 1, "one bit flipped in {data:?}");
        }
        let reordered = run("reorder:percent=100,gap=2", 3);
        let order: Vec<&[u8]> = reordered.iter().map(|(d, _, _)| &d[..]).collect();
        assert_eq!(order, [&b"00001"[..], b"00002", b"00000"]);
        let delayed = run("delay:delay=100,jitter=10", 100);
        let first = delayed.iter().map(|(_, at, _)| *at).min().expect("some");
        let last = delayed.iter().map(|(_, at, _)| *at).max().expect("some");
        assert!(last - first <= Duration::from_millis(20));
    }

    #[test]
    fn bad_faults_are_refused() {
        for spec in [
            "loss:percent=101",
            "loss:percent=x",
            "jam:percent=1",
            "delay:percent=1",
            "rate:rate=0",
            "loss:stream=left",
        ] {
            assert!(DirectedFault::parse(spec).is_err(), "{spec} was taken");
        }
        let bursty = DirectedFault::parse("loss:p=5,r=50").expect("gilbert");
        assert_eq!(
            bursty.fault,
            Fault::Gilbert {
                p: 5.0,
                r: 50.0,
                h: 100.0,
                k: 0.0
            }
        );
    }
}
