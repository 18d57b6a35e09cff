//! Benchmark profiles: which subjects to run and how hard, read from TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::scenario::ScenarioKind;
use crate::subject::SubjectKind;

/// A whole profile (`perf/profiles/*.toml`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Name used in the report and for `perf/results/<name>-latest.json`
    /// (defaults to the file's stem).
    #[serde(default)]
    pub name: String,
    /// What this profile is for (printed in the report).
    #[serde(default)]
    pub description: String,
    /// The loggers of the latency and throughput scenarios, in the order
    /// they run (the span and OTLP scenarios name their own; the collector
    /// scenario measures `datapunk-precise` only; the sampling scenario's
    /// cases fix theirs).
    pub subjects: Vec<SubjectKind>,
    /// The scenarios, in the order they run (default: latency, throughput,
    /// then spans, otlp, collector and sampling when their sections are
    /// present).
    #[serde(default)]
    pub scenarios: Vec<ScenarioKind>,
    /// The subject that peers are compared with (ratios peer / baseline).
    #[serde(default = "default_baseline")]
    pub baseline: SubjectKind,
    /// Where the log files go, relative to the working directory.
    #[serde(default = "default_log_dir")]
    pub log_dir: String,
    /// Keep the log files after a scenario verified them (they are removed
    /// otherwise: the latency scenarios of the peers write gigabytes).
    #[serde(default)]
    pub keep_logs: bool,
    /// Milliseconds over which the TSC is calibrated against `Instant`.
    #[serde(default = "default_calibration_ms")]
    pub tsc_calibration_ms: u64,
    pub latency: LatencyProfile,
    pub throughput: ThroughputProfile,
    /// The span scenario (absent: not run).
    #[serde(default)]
    pub spans: Option<SpansProfile>,
    /// The OTLP scenario (absent: not run).
    #[serde(default)]
    pub otlp: Option<OtlpProfile>,
    /// The collector scenario (absent: not run).
    #[serde(default)]
    pub collector: Option<CollectorProfile>,
    /// The sampling scenario (absent: not run).
    #[serde(default)]
    pub sampling: Option<SamplingProfile>,
    /// The reload scenario (run only when asked for: `--scenarios reload`
    /// or a `scenarios` list naming it; never added by default).
    #[serde(default)]
    pub reload: Option<ReloadProfile>,
}

/// The reload scenario: datapunk-log's log call (`datapunk-precise`),
/// timed by the latency scenario's `call` and `burst` methods, without and
/// with a thread calling `datapunk_log::reload` every `interval_ms` (one
/// child process per mode).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReloadProfile {
    /// The modes, in the order they run (default: both).
    #[serde(default = "all_reload_modes")]
    pub modes: Vec<ReloadMode>,
    /// Milliseconds between the end of one reload and the start of the
    /// next (the thread sleeps this long in between).
    pub interval_ms: u64,
    /// What each reload changes (default: all four parts, as a reload of a
    /// whole configuration file would).
    #[serde(default = "all_reload_parts")]
    pub parts: Vec<ReloadPart>,
    /// Calls made, untimed, before measuring.
    pub warmup_calls: u64,
    /// Calls timed one by one.
    pub call_samples: u64,
    /// Nanoseconds of busy-wait after each timed call: spreads the call
    /// method over many reload intervals (back to back, 200 000 calls last
    /// about one interval).
    #[serde(default)]
    pub call_pause_ns: u64,
    /// Bursts timed; each gives one sample (the burst's time / `burst_size`).
    pub bursts: u64,
    /// Calls per burst.
    pub burst_size: u64,
    /// Nanoseconds of busy-wait between bursts.
    pub burst_pause_ns: u64,
    /// Bytes of the producer thread's ring (pre-faulted; `Overflow::Drop`).
    pub ring_capacity: usize,
}

/// Whether a reload-scenario run reloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadMode {
    /// No reload (the reference).
    NoReload,
    /// A thread reloads every `interval_ms` during the measurement.
    Reloading,
}

pub const ALL_RELOAD_MODES: [ReloadMode; 2] = [ReloadMode::NoReload, ReloadMode::Reloading];

fn all_reload_modes() -> Vec<ReloadMode> {
    ALL_RELOAD_MODES.to_vec()
}

impl ReloadMode {
    pub fn name(self) -> &'static str {
        match self {
            ReloadMode::NoReload => "no-reload",
            ReloadMode::Reloading => "reloading",
        }
    }
}

