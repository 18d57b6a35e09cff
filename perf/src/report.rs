//! The human-readable report and the peer / baseline ratios.

use std::fmt::Write as _;

use crate::results::{Method, Ratio, SubjectResult, Summary};

pub fn ratios(subjects: &[SubjectResult], baseline: &str) -> Vec<Ratio> {
    let Some(base) = subjects.iter().find(|s| s.subject == baseline) else {
        return Vec::new();
    };
    let lat =
        |s: &SubjectResult, f: fn(&crate::results::LatencyResult) -> f64| s.latency.as_ref().map(f);
    let div = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    subjects
        .iter()
        .filter(|s| s.subject != baseline)
        .map(|s| Ratio {
            subject: s.subject.clone(),
            baseline: baseline.into(),
            burst_p50: div(
                lat(s, |l| l.burst.dist.p50_ns),
                lat(base, |l| l.burst.dist.p50_ns),
            ),
            call_p50: div(
                lat(s, |l| l.call.dist.p50_ns),
                lat(base, |l| l.call.dist.p50_ns),
            ),
            burst_p999: div(
                lat(s, |l| l.burst.dist.p999_ns),
                lat(base, |l| l.burst.dist.p999_ns),
            ),
            call_p999: div(
                lat(s, |l| l.call.dist.p999_ns),
                lat(base, |l| l.call.dist.p999_ns),
            ),
            throughput: div(
                s.throughput.as_ref().map(|t| t.records_per_s),
                base.throughput.as_ref().map(|t| t.records_per_s),
            ),
        })
        .collect()
}

