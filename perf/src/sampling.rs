//! The sampling scenario: what a sampling decision costs on the calling
//! thread, measured as a root span started and ended at once under a
//! sampler, beside the OpenTelemetry SDK's `ParentBased(TraceIdRatioBased)`
//! in the same run, and what two threads pay on one hot rate-limit key.
//!
//! One child process per case (one engine per process):
//!
//! - `probability`: datapunk-log, `parent_based(probability(0.1))`,
//!   `span!("checkout")` + drop; the tenth that is sampled is recorded and
//!   exported (to an exporter that counts and discards on the export
//!   thread), as in production.
//! - `always-off`: `parent_based(always_off)`: an unsampled root span (ids
//!   and context, nothing recorded).
//! - `rules`: `parent_based(rules)`: an `error = "true"` attribute rule
//!   (always on), a `health*` name rule (probability 0.01), then
//!   `probability(0.1)` rate-limited per `tenant` (a limit that does not
//!   bind at this rate); `span!("checkout", tenant = "acme")` reaches the
//!   last rule.
//! - `otel-sdk`: the span scenario's SDK pipeline ([`OtelSdk`]:
//!   `BatchSpanProcessor`, a discarding exporter) with
//!   `Sampler::ParentBased(TraceIdRatioBased(0.1))`;
//!   `tracer.start("checkout")` + `end()`.
//!
//! These four are timed by the span scenario's `call` and `burst` methods
//! ([`time_spans`]); the loops also count the spans sampled, so the spans
//! lost (sampled, never at the exporter) are counted per method.
//!
//! - `hot-key`: `AlwaysOn.rate_limited(R, B, ["tenant"])`; two threads each
//!   start a fixed number of `span!("checkout", tenant = "hot")` as fast as
//!   they can, every Nth timed between fenced TSC reads. Reported: each
//!   thread's percentiles, the wall time, the spans kept beside the bound
//!   B + R·t, and `sampler::counters().rate_limited`.
//!
//! Log sampling, the latency scenario's record (`info!` with `user_id`,
//! `latency`, `route`) timed by the same `call` and `burst` methods:
//!
//! - `log-kept`: the default policies (keep all): the capture, for
//!   comparison.
//! - `log-sampled-out`: the INFO policy `first = 0, thereafter = 100,
//!   period = 0` (one record in 100 kept, with `adjusted_count` 100).
//! - `log-unsampled-drop`: inside an entered unsampled root span
//!   (`parent_based(always_off)`) under `Unsampled::Drop`.
//!
//! For these, `kept` is what the log sampler let through (calls minus the
//! engine's `sampled_out`), `exported` the records written, and `lost` the
//! records a full ring dropped, all from `stats()` around each method.

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use datapunk_log::ClockSource;
use datapunk_log::sampler::{self, LogPolicy, Rule, Sampler, SamplingConfig, Unsampled};

use crate::profile::{SamplingCase, SamplingProfile};
use crate::results::{
    Distribution, HotKeyResult, HotThread, SampledMethod, SamplerCounters, SamplingResult,
};
use crate::scenario::{self, ChildSpec};
use crate::spans::{Datapunk, OtelSdk, SpanMethods, Spanner, time_spans};
use crate::subject::SubjectKind;
use crate::tsc::{self, Calibration, Overhead};

/// The root probability of `probability`, `rules` and `otel-sdk`.
pub const PROBABILITY: f64 = 0.1;

/// Producer threads of `hot-key`.
pub const HOT_THREADS: usize = 2;

/// Margin added to the hot key's refill wait (the limiter reads the
/// writer's coarse clock).
const REFILL_MARGIN: Duration = Duration::from_millis(20);

pub fn subject_description(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::DatapunkPrecise => {
            "datapunk-log root span under a sampler, precise clock; sampled spans to an exporter discarding on the export thread"
        }
        SubjectKind::OtelSdk => {
            "opentelemetry_sdk 0.33 SdkTracerProvider, ParentBased(TraceIdRatioBased(0.1)), BatchSpanProcessor (defaults), discarding SpanExporter"
        }
        _ => "(not a sampling subject)",
    }
}