/// One part of the configuration a reload changes, alternating between
/// two values that both keep the measured INFO call enabled and written
/// the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReloadPart {
    /// Filter directives `info` <-> `info,<another target>=debug`: every
    /// call site is decided again under the registry lock.
    Filter,
    /// DEBUG's log policy keep-all <-> 1 in 100: the sampler's mode and
    /// every call site's plan byte are recomputed (INFO's stays keep-all).
    LogSampling,
    /// The trace sampler `parent_based(always_on)` <->
    /// `parent_based(probability(0.5))`, behind arc-swap (no span here).
    TraceSampling,
    /// The redacted keys `[password]` <-> `[password, customer_email]`
    /// (no field of the record): waits for the writer twice by design,
    /// forgets every call site's redaction mask, swaps the redactor.
    Redaction,
}

pub const ALL_RELOAD_PARTS: [ReloadPart; 4] = [
    ReloadPart::Filter,
    ReloadPart::LogSampling,
    ReloadPart::TraceSampling,
    ReloadPart::Redaction,
];

fn all_reload_parts() -> Vec<ReloadPart> {
    ALL_RELOAD_PARTS.to_vec()
}

impl ReloadPart {
    pub fn name(self) -> &'static str {
        match self {
            ReloadPart::Filter => "filter",
            ReloadPart::LogSampling => "log-sampling",
            ReloadPart::TraceSampling => "trace-sampling",
            ReloadPart::Redaction => "redaction",
        }
    }
}

/// The span scenario: a span started and ended at once, timed as the
/// latency scenario's `call` and `burst`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpansProfile {
    /// Datapunk-log (precise or coarse clock), `otel-sdk`, `tracing-otel`.
    pub subjects: Vec<SubjectKind>,
    /// Spans made, untimed, before measuring.
    pub warmup_calls: u64,
    /// Spans timed one by one.
    pub call_samples: u64,
    /// Bursts timed; each gives one sample (the burst's time / `burst_size`).
    pub bursts: u64,
    /// Spans per burst.
    pub burst_size: u64,
    /// Nanoseconds of busy-wait between bursts.
    pub burst_pause_ns: u64,
    /// datapunk-log: bytes of the producer thread's ring (pre-faulted;
    /// `Overflow::Drop`).
    pub ring_capacity: usize,
}

/// The OTLP scenario: `records` log records over OTLP/gRPC to a loopback
/// receiver, timed until the receiver has them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OtlpProfile {
    /// Datapunk-log (precise or coarse clock), `otel-sdk`.
    pub subjects: Vec<SubjectKind>,
    pub records: u64,
    /// Records sent and received before timing (connection set up).
    pub warmup_records: u64,
    /// Bound of each wait (flush, receiver), seconds.
    pub timeout_s: u64,
    /// After the subject's flush, the receiver's count is final once it
    /// has not moved for this long (milliseconds; not part of the time).
    pub quiet_ms: u64,
    /// True: every subject is configured not to lose records (datapunk-log
    /// `export_overflow(Block)`, the SDK a queue holding every record), so
    /// the figure is sustained delivery. False: each subject's defaults.
    #[serde(default = "default_true")]
    pub lossless: bool,
}

fn default_true() -> bool {
    true
}

/// The collector scenario: datapunk-log's log call (`datapunk-precise`),
/// timed by the latency scenario's `call` and `burst` methods, with no
/// exporter and with OTLP/gRPC export to a collector that is up, down or
/// stalled (one child process per condition).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectorProfile {
    /// The conditions, in the order they run (default: all four).
    #[serde(default = "all_conditions")]
    pub conditions: Vec<Condition>,
    /// Calls made, untimed, before measuring.
    pub warmup_calls: u64,
    /// Calls timed one by one.
    pub call_samples: u64,
    /// Nanoseconds of busy-wait after each timed call (0: back to back).
    #[serde(default)]
    pub call_pause_ns: u64,
    /// Bursts timed; each gives one sample (the burst's time / `burst_size`).
    pub bursts: u64,
    /// Calls per burst.
    pub burst_size: u64,
    /// Nanoseconds of busy-wait between bursts.
    pub burst_pause_ns: u64,
    /// Bytes of the producer thread's ring (pre-faulted; `Overflow::Drop`).
    pub ring_capacity: usize,
    /// The exporter's request timeout and batch export timeout
    /// (milliseconds): how long one batch may wait for a collector that is
    /// down or stalled.
    pub export_timeout_ms: u64,
    /// The engine's shutdown timeout (milliseconds): bounds the guard's drop
    /// at the end of each child, whatever the collector does.
    pub shutdown_timeout_ms: u64,
}

