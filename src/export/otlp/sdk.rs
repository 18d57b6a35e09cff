//! The mapping of log records and spans to OpenTelemetry SDK types (the
//! path through `opentelemetry-otlp`): [`Mapper`] turns [`LogView`]s into
//! SDK log records and [`SpanView`]s into [`SpanData`], caching what
//! repeats; [`sdk_resource`] converts the process's resource.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity};
use opentelemetry::trace::{Event, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, Key, KeyValue, StringValue, Value};
use opentelemetry_sdk::logs::{SdkLogRecord, SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use crate::Level;
use crate::export::{EventView, Field, FieldValue, LogView, SpanView, StatusView};
use crate::resource::{AttrValue, Resource};

/// Keys and thread names interned at most (then allocated per record).
const INTERN_LIMIT: usize = 4096;

static EXCEPTION_TYPE: Key = Key::from_static_str("exception.type");
static EXCEPTION_MESSAGE: Key = Key::from_static_str("exception.message");
static EXCEPTION_STACKTRACE: Key = Key::from_static_str("exception.stacktrace");
static CORRELATION_ID: Key = Key::from_static_str("correlation_id");
static THREAD_NAME: Key = Key::from_static_str("thread.name");
static ADJUSTED_COUNT: Key = Key::from_static_str("sampling.adjusted_count");

/// An attribute value, before it becomes a log [`AnyValue`] or a span
/// [`Value`].
enum Attr {
    Bool(bool),
    I64(i64),
    F64(f64),
    Str(StringValue),
}

impl Attr {
    fn any(self) -> AnyValue {
        match self {
            Attr::Bool(b) => AnyValue::Boolean(b),
            Attr::I64(n) => AnyValue::Int(n),
            Attr::F64(f) => AnyValue::Double(f),
            Attr::Str(s) => AnyValue::String(s),
        }
    }

    fn value(self) -> Value {
        match self {
            Attr::Bool(b) => Value::Bool(b),
            Attr::I64(n) => Value::I64(n),
            Attr::F64(f) => Value::F64(f),
            Attr::Str(s) => Value::String(s),
        }
    }
}

fn severity(level: Level) -> Severity {
    match level {
        Level::Trace => Severity::Trace,
        Level::Debug => Severity::Debug,
        Level::Info => Severity::Info,
        Level::Warn => Severity::Warn,
        Level::Error => Severity::Error,
        Level::Fatal => Severity::Fatal,
    }
}

fn system_time(unix_nano: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_nanos(unix_nano)
}

fn owned(s: &str) -> StringValue {
    StringValue::from(s.to_string())
}

/// Turns views into OpenTelemetry SDK values, caching what repeats
/// (instrumentation scopes, attribute keys, thread names).
pub(super) struct Mapper {
    /// Holds the logger's provider (no processors: it only makes records).
    _provider: SdkLoggerProvider,
    logger: SdkLogger,
    pub(super) scopes: Vec<InstrumentationScope>,
    /// Scope index by the target's address and length.
    scope_index: HashMap<(usize, usize), usize>,
    last_scope: Option<((usize, usize), usize)>,
    keys: HashMap<Box<str>, Key>,
    names: HashMap<Box<str>, StringValue>,
}

impl fmt::Debug for Mapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mapper")
            .field("scopes", &self.scopes.len())
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Mapper {
    pub(super) fn new() -> Mapper {
        let provider = SdkLoggerProvider::builder().build();
        let logger = provider.logger("datapunk-log");
        Mapper {
            _provider: provider,
            logger,
            scopes: Vec::new(),
            scope_index: HashMap::new(),
            last_scope: None,
            keys: HashMap::new(),
            names: HashMap::new(),
        }
    }

    /// The index of `target`'s scope in `self.scopes`.
    fn scope(&mut self, target: &'static str) -> usize {
        let id = (target.as_ptr() as usize, target.len());
        if let Some((last, i)) = self.last_scope
            && last == id
        {
            return i;
        }
        let next = self.scopes.len();
        let i = *self.scope_index.entry(id).or_insert(next);
        if i == next {
            self.scopes
                .push(InstrumentationScope::builder(target).build());
        }
        self.last_scope = Some((id, i));
        i
    }

    fn key(&mut self, k: &str) -> Key {
        if let Some(key) = self.keys.get(k) {
            return key.clone();
        }
        let key = Key::from(Arc::<str>::from(k));
        if self.keys.len() < INTERN_LIMIT {
            self.keys.insert(k.into(), key.clone());
        }
        key
    }

    fn thread_name(&mut self, name: &str) -> StringValue {
        if let Some(v) = self.names.get(name) {
            return v.clone();
        }
        let v = StringValue::from(Arc::<str>::from(name));
        if self.names.len() < INTERN_LIMIT {
            self.names.insert(name.into(), v.clone());
        }
        v
    }

    /// Calls `out` with the attributes of one field (none, one, or the
    /// three `exception.*` of an error).
    fn field(&mut self, field: &Field<'_>, mut out: impl FnMut(Key, Attr)) {
        let attr = match field.value {
            FieldValue::None => return,
            FieldValue::Bool(b) => Attr::Bool(b),
            FieldValue::U64(n) => match i64::try_from(n) {
                Ok(n) => Attr::I64(n),
                Err(_) => Attr::Str(StringValue::from(n.to_string())),
            },
            FieldValue::I64(n) => Attr::I64(n),
            FieldValue::U128(n) => Attr::Str(StringValue::from(n.to_string())),
            FieldValue::I128(n) => Attr::Str(StringValue::from(n.to_string())),
            FieldValue::F64(f) => Attr::F64(f),
            FieldValue::Char(c) => Attr::Str(StringValue::from(c.to_string())),
            FieldValue::Str(s) => Attr::Str(owned(s)),
            FieldValue::Bytes(b) => {
                Attr::Str(StringValue::from(String::from_utf8_lossy(b).into_owned()))
            }
            FieldValue::Error {
                type_name,
                message,
                stacktrace,
            } => {
                out(EXCEPTION_TYPE.clone(), Attr::Str(owned(type_name)));
                out(EXCEPTION_MESSAGE.clone(), Attr::Str(owned(message)));
                if !stacktrace.is_empty() {
                    out(EXCEPTION_STACKTRACE.clone(), Attr::Str(owned(stacktrace)));
                }
                return;
            }
        };
        out(self.key(field.key), attr);
    }

    /// A log record and the index of its scope.
    pub(super) fn log_record(&mut self, log: &LogView<'_>) -> (SdkLogRecord, usize) {
        let mut rec = self.logger.create_log_record();
        // The scope's name: `opentelemetry-proto` groups records by it, and a
        // borrowed target spares it a copy per record.
        rec.set_target(log.target);
        rec.set_timestamp(system_time(log.time_unix_nano));
        rec.set_observed_timestamp(system_time(log.observed_unix_nano));
        rec.set_severity_number(severity(log.level));
        rec.set_severity_text(log.level.as_str());
        rec.set_body(AnyValue::String(owned(log.message)));
        for field in log.fields {
            self.field(field, |k, v| rec.add_attribute(k, v.any()));
        }
        if let Some(id) = log.correlation_id {
            rec.add_attribute(CORRELATION_ID.clone(), AnyValue::String(owned(id)));
        }
        if !log.thread.is_empty() {
            let name = self.thread_name(log.thread);
            rec.add_attribute(THREAD_NAME.clone(), AnyValue::String(name));
        }
        if log.adjusted_count > 1 {
            let n = i64::try_from(log.adjusted_count).unwrap_or(i64::MAX);
            rec.add_attribute(ADJUSTED_COUNT.clone(), AnyValue::Int(n));
        }
        if log.trace.is_some() {
            rec.set_trace_context(
                TraceId::from(log.trace.trace_id),
                SpanId::from(log.trace.span_id),
                Some(TraceFlags::new(log.trace.trace_flags & 1)),
            );
        }
        (rec, self.scope(log.target))
    }

    fn attributes(&mut self, fields: &[Field<'_>], out: &mut Vec<KeyValue>) {
        for field in fields {
            self.field(field, |k, v| out.push(KeyValue::new(k, v.value())));
        }
    }

    fn event(&mut self, event: &EventView<'_>) -> Event {
        let mut attributes = Vec::with_capacity(event.fields.len());
        self.attributes(event.fields, &mut attributes);
        let name = if event.name == "exception" {
            std::borrow::Cow::Borrowed("exception")
        } else {
            std::borrow::Cow::Owned(event.name.to_string())
        };
        Event::new(name, system_time(event.time_unix_nano), attributes, 0)
    }

    pub(super) fn span_data(&mut self, span: &SpanView<'_>) -> SpanData {
        let ctx = span.context;
        let mut attributes = Vec::with_capacity(span.fields.len() + 2);
        self.attributes(span.fields, &mut attributes);
        if let Some(id) = span.correlation_id {
            attributes.push(KeyValue::new(
                CORRELATION_ID.clone(),
                Value::String(owned(id)),
            ));
        }
        if !span.thread.is_empty() {
            let name = self.thread_name(span.thread);
            attributes.push(KeyValue::new(THREAD_NAME.clone(), Value::String(name)));
        }
        let mut events = SpanEvents::default();
        events.events = span.events.iter().map(|e| self.event(e)).collect();
        let status = match span.status {
            StatusView::Unset => Status::Unset,
            StatusView::Ok => Status::Ok,
            StatusView::Error(d) => Status::error(d.to_string()),
        };
        let scope = self.scope(span.target);
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(ctx.trace_id),
                SpanId::from(ctx.span_id),
                TraceFlags::new(ctx.trace_flags & 1),
                false,
                span.trace_state.parse().unwrap_or_default(),
            ),
            parent_span_id: SpanId::from(ctx.parent_span_id),
            parent_span_is_remote: span.parent_is_remote,
            span_kind: SpanKind::Internal,
            name: std::borrow::Cow::Borrowed(span.name),
            start_time: system_time(span.start_unix_nano),
            end_time: system_time(span.end_unix_nano),
            attributes,
            dropped_attributes_count: 0,
            events,
            links: SpanLinks::default(),
            status,
            instrumentation_scope: self.scopes.get(scope).cloned().unwrap_or_default(),
        }
    }
}