/// The sampler of a case, as written in the report.
pub fn sampler_text(c: SamplingCase, p: &SamplingProfile) -> String {
    match c {
        SamplingCase::Probability => format!("parent_based(probability({PROBABILITY}))"),
        SamplingCase::AlwaysOff => "parent_based(always_off)".into(),
        SamplingCase::Rules => format!(
            "parent_based(rules[error=true: always_on; name health*: probability(0.01); probability({PROBABILITY}).rate_limited({}/s, burst {}, [tenant])])",
            p.rules_per_second, p.rules_burst
        ),
        SamplingCase::RulesByName => format!(
            "parent_based(rules[error=true: always_on; name health*: probability(0.01); name checkout: probability({PROBABILITY})])"
        ),
        SamplingCase::OtelSdk => format!("ParentBased(TraceIdRatioBased({PROBABILITY}))"),
        SamplingCase::HotKey => format!(
            "AlwaysOn.rate_limited({}/s, burst {}, [tenant])",
            p.hot_per_second, p.hot_burst
        ),
        SamplingCase::LogKept => "log sampling off (every policy keep-all)".into(),
        SamplingCase::LogSampledOut => {
            format!("INFO call sites: first 0, then 1 in {LOG_EVERY} (no period)")
        }
        SamplingCase::LogUnsampledDrop => {
            "Unsampled::Drop, inside parent_based(always_off) root".into()
        }
    }
}

pub fn case_description(c: SamplingCase, p: &SamplingProfile) -> String {
    let exporter = "sampled spans go to an exporter that counts and discards on the export thread; ring pre-faulted (prepare_thread), Overflow::Drop, precise clock";
    match c {
        SamplingCase::Probability => format!(
            "datapunk-log {}: root span!(\"checkout\") + drop; {exporter}",
            sampler_text(c, p)
        ),
        SamplingCase::AlwaysOff => format!(
            "datapunk-log {}: an unsampled root span!(\"checkout\") + drop (ids and context, nothing recorded)",
            sampler_text(c, p)
        ),
        SamplingCase::Rules => format!(
            "datapunk-log {}: span!(\"checkout\", tenant = \"acme\") + drop, decided by the last rule (its limit does not bind here); {exporter}",
            sampler_text(c, p)
        ),
        SamplingCase::RulesByName => format!(
            "datapunk-log {}: span!(\"checkout\", tenant = \"acme\") + drop, decided by the rule its name selects (worked out at the call site's first root); {exporter}",
            sampler_text(c, p)
        ),
        SamplingCase::OtelSdk => format!(
            "opentelemetry_sdk 0.33 SdkTracerProvider with Sampler::{}, BatchSpanProcessor (defaults: queue 2048, own thread), discarding SpanExporter; tracer.start(\"checkout\") + end()",
            sampler_text(c, p)
        ),
        SamplingCase::LogKept | SamplingCase::LogSampledOut | SamplingCase::LogUnsampledDrop => {
            format!(
                "datapunk-log {}: info!(user_id, latency, route, \"request handled\"), the latency scenario's record; records to a null sink and an exporter discarding on the export thread; ring pre-faulted (prepare_thread), Overflow::Drop, precise clock",
                sampler_text(c, p)
            )
        }
        SamplingCase::HotKey => format!(
            "datapunk-log {}: {HOT_THREADS} threads each start {} span!(\"checkout\", tenant = \"hot\") + drop as fast as they can (a count, not a time), every {}th timed between fenced TSC reads; admitted spans exported as above. On a 2-core machine the two producers share the cores with the writer and export threads, so their figures include that competition",
            sampler_text(c, p),
            p.hot_spans_per_thread,
            p.hot_sample_every
        ),
    }
}

/// The share of root spans a single-thread case keeps (its limits do not
/// bind).
fn probability(c: SamplingCase) -> f64 {
    match c {
        SamplingCase::AlwaysOff | SamplingCase::LogUnsampledDrop => 0.0,
        SamplingCase::HotKey | SamplingCase::LogKept => 1.0,
        SamplingCase::LogSampledOut => 1.0 / LOG_EVERY as f64,
        SamplingCase::Probability
        | SamplingCase::Rules
        | SamplingCase::RulesByName
        | SamplingCase::OtelSdk => PROBABILITY,
    }
}

