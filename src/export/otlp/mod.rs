//! OTLP export of log records and spans (gRPC or HTTP/protobuf), through
//! `opentelemetry-otlp`.
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
//! | `OTEL_EXPORTER_OTLP[_{LOGS,TRACES}]_PROTOCOL` | `grpc` or `http/protobuf` (`http/json` is refused) | `grpc` |
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
//! is reached over TLS on all four paths (logs and spans, gRPC and
//! HTTP/protobuf): rustls with the `ring` provider (or the process's default
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
//! then `http://`; an HTTP/protobuf endpoint needs its scheme.
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
//! `wire.rs`); it allocates nothing per record. [`LogEncoder::Sdk`]
//! goes through `opentelemetry-otlp`: each record becomes an SDK log record
//! that it converts. Spans always take the SDK path.

mod client;
mod error;
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
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord};
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};

use self::wire::LogRequestEncoder;
use crate::export::{Exporter, LogView, SpanView};
use crate::resource::Resource;
use runtime::{Live, run};
use transport::{Prepared, prepare};

pub use error::OtlpError;
use error::{cfg_err, env_err};
use sdk::{Mapper, sdk_resource};
use stats::{EXPORT_ERRORS, EXPORT_REQUESTS, outcome_of, report, report_setup_failure};
pub use stats::{OtlpStats, otlp_stats};

// ---------------------------------------------------------------------------
// Environment variable names
// ---------------------------------------------------------------------------

/// Base endpoint of every signal.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Endpoint of logs, used as is.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Endpoint of traces, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Protocol of every signal.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Protocol of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// Protocol of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// Headers of every signal.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// Headers of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Timeout of every signal, milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Timeout of logs, milliseconds.
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// Timeout of traces, milliseconds.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// Compression of every signal.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Compression of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// Compression of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// PEM file of the CA certificates that verify the collector, every signal.
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// PEM file of the CA certificates that verify the logs collector.
pub const OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE";
/// PEM file of the CA certificates that verify the traces collector.
pub const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// PEM file of the client's private key (mutual TLS), every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// PEM file of the client's private key (mutual TLS), logs.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY";
/// PEM file of the client's private key (mutual TLS), traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
/// PEM file of the client's certificate chain (mutual TLS), every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// PEM file of the client's certificate chain (mutual TLS), logs.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE";
/// PEM file of the client's certificate chain (mutual TLS), traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, every signal.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, logs.
pub const OTEL_EXPORTER_OTLP_LOGS_INSECURE: &str = "OTEL_EXPORTER_OTLP_LOGS_INSECURE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, traces.
pub const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// Delay between two sends of log records, milliseconds.
pub const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// Log records per request.
pub const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";
/// Bound of one log batch's export, milliseconds.
pub const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
/// Queue size of log records (caps the batch size).
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// Delay between two sends of spans, milliseconds.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Spans per request.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Bound of one span batch's export, milliseconds.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Queue size of spans (caps the batch size).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";

/// Default gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default HTTP endpoint (the signal's path is appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default exporter timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of records (or spans) per request.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default queue size.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Default bound of one batch's export.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default delay between two sends of log records.
pub const DEFAULT_LOGS_SCHEDULE_DELAY: Duration = Duration::from_millis(1000);
/// Default delay between two sends of spans.
pub const DEFAULT_SPANS_SCHEDULE_DELAY: Duration = Duration::from_millis(5000);
/// Default number of retries of a failed request (throttling, unavailable).
pub const DEFAULT_MAX_RETRIES: usize = 3;

// ---------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------

/// The OTLP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`).
    HttpProtobuf,
}

/// Request compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip.
    Gzip,
}

/// How log records are turned into OTLP requests (see the
/// [module docs](self#log-encoders)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LogEncoder {
    /// This crate's protobuf encoder and client: no allocation per record.
    #[default]
    Direct,
    /// `opentelemetry-otlp`'s conversion of SDK log records.
    Sdk,
}

/// A signal, for the per-signal getters of [`OtlpConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Log records.
    Logs,
    /// Spans.
    Traces,
}

impl Signal {
    fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
        }
    }
}

/// How one signal is batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Records (or spans) per request; at least 1.
    pub max_export_batch_size: usize,
    /// A batch is sent at the latest this long after its first record.
    pub schedule_delay: Duration,
    /// Bound of one batch's export, retries included.
    pub export_timeout: Duration,
    /// The OpenTelemetry queue size. This exporter holds at most one batch
    /// (the engine's queue is in front of it), so the value only caps
    /// `max_export_batch_size`.
    pub max_queue_size: usize,
}

impl BatchConfig {
    /// The specification's defaults for log records.
    pub const fn logs_default() -> BatchConfig {
        BatchConfig {
            max_export_batch_size: DEFAULT_BATCH_SIZE,
            schedule_delay: DEFAULT_LOGS_SCHEDULE_DELAY,
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
        }
    }

    /// The specification's defaults for spans.
    pub const fn spans_default() -> BatchConfig {
        BatchConfig {
            schedule_delay: DEFAULT_SPANS_SCHEDULE_DELAY,
            ..BatchConfig::logs_default()
        }
    }

