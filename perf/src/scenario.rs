//! The scenarios, run in a child process each (one logging engine per
//! process): `latency` (call, burst, disabled) and `throughput` here,
//! `spans` in [`crate::spans`], `otlp` in [`crate::otlp`], `collector` in
//! [`crate::collector`] (which reuses the `call` and `burst` methods here),
//! `sampling` in [`crate::sampling`] (which reuses the span scenario's),
//! `reload` in [`crate::reload`] (which reuses the `call` and `burst`
//! methods here).

use std::fs::File;
use std::hint::black_box;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::profile::{
    Condition, LatencyProfile, OverflowKind, Profile, ReloadMode, SamplingCase, ThroughputProfile,
};
use crate::results::{Disabled, Distribution, LatencyResult, Method, ThroughputResult};
use crate::subject::{Logger, LoggerFn, Output, Setup, SubjectKind, with_logger};
use crate::tsc::{self, Calibration, Overhead};

/// The route logged by every call.
pub const ROUTE: &str = "/api/v1/items";
/// The message logged by every call.
pub const MESSAGE: &str = "request handled";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    Latency,
    Throughput,
    Spans,
    Otlp,
    Collector,
    Sampling,
    Reload,
}

/// Every scenario, in the order a profile runs them (`reload` only when
/// asked for).
pub const ALL_SCENARIOS: [ScenarioKind; 7] = [
    ScenarioKind::Latency,
    ScenarioKind::Throughput,
    ScenarioKind::Spans,
    ScenarioKind::Otlp,
    ScenarioKind::Collector,
    ScenarioKind::Sampling,
    ScenarioKind::Reload,
];

impl ScenarioKind {
    pub fn name(self) -> &'static str {
        match self {
            ScenarioKind::Latency => "latency",
            ScenarioKind::Throughput => "throughput",
            ScenarioKind::Spans => "spans",
            ScenarioKind::Otlp => "otlp",
            ScenarioKind::Collector => "collector",
            ScenarioKind::Sampling => "sampling",
            ScenarioKind::Reload => "reload",
        }
    }

    pub fn parse(s: &str) -> Option<ScenarioKind> {
        ALL_SCENARIOS.into_iter().find(|k| k.name() == s)
    }
}

/// What the parent hands a child (as JSON on its command line).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChildSpec {
    pub scenario: ScenarioKind,
    pub subject: SubjectKind,
    pub profile: Profile,
    pub calibration: Calibration,
    /// The collector scenario's condition (None for the other scenarios).
    #[serde(default)]
    pub condition: Option<Condition>,
    /// The sampling scenario's case (None for the other scenarios).
    #[serde(default)]
    pub sampling_case: Option<SamplingCase>,
    /// The reload scenario's mode (None for the other scenarios).
    #[serde(default)]
    pub reload_mode: Option<ReloadMode>,
}

/// Runs the child's scenario; returns its result as JSON.
pub fn run_child(spec: &ChildSpec) -> Result<serde_json::Value, String> {
    let p = &spec.profile;
    match spec.scenario {
        ScenarioKind::Spans => {
            let sp = p
                .spans
                .as_ref()
                .ok_or("the profile has no [spans] section")?;
            let run = crate::spans::SpanRun {
                p: sp,
                cal: spec.calibration,
                subtract_rdtsc_overhead: p.latency.subtract_rdtsc_overhead,
                subject: spec.subject,
            };
            let r = crate::spans::with_spanner(spec.subject, sp, run)??;
            serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"))
        }
        ScenarioKind::Otlp => {
            let o = p.otlp.as_ref().ok_or("the profile has no [otlp] section")?;
            let r = crate::otlp::run(spec.subject, o)?;
            serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"))
        }
        ScenarioKind::Collector => {
            let r = crate::collector::run(spec)?;
            serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"))
        }
        ScenarioKind::Sampling => crate::sampling::run(spec),
        ScenarioKind::Reload => {
            let r = crate::reload::run(spec)?;
            serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"))
        }
        ScenarioKind::Latency | ScenarioKind::Throughput => run_logger_child(spec),
    }
}

