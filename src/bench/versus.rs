//! `--vs ADDR --runs N`: the same bench against two servers, interleaved run
//! by run in alternating order (A B, B A, A B ...) so that whatever else the
//! machine does falls on both alike; the medians of each side and their
//! ratio A/B.
//!
//! ```text
//! JSON   {"runs": N, "a": SIDE, "b": SIDE, "ratio": {per_second p50_ms p99_ms
//!        cpu_us_per_request}}
//! SIDE   {"target", "runs": [{per_second p50_ms p99_ms cpu_us_per_request
//!        errors}], "median": {per_second p50_ms p99_ms cpu_us_per_request}}
//! ```

use std::fmt::Write as _;
use std::future::Future;

use serde::Serialize;
use serde_json::json;

use super::report::{Report, singular};

/// Which server a run loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The first address (ADDR).
    A,
    /// The second (`--vs`).
    B,
}

/// The figures of one run that are compared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Figures {
    /// Answers per second.
    pub per_second: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Server CPU µs per answer, with its pid.
    pub cpu_us_per_request: Option<f64>,
}

impl Figures {
    /// The compared figures of `report`.
    pub fn of(report: &Report) -> Self {
        let h = &report.tally.latency;
        let ms = |q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Self {
            per_second: report.per_second(),
            p50_ms: ms(0.5),
            p99_ms: ms(0.99),
            cpu_us_per_request: report
                .tally
                .server
                .and_then(|u| u.cpu_us_per(report.tally.completed)),
        }
    }
}

/// One server's runs.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    /// The address loaded.
    pub target: String,
    /// Each run's figures, in order.
    pub figures: Vec<Figures>,
    /// Each run's failures.
    pub errors: Vec<u64>,
    /// The first failure's description.
    pub first_error: Option<String>,
}

impl Runs {
    /// The medians of every figure.
    pub fn median(&self) -> Figures {
        let pick = |f: fn(&Figures) -> f64| median(self.figures.iter().map(f).collect());
        let cpu: Vec<f64> = self
            .figures
            .iter()
            .filter_map(|f| f.cpu_us_per_request)
            .collect();
        Figures {
            per_second: pick(|f| f.per_second),
            p50_ms: pick(|f| f.p50_ms),
            p99_ms: pick(|f| f.p99_ms),
            cpu_us_per_request: (!cpu.is_empty()).then(|| median(cpu)),
        }
    }

    fn add(&mut self, report: &Report) {
        self.target.clone_from(&report.setup.target);
        self.figures.push(Figures::of(report));
        self.errors.push(report.tally.errors.total());
        if self.first_error.is_none() {
            self.first_error.clone_from(&report.tally.first_error);
        }
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// Both servers' runs.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// What one answer is called (`round trips`, ...).
    pub unit: &'static str,
    /// The bench (`echo`, ...).
    pub protocol: String,
    /// ADDR's runs.
    pub a: Runs,
    /// `--vs`'s runs.
    pub b: Runs,
}

/// Runs `run(Side::A)` and `run(Side::B)` `runs` times each, interleaved in
/// pairs of alternating order: a side that always ran second would always
/// meet what the first left behind (its closing connections, a warmer or
/// cooler machine).
pub async fn compare<F, Fut, E>(runs: usize, mut run: F) -> Result<Comparison, E>
where
    F: FnMut(Side) -> Fut,
    Fut: Future<Output = Result<Report, E>>,
{
    let (mut a, mut b) = (Runs::default(), Runs::default());
    let (mut unit, mut protocol) = ("answers", String::new());
    for pair in 0..runs.max(1) {
        let order = if pair % 2 == 0 {
            [Side::A, Side::B]
        } else {
            [Side::B, Side::A]
        };
        for side in order {
            let report = run(side).await?;
            unit = report.setup.unit;
            protocol.clone_from(&report.setup.protocol);
            match side {
                Side::A => a.add(&report),
                Side::B => b.add(&report),
            }
        }
    }
    Ok(Comparison {
        unit,
        protocol,
        a,
        b,
    })
}

/// `a / b`, or `None` when b is zero or missing.
fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => Some(a / b),
        _ => None,
    }
}

impl Comparison {
    /// Failures over every run of both sides.
    pub fn errors(&self) -> u64 {
        self.a.errors.iter().chain(&self.b.errors).sum()
    }

    /// The first failure of either side.
    pub fn first_error(&self) -> Option<&str> {
        self.a
            .first_error
            .as_deref()
            .or(self.b.first_error.as_deref())
    }

    fn ratios(&self) -> [Option<f64>; 4] {
        let (a, b) = (self.a.median(), self.b.median());
        [
            ratio(Some(a.per_second), Some(b.per_second)),
            ratio(Some(a.p50_ms), Some(b.p50_ms)),
            ratio(Some(a.p99_ms), Some(b.p99_ms)),
            ratio(a.cpu_us_per_request, b.cpu_us_per_request),
        ]
    }

