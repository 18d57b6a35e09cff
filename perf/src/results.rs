//! What scenarios report (child → parent as JSON) and the run's summary.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::tsc::{Calibration, Overhead};

/// A latency distribution, in nanoseconds per call.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Distribution {
    pub samples: u64,
    pub min_ns: f64,
    pub p50_ns: f64,
    pub p90_ns: f64,
    pub p99_ns: f64,
    pub p999_ns: f64,
    pub max_ns: f64,
    pub mean_ns: f64,
}

impl Distribution {
    /// `samples` are TSC ticks, each covering `per` calls; `minus` ticks are
    /// subtracted from each sample first (the rdtsc overhead, or 0).
    pub fn from_ticks(samples: &[u64], per: u64, minus: u64, cal: &Calibration) -> Distribution {
        let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
        let mut sum = 0u128;
        for &s in samples {
            let v = s.saturating_sub(minus);
            h.record(v).expect("auto-resizing histogram takes any u64");
            sum += v as u128;
        }
        let ns = |ticks: u64| cal.to_ns(ticks as f64) / per as f64;
        let n = samples.len().max(1) as f64;
        Distribution {
            samples: samples.len() as u64,
            min_ns: ns(h.min()),
            p50_ns: ns(h.value_at_quantile(0.50)),
            p90_ns: ns(h.value_at_quantile(0.90)),
            p99_ns: ns(h.value_at_quantile(0.99)),
            p999_ns: ns(h.value_at_quantile(0.999)),
            max_ns: ns(h.max()),
            mean_ns: cal.to_ns(sum as f64 / n) / per as f64,
        }
    }
}

/// One timed method of the latency scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Method {
    #[serde(flatten)]
    pub dist: Distribution,
    /// Records the subject dropped during this method (None: it does not
    /// count drops live; see the scenario's `drops_total`). In the latency
    /// scenario, for subjects that count none, the method's calls missing
    /// from the file (see `LatencyResult::method_drops_from_file`).
    pub drops: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Disabled {
    pub iterations: u64,
    /// Time of the loop of disabled calls / iterations.
    pub ns_per_call: f64,
    /// The same loop with no call in it (not subtracted).
    pub empty_loop_ns: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LatencyResult {
    pub subject: String,
    pub setup: serde_json::Value,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    pub call: Method,
    pub call_pause_ns: u64,
    pub burst: Method,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
    pub disabled: Disabled,
    /// Every enabled call of the scenario, warm-up included.
    pub calls_total: u64,
    pub records_in_file: u64,
    /// `calls_total - records_in_file`.
    pub drops_total: u64,
    /// The subject counts no drops (slog, ticklog): each method's `drops`
    /// are its calls whose user id is missing from the file.
    #[serde(default)]
    pub method_drops_from_file: bool,
    /// Lines parsed with serde_json (all parsed, or the scenario failed).
    pub lines_parsed: u64,
    pub subject_stats: Option<serde_json::Value>,
    pub wall_s: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ThroughputResult {
    pub subject: String,
    pub setup: serde_json::Value,
    pub records: u64,
    /// Until the last call returned.
    pub producer_s: f64,
    /// Until every record was in the file (flush returned / queue drained).
    pub total_s: f64,
    pub records_per_s: f64,
    pub producer_records_per_s: f64,
    pub file_bytes: u64,
    pub mb_per_s: f64,
    pub bytes_per_record: f64,
    pub lines: u64,
    pub drops: u64,
    /// Lines parsed with serde_json whose `user_id` matched their position.
    pub lines_verified: u64,
    pub subject_stats: Option<serde_json::Value>,
}

/// One timed method of the span scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpanMethod {
    #[serde(flatten)]
    pub dist: Distribution,
    /// Spans of this method that never reached the exporter (dropped by a
    /// full ring or queue).
    pub lost: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpanResult {
    pub subject: String,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    /// A span started and ended between two fenced TSC reads.
    pub call: SpanMethod,
    pub burst: SpanMethod,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
    /// Every span made, warm-up included.
    pub spans_total: u64,
    /// Spans the exporter received.
    pub spans_exported: u64,
    /// Spans of the warm-up (and ring pre-faulting) lost.
    pub lost_warmup: u64,
    pub subject_stats: Option<serde_json::Value>,
    pub wall_s: f64,
}

/// One timed method of the sampling scenario (and, internally, of the
/// span scenario): the distribution and what became of its spans.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SampledMethod {
    #[serde(flatten)]
    pub dist: Distribution,
    /// Spans started and ended in this method.
    pub spans: u64,
    /// Of them sampled (`is_sampled()`).
    pub kept: u64,
    /// Spans the exporter received during the method and its settle.
    pub exported: u64,
    /// `kept - exported`: sampled spans that never reached the exporter
    /// (a full ring or queue).
    pub lost: u64,
}

impl SampledMethod {
    pub fn new(dist: Distribution, spans: u64, kept: u64, exported: u64) -> SampledMethod {
        SampledMethod {
            dist,
            spans,
            kept,
            exported,
            lost: kept.saturating_sub(exported),
        }
    }
}

/// datapunk-log's `sampler::counters()` (process-wide, so per child).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct SamplerCounters {
    pub ceiling_rejected: u64,
    pub rate_limited: u64,
    pub debug_kept: u64,
}

