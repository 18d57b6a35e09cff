//! OTLP export of log records and spans (gRPC, HTTP/protobuf or HTTP/JSON),
//! through `opentelemetry-otlp` and this crate's own encoders and client.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use datapunk_log::export::otlp::{OtlpConfig, OtlpExporter, Protocol};
//!
//! let config = OtlpConfig::from_env()?
//!     .protocol(Protocol::Grpc)
//!     .header("x-tenant", "checkout")
//!     .timeout(Duration::from_secs(5));
//! let exporter = OtlpExporter::new(config)?;
//! # let _ = exporter;
//! # Ok(()) }
//! ```
//!
//! # Threads and runtime
//!
//! [`OtlpExporter::new`] only validates the configuration: it creates no
//! runtime and no connection, so it can be called from any thread, inside a
//! tokio runtime or not. The exporter is set up lazily on the export thread,
//! in [`Exporter::set_resource`] or at the first record: it builds its own
//! single-threaded tokio runtime (whose helper threads call
//! `thread_role::mute_this_thread`, so that the logs of the exporter's
//! dependencies do not loop back into the engine), then the
//! `opentelemetry-otlp` log and span exporters inside it. A gRPC channel
//! connects lazily: a collector that is down at start fails no setup, only
//! the exports made while it is down. Exports run with `block_on` on the
//! export thread, one batch at a time.
//!
//! # Batching
//!
//! Up to `max_export_batch_size` log records (and, separately, spans) are
//! held. A batch is sent when it is full, when [`Exporter::tick`] sees that
//! `schedule_delay` has passed since its first record, on
//! [`Exporter::flush`] and on [`Exporter::shutdown`]. A full batch is sent
//! synchronously before the next record is taken, so at most one batch per
//! signal is ever held: the bounded queue in front of the export thread is
//! the engine's (records dropped there are counted in
//! [`crate::Stats::export_dropped_logs`] and
//! [`crate::Stats::export_dropped_spans`], not here). The exporter retries
//! throttled and unavailable collectors (HTTP 429, 502, 503, 504; gRPC
//! `UNAVAILABLE`, `RESOURCE_EXHAUSTED` with `RetryInfo`, ...) with
//! exponential backoff, honouring `Retry-After` and gRPC `RetryInfo`, within
//! the exporter timeout; a batch that still fails is dropped and counted in
//! [`otlp_stats`].
//!
//! # Configuration and precedence
//!
//! [`OtlpConfig::from_env`] reads the OpenTelemetry variables below; the
//! builder methods override them. For every setting:
//!
//! **builder > signal-specific variable > generic variable > default.**
//!
//! For the endpoint the builder's per-signal endpoints
//! ([`OtlpConfig::logs_endpoint`], [`OtlpConfig::traces_endpoint`]) come
//! before its generic [`OtlpConfig::endpoint`]. Headers merge key by key:
//! the signal-specific variable replaces the generic one as a whole (as the
//! specification says), then each header given to the builder replaces the
//! one of the same name.
//!
//! | Variable | Meaning | Default |
//! |---|---|---|
//! | `OTEL_EXPORTER_OTLP_ENDPOINT` | base URL; HTTP appends `/v1/logs` or `/v1/traces` | `http://localhost:4317` (gRPC), `http://localhost:4318` (HTTP) |
//! | `OTEL_EXPORTER_OTLP_{LOGS,TRACES}_ENDPOINT` | full URL, used as is | |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_PROTOCOL` | `grpc`, `http/protobuf` or `http/json` | `grpc` |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_HEADERS` | `k=v,k2=v2`, percent-decoded | |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_TIMEOUT` | milliseconds, > 0 | 10000 |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_COMPRESSION` | `gzip` or `none` | `none` |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_CERTIFICATE` | PEM file of the CA certificates that verify the collector (`https://`) | the system's roots |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_CLIENT_CERTIFICATE` | PEM file of the client certificate chain (mutual TLS; needs the key) | |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_CLIENT_KEY` | PEM file of the client's private key (mutual TLS; needs the certificate) | |
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_INSECURE` | `true` or `false`: a gRPC endpoint without a scheme is `http://` (else `https://`) | `false` |
//! | `OTEL_BLRP_SCHEDULE_DELAY` / `OTEL_BSP_SCHEDULE_DELAY` | milliseconds | 1000 / 5000 |
//! | `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE` / `OTEL_BSP_…` | records per request, > 0 | 512 |
//! | `OTEL_BLRP_EXPORT_TIMEOUT` / `OTEL_BSP_…` | milliseconds, bound of one batch's export | 30000 |
//! | `OTEL_BLRP_MAX_QUEUE_SIZE` / `OTEL_BSP_…` | caps the batch size (> 0) | 2048 |
//!
//! A variable that is set but empty counts as unset. A value that cannot be
//! used is an [`OtlpError::InvalidEnv`] naming the variable (header values
//! are never echoed: they often hold credentials).
//!
//! `opentelemetry-otlp` also reads some of these variables itself when the
//! exporter is built. Everything this module resolves is handed to it
//! explicitly (endpoint, protocol, timeout; headers are set last on every
//! request, so they win over the headers it reads), so the precedence above
//! holds, with one exception on the paths through `opentelemetry-otlp`
//! (spans, and logs with [`LogEncoder::Sdk`]): when the configuration says
//! no compression (`compression(None)` from the builder) while
//! `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_COMPRESSION=gzip` is set in the
//! process environment, `opentelemetry-otlp` still compresses with gzip (it
//! has no way to be told "none" explicitly). The direct log path follows
//! the resolved configuration exactly.
//!
//! # TLS
//!
//! With the `otlp-tls` feature (it implies `otlp`), an `https://` endpoint
//! is reached over TLS on every path (logs and spans, gRPC, HTTP/protobuf
//! and HTTP/JSON): rustls with the `ring` provider (or the process's default
//! rustls `CryptoProvider`, when one is installed). The collector's
//! certificate is verified against the CA certificates of the
//! `…_CERTIFICATE` file ([`OtlpConfig::certificate`]), which replace the
//! system's roots, or else against the system's roots. With a client
//! certificate and key (`…_CLIENT_CERTIFICATE` and `…_CLIENT_KEY`, or
//! [`OtlpConfig::client_certificate`] and [`OtlpConfig::client_key`]; both
//! or neither) the exporter authenticates itself (mutual TLS). The files
//! are read, and the certificates and key parsed, by [`OtlpExporter::new`]:
//! a missing, unreadable or invalid file is an error naming the variable (or
//! the setting) and the path; the key's contents are never echoed. They are
//! read only for a signal whose endpoint is `https://`; an `http://`
//! endpoint ignores them (but a client key without its certificate, or the
//! reverse, is refused whatever the endpoint). A collector whose certificate does not verify
//! fails each export, which is counted in [`otlp_stats`] like any failure.
//!
//! The scheme decides: `http://` is clear text, `https://` is TLS. A gRPC
//! endpoint given without a scheme (`collector:4317`, as the specification
//! allows) is `https://` unless `…_INSECURE=true` ([`OtlpConfig::insecure`]),
//! then `http://`; an OTLP/HTTP endpoint (protobuf or JSON) needs its
//! scheme.
//!
//! Without the `otlp-tls` feature, an `https://` endpoint (or a scheme-less
//! gRPC one that is not insecure) is refused by [`OtlpExporter::new`] with
//! an error that says to enable it.
//!
//! # Mapping
//!
//! Log records follow the OpenTelemetry log data model: timestamp and
//! observed timestamp, severity number (`TRACE` 1, `DEBUG` 5, `INFO` 9,
//! `WARN` 13, `ERROR` 17) and text, the message as a string body, typed
//! attributes, `correlation_id` and `thread.name` attributes,
//! `sampling.adjusted_count` (an integer: how many records this one stands
//! for) on a record kept by its call site's log sampler out of a
//! sampled-down stream (only when above 1), the trace
//! context (when the record is inside a trace; only the sampled flag is
//! kept), and the call site's target as the instrumentation scope. Fields:
//! booleans, integers up to `i64::MAX` and floats keep their type; larger
//! `u64` values and 128-bit integers become their decimal text; characters,
//! strings and bytes (lossily decoded) become strings; an error becomes the
//! `exception.type`, `exception.message` and (when not empty)
//! `exception.stacktrace` attributes; a field without a value is left out.
//! Spans map the same way to internal spans with their parent, events and
//! status.
//!
//! # Log encoders
//!
//! Log records take one of two paths, chosen with
//! [`OtlpConfig::log_encoder`]. [`LogEncoder::Direct`] (the default) writes
//! each record's protobuf bytes straight into a reused buffer and sends the
//! batch's `ExportLogsServiceRequest` over its own gRPC or HTTP client, with
//! the same mapping, headers, compression, timeout and retry rules (see
//! `wire.rs`, `client.rs` and `retry.rs`); it allocates nothing per record.
//! [`LogEncoder::Sdk`] goes through `opentelemetry-otlp`: each record
//! becomes an SDK log record that it converts. Spans take the SDK path.
//!
//! # HTTP/JSON
//!
//! [`Protocol::HttpJson`] (`http/json`) has one path for log records (the
//! log encoder is not consulted) and for spans: this crate's JSON encoder
//! (`json.rs`: log records straight from the records as the direct
//! protobuf encoder does, spans from the SDK's span data) and its HTTP
//! client, which `POST`s `application/json` bodies to the same `/v1/logs`
//! and `/v1/traces` endpoints as HTTP/protobuf, with the same headers,
//! gzip compression, timeout and retry rules. The body follows the OTLP
//! JSON encoding: lowerCamelCase names, hex trace and span ids, enums as
//! integers, 64-bit integers as decimal strings, non-finite doubles as
//! `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! The collector's answer is read as on the other protocols (see
//! [Partial success](#partial-success)): a `partialSuccess` with
//! `rejectedLogRecords` (or `rejectedSpans`) and `errorMessage`, in
//! lowerCamelCase or with the original field names.
//!
//! # Partial success
//!
//! A collector that takes a request may still reject some of its items
//! (the OTLP `partial_success`: `rejected_log_records` or
//! `rejected_spans`, and `error_message`). Those items count in
//! [`OtlpStats::logs_failed`] (or [`OtlpStats::spans_failed`]) and in the
//! engine's `export_failed_logs` / `export_failed_spans`, the rest as
//! exported, and the writer's "export failing" notice quotes the
//! collector's message; the request is not retried, as the specification
//! says. A partial success that rejects nothing (a warning) is a success.
//! A count above the batch's size fails the batch, no more.
//!
//! | Path | Partial success |
//! |---|---|
//! | log records, [`LogEncoder::Direct`], gRPC or HTTP/protobuf | read (protobuf) |
//! | log records, [`LogEncoder::Sdk`], HTTP/protobuf | read (protobuf, by the HTTP client under `opentelemetry-otlp`) |
//! | spans, HTTP/protobuf | read, as the line above |
//! | log records and spans, HTTP/JSON | read (JSON) |
//! | log records, [`LogEncoder::Sdk`], gRPC | not read: counted as exported whole |
//! | spans, gRPC | not read: counted as exported whole |
//!
//! Over gRPC, `opentelemetry-otlp` decodes the response inside its own
//! tonic client and only writes the partial success to OpenTelemetry's
//! internal log (the `tracing` crate, when its `internal-logs` feature is
//! on, which this crate does not turn on); it returns a plain success and
//! offers no hook on the response (its interceptor sees requests only).
//!
//! The response bodies are read strictly: a protobuf body as `prost` reads
//! an `Export…ServiceResponse` (unknown fields skipped; bad wire types,
//! varints past 64 bits, lengths past the end, invalid UTF-8 refused), a
//! JSON one as RFC 8259 and the proto3 JSON mapping say. A negative count
//! is refused too. A successful response whose body cannot be read (not
//! the response message, or another encoding) rejects nothing: its batch
//! counts as exported, as the status says, and the response counts in
//! [`OtlpStats::unreadable_responses`]. An empty body is a full success.
//!
//! # Response size
//!
//! At most 64 KiB of a response body is read (HTTP, every path; the direct
//! log client's gRPC response message, after decompression). The longest
//! legitimate answer is a partial success with a human-readable message: a
//! few hundred bytes. A body over the bound is never buffered past it nor
//! read to its end (the connection is closed): as the specification says,
//! the response is discarded and treated as a non-retryable error, so its
//! batch counts as failed (not retried), and it counts in
//! [`OtlpStats::discarded_responses`] and [`OtlpStats::export_errors`]. An
//! error status is judged by its status alone (and its `Retry-After`), its
//! body bounded the same way. `opentelemetry-otlp`'s own gRPC client (spans,
//! and log records with [`LogEncoder::Sdk`]) keeps tonic's bound of 4 MiB:
//! an answer over it fails the attempt with `OUT_OF_RANGE`, which it
//! retries within the timeout before the batch fails.