/// The latency and throughput scenarios: a logger writing a JSON file.
fn run_logger_child(spec: &ChildSpec) -> Result<serde_json::Value, String> {
    let p = &spec.profile;
    let dir = PathBuf::from(&spec.profile.log_dir);
    let path = dir.join(format!(
        "{}-{}.log",
        spec.subject.name(),
        spec.scenario.name()
    ));
    let value = match spec.scenario {
        ScenarioKind::Latency => {
            let l = &p.latency;
            let setup = Setup {
                path: path.clone(),
                overflow: l.overflow,
                ring_capacity: Some(l.ring_capacity),
                batch_bytes: None,
                peer_queue: Some(l.peer_queue),
            };
            let run = LatencyRun {
                p: l,
                cal: spec.calibration,
                subject: spec.subject,
                setup: setup_json(spec.subject, &setup),
                path: &path,
            };
            let r = with_logger(spec.subject, &setup, run)??;
            serde_json::to_value(r)
        }
        ScenarioKind::Throughput => {
            let t = &p.throughput;
            let setup = Setup {
                path: path.clone(),
                overflow: OverflowKind::Block,
                ring_capacity: t.ring_capacity,
                batch_bytes: t.batch_bytes,
                peer_queue: t.peer_queue,
            };
            let run = ThroughputRun {
                p: t,
                subject: spec.subject,
                setup: setup_json(spec.subject, &setup),
                path: &path,
            };
            let r = with_logger(spec.subject, &setup, run)??;
            serde_json::to_value(r)
        }
        ScenarioKind::Spans
        | ScenarioKind::Otlp
        | ScenarioKind::Collector
        | ScenarioKind::Sampling
        | ScenarioKind::Reload => {
            return Err(format!("{} is not a logger scenario", spec.scenario.name()));
        }
    }
    .map_err(|e| format!("cannot encode the result: {e}"))?;
    if !p.keep_logs {
        let _ = std::fs::remove_file(&path);
    }
    Ok(value)
}

fn setup_json(kind: SubjectKind, s: &Setup) -> serde_json::Value {
    let mut v = serde_json::json!({
        "file": s.path.display().to_string(),
        "overflow": s.overflow,
    });
    if kind == SubjectKind::Floor {
        v["file"] = serde_json::json!(null);
        v["ring_capacity"] = serde_json::json!(
            s.ring_capacity
                .unwrap_or(datapunk_log::DEFAULT_RING_CAPACITY)
        );
        v["record_bytes"] = serde_json::json!(64);
    } else if kind == SubjectKind::Ticklog {
        // Not configurable: 1 MiB per producer thread.
        v["ring_capacity"] = serde_json::json!(1 << 20);
    } else if kind.is_datapunk() {
        v["ring_capacity"] = serde_json::json!(
            s.ring_capacity
                .unwrap_or(datapunk_log::DEFAULT_RING_CAPACITY)
        );
        v["batch_bytes"] = match s.batch_bytes {
            Some(b) => serde_json::json!(b),
            None => serde_json::json!("default"),
        };
    } else {
        v["queue"] = match s.peer_queue {
            Some(q) => serde_json::json!(q),
            None => serde_json::json!("default"),
        };
    }
    v
}

/// The arguments of call `i`, hidden from the optimizer as an application's
/// would be (no constant folding of the string length or the values).
#[inline(always)]
fn args(i: u64) -> (u64, f64, &'static str) {
    (
        black_box(i),
        black_box((i & 1023) as f64 * 0.25 + 0.5),
        black_box(ROUTE),
    )
}

struct LatencyRun<'a> {
    p: &'a LatencyProfile,
    cal: Calibration,
    subject: SubjectKind,
    setup: serde_json::Value,
    path: &'a Path,
}

