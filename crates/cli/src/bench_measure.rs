//! What every `baton bench` workload reports, measured the same way: completed instances/s,
//! steps/s, p50/p99 latency per instance (start to completion), CPU seconds per instance (the
//! process's user + system time from `/proc/self/stat`) and peak RSS (`VmHWM` from
//! `/proc/self/status`, reset before each run through `/proc/self/clear_refs` where the kernel
//! allows it), each the median over the runs.

use std::time::Instant;

/// Clock ticks per second of `/proc/self/stat` times (USER_HZ, 100 on Linux).
const TICKS_PER_S: f64 = 100.0;

/// Process CPU time (user + system) in seconds, or 0 where `/proc` is not available.
pub fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // The command name (field 2) may hold spaces; fields after it are plain.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; `rest` starts at field 3.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(11) + tick(12)) / TICKS_PER_S
}

/// Peak resident set size of the process in MiB (`VmHWM`), or 0 where unknown.
pub fn peak_rss_mib() -> f64 {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return 0.0;
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets the peak RSS to the current RSS (Linux ≥ 4.0); ignored where not allowed.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

pub fn percentile(xs: &mut [f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[((xs.len() - 1) as f64 * p).round() as usize]
}

pub fn median(xs: Vec<f64>) -> f64 {
    crate::bench::median(xs)
}

/// One run of a workload.
#[derive(Debug, Clone)]
pub struct Run {
    pub instances: usize,
    pub wall_s: f64,
    pub cpu_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub peak_rss_mib: f64,
}

impl Run {
    pub fn per_s(&self) -> f64 {
        self.instances as f64 / self.wall_s
    }
}

/// Measures one run: call [`Meter::finish`] with the instances completed and their latencies.
pub struct Meter {
    started: Instant,
    cpu: f64,
}

impl Meter {
    pub fn start() -> Self {
        reset_peak_rss();
        Self {
            started: Instant::now(),
            cpu: cpu_seconds(),
        }
    }

    pub fn finish(self, instances: usize, mut latencies_ms: Vec<f64>) -> Run {
        let wall_s = self.started.elapsed().as_secs_f64();
        let cpu_s = cpu_seconds() - self.cpu;
        Run {
            instances,
            wall_s,
            cpu_s,
            p50_ms: percentile(&mut latencies_ms, 0.50),
            p99_ms: percentile(&mut latencies_ms, 0.99),
            peak_rss_mib: peak_rss_mib(),
        }
    }
}

/// The medians of several runs.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub cpu_per_instance: f64,
    pub peak_rss_mib: f64,
}

pub fn summarize(runs: &[Run]) -> Summary {
    let m = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    Summary {
        per_s: m(&|r| r.per_s()),
        p50_ms: m(&|r| r.p50_ms),
        p99_ms: m(&|r| r.p99_ms),
        cpu_per_instance: m(&|r| r.cpu_s / r.instances as f64),
        peak_rss_mib: m(&|r| r.peak_rss_mib),
    }
}

/// `key=value` fields of a summary (after the human-readable columns).
pub fn fields(s: &Summary) -> String {
    format!(
        "p50_ms={:.3} p99_ms={:.3} cpu_s_per_instance={:.6} peak_rss_mib={:.1}",
        s.p50_ms, s.p99_ms, s.cpu_per_instance, s.peak_rss_mib
    )
}