mod client;
mod config;
mod env;
mod error;
mod json;
mod json_response;
mod proto_response;
mod retry;
mod runtime;
mod sdk;
mod stats;
#[cfg(test)]
mod test_env;
mod tls;
mod transport;
mod wire;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

use crate::export::{Exporter, LogView, SpanView};
use crate::resource::Resource;

#[cfg(feature = "config-file")]
pub(crate) use config::FileSignal;
pub use config::{
    BatchConfig, Compression, DEFAULT_BATCH_SIZE, DEFAULT_EXPORT_TIMEOUT, DEFAULT_GRPC_ENDPOINT,
    DEFAULT_HTTP_ENDPOINT, DEFAULT_LOGS_SCHEDULE_DELAY, DEFAULT_MAX_QUEUE_SIZE,
    DEFAULT_MAX_RETRIES, DEFAULT_SPANS_SCHEDULE_DELAY, DEFAULT_TIMEOUT, LogEncoder, OtlpConfig,
    Protocol, Signal,
};
#[cfg(feature = "config-file")]
pub(crate) use env::parse_headers;
pub use env::{
    OTEL_BLRP_EXPORT_TIMEOUT, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_SCHEDULE_DELAY, OTEL_BSP_EXPORT_TIMEOUT, OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_MAX_QUEUE_SIZE, OTEL_BSP_SCHEDULE_DELAY, OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
    OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_LOGS_COMPRESSION, OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    OTEL_EXPORTER_OTLP_LOGS_HEADERS, OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
};
pub use error::OtlpError;
pub use stats::{OtlpStats, otlp_stats};

