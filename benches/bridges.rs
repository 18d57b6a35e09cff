//! The bridges against their anchors, on the same record: a static message
//! and three values (`user_id`, `latency`, `route`), the cost on the calling
//! thread.
//!
//! - `log`: `log::info!(user_id = .., latency = .., route = ..; "request
//!   handled")` into datapunk-log's `LogBridge`, and into logforth (its
//!   `log` bridge, JSON layout, async appender; the appender's worker lays
//!   the record out as JSON and discards the bytes, as datapunk-log's null
//!   sink does).
//! - `tracing`: `tracing::info!(user_id, latency, route, "request
//!   handled")` into datapunk-log's `TracingLayer` (on a `Registry`), into
//!   tracing-subscriber's JSON formatter with tracing-appender's
//!   `non_blocking` writer (into a sink that counts lines), and into
//!   opentelemetry-appender-tracing (the SDK's batch log processor and an
//!   exporter that discards).
//!
//! `log` has one global logger: a forwarding logger is installed and points
//! at one subject at a time (the same extra indirect call for both). The
//! `tracing` subjects are scoped dispatchers (`with_default`). Every subject
//! is timed in chunks its queue holds, and its background thread catches up
//! between chunks, off the clock (datapunk-log: `flush()`; logforth:
//! `flush()`; tracing-appender: until the sink counted every line; the SDK:
//! `force_flush()`), so no subject drops a record while timed.

use std::hint::black_box;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::Criterion;
use datapunk_log::{ClockSource, Overflow};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::logs::{BatchConfigBuilder, BatchLogProcessor, LogBatch, SdkLoggerProvider};
use tracing_subscriber::layer::SubscriberExt as _;

#[path = "support/chunked.rs"]
#[allow(dead_code)] // Its flush-between-chunks `chunked` is for the engine alone.
mod support;

const ROUTE: &str = "/api/v1/items";
/// Calls per timed chunk (every subject's queue holds it).
const CHUNK: u64 = 20_000;

/// Times `call(i)` for `iters` calls; `settle(done)` runs between chunks,
/// off the clock.
fn chunked(iters: u64, call: impl FnMut(u64), settle: impl FnMut(u64)) -> Duration {
    support::chunked_with(iters, CHUNK, call, settle)
}

/// The `log` crate's global logger: forwards to the subject in [`SUBJECT`].
struct Forward;

static SUBJECT: AtomicUsize = AtomicUsize::new(0);
static LOGFORTH: std::sync::OnceLock<logforth::bridge::log::LogBridge> = std::sync::OnceLock::new();

impl Forward {
    #[inline(always)]
    fn to(&self) -> &'static dyn log::Log {
        match SUBJECT.load(Ordering::Relaxed) {
            0 => &datapunk_log::bridge::log::LOG_BRIDGE,
            _ => LOGFORTH.get().expect("logforth is set up first"),
        }
    }
}

impl log::Log for Forward {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        self.to().enabled(m)
    }
    fn log(&self, r: &log::Record<'_>) {
        self.to().log(r)
    }
    fn flush(&self) {
        self.to().flush()
    }
}

/// logforth's final appender: the JSON layout, bytes discarded.
#[derive(Debug)]
struct JsonDiscard(logforth::layout::JsonLayout);

impl logforth::Append for JsonDiscard {
    fn append(
        &self,
        record: &logforth::record::Record,
        diags: &[Box<dyn logforth::Diagnostic>],
    ) -> Result<(), logforth::Error> {
        use logforth::Layout as _;
        black_box(self.0.format(record, diags)?);
        Ok(())
    }
    fn flush(&self) -> Result<(), logforth::Error> {
        Ok(())
    }
}

