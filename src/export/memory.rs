//! An exporter that keeps owned copies of everything in memory: for tests
//! and diagnostics (it grows without bound).

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Exporter, Field, FieldValue, LogView, SpanView, StatusView};
use crate::Level;
use crate::record::TraceContext;
use crate::resource::{AttrValue, Resource};

/// An owned [`FieldValue`].
#[derive(Debug, Clone, PartialEq)]
pub enum OwnedValue {
    /// No value.
    None,
    /// A boolean.
    Bool(bool),
    /// An unsigned integer.
    U64(u64),
    /// A signed integer.
    I64(i64),
    /// A 128-bit unsigned integer.
    U128(u128),
    /// A 128-bit signed integer.
    I128(i128),
    /// A float.
    F64(f64),
    /// A character.
    Char(char),
    /// A string (also invalid UTF-8 bytes, lossily decoded).
    Str(String),
    /// An error.
    Error {
        /// `exception.type`.
        type_name: String,
        /// `exception.message`.
        message: String,
        /// `exception.stacktrace`.
        stacktrace: String,
    },
}

impl From<&FieldValue<'_>> for OwnedValue {
    fn from(v: &FieldValue<'_>) -> Self {
        match *v {
            FieldValue::None => OwnedValue::None,
            FieldValue::Bool(b) => OwnedValue::Bool(b),
            FieldValue::U64(n) => OwnedValue::U64(n),
            FieldValue::I64(n) => OwnedValue::I64(n),
            FieldValue::U128(n) => OwnedValue::U128(n),
            FieldValue::I128(n) => OwnedValue::I128(n),
            FieldValue::F64(f) => OwnedValue::F64(f),
            FieldValue::Char(c) => OwnedValue::Char(c),
            FieldValue::Str(s) => OwnedValue::Str(s.to_owned()),
            FieldValue::Bytes(b) => OwnedValue::Str(String::from_utf8_lossy(b).into_owned()),
            FieldValue::Error {
                type_name,
                message,
                stacktrace,
            } => OwnedValue::Error {
                type_name: type_name.to_owned(),
                message: message.to_owned(),
                stacktrace: stacktrace.to_owned(),
            },
        }
    }
}

fn owned_fields(fields: &[Field<'_>]) -> Vec<(String, OwnedValue)> {
    fields
        .iter()
        .map(|f| (f.key.to_owned(), OwnedValue::from(&f.value)))
        .collect()
}

/// An owned [`LogView`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedLog {
    /// Capture time, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// Time the writer took the record, Unix nanoseconds.
    pub observed_unix_nano: u64,
    /// Level.
    pub level: Level,
    /// Target.
    pub target: String,
    /// Message.
    pub message: String,
    /// Trace context.
    pub trace: TraceContext,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Thread name.
    pub thread: String,
    /// How many records this one stands for (1 unless its call site's
    /// sampler kept it out of a sampled-down stream).
    pub adjusted_count: u64,
    /// Written from the debug buffer when an error came in its trace.
    pub replayed: bool,
    /// Fields.
    pub fields: Vec<(String, OwnedValue)>,
}

impl OwnedLog {
    /// The first field named `key`.
    pub fn field(&self, key: &str) -> Option<&OwnedValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }
}

/// An owned span event.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    /// Name.
    pub name: String,
    /// Time, Unix nanoseconds.
    pub time_unix_nano: u64,
    /// Attributes.
    pub fields: Vec<(String, OwnedValue)>,
}

/// An owned span status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedStatus {
    /// Not set.
    Unset,
    /// Ok.
    Ok,
    /// Error with a description.
    Error(String),
}

/// An owned [`SpanView`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedSpan {
    /// Name.
    pub name: String,
    /// Target.
    pub target: String,
    /// Level.
    pub level: Level,
    /// Context: trace id, span id, parent span id, flags.
    pub context: TraceContext,
    /// The parent came from another process.
    pub parent_is_remote: bool,
    /// The span's W3C tracestate (empty when none).
    pub trace_state: String,
    /// Correlation id.
    pub correlation_id: Option<String>,
    /// Start, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// End, Unix nanoseconds.
    pub end_unix_nano: u64,
    /// Attributes.
    pub fields: Vec<(String, OwnedValue)>,
    /// Events.
    pub events: Vec<OwnedEvent>,
    /// Status.
    pub status: OwnedStatus,
    /// Thread that started it.
    pub thread: String,
}

