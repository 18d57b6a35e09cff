//! The typed model of a configuration file: plain data, `Option` where the
//! file may leave a property out (or set it to null, which the schema
//! treats the same: the default behaviour applies), so that whoever wires
//! it can apply the precedence builder > file > defaults.
//!
//! Durations are the schema's milliseconds as [`Duration`]; a zero
//! `export_timeout` or `timeout` keeps the schema's meaning ("no limit").

use std::path::PathBuf;
use std::time::Duration;

use super::error::Skipped;
use crate::level::{Directives, Level};
use crate::overflow::Overflow;
use crate::redact::Rule as RedactRule;
use crate::sampler::{LogPolicy, Sampler, Unsampled};

/// A configuration file read and validated: the parts of the OpenTelemetry
/// configuration model the engine implements, the engine's own extension
/// ([`DatapunkLogConfig`], under `distribution.datapunk_log`), and the list
/// of what was left out.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OtelFile {
    /// Where it came from (the path, or the origin given to `from_str`).
    pub origin: String,
    /// `file_format`.
    pub file_format: FileFormat,
    /// `disabled`: the SDK (here: OpenTelemetry export) is off.
    pub disabled: Option<bool>,
    /// `log_level`: the severity of the SDK's own diagnostics.
    pub log_level: Option<Severity>,
    /// `attribute_limits`.
    pub attribute_limits: Option<Limits>,
    /// `resource`.
    pub resource: Option<ResourceConfig>,
    /// `propagator`.
    pub propagator: Option<PropagatorConfig>,
    /// `tracer_provider`.
    pub tracer_provider: Option<TracerProviderConfig>,
    /// `logger_provider`.
    pub logger_provider: Option<LoggerProviderConfig>,
    /// `distribution.datapunk_log`: what the OpenTelemetry format cannot say.
    pub datapunk_log: Option<DatapunkLogConfig>,
    /// Every section, property or component left out, in file order.
    pub skipped: Vec<Skipped>,
}

/// The `file_format` version: `MAJOR.MINOR`, with an optional pre-release
/// tag (`1.0-rc.3`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileFormat {
    /// Major version (only 1 is read).
    pub major: u32,
    /// Minor version.
    pub minor: u32,
    /// Pre-release tag without the `-` (`rc.3`), if any.
    pub pre: Option<String>,
}

/// An OpenTelemetry severity number, 1 (`trace`) to 24 (`fatal4`); the
/// schema's `SeverityNumber` names (`info`, `warn3`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Severity(pub u8);

impl Severity {
    /// The severity of a schema name (`trace` ... `fatal4`).
    pub fn from_name(name: &str) -> Option<Severity> {
        const BASES: [(&str, u8); 6] = [
            ("trace", 1),
            ("debug", 5),
            ("info", 9),
            ("warn", 13),
            ("error", 17),
            ("fatal", 21),
        ];
        BASES.iter().find_map(|&(base, n)| {
            let rest = name.strip_prefix(base)?;
            match rest {
                "" => Some(Severity(n)),
                "2" => Some(Severity(n + 1)),
                "3" => Some(Severity(n + 2)),
                "4" => Some(Severity(n + 3)),
                _ => None,
            }
        })
    }

    /// The lowest engine level whose records pass a `minimum_severity` of
    /// this value (`info2` lets WARN and above through: the engine's INFO
    /// is severity 9).
    pub fn minimum_level(self) -> Level {
        match self.0 {
            0..=1 => Level::Trace,
            2..=5 => Level::Debug,
            6..=9 => Level::Info,
            10..=13 => Level::Warn,
            14..=17 => Level::Error,
            _ => Level::Fatal,
        }
    }
}

/// Attribute, span and log record limits (`attribute_limits`,
/// `tracer_provider.limits`, `logger_provider.limits`); each node accepts
/// the properties the schema gives it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    /// `attribute_value_length_limit`.
    pub attribute_value_length_limit: Option<u64>,
    /// `attribute_value_depth_limit`.
    pub attribute_value_depth_limit: Option<u64>,
    /// `attribute_count_limit`.
    pub attribute_count_limit: Option<u64>,
    /// `event_count_limit` (spans).
    pub event_count_limit: Option<u64>,
    /// `link_count_limit` (spans).
    pub link_count_limit: Option<u64>,
    /// `event_attribute_count_limit` (spans).
    pub event_attribute_count_limit: Option<u64>,
    /// `link_attribute_count_limit` (spans).
    pub link_attribute_count_limit: Option<u64>,
}

