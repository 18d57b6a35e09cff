//! The OTLP scenario: records/s delivered over OTLP/gRPC to a loopback
//! receiver in the same process ([`crate::receiver`]), which counts them
//! from the request bytes.
//!
//! One producer thread makes `records` log records (the message with
//! `user_id: u64`, `latency: f64`, `route: &str`) as fast as it can. The
//! time runs from the first record to the moment the receiver counted the
//! last one it got (after the subject's flush). With `lossless = true` (the
//! default) each subject is set up not to lose records: datapunk-log with
//! `export_overflow(Overflow::Block)` (the writer waits for the export
//! thread), the SDK with a batch queue that holds every record; the figure
//! is then the sustained delivery rate. With `lossless = false` each subject
//! runs with its defaults (512 records per request, its own queue), so a
//! subject whose export side cannot keep up with the producer loses
//! records. Either way losses are counted, as the records emitted that the
//! receiver never got, and, where the subject counts them itself, by its
//! own counters.
//!
//! - datapunk-log: `info!` into the ring (`Overflow::Block`), JSON sink
//!   null; the writer hands the records to the export thread, whose
//!   `OtlpExporter` (the direct log encoder and its tonic client, on the export
//!   thread's own runtime) sends them. `flush()` waits until all are sent.
//! - `otel-sdk`: `opentelemetry_sdk`'s `SdkLoggerProvider` with the
//!   `BatchLogProcessor` (its own thread, default queue of 2048 records)
//!   and opentelemetry-otlp's tonic `LogExporter`, built inside a tokio
//!   runtime (one worker thread) that drives the gRPC channel; records are
//!   made with the `opentelemetry::logs::Logger` API (`create_log_record`,
//!   timestamp, severity, body, three attributes, `emit`), then
//!   `force_flush()`.

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::Key;
use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};

use crate::profile::OtlpProfile;
use crate::receiver::{Receiver, Snapshot};
use crate::results::OtlpResult;
use crate::scenario::{MESSAGE, ROUTE};
use crate::subject::SubjectKind;

pub fn description(kind: SubjectKind) -> &'static str {
    match kind {
        SubjectKind::DatapunkPrecise | SubjectKind::DatapunkCoarse => {
            "datapunk-log info! (Overflow::Block, null JSON sink) -> export thread (export_overflow Block when lossless) -> OtlpExporter, direct log encoder + tonic, 512/request"
        }
        SubjectKind::OtelSdk => {
            "opentelemetry_sdk 0.33 SdkLoggerProvider + BatchLogProcessor (queue 2048, or every record when lossless; 512/request) + opentelemetry-otlp 0.33 tonic LogExporter"
        }
        _ => "(not an OTLP subject)",
    }
}

/// The arguments of record `i`, hidden from the optimizer.
#[inline(always)]
fn args(i: u64) -> (u64, f64, &'static str) {
    (
        black_box(i),
        black_box((i & 1023) as f64 * 0.25 + 0.5),
        black_box(ROUTE),
    )
}

/// What a subject reports once its records are sent.
struct Sent {
    producer: Duration,
    /// The subject's flush returned within the time limit.
    flushed: bool,
    /// Records the subject says it dropped or failed to send (None: it
    /// does not count them).
    counted_lost: Option<u64>,
    stats: Option<serde_json::Value>,
}