    /// The batch size in effect: `max_export_batch_size` capped by
    /// `max_queue_size`, at least 1.
    pub fn effective_batch_size(&self) -> usize {
        self.max_export_batch_size.min(self.max_queue_size).max(1)
    }
}

/// Where an endpoint came from in the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
enum EnvEndpoint {
    /// No variable: the protocol's default base.
    Default,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: a base.
    Base(String),
    /// The signal's own variable: used as is.
    Exact(String),
}

/// One signal's settings, the environment applied.
#[derive(Clone, Debug, PartialEq)]
struct SignalConfig {
    env_endpoint: EnvEndpoint,
    /// Builder's per-signal endpoint, used as is.
    endpoint: Option<String>,
    protocol: Protocol,
    headers: Vec<(String, String)>,
    timeout: Duration,
    compression: Option<Compression>,
    batch: BatchConfig,
    tls: TlsFiles,
}

/// Where a setting came from, for its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// An environment variable.
    Env(&'static str),
    /// A builder method: the setting's name.
    Builder(&'static str),
}

impl Origin {
    fn error(self, reason: impl Into<String>) -> OtlpError {
        match self {
            Origin::Env(var) => env_err(var, reason),
            Origin::Builder(setting) => cfg_err(setting, reason),
        }
    }
}

/// A PEM file's path and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
struct PemFile {
    path: PathBuf,
    origin: Origin,
}

/// One signal's TLS settings. The files are read by [`OtlpExporter::new`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct TlsFiles {
    /// CA certificates; `None`: the system's roots.
    certificate: Option<PemFile>,
    client_certificate: Option<PemFile>,
    client_key: Option<PemFile>,
    /// A gRPC endpoint without a scheme is `http://` (else `https://`).
    insecure: bool,
}

/// Names of one signal's variables.
struct SignalVars {
    endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    compression: &'static str,
    certificate: &'static str,
    client_key: &'static str,
    client_certificate: &'static str,
    insecure: &'static str,
    schedule_delay: &'static str,
    batch_size: &'static str,
    export_timeout: &'static str,
    queue_size: &'static str,
}

const LOGS_VARS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_LOGS_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    certificate: OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    client_certificate: OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    schedule_delay: OTEL_BLRP_SCHEDULE_DELAY,
    batch_size: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    export_timeout: OTEL_BLRP_EXPORT_TIMEOUT,
    queue_size: OTEL_BLRP_MAX_QUEUE_SIZE,
};

const TRACES_VARS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    client_certificate: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    schedule_delay: OTEL_BSP_SCHEDULE_DELAY,
    batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    export_timeout: OTEL_BSP_EXPORT_TIMEOUT,
    queue_size: OTEL_BSP_MAX_QUEUE_SIZE,
};

/// Configuration of an [`OtlpExporter`]: the environment (see the
/// [module docs](self)), overridden by the builder methods.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    logs: SignalConfig,
    traces: SignalConfig,
    /// Builder's generic endpoint (a base).
    endpoint: Option<String>,
    logs_enabled: bool,
    spans_enabled: bool,
    max_retries: usize,
    log_encoder: LogEncoder,
}

impl Default for OtlpConfig {
    /// The defaults, without reading the environment.
    fn default() -> OtlpConfig {
        let signal = |batch| SignalConfig {
            env_endpoint: EnvEndpoint::Default,
            endpoint: None,
            protocol: Protocol::Grpc,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            compression: None,
            batch,
            tls: TlsFiles::default(),
        };
        OtlpConfig {
            logs: signal(BatchConfig::logs_default()),
            traces: signal(BatchConfig::spans_default()),
            endpoint: None,
            logs_enabled: true,
            spans_enabled: true,
            max_retries: DEFAULT_MAX_RETRIES,
            log_encoder: LogEncoder::default(),
        }
    }
}

impl OtlpConfig {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<OtlpConfig, OtlpError> {
        OtlpConfig::from_env_with(|name| std::env::var(name).ok())
    }

    /// The configuration from an environment read through `env` (a
    /// variable's value, or `None` when unset).
    pub fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<OtlpConfig, OtlpError> {
        let get = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
        let mut cfg = OtlpConfig::default();

        let generic_endpoint = get(OTEL_EXPORTER_OTLP_ENDPOINT).map(|v| v.trim().to_string());
        let generic_protocol = match get(OTEL_EXPORTER_OTLP_PROTOCOL) {
            Some(v) => Some(parse_protocol(OTEL_EXPORTER_OTLP_PROTOCOL, &v)?),
            None => None,
        };
        let generic_headers = match get(OTEL_EXPORTER_OTLP_HEADERS) {
            Some(v) => Some(parse_headers(OTEL_EXPORTER_OTLP_HEADERS, &v)?),
            None => None,
        };
        let generic_timeout = match get(OTEL_EXPORTER_OTLP_TIMEOUT) {
            Some(v) => Some(parse_timeout(OTEL_EXPORTER_OTLP_TIMEOUT, &v)?),
            None => None,
        };
        let generic_compression = match get(OTEL_EXPORTER_OTLP_COMPRESSION) {
            Some(v) => Some(parse_compression(OTEL_EXPORTER_OTLP_COMPRESSION, &v)?),
            None => None,
        };
        let pem = |var: &'static str| {
            get(var).map(|v| PemFile {
                path: PathBuf::from(v.trim()),
                origin: Origin::Env(var),
            })
        };
        let generic_certificate = pem(OTEL_EXPORTER_OTLP_CERTIFICATE);
        let generic_client_key = pem(OTEL_EXPORTER_OTLP_CLIENT_KEY);
        let generic_client_certificate = pem(OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE);
        let generic_insecure = match get(OTEL_EXPORTER_OTLP_INSECURE) {
            Some(v) => Some(parse_bool(OTEL_EXPORTER_OTLP_INSECURE, &v)?),
            None => None,
        };

