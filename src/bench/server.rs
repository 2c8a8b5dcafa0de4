//! The server's own cost (`--server-pid PID`): its CPU time and resident
//! memory from `/proc/PID/stat`, sampled when the measured window opens and
//! when it closes, so the figure is what the server spent on the requests
//! counted, however fast or slow the load generator was.
//!
//! ```text
//! /proc/PID/stat   field 14 utime, 15 stime (clock ticks), 24 rss (pages)
//! cpu_us           (utime + stime at the end - at the start) in µs
//! ```
//! With 100 ticks per second a sample is good to 10 ms of CPU: over a
//! window of seconds and thousands of requests that is well under 1%.

use serde::Serialize;

/// One reading of a process's CPU time and resident memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// User plus system CPU time so far, in µs.
    pub cpu_us: u64,
    /// Resident set size, in bytes.
    pub rss_bytes: u64,
}

/// Why a process could not be sampled.
#[derive(Debug, thiserror::Error)]
#[error("reading /proc/{pid}/stat (is --server-pid a running process of this machine?): {why}")]
pub struct SampleError {
    /// The process asked about.
    pub pid: u32,
    /// What went wrong.
    pub why: String,
}

impl Sample {
    /// Reads process `pid`'s CPU time and RSS now.
    pub fn of(pid: u32) -> Result<Sample, SampleError> {
        let fail = |why: String| SampleError { pid, why };
        let id = i32::try_from(pid).map_err(|_| fail("not a process id".into()))?;
        let stat = procfs::process::Process::new(id)
            .and_then(|p| p.stat())
            .map_err(|err| fail(err.to_string()))?;
        let ticks = procfs::ticks_per_second().max(1);
        let cpu_ticks = stat.utime + stat.stime;
        Ok(Sample {
            cpu_us: cpu_ticks.saturating_mul(1_000_000) / ticks,
            rss_bytes: stat.rss.saturating_mul(procfs::page_size()),
        })
    }
}

/// What the server used over the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ServerUsage {
    /// The server's process id.
    pub pid: u32,
    /// CPU time (user + system) spent in the window, in µs.
    pub cpu_us: u64,
    /// Resident memory when the window opened, in bytes.
    pub rss_start_bytes: u64,
    /// Resident memory when it closed, in bytes.
    pub rss_bytes: u64,
}

impl ServerUsage {
    /// The usage between two samples of process `pid`.
    pub fn between(pid: u32, start: Sample, end: Sample) -> Self {
        Self {
            pid,
            cpu_us: end.cpu_us.saturating_sub(start.cpu_us),
            rss_start_bytes: start.rss_bytes,
            rss_bytes: end.rss_bytes,
        }
    }

    /// CPU µs per answer, over `completed` answers.
    pub fn cpu_us_per(&self, completed: u64) -> Option<f64> {
        (completed > 0).then(|| self.cpu_us as f64 / completed as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let before = Sample::of(std::process::id()).expect("our own /proc entry");
        // Burn some CPU so that at least one clock tick passes.
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = Sample::of(std::process::id()).expect("our own /proc entry");
        let usage = ServerUsage::between(std::process::id(), before, after);
        assert!(usage.cpu_us >= 10_000, "{usage:?}");
        assert!(usage.rss_bytes > 0);
        assert_eq!(usage.cpu_us_per(0), None);
        assert_eq!(usage.cpu_us_per(2), Some(usage.cpu_us as f64 / 2.0));
        assert!(Sample::of(u32::MAX).is_err());
    }
}