pub fn run(kind: SubjectKind, p: &OtlpProfile) -> Result<OtlpResult, String> {
    let started = Instant::now();
    let rx = Receiver::start(MESSAGE)?;
    let limit = Duration::from_secs(p.timeout_s);
    let quiet = Duration::from_millis(p.quiet_ms);
    let (sent, warm, t0) = match kind {
        SubjectKind::DatapunkPrecise | SubjectKind::DatapunkCoarse => {
            datapunk(kind, p, &rx, limit)?
        }
        SubjectKind::OtelSdk => otel_sdk(p, &rx)?,
        other => return Err(format!("{} has no OTLP exporter here", other.name())),
    };
    // Everything the subject sent has been answered by now (its flush waits
    // for the responses); the wait only covers a flush that gave up.
    let target = warm.records + p.records;
    let end = rx.wait_for(target, quiet, limit);
    let received = end.records - warm.records;
    let requests = end.requests - warm.requests;
    if end.unexpected > 0 {
        return Err(format!(
            "the receiver got {} requests whose records are not ours",
            end.unexpected
        ));
    }
    if received > p.records {
        return Err(format!(
            "the receiver counted {received} records but only {} were sent",
            p.records
        ));
    }
    let last = if received > 0 {
        end.last
    } else {
        Instant::now()
    };
    let total = last
        .saturating_duration_since(t0)
        .max(Duration::from_nanos(1));
    let lost = p.records - received;
    Ok(OtlpResult {
        subject: kind.name().into(),
        records: p.records,
        received,
        requests,
        lost,
        lost_counted_by_subject: sent.counted_lost,
        flushed: sent.flushed,
        producer_s: sent.producer.as_secs_f64(),
        total_s: total.as_secs_f64(),
        delivered_per_s: received as f64 / total.as_secs_f64(),
        producer_records_per_s: p.records as f64 / sent.producer.as_secs_f64().max(1e-9),
        subject_stats: sent.stats,
        wall_s: started.elapsed().as_secs_f64(),
    })
}

/// Warm-up records, flushed, until the receiver has them (the connection
/// is up and the pipeline has run once); the receiver's counts at the end.
fn warm_up(
    rx: &Receiver,
    p: &OtlpProfile,
    mut emit: impl FnMut(u64),
    flush: impl FnOnce(),
) -> Result<Snapshot, String> {
    let n = p.warmup_records;
    for i in 0..n {
        emit(i);
    }
    flush();
    let s = rx.wait_for(
        n,
        Duration::from_millis(p.quiet_ms),
        Duration::from_secs(p.timeout_s),
    );
    if n > 0 && s.records == 0 {
        return Err(format!(
            "warm-up: the receiver got none of {n} records within {} s",
            p.timeout_s
        ));
    }
    Ok(s)
}

/// datapunk-log's OTLP configuration in the OTLP and collector scenarios:
/// log records only, over gRPC (no compression) to `endpoint`.
pub fn grpc_logs_config(endpoint: &str) -> datapunk_log::export::otlp::OtlpConfig {
    use datapunk_log::export::otlp::{OtlpConfig, Protocol};
    OtlpConfig::default()
        .endpoint(endpoint)
        .protocol(Protocol::Grpc)
        .spans(false)
}

/// datapunk-log with a null JSON sink (INFO filter, environment ignored, no
/// panic hook), so that only the export side does work: the base of the
/// OTLP and collector scenarios.
pub fn null_sink_builder(
    clock: datapunk_log::ClockSource,
    overflow: datapunk_log::Overflow,
    export_overflow: datapunk_log::Overflow,
) -> datapunk_log::Builder {
    datapunk_log::builder()
        .null()
        .ignore_env()
        .filter("info")
        .clock(clock)
        .overflow(overflow)
        .export_overflow(export_overflow)
        .panic_hook(false)
}

