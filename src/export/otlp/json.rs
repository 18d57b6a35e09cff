//! OTLP/HTTP with JSON bodies (`http/json`): a hand-written encoder of
//! `ExportLogsServiceRequest` (from [`LogView`]s, as `wire.rs` encodes the
//! protobuf one) and of `ExportTraceServiceRequest` (from the [`SpanData`]
//! that the span path makes), sent by
//! [`WireClient`](super::client::WireClient).
//!
//! # Encoding
//!
//! The OTLP JSON encoding (the OTLP specification's "JSON Protobuf
//! Encoding"): the proto3 JSON mapping with lowerCamelCase field names, trace
//! and span ids as hex strings (not base64), enum values as integers
//! (`severityNumber`, `kind`, `status.code`), 64-bit integers
//! (`timeUnixNano`, `intValue`, ...) as decimal strings, doubles as JSON
//! numbers with NaN and the infinities as the strings `"NaN"`, `"Infinity"`
//! and `"-Infinity"`, 32-bit integers (`flags`, dropped counts) as numbers.
//! Fields whose value is the proto3 default are left out, as the protobuf
//! encoder leaves them out; strings are escaped as RFC 8259 says (`"`, `\`,
//! control characters) by the JSON line writer's escaper.
//!
//! The mapping is the protobuf paths' one: log records take `wire.rs`'s
//! attribute rules and order (the same [`Val`]s), one `ScopeLogs` per run of
//! consecutive records of one target; spans take the SDK's [`SpanData`]
//! (kind, status, events, links, trace state, the `flags` bits of
//! `opentelemetry-proto`), one `ScopeSpans` per run of consecutive spans of
//! one instrumentation scope. No value of either is bytes (byte fields are
//! lossily decoded strings, as on the protobuf paths), so no `bytesValue`
//! is ever written.

use std::time::SystemTime;

use opentelemetry::trace::{SpanKind, Status};
use opentelemetry::{Array, InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;

use super::wire::{Held, Val, for_each_attr, severity_number};
use crate::encode::json as j;
use crate::export::LogView;
use crate::resource::{AttrValue, Resource};

// ---------------------------------------------------------------------------
// Primitives
// ---------------------------------------------------------------------------

/// A JSON object being written: a comma before every field but the first.
struct Obj<'a> {
    out: &'a mut Vec<u8>,
    empty: bool,
}

impl<'a> Obj<'a> {
    fn new(out: &'a mut Vec<u8>) -> Obj<'a> {
        out.push(b'{');
        Obj { out, empty: true }
    }

    /// Starts field `name` (a lowerCamelCase name, no escaping needed);
    /// the value goes into the returned buffer.
    fn field(&mut self, name: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        self.out.push(b'"');
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(b"\":");
        self.out
    }

    /// A string field, left out when empty.
    fn str(&mut self, name: &str, v: &str) {
        if !v.is_empty() {
            j::write_str(self.field(name), v.as_bytes());
        }
    }

    /// A 64-bit integer field (a decimal string), left out when 0.
    fn u64_str(&mut self, name: &str, v: u64) {
        if v != 0 {
            put_u64_str(self.field(name), v);
        }
    }

    /// A 32-bit integer or enum field (a number), left out when 0.
    fn num(&mut self, name: &str, v: u32) {
        if v != 0 {
            j::write_u64(self.field(name), u64::from(v));
        }
    }

    /// An array field of `items`, each written by `each`; left out when
    /// empty.
    fn list<T>(
        &mut self,
        name: &str,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Vec<u8>, T),
    ) {
        let mut first = true;
        for item in items {
            if first {
                self.field(name).push(b'[');
                first = false;
            } else {
                self.out.push(b',');
            }
            each(self.out, item);
        }
        if !first {
            self.out.push(b']');
        }
    }

    fn end(self) {
        self.out.push(b'}');
    }
}

/// A 64-bit integer as the proto3 JSON mapping writes it: a decimal string.
fn put_u64_str(out: &mut Vec<u8>, v: u64) {
    out.push(b'"');
    j::write_u64(out, v);
    out.push(b'"');
}

fn put_i64_str(out: &mut Vec<u8>, v: i64) {
    out.push(b'"');
    j::write_i64(out, v);
    out.push(b'"');
}

/// A double as the proto3 JSON mapping writes it: a number, or `"NaN"`,
/// `"Infinity"`, `"-Infinity"`.
fn put_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        out.extend_from_slice(zmij::Buffer::new().format_finite(v).as_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v.is_sign_negative() {
        out.extend_from_slice(b"\"-Infinity\"");
    } else {
        out.extend_from_slice(b"\"Infinity\"");
    }
}

