//! The span scenario: the cost on the calling thread of a span started and
//! ended at once (no fields, not entered), timed by the latency scenario's
//! `call` and `burst` methods.
//!
//! Every subject exports its spans to an exporter that counts and discards
//! them on the subject's own background thread, so the span is recorded and
//! handed over, as in production, without any I/O:
//!
//! - datapunk-log: `span!("checkout")` + drop: two records in the thread's
//!   ring (an exporter that takes spans is installed); the export thread
//!   decodes and joins them, then the exporter discards the span.
//! - `otel-sdk`: `opentelemetry_sdk` `SdkTracerProvider` with its
//!   `BatchSpanProcessor` (default queue of 2048 spans, own thread) and a
//!   `SpanExporter` that discards; `tracer.start("checkout")` + `end()`.
//! - `tracing-otel`: `tracing::info_span!("checkout")` + drop, through
//!   `tracing-subscriber`'s registry and `tracing-opentelemetry`'s layer
//!   (default settings) into the same SDK pipeline.
//!
//! Lost spans are counted, never hidden: the spans started minus those that
//! reached the exporter, per method (each method ends with a flush).
//!
//! The sampling scenario ([`crate::sampling`]) reuses the loops
//! ([`time_spans`]), the datapunk-log setup ([`Datapunk`], with a sampling
//! configuration) and the SDK pipeline ([`OtelSdk`], with a sampler).

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use datapunk_log::export::{Exporter, SpanView};
use datapunk_log::sampler::SamplingConfig;
use datapunk_log::{ClockSource, Overflow};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

use crate::profile::SpansProfile;
use crate::results::{Distribution, SampledMethod, SpanMethod, SpanResult};
use crate::scenario;
use crate::subject::SubjectKind;
use crate::tsc::{self, Calibration};

/// One way of making spans, set up for the scenario.
pub trait Spanner {
    /// Starts a span named "checkout" and ends it; whether it was sampled
    /// (read before its end; the span scenario ignores it, so the read is
    /// compiled out there).
    fn span(&self) -> bool;
    /// Untimed preparation after the warm-up (datapunk-log: touch every
    /// page of the ring). Returns the spans it made.
    fn prefault(&self) -> u64 {
        0
    }
    /// Waits until every span made so far has reached the exporter (or
    /// was dropped).
    fn settle(&self);
    /// Spans the exporter has received.
    fn exported(&self) -> u64;
    /// Settles and shuts down; the subject's own counters.
    fn finish(self) -> Result<Option<serde_json::Value>, String>;
}

/// A generic function over spanners.
pub trait SpannerFn<R> {
    fn call<S: Spanner>(self, s: S) -> R;
}

pub fn description(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::DatapunkPrecise => {
            "datapunk-log span!(\"checkout\") + drop, precise clock; exporter discarding on the export thread"
        }
        SubjectKind::DatapunkCoarse => {
            "datapunk-log span!(\"checkout\") + drop, coarse clock; exporter discarding on the export thread"
        }
        SubjectKind::OtelSdk => {
            "opentelemetry_sdk 0.33 SdkTracerProvider, BatchSpanProcessor (defaults), discarding SpanExporter; tracer.start + end"
        }
        SubjectKind::TracingOtel => {
            "tracing info_span! + drop, tracing-subscriber registry + tracing-opentelemetry 0.34 layer (defaults) into the same SDK pipeline"
        }
        _ => "(not a span subject)",
    }
}

pub fn with_spanner<R>(
    kind: SubjectKind,
    p: &SpansProfile,
    f: impl SpannerFn<R>,
) -> Result<R, String> {
    match kind {
        SubjectKind::DatapunkPrecise => Ok(f.call(Datapunk::<false>::new(
            ClockSource::Precise,
            p.ring_capacity,
            None,
        )?)),
        SubjectKind::DatapunkCoarse => Ok(f.call(Datapunk::<false>::new(
            ClockSource::Coarse,
            p.ring_capacity,
            None,
        )?)),
        SubjectKind::OtelSdk => Ok(f.call(OtelSdk::new(None))),
        SubjectKind::TracingOtel => Ok(f.call(TracingOtel::new()?)),
        other => Err(format!("{} does not make spans", other.name())),
    }
}