        for (signal, vars) in [(&mut cfg.logs, &LOGS_VARS), (&mut cfg.traces, &TRACES_VARS)] {
            signal.env_endpoint = match (get(vars.endpoint), &generic_endpoint) {
                (Some(e), _) => EnvEndpoint::Exact(e.trim().to_string()),
                (None, Some(b)) => EnvEndpoint::Base(b.clone()),
                (None, None) => EnvEndpoint::Default,
            };
            if let Some(p) = match get(vars.protocol) {
                Some(v) => Some(parse_protocol(vars.protocol, &v)?),
                None => generic_protocol,
            } {
                signal.protocol = p;
            }
            if let Some(h) = match get(vars.headers) {
                Some(v) => Some(parse_headers(vars.headers, &v)?),
                None => generic_headers.clone(),
            } {
                signal.headers = h;
            }
            if let Some(t) = match get(vars.timeout) {
                Some(v) => Some(parse_timeout(vars.timeout, &v)?),
                None => generic_timeout,
            } {
                signal.timeout = t;
            }
            if let Some(c) = match get(vars.compression) {
                Some(v) => Some(parse_compression(vars.compression, &v)?),
                None => generic_compression,
            } {
                signal.compression = c;
            }
            if let Some(f) = pem(vars.certificate).or_else(|| generic_certificate.clone()) {
                signal.tls.certificate = Some(f);
            }
            if let Some(f) = pem(vars.client_key).or_else(|| generic_client_key.clone()) {
                signal.tls.client_key = Some(f);
            }
            if let Some(f) =
                pem(vars.client_certificate).or_else(|| generic_client_certificate.clone())
            {
                signal.tls.client_certificate = Some(f);
            }
            if let Some(b) = match get(vars.insecure) {
                Some(v) => Some(parse_bool(vars.insecure, &v)?),
                None => generic_insecure,
            } {
                signal.tls.insecure = b;
            }
            if let Some(v) = get(vars.schedule_delay) {
                signal.batch.schedule_delay = parse_millis(vars.schedule_delay, &v)?;
            }
            if let Some(v) = get(vars.batch_size) {
                signal.batch.max_export_batch_size = parse_count(vars.batch_size, &v)?;
            }
            if let Some(v) = get(vars.export_timeout) {
                signal.batch.export_timeout = parse_millis(vars.export_timeout, &v)?;
            }
            if let Some(v) = get(vars.queue_size) {
                signal.batch.max_queue_size = parse_count(vars.queue_size, &v)?;
            }
        }
        Ok(cfg)
    }

    fn signal_cfg(&self, signal: Signal) -> &SignalConfig {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
        }
    }

    fn both(&mut self, mut f: impl FnMut(&mut SignalConfig)) {
        f(&mut self.logs);
        f(&mut self.traces);
    }

    /// Sets the base endpoint of both signals (HTTP appends `/v1/logs` or
    /// `/v1/traces`); wins over every endpoint variable.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Sets the endpoint of logs, used as is; wins over [`Self::endpoint`].
    pub fn logs_endpoint(mut self, url: impl Into<String>) -> Self {
        self.logs.endpoint = Some(url.into());
        self
    }

    /// Sets the endpoint of traces, used as is; wins over [`Self::endpoint`].
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces.endpoint = Some(url.into());
        self
    }

    /// Sets the protocol of both signals.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.both(|s| s.protocol = protocol);
        self
    }

    /// Adds a header (gRPC metadata) to both signals' requests, replacing one
    /// of the same name (case-insensitive) from the environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into().to_ascii_lowercase(), value.into());
        self.both(|s| set_header(&mut s.headers, name.clone(), value.clone()));
        self
    }

    /// Adds headers, as [`Self::header`] does for each.
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in headers {
            self = self.header(k, v);
        }
        self
    }

    /// Sets the timeout of one request, retries included, for both signals.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.both(|s| s.timeout = timeout);
        self
    }

    /// Sets the compression of both signals (`None`: uncompressed; see the
    /// [module docs](self) for the one case where the environment wins).
    pub fn compression(mut self, compression: Option<Compression>) -> Self {
        self.both(|s| s.compression = compression);
        self
    }

    /// Sets the PEM file of the CA certificates that verify the collector's
    /// certificate, for both signals (default: the system's roots). Read by
    /// [`OtlpExporter::new`], and only for an `https://` endpoint.
    pub fn certificate(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "certificate");
        self.both(|s| s.tls.certificate = Some(file.clone()));
        self
    }

    /// Sets the PEM file of the client's certificate chain for mutual TLS,
    /// for both signals; needs [`Self::client_key`].
    pub fn client_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "client certificate");
        self.both(|s| s.tls.client_certificate = Some(file.clone()));
        self
    }

    /// Sets the PEM file of the client's private key (PKCS#8, PKCS#1 or
    /// SEC1) for mutual TLS, for both signals; needs
    /// [`Self::client_certificate`].
    pub fn client_key(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "client key");
        self.both(|s| s.tls.client_key = Some(file.clone()));
        self
    }

    /// Sets how a gRPC endpoint given without a scheme (`host:port`) is
    /// reached, for both signals: `false` (the default), over TLS
    /// (`https://`); `true`, in the clear (`http://`). An endpoint with a
    /// scheme, and every HTTP/protobuf endpoint, are not affected.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.both(|s| s.tls.insecure = insecure);
        self
    }

    /// Whether log records are exported (default true).
    pub fn logs(mut self, enabled: bool) -> Self {
        self.logs_enabled = enabled;
        self
    }

    /// Whether spans are exported (default true).
    pub fn spans(mut self, enabled: bool) -> Self {
        self.spans_enabled = enabled;
        self
    }

    /// Sets the records (and spans) per request of both signals.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.both(|s| s.batch.max_export_batch_size = size);
        self
    }

    /// Sets the longest wait before a batch is sent, for both signals.
    pub fn schedule_delay(mut self, delay: Duration) -> Self {
        self.both(|s| s.batch.schedule_delay = delay);
        self
    }

    /// Sets the queue size of both signals (it caps the batch size).
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.both(|s| s.batch.max_queue_size = size);
        self
    }

    /// Sets the bound of one batch's export, for both signals.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.both(|s| s.batch.export_timeout = timeout);
        self
    }

    /// Sets the whole batching of log records.
    pub fn logs_batch(mut self, batch: BatchConfig) -> Self {
        self.logs.batch = batch;
        self
    }

    /// Sets the whole batching of spans.
    pub fn spans_batch(mut self, batch: BatchConfig) -> Self {
        self.traces.batch = batch;
        self
    }

    /// Sets how many times a throttled or failed request is retried, with
    /// exponential backoff from 100 ms up to 1.6 s (or what the collector
    /// asks for), within the timeout. 0 disables retries.
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets how log records are encoded and sent (default
    /// [`LogEncoder::Direct`]); spans always take the SDK path.
    pub fn log_encoder(mut self, encoder: LogEncoder) -> Self {
        self.log_encoder = encoder;
        self
    }

    /// The log encoder in effect.
    pub fn log_encoder_in_use(&self) -> LogEncoder {
        self.log_encoder
    }

    /// The endpoint a signal is sent to, all layers applied. A gRPC
    /// endpoint configured without a scheme (`host:port`) comes back with
    /// `https://`, or `http://` when [`Self::insecure_for`] it.
    pub fn endpoint_for(&self, signal: Signal) -> String {
        let s = self.signal_cfg(signal);
        let e = self.configured_endpoint(signal);
        if s.protocol == Protocol::Grpc && !has_scheme(&e) {
            let scheme = if s.tls.insecure { "http" } else { "https" };
            return format!("{scheme}://{e}");
        }
        e
    }

    /// The endpoint as configured (before a scheme is added).
    fn configured_endpoint(&self, signal: Signal) -> String {
        let s = self.signal_cfg(signal);
        let join = |base: &str| match s.protocol {
            Protocol::Grpc => base.to_string(),
            Protocol::HttpProtobuf => {
                format!("{}{}", base.trim_end_matches('/'), signal.http_path())
            }
        };
        if let Some(e) = &s.endpoint {
            return e.clone();
        }
        if let Some(b) = &self.endpoint {
            return join(b);
        }
        match &s.env_endpoint {
            EnvEndpoint::Exact(e) => e.clone(),
            EnvEndpoint::Base(b) => join(b),
            EnvEndpoint::Default => join(match s.protocol {
                Protocol::Grpc => DEFAULT_GRPC_ENDPOINT,
                Protocol::HttpProtobuf => DEFAULT_HTTP_ENDPOINT,
            }),
        }
    }

    /// A signal's protocol.
    pub fn protocol_for(&self, signal: Signal) -> Protocol {
        self.signal_cfg(signal).protocol
    }

    /// A signal's headers (names in lower case).
    pub fn headers_for(&self, signal: Signal) -> &[(String, String)] {
        &self.signal_cfg(signal).headers
    }

    /// A signal's request timeout.
    pub fn timeout_for(&self, signal: Signal) -> Duration {
        self.signal_cfg(signal).timeout
    }

    /// A signal's compression.
    pub fn compression_for(&self, signal: Signal) -> Option<Compression> {
        self.signal_cfg(signal).compression
    }

    /// A signal's batching.
    pub fn batch_for(&self, signal: Signal) -> BatchConfig {
        self.signal_cfg(signal).batch
    }

    /// The PEM file of a signal's CA certificates (`None`: the system's
    /// roots).
    pub fn certificate_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .certificate
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// The PEM file of a signal's client certificate (mutual TLS).
    pub fn client_certificate_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .client_certificate
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// The PEM file of a signal's client key (mutual TLS).
    pub fn client_key_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .client_key
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// Whether a signal's gRPC endpoint given without a scheme is reached in
    /// the clear.
    pub fn insecure_for(&self, signal: Signal) -> bool {
        self.signal_cfg(signal).tls.insecure
    }

    /// Whether log records are exported.
    pub fn logs_enabled(&self) -> bool {
        self.logs_enabled
    }

    /// Whether spans are exported.
    pub fn spans_enabled(&self) -> bool {
        self.spans_enabled
    }
}