/// What the OTLP collector does in a collector-scenario run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Condition {
    /// No exporter (the reference).
    NoExport,
    /// A healthy loopback receiver.
    Up,
    /// Nothing listens on the port: connections are refused.
    Down,
    /// A listener that accepts connections and never reads or answers.
    Stalled,
}

pub const ALL_CONDITIONS: [Condition; 4] = [
    Condition::NoExport,
    Condition::Up,
    Condition::Down,
    Condition::Stalled,
];

fn all_conditions() -> Vec<Condition> {
    ALL_CONDITIONS.to_vec()
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Condition::NoExport => "no-export",
            Condition::Up => "up",
            Condition::Down => "down",
            Condition::Stalled => "stalled",
        }
    }
}

/// The sampling scenario: root spans started and ended under a sampler,
/// timed as the span scenario's `call` and `burst` (one child process per
/// case), and two threads starting spans on one hot rate-limit key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingProfile {
    /// The cases, in the order they run (default: all eight).
    #[serde(default = "all_sampling_cases")]
    pub cases: Vec<SamplingCase>,
    /// Spans made, untimed, before measuring.
    pub warmup_calls: u64,
    /// Spans timed one by one.
    pub call_samples: u64,
    /// Bursts timed; each gives one sample (the burst's time / `burst_size`).
    pub bursts: u64,
    /// Spans per burst.
    pub burst_size: u64,
    /// Nanoseconds of busy-wait between bursts.
    pub burst_pause_ns: u64,
    /// datapunk-log: bytes of each producer thread's ring (pre-faulted;
    /// `Overflow::Drop`).
    pub ring_capacity: usize,
    /// `rules`: kept spans per second per `tenant` of the last rule's rate
    /// limit (set high enough never to bind there, so the figure is the
    /// limiter's admitting path; `hot-key` measures a binding limit).
    pub rules_per_second: f64,
    /// `rules`: the burst of that limit.
    pub rules_burst: u32,
    /// `hot-key`: kept spans per second (R) of the one `tenant` both
    /// threads use.
    pub hot_per_second: f64,
    /// `hot-key`: the burst (B) of that limit.
    pub hot_burst: u32,
    /// `hot-key`: spans each of the two threads starts (a count, not a time).
    pub hot_spans_per_thread: u64,
    /// `hot-key`: every this many spans, one is timed between fenced TSC
    /// reads (the others run untimed in between).
    pub hot_sample_every: u64,
}

/// One case of the sampling scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SamplingCase {
    /// datapunk-log, `parent_based(probability(0.1))`, a root span.
    Probability,
    /// datapunk-log, `parent_based(always_off)`: nothing is recorded.
    AlwaysOff,
    /// datapunk-log, rules (an attribute rule, a name-prefix rule), then
    /// `probability(0.1)` limited per `tenant`; the span has a `tenant`.
    Rules,
    /// datapunk-log, the same two rules, then `probability(0.1)` for the
    /// name `checkout`: the call site's name settles the rule, and its
    /// word decides each root; the span has a `tenant`.
    RulesByName,
    /// opentelemetry_sdk, `ParentBased(TraceIdRatioBased(0.1))`.
    OtelSdk,
    /// datapunk-log, two threads on one hot `tenant` of
    /// `AlwaysOn.rate_limited(R, B, ["tenant"])`.
    HotKey,
    /// datapunk-log, the latency scenario's log record under the default
    /// (keep-all) log sampling: the capture the next two are set against.
    LogKept,
    /// The same record, its call site sampled at 1 in 100
    /// (`first = 0, thereafter = 100`).
    LogSampledOut,
    /// The same record inside an entered unsampled span, under
    /// `Unsampled::Drop`.
    LogUnsampledDrop,
}

pub const ALL_SAMPLING_CASES: [SamplingCase; 9] = [
    SamplingCase::Probability,
    SamplingCase::AlwaysOff,
    SamplingCase::Rules,
    SamplingCase::RulesByName,
    SamplingCase::OtelSdk,
    SamplingCase::HotKey,
    SamplingCase::LogKept,
    SamplingCase::LogSampledOut,
    SamplingCase::LogUnsampledDrop,
];

