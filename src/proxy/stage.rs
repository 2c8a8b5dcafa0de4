//! The relay stage that applies a proxy's toxics to one direction of one
//! connection, following the proxy's toxic list as it changes.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand::RngExt;
use rand::rngs::StdRng;
use tokio::sync::watch;
use tokio::time::Instant;

use super::toxic::{Direction, Kind, Toxic};
use crate::relay::{Stage, Step};

/// A proxy's toxics as every connection sees them; replaced whole on a change.
pub type Toxics = watch::Receiver<Arc<Vec<Toxic>>>;

/// The toxics of one direction of a connection.
pub struct ToxicStage {
    direction: Direction,
    toxics: Toxics,
    active: Vec<Active>,
    // Whether each toxic (by name) hit this connection: drawn once, on first
    // sight, so an update of its attributes does not draw again.
    drawn: Vec<(String, bool)>,
    rng: StdRng,
    // The proxy went away: the connection closes.
    gone: bool,
}

/// A toxic that hit this connection, with its state.
struct Active {
    toxic: Toxic,
    since: Instant,
    // Bandwidth: when the link is free again. Limit: bytes let through.
    next_free: Instant,
    passed: u64,
}

/// A piece of the stream and when it may be written.
type Piece = (Bytes, Instant);

impl ToxicStage {
    /// The stage of `direction`, following `toxics`, drawing from `rng`.
    pub fn new(direction: Direction, toxics: Toxics, rng: StdRng) -> ToxicStage {
        let mut stage = ToxicStage {
            direction,
            toxics,
            active: Vec::new(),
            drawn: Vec::new(),
            rng,
            gone: false,
        };
        stage.sync();
        stage
    }

    /// Brings the active toxics in line with the proxy's list, keeping the
    /// state of those that are still there with the same type.
    fn sync(&mut self) {
        let toxics = self.toxics.borrow_and_update().clone();
        let now = Instant::now();
        let mut active = Vec::with_capacity(toxics.len());
        for toxic in toxics.iter().filter(|t| t.stream == self.direction) {
            let hit = match self.drawn.iter().find(|(name, _)| *name == toxic.name) {
                Some(&(_, hit)) => hit,
                None => {
                    let hit = self.rng.random::<f64>() < toxic.toxicity;
                    self.drawn.push((toxic.name.clone(), hit));
                    hit
                }
            };
            if !hit {
                continue;
            }
            let kept = self.active.iter().position(|a| {
                a.toxic.name == toxic.name
                    && std::mem::discriminant(&a.toxic.kind) == std::mem::discriminant(&toxic.kind)
            });
            match kept {
                Some(i) => {
                    let mut kept = self.active.swap_remove(i);
                    kept.toxic = toxic.clone();
                    active.push(kept);
                }
                None => active.push(Active {
                    toxic: toxic.clone(),
                    since: now,
                    next_free: now,
                    passed: 0,
                }),
            }
        }
        self.active = active;
    }

    /// The next instant a timeout or reset_peer toxic acts on its own.
    fn deadline(&self) -> Option<Instant> {
        self.active
            .iter()
            .filter_map(|a| match a.toxic.kind {
                Kind::Timeout { timeout } if timeout > 0 => Some(a.since + ms(timeout)),
                Kind::ResetPeer { timeout } => Some(a.since + ms(timeout)),
                _ => None,
            })
            .min()
    }