use json::LogJsonEncoder;
use runtime::{Live, run};
use sdk::{Mapper, sdk_resource};
use stats::{
    EXPORT_ERRORS, EXPORT_REQUESTS, outcome_of, outcome_with_answer, report, report_partial,
    report_setup_failure,
};
use transport::{Prepared, is_json, prepare};
use wire::LogRequestEncoder;

/// The pending log records of the direct paths, encoded: protobuf
/// ([`LogEncoder::Direct`]) or JSON (`http/json`).
#[derive(Debug)]
enum DirectLogs {
    Protobuf(LogRequestEncoder),
    Json(LogJsonEncoder),
}

impl DirectLogs {
    fn set_resource(&mut self, resource: &Resource) {
        match self {
            DirectLogs::Protobuf(e) => e.set_resource(resource),
            DirectLogs::Json(e) => e.set_resource(resource),
        }
    }

    fn len(&self) -> usize {
        match self {
            DirectLogs::Protobuf(e) => e.len(),
            DirectLogs::Json(e) => e.len(),
        }
    }

    fn is_empty(&self) -> bool {
        match self {
            DirectLogs::Protobuf(e) => e.is_empty(),
            DirectLogs::Json(e) => e.is_empty(),
        }
    }

    /// False when the record could not be encoded (see
    /// [`LogRequestEncoder::push`]).
    fn push(&mut self, log: &LogView<'_>) -> bool {
        match self {
            DirectLogs::Protobuf(e) => e.push(log),
            DirectLogs::Json(e) => {
                e.push(log);
                true
            }
        }
    }