/// A typed attribute value (`resource.attributes[].value` with its `type`).
#[derive(Clone, Debug, PartialEq)]
pub enum AttributeValue {
    /// `string`.
    Str(String),
    /// `bool`.
    Bool(bool),
    /// `int`.
    Int(i64),
    /// `double`.
    Double(f64),
    /// `string_array`.
    StrArray(Vec<String>),
    /// `bool_array`.
    BoolArray(Vec<bool>),
    /// `int_array`.
    IntArray(Vec<i64>),
    /// `double_array`.
    DoubleArray(Vec<f64>),
}

/// `resource`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceConfig {
    /// `attributes`, in file order (entries with a null value left out, as
    /// the schema says).
    pub attributes: Vec<(String, AttributeValue)>,
    /// `attributes_list`: `OTEL_RESOURCE_ATTRIBUTES` syntax, lower priority
    /// than `attributes`.
    pub attributes_list: Option<String>,
    /// `schema_url`.
    pub schema_url: Option<String>,
}

impl ResourceConfig {
    /// `attributes_list`'s valid entries (as strings), then `attributes`
    /// (which win): the attributes in the order a builder should apply
    /// them, later ones overriding earlier ones.
    pub fn merged_attributes(&self) -> Vec<(String, AttributeValue)> {
        let mut out: Vec<(String, AttributeValue)> = self
            .attributes_list
            .as_deref()
            .map(|l| {
                crate::resource::parse_resource_attributes(l)
                    .0
                    .into_iter()
                    .map(|(k, v)| (k, AttributeValue::Str(v)))
                    .collect()
            })
            .unwrap_or_default();
        out.extend(self.attributes.iter().cloned());
        out
    }
}

/// A text map propagator the engine implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Propagator {
    /// `tracecontext`: W3C Trace Context.
    TraceContext,
    /// `baggage`: W3C Baggage.
    Baggage,
}

/// `propagator`: `composite`, then `composite_list`'s entries appended,
/// duplicates left out (as the schema says). Unsupported propagators
/// (`b3`, `b3multi`, `xray`, ...) are skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropagatorConfig {
    /// The propagators, in order.
    pub composite: Vec<Propagator>,
}

/// `tracer_provider`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TracerProviderConfig {
    /// `processors` the engine implements (others are skipped).
    pub processors: Vec<Processor>,
    /// `limits`.
    pub limits: Option<Limits>,
    /// `sampler`, mapped to the engine's sampler (see the README for the
    /// mapping); `None`: the default (parent-based, root always on).
    pub sampler: Option<Sampler>,
}

/// `logger_provider`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoggerProviderConfig {
    /// `processors` the engine implements (others are skipped).
    pub processors: Vec<Processor>,
    /// `limits`.
    pub limits: Option<Limits>,
    /// `logger_configurator/development`.
    pub logger_configurator: Option<LoggerConfigurator>,
}

/// A span or log record processor with an exporter the engine implements.
#[derive(Clone, Debug, PartialEq)]
pub enum Processor {
    /// `batch`.
    Batch(BatchProcessor),
    /// `simple`: export each record or span as it ends (the engine still
    /// ships through its export thread; the wiring maps it to a batch of
    /// one).
    Simple(Exporter),
}

impl Processor {
    /// The processor's exporter.
    pub fn exporter(&self) -> &Exporter {
        match self {
            Processor::Batch(b) => &b.exporter,
            Processor::Simple(e) => e,
        }
    }
}

/// `batch`.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchProcessor {
    /// `schedule_delay` (ms).
    pub schedule_delay: Option<Duration>,
    /// `export_timeout` (ms; zero: no limit).
    pub export_timeout: Option<Duration>,
    /// `max_queue_size` (> 0).
    pub max_queue_size: Option<usize>,
    /// `max_export_batch_size` (> 0).
    pub max_export_batch_size: Option<usize>,
    /// `exporter`.
    pub exporter: Exporter,
}