/// The process's resource as an OpenTelemetry SDK resource.
pub(super) fn sdk_resource(resource: &Resource) -> opentelemetry_sdk::Resource {
    let attrs = resource.iter().map(|(k, v)| {
        let value = match v {
            AttrValue::Str(s) => Value::String(StringValue::from(s.clone())),
            AttrValue::Bool(b) => Value::Bool(*b),
            AttrValue::I64(n) => Value::I64(*n),
            AttrValue::F64(f) => Value::F64(*f),
        };
        KeyValue::new(k.to_string(), value)
    });
    opentelemetry_sdk::Resource::builder_empty()
        .with_attributes(attrs)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TraceContext;

    const TRACE: TraceContext = TraceContext {
        trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        span_id: 0x1112_1314_1516_1718,
        parent_span_id: 0x2122_2324_2526_2728,
        trace_flags: 1,
    };

    fn attrs(rec: &SdkLogRecord) -> Vec<(String, AnyValue)> {
        rec.attributes_iter()
            .map(|(k, v)| (k.as_str().to_string(), v.clone()))
            .collect()
    }

    fn s(v: &str) -> AnyValue {
        AnyValue::String(v.to_string().into())
    }

    #[test]
    fn log_mapping() {
        let fields = [
            Field {
                key: "b",
                value: FieldValue::Bool(true),
            },
            Field {
                key: "u",
                value: FieldValue::U64(7),
            },
            Field {
                key: "big",
                value: FieldValue::U64(u64::MAX),
            },
            Field {
                key: "i",
                value: FieldValue::I64(-3),
            },
            Field {
                key: "u128",
                value: FieldValue::U128(u128::MAX),
            },
            Field {
                key: "i128",
                value: FieldValue::I128(i128::MIN),
            },
            Field {
                key: "f",
                value: FieldValue::F64(1.5),
            },
            Field {
                key: "c",
                value: FieldValue::Char('é'),
            },
            Field {
                key: "s",
                value: FieldValue::Str("text"),
            },
            Field {
                key: "bytes",
                value: FieldValue::Bytes(b"a\xffb"),
            },
            Field {
                key: "none",
                value: FieldValue::None,
            },
            Field {
                key: "err",
                value: FieldValue::Error {
                    type_name: "io::Error",
                    message: "disk full",
                    stacktrace: "disk full\ncaused by: quota",
                },
            },
        ];
        let view = LogView {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_unix_nano: 1_700_000_000_223_456_789,
            level: Level::Warn,
            target: "app::db",
            message: "slow query",
            trace: TRACE,
            correlation_id: Some("req-42"),
            thread: "worker-1",
            truncated: false,
            adjusted_count: 40,
            replayed: false,
            fields: &fields,
        };
        let mut m = Mapper::new();
        let (rec, scope) = m.log_record(&view);
        assert_eq!(
            rec.timestamp(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_123_456_789))
        );
        assert_eq!(
            rec.observed_timestamp(),
            Some(SystemTime::UNIX_EPOCH + Duration::from_nanos(1_700_000_000_223_456_789))
        );
        assert_eq!(rec.severity_number(), Some(Severity::Warn));
        assert_eq!(rec.severity_text(), Some("WARN"));
        assert_eq!(rec.body(), Some(&s("slow query")));
        assert_eq!(
            attrs(&rec),
            vec![
                ("b".into(), AnyValue::Boolean(true)),
                ("u".into(), AnyValue::Int(7)),
                ("big".into(), s("18446744073709551615")),
                ("i".into(), AnyValue::Int(-3)),
                ("u128".into(), s(&u128::MAX.to_string())),
                ("i128".into(), s(&i128::MIN.to_string())),
                ("f".into(), AnyValue::Double(1.5)),
                ("c".into(), s("é")),
                ("s".into(), s("text")),
                ("bytes".into(), s("a\u{fffd}b")),
                ("exception.type".into(), s("io::Error")),
                ("exception.message".into(), s("disk full")),
                (
                    "exception.stacktrace".into(),
                    s("disk full\ncaused by: quota")
                ),
                ("correlation_id".into(), s("req-42")),
                ("thread.name".into(), s("worker-1")),
                ("sampling.adjusted_count".into(), AnyValue::Int(40)),
            ]
        );
        let tc = rec
            .trace_context()
            .map(|t| (t.trace_id, t.span_id, t.trace_flags));
        assert_eq!(
            tc,
            Some((
                TraceId::from(TRACE.trace_id),
                SpanId::from(TRACE.span_id),
                Some(TraceFlags::SAMPLED)
            ))
        );
        assert_eq!(m.scopes[scope].name(), "app::db");
        // Same target, same scope; another target, another scope.
        let (_, again) = m.log_record(&view);
        assert_eq!(again, scope);
        let other = LogView {
            target: "app::http",
            ..view.clone()
        };
        let (_, other_scope) = m.log_record(&other);
        assert_ne!(other_scope, scope);
        assert_eq!(m.scopes.len(), 2);
        let (_, back) = m.log_record(&view);
        assert_eq!(back, scope);
        assert_eq!(m.scopes.len(), 2);
    }

    #[test]
    fn severities_and_no_trace() {
        let mut m = Mapper::new();
        for (level, sev, text) in [
            (Level::Trace, Severity::Trace, "TRACE"),
            (Level::Debug, Severity::Debug, "DEBUG"),
            (Level::Info, Severity::Info, "INFO"),
            (Level::Warn, Severity::Warn, "WARN"),
            (Level::Error, Severity::Error, "ERROR"),
            (Level::Fatal, Severity::Fatal, "FATAL"),
        ] {
            let view = LogView {
                time_unix_nano: 1,
                observed_unix_nano: 2,
                level,
                target: "t",
                message: "",
                trace: TraceContext::default(),
                correlation_id: None,
                thread: "",
                truncated: false,
                adjusted_count: 1,
                replayed: false,
                fields: &[],
            };
            let (rec, _) = m.log_record(&view);
            assert_eq!(rec.severity_number(), Some(sev));
            assert_eq!(sev as i32, [1, 5, 9, 13, 17, 21][level as usize]);
            assert_eq!(rec.severity_text(), Some(text));
            assert!(rec.trace_context().is_none());
            assert_eq!(rec.attributes_iter().count(), 0);
        }
    }

    #[test]
    fn span_mapping() {
        let fields = [
            Field {
                key: "http.status",
                value: FieldValue::U64(503),
            },
            Field {
                key: "route",
                value: FieldValue::Str("/pay"),
            },
        ];
        let ev_fields = [Field {
            key: "ignored",
            value: FieldValue::Error {
                type_name: "Timeout",
                message: "upstream timed out",
                stacktrace: "",
            },
        }];
        let events = [
            EventView {
                name: "exception",
                time_unix_nano: 1_500,
                fields: &ev_fields,
            },
            EventView {
                name: "retry",
                time_unix_nano: 1_600,
                fields: &[],
            },
        ];
        let view = SpanView {
            name: "charge",
            target: "pay::api",
            level: Level::Info,
            context: TraceContext {
                trace_flags: 3,
                ..TRACE
            },
            parent_is_remote: true,
            trace_state: "ot=th:8,vendor=x",
            correlation_id: Some("req-7"),
            start_unix_nano: 1_000,
            end_unix_nano: 2_000,
            fields: &fields,
            events: &events,
            status: StatusView::Error("card declined"),
            thread: "main",
        };
        let mut m = Mapper::new();
        let d = m.span_data(&view);
        assert_eq!(d.span_context.trace_id(), TraceId::from(TRACE.trace_id));
        assert_eq!(d.span_context.span_id(), SpanId::from(TRACE.span_id));
        assert_eq!(d.span_context.trace_flags(), TraceFlags::SAMPLED);
        assert!(!d.span_context.is_remote());
        assert_eq!(d.parent_span_id, SpanId::from(TRACE.parent_span_id));
        assert!(d.parent_span_is_remote);
        assert_eq!(d.span_kind, SpanKind::Internal);
        assert_eq!(d.name, "charge");
        assert_eq!(
            d.start_time,
            SystemTime::UNIX_EPOCH + Duration::from_nanos(1_000)
        );
        assert_eq!(
            d.end_time,
            SystemTime::UNIX_EPOCH + Duration::from_nanos(2_000)
        );
        assert_eq!(
            d.attributes,
            vec![
                KeyValue::new("http.status", 503i64),
                KeyValue::new("route", "/pay"),
                KeyValue::new("correlation_id", "req-7"),
                KeyValue::new("thread.name", "main"),
            ]
        );
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.events[0].name, "exception");
        assert_eq!(
            d.events[0].timestamp,
            SystemTime::UNIX_EPOCH + Duration::from_nanos(1_500)
        );
        assert_eq!(
            d.events[0].attributes,
            vec![
                KeyValue::new("exception.type", "Timeout"),
                KeyValue::new("exception.message", "upstream timed out"),
            ]
        );
        assert_eq!(d.events[1].name, "retry");
        assert!(d.events[1].attributes.is_empty());
        assert_eq!(d.status, Status::error("card declined"));
        assert_eq!(d.instrumentation_scope.name(), "pay::api");

        let ok = SpanView {
            status: StatusView::Ok,
            parent_is_remote: false,
            trace_state: "",
            ..view.clone()
        };
        let d = m.span_data(&ok);
        assert_eq!(d.status, Status::Ok);
        assert!(!d.parent_span_is_remote);
        let unset = SpanView {
            status: StatusView::Unset,
            context: TraceContext {
                trace_flags: 0,
                ..TRACE
            },
            correlation_id: None,
            ..view
        };
        let d = m.span_data(&unset);
        assert_eq!(d.status, Status::Unset);
        assert_eq!(d.span_context.trace_flags(), TraceFlags::NOT_SAMPLED);
        assert_eq!(d.attributes.len(), 3);
    }

    #[test]
    fn resource_conversion() {
        let r = Resource::builder()
            .service_name("svc")
            .attribute("shard", 7)
            .attribute("canary", true)
            .attribute("ratio", 0.5)
            .build_with(|_| None);
        let sdk = sdk_resource(&r);
        assert_eq!(sdk.len(), r.len());
        assert_eq!(
            sdk.get(&Key::from_static_str("service.name")),
            Some(Value::from("svc"))
        );
        assert_eq!(sdk.get(&Key::from_static_str("shard")), Some(Value::I64(7)));
        assert_eq!(
            sdk.get(&Key::from_static_str("canary")),
            Some(Value::Bool(true))
        );
        assert_eq!(
            sdk.get(&Key::from_static_str("ratio")),
            Some(Value::F64(0.5))
        );
    }
}
