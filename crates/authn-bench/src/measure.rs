//! Timing: closed-loop runs of N concurrent tasks for a fixed time, with
//! latencies in an HDR histogram (microsecond resolution, 3 significant
//! digits), and side-by-side rounds of two contenders.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// What one run measured.
#[derive(Clone, Debug)]
pub struct RunStats {
    /// Operations per second.
    pub per_sec: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
}

/// An empty latency histogram: 1 µs to 60 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

impl RunStats {
    /// Summarises a histogram of microsecond latencies over `elapsed`.
    pub fn from_histogram(h: &Histogram<u64>, elapsed: Duration) -> Self {
        let ops = h.len();
        Self {
            per_sec: ops as f64 / elapsed.as_secs_f64(),
            p50_us: h.value_at_quantile(0.50) as f64,
            p99_us: h.value_at_quantile(0.99) as f64,
        }
    }
}

/// Runs `tasks` concurrent loops of `op(task, i)` for `warmup` (not
/// measured), then for `duration`, and returns the measured figures.
/// Each task keeps its own histogram (no shared lock on the hot path).
pub async fn closed_loop<F, Fut>(
    tasks: usize,
    warmup: Duration,
    duration: Duration,
    op: F,
) -> RunStats
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let mut handles = Vec::with_capacity(tasks);
    for task in 0..tasks {
        let op = op.clone();
        handles.push(tokio::spawn(async move {
            let mut h = histogram();
            let mut i = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                op(task, i).await;
                i += 1;
                if t0 >= measure_from {
                    let us = t0.elapsed().as_micros().max(1) as u64;
                    h.saturating_record(us);
                }
            }
            h
        }));
    }
    let mut all = histogram();
    for handle in handles {
        let h = handle.await.expect("benchmark task");
        all.add(&h).expect("same histogram bounds");
    }
    RunStats::from_histogram(&all, duration)
}

/// The median of some numbers (0 for none).
pub fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let mid = xs.len() / 2;
    if xs.len().is_multiple_of(2) {
        (xs[mid - 1] + xs[mid]) / 2.0
    } else {
        xs[mid]
    }
}

/// Peak resident memory (VmHWM) of a process, in MiB, from `/proc`.
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Formats microseconds for a table: `850 µs`, `1.25 ms`, `2.10 s`.
pub fn fmt_us(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

/// Formats a rate for a table: `12 345/s`.
pub fn fmt_rate(per_sec: f64) -> String {
    let n = per_sec.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    format!("{out}/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_lists() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(vec![]), 0.0);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_us(850.0), "850 µs");
        assert_eq!(fmt_us(1250.0), "1.25 ms");
        assert_eq!(fmt_rate(12345.4), "12\u{202f}345/s");
        assert_eq!(fmt_rate(999.0), "999/s");
    }

    #[tokio::test]
    async fn a_closed_loop_counts_and_times_its_operations() {
        let stats = closed_loop(
            2,
            Duration::ZERO,
            Duration::from_millis(200),
            |_, _| async {
                tokio::time::sleep(Duration::from_millis(10)).await;
            },
        )
        .await;
        // two tasks of 10 ms sleeps: about 200/s
        assert!(stats.per_sec >= 50.0 && stats.per_sec <= 250.0, "{stats:?}");
        assert!(stats.p50_us >= 10_000.0, "{stats:?}");
    }
}