    fn encode_request(&self, out: &mut Vec<u8>) {
        match self {
            DirectLogs::Protobuf(e) => e.encode_request(out),
            DirectLogs::Json(e) => e.encode_request(out),
        }
    }

    fn clear(&mut self) {
        match self {
            DirectLogs::Protobuf(e) => e.clear(),
            DirectLogs::Json(e) => e.clear(),
        }
    }
}

enum State {
    /// Not set up yet.
    Idle,
    Running(Box<Live>),
    /// Setup failed: records are counted as failed.
    Failed,
    /// Shut down.
    Closed,
}

/// An [`Exporter`] sending log records and spans to an OpenTelemetry
/// collector over OTLP (see the [module docs](self)).
pub struct OtlpExporter {
    logs_cfg: Option<Prepared>,
    spans_cfg: Option<Prepared>,
    max_retries: usize,
    log_encoder: LogEncoder,
    log_batch: BatchConfig,
    span_batch: BatchConfig,
    state: State,
    resource: Option<opentelemetry_sdk::Resource>,
    mapper: Mapper,
    logs: Vec<(SdkLogRecord, usize)>,
    /// Log records take the direct path ([`LogEncoder::Direct`], or
    /// `http/json`).
    direct_logs: bool,
    /// The pending log records of the direct path, encoded.
    wire_logs: DirectLogs,
    /// The `Resource` object of `http/json` span requests.
    json_resource: Vec<u8>,
    logs_since: Option<Instant>,
    spans: Vec<SpanData>,
    spans_since: Option<Instant>,
    /// Requests of the direct log path sent and not yet answered, oldest
    /// first (at most [`MAX_IN_FLIGHT`]).
    in_flight: VecDeque<InFlight>,
}