/// An exporter the engine implements.
#[derive(Clone, Debug, PartialEq)]
pub enum Exporter {
    /// `otlp_grpc`.
    OtlpGrpc(OtlpExporter),
    /// `otlp_http` (HTTP/protobuf).
    OtlpHttp(OtlpExporter),
}

/// Request compression (`compression`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// `none`.
    None,
    /// `gzip`.
    Gzip,
}

/// OTLP/HTTP body encoding (`encoding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OtlpEncoding {
    /// `protobuf` (the default).
    Protobuf,
    /// `json` (the engine's exporter sends protobuf only: the wiring
    /// reports it).
    Json,
}

/// TLS settings of an OTLP exporter (`tls`; the pre-1.0 flat names
/// `certificate_file`, `client_key_file`, `client_certificate_file` and
/// `insecure` of `1.0-rc` files land here too).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// `ca_file`: the CA certificate (PEM) that verifies the server.
    pub ca_file: Option<PathBuf>,
    /// `key_file`: the client's private key (PEM) for mTLS.
    pub key_file: Option<PathBuf>,
    /// `cert_file`: the client's certificate (PEM) for mTLS.
    pub cert_file: Option<PathBuf>,
    /// `insecure` (gRPC): plaintext for an endpoint without a scheme.
    pub insecure: Option<bool>,
}

/// `otlp_grpc` / `otlp_http`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OtlpExporter {
    /// `endpoint` (for HTTP: with the signal's path).
    pub endpoint: Option<String>,
    /// `headers`, in order (entries with a null value left out).
    pub headers: Vec<(String, String)>,
    /// `headers_list`: `OTEL_EXPORTER_OTLP_HEADERS` syntax, lower priority
    /// than `headers`.
    pub headers_list: Option<String>,
    /// `compression`.
    pub compression: Option<Compression>,
    /// `timeout` (ms; zero: no limit).
    pub timeout: Option<Duration>,
    /// `tls`.
    pub tls: Option<TlsConfig>,
    /// `encoding` (`otlp_http` only).
    pub encoding: Option<OtlpEncoding>,
    /// `max_request_size` (bytes; zero: no limit).
    pub max_request_size: Option<u64>,
    /// `max_response_size` (bytes).
    pub max_response_size: Option<u64>,
}

/// `logger_configurator/development`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoggerConfigurator {
    /// `default_config`.
    pub default_config: Option<LoggerConfig>,
    /// `loggers`: name patterns (`*` and `?` wildcards) and their config,
    /// in order.
    pub loggers: Vec<LoggerMatcher>,
}

/// One entry of `loggers`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LoggerMatcher {
    /// `name`: the logger (target) pattern.
    pub name: String,
    /// `config`.
    pub config: LoggerConfig,
}

/// A logger's config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoggerConfig {
    /// `enabled` (`1.0-rc` files: `disabled`, inverted).
    pub enabled: Option<bool>,
    /// `minimum_severity`.
    pub minimum_severity: Option<Severity>,
    /// `trace_based`: drop records of unsampled traces.
    pub trace_based: Option<bool>,
}

// ---------------------------------------------------------------------------
// The extension: distribution.datapunk_log
// ---------------------------------------------------------------------------

/// `distribution.datapunk_log`: the engine's settings that the
/// OpenTelemetry configuration model has no place for.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DatapunkLogConfig {
    /// `filter`: directives (`info,my_crate::db=debug`), checked with
    /// [`Directives::parse`].
    pub filter: Option<Directives>,
    /// `ring`.
    pub ring: Option<RingConfig>,
    /// `sinks`, in order.
    pub sinks: Vec<SinkConfig>,
    /// `redaction`.
    pub redaction: Option<RedactionConfig>,
    /// `log_sampling`.
    pub log_sampling: Option<LogSamplingConfig>,
}