// ---------------------------------------------------------------------------
// datapunk-log
// ---------------------------------------------------------------------------

/// Counts the spans and drops them (the export thread has decoded and
/// joined them by then).
struct Discard(Arc<AtomicU64>);

impl Exporter for Discard {
    fn export_span(&mut self, span: &SpanView<'_>) {
        black_box(span.context.span_id);
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn wants_logs(&self) -> bool {
        false
    }
}

/// datapunk-log with a null sink and an exporter that counts and
/// discards spans. `span!("checkout")`, or with `TENANT`
/// `span!("checkout", tenant = "acme")` (the sampling scenario's rules).
pub struct Datapunk<const TENANT: bool> {
    guard: datapunk_log::Guard,
    exported: Arc<AtomicU64>,
}

impl<const TENANT: bool> Datapunk<TENANT> {
    /// `ring_capacity` bytes per thread, `Overflow::Drop`; `sampling`: the
    /// builder's sampling configuration (None: the default,
    /// `parent_based(always_on)`).
    pub fn new(
        clock: ClockSource,
        ring_capacity: usize,
        sampling: Option<SamplingConfig>,
    ) -> Result<Datapunk<TENANT>, String> {
        let exported = Arc::new(AtomicU64::new(0));
        let mut b = datapunk_log::builder()
            .null()
            .ignore_env()
            .filter("info")
            .clock(clock)
            .overflow(Overflow::Drop)
            .ring_capacity(ring_capacity)
            .exporter(Discard(exported.clone()))
            .panic_hook(false);
        if let Some(cfg) = sampling {
            b = b.sampling(cfg);
        }
        let guard = b.init().map_err(|e| format!("datapunk-log init: {e}"))?;
        Ok(Datapunk { guard, exported })
    }
}

impl<const TENANT: bool> Spanner for Datapunk<TENANT> {
    #[inline(always)]
    fn span(&self) -> bool {
        let s = if TENANT {
            datapunk_log::span!("checkout", tenant = "acme")
        } else {
            datapunk_log::span!("checkout")
        };
        black_box(&s);
        let sampled = s.is_sampled();
        drop(s);
        sampled
    }

    /// Backs every page of this thread's ring (`prepare_thread`), so that
    /// no page fault of the ring's first lap lands in a measurement.
    fn prefault(&self) -> u64 {
        datapunk_log::prepare_thread();
        0
    }

    fn settle(&self) {
        datapunk_log::flush();
    }

    fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    fn finish(self) -> Result<Option<serde_json::Value>, String> {
        datapunk_log::flush();
        let s = datapunk_log::stats();
        drop(self.guard);
        Ok(Some(serde_json::json!({
            "produced": s.produced,
            "dropped": s.dropped,
            "exported_spans": s.exported_spans,
            "export_dropped_spans": s.export_dropped_spans,
            "export_orphans": s.export_orphans,
        })))
    }
}

// ---------------------------------------------------------------------------
// OpenTelemetry SDK
// ---------------------------------------------------------------------------

/// Counts the spans of each batch and drops them.
#[derive(Debug)]
struct CountingSpanExporter(Arc<AtomicU64>);

impl opentelemetry_sdk::trace::SpanExporter for CountingSpanExporter {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.0.fetch_add(batch.len() as u64, Ordering::Relaxed);
        black_box(batch);
        Ok(())
    }
}

