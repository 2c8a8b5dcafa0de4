//! The full latency distribution: HdrHistogram's percentile-distribution
//! text (`outputPercentileDistribution`, wrk2's "Detailed Percentile
//! spectrum", what `hdr-plot` and HdrHistogram's plotter read) and the
//! histogram itself in HdrHistogram's V2 compressed encoding, base64, which
//! every HdrHistogram implementation decodes.
//!
//! ```text
//!        Value     Percentile TotalCount 1/(1-Percentile)
//!
//!        0.022 0.000000000000          1           1.00
//!        ...                                             (5 ticks per half distance)
//!        4.983 1.000000000000      39222
//! #[Mean    =        0.023, StdDeviation   =        0.005]
//! #[Max     =        4.983, Total count    =        39222]
//! #[Buckets =           27, SubBuckets     =         2048]
//! ```
//! Values are milliseconds (the histogram counts microseconds).

use std::fmt::Write as _;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Serializer, V2DeflateSerializer};

/// Percentile steps per halving of the distance to 100%, as HdrHistogram's
/// and wrk2's output use.
const TICKS_PER_HALF: u32 = 5;
/// Microseconds per printed unit (milliseconds).
const SCALE: f64 = 1000.0;

/// The percentile distribution of `h` (µs) in HdrHistogram's text format, in ms.
pub fn text(h: &Histogram<u64>) -> String {
    let digits = usize::from(h.sigfig());
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    for step in h.iter_quantiles(TICKS_PER_HALF) {
        total += step.count_since_last_iteration();
        let value = step.value_iterated_to() as f64 / SCALE;
        let q = step.quantile_iterated_to();
        if q < 1.0 {
            let _ = writeln!(
                out,
                "{value:>12.digits$} {q:>2.12} {total:>10} {:>14.2}",
                1.0 / (1.0 - q)
            );
        } else {
            let _ = writeln!(out, "{value:>12.digits$} {q:>2.12} {total:>10}");
        }
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:>12.digits$}, StdDeviation   = {:>12.digits$}]",
        h.mean() / SCALE,
        h.stdev() / SCALE
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.digits$}, Total count    = {:>12}]",
        h.max() as f64 / SCALE,
        h.len()
    );
    let sub_buckets = (2 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two();
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_buckets
    );
    out
}

/// `h` in HdrHistogram's V2 compressed encoding, base64 (what
/// `HdrHistogram.decode` in Java or Python's `hdrh` reads).
pub fn encoded(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    // Serializing into memory fails only on a histogram too large to encode,
    // which these (one minute in µs at 3 digits) never are.
    match V2DeflateSerializer::new().serialize(h, &mut bytes) {
        Ok(_) => STANDARD.encode(bytes),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_has_hdrhistograms_shape() {
        let mut h = Histogram::<u64>::new_with_max(60_000_000, 3).expect("bounds");
        for us in 1..=1000 {
            h.record(us).expect("in range");
        }
        let text = text(&h);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        assert_eq!(
            lines[2],
            "       0.001 0.000000000000          1           1.00"
        );
        let last = lines[lines.len() - 4];
        assert_eq!(last, "       1.000 1.000000000000       1000");
        assert_eq!(
            lines[lines.len() - 2],
            "#[Max     =        1.000, Total count    =         1000]"
        );
        assert!(lines[lines.len() - 1].ends_with("SubBuckets     =         2048]"));
        assert!(!encoded(&h).is_empty());
    }
}