impl LoggerFn<Result<LatencyResult, String>> for LatencyRun<'_> {
    fn call<L: Logger>(self, l: L) -> Result<LatencyResult, String> {
        let p = self.p;
        let cal = self.cal;
        let started = Instant::now();
        let (overhead, minus) = rdtsc_overhead(&cal, p.subtract_rdtsc_overhead);
        let mut calls = 0u64;
        warm_up(&l, p.warmup_calls, &mut calls);
        // The user ids of each method's calls (`args` logs the call's
        // number): for subjects that count no drops, the file tells each
        // method's.
        let call_ids = (calls, calls + p.call_samples);
        let burst_ids = (call_ids.1, call_ids.1 + p.bursts * p.burst_size);
        let (mut call, mut burst) = call_and_burst(
            &l,
            &Methods {
                call_samples: p.call_samples,
                call_pause_ns: p.call_pause_ns,
                bursts: p.bursts,
                burst_size: p.burst_size,
                burst_pause_ns: p.burst_pause_ns,
            },
            &cal,
            minus,
            &mut calls,
        );

        // Disabled: a filtered-out DEBUG call in a loop, and the empty loop.
        let n = p.disabled_iterations;
        let t0 = tsc::start();
        for i in 0..n {
            l.log_disabled(black_box(i), 0.5, ROUTE);
        }
        let t1 = tsc::stop();
        for i in 0..n {
            black_box(i);
        }
        let t2 = tsc::stop();
        let disabled = Disabled {
            iterations: n,
            ns_per_call: cal.to_ns(t1.wrapping_sub(t0) as f64) / n as f64,
            empty_loop_ns: cal.to_ns(t2.wrapping_sub(t1) as f64) / n as f64,
        };

        let fin = l.finish(calls)?;
        let method_drops_from_file = call.drops.is_none() || burst.drops.is_none();
        let ranges: &[(u64, u64)] = if method_drops_from_file {
            &[call_ids, burst_ids]
        } else {
            &[]
        };
        let scan = scan_output(self.subject, &fin, self.path, calls, 1000, false, ranges)?;
        if let [in_call, in_burst] = scan.in_ranges[..] {
            let missing = |(a, b): (u64, u64), n: u64| (b - a).saturating_sub(n);
            call.drops = Some(missing(call_ids, in_call));
            burst.drops = Some(missing(burst_ids, in_burst));
        }
        let records_in_file = scan.lines.saturating_sub(fin.extra_lines);
        if records_in_file > calls {
            return Err(format!(
                "{} records in {} but only {calls} calls",
                records_in_file,
                self.path.display()
            ));
        }
        let drops_total = calls - records_in_file;
        if let Some(d) = fin.dropped
            && d != drops_total
        {
            return Err(format!(
                "{} says it dropped {d} records but {drops_total} are missing from the file",
                self.subject.name()
            ));
        }
        Ok(LatencyResult {
            subject: self.subject.name().into(),
            setup: self.setup,
            rdtsc_overhead: overhead,
            rdtsc_overhead_subtracted: p.subtract_rdtsc_overhead,
            call,
            call_pause_ns: p.call_pause_ns,
            burst,
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
            disabled,
            calls_total: calls,
            records_in_file,
            drops_total,
            method_drops_from_file,
            lines_parsed: scan.parsed,
            subject_stats: fin.stats,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}

/// The empty fenced pair's cost, and the ticks to subtract from every
/// sample (its p50 when `subtract`, else 0).
pub fn rdtsc_overhead(cal: &Calibration, subtract: bool) -> (Overhead, u64) {
    let overhead = Overhead::measure(cal, 1_000_000);
    let minus = if subtract { overhead.p50_ticks } else { 0 };
    (overhead, minus)
}

/// Warm-up: first-call setup (thread ring, allocations), caches, the
/// subject's own pre-faulting; then waits for the backend to go quiet.
/// `calls` counts the enabled calls made.
pub fn warm_up<L: Logger>(l: &L, warmup_calls: u64, calls: &mut u64) {
    for _ in 0..warmup_calls {
        let (a, b, c) = args(*calls);
        l.log(a, b, c);
        *calls += 1;
    }
    l.settle(*calls);
    *calls += l.prefault(ROUTE);
    l.settle(*calls);
}

/// The timing of the `call` and `burst` methods.
pub struct Methods {
    pub call_samples: u64,
    pub call_pause_ns: u64,
    pub bursts: u64,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
}

/// The `call` and `burst` methods (latency and collector scenarios), each
/// followed by a settle. `calls` counts the enabled calls made.
pub fn call_and_burst<L: Logger>(
    l: &L,
    p: &Methods,
    cal: &Calibration,
    minus: u64,
    calls: &mut u64,
) -> (Method, Method) {
    let mut ticks = Vec::new();
    let call = call_method(l, p, cal, minus, calls, &mut ticks);
    l.settle(*calls);
    let burst = burst_method(l, p, cal, minus, calls, &mut ticks);
    drop(ticks);
    l.settle(*calls);
    (call, burst)
}

/// (a) call: each call alone between two fenced TSC reads,
/// `call_samples` of them, `call_pause_ns` apart (no settle). `ticks` is
/// the samples' buffer (cleared first; the burst method reuses it, so its
/// pushes land on pages already touched).
pub fn call_method<L: Logger>(
    l: &L,
    p: &Methods,
    cal: &Calibration,
    minus: u64,
    calls: &mut u64,
    ticks: &mut Vec<u64>,
) -> Method {
    let pause = cal.to_ticks(p.call_pause_ns as f64);
    ticks.clear();
    ticks.reserve(p.call_samples as usize);
    let d0 = l.dropped();
    for _ in 0..p.call_samples {
        let (a, b, c) = args(*calls);
        let t0 = tsc::start();
        l.log(a, b, c);
        let t1 = tsc::stop();
        ticks.push(t1.wrapping_sub(t0));
        *calls += 1;
        tsc::spin_ticks(pause);
    }
    let d1 = l.dropped();
    Method {
        dist: Distribution::from_ticks(ticks, 1, minus, cal),
        drops: d0.zip(d1).map(|(a, b)| b - a),
    }
}

/// (b) burst: `burst_size` calls back to back between two fenced TSC
/// reads, after a busy-wait pause; one sample per burst (no settle).
/// `ticks` as in [`call_method`].
pub fn burst_method<L: Logger>(
    l: &L,
    p: &Methods,
    cal: &Calibration,
    minus: u64,
    calls: &mut u64,
    ticks: &mut Vec<u64>,
) -> Method {
    let pause = cal.to_ticks(p.burst_pause_ns as f64);
    ticks.clear();
    ticks.reserve(p.bursts as usize);
    let d0 = l.dropped();
    for _ in 0..p.bursts {
        tsc::spin_ticks(pause);
        let t0 = tsc::start();
        for _ in 0..p.burst_size {
            let (a, b, c) = args(*calls);
            l.log(a, b, c);
            *calls += 1;
        }
        let t1 = tsc::stop();
        ticks.push(t1.wrapping_sub(t0));
    }
    let d1 = l.dropped();
    Method {
        dist: Distribution::from_ticks(ticks, p.burst_size, minus, cal),
        drops: d0.zip(d1).map(|(a, b)| b - a),
    }
}

struct ThroughputRun<'a> {
    p: &'a ThroughputProfile,
    subject: SubjectKind,
    setup: serde_json::Value,
    path: &'a Path,
}

impl LoggerFn<Result<ThroughputResult, String>> for ThroughputRun<'_> {
    fn call<L: Logger>(self, l: L) -> Result<ThroughputResult, String> {
        let n = self.p.records;
        let t0 = Instant::now();
        for i in 0..n {
            let (a, b, c) = args(i);
            l.log(a, b, c);
        }
        let producer = t0.elapsed();
        let fin = l.finish(n)?;
        let total = fin.drained_at - t0;
        if self.subject.output() == Output::Consumed {
            return Err(format!(
                "{} writes no file: it has no throughput figure",
                self.subject.name()
            ));
        }
        let scan = scan_output(
            self.subject,
            &fin,
            self.path,
            n,
            self.p.verify_sample,
            true,
            &[],
        )?;
        let records_in_file = scan.lines.saturating_sub(fin.extra_lines);
        if records_in_file != n {
            return Err(format!(
                "{}: {} records in {}, expected {n} (Overflow::Block loses none)",
                self.subject.name(),
                records_in_file,
                self.path.display()
            ));
        }
        let bytes = std::fs::metadata(self.path)
            .map_err(|e| format!("{}: {e}", self.path.display()))?
            .len();
        let secs = total.as_secs_f64();
        Ok(ThroughputResult {
            subject: self.subject.name().into(),
            setup: self.setup,
            records: n,
            producer_s: producer.as_secs_f64(),
            total_s: secs,
            records_per_s: n as f64 / secs,
            producer_records_per_s: n as f64 / producer.as_secs_f64(),
            file_bytes: bytes,
            mb_per_s: bytes as f64 / 1e6 / secs,
            bytes_per_record: bytes as f64 / n as f64,
            lines: scan.lines,
            drops: n - records_in_file,
            lines_verified: scan.parsed,
            subject_stats: fin.stats,
        })
    }
}