/// Requests of the direct log path that may be in flight at once. One: the
/// export thread encodes the next batch while the runtime's worker sends the
/// last one and waits for its answer, and requests still reach the collector
/// one after the other, in the order of their records.
const MAX_IN_FLIGHT: usize = 1;

/// A request of the direct log path on its way, and its log records.
struct InFlight {
    task: tokio::task::JoinHandle<
        Result<Result<stats::PartialSuccess, client::ExportFailure>, tokio::time::error::Elapsed>,
    >,
    logs: u64,
}

impl InFlight {
    /// Waits for the answer (at most until `deadline`, if any) and counts
    /// the batch. `Err(self)` when the deadline came first.
    fn settle(
        mut self,
        rt: &tokio::runtime::Runtime,
        deadline: Option<Instant>,
    ) -> Result<(), Self> {
        let result = match deadline {
            None => run(rt, &mut self.task),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                match run(rt, async {
                    tokio::time::timeout(left, &mut self.task).await
                }) {
                    Some(Ok(r)) => Some(r),
                    Some(Err(_)) => return Err(self),
                    None => None,
                }
            }
        };
        report_partial(outcome_of(result.and_then(Result::ok)), self.logs, 0);
        Ok(())
    }
}

/// Counts the requests of `in_flight` that are answered: all of them, waiting
/// until `deadline` at most (`Some`), or those done already (`None`).
fn settle_in_flight(
    in_flight: &mut VecDeque<InFlight>,
    rt: &tokio::runtime::Runtime,
    deadline: Option<Instant>,
) {
    while let Some(f) = in_flight.pop_front() {
        if deadline.is_none() && !f.task.is_finished() {
            in_flight.push_front(f);
            return;
        }
        if let Err(f) = f.settle(rt, deadline) {
            in_flight.push_front(f);
            return;
        }
    }
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::Idle => "idle",
            State::Running(_) => "running",
            State::Failed => "failed",
            State::Closed => "closed",
        };
        f.debug_struct("OtlpExporter")
            .field(
                "logs_endpoint",
                &self.logs_cfg.as_ref().map(|p| &p.endpoint),
            )
            .field(
                "spans_endpoint",
                &self.spans_cfg.as_ref().map(|p| &p.endpoint),
            )
            .field("state", &state)
            .field("log_encoder", &self.log_encoder)
            .field("pending_logs", &(self.logs.len() + self.wire_logs.len()))
            .field("pending_spans", &self.spans.len())
            .finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Validates `config` (endpoints are `http://` or `https://` URLs,
    /// headers are valid, sizes and timeouts are not zero) and, for an
    /// `https://` endpoint, reads and checks the TLS files (CA certificates,
    /// client certificate and key) or loads the system's roots. Creates no
    /// runtime and opens no connection: that happens on the export thread.
    pub fn new(config: OtlpConfig) -> Result<OtlpExporter, OtlpError> {
        let logs_cfg = if config.logs_enabled {
            Some(prepare(&config, Signal::Logs)?)
        } else {
            None
        };
        let spans_cfg = if config.spans_enabled {
            Some(prepare(&config, Signal::Traces)?)
        } else {
            None
        };
        let log_batch = config.logs.batch;
        let span_batch = config.traces.batch;
        let json_logs = logs_cfg.as_ref().is_some_and(is_json);
        Ok(OtlpExporter {
            logs_cfg,
            spans_cfg,
            max_retries: config.max_retries,
            log_encoder: config.log_encoder,
            log_batch,
            span_batch,
            state: State::Idle,
            resource: None,
            mapper: Mapper::new(),
            logs: Vec::new(),
            direct_logs: json_logs || config.log_encoder == LogEncoder::Direct,
            wire_logs: if json_logs {
                DirectLogs::Json(LogJsonEncoder::default())
            } else {
                DirectLogs::Protobuf(LogRequestEncoder::new())
            },
            json_resource: Vec::new(),
            logs_since: None,
            spans: Vec::new(),
            spans_since: None,
            in_flight: VecDeque::new(),
        })
    }

    /// Sets up the runtime and exporters if not done yet; true when running.
    fn ensure_started(&mut self) -> bool {
        if matches!(self.state, State::Idle) {
            match Live::start(
                self.logs_cfg.as_ref(),
                self.spans_cfg.as_ref(),
                self.max_retries,
                self.resource.as_ref(),
                self.log_encoder,
            ) {
                Ok(live) => self.state = State::Running(Box::new(live)),
                Err(e) => {
                    self.state = State::Failed;
                    EXPORT_ERRORS.fetch_add(1, Relaxed);
                    report_setup_failure(&e);
                }
            }
        }
        matches!(self.state, State::Running(_))
    }

    /// Sends the pending records of the direct log path (a request still
    /// unsent at `deadline` is given up, counted). The request runs
    /// on the runtime's worker; its answer is counted when it comes (see
    /// [`InFlight`]), waiting first for the oldest request while
    /// [`MAX_IN_FLIGHT`] are on their way.
    fn send_wire_logs(&mut self, deadline: Instant) {
        let n = self.wire_logs.len() as u64;
        if let State::Running(live) = &self.state
            && let (Some(rt), Some(client)) = (&live.rt, &live.wire)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !remaining.is_zero() {
                while self.in_flight.len() >= MAX_IN_FLIGHT {
                    if let Some(oldest) = self.in_flight.pop_front() {
                        // No deadline: the request's own timeout bounds it.
                        let _ = oldest.settle(rt, None);
                    }
                }
                let mut request = Vec::new();
                self.wire_logs.encode_request(&mut request);
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                let request = bytes::Bytes::from(request);
                let client = Arc::clone(client);
                let task = rt.spawn(async move {
                    tokio::time::timeout(remaining, client.export(request)).await
                });
                self.in_flight.push_back(InFlight { task, logs: n });
                self.wire_logs.clear();
                return;
            }
        }
        report_partial(Err(Cow::Borrowed(NOT_SENT)), n, 0);
        self.wire_logs.clear();
    }

    /// Waits, until `deadline` at most, for the answers of the requests in
    /// flight, and counts them.
    fn settle_all(&mut self, deadline: Instant) {
        if let State::Running(live) = &self.state
            && let Some(rt) = &live.rt
        {
            settle_in_flight(&mut self.in_flight, rt, Some(deadline));
        }
    }

    /// Sends the pending log records, giving up at `deadline`.
    fn send_logs(&mut self, deadline: Instant) {
        self.logs_since = None;
        if !self.wire_logs.is_empty() {
            self.send_wire_logs(deadline);
        }
        if self.logs.is_empty() {
            return;
        }
        let n = self.logs.len() as u64;
        let mut outcome = Err(Cow::Borrowed(NOT_SENT));
        if let State::Running(live) = &self.state
            && let (Some(rt), Some(exporter)) = (&live.rt, &live.logs)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !remaining.is_zero() {
                let scopes = &self.mapper.scopes;
                let pairs: Vec<(&SdkLogRecord, &InstrumentationScope)> = self
                    .logs
                    .iter()
                    .filter_map(|(r, i)| scopes.get(*i).map(|s| (r, s)))
                    .collect();
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                let pairs = &pairs;
                live.log_answers.clear();
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, exporter.export(LogBatch::new(pairs))).await
                });
                outcome = outcome_with_answer(result, || live.log_answers.take());
            }
        }
        report_partial(outcome, n, 0);
        self.logs.clear();
    }

    /// Sends the pending spans, giving up at `deadline`.
    fn send_spans(&mut self, deadline: Instant) {
        self.spans_since = None;
        if self.spans.is_empty() {
            return;
        }
        let cap = self.span_batch.effective_batch_size().min(1024);
        let batch = std::mem::replace(&mut self.spans, Vec::with_capacity(cap));
        let n = batch.len() as u64;
        let mut outcome = Err(Cow::Borrowed(NOT_SENT));
        if let State::Running(live) = &self.state
            && let Some(rt) = &live.rt
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                // Not sent.
            } else if let Some(client) = &live.span_wire {
                let mut request = Vec::new();
                json::encode_spans(&self.json_resource, &batch, &mut request);
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                let request = bytes::Bytes::from(request);
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, client.export(request)).await
                });
                outcome = outcome_of(result);
            } else if let Some(exporter) = &live.spans {
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                live.span_answers.clear();
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, exporter.export(batch)).await
                });
                outcome = outcome_with_answer(result, || live.span_answers.take());
            }
        }
        report_partial(outcome, 0, n);
    }
}

