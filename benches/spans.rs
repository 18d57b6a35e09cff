//! The cost of spans on the calling thread, beside an OpenTelemetry SDK span.
//!
//! - `span_start_end`: `span!` + drop, recorded (an exporter that takes
//!   spans is installed, so start and end are two records in the ring).
//! - `span_start_enter_end`: the same, entered and left once.
//! - `log_outside_span` / `log_inside_span`: the same 3-field record,
//!   outside any span and inside an entered span (the trace context copied
//!   into the record).
//! - `otel_sdk_span_start_end`: `opentelemetry_sdk` tracer, batch span
//!   processor with an exporter that discards, `start` + `end`.
//!
//! `DATAPUNK_BENCH_CLOCK=coarse` runs them with the coarse clock,
//! `DATAPUNK_BENCH_OTEL=1` with the OpenTelemetry context lookup on (its
//! cost shows in `log_outside_span`).
//!
//! Setup as `hot_path`: null sink, 64 MiB ring, `Overflow::Drop`; the calls
//! are timed in chunks with `flush()` between them, off the clock, so the
//! ring never fills. The export thread decodes and discards the spans.

use std::hint::black_box;

use criterion::Criterion;
use datapunk_log::export::{Exporter, SpanView};
use datapunk_log::{ClockSource, Overflow};
use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};

#[path = "support/chunked.rs"]
mod support;

use support::chunked;

#[path = "support/noop_spans.rs"]
mod noop_spans;

use noop_spans::NoopSpanExporter;

const RING: usize = 64 << 20;

/// Takes spans and drops them (the export thread still decodes them).
struct Discard;

impl Exporter for Discard {
    fn export_span(&mut self, span: &SpanView<'_>) {
        black_box(span.context.span_id);
    }
    fn wants_logs(&self) -> bool {
        false
    }
}

fn main() {
    let _guard = datapunk_log::builder()
        .null()
        .ignore_env()
        .filter("info")
        // DATAPUNK_BENCH_CLOCK=coarse: the writer-published clock (no rdtsc).
        .clock(
            if std::env::var("DATAPUNK_BENCH_CLOCK").as_deref() == Ok("coarse") {
                ClockSource::Coarse
            } else {
                ClockSource::Precise
            },
        )
        .overflow(Overflow::Drop)
        .ring_capacity(RING)
        .exporter(Discard)
        // DATAPUNK_BENCH_OTEL=1: measure the cost of the OpenTelemetry
        // context lookup in calls outside a span.
        .opentelemetry_context(std::env::var_os("DATAPUNK_BENCH_OTEL").is_some())
        .panic_hook(false)
        .init()
        .expect("init");
    let mut c = Criterion::default().configure_from_args();
    let mut g = c.benchmark_group("spans");
    g.bench_function("span_start_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                black_box(&s);
            })
        })
    });
    g.bench_function("span_start_enter_end", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |_| {
                let s = datapunk_log::span!("checkout");
                let _e = s.enter();
                black_box(&s);
            })
        })
    });
    g.bench_function("span_start_end_2_fields", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let amount = black_box(12.5f64);
                let s = datapunk_log::span!("charge_card", amount, order = i);
                black_box(&s);
            })
        })
    });
    g.bench_function("log_outside_span", |b| {
        b.iter_custom(|iters| {
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    let span = datapunk_log::span!("request");
    g.bench_function("log_inside_span", |b| {
        b.iter_custom(|iters| {
            let _e = span.enter();
            chunked(iters, |i| {
                let (user_id, latency, route) = (black_box(i), black_box(0.5f64), black_box("/a"));
                datapunk_log::info!(user_id, latency, route, "request handled");
            })
        })
    });
    drop(span);

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_batch_exporter(NoopSpanExporter)
        .build();
    let tracer = provider.tracer("bench");
    g.bench_function("otel_sdk_span_start_end", |b| {
        b.iter(|| {
            let mut s = tracer.start("checkout");
            s.end();
        })
    });
    g.finish();
    let _ = provider.shutdown();
    c.final_summary();
}