struct Scan {
    lines: u64,
    parsed: u64,
    /// Lines whose user id falls in each of the ranges asked for.
    in_ranges: Vec<u64>,
}

/// What the subject left: its file scanned ([`scan_file`]), or, for a
/// subject that writes none, the records its consumer popped and checked.
fn scan_output(
    kind: SubjectKind,
    fin: &crate::subject::Finished,
    path: &Path,
    expected: u64,
    sample: u64,
    in_order: bool,
    ranges: &[(u64, u64)],
) -> Result<Scan, String> {
    match kind.output() {
        Output::Consumed => {
            let n = fin
                .consumed
                .ok_or_else(|| format!("{} reported no consumed count", kind.name()))?;
            if !ranges.is_empty() {
                return Err(format!("{} counts its drops itself", kind.name()));
            }
            Ok(Scan {
                lines: n,
                parsed: n,
                in_ranges: Vec::new(),
            })
        }
        format => scan_file(path, expected, sample, in_order, format, ranges),
    }
}

/// The `user_id` of a line, found by its key (`"user_id":` in JSON,
/// `user_id=` in text) without parsing the line.
fn user_id_of(line: &[u8], format: Output) -> Option<u64> {
    let key: &[u8] = match format {
        Output::TextFile => b"user_id=",
        _ => b"\"user_id\":",
    };
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit());
    let mut id = 0u64;
    let mut any = false;
    for &d in digits {
        id = id.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        any = true;
    }
    any.then_some(id)
}