/// One single-thread case of the sampling scenario: a root span started
/// and ended under a sampler, timed by the `call` and `burst` methods.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingResult {
    pub case: String,
    pub subject: String,
    /// The sampler, as configured.
    pub sampler: String,
    /// The share of root spans the sampler keeps when no limit binds (its
    /// probability): `kept_total / spans_total` should be this, within
    /// the binomial noise.
    pub probability: f64,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    pub call: SampledMethod,
    pub burst: SampledMethod,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
    /// Every span made, warm-up included.
    pub spans_total: u64,
    /// Of them sampled.
    pub kept_total: u64,
    /// Spans the exporter received, warm-up included.
    pub exported_total: u64,
    /// Sampled spans of the warm-up (and ring pre-faulting) lost.
    pub lost_warmup: u64,
    /// datapunk-log's sampler counters after the run (None: the SDK).
    pub counters: Option<SamplerCounters>,
    pub subject_stats: Option<serde_json::Value>,
    pub wall_s: f64,
}

/// One producer thread of the `hot-key` case.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HotThread {
    /// Every `sample_every`-th call, each alone between fenced TSC reads.
    pub call: Distribution,
    pub spans: u64,
    /// Of them sampled (admitted by the rate limit).
    pub kept: u64,
    /// From this thread's start signal to its last span.
    pub wall_s: f64,
    pub spans_per_s: f64,
}

/// The `hot-key` case: two threads starting spans on one rate-limit key.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HotKeyResult {
    pub case: String,
    pub sampler: String,
    /// The limit: R per second, burst B.
    pub per_second: f64,
    pub burst: u32,
    pub spans_per_thread: u64,
    pub sample_every: u64,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    pub threads: Vec<HotThread>,
    /// From the first thread's start to the last thread's last span.
    pub wall_s: f64,
    /// Spans of the timed run (all threads).
    pub spans: u64,
    /// Of them sampled.
    pub kept: u64,
    /// B + R·wall_s: the most a limit of R/s with burst B admits in that
    /// time.
    pub bound: f64,
    /// `sampler::counters().rate_limited` over the timed run.
    pub rate_limited: u64,
    /// Spans the exporter received from the timed run.
    pub exported: u64,
    /// `kept - exported`.
    pub lost: u64,
    /// Sampled spans of the warm-up, and of them lost.
    pub warmup_kept: u64,
    pub lost_warmup: u64,
    pub counters: SamplerCounters,
    pub subject_stats: Option<serde_json::Value>,
}

/// One case of the sampling scenario, as the parent saw it (`result` for
/// the single-thread cases, `hot_key` for the hot-key case).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingRun {
    pub case: String,
    pub subject: String,
    pub description: String,
    pub result: Option<SamplingResult>,
    pub hot_key: Option<HotKeyResult>,
    /// As in [`SubjectResult`].
    pub foreign_cpu: Option<f64>,
    pub errors: Vec<String>,
}