    /// Runs the pieces through every active toxic in order; returns a
    /// Close step when limit_data has let its last byte through.
    fn apply(&mut self, pieces: &mut Vec<Piece>) -> Option<Step> {
        for active in &mut self.active {
            match active.toxic.kind {
                Kind::Latency { latency, jitter } => {
                    for (_, at) in pieces.iter_mut() {
                        let spread = if jitter > 0 {
                            self.rng.random_range(-(jitter as f64)..=jitter as f64)
                        } else {
                            0.0
                        };
                        let delay = (latency as f64 + spread).max(0.0);
                        *at += Duration::from_secs_f64(delay / 1000.0);
                    }
                }
                Kind::Bandwidth { rate } if rate > 0 => {
                    let per_second = rate as f64 * 1000.0;
                    // Writes of at most 100 ms' worth keep the rate smooth.
                    let most = ((per_second / 10.0) as usize).max(1);
                    let mut paced = Vec::with_capacity(pieces.len());
                    for (data, at) in pieces.drain(..) {
                        for part in split(&data, |_| most) {
                            let start = at.max(active.next_free);
                            let takes = part.len() as f64 / per_second;
                            active.next_free = start + Duration::from_secs_f64(takes);
                            paced.push((part, start));
                        }
                    }
                    *pieces = paced;
                }
                Kind::Slicer {
                    average_size,
                    size_variation,
                    delay,
                } => {
                    let rng = &mut self.rng;
                    let mut sliced = Vec::with_capacity(pieces.len());
                    for (data, at) in pieces.drain(..) {
                        let mut when = at;
                        let sizes = |_: usize| {
                            let spread = size_variation.min(average_size.saturating_sub(1));
                            let low = average_size - spread;
                            rng.random_range(low..=average_size + spread) as usize
                        };
                        for part in split(&data, sizes) {
                            sliced.push((part, when));
                            when += Duration::from_micros(delay);
                        }
                    }
                    *pieces = sliced;
                }
                Kind::LimitData { bytes } => {
                    let mut kept = Vec::with_capacity(pieces.len());
                    for (data, at) in pieces.drain(..) {
                        let room = bytes.saturating_sub(active.passed);
                        let take = data.len().min(usize::try_from(room).unwrap_or(usize::MAX));
                        if take > 0 {
                            active.passed += take as u64;
                            kept.push((data.slice(..take), at));
                        }
                    }
                    *pieces = kept;
                    if active.passed >= bytes {
                        return Some(Step::Close);
                    }
                }
                // A blackhole: nothing gets through until it is removed.
                Kind::Timeout { .. } => pieces.clear(),
                Kind::Bandwidth { .. } | Kind::ResetPeer { .. } | Kind::SlowClose { .. } => {}
            }
        }
        None
    }
}

/// `data` cut into consecutive parts whose sizes `size` picks (at least 1).
fn split(data: &Bytes, mut size: impl FnMut(usize) -> usize) -> Vec<Bytes> {
    let mut parts = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let len = size(at).max(1).min(data.len() - at);
        parts.push(data.slice(at..at + len));
        at += len;
    }
    parts
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value)
}

impl Stage for ToxicStage {
    fn chunk(&mut self, data: Bytes, arrived: Instant, steps: &mut Vec<Step>) {
        if self.toxics.has_changed().unwrap_or(false) {
            self.sync();
        }
        if self.active.is_empty() {
            steps.push(Step::Write(data));
            return;
        }
        let mut pieces = vec![(data, arrived)];
        let end = self.apply(&mut pieces);
        for (data, at) in pieces {
            steps.push(Step::Until(at));
            steps.push(Step::Write(data));
        }
        steps.extend(end);
    }

    fn eof(&mut self, steps: &mut Vec<Step>) {
        for active in &self.active {
            if let Kind::SlowClose { delay } = active.toxic.kind {
                steps.push(Step::Until(Instant::now() + ms(delay)));
            }
        }
    }

    async fn wake(&mut self) {
        if self.gone {
            return std::future::pending().await;
        }
        let deadline = self.deadline();
        let at_deadline = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = self.toxics.changed() => match changed {
                Ok(()) => self.sync(),
                Err(_) => self.gone = true,
            },
            () = at_deadline => {}
        }
    }

    fn woken(&mut self, steps: &mut Vec<Step>) {
        if self.gone {
            steps.push(Step::Close);
            return;
        }
        let now = Instant::now();
        for active in &self.active {
            match active.toxic.kind {
                Kind::Timeout { timeout } if timeout > 0 && active.since + ms(timeout) <= now => {
                    steps.push(Step::Close);
                }
                Kind::ResetPeer { timeout } if active.since + ms(timeout) <= now => {
                    steps.push(Step::Reset);
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    // The steps themselves, free of how a reader's scheduling coalesces them.
    #[test]
    fn slicer_of_average_size_one_writes_one_byte_per_delay() {
        let toxic =
            Toxic::parse("slicer:average_size=1,delay=2000,stream=upstream").expect("parses");
        let (_keep, toxics) = watch::channel(Arc::new(vec![toxic]));
        let mut stage = ToxicStage::new(Direction::Upstream, toxics, StdRng::seed_from_u64(1));
        let arrived = Instant::now();
        let mut steps = Vec::new();
        stage.chunk(Bytes::from_static(b"hello world"), arrived, &mut steps);
        let expected: Vec<Step> = (0..11u64)
            .flat_map(|i| {
                let byte = Bytes::copy_from_slice(&b"hello world"[i as usize..][..1]);
                [
                    Step::Until(arrived + Duration::from_micros(2000 * i)),
                    Step::Write(byte),
                ]
            })
            .collect();
        assert_eq!(steps, expected);
    }
}