/// Unix nanoseconds of `t` (0 before the epoch or past `u64`), as
/// `opentelemetry-proto` converts it.
fn nanos(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Values and attributes
// ---------------------------------------------------------------------------

/// An `AnyValue` of the log path's values.
fn put_val(out: &mut Vec<u8>, v: &Val<'_>) {
    match v {
        Val::Bool(b) => {
            out.extend_from_slice(b"{\"boolValue\":");
            out.extend_from_slice(if *b { b"true" } else { b"false" });
        }
        Val::Int(n) => {
            out.extend_from_slice(b"{\"intValue\":");
            put_i64_str(out, *n);
        }
        Val::Double(f) => {
            out.extend_from_slice(b"{\"doubleValue\":");
            put_f64(out, *f);
        }
        Val::Str(s) => {
            out.extend_from_slice(b"{\"stringValue\":");
            j::write_str(out, s.as_bytes());
        }
        Val::Text(t) => {
            out.extend_from_slice(b"{\"stringValue\":");
            j::write_str(out, t.bytes());
        }
        Val::Lossy(b) => {
            out.extend_from_slice(b"{\"stringValue\":");
            j::write_str_lossy(out, b);
        }
    }
    out.push(b'}');
}

/// A `KeyValue` of the log path.
fn put_kv(out: &mut Vec<u8>, k: &str, v: &Val<'_>) {
    out.extend_from_slice(b"{\"key\":");
    j::write_str(out, k.as_bytes());
    out.extend_from_slice(b",\"value\":");
    put_val(out, v);
    out.push(b'}');
}

/// An `AnyValue` of an OpenTelemetry [`Value`] (span attributes).
fn put_value(out: &mut Vec<u8>, v: &Value) {
    fn array<T>(out: &mut Vec<u8>, items: &[T], mut each: impl FnMut(&mut Vec<u8>, &T)) {
        out.extend_from_slice(b"{\"arrayValue\":{");
        if !items.is_empty() {
            out.extend_from_slice(b"\"values\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                each(out, item);
            }
            out.push(b']');
        }
        out.extend_from_slice(b"}}");
    }
    match v {
        Value::Bool(b) => put_val(out, &Val::Bool(*b)),
        Value::I64(n) => put_val(out, &Val::Int(*n)),
        Value::F64(f) => put_val(out, &Val::Double(*f)),
        Value::String(s) => put_val(out, &Val::Str(s.as_str())),
        Value::Array(Array::Bool(a)) => array(out, a, |o, b| put_val(o, &Val::Bool(*b))),
        Value::Array(Array::I64(a)) => array(out, a, |o, n| put_val(o, &Val::Int(*n))),
        Value::Array(Array::F64(a)) => array(out, a, |o, f| put_val(o, &Val::Double(*f))),
        Value::Array(Array::String(a)) => {
            array(out, a, |o, s| put_val(o, &Val::Str(s.as_str())));
        }
        // Kinds added to `opentelemetry` later: their text.
        other => put_val(out, &Val::Str(&other.as_str())),
    }
}

/// A list of OpenTelemetry attributes, as the field `attributes` of `obj`
/// (left out when empty).
fn put_attributes(obj: &mut Obj<'_>, attrs: &[KeyValue]) {
    obj.list("attributes", attrs, |out, kv| {
        out.extend_from_slice(b"{\"key\":");
        j::write_str(out, kv.key.as_str().as_bytes());
        out.extend_from_slice(b",\"value\":");
        put_value(out, &kv.value);
        out.push(b'}');
    });
}

/// The JSON of a `Resource` message: `{"attributes":[...]}`.
pub(super) fn resource_json(resource: &Resource, out: &mut Vec<u8>) {
    out.clear();
    let mut obj = Obj::new(out);
    obj.list("attributes", resource.iter(), |out, (k, v)| {
        let v = match v {
            AttrValue::Str(s) => Val::Str(s),
            AttrValue::Bool(b) => Val::Bool(*b),
            AttrValue::I64(n) => Val::Int(*n),
            AttrValue::F64(f) => Val::Double(*f),
        };
        put_kv(out, k, &v);
    });
    obj.end();
}

/// A `Resource` object made by [`resource_json`] (`{}` before one is made).
fn put_resource(out: &mut Vec<u8>, resource: &[u8]) {
    if resource.is_empty() {
        out.extend_from_slice(b"{}");
    } else {
        out.extend_from_slice(resource);
    }
}

// ---------------------------------------------------------------------------
// Log records
// ---------------------------------------------------------------------------

/// Builds JSON `ExportLogsServiceRequest`s from [`LogView`]s; the buffers
/// are reused from batch to batch.
#[derive(Debug, Default)]
pub(crate) struct LogJsonEncoder {
    /// The `Resource` object.
    resource: Vec<u8>,
    /// The records' objects, comma-separated within a run.
    held: Held,
}

impl LogJsonEncoder {
    /// Sets the resource of the requests that follow.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        resource_json(resource, &mut self.resource);
    }

    /// Records held.
    pub(crate) fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether no record is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.held.is_empty()
    }

    /// Forgets the records held (the resource stays).
    pub(crate) fn clear(&mut self) {
        self.held.clear();
    }

    /// Encodes `log` and holds it for the next request.
    pub(crate) fn push(&mut self, log: &LogView<'_>) {
        if self.held.continues(log.target) {
            self.held.records.push(b',');
        }
        let mut obj = Obj::new(&mut self.held.records);
        obj.u64_str("timeUnixNano", log.time_unix_nano);
        j::write_u64(obj.field("severityNumber"), severity_number(log.level));
        obj.str("severityText", log.level.as_str());
        put_val(obj.field("body"), &Val::Str(log.message));
        let mut first = true;
        for_each_attr(log, |k, v| {
            if first {
                obj.field("attributes").push(b'[');
                first = false;
            } else {
                obj.out.push(b',');
            }
            put_kv(obj.out, k, &v);
        });
        if !first {
            obj.out.push(b']');
        }
        if log.trace.is_some() {
            obj.num("flags", u32::from(log.trace.trace_flags & 1));
            j::write_hex_u128(obj.field("traceId"), log.trace.trace_id);
            j::write_hex_u64(obj.field("spanId"), log.trace.span_id);
        }
        obj.u64_str("observedTimeUnixNano", log.observed_unix_nano);
        obj.end();
        self.held.ended(log.target);
    }

    /// Appends the request of the records held to `out` (nothing when none
    /// is held). The records stay held: call [`Self::clear`].
    pub(crate) fn encode_request(&self, out: &mut Vec<u8>) {
        if self.held.is_empty() {
            return;
        }
        let runs = self.held.runs();
        out.reserve(self.held.records.len() + self.resource.len() + 64 * runs.len() + 64);
        out.extend_from_slice(b"{\"resourceLogs\":[{\"resource\":");
        put_resource(out, &self.resource);
        out.extend_from_slice(b",\"scopeLogs\":[");
        for (i, (target, records)) in runs.enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"scope\":");
            let mut scope = Obj::new(out);
            scope.str("name", target);
            scope.end();
            out.extend_from_slice(b",\"logRecords\":[");
            out.extend_from_slice(records);
            out.extend_from_slice(b"]}");
        }
        out.extend_from_slice(b"]}]}");
    }
}