fn all_sampling_cases() -> Vec<SamplingCase> {
    ALL_SAMPLING_CASES.to_vec()
}

impl SamplingCase {
    pub fn name(self) -> &'static str {
        match self {
            SamplingCase::Probability => "probability",
            SamplingCase::AlwaysOff => "always-off",
            SamplingCase::Rules => "rules",
            SamplingCase::RulesByName => "rules-by-name",
            SamplingCase::OtelSdk => "otel-sdk",
            SamplingCase::HotKey => "hot-key",
            SamplingCase::LogKept => "log-kept",
            SamplingCase::LogSampledOut => "log-sampled-out",
            SamplingCase::LogUnsampledDrop => "log-unsampled-drop",
        }
    }

    /// The subject the case measures.
    pub fn subject(self) -> SubjectKind {
        match self {
            SamplingCase::OtelSdk => SubjectKind::OtelSdk,
            _ => SubjectKind::DatapunkPrecise,
        }
    }
}

/// The latency scenario: every subject logs the same record through
/// `call`, `burst` and `disabled`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LatencyProfile {
    /// Calls made, untimed, before measuring (on top of the subject's own
    /// warm-up, such as pre-faulting its whole ring).
    pub warmup_calls: u64,
    /// Calls timed one by one with rdtsc.
    pub call_samples: u64,
    /// Nanoseconds of busy-wait after each timed call (0: back to back).
    #[serde(default)]
    pub call_pause_ns: u64,
    /// Bursts timed; each gives one sample (the burst's time / `burst_size`).
    pub bursts: u64,
    /// Calls per burst.
    pub burst_size: u64,
    /// Nanoseconds of busy-wait between bursts.
    pub burst_pause_ns: u64,
    /// Calls to a filtered-out level, timed as one loop.
    pub disabled_iterations: u64,
    /// Subtract the median rdtsc pair overhead from each sample. Off by
    /// default: figures are raw and the overhead is reported beside them.
    #[serde(default)]
    pub subtract_rdtsc_overhead: bool,
    /// datapunk-log: bytes of the producer thread's ring.
    pub ring_capacity: usize,
    /// datapunk-log: what a call does when the ring is full.
    pub overflow: OverflowKind,
    /// Peers: bounded queue length (tracing-appender lines, slog-async
    /// channel), with the same overflow policy.
    pub peer_queue: usize,
}

/// The throughput scenario: `records` calls as fast as possible, blocking
/// when full, timed until all of them are in the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThroughputProfile {
    pub records: u64,
    /// datapunk-log: ring bytes (absent: the library's default).
    #[serde(default)]
    pub ring_capacity: Option<usize>,
    /// datapunk-log: bytes per sink write (absent: the library's default).
    #[serde(default)]
    pub batch_bytes: Option<usize>,
    /// Peers: queue length (absent: the peer's default).
    #[serde(default)]
    pub peer_queue: Option<usize>,
    /// Lines parsed with serde_json and checked, spread over the file.
    pub verify_sample: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OverflowKind {
    Block,
    Drop,
}