/// Counts the file's lines and parses about `sample` of them, spread evenly
/// over the `expected` records, plus the last one. Every line sampled must
/// be a JSON object (a text line for [`Output::TextFile`]) carrying the
/// message, a `user_id`, `latency` and `route`; with `in_order`, `user_id`
/// must equal the line's index (one producer, nothing dropped). With
/// `ranges`, every line's `user_id` is read and counted in the range
/// `[from, to)` that holds it.
fn scan_file(
    path: &Path,
    expected: u64,
    sample: u64,
    in_order: bool,
    format: Output,
    ranges: &[(u64, u64)],
) -> Result<Scan, String> {
    let mut in_ranges = vec![0u64; ranges.len()];
    let check_line = match format {
        Output::TextFile => check_text_line,
        _ => check_line,
    };
    let f = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 20, f);
    let stride = (expected / sample.max(1)).max(1);
    let mut line = Vec::with_capacity(512);
    let mut last = Vec::new();
    let mut n = 0u64;
    let mut parsed = 0u64;
    loop {
        line.clear();
        let got = r
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        if got == 0 {
            break;
        }
        if line.last() != Some(&b'\n') {
            return Err(format!(
                "{}: line {} is not terminated",
                path.display(),
                n + 1
            ));
        }
        if n.is_multiple_of(stride) {
            check_line(&line, n, in_order).map_err(|e| format!("{}: {e}", path.display()))?;
            parsed += 1;
        }
        if !ranges.is_empty()
            && let Some(id) = user_id_of(&line, format)
            && let Some(i) = ranges.iter().position(|&(a, b)| (a..b).contains(&id))
        {
            in_ranges[i] += 1;
        }
        std::mem::swap(&mut last, &mut line);
        n += 1;
    }
    if n > 0 && !(n - 1).is_multiple_of(stride) {
        check_line(&last, n - 1, in_order).map_err(|e| format!("{}: {e}", path.display()))?;
        parsed += 1;
    }
    Ok(Scan {
        lines: n,
        parsed,
        in_ranges,
    })
}