// ---------------------------------------------------------------------------
// Spans
// ---------------------------------------------------------------------------

/// `Span.SpanKind` of the OTLP protocol.
fn kind_number(kind: &SpanKind) -> u32 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

/// `Span.flags` / `Link.flags`: the W3C trace flags, and whether the
/// (parent's or linked) context is remote, as `opentelemetry-proto` sets
/// them (`SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK` always set).
fn span_flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags) | 0x100 | if remote { 0x200 } else { 0 }
}

fn trace_id(id: opentelemetry::trace::TraceId) -> u128 {
    u128::from_be_bytes(id.to_bytes())
}

fn span_id(id: opentelemetry::trace::SpanId) -> u64 {
    u64::from_be_bytes(id.to_bytes())
}

/// The `InstrumentationScope` object.
fn put_scope(out: &mut Vec<u8>, scope: &InstrumentationScope) {
    let mut obj = Obj::new(out);
    obj.str("name", scope.name());
    obj.str("version", scope.version().unwrap_or_default());
    obj.list("attributes", scope.attributes(), |out, kv| {
        let mut one = Obj::new(out);
        j::write_str(one.field("key"), kv.key.as_str().as_bytes());
        put_value(one.field("value"), &kv.value);
        one.end();
    });
    obj.end();
}

fn put_span(out: &mut Vec<u8>, span: &SpanData) {
    let ctx = &span.span_context;
    let mut obj = Obj::new(out);
    j::write_hex_u128(obj.field("traceId"), trace_id(ctx.trace_id()));
    j::write_hex_u64(obj.field("spanId"), span_id(ctx.span_id()));
    obj.str("traceState", &ctx.trace_state().header());
    let parent = span_id(span.parent_span_id);
    if parent != 0 {
        j::write_hex_u64(obj.field("parentSpanId"), parent);
    }
    obj.num(
        "flags",
        span_flags(ctx.trace_flags().to_u8(), span.parent_span_is_remote),
    );
    obj.str("name", &span.name);
    obj.num("kind", kind_number(&span.span_kind));
    obj.u64_str("startTimeUnixNano", nanos(span.start_time));
    obj.u64_str("endTimeUnixNano", nanos(span.end_time));
    put_attributes(&mut obj, &span.attributes);
    obj.num("droppedAttributesCount", span.dropped_attributes_count);
    obj.list("events", span.events.iter(), |out, e| {
        let mut ev = Obj::new(out);
        ev.u64_str("timeUnixNano", nanos(e.timestamp));
        ev.str("name", &e.name);
        put_attributes(&mut ev, &e.attributes);
        ev.num("droppedAttributesCount", e.dropped_attributes_count);
        ev.end();
    });
    obj.num("droppedEventsCount", span.events.dropped_count);
    obj.list("links", span.links.iter(), |out, l| {
        let c = &l.span_context;
        let mut link = Obj::new(out);
        j::write_hex_u128(link.field("traceId"), trace_id(c.trace_id()));
        j::write_hex_u64(link.field("spanId"), span_id(c.span_id()));
        link.str("traceState", &c.trace_state().header());
        put_attributes(&mut link, &l.attributes);
        link.num("droppedAttributesCount", l.dropped_attributes_count);
        link.num("flags", span_flags(c.trace_flags().to_u8(), c.is_remote()));
        link.end();
    });
    obj.num("droppedLinksCount", span.links.dropped_count);
    let mut status = Obj::new(obj.field("status"));
    match &span.status {
        Status::Unset => {}
        Status::Ok => status.num("code", 1),
        Status::Error { description } => {
            status.str("message", description);
            status.num("code", 2);
        }
    }
    status.end();
    obj.end();
}