fn pem_file(path: impl Into<PathBuf>, setting: &'static str) -> PemFile {
    PemFile {
        path: path.into(),
        origin: Origin::Builder(setting),
    }
}

/// Whether `endpoint` starts with a scheme (`scheme://`), the rule of
/// `opentelemetry-otlp`.
fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']))
}

fn set_header(headers: &mut Vec<(String, String)>, name: String, value: String) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(&name))
    {
        Some(slot) => slot.1 = value,
        None => headers.push((name, value)),
    }
}

fn parse_protocol(var: &'static str, value: &str) -> Result<Protocol, OtlpError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err(env_err(
            var,
            "`http/json` is not supported; use `grpc` or `http/protobuf`",
        )),
        _ => Err(env_err(
            var,
            format!(
                "unknown protocol {:?}; expected `grpc` or `http/protobuf`",
                value.trim()
            ),
        )),
    }
}

fn parse_compression(var: &'static str, value: &str) -> Result<Option<Compression>, OtlpError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Some(Compression::Gzip)),
        "none" => Ok(None),
        _ => Err(env_err(
            var,
            format!(
                "unsupported compression {:?}; expected `gzip` or `none`",
                value.trim()
            ),
        )),
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, OtlpError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(env_err(
            var,
            format!("expected `true` or `false`, got {:?}", value.trim()),
        )),
    }
}