fn default_baseline() -> SubjectKind {
    SubjectKind::DatapunkPrecise
}
fn default_log_dir() -> String {
    "logs/perf".into()
}
fn default_calibration_ms() -> u64 {
    100
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
        let mut p: Profile = toml::from_str(&text)
            .map_err(|e| format!("invalid profile {}: {e}", path.display()))?;
        if p.name.is_empty() {
            p.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "profile".into());
        }
        if p.scenarios.is_empty() {
            p.scenarios = vec![ScenarioKind::Latency, ScenarioKind::Throughput];
            if p.spans.is_some() {
                p.scenarios.push(ScenarioKind::Spans);
            }
            if p.otlp.is_some() {
                p.scenarios.push(ScenarioKind::Otlp);
            }
            if p.collector.is_some() {
                p.scenarios.push(ScenarioKind::Collector);
            }
            if p.sampling.is_some() {
                p.scenarios.push(ScenarioKind::Sampling);
            }
            // Not `reload`: it runs only when asked for.
        }
        if p.subjects.is_empty() {
            return Err(format!(
                "invalid profile {}: `subjects` is empty",
                path.display()
            ));
        }
        p.validate()
            .map_err(|e| format!("invalid profile {}: {e}", path.display()))?;
        Ok(p)
    }

    /// The subjects a scenario runs, in order.
    pub fn subjects_of(&self, scen: ScenarioKind) -> Vec<SubjectKind> {
        match scen {
            ScenarioKind::Latency => self.subjects.clone(),
            // The floor has no throughput figure.
            ScenarioKind::Throughput => self
                .subjects
                .iter()
                .copied()
                .filter(|k| k.runs(ScenarioKind::Throughput))
                .collect(),
            ScenarioKind::Spans => self
                .spans
                .as_ref()
                .map(|s| s.subjects.clone())
                .unwrap_or_default(),
            ScenarioKind::Otlp => self
                .otlp
                .as_ref()
                .map(|s| s.subjects.clone())
                .unwrap_or_default(),
            // datapunk-log only; `--subjects` does not change it.
            ScenarioKind::Collector => match self.collector {
                Some(_) => vec![SubjectKind::DatapunkPrecise],
                None => Vec::new(),
            },
            // datapunk-log only; `--subjects` does not change it.
            ScenarioKind::Reload => match self.reload {
                Some(_) => vec![SubjectKind::DatapunkPrecise],
                None => Vec::new(),
            },
            // Fixed by the cases; `--subjects` does not change it.
            ScenarioKind::Sampling => {
                let mut v: Vec<SubjectKind> = Vec::new();
                for c in self.sampling.iter().flat_map(|s| &s.cases) {
                    if !v.contains(&c.subject()) {
                        v.push(c.subject());
                    }
                }
                v
            }
        }
    }

    /// `--subjects`: each scenario runs those of `list` that it can, in
    /// the order given.
    pub fn restrict_subjects(&mut self, list: &[SubjectKind]) {
        let keep = |scen: ScenarioKind| -> Vec<SubjectKind> {
            list.iter().copied().filter(|k| k.runs(scen)).collect()
        };
        self.subjects = keep(ScenarioKind::Latency);
        if let Some(s) = &mut self.spans {
            s.subjects = keep(ScenarioKind::Spans);
        }
        if let Some(o) = &mut self.otlp {
            o.subjects = keep(ScenarioKind::Otlp);
        }
    }

    /// Checks the profile (also after the command line changed it).
    pub fn validate(&self) -> Result<(), String> {
        if self.scenarios.is_empty() {
            return Err("`scenarios` is empty".into());
        }
        for scen in [
            ScenarioKind::Latency,
            ScenarioKind::Spans,
            ScenarioKind::Otlp,
        ] {
            let section = match scen {
                ScenarioKind::Latency => "subjects",
                ScenarioKind::Spans => "spans.subjects",
                _ => "otlp.subjects",
            };
            if let Some(k) = self.subjects_of(scen).iter().find(|k| !k.runs(scen)) {
                return Err(format!("{section}: `{}` cannot run it", k.name()));
            }
        }
        if self.scenarios.contains(&ScenarioKind::Spans) && self.spans.is_none() {
            return Err("scenario `spans` needs a [spans] section".into());
        }
        if self.scenarios.contains(&ScenarioKind::Otlp) && self.otlp.is_none() {
            return Err("scenario `otlp` needs an [otlp] section".into());
        }
        if self.scenarios.contains(&ScenarioKind::Collector) && self.collector.is_none() {
            return Err("scenario `collector` needs a [collector] section".into());
        }
        if let Some(c) = &self.collector {
            if c.call_samples == 0 || c.bursts == 0 || c.burst_size == 0 {
                return Err(
                    "collector: call_samples, bursts and burst_size must be positive".into(),
                );
            }
            if c.export_timeout_ms == 0 || c.shutdown_timeout_ms == 0 {
                return Err(
                    "collector: export_timeout_ms and shutdown_timeout_ms must be positive".into(),
                );
            }
            if c.conditions.is_empty() {
                return Err("collector: `conditions` is empty".into());
            }
        }
        if self.scenarios.contains(&ScenarioKind::Reload) && self.reload.is_none() {
            return Err("scenario `reload` needs a [reload] section".into());
        }
        if let Some(r) = &self.reload {
            if r.call_samples == 0 || r.bursts == 0 || r.burst_size == 0 {
                return Err("reload: call_samples, bursts and burst_size must be positive".into());
            }
            if r.interval_ms == 0 {
                return Err("reload: interval_ms must be positive".into());
            }
            if r.modes.is_empty() || r.parts.is_empty() {
                return Err("reload: `modes` and `parts` must not be empty".into());
            }
        }
        if self.scenarios.contains(&ScenarioKind::Sampling) && self.sampling.is_none() {
            return Err("scenario `sampling` needs a [sampling] section".into());
        }
        if let Some(s) = &self.sampling {
            if s.call_samples == 0 || s.bursts == 0 || s.burst_size == 0 {
                return Err(
                    "sampling: call_samples, bursts and burst_size must be positive".into(),
                );
            }
            if s.cases.is_empty() {
                return Err("sampling: `cases` is empty".into());
            }
            if !(s.rules_per_second > 0.0 && s.hot_per_second > 0.0) {
                return Err(
                    "sampling: rules_per_second and hot_per_second must be positive".into(),
                );
            }
            if f64::from(s.hot_burst.max(1)) / s.hot_per_second > 10.0 {
                return Err(
                    "sampling: hot_burst / hot_per_second (the hot key's refill wait) must be at most 10 s"
                        .into(),
                );
            }
            if s.hot_sample_every == 0 || s.hot_spans_per_thread < s.hot_sample_every {
                return Err(
                    "sampling: hot_sample_every must be positive and at most hot_spans_per_thread"
                        .into(),
                );
            }
        }
        if let Some(s) = &self.spans
            && (s.call_samples == 0 || s.bursts == 0 || s.burst_size == 0)
        {
            return Err("spans: call_samples, bursts and burst_size must be positive".into());
        }
        if let Some(o) = &self.otlp
            && (o.records == 0 || o.timeout_s == 0)
        {
            return Err("otlp: records and timeout_s must be positive".into());
        }
        let l = &self.latency;
        if l.call_samples == 0 || l.bursts == 0 || l.burst_size == 0 {
            return Err("latency: call_samples, bursts and burst_size must be positive".into());
        }
        if l.disabled_iterations == 0 {
            return Err("latency: disabled_iterations must be positive".into());
        }
        if l.peer_queue == 0 {
            return Err("latency: peer_queue must be positive".into());
        }
        if self.throughput.records == 0 {
            return Err("throughput: records must be positive".into());
        }
        if self.tsc_calibration_ms == 0 {
            return Err("tsc_calibration_ms must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_profiles_load() {
        for name in ["default", "quick"] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("profiles")
                .join(format!("{name}.toml"));
            let p = Profile::load(&path).unwrap();
            assert_eq!(p.name, name);
            assert!(p.subjects.contains(&p.baseline), "{name}: baseline not run");
            assert!(
                p.subjects.contains(&SubjectKind::Tracing),
                "{name}: no peer"
            );
            // The judge's references: the floor and the best peer.
            for k in [SubjectKind::Floor, SubjectKind::Ticklog] {
                assert!(p.subjects.contains(&k), "{name}: no {}", k.name());
            }
            assert!(
                !p.subjects_of(ScenarioKind::Throughput)
                    .contains(&SubjectKind::Floor)
            );
            assert_eq!(
                p.scenarios,
                [
                    ScenarioKind::Latency,
                    ScenarioKind::Throughput,
                    ScenarioKind::Spans,
                    ScenarioKind::Otlp,
                    ScenarioKind::Collector,
                    ScenarioKind::Sampling
                ]
            );
            let spans = p.spans.as_ref().unwrap();
            assert!(spans.subjects.contains(&p.baseline), "{name}: spans");
            assert!(spans.subjects.contains(&SubjectKind::OtelSdk), "{name}");
            let otlp = p.otlp.as_ref().unwrap();
            assert!(otlp.subjects.contains(&p.baseline), "{name}: otlp");
            assert!(otlp.subjects.contains(&SubjectKind::OtelSdk), "{name}");
            assert!(!p.latency.subtract_rdtsc_overhead);
            let c = p.collector.as_ref().unwrap();
            assert_eq!(c.conditions, ALL_CONDITIONS, "{name}: collector");
            assert_eq!(
                p.subjects_of(ScenarioKind::Collector),
                [SubjectKind::DatapunkPrecise]
            );
            let r = p.reload.as_ref().unwrap();
            assert_eq!(r.modes, ALL_RELOAD_MODES, "{name}: reload");
            assert_eq!(r.parts, ALL_RELOAD_PARTS, "{name}: reload");
            assert_eq!(r.interval_ms, 10, "{name}: reload");
            assert!(
                !p.scenarios.contains(&ScenarioKind::Reload),
                "{name}: reload runs only when asked for"
            );
            assert_eq!(
                p.subjects_of(ScenarioKind::Reload),
                [SubjectKind::DatapunkPrecise]
            );
            let s = p.sampling.as_ref().unwrap();
            assert_eq!(s.cases, ALL_SAMPLING_CASES, "{name}: sampling");
            assert_eq!(
                p.subjects_of(ScenarioKind::Sampling),
                [SubjectKind::DatapunkPrecise, SubjectKind::OtelSdk]
            );
        }
    }

    #[test]
    fn sampling_cases_parse() {
        let s: SamplingProfile = toml::from_str(
            "cases = [\"always-off\", \"hot-key\"]\nwarmup_calls = 1\ncall_samples = 1\nbursts = 1\nburst_size = 1\nburst_pause_ns = 0\nring_capacity = 65536\nrules_per_second = 1e9\nrules_burst = 1000\nhot_per_second = 1000.0\nhot_burst = 100\nhot_spans_per_thread = 16\nhot_sample_every = 4\n",
        )
        .unwrap();
        assert_eq!(s.cases, [SamplingCase::AlwaysOff, SamplingCase::HotKey]);
        assert!(toml::from_str::<SamplingProfile>("cases = [\"sometimes\"]").is_err());
    }

    #[test]
    fn reload_modes_and_parts_parse() {
        let r: ReloadProfile = toml::from_str(
            "modes = [\"reloading\"]\nparts = [\"filter\", \"redaction\"]\ninterval_ms = 10\nwarmup_calls = 1\ncall_samples = 1\nbursts = 1\nburst_size = 1\nburst_pause_ns = 0\nring_capacity = 65536\n",
        )
        .unwrap();
        assert_eq!(r.modes, [ReloadMode::Reloading]);
        assert_eq!(r.parts, [ReloadPart::Filter, ReloadPart::Redaction]);
        let d: ReloadProfile = toml::from_str(
            "interval_ms = 10\nwarmup_calls = 1\ncall_samples = 1\nbursts = 1\nburst_size = 1\nburst_pause_ns = 0\nring_capacity = 65536\n",
        )
        .unwrap();
        assert_eq!(d.modes, ALL_RELOAD_MODES);
        assert_eq!(d.parts, ALL_RELOAD_PARTS);
        assert!(toml::from_str::<ReloadProfile>("parts = [\"everything\"]").is_err());
    }

    #[test]
    fn collector_conditions_parse() {
        let c: CollectorProfile = toml::from_str(
            "conditions = [\"no-export\", \"stalled\"]\nwarmup_calls = 1\ncall_samples = 1\nbursts = 1\nburst_size = 1\nburst_pause_ns = 0\nring_capacity = 65536\nexport_timeout_ms = 1\nshutdown_timeout_ms = 1\n",
        )
        .unwrap();
        assert_eq!(c.conditions, [Condition::NoExport, Condition::Stalled]);
        assert_eq!(c.call_pause_ns, 0);
    }

    #[test]
    fn unknown_keys_and_subjects_are_errors() {
        let base = "subjects = [\"datapunk-precise\"]\n[latency]\nwarmup_calls = 1\ncall_samples = 1\nbursts = 1\nburst_size = 1\nburst_pause_ns = 0\ndisabled_iterations = 1\nring_capacity = 65536\noverflow = \"drop\"\npeer_queue = 1\n[throughput]\nrecords = 1\nverify_sample = 1\n";
        assert!(toml::from_str::<Profile>(base).is_ok());
        let typo = base.replace("bursts = 1", "burts = 1");
        assert!(toml::from_str::<Profile>(&typo).is_err());
        let peer = base.replace("datapunk-precise", "log4j");
        assert!(toml::from_str::<Profile>(&peer).is_err());
        // A subject that cannot run a scenario is refused.
        let mut p: Profile = toml::from_str(&base.replace("datapunk-precise", "otel-sdk")).unwrap();
        p.scenarios = vec![ScenarioKind::Latency];
        assert!(p.validate().is_err());
    }
}