/// Sampling scenario: the SDK's figure over the case's (the span cost of
/// `otel-sdk` in this run ÷ this case's; above 1x = the SDK is slower).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SamplingRatio {
    pub case: String,
    pub baseline: String,
    #[serde(flatten)]
    pub ratios: MethodRatios,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtlpResult {
    pub subject: String,
    /// Records emitted in the timed run (after the warm-up).
    pub records: u64,
    /// Records the receiver counted.
    pub received: u64,
    /// Export requests the receiver answered.
    pub requests: u64,
    /// `records - received`.
    pub lost: u64,
    /// The losses the subject counted itself (datapunk-log: ring drops +
    /// export queue drops + failed batches); None where it does not.
    pub lost_counted_by_subject: Option<u64>,
    /// The subject's flush completed within the time limit.
    pub flushed: bool,
    /// Until the last record was emitted.
    pub producer_s: f64,
    /// From the first record until the receiver counted the last one.
    pub total_s: f64,
    /// `received / total_s`.
    pub delivered_per_s: f64,
    pub producer_records_per_s: f64,
    pub subject_stats: Option<serde_json::Value>,
    pub wall_s: f64,
}

/// One subject of the span or OTLP scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRun<T> {
    pub subject: String,
    pub description: String,
    pub result: Option<T>,
    /// As in [`SubjectResult`].
    pub foreign_cpu: Option<f64>,
    pub errors: Vec<String>,
}

/// Span scenario, subject / baseline (above 1 = slower).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SpanRatio {
    pub subject: String,
    pub baseline: String,
    #[serde(flatten)]
    pub ratios: MethodRatios,
}

/// The ratios of two call/burst measurements, p50, p99, p99.9 and max of
/// each (the span and sampling scenarios' ratios; `None` where a side has
/// no result or the divisor is 0).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MethodRatios {
    pub call_p50: Option<f64>,
    pub call_p99: Option<f64>,
    pub call_p999: Option<f64>,
    pub call_max: Option<f64>,
    pub burst_p50: Option<f64>,
    pub burst_p99: Option<f64>,
    pub burst_p999: Option<f64>,
    pub burst_max: Option<f64>,
}

impl MethodRatios {
    /// `num` ÷ `den`, each its (call, burst) distributions.
    pub fn between(
        num: Option<(&Distribution, &Distribution)>,
        den: Option<(&Distribution, &Distribution)>,
    ) -> MethodRatios {
        let f = |pick: fn((&Distribution, &Distribution)) -> f64| {
            let (n, d) = (pick(num?), pick(den?));
            (d > 0.0).then(|| n / d)
        };
        MethodRatios {
            call_p50: f(|m| m.0.p50_ns),
            call_p99: f(|m| m.0.p99_ns),
            call_p999: f(|m| m.0.p999_ns),
            call_max: f(|m| m.0.max_ns),
            burst_p50: f(|m| m.1.p50_ns),
            burst_p99: f(|m| m.1.p99_ns),
            burst_p999: f(|m| m.1.p999_ns),
            burst_max: f(|m| m.1.max_ns),
        }
    }

    /// The call and the burst ratios, each p50, p99, p99.9, max.
    pub fn rows(&self) -> ([Option<f64>; 4], [Option<f64>; 4]) {
        (
            [self.call_p50, self.call_p99, self.call_p999, self.call_max],
            [
                self.burst_p50,
                self.burst_p99,
                self.burst_p999,
                self.burst_max,
            ],
        )
    }
}

/// OTLP scenario: the subject's delivered records/s over the baseline's
/// (below 1 = slower).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OtlpRatio {
    pub subject: String,
    pub baseline: String,
    pub delivered_per_s: Option<f64>,
}

/// The library's counters at the end of a collector-scenario run (after
/// the guard's drop), and what the collector side saw.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectorCounters {
    /// `stats().produced`: every enabled call, warm-up included.
    pub produced: u64,
    /// `stats().dropped`: records lost at a full ring.
    pub ring_dropped: u64,
    /// `stats().export_dropped_logs`: records the writer did not hand to the
    /// export thread because its buffers were all in use (still written to
    /// the JSON sink).
    pub export_dropped_logs: u64,
    /// `stats().exported_logs`: records the export thread handed to the
    /// OTLP exporter.
    pub exported_logs: u64,
    /// `written - exported_logs - export_dropped_logs`: records still queued
    /// for the export thread when the shutdown timeout ran out (None: no
    /// exporter).
    pub export_pending: Option<u64>,
    /// `otlp_stats()`: records the collector accepted, records of failed
    /// batches, batches sent, batches failed.
    pub otlp_logs_exported: u64,
    pub otlp_logs_failed: u64,
    pub otlp_export_requests: u64,
    pub otlp_export_errors: u64,
    /// `up`: records the loopback receiver counted.
    pub received: Option<u64>,
    /// `stalled`: connections the listener accepted (never read).
    pub connections: Option<u64>,
}