fn log_benches(c: &mut Criterion) {
    let logger = logforth::core::builder()
        .dispatch(|d| {
            d.append(
                logforth::append::asynchronous::AsyncBuilder::new("logforth-async")
                    .append(JsonDiscard(Default::default()))
                    .build(),
            )
        })
        .build();
    let _ = LOGFORTH.set(logforth::bridge::log::LogBridge::new(logger));
    log::set_logger(Box::leak(Box::new(Forward))).expect("the bench installs the only logger");
    log::set_max_level(log::LevelFilter::Info);
    let mut g = c.benchmark_group("bridges_log");
    for (subject, name) in [(0, "datapunk"), (1, "logforth_json_async")] {
        SUBJECT.store(subject, Ordering::Relaxed);
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                chunked(
                    iters,
                    |i| {
                        let user_id = black_box(i);
                        let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
                        let route = black_box(ROUTE);
                        log::info!(user_id = user_id, latency = latency, route = route; "request handled");
                    },
                    |_| log::logger().flush(),
                )
            })
        });
    }
    g.finish();
}

/// A writer that counts lines and discards them.
#[derive(Clone)]
struct CountLines(Arc<AtomicU64>);

impl io::Write for CountLines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.iter().filter(|b| **b == b'\n').count() as u64;
        self.0.fetch_add(n, Ordering::Release);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// An SDK log exporter that discards.
#[derive(Debug)]
struct Discard;

impl opentelemetry_sdk::logs::LogExporter for Discard {
    async fn export(&self, batch: LogBatch<'_>) -> OTelSdkResult {
        black_box(batch.iter().count());
        Ok(())
    }
}

#[inline(always)]
fn tracing_call(i: u64) {
    let user_id = black_box(i);
    let latency = black_box((i & 1023) as f64 * 0.25 + 0.5);
    let route = black_box(ROUTE);
    tracing::info!(user_id, latency, route, "request handled");
}

fn tracing_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("bridges_tracing");
    tracing::subscriber::with_default(datapunk_log::bridge::tracing::subscriber(), || {
        g.bench_function("datapunk", |b| {
            b.iter_custom(|iters| chunked(iters, tracing_call, |_| datapunk_log::flush()))
        });
    });

    let lines = Arc::new(AtomicU64::new(0));
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .finish(CountLines(lines.clone()));
    let fmt = tracing_subscriber::fmt()
        .json()
        .with_thread_names(true)
        .with_max_level(tracing::Level::INFO)
        .with_writer(writer)
        .finish();
    let mut sent = 0u64;
    tracing::subscriber::with_default(fmt, || {
        g.bench_function("fmt_json_non_blocking", |b| {
            b.iter_custom(|iters| {
                let base = sent;
                let t = chunked(iters, tracing_call, |done| {
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while lines.load(Ordering::Acquire) < base + done && Instant::now() < deadline {
                        std::thread::yield_now();
                    }
                });
                sent += iters;
                t
            })
        });
    });
    drop(guard);

    let provider = SdkLoggerProvider::builder()
        .with_log_processor(
            BatchLogProcessor::builder(Discard)
                .with_batch_config(
                    BatchConfigBuilder::default()
                        .with_max_queue_size(CHUNK as usize * 2)
                        .build(),
                )
                .build(),
        )
        .build();
    let otel = tracing_subscriber::registry()
        .with(opentelemetry_appender_tracing::layer::OpenTelemetryTracingBridge::new(&provider));
    tracing::subscriber::with_default(otel, || {
        g.bench_function("opentelemetry_appender", |b| {
            b.iter_custom(|iters| {
                chunked(iters, tracing_call, |_| {
                    let _ = provider.force_flush();
                })
            })
        });
    });
    let _ = provider.shutdown();
    g.finish();
}

fn main() {
    let guard = datapunk_log::builder()
        .null()
        .ring_capacity(64 << 20)
        .overflow(Overflow::Drop)
        .clock(ClockSource::Precise)
        .filter("info")
        .ignore_env()
        .log_bridge(false)
        .tracing_bridge(false)
        .init()
        .expect("the bench process installs the only engine");
    let base = datapunk_log::stats();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    log_benches(&mut c);
    tracing_benches(&mut c);
    c.final_summary();
    datapunk_log::flush();
    let s = datapunk_log::stats();
    eprintln!(
        "datapunk-log: {} records written, {} dropped (ring full) while benchmarking",
        s.written - base.written,
        s.dropped - base.dropped,
    );
    drop(guard);
}