/// The fuzz targets' entry to the reader of OTLP/JSON responses
/// (`crate::__fuzz`): the rejected count and the message of the
/// `partialSuccess` of a response to log records (or spans), `None` when
/// the body is refused.
pub(crate) fn fuzz_partial_success(body: &[u8], spans: bool) -> Option<(u64, String)> {
    let signal = if spans { Signal::Traces } else { Signal::Logs };
    json_response::partial_success(body, signal)
        .ok()
        .map(|p| (p.rejected, p.error_message))
}

/// The fuzz targets' entry to the reader of OTLP protobuf responses
/// (`crate::__fuzz`): the rejected count and the message of the
/// `partial_success` of an `ExportLogsServiceResponse` or
/// `ExportTraceServiceResponse`, `None` when the body is refused.
pub(crate) fn fuzz_proto_partial_success(body: &[u8]) -> Option<(u64, String)> {
    proto_response::partial_success(body)
        .ok()
        .map(|p| (p.rejected, p.error_message))
}

const SETUP_FAILED: &str = "the OTLP exporter could not be set up (see stderr)";
const ENCODE_FAILED: &str = "a log record could not be encoded (its size was worked out wrong)";

/// A batch that was not sent: the exporter is not running, or the deadline
/// had passed.
const NOT_SENT: &str = "not sent: the exporter is not running or the deadline passed";