/// One condition of the collector scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectorResult {
    pub condition: String,
    /// The OTLP/gRPC endpoint (None: no exporter).
    pub endpoint: Option<String>,
    pub ring_capacity: usize,
    pub export_timeout_ms: u64,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    pub call: Method,
    pub call_pause_ns: u64,
    pub burst: Method,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
    /// Every enabled call, warm-up included.
    pub calls_total: u64,
    pub counters: CollectorCounters,
    /// The guard's drop at the end (engine and exporter shutdown).
    pub shutdown_s: f64,
    pub wall_s: f64,
}

/// One condition of the collector scenario, as the parent saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectorRun {
    pub condition: String,
    pub description: String,
    pub result: Option<CollectorResult>,
    /// As in [`SubjectResult`].
    pub foreign_cpu: Option<f64>,
    pub errors: Vec<String>,
}

/// Collector scenario, condition / `no-export` (above 1 = slower).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollectorRatio {
    pub condition: String,
    pub baseline: String,
    pub call_p50: Option<f64>,
    pub call_p99: Option<f64>,
    pub call_p999: Option<f64>,
    pub burst_p50: Option<f64>,
    pub burst_p99: Option<f64>,
    pub burst_p999: Option<f64>,
}

/// How long each `datapunk_log::reload` call took on the reloading
/// thread (microseconds).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadTimes {
    pub reloads: u64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub max_us: f64,
    pub mean_us: f64,
}

impl ReloadTimes {
    pub fn from_ns(ns: &[u64]) -> ReloadTimes {
        let mut h = Histogram::<u64>::new(3).expect("3 significant figures is valid");
        for &v in ns {
            h.record(v).expect("auto-resizing histogram takes any u64");
        }
        let us = |v: u64| v as f64 / 1000.0;
        ReloadTimes {
            reloads: ns.len() as u64,
            p50_us: us(h.value_at_quantile(0.50)),
            p99_us: us(h.value_at_quantile(0.99)),
            max_us: us(h.max()),
            mean_us: ns.iter().map(|&v| v as f64).sum::<f64>() / ns.len().max(1) as f64 / 1000.0,
        }
    }
}

/// One mode of the reload scenario: datapunk-log's log call timed by the
/// `call` and `burst` methods, with or without a thread reloading.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadResult {
    pub mode: String,
    /// Milliseconds the reloading thread sleeps between reloads.
    pub interval_ms: u64,
    /// What each reload changed (each part alternating between two values).
    pub parts: Vec<String>,
    pub ring_capacity: usize,
    pub rdtsc_overhead: Overhead,
    pub rdtsc_overhead_subtracted: bool,
    pub call: Method,
    pub call_pause_ns: u64,
    pub burst: Method,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
    /// Reloads completed while each method ran (from its first timed call
    /// to its last; 0 without reloads).
    pub reloads_call: u64,
    pub reloads_burst: u64,
    /// Reloads completed in the whole run (settles between the methods
    /// included).
    pub reloads_total: u64,
    /// Wall time of each method, seconds.
    pub call_s: f64,
    pub burst_s: f64,
    /// The time each reload took on the reloading thread (None: no reload).
    pub reload_time: Option<ReloadTimes>,
    /// Every enabled call, warm-up included; `stats().produced` equals it
    /// (the INFO call stayed enabled through every reload).
    pub calls_total: u64,
    pub subject_stats: Option<serde_json::Value>,
    pub wall_s: f64,
}

/// One mode of the reload scenario, as the parent saw it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadRun {
    pub mode: String,
    pub description: String,
    pub result: Option<ReloadResult>,
    /// As in [`SubjectResult`].
    pub foreign_cpu: Option<f64>,
    pub errors: Vec<String>,
}

/// Reload scenario, a mode / `no-reload` (above 1 = slower while
/// reloading).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReloadRatio {
    pub mode: String,
    pub baseline: String,
    #[serde(flatten)]
    pub ratios: MethodRatios,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubjectResult {
    pub subject: String,
    pub description: String,
    pub latency: Option<LatencyResult>,
    pub throughput: Option<ThroughputResult>,
    /// CPU used by other processes (and stolen by the hypervisor) while
    /// each scenario ran, in cores (0.5 = half a core on average); None
    /// where /proc is not available.
    pub foreign_cpu_latency: Option<f64>,
    pub foreign_cpu_throughput: Option<f64>,
    pub errors: Vec<String>,
}