fn parse_millis(var: &'static str, value: &str) -> Result<Duration, OtlpError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| {
            env_err(
                var,
                format!(
                    "expected milliseconds as a non-negative integer, got {:?}",
                    value.trim()
                ),
            )
        })
}

fn parse_timeout(var: &'static str, value: &str) -> Result<Duration, OtlpError> {
    let t = parse_millis(var, value)?;
    if t.is_zero() {
        return Err(env_err(var, "the timeout must be greater than 0"));
    }
    Ok(t)
}

fn parse_count(var: &'static str, value: &str) -> Result<usize, OtlpError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(env_err(
            var,
            format!("expected a positive integer, got {:?}", value.trim()),
        )),
    }
}

/// `k=v,k2=v2`: entries trimmed, keys and values percent-decoded, empty
/// entries skipped, the last of a repeated key wins. Values are never
/// echoed in errors.
fn parse_headers(var: &'static str, value: &str) -> Result<Vec<(String, String)>, OtlpError> {
    let mut out = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((k, v)) = entry.split_once('=') else {
            return Err(env_err(var, format!("entry {n} has no `=`")));
        };
        let key = percent_decode(k.trim())
            .ok_or_else(|| env_err(var, format!("entry {n}: bad percent-encoding in the name")))?;
        if key.is_empty() {
            return Err(env_err(var, format!("entry {n} has an empty name")));
        }
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(env_err(
                var,
                format!("entry {n}: {key:?} is not a valid header name"),
            ));
        }
        let val = percent_decode(v.trim()).ok_or_else(|| {
            env_err(
                var,
                format!("entry {n} ({key}): bad percent-encoding in the value"),
            )
        })?;
        if http::HeaderValue::from_str(&val).is_err() {
            return Err(env_err(
                var,
                format!("entry {n} ({key}): the value is not a valid header value"),
            ));
        }
        set_header(&mut out, key.to_ascii_lowercase(), val);
    }
    Ok(out)
}

use crate::resource::percent_decode;

enum State {
    /// Not set up yet.
    Idle,
    Running(Box<Live>),
    /// Setup failed: records are counted as failed.
    Failed,
    /// Shut down.
    Closed,
}