impl Exporter for OtlpExporter {
    fn set_resource(&mut self, resource: &Resource) {
        self.wire_logs.set_resource(resource);
        if self.spans_cfg.as_ref().is_some_and(is_json) {
            json::resource_json(resource, &mut self.json_resource);
        }
        let r = sdk_resource(resource);
        if let State::Running(live) = &mut self.state {
            live.set_resource(&r);
        }
        self.resource = Some(r);
        // Set up now unless this thread is inside a tokio runtime (then at
        // the first record, on the export thread).
        if tokio::runtime::Handle::try_current().is_err() {
            self.ensure_started();
        }
    }

    fn export_log(&mut self, log: &LogView<'_>) {
        if self.logs_cfg.is_none() {
            return;
        }
        if !self.ensure_started() {
            report(Err(Cow::Borrowed(SETUP_FAILED)), 1, 0);
            return;
        }
        if self.direct_logs {
            if self.wire_logs.is_empty() {
                self.logs_since = Some(Instant::now());
            }
            if !self.wire_logs.push(log) {
                report(Err(Cow::Borrowed(ENCODE_FAILED)), 1, 0);
                return;
            }
            if self.wire_logs.len() >= self.log_batch.effective_batch_size() {
                let deadline = crate::clock::deadline_in(self.log_batch.export_timeout);
                self.send_logs(deadline);
            }
            return;
        }
        let rec = self.mapper.log_record(log);
        if self.logs.is_empty() {
            self.logs_since = Some(Instant::now());
            self.logs
                .reserve(self.log_batch.effective_batch_size().min(1024));
        }
        self.logs.push(rec);
        if self.logs.len() >= self.log_batch.effective_batch_size() {
            let deadline = crate::clock::deadline_in(self.log_batch.export_timeout);
            self.send_logs(deadline);
        }
    }