impl OwnedSpan {
    /// The last attribute named `key` (a later `record` wins).
    pub fn field(&self, key: &str) -> Option<&OwnedValue> {
        self.fields
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

#[derive(Default)]
struct Store {
    logs: Vec<OwnedLog>,
    spans: Vec<OwnedSpan>,
    resource: Vec<(String, AttrValue)>,
    flushes: u64,
}

/// Keeps every exported log record and span in memory. Clones share the
/// same store: give one to the builder, read through another.
#[derive(Clone, Default)]
pub struct MemoryExporter {
    store: Arc<Mutex<Store>>,
    logs: bool,
    spans: bool,
}

impl std::fmt::Debug for MemoryExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryExporter").finish_non_exhaustive()
    }
}

impl MemoryExporter {
    /// An exporter taking logs and spans.
    pub fn new() -> MemoryExporter {
        MemoryExporter {
            store: Arc::default(),
            logs: true,
            spans: true,
        }
    }

    /// An exporter taking spans only.
    pub fn spans_only() -> MemoryExporter {
        MemoryExporter {
            logs: false,
            ..MemoryExporter::new()
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Log records received so far.
    pub fn logs(&self) -> Vec<OwnedLog> {
        self.lock().logs.clone()
    }

    /// Spans received so far, in the order they ended.
    pub fn spans(&self) -> Vec<OwnedSpan> {
        self.lock().spans.clone()
    }

    /// The resource given to the exporter.
    pub fn resource(&self) -> Vec<(String, AttrValue)> {
        self.lock().resource.clone()
    }

    /// How many times the exporter was flushed.
    pub fn flushes(&self) -> u64 {
        self.lock().flushes
    }

    /// Forgets everything received.
    pub fn clear(&self) {
        let mut s = self.lock();
        s.logs.clear();
        s.spans.clear();
    }
}

impl Exporter for MemoryExporter {
    fn set_resource(&mut self, resource: &Resource) {
        self.lock().resource = resource
            .iter()
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect();
    }

    fn export_log(&mut self, log: &LogView<'_>) {
        super::health::delivered(1, 0);
        let owned = OwnedLog {
            time_unix_nano: log.time_unix_nano,
            observed_unix_nano: log.observed_unix_nano,
            level: log.level,
            target: log.target.to_owned(),
            message: log.message.to_owned(),
            trace: log.trace,
            correlation_id: log.correlation_id.map(str::to_owned),
            thread: log.thread.to_owned(),
            adjusted_count: log.adjusted_count,
            replayed: log.replayed,
            fields: owned_fields(log.fields),
        };
        self.lock().logs.push(owned);
    }

    fn export_span(&mut self, span: &SpanView<'_>) {
        super::health::delivered(0, 1);
        let owned = OwnedSpan {
            name: span.name.to_owned(),
            target: span.target.to_owned(),
            level: span.level,
            context: span.context,
            parent_is_remote: span.parent_is_remote,
            trace_state: span.trace_state.to_owned(),
            correlation_id: span.correlation_id.map(str::to_owned),
            start_unix_nano: span.start_unix_nano,
            end_unix_nano: span.end_unix_nano,
            fields: owned_fields(span.fields),
            events: span
                .events
                .iter()
                .map(|e| OwnedEvent {
                    name: e.name.to_owned(),
                    time_unix_nano: e.time_unix_nano,
                    fields: owned_fields(e.fields),
                })
                .collect(),
            status: match span.status {
                StatusView::Unset => OwnedStatus::Unset,
                StatusView::Ok => OwnedStatus::Ok,
                StatusView::Error(d) => OwnedStatus::Error(d.to_owned()),
            },
            thread: span.thread.to_owned(),
        };
        self.lock().spans.push(owned);
    }

    fn wants_logs(&self) -> bool {
        self.logs
    }

    fn wants_spans(&self) -> bool {
        self.spans
    }

    fn flush(&mut self, _deadline: std::time::Instant) {
        self.lock().flushes += 1;
    }
}