fn ns(v: f64) -> String {
    if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

fn opt_ratio(r: Option<f64>) -> String {
    match r {
        Some(x) if x >= 10.0 => format!("{x:.0}x"),
        Some(x) => format!("{x:.2}x"),
        None => "-".into(),
    }
}

fn drops(m: &Method) -> String {
    m.drops.map_or_else(|| "n/a".into(), |d| d.to_string())
}

pub fn human(s: &Summary) -> String {
    let mut o = String::new();
    let m = &s.machine;
    let _ = writeln!(
        o,
        "datapunk-log perf — profile \"{}\" ({}) — {:.1} s",
        s.profile, s.profile_path, s.wall_s
    );
    if !s.description.is_empty() {
        let _ = writeln!(o, "  {}", s.description);
    }
    let _ = writeln!(
        o,
        "machine: {} CPUs, {}, kernel {}, TSC {:.4} GHz (calibrated against Instant over {:.0} ms)",
        m.cpus, m.cpu_model, m.kernel, m.tsc_ghz, m.tsc_calibration_ms
    );
    if let (Some(a), Some(b)) = (s.load_avg_start, s.load_avg_end) {
        // Informational: the 1-minute average lags (it still holds whatever
        // ran in the minute before); the per-scenario foreign CPU figure at
        // the end of the report is the one that tells interference.
        let _ = writeln!(o, "load average (1 min): {a:.2} before, {b:.2} after");
    }
    if m.tsc_step_ticks > 1 {
        let _ = writeln!(
            o,
            "note: this TSC advances in steps of {} ticks ({:.1} ns): each call sample is a multiple of that; a burst sample resolves 1/burst_size of it",
            m.tsc_step_ticks, m.tsc_step_ns
        );
    }
    for n in &s.notes {
        let _ = writeln!(o, "note: {n}");
    }

    let with_lat: Vec<_> = s
        .subjects
        .iter()
        .filter_map(|x| x.latency.as_ref())
        .collect();
    if let Some(first) = with_lat.first() {
        let _ = writeln!(
            o,
            "\nLatency, ns per call — call: each call alone, {} samples{}; burst: {} calls back to back, {} µs busy-wait between bursts, {} bursts",
            first.call.dist.samples,
            if first.call_pause_ns > 0 {
                format!(", {} ns apart", first.call_pause_ns)
            } else {
                String::new()
            },
            first.burst_size,
            first.burst_pause_ns as f64 / 1000.0,
            first.burst.dist.samples,
        );
        let _ = writeln!(
            o,
            "rdtsc overhead {} in every sample (empty lfence;rdtsc;lfence .. rdtscp;lfence pair, per subject below; a burst carries 1/{} of it per call)",
            if first.rdtsc_overhead_subtracted {
                "SUBTRACTED (p50 of the empty pair)"
            } else {
                "NOT subtracted: included"
            },
            first.burst_size
        );
        let _ = writeln!(
            o,
            "{:<18} {:<6} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7}",
            "subject", "method", "p50", "p90", "p99", "p99.9", "max", "mean", "drops"
        );
        for l in &with_lat {
            for (name, mth) in [("call", &l.call), ("burst", &l.burst)] {
                let d = &mth.dist;
                let _ = writeln!(
                    o,
                    "{:<18} {:<6} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8} {:>7}",
                    if name == "call" {
                        l.subject.as_str()
                    } else {
                        ""
                    },
                    name,
                    ns(d.p50_ns),
                    ns(d.p90_ns),
                    ns(d.p99_ns),
                    ns(d.p999_ns),
                    ns(d.max_ns),
                    ns(d.mean_ns),
                    drops(mth)
                );
            }
        }
        let _ = writeln!(
            o,
            "\n{:<18} {:>11} {:>11} {:>11} {:>12} {:>12} {:>9}",
            "subject", "rdtsc p50", "rdtsc min", "disabled", "empty loop", "calls", "drops"
        );
        for l in &with_lat {
            let _ = writeln!(
                o,
                "{:<18} {:>8.1} ns {:>8.1} ns {:>8.2} ns {:>9.2} ns {:>12} {:>9}",
                l.subject,
                l.rdtsc_overhead.p50_ns,
                l.rdtsc_overhead.min_ns,
                l.disabled.ns_per_call,
                l.disabled.empty_loop_ns,
                l.calls_total,
                l.drops_total
            );
        }
        let _ = writeln!(
            o,
            "(disabled: a DEBUG call under an INFO filter, mean over {} calls in one timed loop; the empty loop's cost is shown, not subtracted. calls/drops: all enabled calls of the latency run, warm-up included, and the records missing from its file)",
            first.disabled.iterations
        );
    }

    let with_tp: Vec<_> = s
        .subjects
        .iter()
        .filter_map(|x| x.throughput.as_ref())
        .collect();
    if let Some(first) = with_tp.first() {
        let _ = writeln!(
            o,
            "\nThroughput — {} records from one thread as fast as possible, blocking when full, JSON file; timed until all are in the file",
            first.records
        );
        let _ = writeln!(
            o,
            "{:<18} {:>11} {:>8} {:>9} {:>8} {:>12} {:>9} {:>6} {:>9}",
            "subject",
            "records/s",
            "MB/s",
            "B/record",
            "total s",
            "producer r/s",
            "lines",
            "drops",
            "verified"
        );
        for t in &with_tp {
            let _ = writeln!(
                o,
                "{:<18} {:>11.0} {:>8.1} {:>9.1} {:>8.3} {:>12.0} {:>9} {:>6} {:>9}",
                t.subject,
                t.records_per_s,
                t.mb_per_s,
                t.bytes_per_record,
                t.total_s,
                t.producer_records_per_s,
                t.lines,
                t.drops,
                t.lines_verified
            );
        }
    }

    if !s.ratios.is_empty() {
        let _ = writeln!(
            o,
            "\nRatios subject / {} (latency: above 1x = slower than the baseline; throughput: records/s ÷ the baseline's, below 1x = slower)",
            s.ratios[0].baseline
        );
        let _ = writeln!(
            o,
            "{:<18} {:>10} {:>10} {:>12} {:>12} {:>11}",
            "subject", "burst p50", "call p50", "burst p99.9", "call p99.9", "throughput"
        );
        for r in &s.ratios {
            let _ = writeln!(
                o,
                "{:<18} {:>10} {:>10} {:>12} {:>12} {:>11}",
                r.subject,
                opt_ratio(r.burst_p50),
                opt_ratio(r.call_p50),
                opt_ratio(r.burst_p999),
                opt_ratio(r.call_p999),
                opt_ratio(r.throughput)
            );
        }
    }

    let foreign: Vec<String> = s
        .subjects
        .iter()
        .flat_map(|x| {
            [
                ("latency", x.foreign_cpu_latency),
                ("throughput", x.foreign_cpu_throughput),
            ]
            .into_iter()
            .filter_map(move |(n, v)| {
                v.filter(|&c| c >= 0.05)
                    .map(|c| format!("{} {n} {c:.2}", x.subject))
            })
        })
        .collect();
    if foreign.is_empty() {
        let _ = writeln!(
            o,
            "
other processes used < 0.05 cores during every scenario"
        );
    } else {
        let _ = writeln!(
            o,
            "
WARNING: other processes (or hypervisor steal) used CPU during: {} (cores, average) — those figures may be distorted",
            foreign.join(", ")
        );
    }

    for x in &s.subjects {
        for e in &x.errors {
            let _ = writeln!(o, "ERROR {}: {e}", x.subject);
        }
    }
    o
}