    fn export_span(&mut self, span: &SpanView<'_>) {
        if self.spans_cfg.is_none() {
            return;
        }
        if !self.ensure_started() {
            report(Err(Cow::Borrowed(SETUP_FAILED)), 0, 1);
            return;
        }
        let data = self.mapper.span_data(span);
        if self.spans.is_empty() {
            self.spans_since = Some(Instant::now());
        }
        self.spans.push(data);
        if self.spans.len() >= self.span_batch.effective_batch_size() {
            let deadline = crate::clock::deadline_in(self.span_batch.export_timeout);
            self.send_spans(deadline);
        }
    }

    fn wants_logs(&self) -> bool {
        self.logs_cfg.is_some()
    }

    fn wants_spans(&self) -> bool {
        self.spans_cfg.is_some()
    }

    fn tick(&mut self, now: Instant) {
        // Count the answers that came since the last send.
        if let State::Running(live) = &self.state
            && let Some(rt) = &live.rt
        {
            settle_in_flight(&mut self.in_flight, rt, None);
        }
        if self
            .logs_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.log_batch.schedule_delay)
        {
            self.send_logs(crate::clock::deadline_after(
                now,
                self.log_batch.export_timeout,
            ));
        }
        if self
            .spans_since
            .is_some_and(|t| now.saturating_duration_since(t) >= self.span_batch.schedule_delay)
        {
            self.send_spans(crate::clock::deadline_after(
                now,
                self.span_batch.export_timeout,
            ));
        }
    }

    fn flush(&mut self, deadline: Instant) {
        self.send_logs(deadline);
        self.send_spans(deadline);
        self.settle_all(deadline);
    }

    fn shutdown(&mut self, deadline: Instant) {
        self.flush(deadline);
        if let State::Running(mut live) = std::mem::replace(&mut self.state, State::Closed) {
            live.close(deadline);
        }
        // Requests still unanswered at the deadline are given up, counted.
        for f in self.in_flight.drain(..) {
            f.task.abort();
            report(Err(Cow::Borrowed(NOT_SENT)), f.logs, 0);
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{Level, TraceContext};

    #[test]
    fn unreachable_collector_counts_failures_and_respects_deadline() {
        // Nothing listens on port 9 of 127.0.0.1 (discard): connections are
        // refused, retried, then the batch is dropped.
        let cfg = OtlpConfig::default()
            .endpoint("http://127.0.0.1:9")
            .timeout(Duration::from_millis(300))
            .batch_size(4);
        let Ok(mut exp) = OtlpExporter::new(cfg) else {
            panic!("valid config")
        };
        let before = otlp_stats();
        let view = LogView {
            time_unix_nano: 1,
            observed_unix_nano: 2,
            level: Level::Info,
            target: "t",
            message: "m",
            trace: TraceContext::default(),
            correlation_id: None,
            thread: "main",
            truncated: false,
            adjusted_count: 1,
            replayed: false,
            fields: &[],
        };
        exp.set_resource(&Resource::builder().build_with(|_| None));
        exp.export_log(&view);
        exp.export_log(&view);
        let start = Instant::now();
        exp.flush(start + Duration::from_millis(200));
        assert!(
            start.elapsed() < Duration::from_millis(1500),
            "{:?}",
            start.elapsed()
        );
        exp.shutdown(Instant::now() + Duration::from_millis(200));
        let after = otlp_stats();
        assert!(after.logs_failed >= before.logs_failed + 2);
        assert!(after.export_errors > before.export_errors);
        // After shutdown nothing is exported.
        exp.export_log(&view);
        exp.flush(Instant::now() + Duration::from_millis(100));
        assert!(otlp_stats().logs_failed >= before.logs_failed + 3);
    }
}
