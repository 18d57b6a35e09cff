//! Export of log records and spans to other systems (OTLP, or your own).
//!
//! The writer thread copies the raw records of the per-thread rings, with
//! their timestamps converted to Unix nanoseconds, into fixed-size chunks and
//! hands the chunks to the export thread (`datapunk-log-export`) over a
//! bounded queue: when the export side falls behind, whole chunks are dropped
//! and counted ([`crate::Stats::export_dropped_logs`],
//! [`crate::Stats::export_dropped_spans`]), never the JSON output and never
//! the hot path. The export thread decodes the records, joins each span's
//! start, attributes, events and end into one [`SpanView`], and calls every
//! configured [`Exporter`].
//!
//! Views borrow from the decoded records: an exporter copies what it keeps.

use std::borrow::Cow;
use std::time::Instant;

use crate::Level;
use crate::record::{TraceContext, Val};
use crate::resource::Resource;

pub(crate) mod health;
mod memory;
mod pipeline;

#[cfg(feature = "otlp")]
pub mod otlp;

pub use memory::{MemoryExporter, OwnedEvent, OwnedLog, OwnedSpan, OwnedStatus, OwnedValue};
pub(crate) use pipeline::{ExportPipe, Pipeline};

/// A field's value, typed as it was logged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldValue<'a> {
    /// The value was `None` or recorded nothing.
    None,
    /// A boolean.
    Bool(bool),
    /// An unsigned integer (up to 64 bits).
    U64(u64),
    /// A signed integer (up to 64 bits).
    I64(i64),
    /// A 128-bit unsigned integer.
    U128(u128),
    /// A 128-bit signed integer.
    I128(i128),
    /// A float (`f32` values are widened).
    F64(f64),
    /// A character.
    Char(char),
    /// A string (`%` Display and `?` Debug values arrive formatted, as strings).
    Str(&'a str),
    /// Bytes that are not all UTF-8: use [`String::from_utf8_lossy`].
    Bytes(&'a [u8]),
    /// An error: the OpenTelemetry `exception.*` attributes.
    Error {
        /// `exception.type`.
        type_name: &'a str,
        /// `exception.message`.
        message: &'a str,
        /// `exception.stacktrace`: the error's source chain, one per line.
        stacktrace: &'a str,
    },
}

impl<'a> FieldValue<'a> {
    /// Converts a decoded record value. `None` for a string that is not UTF-8
    /// where UTF-8 was promised (a corrupt record).
    pub(crate) fn from_val(v: Val<'a>) -> Option<FieldValue<'a>> {
        let s = |b: &'a [u8]| std::str::from_utf8(b).ok();
        Some(match v {
            Val::None => FieldValue::None,
            Val::Bool(b) => FieldValue::Bool(b),
            Val::U64(n) => FieldValue::U64(n),
            Val::I64(n) => FieldValue::I64(n),
            Val::U128(n) => FieldValue::U128(n),
            Val::I128(n) => FieldValue::I128(n),
            Val::F64(f) => FieldValue::F64(f),
            Val::F32(f) => FieldValue::F64(f64::from(f)),
            Val::Char(c) => FieldValue::Char(c),
            Val::Str(b) => match std::str::from_utf8(b) {
                Ok(t) => FieldValue::Str(t),
                Err(_) => FieldValue::Bytes(b),
            },
            Val::Bytes(b) => match std::str::from_utf8(b) {
                Ok(t) => FieldValue::Str(t),
                Err(_) => FieldValue::Bytes(b),
            },
            Val::Error {
                type_name,
                message,
                chain,
            } => FieldValue::Error {
                type_name: s(type_name)?,
                message: s(message)?,
                stacktrace: s(chain)?,
            },
        })
    }

    /// The value as text, for exporters that only take strings.
    pub fn to_text(&self) -> Cow<'a, str> {
        match *self {
            FieldValue::None => Cow::Borrowed(""),
            FieldValue::Bool(b) => Cow::Borrowed(if b { "true" } else { "false" }),
            FieldValue::U64(n) => Cow::Owned(n.to_string()),
            FieldValue::I64(n) => Cow::Owned(n.to_string()),
            FieldValue::U128(n) => Cow::Owned(n.to_string()),
            FieldValue::I128(n) => Cow::Owned(n.to_string()),
            FieldValue::F64(f) => Cow::Owned(f.to_string()),
            FieldValue::Char(c) => Cow::Owned(c.to_string()),
            FieldValue::Str(s) => Cow::Borrowed(s),
            FieldValue::Bytes(b) => String::from_utf8_lossy(b),
            FieldValue::Error { message, .. } => Cow::Borrowed(message),
        }
    }
}

/// One key-value pair of a record or span.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Field<'a> {
    /// The field's name as written in the call (`http.status`).
    pub key: &'a str,
    /// Its value.
    pub value: FieldValue<'a>,
}