/// `ring`: each thread's ring.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RingConfig {
    /// `capacity` in bytes (an integer, or a size such as `1MiB`).
    pub capacity: Option<u64>,
    /// `max_record_bytes` (an integer, or a size such as `64KiB`).
    pub max_record_bytes: Option<u64>,
    /// `overflow`: `block` or `drop`.
    pub overflow: Option<Overflow>,
}

/// A line format (`format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LineFormat {
    /// `json`: one JSON object per line.
    Json,
    /// `console`: human-readable lines.
    Console,
    /// `auto`: console on a terminal, JSON otherwise.
    Auto,
}

/// One entry of `sinks`.
#[derive(Clone, Debug, PartialEq)]
pub enum SinkConfig {
    /// `stdout: {format}`.
    Stdout {
        /// `format`.
        format: Option<LineFormat>,
    },
    /// `stderr: {format}`.
    Stderr {
        /// `format`.
        format: Option<LineFormat>,
    },
    /// `file: {...}`.
    File(FileSinkConfig),
}

/// How often a file rotates by time (`rotation.every`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RotateEvery {
    /// `hourly`.
    Hourly,
    /// `daily`.
    Daily,
}

/// `rotation`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// `size`: rotate when the file reaches this many bytes (`100MiB`).
    pub size: Option<u64>,
    /// `every`: `hourly` or `daily`.
    pub every: Option<RotateEvery>,
    /// `local_time`: time boundaries and file names in local time (default
    /// UTC).
    pub local_time: Option<bool>,
}

/// `retention`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Retention {
    /// `keep_files`: rotated files kept.
    pub keep_files: Option<u64>,
    /// `max_age`: rotated files older than this are removed (`7d`, `12h`,
    /// an integer: seconds).
    pub max_age: Option<Duration>,
    /// `max_total_bytes`: the rotated files' total size bound (`1GiB`).
    pub max_total_bytes: Option<u64>,
}

/// Compression of rotated files (`compress`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileCompression {
    /// `none`.
    None,
    /// `gzip`.
    Gzip,
    /// `zstd`.
    Zstd,
}

/// `file`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSinkConfig {
    /// `path` (required).
    pub path: PathBuf,
    /// `format`.
    pub format: Option<LineFormat>,
    /// `rotation`.
    pub rotation: Option<Rotation>,
    /// `retention`.
    pub retention: Option<Retention>,
    /// `compress`.
    pub compress: Option<FileCompression>,
    /// `mode`: Unix permission bits of new files (`"0640"` or `0o640`).
    pub mode: Option<u32>,
}

/// How a redacted value is written (`redaction.replacement`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplacementKind {
    /// `mask`: `[REDACTED]`.
    Mask,
    /// `hmac`: a keyed hash; the key and key id come from
    /// `DATAPUNK_LOG_REDACT_HMAC_KEY` / `_KEY_ID`, never from the file.
    Hmac,
}

/// `redaction`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedactionConfig {
    /// `enabled`: every rule on (`true`) or off (`false`).
    pub enabled: Option<bool>,
    /// `keys`: the field keys redacted (replaces the default list).
    pub keys: Option<Vec<String>>,
    /// `patterns`: value rules turned on or off by name (`email: on`), in
    /// file order.
    pub patterns: Vec<(RedactRule, bool)>,
    /// `token_prefixes`: extra token prefixes of the `cloud_key` rule.
    pub token_prefixes: Option<Vec<String>>,
    /// `replacement`.
    pub replacement: Option<ReplacementKind>,
}

/// `log_sampling`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogSamplingConfig {
    /// `below_error`: the policy of TRACE, DEBUG, INFO and WARN.
    pub below_error: Option<LogPolicy>,
    /// `levels`: per-level policies, in file order (applied after
    /// `below_error`).
    pub levels: Vec<(Level, LogPolicy)>,
    /// `unsampled`: `keep`, `drop` or `buffer`.
    pub unsampled: Option<Unsampled>,
    /// `debug_buffer`.
    pub debug_buffer: Option<DebugBufferConfig>,
}

/// `debug_buffer`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DebugBufferConfig {
    /// `records_per_trace`.
    pub records_per_trace: Option<usize>,
    /// `bytes` (an integer or a size such as `8MiB`).
    pub bytes: Option<usize>,
}