/// Appends the JSON `ExportTraceServiceRequest` of `spans` to `out`
/// (nothing when there are none); `resource` is the `Resource` object of
/// [`resource_json`].
pub(crate) fn encode_spans(resource: &[u8], spans: &[SpanData], out: &mut Vec<u8>) {
    let Some(first) = spans.first() else {
        return;
    };
    out.extend_from_slice(b"{\"resourceSpans\":[{\"resource\":");
    put_resource(out, resource);
    out.extend_from_slice(b",\"scopeSpans\":[");
    let mut scope = &first.instrumentation_scope;
    for (i, span) in spans.iter().enumerate() {
        if i == 0 || span.instrumentation_scope != *scope {
            if i > 0 {
                out.extend_from_slice(b"]},");
            }
            scope = &span.instrumentation_scope;
            let mut obj = Obj::new(out);
            put_scope(obj.field("scope"), scope);
            obj.str("schemaUrl", scope.schema_url().unwrap_or_default());
            obj.field("spans").push(b'[');
            // Left open: the spans follow, then `]}`.
        } else {
            out.push(b',');
        }
        put_span(out, span);
    }
    out.extend_from_slice(b"]}]}]}");
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use std::borrow::Cow;
    use std::time::{Duration, SystemTime};

    use opentelemetry::trace::{Event, Link, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1 as pc;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as PV;
    use opentelemetry_sdk::trace::{SpanEvents, SpanLinks};
    use proptest::prelude::*;
    use prost::Message as _;
    use serde_json::{Value as J, json};

    use super::super::wire::LogRequestEncoder;
    use super::super::wire::tests::{field_value, fields_of};
    use super::*;
    use crate::export::{Field, FieldValue};
    use crate::{Level, TraceContext};

    const TRACE: TraceContext = TraceContext {
        trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        span_id: 0x1112_1314_1516_1718,
        parent_span_id: 0,
        trace_flags: 3,
    };

    fn parse(bytes: &[u8]) -> J {
        match serde_json::from_slice(bytes) {
            Ok(v) => v,
            Err(e) => panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(bytes)),
        }
    }

    fn logs_json(enc: &LogJsonEncoder) -> J {
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        parse(&out)
    }

    fn view<'a>(target: &'static str, message: &'a str, fields: &'a [Field<'a>]) -> LogView<'a> {
        LogView {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_unix_nano: 1_700_000_000_223_456_789,
            level: Level::Warn,
            target,
            message,
            trace: TRACE,
            correlation_id: Some("req-42"),
            thread: "worker-1",
            truncated: false,
            adjusted_count: 1,
            replayed: false,
            fields,
        }
    }

    fn field<'a>(key: &'a str, value: FieldValue<'a>) -> Field<'a> {
        Field { key, value }
    }

    fn kv(key: &str, value: J) -> J {
        json!({ "key": key, "value": value })
    }

    #[test]
    fn log_record_values_ids_and_times() {
        let fields = [
            field("b", FieldValue::Bool(true)),
            field("u", FieldValue::U64(0)),
            field("big", FieldValue::U64(u64::MAX)),
            field("i", FieldValue::I64(i64::MIN)),
            field("u128", FieldValue::U128(u128::MAX)),
            field("i128", FieldValue::I128(i128::MIN)),
            field("f", FieldValue::F64(-0.0)),
            field("half", FieldValue::F64(1.5)),
            field("nan", FieldValue::F64(f64::NAN)),
            field("inf", FieldValue::F64(f64::INFINITY)),
            field("-inf", FieldValue::F64(f64::NEG_INFINITY)),
            field("c", FieldValue::Char('é')),
            field(
                "s",
                FieldValue::Str("q\"b\\s/\n\t\u{1}\u{1f}\u{7f}é😀\u{2028}"),
            ),
            field("bytes", FieldValue::Bytes(b"a\xffb\xe2\x82")),
            field("none", FieldValue::None),
            field(
                "err",
                FieldValue::Error {
                    type_name: "io::Error",
                    message: "disk \"full\"",
                    stacktrace: "at main",
                },
            ),
        ];
        let mut enc = LogJsonEncoder::default();
        let resource = Resource::builder()
            .service_name("svc")
            .attribute("n", 7)
            .attribute("flag", true)
            .attribute("ratio", 0.5)
            .build_with(|_| None);
        enc.set_resource(&resource);
        let mut v = view("app::db", "slow \"query\"\n\u{1}", &fields);
        v.adjusted_count = 100;
        enc.push(&v);
        let got = logs_json(&enc);

        let rl = &got["resourceLogs"][0];
        let res = rl["resource"]["attributes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(res.len(), resource.len());
        for expected in [
            kv("service.name", json!({"stringValue": "svc"})),
            kv("n", json!({"intValue": "7"})),
            kv("flag", json!({"boolValue": true})),
            kv("ratio", json!({"doubleValue": 0.5})),
        ] {
            assert!(res.contains(&expected), "{expected} not in {res:?}");
        }
        assert_eq!(rl["scopeLogs"].as_array().map(Vec::len), Some(1));
        assert_eq!(rl["scopeLogs"][0]["scope"], json!({"name": "app::db"}));
        let expected = json!({
            "timeUnixNano": "1700000000123456789",
            "observedTimeUnixNano": "1700000000223456789",
            "severityNumber": 13,
            "severityText": "WARN",
            "body": {"stringValue": "slow \"query\"\n\u{1}"},
            "attributes": [
                kv("b", json!({"boolValue": true})),
                kv("u", json!({"intValue": "0"})),
                kv("big", json!({"stringValue": "18446744073709551615"})),
                kv("i", json!({"intValue": "-9223372036854775808"})),
                kv("u128", json!({"stringValue": u128::MAX.to_string()})),
                kv("i128", json!({"stringValue": i128::MIN.to_string()})),
                kv("f", json!({"doubleValue": -0.0})),
                kv("half", json!({"doubleValue": 1.5})),
                kv("nan", json!({"doubleValue": "NaN"})),
                kv("inf", json!({"doubleValue": "Infinity"})),
                kv("-inf", json!({"doubleValue": "-Infinity"})),
                kv("c", json!({"stringValue": "é"})),
                kv("s", json!({"stringValue": "q\"b\\s/\n\t\u{1}\u{1f}\u{7f}é😀\u{2028}"})),
                kv("bytes", json!({"stringValue": String::from_utf8_lossy(b"a\xffb\xe2\x82")})),
                kv("exception.type", json!({"stringValue": "io::Error"})),
                kv("exception.message", json!({"stringValue": "disk \"full\""})),
                kv("exception.stacktrace", json!({"stringValue": "at main"})),
                kv("correlation_id", json!({"stringValue": "req-42"})),
                kv("thread.name", json!({"stringValue": "worker-1"})),
                kv("sampling.adjusted_count", json!({"intValue": "100"})),
            ],
            "flags": 1,
            "traceId": "0102030405060708090a0b0c0d0e0f10",
            "spanId": "1112131415161718",
        });
        assert_eq!(rl["scopeLogs"][0]["logRecords"], json!([expected]));

        // The text itself: control characters escaped, -0.0 kept, ids hex.
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        let text = String::from_utf8(out).unwrap_or_default();
        assert!(text.contains(r#""slow \"query\"\n\u0001""#), "{text}");
        assert!(text.contains(r#"\u001f\u007f"#), "{text}");
        assert!(text.contains(r#"{"doubleValue":-0.0}"#), "{text}");
        assert!(!text.contains('\n') && !text.contains('\u{1}'));
    }

    #[test]
    fn untraced_records_defaults_and_scope_runs() {
        let mut enc = LogJsonEncoder::default();
        // No resource set yet: an empty one.
        let mut a = view("a", "", &[]);
        a.trace = TraceContext::default();
        a.correlation_id = None;
        a.thread = "";
        a.time_unix_nano = 0;
        a.observed_unix_nano = 0;
        a.level = Level::Info;
        enc.push(&a);
        enc.push(&view("a", "x", &[]));
        enc.push(&view("b", "y", &[]));
        enc.push(&view("a", "z", &[]));
        let mut unsampled = view("", "u", &[]);
        unsampled.trace.trace_flags = 2;
        enc.push(&unsampled);
        assert_eq!(enc.len(), 5);
        let got = logs_json(&enc);
        let rl = &got["resourceLogs"][0];
        assert_eq!(rl["resource"], json!({}));
        let scopes: Vec<(J, usize)> = rl["scopeLogs"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| {
                        let n = s["logRecords"].as_array().map_or(0, Vec::len);
                        (s["scope"].clone(), n)
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            scopes,
            [
                (json!({"name": "a"}), 2),
                (json!({"name": "b"}), 1),
                (json!({"name": "a"}), 1),
                (json!({}), 1),
            ]
        );
        // Defaults left out: no times, trace context, flags or attributes.
        assert_eq!(
            rl["scopeLogs"][0]["logRecords"][0],
            json!({"severityNumber": 9, "severityText": "INFO", "body": {"stringValue": ""}})
        );
        // Traced but not sampled: ids, no flags.
        let u = &rl["scopeLogs"][3]["logRecords"][0];
        assert_eq!(u.get("flags"), None);
        assert_eq!(u["traceId"], "0102030405060708090a0b0c0d0e0f10");
        enc.clear();
        assert!(enc.is_empty());
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        assert!(out.is_empty());
    }

    // -- The protobuf paths as the oracle -------------------------------

    /// The OTLP JSON of a protobuf `AnyValue` (the specification's mapping).
    fn any_json(v: &Option<pc::AnyValue>) -> J {
        let f64_json = |f: f64| {
            if f.is_nan() {
                json!("NaN")
            } else if f.is_infinite() {
                json!(if f > 0.0 { "Infinity" } else { "-Infinity" })
            } else {
                json!(f)
            }
        };
        match v.as_ref().and_then(|v| v.value.as_ref()) {
            None => json!({}),
            Some(PV::StringValue(s)) => json!({"stringValue": s}),
            Some(PV::BoolValue(b)) => json!({"boolValue": b}),
            Some(PV::IntValue(n)) => json!({"intValue": n.to_string()}),
            Some(PV::DoubleValue(f)) => json!({"doubleValue": f64_json(*f)}),
            Some(PV::ArrayValue(a)) => {
                let values: Vec<J> = a
                    .values
                    .iter()
                    .map(|v| any_json(&Some(v.clone())))
                    .collect();
                if values.is_empty() {
                    json!({"arrayValue": {}})
                } else {
                    json!({"arrayValue": {"values": values}})
                }
            }
            Some(other) => panic!("not produced: {other:?}"),
        }
    }

    fn kvs_json(kvs: &[pc::KeyValue]) -> Vec<J> {
        kvs.iter().map(|k| kv(&k.key, any_json(&k.value))).collect()
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// An object of the fields that are not the proto3 default.
    fn obj(fields: Vec<(&str, J)>) -> J {
        let map: serde_json::Map<String, J> = fields
            .into_iter()
            .filter(|(_, v)| {
                !matches!(v, J::Null)
                    && *v != json!("")
                    && *v != json!("0")
                    && *v != json!(0)
                    && *v != json!([])
            })
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        J::Object(map)
    }

    fn opt_hex(b: &[u8]) -> J {
        if b.is_empty() { J::Null } else { json!(hex(b)) }
    }

    fn scope_json(s: &Option<pc::InstrumentationScope>) -> J {
        let s = s.clone().unwrap_or_default();
        obj(vec![
            ("name", json!(s.name)),
            ("version", json!(s.version)),
            ("attributes", json!(kvs_json(&s.attributes))),
        ])
    }

    fn logs_request_json(req: &ExportLogsServiceRequest) -> J {
        let rls: Vec<J> = req
            .resource_logs
            .iter()
            .map(|rl| {
                let res = rl.resource.clone().unwrap_or_default();
                let scopes: Vec<J> = rl
                    .scope_logs
                    .iter()
                    .map(|sl| {
                        let recs: Vec<J> = sl
                            .log_records
                            .iter()
                            .map(|r| {
                                obj(vec![
                                    ("timeUnixNano", json!(r.time_unix_nano.to_string())),
                                    ("severityNumber", json!(r.severity_number)),
                                    ("severityText", json!(r.severity_text)),
                                    ("body", any_json(&r.body)),
                                    ("attributes", json!(kvs_json(&r.attributes))),
                                    ("flags", json!(r.flags)),
                                    ("traceId", opt_hex(&r.trace_id)),
                                    ("spanId", opt_hex(&r.span_id)),
                                    (
                                        "observedTimeUnixNano",
                                        json!(r.observed_time_unix_nano.to_string()),
                                    ),
                                ])
                            })
                            .collect();
                        json!({"scope": scope_json(&sl.scope), "logRecords": recs})
                    })
                    .collect();
                json!({
                    "resource": obj(vec![("attributes", json!(kvs_json(&res.attributes)))]),
                    "scopeLogs": scopes,
                })
            })
            .collect();
        json!({ "resourceLogs": rls })
    }

    /// `a == b`, doubles within two units in the last place (serde_json's
    /// default float parsing, without `float_roundtrip`, may be one off,
    /// subnormals included).
    fn same(a: &J, b: &J) -> bool {
        match (a, b) {
            (J::Number(x), J::Number(y)) => match (x.as_f64(), y.as_f64()) {
                (Some(x), Some(y)) if x.is_finite() && y.is_finite() => {
                    x == y
                        || (x.is_sign_negative() == y.is_sign_negative()
                            && x.to_bits().abs_diff(y.to_bits()) <= 2)
                }
                _ => x == y,
            },
            (J::Array(x), J::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (J::Object(x), J::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// The JSON request says what the protobuf request of the same
        /// records says.
        #[test]
        fn prop_logs_match_the_protobuf_encoder(
            message in ".*",
            thread in ".{0,12}",
            key in ".{0,12}",
            corr in proptest::option::of(".{0,20}"),
            times in (any::<u64>(), any::<u64>()),
            trace in (any::<u128>(), any::<u64>(), any::<u8>()),
            targets in proptest::collection::vec(0usize..3, 1..5),
            raw in proptest::collection::vec(field_value(), 0..6),
            res in proptest::collection::vec((".{0,8}", any::<i64>(), any::<f64>()), 0..3),
        ) {
            let fields = fields_of(&raw, &key);
            let mut rb = Resource::builder();
            for (k, n, f) in &res {
                rb = rb.attribute(format!("s.{k}"), k.as_str()).attribute(format!("i.{k}"), *n).attribute(format!("f.{k}"), *f);
            }
            let resource = rb.build_with(|_| None);
            let mut proto = LogRequestEncoder::new();
            let mut js = LogJsonEncoder::default();
            proto.set_resource(&resource);
            js.set_resource(&resource);
            for (n, t) in targets.iter().enumerate() {
                let v = LogView {
                    time_unix_nano: times.0,
                    observed_unix_nano: times.1,
                    level: [Level::Trace, Level::Debug, Level::Info, Level::Error, Level::Fatal][n % 5],
                    target: ["t0", "t1", ""][*t],
                    message: &message,
                    trace: TraceContext { trace_id: trace.0, span_id: trace.1, parent_span_id: 0, trace_flags: trace.2 },
                    correlation_id: corr.as_deref(),
                    thread: &thread,
                    truncated: false,
                    adjusted_count: n as u64,
                    replayed: false,
                    fields: &fields,
                };
                proto.push(&v);
                js.push(&v);
            }
            let mut bytes = Vec::new();
            proto.encode_request(&mut bytes);
            let req = ExportLogsServiceRequest::decode(&bytes[..]);
            prop_assert!(req.is_ok());
            let expected = logs_request_json(&req.unwrap_or_default());
            let got = logs_json(&js);
            prop_assert!(same(&got, &expected), "got {}\nexpected {}", got, expected);
        }
    }

    // -- Spans ----------------------------------------------------------------

    fn at(nanos: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(nanos)
    }

    fn span(name: &'static str, scope: &InstrumentationScope) -> SpanData {
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(TRACE.trace_id),
                SpanId::from(0x1112_1314_1516_1718),
                TraceFlags::SAMPLED,
                false,
                TraceState::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: at(1_700_000_000_000_000_001),
            end_time: at(1_700_000_000_500_000_000),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        }
    }

    fn full_span(scope: &InstrumentationScope) -> SpanData {
        let mut s = span("GET /orders", scope);
        s.span_context = SpanContext::new(
            TraceId::from(TRACE.trace_id),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            false,
            "ot=th:8,vendor=x".parse().unwrap_or_default(),
        );
        s.parent_span_id = SpanId::from(0xb7ad_6b71_6920_3331);
        s.parent_span_is_remote = true;
        s.span_kind = SpanKind::Server;
        s.attributes = vec![
            KeyValue::new("b", false),
            KeyValue::new("i", -3i64),
            KeyValue::new("f", 2.5),
            KeyValue::new("nan", f64::NAN),
            KeyValue::new("s", "x\"y\\z\u{0}"),
            KeyValue::new("ai", Value::Array(Array::I64(vec![1, -2]))),
            KeyValue::new("ab", Value::Array(Array::Bool(vec![true]))),
            KeyValue::new(
                "af",
                Value::Array(Array::F64(vec![0.25, f64::NEG_INFINITY])),
            ),
            KeyValue::new(
                "as",
                Value::Array(Array::String(vec!["p".into(), "q".into()])),
            ),
            KeyValue::new("empty", Value::Array(Array::I64(Vec::new()))),
        ];
        s.dropped_attributes_count = 2;
        s.events.events = vec![
            Event::new(
                "exception",
                at(1_700_000_000_250_000_000),
                vec![KeyValue::new("exception.message", "boom")],
                1,
            ),
            Event::new("retry", at(5), Vec::new(), 0),
        ];
        s.events.dropped_count = 3;
        s.links.links = vec![Link::new(
            SpanContext::new(
                TraceId::from(0xa1u128),
                SpanId::from(0xb2),
                TraceFlags::default(),
                true,
                "k=v".parse().unwrap_or_default(),
            ),
            vec![KeyValue::new("l", 1i64)],
            4,
        )];
        s.links.dropped_count = 5;
        s.status = Status::error("bad \"thing\"");
        s
    }

    fn spans_json(resource: &Resource, spans: &[SpanData]) -> J {
        let mut res = Vec::new();
        resource_json(resource, &mut res);
        let mut out = Vec::new();
        encode_spans(&res, spans, &mut out);
        parse(&out)
    }

    #[test]
    fn span_kind_status_events_links_and_scope() {
        let scope = InstrumentationScope::builder("scope.a")
            .with_version("1.2")
            .with_schema_url("https://opentelemetry.io/schemas/1.30.0")
            .with_attributes([KeyValue::new("sa", "v")])
            .build();
        let other = InstrumentationScope::builder("scope.b").build();
        let mut ok = span("ok", &scope);
        ok.status = Status::Ok;
        ok.span_kind = SpanKind::Client;
        let mut producer = span("p", &other);
        producer.span_kind = SpanKind::Producer;
        let mut consumer = span("c", &other);
        consumer.span_kind = SpanKind::Consumer;
        let mut unsampled = span("u", &other);
        unsampled.span_context = SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(1),
            TraceFlags::default(),
            false,
            TraceState::default(),
        );
        let resource = Resource::builder().service_name("svc").build_with(|_| None);
        let got = spans_json(
            &resource,
            &[full_span(&scope), ok, producer, consumer, unsampled],
        );
        let rs = &got["resourceSpans"][0];
        let res = rs["resource"]["attributes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(res.contains(&kv("service.name", json!({"stringValue": "svc"}))));
        let scopes = rs["scopeSpans"].as_array().cloned().unwrap_or_default();
        assert_eq!(scopes.len(), 2);
        assert_eq!(
            scopes[0]["scope"],
            json!({"name": "scope.a", "version": "1.2", "attributes": [kv("sa", json!({"stringValue": "v"}))]})
        );
        assert_eq!(
            scopes[0]["schemaUrl"],
            "https://opentelemetry.io/schemas/1.30.0"
        );
        assert_eq!(scopes[1]["scope"], json!({"name": "scope.b"}));
        assert_eq!(scopes[1].get("schemaUrl"), None);
        let expected = json!({
            "traceId": "0102030405060708090a0b0c0d0e0f10",
            "spanId": "00f067aa0ba902b7",
            "traceState": "ot=th:8,vendor=x",
            "parentSpanId": "b7ad6b7169203331",
            // Sampled, has-is-remote, is-remote.
            "flags": 0x301,
            "name": "GET /orders",
            "kind": 2,
            "startTimeUnixNano": "1700000000000000001",
            "endTimeUnixNano": "1700000000500000000",
            "attributes": [
                kv("b", json!({"boolValue": false})),
                kv("i", json!({"intValue": "-3"})),
                kv("f", json!({"doubleValue": 2.5})),
                kv("nan", json!({"doubleValue": "NaN"})),
                kv("s", json!({"stringValue": "x\"y\\z\u{0}"})),
                kv("ai", json!({"arrayValue": {"values": [{"intValue": "1"}, {"intValue": "-2"}]}})),
                kv("ab", json!({"arrayValue": {"values": [{"boolValue": true}]}})),
                kv("af", json!({"arrayValue": {"values": [{"doubleValue": 0.25}, {"doubleValue": "-Infinity"}]}})),
                kv("as", json!({"arrayValue": {"values": [{"stringValue": "p"}, {"stringValue": "q"}]}})),
                kv("empty", json!({"arrayValue": {}})),
            ],
            "droppedAttributesCount": 2,
            "events": [
                {
                    "timeUnixNano": "1700000000250000000",
                    "name": "exception",
                    "attributes": [kv("exception.message", json!({"stringValue": "boom"}))],
                    "droppedAttributesCount": 1,
                },
                {"timeUnixNano": "5", "name": "retry"},
            ],
            "droppedEventsCount": 3,
            "links": [{
                "traceId": "000000000000000000000000000000a1",
                "spanId": "00000000000000b2",
                "traceState": "k=v",
                "attributes": [kv("l", json!({"intValue": "1"}))],
                "droppedAttributesCount": 4,
                // Not sampled, has-is-remote, is-remote.
                "flags": 0x300,
            }],
            "droppedLinksCount": 5,
            "status": {"message": "bad \"thing\"", "code": 2},
        });
        assert_eq!(scopes[0]["spans"][0], expected);
        let ok = &scopes[0]["spans"][1];
        assert_eq!(ok["status"], json!({"code": 1}));
        assert_eq!(ok["kind"], 3);
        assert_eq!(ok["flags"], 0x101);
        assert_eq!(ok.get("parentSpanId"), None);
        assert_eq!(ok.get("traceState"), None);
        assert_eq!(ok.get("events"), None);
        assert_eq!(ok.get("links"), None);
        let kinds: Vec<J> = scopes[1]["spans"]
            .as_array()
            .map(|s| s.iter().map(|s| s["kind"].clone()).collect())
            .unwrap_or_default();
        assert_eq!(kinds, [json!(4), json!(5), json!(1)]);
        let u = &scopes[1]["spans"][2];
        assert_eq!(u["status"], json!({}));
        assert_eq!(u["flags"], 0x100);
        assert_eq!(u["traceId"], "00000000000000000000000000000001");

        // A scope that comes back starts another ScopeSpans; no spans, no
        // request.
        let a = span("a", &scope);
        let b = span("b", &other);
        let got = spans_json(&resource, &[a.clone(), b, a]);
        assert_eq!(
            got["resourceSpans"][0]["scopeSpans"]
                .as_array()
                .map(Vec::len),
            Some(3)
        );
        let mut out = Vec::new();
        encode_spans(b"{}", &[], &mut out);
        assert!(out.is_empty());
    }

    /// The JSON of spans says what `opentelemetry-proto`'s conversion (the
    /// HTTP/protobuf and gRPC span path) says.
    #[test]
    fn spans_match_opentelemetry_proto() {
        use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
        use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;

        let scope = InstrumentationScope::builder("scope.a")
            .with_version("1.2")
            .with_attributes([KeyValue::new("sa", 1.5)])
            .build();
        let other = InstrumentationScope::builder("scope.b").build();
        let mut spans = vec![full_span(&scope), span("x", &other), span("y", &scope)];
        spans[1].status = Status::Ok;
        spans[2].span_context = SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(8),
            TraceFlags::default(),
            true,
            TraceState::default(),
        );
        let resource = Resource::builder()
            .service_name("svc")
            .attribute("n", -1)
            .build_with(|_| None);
        let sdk = crate::export::otlp::sdk::sdk_resource(&resource);
        let proto = group_spans_by_resource_and_scope(
            spans.clone(),
            &ResourceAttributesWithSchema::from(&sdk),
        );
        // (scope, span) pairs, in span id order (the proto groups by scope).
        let mut expected: Vec<(J, J)> = Vec::new();
        for rs in &proto {
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    let events: Vec<J> = s
                        .events
                        .iter()
                        .map(|e| {
                            obj(vec![
                                ("timeUnixNano", json!(e.time_unix_nano.to_string())),
                                ("name", json!(e.name)),
                                ("attributes", json!(kvs_json(&e.attributes))),
                                ("droppedAttributesCount", json!(e.dropped_attributes_count)),
                            ])
                        })
                        .collect();
                    let links: Vec<J> = s
                        .links
                        .iter()
                        .map(|l| {
                            obj(vec![
                                ("traceId", json!(hex(&l.trace_id))),
                                ("spanId", json!(hex(&l.span_id))),
                                ("traceState", json!(l.trace_state)),
                                ("attributes", json!(kvs_json(&l.attributes))),
                                ("droppedAttributesCount", json!(l.dropped_attributes_count)),
                                ("flags", json!(l.flags)),
                            ])
                        })
                        .collect();
                    let status = s.status.clone().unwrap_or_default();
                    let span = obj(vec![
                        ("traceId", json!(hex(&s.trace_id))),
                        ("spanId", json!(hex(&s.span_id))),
                        ("traceState", json!(s.trace_state)),
                        ("parentSpanId", opt_hex(&s.parent_span_id)),
                        ("flags", json!(s.flags)),
                        ("name", json!(s.name)),
                        ("kind", json!(s.kind)),
                        (
                            "startTimeUnixNano",
                            json!(s.start_time_unix_nano.to_string()),
                        ),
                        ("endTimeUnixNano", json!(s.end_time_unix_nano.to_string())),
                        ("attributes", json!(kvs_json(&s.attributes))),
                        ("droppedAttributesCount", json!(s.dropped_attributes_count)),
                        ("events", json!(events)),
                        ("droppedEventsCount", json!(s.dropped_events_count)),
                        ("links", json!(links)),
                        ("droppedLinksCount", json!(s.dropped_links_count)),
                        (
                            "status",
                            obj(vec![
                                ("message", json!(status.message)),
                                ("code", json!(status.code)),
                            ]),
                        ),
                    ]);
                    expected.push((scope_json(&ss.scope), span));
                }
            }
            // The same attributes (the SDK's resource has its own order).
            let res = rs.resource.clone().unwrap_or_default();
            let got = spans_json(&resource, &spans);
            let sorted = |mut v: Vec<J>| {
                v.sort_by_key(|a| a["key"].as_str().unwrap_or_default().to_string());
                v
            };
            let got_attrs = got["resourceSpans"][0]["resource"]["attributes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            assert_eq!(sorted(got_attrs), sorted(kvs_json(&res.attributes)));
        }
        let got = spans_json(&resource, &spans);
        let mut pairs: Vec<(J, J)> = Vec::new();
        for ss in got["resourceSpans"][0]["scopeSpans"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            for s in ss["spans"].as_array().cloned().unwrap_or_default() {
                pairs.push((ss["scope"].clone(), s));
            }
        }
        let by_id = |p: &(J, J)| p.1["spanId"].as_str().unwrap_or_default().to_string();
        expected.sort_by_key(by_id);
        pairs.sort_by_key(by_id);
        assert_eq!(pairs.len(), expected.len());
        for (g, e) in pairs.iter().zip(&expected) {
            assert!(same(&g.0, &e.0), "{}\n{}", g.0, e.0);
            assert!(same(&g.1, &e.1), "{}\n{}", g.1, e.1);
        }
    }
}