/// The SDK's pipeline: `SdkTracerProvider` with its `BatchSpanProcessor`
/// (defaults) and the counting exporter; `sampler`: None for the SDK's
/// default (`ParentBased(AlwaysOn)`).
fn sdk_provider(
    sampler: Option<opentelemetry_sdk::trace::Sampler>,
) -> (opentelemetry_sdk::trace::SdkTracerProvider, Arc<AtomicU64>) {
    let exported = Arc::new(AtomicU64::new(0));
    let mut b = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(CountingSpanExporter(exported.clone()));
    if let Some(s) = sampler {
        b = b.with_sampler(s);
    }
    (b.build(), exported)
}

fn sdk_finish(p: &opentelemetry_sdk::trace::SdkTracerProvider) -> Result<(), String> {
    p.force_flush()
        .map_err(|e| format!("opentelemetry_sdk force_flush: {e}"))?;
    p.shutdown()
        .map_err(|e| format!("opentelemetry_sdk shutdown: {e}"))
}

/// The SDK's tracer: `tracer.start("checkout")` + `end()`.
pub struct OtelSdk {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    exported: Arc<AtomicU64>,
}

impl OtelSdk {
    /// `sampler`: None for the SDK's default.
    pub fn new(sampler: Option<opentelemetry_sdk::trace::Sampler>) -> OtelSdk {
        let (provider, exported) = sdk_provider(sampler);
        let tracer = provider.tracer("perf");
        OtelSdk {
            provider,
            tracer,
            exported,
        }
    }
}

impl Spanner for OtelSdk {
    #[inline(always)]
    fn span(&self) -> bool {
        let mut s = self.tracer.start("checkout");
        s.end();
        black_box(&s);
        s.span_context().is_sampled()
    }

    fn settle(&self) {
        let _ = self.provider.force_flush();
    }

    fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    fn finish(self) -> Result<Option<serde_json::Value>, String> {
        sdk_finish(&self.provider)?;
        Ok(None)
    }
}

// ---------------------------------------------------------------------------
// tracing + tracing-opentelemetry
// ---------------------------------------------------------------------------

struct TracingOtel {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    exported: Arc<AtomicU64>,
}

impl TracingOtel {
    fn new() -> Result<TracingOtel, String> {
        use tracing_subscriber::layer::SubscriberExt as _;
        let (provider, exported) = sdk_provider(None);
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("perf"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|e| format!("tracing: cannot set the subscriber: {e}"))?;
        Ok(TracingOtel { provider, exported })
    }
}

impl Spanner for TracingOtel {
    /// Always "sampled": the SDK's default sampler keeps every span (and
    /// only the span scenario runs this subject).
    #[inline(always)]
    fn span(&self) -> bool {
        let s = tracing::info_span!("checkout");
        black_box(&s);
        drop(s);
        true
    }

    fn settle(&self) {
        let _ = self.provider.force_flush();
    }

    fn exported(&self) -> u64 {
        self.exported.load(Ordering::Relaxed)
    }