fn datapunk(
    kind: SubjectKind,
    p: &OtlpProfile,
    rx: &Receiver,
    limit: Duration,
) -> Result<(Sent, Snapshot, Instant), String> {
    use datapunk_log::export::otlp::otlp_stats;
    let clock = if kind == SubjectKind::DatapunkCoarse {
        datapunk_log::ClockSource::Coarse
    } else {
        datapunk_log::ClockSource::Precise
    };
    let export_overflow = if p.lossless {
        datapunk_log::Overflow::Block
    } else {
        datapunk_log::Overflow::Drop
    };
    let guard = null_sink_builder(clock, datapunk_log::Overflow::Block, export_overflow)
        .otlp(grpc_logs_config(rx.endpoint()))
        .map_err(|e| format!("datapunk-log otlp: {e}"))?
        .init()
        .map_err(|e| format!("datapunk-log init: {e}"))?;
    let log = |i: u64| {
        let (user_id, latency, route) = args(i);
        datapunk_log::info!(user_id, latency, route, "request handled");
    };
    let warm = warm_up(rx, p, log, || {
        datapunk_log::flush_timeout(limit);
    })?;
    let s0 = datapunk_log::stats();
    let o0 = otlp_stats();

    let t0 = Instant::now();
    for i in 0..p.records {
        log(i);
    }
    let producer = t0.elapsed();
    let flushed = datapunk_log::flush_timeout(limit);

    let s1 = datapunk_log::stats();
    let o1 = otlp_stats();
    drop(guard);
    let ring_dropped = s1.dropped - s0.dropped;
    let export_dropped = s1.export_dropped_logs - s0.export_dropped_logs;
    let failed = o1.logs_failed - o0.logs_failed;
    let stats = serde_json::json!({
        "produced": s1.produced - s0.produced,
        "ring_dropped": ring_dropped,
        "exported_logs": s1.exported_logs - s0.exported_logs,
        "export_dropped_logs": export_dropped,
        "otlp_logs_exported": o1.logs_exported - o0.logs_exported,
        "otlp_logs_failed": failed,
        "otlp_export_requests": o1.export_requests - o0.export_requests,
        "otlp_export_errors": o1.export_errors - o0.export_errors,
    });
    Ok((
        Sent {
            producer,
            flushed,
            counted_lost: Some(ring_dropped + export_dropped + failed),
            stats: Some(stats),
        },
        warm,
        t0,
    ))
}

static USER_ID: Key = Key::from_static_str("user_id");
static LATENCY: Key = Key::from_static_str("latency");
static ROUTE_KEY: Key = Key::from_static_str("route");

fn otel_sdk(p: &OtlpProfile, rx: &Receiver) -> Result<(Sent, Snapshot, Instant), String> {
    use opentelemetry_otlp::WithExportConfig as _;
    // tonic's channel runs its connection on the runtime current where it is
    // built; the BatchLogProcessor's thread blocks on each export.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let exporter = {
        let _enter = rt.enter();
        opentelemetry_otlp::LogExporter::builder()
            .with_tonic()
            .with_endpoint(rx.endpoint())
            .with_protocol(opentelemetry_otlp::Protocol::Grpc)
            .build()
            .map_err(|e| format!("opentelemetry-otlp LogExporter: {e}"))?
    };
    let mut batch = opentelemetry_sdk::logs::BatchConfigBuilder::default();
    if p.lossless {
        let all = usize::try_from(p.records + p.warmup_records).unwrap_or(usize::MAX);
        batch = batch.with_max_queue_size(all);
    }
    let processor = opentelemetry_sdk::logs::BatchLogProcessor::builder(exporter)
        .with_batch_config(batch.build())
        .build();
    let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder()
        .with_log_processor(processor)
        .build();
    let logger = provider.logger("perf");
    let emit = |i: u64| {
        let (user_id, latency, route) = args(i);
        let mut r = logger.create_log_record();
        r.set_timestamp(SystemTime::now());
        r.set_severity_number(Severity::Info);
        r.set_severity_text("INFO");
        r.set_body(AnyValue::from(MESSAGE));
        r.add_attribute(USER_ID.clone(), user_id as i64);
        r.add_attribute(LATENCY.clone(), latency);
        r.add_attribute(ROUTE_KEY.clone(), route);
        logger.emit(r);
    };
    let warm = warm_up(rx, p, emit, || {
        let _ = provider.force_flush();
    })?;

    let t0 = Instant::now();
    for i in 0..p.records {
        emit(i);
    }
    let producer = t0.elapsed();
    let flush = provider.force_flush();
    let flushed = flush.is_ok();
    let shutdown = provider.shutdown();
    drop(rt);
    Ok((
        Sent {
            producer,
            flushed,
            counted_lost: None,
            stats: Some(serde_json::json!({
                "force_flush": format!("{flush:?}"),
                "shutdown": format!("{shutdown:?}"),
            })),
        },
        warm,
        t0,
    ))
}