/// datapunk-log's sampling configuration of a case (None: the SDK's).
fn config(c: SamplingCase, p: &SamplingProfile) -> Option<SamplingConfig> {
    let s = match c {
        SamplingCase::Probability => Sampler::parent_based(Sampler::probability(PROBABILITY)),
        SamplingCase::AlwaysOff => Sampler::parent_based(Sampler::AlwaysOff),
        SamplingCase::Rules => Sampler::parent_based(Sampler::rules(vec![
            Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
            Rule::new(Sampler::probability(0.01)).name("health*"),
            Rule::new(Sampler::probability(PROBABILITY).rate_limited(
                p.rules_per_second,
                p.rules_burst,
                ["tenant"],
            )),
        ])),
        SamplingCase::RulesByName => Sampler::parent_based(Sampler::rules(vec![
            Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
            Rule::new(Sampler::probability(0.01)).name("health*"),
            Rule::new(Sampler::probability(PROBABILITY)).name("checkout"),
        ])),
        SamplingCase::HotKey => {
            Sampler::AlwaysOn.rate_limited(p.hot_per_second, p.hot_burst, ["tenant"])
        }
        SamplingCase::LogUnsampledDrop => Sampler::parent_based(Sampler::AlwaysOff),
        SamplingCase::OtelSdk | SamplingCase::LogKept | SamplingCase::LogSampledOut => {
            return None;
        }
    };
    Some(SamplingConfig::new(s))
}

fn counters() -> SamplerCounters {
    let c = sampler::counters();
    SamplerCounters {
        ceiling_rejected: c.ceiling_rejected,
        rate_limited: c.rate_limited,
        debug_kept: c.debug_kept,
    }
}

/// Runs the child's case; its result as JSON ([`SamplingResult`], or
/// [`HotKeyResult`] for `hot-key`).
pub fn run(spec: &ChildSpec) -> Result<serde_json::Value, String> {
    let p = spec
        .profile
        .sampling
        .as_ref()
        .ok_or("the profile has no [sampling] section")?;
    let case = spec
        .sampling_case
        .ok_or("the sampling scenario needs a case")?;
    if spec.subject != case.subject() {
        return Err(format!(
            "sampling case {} measures {}, not {}",
            case.name(),
            case.subject().name(),
            spec.subject.name()
        ));
    }
    let run = Single {
        case,
        p,
        cal: spec.calibration,
        subtract: spec.profile.latency.subtract_rdtsc_overhead,
    };
    let clock = ClockSource::Precise;
    let r = match case {
        SamplingCase::Probability | SamplingCase::AlwaysOff => run.call(Datapunk::<false>::new(
            clock,
            p.ring_capacity,
            config(case, p),
        )?)?,
        SamplingCase::Rules | SamplingCase::RulesByName => run.call(Datapunk::<true>::new(
            clock,
            p.ring_capacity,
            config(case, p),
        )?)?,
        SamplingCase::OtelSdk => run.call(OtelSdk::new(Some(
            opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
                opentelemetry_sdk::trace::Sampler::TraceIdRatioBased(PROBABILITY),
            )),
        )))?,
        SamplingCase::HotKey => {
            let r = hot_key(p, spec.calibration, run.subtract)?;
            return serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"));
        }
        SamplingCase::LogKept | SamplingCase::LogSampledOut | SamplingCase::LogUnsampledDrop => run
            .log(Datapunk::<false>::new(
                clock,
                p.ring_capacity,
                config(case, p),
            )?)?,
    };
    serde_json::to_value(r).map_err(|e| format!("cannot encode the result: {e}"))
}

/// A single-thread case, timed by the span scenario's methods.
struct Single<'a> {
    case: SamplingCase,
    p: &'a SamplingProfile,
    cal: Calibration,
    subtract: bool,
}

impl Single<'_> {
    fn call<S: Spanner>(&self, s: S) -> Result<SamplingResult, String> {
        let p = self.p;
        let started = Instant::now();
        let (overhead, minus) = scenario::rdtsc_overhead(&self.cal, self.subtract);
        let m = SpanMethods {
            warmup_calls: p.warmup_calls,
            call_samples: p.call_samples,
            bursts: p.bursts,
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
        };
        let t = time_spans::<S, true>(&s, &m, &self.cal, minus);
        let exported = s.exported();
        let stats = s.finish()?;
        Ok(self.result(Measured {
            overhead,
            call: t.call,
            burst: t.burst,
            spans_total: t.spans_total,
            kept_total: t.kept_total,
            exported_total: exported,
            lost_warmup: t.lost_warmup,
            counters: self.case.subject().is_datapunk().then(counters),
            stats,
            started,
        }))
    }

    /// The case's result from what it measured.
    fn result(&self, m: Measured) -> SamplingResult {
        let p = self.p;
        SamplingResult {
            case: self.case.name().into(),
            subject: self.case.subject().name().into(),
            sampler: sampler_text(self.case, p),
            probability: probability(self.case),
            rdtsc_overhead: m.overhead,
            rdtsc_overhead_subtracted: self.subtract,
            call: m.call,
            burst: m.burst,
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
            spans_total: m.spans_total,
            kept_total: m.kept_total,
            exported_total: m.exported_total,
            lost_warmup: m.lost_warmup,
            counters: m.counters,
            subject_stats: m.stats,
            wall_s: m.started.elapsed().as_secs_f64(),
        }
    }
}

