//! The OTLP exporters' counters ([`OtlpStats`], [`otlp_stats`]) and how a
//! batch's outcome is counted in them and reported to the writer's export
//! notices.

use std::borrow::Cow;
use std::fmt;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::error::OtlpError;

static LOGS_EXPORTED: AtomicU64 = AtomicU64::new(0);
static SPANS_EXPORTED: AtomicU64 = AtomicU64::new(0);
static LOGS_FAILED: AtomicU64 = AtomicU64::new(0);
static SPANS_FAILED: AtomicU64 = AtomicU64::new(0);
pub(super) static EXPORT_REQUESTS: AtomicU64 = AtomicU64::new(0);
pub(super) static EXPORT_ERRORS: AtomicU64 = AtomicU64::new(0);
pub(super) static UNREADABLE_RESPONSES: AtomicU64 = AtomicU64::new(0);
pub(super) static DISCARDED_RESPONSES: AtomicU64 = AtomicU64::new(0);

/// The OTLP exporters' counters, summed over every
/// [`OtlpExporter`](super::OtlpExporter) of the process since it started.
///
/// Records and spans dropped before they reach the exporter (the export
/// queue was full) are counted by the engine, in
/// [`crate::Stats::export_dropped_logs`] and
/// [`crate::Stats::export_dropped_spans`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtlpStats {
    /// Log records the collector accepted.
    pub logs_exported: u64,
    /// Spans the collector accepted.
    pub spans_exported: u64,
    /// Log records dropped: their batch failed after the retries, timed out,
    /// or the exporter could not be set up or was shut down; or the
    /// collector rejected them in a partial success (read on every path
    /// but the gRPC one of `opentelemetry-otlp`: see the
    /// [module docs](super#partial-success)).
    pub logs_failed: u64,
    /// Spans dropped, as for `logs_failed`.
    pub spans_failed: u64,
    /// Batches sent (each one request, plus its retries).
    pub export_requests: u64,
    /// Batches that failed, and failed setups.
    pub export_errors: u64,
    /// Successful responses (HTTP 2xx, gRPC `OK`) whose body is not the
    /// signal's `Export…ServiceResponse` (protobuf, or JSON for
    /// `http/json`): nothing in them is read, and their batch counts as
    /// exported whole, as the status says.
    pub unreadable_responses: u64,
    /// Successful responses whose body was over the bound of 64 KiB: not
    /// read past it and discarded, and their batch counted as failed (not
    /// retried), as the OTLP specification says.
    pub discarded_responses: u64,
}

/// The OTLP exporters' counters; readable from any thread.
pub fn otlp_stats() -> OtlpStats {
    OtlpStats {
        logs_exported: LOGS_EXPORTED.load(Relaxed),
        spans_exported: SPANS_EXPORTED.load(Relaxed),
        logs_failed: LOGS_FAILED.load(Relaxed),
        spans_failed: SPANS_FAILED.load(Relaxed),
        export_requests: EXPORT_REQUESTS.load(Relaxed),
        export_errors: EXPORT_ERRORS.load(Relaxed),
        unreadable_responses: UNREADABLE_RESPONSES.load(Relaxed),
        discarded_responses: DISCARDED_RESPONSES.load(Relaxed),
    }
}

/// How a batch's send went (`result` of [`run`](super::runtime::run) over a
/// timeout); a failed attempt counts in [`OtlpStats::export_errors`].
pub(super) fn outcome_of<T, E: fmt::Display>(
    result: Option<Result<Result<T, E>, tokio::time::error::Elapsed>>,
) -> Result<T, Cow<'static, str>> {
    let error = match result {
        Some(Ok(Ok(t))) => return Ok(t),
        None => Cow::Borrowed("the export runtime is gone"),
        Some(Err(_)) => Cow::Borrowed("the export timeout passed"),
        Some(Ok(Err(e))) => Cow::Owned(e.to_string()),
    };
    EXPORT_ERRORS.fetch_add(1, Relaxed);
    Err(error)
}

/// Counts a batch of `logs` log records and `spans` spans as delivered or
/// failed: in [`OtlpStats`] and for the writer's export notices.
pub(super) fn report(outcome: Result<(), Cow<'static, str>>, logs: u64, spans: u64) {
    match outcome {
        Ok(()) => {
            LOGS_EXPORTED.fetch_add(logs, Relaxed);
            SPANS_EXPORTED.fetch_add(spans, Relaxed);
            crate::export::health::delivered(logs, spans);
        }
        Err(error) => {
            LOGS_FAILED.fetch_add(logs, Relaxed);
            SPANS_FAILED.fetch_add(spans, Relaxed);
            crate::export::health::failed(logs, spans, &error);
        }
    }
}

/// The outcome of a batch sent through an `opentelemetry-otlp` exporter
/// (`result`, as [`outcome_of`] takes it), with what the collector answered
/// to its successful request (`answer`, read by the HTTP client under the
/// exporter): a discarded answer fails the batch, as a failed attempt.
pub(super) fn outcome_with_answer<E: fmt::Display>(
    result: Option<Result<Result<(), E>, tokio::time::error::Elapsed>>,
    answer: impl FnOnce() -> Result<PartialSuccess, String>,
) -> Result<PartialSuccess, Cow<'static, str>> {
    outcome_of(result)?;
    answer().map_err(|e| {
        EXPORT_ERRORS.fetch_add(1, Relaxed);
        Cow::Owned(e)
    })
}

/// What a collector said of a batch it took (a success): the items it
/// rejected all the same, and why (the OTLP `partial_success`). The
/// default: all accepted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct PartialSuccess {
    /// `rejected_log_records` or `rejected_spans`.
    pub(super) rejected: u64,
    /// `error_message`: why, or a warning when nothing was rejected.
    pub(super) error_message: String,
}

/// Counts a batch of `logs` log records or `spans` spans (one of the two
/// is 0) as [`report`] does, the collector's partial success applied: the
/// rejected items count as failed (and, for the writer's notices, as a
/// failed batch saying how many the collector rejected and why), the
/// others as delivered. A partial success that rejects nothing (a warning)
/// is a success.
pub(super) fn report_partial(
    outcome: Result<PartialSuccess, Cow<'static, str>>,
    logs: u64,
    spans: u64,
) {
    let partial = match outcome {
        Err(e) => return report(Err(e), logs, spans),
        Ok(p) if p.rejected == 0 => return report(Ok(()), logs, spans),
        Ok(p) => p,
    };
    let (rejected_logs, rejected_spans) = if logs > 0 {
        (partial.rejected.min(logs), 0)
    } else {
        (0, partial.rejected.min(spans))
    };
    let (ok_logs, ok_spans) = (logs - rejected_logs, spans - rejected_spans);
    if ok_logs + ok_spans > 0 {
        report(Ok(()), ok_logs, ok_spans);
    }
    let what = if logs > 0 { "log records" } else { "spans" };
    let error = format!(
        "the collector rejected {} of {} {what} (OTLP partial success): {}",
        partial.rejected,
        logs + spans,
        partial.error_message
    );
    report(Err(Cow::Owned(error)), rejected_logs, rejected_spans);
}

/// Setup failures cannot go through the engine (the export thread feeds it):
/// they go to stderr, once per exporter, and count in
/// [`OtlpStats::export_errors`].
pub(super) fn report_setup_failure(e: &OtlpError) {
    static REPORTED: OnceLock<()> = OnceLock::new();
    if REPORTED.set(()).is_ok() {
        eprintln!("datapunk-log: {e}; OTLP export disabled");
    }
}