// ---------------------------------------------------------------------------
// The exporter
// ---------------------------------------------------------------------------

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
    /// The pending log records of [`LogEncoder::Direct`], encoded.
    wire_logs: LogRequestEncoder,
    /// The request of [`LogEncoder::Direct`], reused.
    wire_request: Vec<u8>,
    logs_since: Option<Instant>,
    spans: Vec<SpanData>,
    spans_since: Option<Instant>,
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
            wire_logs: LogRequestEncoder::new(),
            wire_request: Vec::new(),
            logs_since: None,
            spans: Vec::new(),
            spans_since: None,
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

    /// Sends the pending log records of [`LogEncoder::Direct`], giving up at
    /// `deadline`.
    fn send_wire_logs(&mut self, deadline: Instant) {
        let n = self.wire_logs.len() as u64;
        let mut outcome = Err(Cow::Borrowed(NOT_SENT));
        if let State::Running(live) = &self.state
            && let (Some(rt), Some(client)) = (&live.rt, &live.wire)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !remaining.is_zero() {
                self.wire_request.clear();
                self.wire_logs.encode_request(&mut self.wire_request);
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                let request = &self.wire_request[..];
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, client.export(request)).await
                });
                outcome = outcome_of(result);
            }
        }
        report(outcome, n, 0);
        self.wire_logs.clear();
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
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, exporter.export(LogBatch::new(pairs))).await
                });
                outcome = outcome_of(result);
            }
        }
        report(outcome, n, 0);
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
            && let (Some(rt), Some(exporter)) = (&live.rt, &live.spans)
        {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if !remaining.is_zero() {
                EXPORT_REQUESTS.fetch_add(1, Relaxed);
                let result = run(rt, async move {
                    tokio::time::timeout(remaining, exporter.export(batch)).await
                });
                outcome = outcome_of(result);
            }
        }
        report(outcome, 0, n);
    }
}

const SETUP_FAILED: &str = "the OTLP exporter could not be set up (see stderr)";

/// A batch that was not sent: the exporter is not running, or the deadline
/// had passed.
const NOT_SENT: &str = "not sent: the exporter is not running or the deadline passed";