/// What a single-thread case measured.
struct Measured {
    overhead: Overhead,
    call: SampledMethod,
    burst: SampledMethod,
    spans_total: u64,
    kept_total: u64,
    exported_total: u64,
    lost_warmup: u64,
    counters: Option<SamplerCounters>,
    stats: Option<serde_json::Value>,
    started: Instant,
}

/// `log-sampled-out` keeps one record in this many.
pub const LOG_EVERY: u64 = 100;

/// The latency scenario's record.
#[inline(always)]
fn log_call(i: u64) {
    let user_id = black_box(i);
    let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
    let route = black_box(crate::scenario::ROUTE);
    datapunk_log::info!(user_id, latency, route, "request handled");
}

/// What `stats()` says of the log records so far.
#[derive(Clone, Copy)]
struct LogCounts {
    sampled_out: u64,
    written: u64,
    dropped: u64,
}

impl LogCounts {
    fn now() -> LogCounts {
        datapunk_log::flush();
        let s = datapunk_log::stats();
        LogCounts {
            sampled_out: s.sampled_out,
            written: s.written,
            dropped: s.dropped,
        }
    }

    /// A method's figures: `calls` made since `self`.
    fn method(self, dist: Distribution, calls: u64) -> SampledMethod {
        let now = LogCounts::now();
        SampledMethod {
            dist,
            spans: calls,
            kept: calls.saturating_sub(now.sampled_out - self.sampled_out),
            exported: now.written - self.written,
            lost: now.dropped - self.dropped,
        }
    }
}

impl Single<'_> {
    /// A log case: the record timed by `call` and `burst`, under the case's
    /// log sampling.
    fn log(&self, d: Datapunk<false>) -> Result<SamplingResult, String> {
        let p = self.p;
        let started = Instant::now();
        let (overhead, minus) = scenario::rdtsc_overhead(&self.cal, self.subtract);
        let root = match self.case {
            SamplingCase::LogSampledOut => {
                sampler::set_log_policy(datapunk_log::Level::Info, LogPolicy::new(0, LOG_EVERY, 0));
                None
            }
            SamplingCase::LogUnsampledDrop => {
                sampler::set_unsampled(Unsampled::Drop);
                let root = datapunk_log::span!("request");
                if root.is_sampled() {
                    return Err("log-unsampled-drop: the root span was sampled".into());
                }
                Some(root)
            }
            _ => None,
        };
        let entered = root.as_ref().map(|r| r.enter());
        let c0 = LogCounts::now();
        let mut i = 0u64;
        for _ in 0..p.warmup_calls {
            log_call(i);
            i += 1;
        }
        datapunk_log::prepare_thread();
        let c1 = LogCounts::now();
        let lost_warmup = c1.dropped - c0.dropped;

        let mut ticks = Vec::with_capacity(p.call_samples as usize);
        for _ in 0..p.call_samples {
            let t0 = tsc::start();
            log_call(i);
            let t1 = tsc::stop();
            ticks.push(t1.wrapping_sub(t0));
            i += 1;
        }
        let call = c1.method(
            Distribution::from_ticks(&ticks, 1, minus, &self.cal),
            p.call_samples,
        );
        let c2 = LogCounts::now();

        let pause = self.cal.to_ticks(p.burst_pause_ns as f64);
        ticks.clear();
        for _ in 0..p.bursts {
            tsc::spin_ticks(pause);
            let t0 = tsc::start();
            for _ in 0..p.burst_size {
                log_call(i);
                i += 1;
            }
            let t1 = tsc::stop();
            ticks.push(t1.wrapping_sub(t0));
        }
        let burst = c2.method(
            Distribution::from_ticks(&ticks, p.burst_size, minus, &self.cal),
            p.bursts * p.burst_size,
        );
        let end = LogCounts::now();
        drop(entered);
        let stats = d.finish()?;
        Ok(self.result(Measured {
            overhead,
            call,
            burst,
            spans_total: i,
            kept_total: i.saturating_sub(end.sampled_out - c0.sampled_out),
            exported_total: end.written - c0.written,
            lost_warmup,
            counters: Some(counters()),
            stats,
            started,
        }))
    }
}

/// The hot key's span; whether the limit admitted it.
#[inline(always)]
fn hot_span() -> bool {
    let s = datapunk_log::span!("checkout", tenant = "hot");
    black_box(&s);
    let sampled = s.is_sampled();
    drop(s);
    sampled
}

