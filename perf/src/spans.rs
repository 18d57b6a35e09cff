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

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use datapunk_log::export::{Exporter, SpanView};
use datapunk_log::{ClockSource, Overflow};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

use crate::profile::SpansProfile;
use crate::results::{Distribution, SpanMethod, SpanResult};
use crate::subject::SubjectKind;
use crate::tsc::{self, Calibration, Overhead};

/// One way of making spans, set up for the scenario.
pub trait Spanner {
    /// Starts a span named "checkout" and ends it.
    fn span(&self);
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
        SubjectKind::DatapunkPrecise => Ok(f.call(Datapunk::new(ClockSource::Precise, p)?)),
        SubjectKind::DatapunkCoarse => Ok(f.call(Datapunk::new(ClockSource::Coarse, p)?)),
        SubjectKind::OtelSdk => Ok(f.call(OtelSdk::new())),
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

struct Datapunk {
    guard: datapunk_log::Guard,
    exported: Arc<AtomicU64>,
}

impl Datapunk {
    fn new(clock: ClockSource, p: &SpansProfile) -> Result<Datapunk, String> {
        let exported = Arc::new(AtomicU64::new(0));
        let guard = datapunk_log::builder()
            .null()
            .ignore_env()
            .filter("info")
            .clock(clock)
            .overflow(Overflow::Drop)
            .ring_capacity(p.ring_capacity)
            .exporter(Discard(exported.clone()))
            .panic_hook(false)
            .init()
            .map_err(|e| format!("datapunk-log init: {e}"))?;
        Ok(Datapunk { guard, exported })
    }
}

impl Spanner for Datapunk {
    #[inline(always)]
    fn span(&self) {
        let s = datapunk_log::span!("checkout");
        black_box(&s);
        drop(s);
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

fn sdk_provider() -> (opentelemetry_sdk::trace::SdkTracerProvider, Arc<AtomicU64>) {
    let exported = Arc::new(AtomicU64::new(0));
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(CountingSpanExporter(exported.clone()))
        .build();
    (provider, exported)
}

fn sdk_finish(p: &opentelemetry_sdk::trace::SdkTracerProvider) -> Result<(), String> {
    p.force_flush()
        .map_err(|e| format!("opentelemetry_sdk force_flush: {e}"))?;
    p.shutdown()
        .map_err(|e| format!("opentelemetry_sdk shutdown: {e}"))
}

struct OtelSdk {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
    tracer: opentelemetry_sdk::trace::SdkTracer,
    exported: Arc<AtomicU64>,
}

impl OtelSdk {
    fn new() -> OtelSdk {
        let (provider, exported) = sdk_provider();
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
    fn span(&self) {
        let mut s = self.tracer.start("checkout");
        s.end();
        black_box(&s);
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
        let (provider, exported) = sdk_provider();
        let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("perf"));
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|e| format!("tracing: cannot set the subscriber: {e}"))?;
        Ok(TracingOtel { provider, exported })
    }
}

impl Spanner for TracingOtel {
    #[inline(always)]
    fn span(&self) {
        let s = tracing::info_span!("checkout");
        black_box(&s);
        drop(s);
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

pub struct SpanRun<'a> {
    pub p: &'a SpansProfile,
    pub cal: Calibration,
    pub subtract_rdtsc_overhead: bool,
    pub subject: SubjectKind,
}

impl SpannerFn<Result<SpanResult, String>> for SpanRun<'_> {
    fn call<S: Spanner>(self, s: S) -> Result<SpanResult, String> {
        let p = self.p;
        let cal = self.cal;
        let started = Instant::now();
        let overhead = Overhead::measure(&cal, 1_000_000);
        let minus = if self.subtract_rdtsc_overhead {
            overhead.p50_ticks
        } else {
            0
        };
        let mut spans = 0u64;
        for _ in 0..p.warmup_calls {
            s.span();
        }
        spans += p.warmup_calls;
        s.settle();
        spans += s.prefault();
        s.settle();
        let warm_lost = spans.saturating_sub(s.exported());

        // (a) call: each start + end alone between two fenced TSC reads.
        let mut ticks = Vec::with_capacity(p.call_samples as usize);
        let e0 = s.exported();
        for _ in 0..p.call_samples {
            let t0 = tsc::start();
            s.span();
            let t1 = tsc::stop();
            ticks.push(t1.wrapping_sub(t0));
        }
        spans += p.call_samples;
        s.settle();
        let call = SpanMethod {
            dist: Distribution::from_ticks(&ticks, 1, minus, &cal),
            lost: p.call_samples.saturating_sub(s.exported() - e0),
        };

        // (b) burst: `burst_size` spans back to back after a busy-wait.
        let pause = cal.to_ticks(p.burst_pause_ns as f64);
        ticks.clear();
        ticks.reserve(p.bursts as usize);
        let e0 = s.exported();
        for _ in 0..p.bursts {
            tsc::spin_ticks(pause);
            let t0 = tsc::start();
            for _ in 0..p.burst_size {
                s.span();
            }
            let t1 = tsc::stop();
            ticks.push(t1.wrapping_sub(t0));
        }
        let burst_spans = p.bursts * p.burst_size;
        spans += burst_spans;
        s.settle();
        let burst = SpanMethod {
            dist: Distribution::from_ticks(&ticks, p.burst_size, minus, &cal),
            lost: burst_spans.saturating_sub(s.exported() - e0),
        };
        drop(ticks);

        let exported = s.exported();
        let stats = s.finish()?;
        Ok(SpanResult {
            subject: self.subject.name().into(),
            rdtsc_overhead: overhead,
            rdtsc_overhead_subtracted: self.subtract_rdtsc_overhead,
            call,
            burst,
            burst_size: p.burst_size,
            burst_pause_ns: p.burst_pause_ns,
            spans_total: spans,
            spans_exported: exported,
            lost_warmup: warm_lost,
            subject_stats: stats,
            wall_s: started.elapsed().as_secs_f64(),
        })
    }
}