impl Exporter for OtlpExporter {
    fn set_resource(&mut self, resource: &Resource) {
        self.wire_logs.set_resource(resource);
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
        if self.log_encoder == LogEncoder::Direct {
            if self.wire_logs.is_empty() {
                self.logs_since = Some(Instant::now());
            }
            self.wire_logs.push(log);
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
    }

    fn shutdown(&mut self, deadline: Instant) {
        self.flush(deadline);
        if let State::Running(mut live) = std::mem::replace(&mut self.state, State::Closed) {
            live.close(deadline);
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::test_env::{cfg, err};
    use super::*;
    use crate::{Level, TraceContext};

    #[test]
    fn defaults() {
        let c = cfg(&[]);
        assert_eq!(c, OtlpConfig::default());
        assert_eq!(c.endpoint_for(Signal::Logs), "http://localhost:4317");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://localhost:4317");
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_secs(10));
        assert_eq!(c.compression_for(Signal::Traces), None);
        assert_eq!(c.batch_for(Signal::Logs), BatchConfig::logs_default());
        assert_eq!(
            c.batch_for(Signal::Logs).schedule_delay,
            Duration::from_millis(1000)
        );
        assert_eq!(
            c.batch_for(Signal::Traces).schedule_delay,
            Duration::from_millis(5000)
        );
        assert_eq!(c.batch_for(Signal::Traces).max_export_batch_size, 512);
        assert!(c.logs_enabled() && c.spans_enabled());
        let http = c.protocol(Protocol::HttpProtobuf);
        assert_eq!(
            http.endpoint_for(Signal::Logs),
            "http://localhost:4318/v1/logs"
        );
        assert_eq!(
            http.endpoint_for(Signal::Traces),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn endpoint_precedence() {
        // (vars, protocol, expected logs, expected traces)
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let table: &[Row<'_>] = &[
            (
                &[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317")],
                "http://c:4317",
                "http://c:4317",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317"),
                    (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:1/x"),
                ],
                "http://l:1/x",
                "http://c:4317",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318/"),
                    (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://t:2/custom"),
                ],
                "http://c:4318/v1/logs",
                "http://t:2/custom",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318/base"),
                ],
                "http://c:4318/base/v1/logs",
                "http://c:4318/base/v1/traces",
            ),
            (
                &[(OTEL_EXPORTER_OTLP_ENDPOINT, "   ")],
                "http://localhost:4317",
                "http://localhost:4317",
            ),
        ];
        for (vars, logs, traces) in table {
            let c = cfg(vars);
            assert_eq!(c.endpoint_for(Signal::Logs), *logs, "{vars:?}");
            assert_eq!(c.endpoint_for(Signal::Traces), *traces, "{vars:?}");
        }
        // Builder: generic beats every variable, per-signal beats generic.
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:1"),
            (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:1"),
        ])
        .traces_endpoint("http://bt:9/t")
        .endpoint("http://b:2");
        assert_eq!(c.endpoint_for(Signal::Logs), "http://b:2");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://bt:9/t");
        let c = c.protocol(Protocol::HttpProtobuf);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://b:2/v1/logs");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://bt:9/t");
    }

    #[test]
    fn signal_specific_wins_over_generic() {
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "2000"),
            (OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, "3000"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none"),
            (OTEL_EXPORTER_OTLP_HEADERS, "a=1,b=2"),
            (OTEL_EXPORTER_OTLP_LOGS_HEADERS, "c=3"),
        ]);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::HttpProtobuf);
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_millis(3000));
        assert_eq!(c.timeout_for(Signal::Traces), Duration::from_millis(2000));
        assert_eq!(c.compression_for(Signal::Logs), Some(Compression::Gzip));
        assert_eq!(c.compression_for(Signal::Traces), None);
        // The signal's variable replaces the generic one as a whole.
        assert_eq!(c.headers_for(Signal::Logs), &[("c".into(), "3".into())]);
        assert_eq!(
            c.headers_for(Signal::Traces),
            &[("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        // The builder wins over both.
        let c = c
            .protocol(Protocol::Grpc)
            .timeout(Duration::from_millis(5))
            .compression(None)
            .header("B", "builder");
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_millis(5));
        assert_eq!(c.compression_for(Signal::Logs), None);
        assert_eq!(
            c.headers_for(Signal::Logs),
            &[("c".into(), "3".into()), ("b".into(), "builder".into())]
        );
        assert_eq!(
            c.headers_for(Signal::Traces),
            &[("a".into(), "1".into()), ("b".into(), "builder".into())]
        );
    }

    #[test]
    fn protocol_values() {
        for (v, p) in [
            ("grpc", Protocol::Grpc),
            (" GRPC ", Protocol::Grpc),
            ("http/protobuf", Protocol::HttpProtobuf),
            ("HTTP/Protobuf", Protocol::HttpProtobuf),
        ] {
            assert_eq!(
                cfg(&[(OTEL_EXPORTER_OTLP_PROTOCOL, v)]).protocol_for(Signal::Logs),
                p,
                "{v}"
            );
        }
        for v in ["http/json", "thrift", "http"] {
            let e = err(&[(OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, v)]);
            assert!(
                matches!(&e, OtlpError::InvalidEnv { var, .. } if *var == OTEL_EXPORTER_OTLP_LOGS_PROTOCOL),
                "{e}"
            );
            assert!(e.to_string().contains("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"));
        }
        assert!(
            err(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")])
                .to_string()
                .contains("http/json")
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let table: &[(&str, &str)] = &[
            (OTEL_EXPORTER_OTLP_TIMEOUT, "10s"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "-1"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "0"),
            (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "1.5"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd"),
            (OTEL_EXPORTER_OTLP_LOGS_COMPRESSION, "br"),
            (OTEL_BLRP_SCHEDULE_DELAY, "soon"),
            (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "0"),
            (OTEL_BLRP_MAX_QUEUE_SIZE, "-5"),
            (OTEL_BLRP_EXPORT_TIMEOUT, "x"),
            (OTEL_BSP_SCHEDULE_DELAY, "1e3"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "many"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "0"),
            (OTEL_BSP_EXPORT_TIMEOUT, "99999999999999999999999"),
            (OTEL_EXPORTER_OTLP_HEADERS, "novalue"),
            (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "a=%zz"),
        ];
        for (var, value) in table {
            let e = err(&[(var, value)]);
            match &e {
                OtlpError::InvalidEnv { var: v, .. } => assert_eq!(v, var, "{e}"),
                other => panic!("{other:?}"),
            }
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn batch_values() {
        let c = cfg(&[
            (OTEL_BLRP_SCHEDULE_DELAY, "250"),
            (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "100"),
            (OTEL_BLRP_EXPORT_TIMEOUT, "7000"),
            (OTEL_BLRP_MAX_QUEUE_SIZE, "4096"),
            (OTEL_BSP_SCHEDULE_DELAY, "0"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "1000"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "64"),
        ]);
        assert_eq!(
            c.batch_for(Signal::Logs),
            BatchConfig {
                max_export_batch_size: 100,
                schedule_delay: Duration::from_millis(250),
                export_timeout: Duration::from_millis(7000),
                max_queue_size: 4096,
            }
        );
        let spans = c.batch_for(Signal::Traces);
        assert_eq!(spans.schedule_delay, Duration::ZERO);
        assert_eq!(spans.export_timeout, DEFAULT_EXPORT_TIMEOUT);
        // The queue size caps the batch size.
        assert_eq!(spans.effective_batch_size(), 64);
        let c = c.batch_size(10).schedule_delay(Duration::from_millis(3));
        assert_eq!(c.batch_for(Signal::Logs).max_export_batch_size, 10);
        assert_eq!(
            c.batch_for(Signal::Traces).schedule_delay,
            Duration::from_millis(3)
        );
    }

    #[test]
    fn headers_parsing() {
        let table: &[(&str, &[(&str, &str)])] = &[
            ("k=v", &[("k", "v")]),
            (" k1 = v1 , k2=v2 ", &[("k1", "v1"), ("k2", "v2")]),
            (
                "Authorization=Basic%20dXNlcjpwYXNz",
                &[("authorization", "Basic dXNlcjpwYXNz")],
            ),
            ("a=b=c", &[("a", "b=c")]),
            ("a=%3D%2C%C3%A9", &[("a", "=,é")]),
            ("a=1,,b=2,", &[("a", "1"), ("b", "2")]),
            ("a=1,A=2", &[("a", "2")]),
            ("a=", &[("a", "")]),
        ];
        for (input, expected) in table {
            let c = cfg(&[(OTEL_EXPORTER_OTLP_HEADERS, input)]);
            let got: Vec<(&str, &str)> = c
                .headers_for(Signal::Logs)
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(&got, expected, "{input}");
        }
        for bad in ["a", "=v", "a b=1", "a=%4", "a=%ff", "a=x%0Ay"] {
            let e = err(&[(OTEL_EXPORTER_OTLP_HEADERS, bad)]);
            assert!(
                e.to_string().contains(OTEL_EXPORTER_OTLP_HEADERS),
                "{bad}: {e}"
            );
        }
        // Values are not echoed.
        let e = err(&[(OTEL_EXPORTER_OTLP_HEADERS, "token=sec%ZZret")]);
        assert!(!e.to_string().contains("sec"), "{e}");
    }

    #[test]
    fn scheme_less_grpc_endpoints() {
        let c = cfg(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317")]);
        assert_eq!(c.endpoint_for(Signal::Logs), "https://collector:4317");
        assert!(!c.insecure_for(Signal::Logs));
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317"),
            (OTEL_EXPORTER_OTLP_INSECURE, "true"),
            (OTEL_EXPORTER_OTLP_TRACES_INSECURE, "false"),
        ]);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://collector:4317");
        assert_eq!(c.endpoint_for(Signal::Traces), "https://collector:4317");
        // The builder wins; a scheme is never changed.
        let c = c.insecure(false);
        assert_eq!(c.endpoint_for(Signal::Logs), "https://collector:4317");
        let c = c.insecure(true).logs_endpoint("https://l:1");
        assert_eq!(c.endpoint_for(Signal::Logs), "https://l:1");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://collector:4317");
        // HTTP/protobuf: left as is (and refused by `OtlpExporter::new`).
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4318"),
            (OTEL_EXPORTER_OTLP_INSECURE, "true"),
        ]);
        assert_eq!(c.endpoint_for(Signal::Logs), "collector:4318/v1/logs");
        assert!(OtlpExporter::new(c).is_err());
    }

    #[test]
    fn insecure_values() {
        for (v, b) in [
            ("true", true),
            (" TRUE ", true),
            ("false", false),
            ("False", false),
        ] {
            let c = cfg(&[(OTEL_EXPORTER_OTLP_LOGS_INSECURE, v)]);
            assert_eq!(c.insecure_for(Signal::Logs), b, "{v}");
            assert!(!c.insecure_for(Signal::Traces), "{v}");
        }
        for var in [
            OTEL_EXPORTER_OTLP_INSECURE,
            OTEL_EXPORTER_OTLP_LOGS_INSECURE,
            OTEL_EXPORTER_OTLP_TRACES_INSECURE,
        ] {
            for bad in ["1", "yes", "on", "truee", "t"] {
                match err(&[(var, bad)]) {
                    OtlpError::InvalidEnv { var: v, reason } => {
                        assert_eq!(v, var, "{bad}");
                        assert!(reason.contains(bad), "{reason}");
                    }
                    other => panic!("{var}={bad}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn tls_file_precedence() {
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_CERTIFICATE, " /g/ca.pem "),
            (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, "/t/ca.pem"),
            (OTEL_EXPORTER_OTLP_CLIENT_KEY, "/g/client.key"),
            (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, "/g/client.pem"),
            (OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY, "/l/client.key"),
            (OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE, "/l/client.pem"),
        ]);
        let p = |s: &str| Some(PathBuf::from(s));
        let own = |o: Option<&Path>| o.map(Path::to_path_buf);
        assert_eq!(own(c.certificate_for(Signal::Logs)), p("/g/ca.pem"));
        assert_eq!(own(c.certificate_for(Signal::Traces)), p("/t/ca.pem"));
        assert_eq!(own(c.client_key_for(Signal::Logs)), p("/l/client.key"));
        assert_eq!(own(c.client_key_for(Signal::Traces)), p("/g/client.key"));
        assert_eq!(
            own(c.client_certificate_for(Signal::Logs)),
            p("/l/client.pem")
        );
        assert_eq!(
            own(c.client_certificate_for(Signal::Traces)),
            p("/g/client.pem")
        );
        // The builder wins over both.
        let c = c
            .certificate("/b/ca.pem")
            .client_key("/b/k")
            .client_certificate("/b/c");
        for signal in [Signal::Logs, Signal::Traces] {
            assert_eq!(own(c.certificate_for(signal)), p("/b/ca.pem"));
            assert_eq!(own(c.client_key_for(signal)), p("/b/k"));
            assert_eq!(own(c.client_certificate_for(signal)), p("/b/c"));
        }
        // Defaults: no files (the system's roots), not insecure.
        let d = OtlpConfig::default();
        assert_eq!(d.certificate_for(Signal::Logs), None);
        assert_eq!(d.client_key_for(Signal::Traces), None);
        assert!(!d.insecure_for(Signal::Logs));
    }

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
