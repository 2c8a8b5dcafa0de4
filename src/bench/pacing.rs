//! Open-loop pacing finer than tokio's timer, which fires up to a millisecond
//! late: one thread, the metronome, keeps the whole run's schedule and rings
//! each connection's bell at its requests' intended times; the connection's
//! task sends when rung.
//!
//! ```text
//! request k of connection i   due at start + every * (i / conns + k)
//!                             (every = conns / rate: all connections'
//!                             requests interleave, rate per second in all)
//! metronome                   sleeps (timer slack 1 ns) until SPIN before
//!                             the next due time, then spins with yields to it
//! ```
//! What remains between the intended time and the write is the task's
//! wake-up; each bench counts it as the send lag in its report.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::{Load, Pacer};

/// The metronome sleeps until this long before a due time, then spins: a
/// sleep with 1 ns of slack overshoots by tens of µs on a busy machine.
const SPIN: Duration = Duration::from_micros(60);
/// The longest single sleep, so that a stop is noticed soon.
const NAP: Duration = Duration::from_millis(50);

/// The intended send times of one connection's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    first: Instant,
    every: Duration,
}

impl Schedule {
    /// The schedule of connection `index` of `load.conns` at `load.rate`
    /// (`None` in closed loop), from `start`.
    pub fn of(load: &Load, index: usize, start: Instant) -> Option<Self> {
        let rate = load.rate?;
        let every = Duration::from_secs_f64(load.conns as f64 / rate);
        let offset = every.mul_f64(index as f64 / load.conns as f64);
        Some(Self {
            first: start + offset,
            every,
        })
    }

    /// When request `k` is due.
    pub fn at(&self, k: u64) -> Instant {
        let nanos = self.every.as_nanos().saturating_mul(u128::from(k));
        self.first + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// The thread that rings every connection's bell at its schedule's times,
/// until the end of the run; stopped and joined when dropped.
#[derive(Debug)]
pub struct Metronome {
    schedules: Vec<Schedule>,
    bells: Vec<Arc<Notify>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Metronome {
    /// Starts ringing `schedules[i]` on bell `i`, in time order, until `end`.
    pub fn start(schedules: Vec<Schedule>, end: Instant) -> std::io::Result<Self> {
        let bells: Vec<Arc<Notify>> = schedules.iter().map(|_| Arc::new(Notify::new())).collect();
        let stop = Arc::new(AtomicBool::new(false));
        let (ringing, stopping, times) = (bells.clone(), stop.clone(), schedules.clone());
        let thread = std::thread::Builder::new()
            .name("bench-metronome".into())
            .spawn(move || ring(&times, &ringing, end, &stopping))?;
        Ok(Self {
            schedules,
            bells,
            stop,
            thread: Some(thread),
        })
    }

    /// The bell of connection `index`.
    pub fn bell(&self, index: usize) -> Arc<Notify> {
        self.bells[index].clone()
    }

    /// The pacer of connection `index`: its schedule and its bell.
    pub fn pacer(&self, index: usize) -> Pacer {
        Pacer::Open {
            schedule: self.schedules[index],
            taken: 0,
            bell: self.bell(index),
        }
    }
}

impl Drop for Metronome {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The metronome's loop. The schedules interleave (connection i's offset
/// is i / conns of an interval), so request n overall is request n / conns of
/// connection n % conns and the times only grow.
fn ring(schedules: &[Schedule], bells: &[Arc<Notify>], end: Instant, stop: &AtomicBool) {
    fine_timer_slack();
    let conns = schedules.len() as u64;
    for n in 0u64.. {
        let i = (n % conns) as usize;
        let due = schedules[i].at(n / conns);
        if due >= end || !wait_until(due.into_std(), stop) {
            return;
        }
        bells[i].notify_one();
    }
}

/// Sleeps, then spins, until `due`; false if stopped first.
fn wait_until(due: std::time::Instant, stop: &AtomicBool) -> bool {
    loop {
        let now = std::time::Instant::now();
        if now >= due {
            return true;
        }
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let left = due - now;
        if left > SPIN {
            std::thread::sleep((left - SPIN).min(NAP));
        } else {
            // Gives the core to a runnable thread (the server, our workers)
            // and is back within µs when there is none.
            std::thread::yield_now();
        }
    }
}

/// Asks Linux to wake this thread's sleeps on time rather than up to 50 µs
/// late (the default slack, which lets the kernel batch wake-ups).
fn fine_timer_slack() {
    #[cfg(target_os = "linux")]
    // SAFETY: PR_SET_TIMERSLACK takes one integer argument and only changes
    // the calling thread's timer slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_interleave_at_the_rate() {
        let start = Instant::now();
        let load = Load {
            conns: 4,
            rate: Some(1000.0),
            ..Load::default()
        };
        let times: Vec<Instant> = (0..8)
            .map(|n| {
                Schedule::of(&load, n % 4, start)
                    .expect("open loop")
                    .at(n as u64 / 4)
            })
            .collect();
        for (n, at) in times.iter().enumerate() {
            assert_eq!(*at - start, Duration::from_millis(n as u64));
        }
        let closed = Load { rate: None, ..load };
        assert_eq!(Schedule::of(&closed, 0, start), None);
    }

    #[tokio::test]
    async fn rings_each_bell_on_time() {
        let start = Instant::now() + Duration::from_millis(5);
        let load = Load {
            conns: 2,
            rate: Some(1000.0),
            ..Load::default()
        };
        let schedules: Vec<Schedule> = (0..2)
            .map(|i| Schedule::of(&load, i, start).expect("open loop"))
            .collect();
        let metronome =
            Metronome::start(schedules.clone(), start + Duration::from_millis(20)).expect("thread");
        let bell = metronome.bell(1);
        for k in 0..5 {
            tokio::time::timeout(Duration::from_secs(5), bell.notified())
                .await
                .expect("rung");
            // Never early; the task's own wake-up makes it late by how busy
            // the machine is, so the bound is loose.
            let late = Instant::now().saturating_duration_since(schedules[1].at(k));
            assert!(Instant::now() >= schedules[1].at(k), "early at {k}");
            assert!(late < Duration::from_millis(50), "{late:?} late at {k}");
        }
    }
}