/// A log record as the export thread sees it.
#[derive(Debug, Clone)]
pub struct LogView<'a> {
    /// When the record was captured, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// When the writer thread took it from the ring, Unix nanoseconds.
    pub observed_unix_nano: u64,
    /// The record's level.
    pub level: Level,
    /// The call site's target (module path unless `target:` was given); the
    /// OpenTelemetry instrumentation scope.
    pub target: &'static str,
    /// The message (the log body).
    pub message: &'a str,
    /// Trace context; `trace_id == 0` outside a trace.
    pub trace: TraceContext,
    /// The request's correlation id, when the record was captured inside one.
    pub correlation_id: Option<&'a str>,
    /// Name of the thread that logged.
    pub thread: &'a str,
    /// The text was cut at the record limit.
    pub truncated: bool,
    /// How many records this one stands for when its call site's sampler
    /// kept it out of a sampled-down stream (every Mth); 1 otherwise. OTLP
    /// carries it as the attribute `sampling.adjusted_count` when above 1.
    pub adjusted_count: u64,
    /// Written from the debug buffer because an error came in its
    /// (unsampled) trace.
    pub replayed: bool,
    /// The fields, in call order.
    pub fields: &'a [Field<'a>],
}

/// How a span ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusView<'a> {
    /// No status was set.
    Unset,
    /// Marked successful.
    Ok,
    /// Marked failed, with a description.
    Error(&'a str),
}

/// An event recorded on a span (an error, for instance).
#[derive(Debug, Clone)]
pub struct EventView<'a> {
    /// The event's name (`exception` for errors).
    pub name: &'a str,
    /// When it was recorded, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// Its attributes (`exception.type`, `exception.message`,
    /// `exception.stacktrace` for errors).
    pub fields: &'a [Field<'a>],
}

/// A finished span as the export thread sees it.
#[derive(Debug, Clone)]
pub struct SpanView<'a> {
    /// The span's name.
    pub name: &'static str,
    /// The call site's target; the OpenTelemetry instrumentation scope.
    pub target: &'static str,
    /// The span's level.
    pub level: Level,
    /// Trace id, span id, parent span id (0 at a root) and trace flags.
    pub context: TraceContext,
    /// The parent came from another process (a `traceparent` header).
    pub parent_is_remote: bool,
    /// The span's W3C tracestate (`ot=th:…` when sampled with an exact
    /// probability, then what came with its request); empty when none.
    pub trace_state: &'a str,
    /// The request's correlation id, when the span was made inside one.
    pub correlation_id: Option<&'a str>,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// End, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Attributes: the fields given at start, then those recorded later; a
    /// key recorded again keeps its place and takes the later value.
    pub fields: &'a [Field<'a>],
    /// Events, in order.
    pub events: &'a [EventView<'a>],
    /// The span's status.
    pub status: StatusView<'a>,
    /// Name of the thread that started the span.
    pub thread: &'a str,
}

/// A destination for log records and spans, called on the export thread.
///
/// Calls arrive in capture order per thread. An exporter batches as it
/// likes; [`Exporter::tick`] runs at least every 50 ms so it can send on a
/// timer, [`Exporter::flush`] runs for [`crate::flush`] and before shutdown.
pub trait Exporter: Send + 'static {
    /// The process's resource, given once before any record.
    fn set_resource(&mut self, resource: &Resource) {
        let _ = resource;
    }
    /// Receives log records (only when [`Exporter::wants_logs`]).
    fn export_log(&mut self, log: &LogView<'_>) {
        let _ = log;
    }
    /// Receives finished spans (only when [`Exporter::wants_spans`]).
    fn export_span(&mut self, span: &SpanView<'_>) {
        let _ = span;
    }
    /// Whether this exporter takes log records.
    fn wants_logs(&self) -> bool {
        true
    }
    /// Whether this exporter takes spans.
    fn wants_spans(&self) -> bool {
        true
    }
    /// Called at least every 50 ms.
    fn tick(&mut self, now: Instant) {
        let _ = now;
    }
    /// Sends everything held, giving up at `deadline`.
    fn flush(&mut self, deadline: Instant) {
        let _ = deadline;
    }
    /// Sends everything held and releases resources, giving up at `deadline`.
    /// Nothing is exported after it.
    fn shutdown(&mut self, deadline: Instant) {
        self.flush(deadline);
    }
}