fn check_line(line: &[u8], index: u64, in_order: bool) -> Result<(), String> {
    let v: serde_json::Value = serde_json::from_slice(line)
        .map_err(|e| format!("line {} is not JSON ({e}): {}", index + 1, show(line)))?;
    if !v.is_object() {
        return Err(format!("line {} is not an object", index + 1));
    }
    // datapunk-log's drop notices are the only other lines a file may hold.
    if has_string(&v, "records dropped: ring full") {
        return Ok(());
    }
    if !has_string(&v, MESSAGE) {
        return Err(format!(
            "line {} lacks the message: {}",
            index + 1,
            show(line)
        ));
    }
    let Some(id) = find_key(&v, "user_id").and_then(|u| u.as_u64()) else {
        return Err(format!("line {} lacks user_id: {}", index + 1, show(line)));
    };
    if find_key(&v, "latency").and_then(|x| x.as_f64()).is_none()
        || find_key(&v, "route").and_then(|x| x.as_str()) != Some(ROUTE)
    {
        return Err(format!(
            "line {} lacks latency or route: {}",
            index + 1,
            show(line)
        ));
    }
    if in_order && id != index {
        return Err(format!(
            "line {} has user_id {id}, expected {index}",
            index + 1
        ));
    }
    Ok(())
}

/// A text line: `<timestamp> <level> request handled user_id=N latency=F
/// route=S` (ticklog's pattern `{timestamp} {level} {message}`).
fn check_text_line(line: &[u8], index: u64, in_order: bool) -> Result<(), String> {
    let text = std::str::from_utf8(line)
        .map_err(|_| format!("line {} is not UTF-8: {}", index + 1, show(line)))?
        .trim_end_matches('\n');
    let bad = |what: &str| format!("line {} {what}: {}", index + 1, show(line));
    let mut parts = text.splitn(3, ' ');
    let (Some(_ts), Some(level), Some(message)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("lacks a timestamp, a level or a message"));
    };
    if !level.eq_ignore_ascii_case("info") {
        return Err(bad("is not at INFO"));
    }
    let Some(fields) = message.strip_prefix(MESSAGE) else {
        return Err(bad("lacks the message"));
    };
    let field = |key: &str| {
        fields
            .split(' ')
            .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
    };
    let Some(id) = field("user_id").and_then(|v| v.parse::<u64>().ok()) else {
        return Err(bad("lacks user_id"));
    };
    if field("latency")
        .and_then(|v| v.parse::<f64>().ok())
        .is_none()
        || field("route") != Some(ROUTE)
    {
        return Err(bad("lacks latency or route"));
    }
    if in_order && id != index {
        return Err(format!(
            "line {} has user_id {id}, expected {index}",
            index + 1
        ));
    }
    Ok(())
}

fn show(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(300)]).into_owned()
}

fn find_key<'v>(v: &'v serde_json::Value, key: &str) -> Option<&'v serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m
            .get(key)
            .or_else(|| m.values().find_map(|x| find_key(x, key))),
        _ => None,
    }
}

fn has_string(v: &serde_json::Value, s: &str) -> bool {
    match v {
        serde_json::Value::String(x) => x == s,
        serde_json::Value::Object(m) => m.values().any(|x| has_string(x, s)),
        serde_json::Value::Array(a) => a.iter().any(|x| has_string(x, s)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_lines_are_checked_field_by_field() {
        let ok = b"2026-12-04T00:35:34.123456789Z INFO request handled user_id=7 latency=2.25 route=/api/v1/items\n";
        check_text_line(ok, 7, true).unwrap();
        assert!(check_text_line(ok, 8, true).is_err(), "out of order");
        check_text_line(ok, 8, false).unwrap();
        for bad in [
            &b"2026-12-04T00:35:34Z INFO request handled user_id=7 latency=x route=/api/v1/items\n"[..],
            b"2026-12-04T00:35:34Z INFO request handled user_id=7 latency=2.25 route=/other\n",
            b"2026-12-04T00:35:34Z DEBUG request handled user_id=7 latency=2.25 route=/api/v1/items\n",
            b"2026-12-04T00:35:34Z INFO something else user_id=7 latency=2.25 route=/api/v1/items\n",
            b"INFO\n",
        ] {
            assert!(
                check_text_line(bad, 7, false).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn user_ids_are_found_without_parsing() {
        let json = br#"{"ts":1,"fields":{"user_id":12345,"latency":0.5}}"#;
        assert_eq!(user_id_of(json, Output::JsonFile), Some(12345));
        let text = b"t INFO request handled user_id=42 latency=0.5 route=/x";
        assert_eq!(user_id_of(text, Output::TextFile), Some(42));
        assert_eq!(
            user_id_of(b"{\"msg\":\"records dropped\"}", Output::JsonFile),
            None
        );
        assert_eq!(user_id_of(b"user_id=", Output::TextFile), None);
    }
}