    fn finish(self) -> Result<Option<serde_json::Value>, String> {
        sdk_finish(&self.provider)?;
        Ok(None)
    }
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

/// The span scenario's warm-up and timing, shared with the sampling
/// scenario.
pub struct SpanMethods {
    pub warmup_calls: u64,
    pub call_samples: u64,
    pub bursts: u64,
    pub burst_size: u64,
    pub burst_pause_ns: u64,
}

/// What [`time_spans`] measured.
pub struct TimedSpans {
    pub call: SampledMethod,
    pub burst: SampledMethod,
    /// Every span made, warm-up included.
    pub spans_total: u64,
    /// Of them sampled.
    pub kept_total: u64,
    /// Spans of the warm-up (and ring pre-faulting) kept and lost.
    pub lost_warmup: u64,
}

/// Warm-up (untimed, then the subject's pre-faulting), then the `call`
/// method (each span alone between two fenced TSC reads) and the `burst`
/// method (`burst_size` spans back to back after a busy-wait), each
/// followed by a settle. With `COUNT_KEPT`, the timed loops also add up
/// the spans sampled (`Spanner::span`'s answer: in the call method after
/// the second read, in the burst method inside the burst); without it,
/// every span counts as kept and the answer is never read.
pub fn time_spans<S: Spanner, const COUNT_KEPT: bool>(
    s: &S,
    m: &SpanMethods,
    cal: &Calibration,
    minus: u64,
) -> TimedSpans {
    let mut spans = 0u64;
    let mut kept = 0u64;
    for _ in 0..m.warmup_calls {
        kept += u64::from(s.span());
    }
    spans += m.warmup_calls;
    s.settle();
    let pre = s.prefault();
    spans += pre;
    kept += pre;
    s.settle();
    let lost_warmup = kept.saturating_sub(s.exported());

    // (a) call: each start + end alone between two fenced TSC reads.
    let mut ticks = Vec::with_capacity(m.call_samples as usize);
    let e0 = s.exported();
    let mut k = 0u64;
    for _ in 0..m.call_samples {
        let t0 = tsc::start();
        let sampled = s.span();
        let t1 = tsc::stop();
        ticks.push(t1.wrapping_sub(t0));
        if COUNT_KEPT {
            k += u64::from(sampled);
        }
    }
    if !COUNT_KEPT {
        k = m.call_samples;
    }
    spans += m.call_samples;
    kept += k;
    s.settle();
    let call = SampledMethod::new(
        Distribution::from_ticks(&ticks, 1, minus, cal),
        m.call_samples,
        k,
        s.exported() - e0,
    );

    // (b) burst: `burst_size` spans back to back after a busy-wait.
    let pause = cal.to_ticks(m.burst_pause_ns as f64);
    ticks.clear();
    ticks.reserve(m.bursts as usize);
    let e0 = s.exported();
    let mut k = 0u64;
    for _ in 0..m.bursts {
        tsc::spin_ticks(pause);
        let t0 = tsc::start();
        for _ in 0..m.burst_size {
            if COUNT_KEPT {
                k += u64::from(s.span());
            } else {
                s.span();
            }
        }
        let t1 = tsc::stop();
        ticks.push(t1.wrapping_sub(t0));
    }
    let burst_spans = m.bursts * m.burst_size;
    if !COUNT_KEPT {
        k = burst_spans;
    }
    spans += burst_spans;
    kept += k;
    s.settle();
    let burst = SampledMethod::new(
        Distribution::from_ticks(&ticks, m.burst_size, minus, cal),
        burst_spans,
        k,
        s.exported() - e0,
    );
    TimedSpans {
        call,
        burst,
        spans_total: spans,
        kept_total: kept,
        lost_warmup,
    }
}

pub struct SpanRun<'a> {
    pub p: &'a SpansProfile,
    pub cal: Calibration,
    pub subtract_rdtsc_overhead: bool,
    pub subject: SubjectKind,
}

impl SpannerFn<Result<SpanResult, String>> for SpanRun<'_> {
    fn call<S: Spanner>(self, s: S) -> Result<SpanResult, String> {
        let p = self.p;
        let started = Instant::now();
        let (overhead, minus) = scenario::rdtsc_overhead(&self.cal, self.subtract_rdtsc_overhead);
        let m = SpanMethods {
            warmup_calls: p.warmup_calls,
            call_samples: p.call_samples,
            bursts: p.bursts,
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
        };
        let t = time_spans::<S, false>(&s, &m, &self.cal, minus);
        let method = |x: SampledMethod| SpanMethod {
            dist: x.dist,
            lost: x.lost,
        };
        let exported = s.exported();
        let stats = s.finish()?;
        Ok(SpanResult {
            subject: self.subject.name().into(),
            rdtsc_overhead: overhead,
            rdtsc_overhead_subtracted: self.subtract_rdtsc_overhead,
            call: method(t.call),
            burst: method(t.burst),
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
            spans_total: t.spans_total,
            spans_exported: exported,
            lost_warmup: t.lost_warmup,
            subject_stats: stats,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}