/// Peer / baseline; above 1 means the peer is slower (for throughput: the
/// peer's records/s over the baseline's, so below 1 means slower).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ratio {
    pub subject: String,
    pub baseline: String,
    pub burst_p50: Option<f64>,
    pub call_p50: Option<f64>,
    pub burst_p999: Option<f64>,
    pub call_p999: Option<f64>,
    pub throughput: Option<f64>,
}

/// A datapunk-log subject against the floor of the same run (DESIGN.md:
/// within 1.25x with the precise clock, 1.5x with the coarse one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FloorRatio {
    pub subject: String,
    pub floor: String,
    /// The subject's p50 / the floor's (above 1 = slower than the floor).
    pub burst_p50: Option<f64>,
    pub call_p50: Option<f64>,
    /// The most either ratio may be.
    pub aim: f64,
    /// Both ratios at or under `aim` (None: a side has no result).
    pub within_aim: Option<bool>,
}

/// One figure of a datapunk-log subject against the best peer of the run
/// for that figure.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VsPeer {
    /// The peer with the best figure (lowest p50, most records/s).
    pub peer: String,
    /// The subject's figure / the peer's: for latency below 1 means
    /// datapunk-log is faster; for records/s above 1 does.
    pub ratio: f64,
    /// DESIGN.md's aim for the ratio: at most this for latency, at least
    /// this for records/s.
    pub aim: f64,
    pub met: bool,
    /// Latency figures: the share of the peer's calls in that method that
    /// it dropped (its ring was full), when known.
    #[serde(default)]
    pub peer_dropped_share: Option<f64>,
}

/// A datapunk-log subject against the best peer of the run (DESIGN.md:
/// burst p50 at least 2x better, no figure behind, at least 4x the
/// records/s).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerRatio {
    pub subject: String,
    pub burst_p50: Option<VsPeer>,
    pub call_p50: Option<VsPeer>,
    pub records_per_s: Option<VsPeer>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub kernel: String,
    pub tsc_ghz: f64,
    pub tsc_calibration_ms: f64,
    /// The counter's step (see `tsc::step_ticks`), in ticks and ns: the
    /// resolution of a single-call sample.
    pub tsc_step_ticks: u64,
    pub tsc_step_ns: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub profile: String,
    pub profile_path: String,
    pub description: String,
    pub started_unix_s: u64,
    pub wall_s: f64,
    /// /proc/loadavg's 1-minute figure before and after the run: well above
    /// 1 (one producer + one background thread is the run's own share of
    /// a second core) means other processes competed for the CPUs.
    pub load_avg_start: Option<f64>,
    pub load_avg_end: Option<f64>,
    pub machine: Machine,
    pub notes: Vec<String>,
    pub subjects: Vec<SubjectResult>,
    pub ratios: Vec<Ratio>,
    /// datapunk-log subjects / the floor (empty when either did not run
    /// the latency scenario).
    #[serde(default)]
    pub floor_ratios: Vec<FloorRatio>,
    /// datapunk-log subjects / the best peer of the run, per figure.
    #[serde(default)]
    pub peer_ratios: Vec<PeerRatio>,
    /// The span scenario, one entry per subject (empty when not run).
    pub spans: Vec<ScenarioRun<SpanResult>>,
    pub span_ratios: Vec<SpanRatio>,
    /// The OTLP scenario, one entry per subject (empty when not run).
    pub otlp: Vec<ScenarioRun<OtlpResult>>,
    pub otlp_ratios: Vec<OtlpRatio>,
    /// The collector scenario, one entry per condition (empty when not run).
    pub collector: Vec<CollectorRun>,
    pub collector_ratios: Vec<CollectorRatio>,
    /// The sampling scenario, one entry per case (empty when not run).
    #[serde(default)]
    pub sampling: Vec<SamplingRun>,
    #[serde(default)]
    pub sampling_ratios: Vec<SamplingRatio>,
    /// The reload scenario, one entry per mode (empty when not run).
    #[serde(default)]
    pub reload: Vec<ReloadRun>,
    #[serde(default)]
    pub reload_ratios: Vec<ReloadRatio>,
}