    /// The comparison as one JSON object (keys in the module doc).
    pub fn to_json(&self) -> serde_json::Value {
        let side = |runs: &Runs| {
            let each: Vec<serde_json::Value> = runs
                .figures
                .iter()
                .zip(&runs.errors)
                .map(|(f, e)| {
                    let mut v = json!(f);
                    v["errors"] = json!(e);
                    v
                })
                .collect();
            json!({"target": runs.target, "runs": each, "median": runs.median()})
        };
        let [per_second, p50, p99, cpu] = self.ratios();
        json!({
            "protocol": self.protocol,
            "unit": self.unit,
            "runs": self.a.figures.len(),
            "a": side(&self.a),
            "b": side(&self.b),
            "ratio": {"per_second": per_second, "p50_ms": p50, "p99_ms": p99, "cpu_us_per_request": cpu},
            "errors": self.errors(),
            "first_error": self.first_error(),
        })
    }

    /// The human table: medians of both sides and A/B.
    pub fn to_text(&self) -> String {
        let (a, b) = (self.a.median(), self.b.median());
        let ratios = self.ratios();
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "====== {}: A {} vs B {}, medians of {} interleaved runs (A B, B A, A B ...) ======",
            self.protocol,
            self.a.target,
            self.b.target,
            self.a.figures.len()
        );
        let _ = writeln!(out, "  {:<28} {:>14} {:>14} {:>8}", "", "A", "B", "A/B");
        let fmt =
            |v: Option<f64>, digits: usize| v.map_or("-".to_string(), |v| format!("{v:.digits$}"));
        let rows = [
            (
                format!("{} per second", self.unit),
                Some(a.per_second),
                Some(b.per_second),
                1,
            ),
            (
                "latency p50 (msec)".to_string(),
                Some(a.p50_ms),
                Some(b.p50_ms),
                3,
            ),
            (
                "latency p99 (msec)".to_string(),
                Some(a.p99_ms),
                Some(b.p99_ms),
                3,
            ),
            (
                format!("server CPU µs per {}", singular(self.unit)),
                a.cpu_us_per_request,
                b.cpu_us_per_request,
                3,
            ),
        ];
        for ((label, va, vb, digits), r) in rows.into_iter().zip(ratios) {
            let _ = writeln!(
                out,
                "  {label:<28} {:>14} {:>14} {:>8}",
                fmt(va, digits),
                fmt(vb, digits),
                fmt(r, 2)
            );
        }
        let per_run = |runs: &Runs| {
            runs.figures
                .iter()
                .map(|f| format!("{:.0}", f.per_second))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let _ = writeln!(
            out,
            "  runs A ({} per second): {}",
            self.unit,
            per_run(&self.a)
        );
        let _ = writeln!(
            out,
            "  runs B ({} per second): {}",
            self.unit,
            per_run(&self.b)
        );
        let _ = writeln!(out, "Errors: {}", self.errors());
        if let Some(first) = self.first_error() {
            let _ = writeln!(out, "First error: {first}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::report::{Setup, Tally};
    use super::*;

    /// A run whose only figure is `completed`, 1 for A and 2 for B.
    fn report(side: Side) -> Report {
        let target = match side {
            Side::A => "127.0.0.1:1",
            Side::B => "127.0.0.1:2",
        };
        let setup = Setup {
            protocol: "echo".into(),
            target: target.into(),
            spread: vec![(target.into(), 1)],
            unit: "round trips",
            connections: 1,
            pipeline: 1,
            size: 64,
            rate: None,
            duration_s: 1.0,
            warmup_s: 0.0,
        };
        let tally = Tally {
            completed: if side == Side::A { 1 } else { 2 },
            ..Tally::default()
        };
        Report::new(setup, tally)
    }

    #[tokio::test]
    async fn pairs_alternate_their_order_and_each_side_keeps_its_runs() {
        let mut order = Vec::new();
        let compared = compare(3, |side| {
            order.push(side);
            std::future::ready(Ok::<_, ()>(report(side)))
        })
        .await
        .expect("runs");
        use Side::{A, B};
        assert_eq!(order, [A, B, B, A, A, B]);
        assert_eq!(compared.a.target, "127.0.0.1:1");
        assert_eq!(compared.b.target, "127.0.0.1:2");
        let per_second = |runs: &Runs| {
            runs.figures
                .iter()
                .map(|f| f.per_second)
                .collect::<Vec<_>>()
        };
        assert_eq!(per_second(&compared.a), [1.0; 3]);
        assert_eq!(per_second(&compared.b), [2.0; 3]);
    }

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(ratio(Some(2.0), Some(4.0)), Some(0.5));
        assert_eq!(ratio(Some(2.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
    }
}