/// What one hot-key thread brings back.
struct ThreadRun {
    warm_kept: u64,
    ticks: Vec<u64>,
    spans: u64,
    kept: u64,
    start: Instant,
    end: Instant,
}

fn hot_key(p: &SamplingProfile, cal: Calibration, subtract: bool) -> Result<HotKeyResult, String> {
    let case = SamplingCase::HotKey;
    let d = Datapunk::<false>::new(ClockSource::Precise, p.ring_capacity, config(case, p))?;
    let (overhead, minus) = scenario::rdtsc_overhead(&cal, subtract);
    let every = p.hot_sample_every;
    let rounds = p.hot_spans_per_thread / every;
    let warmup = p.warmup_calls;
    // Everyone warmed up; everyone starts.
    let warmed = Arc::new(Barrier::new(HOT_THREADS + 1));
    let go = Arc::new(Barrier::new(HOT_THREADS + 1));
    let mut handles = Vec::with_capacity(HOT_THREADS);
    for i in 0..HOT_THREADS {
        let (warmed, go) = (warmed.clone(), go.clone());
        let h = std::thread::Builder::new()
            .name(format!("hot-key-{i}"))
            .spawn(move || {
                let mut warm_kept = 0u64;
                for _ in 0..warmup {
                    warm_kept += u64::from(hot_span());
                }
                datapunk_log::prepare_thread();
                let mut ticks = Vec::with_capacity(rounds as usize);
                warmed.wait();
                go.wait();
                let start = Instant::now();
                let mut kept = 0u64;
                for _ in 0..rounds {
                    let t0 = tsc::start();
                    let sampled = hot_span();
                    let t1 = tsc::stop();
                    ticks.push(t1.wrapping_sub(t0));
                    kept += u64::from(sampled);
                    for _ in 1..every {
                        kept += u64::from(hot_span());
                    }
                }
                let end = Instant::now();
                ThreadRun {
                    warm_kept,
                    ticks,
                    spans: rounds * every,
                    kept,
                    start,
                    end,
                }
            })
            .map_err(|e| format!("hot-key: cannot start a thread: {e}"))?;
        handles.push(h);
    }
    warmed.wait();
    // The warm-up's spans reach the exporter; then the key's budget
    // refills (a GCRA cell is full again B/R seconds after its last
    // admission), so the timed run starts from a full burst.
    d.settle();
    let e0 = d.exported();
    std::thread::sleep(
        Duration::from_secs_f64(f64::from(p.hot_burst.max(1)) / p.hot_per_second) + REFILL_MARGIN,
    );
    let c0 = counters();
    go.wait();
    let mut runs = Vec::with_capacity(HOT_THREADS);
    for h in handles {
        runs.push(
            h.join()
                .map_err(|_| "hot-key: a producer thread panicked".to_string())?,
        );
    }
    let c1 = counters();
    d.settle();
    let exported = d.exported() - e0;
    let stats = d.finish()?;

    let first = runs.iter().map(|r| r.start).min().expect("two threads");
    let last = runs.iter().map(|r| r.end).max().expect("two threads");
    let wall = (last - first).as_secs_f64();
    let threads: Vec<HotThread> = runs
        .iter()
        .map(|r| {
            let w = (r.end - r.start).as_secs_f64();
            HotThread {
                call: Distribution::from_ticks(&r.ticks, 1, minus, &cal),
                spans: r.spans,
                kept: r.kept,
                wall_s: w,
                spans_per_s: r.spans as f64 / w.max(1e-9),
            }
        })
        .collect();
    let kept: u64 = runs.iter().map(|r| r.kept).sum();
    let warmup_kept: u64 = runs.iter().map(|r| r.warm_kept).sum();
    Ok(HotKeyResult {
        case: case.name().into(),
        sampler: sampler_text(case, p),
        per_second: p.hot_per_second,
        burst: p.hot_burst,
        spans_per_thread: rounds * every,
        sample_every: every,
        rdtsc_overhead: overhead,
        rdtsc_overhead_subtracted: subtract,
        spans: runs.iter().map(|r| r.spans).sum(),
        threads,
        wall_s: wall,
        kept,
        bound: f64::from(p.hot_burst) + p.hot_per_second * wall,
        rate_limited: c1.rate_limited - c0.rate_limited,
        exported,
        lost: kept.saturating_sub(exported),
        warmup_kept,
        lost_warmup: warmup_kept.saturating_sub(e0),
        counters: c1,
        subject_stats: stats,
    })
}
