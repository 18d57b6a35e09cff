//! Direct OTLP log export: a hand-written protobuf encoder for
//! `ExportLogsServiceRequest` (its bytes are sent by
//! [`WireClient`](super::client::WireClient)).
//!
//! This is the fast path of [`super::LogEncoder::Direct`]: instead of
//! turning each [`LogView`] into an SDK log record that `opentelemetry-otlp`
//! then converts into `opentelemetry-proto` messages (several allocations
//! per record and attribute), [`LogRequestEncoder::push`] writes the record's
//! protobuf bytes straight into a reused buffer, and
//! [`LogRequestEncoder::encode_request`] wraps the batch into one request.
//! No allocation is made per record once the buffers have grown to the batch
//! size.
//!
//! # Encoding
//!
//! The request holds one `ResourceLogs` (the process's resource) and one
//! `ScopeLogs` per run of consecutive records with the same target (a target
//! that comes back later starts another `ScopeLogs` with the same scope name,
//! which OTLP allows). The field numbers and wire types are those of
//! `opentelemetry/proto/logs/v1/logs.proto` (LogRecord: `time_unix_nano` 1
//! fixed64, `severity_number` 2 varint, `severity_text` 3, `body` 5
//! `AnyValue`, `attributes` 6 `KeyValue`, `flags` 8 fixed32, `trace_id` 9,
//! `span_id` 10, `observed_time_unix_nano` 11 fixed64). Lengths are computed
//! exactly before the contents are written (no padded varints), and fields
//! whose value is the proto3 default are left out, as `prost` does.
//!
//! The mapping is the one of the SDK path (see the module docs of
//! [`super`]): same severities, body, attribute keys and order
//! (fields, then `correlation_id`, then `thread.name`, then
//! `sampling.adjusted_count` when above 1), same value rules
//! (integers above `i64::MAX` and 128-bit integers as decimal text,
//! characters and lossily decoded bytes as strings, errors as the
//! `exception.*` attributes, valueless fields left out), trace context only
//! inside a trace with only the sampled flag kept.

use crate::Level;
use crate::export::{FieldValue, LogView};
use crate::resource::{AttrValue, Resource};

// ---------------------------------------------------------------------------
// Protobuf primitives
// ---------------------------------------------------------------------------

/// Wire type of varints.
const VARINT: u8 = 0;
/// Wire type of 64-bit fixed values.
const I64: u8 = 1;
/// Wire type of length-delimited values.
const LEN: u8 = 2;
/// Wire type of 32-bit fixed values.
const I32: u8 = 5;

/// The one-byte key of field `field` (all field numbers used here are < 16).
const fn key(field: u8, wire_type: u8) -> u8 {
    (field << 3) | wire_type
}

/// Bytes of `v` as a varint.
fn varint_len(v: u64) -> usize {
    // 1 for 0..=127, then one more per 7 bits.
    let bits = 64 - (v | 1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Where protobuf bytes go: a growing `Vec` (requests, the resource) or a
/// [`Cursor`] over a record's bytes sized beforehand.
pub(super) trait Put {
    fn byte(&mut self, b: u8);
    fn bytes(&mut self, b: &[u8]);
}

impl Put for Vec<u8> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.push(b);
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.extend_from_slice(b);
    }
}

/// Writes into a slice whose size was worked out beforehand (no capacity
/// check per byte, as a `Vec` makes). A write past the end is not made but
/// still moves `pos`, so a size that was worked out wrong shows as
/// `pos != len` afterwards instead of a panic.
pub(super) struct Cursor<'a> {
    b: &'a mut [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a mut [u8]) -> Cursor<'a> {
        Cursor { b, pos: 0 }
    }

    /// Whether exactly the slice was written.
    fn is_full(&self) -> bool {
        self.pos == self.b.len()
    }
}

impl Put for Cursor<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        if let Some(slot) = self.b.get_mut(self.pos) {
            *slot = b;
        }
        self.pos = self.pos.saturating_add(1);
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        let end = self.pos.saturating_add(b.len());
        if let Some(dst) = self.b.get_mut(self.pos..end) {
            dst.copy_from_slice(b);
        }
        self.pos = end;
    }
}

#[inline(always)]
fn put_varint(buf: &mut impl Put, mut v: u64) {
    while v >= 0x80 {
        buf.byte((v as u8 & 0x7f) | 0x80);
        v >>= 7;
    }
    buf.byte(v as u8);
}

/// Size of a length-delimited field (one-byte key, length, contents).
fn len_field(content: usize) -> usize {
    1 + varint_len(content as u64) + content
}

/// Size of a string field, 0 when empty (proto3 leaves defaults out).
fn str_field(s: usize) -> usize {
    if s == 0 { 0 } else { len_field(s) }
}

#[inline(always)]
fn put_len_header(buf: &mut impl Put, field: u8, len: usize) {
    buf.byte(key(field, LEN));
    put_varint(buf, len as u64);
}

#[inline(always)]
fn put_bytes_field(buf: &mut impl Put, field: u8, bytes: &[u8]) {
    put_len_header(buf, field, bytes.len());
    buf.bytes(bytes);
}

/// A string field, left out when empty.
fn put_str_field(buf: &mut impl Put, field: u8, s: &str) {
    if !s.is_empty() {
        put_bytes_field(buf, field, s.as_bytes());
    }
}

/// A fixed64 field, left out when 0.
fn put_fixed64_field(buf: &mut impl Put, field: u8, v: u64) {
    if v != 0 {
        buf.byte(key(field, I64));
        buf.bytes(&v.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------
// Attribute values
// ---------------------------------------------------------------------------

/// Text of a number or character, formatted on the stack (the longest is
/// `i128::MIN`, 40 bytes).
#[derive(Clone, Copy)]
pub(super) struct Text {
    buf: [u8; 40],
    len: usize,
}

impl Text {
    fn new(s: &str) -> Text {
        let mut t = Text {
            buf: [0; 40],
            len: 0,
        };
        let n = s.len().min(t.buf.len());
        t.buf[..n].copy_from_slice(&s.as_bytes()[..n]);
        t.len = n;
        t
    }

    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len.min(self.buf.len())]
    }
}

/// An attribute value as it goes on the wire (an `AnyValue`; the JSON
/// encoder writes the same values).
#[derive(Clone, Copy)]
pub(super) enum Val<'a> {
    Bool(bool),
    Int(i64),
    Double(f64),
    Str(&'a str),
    /// A short formatted text (large integers, characters).
    Text(Text),
    /// Bytes decoded as `String::from_utf8_lossy` would.
    Lossy(&'a [u8]),
}

/// Length of `String::from_utf8_lossy(b)`, without allocating.
fn lossy_len(b: &[u8]) -> usize {
    b.utf8_chunks()
        .map(|c| c.valid().len() + if c.invalid().is_empty() { 0 } else { 3 })
        .sum()
}

fn put_lossy(buf: &mut impl Put, b: &[u8]) {
    for c in b.utf8_chunks() {
        buf.bytes(c.valid().as_bytes());
        if !c.invalid().is_empty() {
            buf.bytes("\u{FFFD}".as_bytes());
        }
    }
}

impl Val<'_> {
    /// Size of the `AnyValue` message's contents (a oneof: always present).
    fn size(&self) -> usize {
        match self {
            Val::Bool(_) => 2,
            Val::Int(n) => 1 + varint_len(*n as u64),
            Val::Double(_) => 9,
            Val::Str(s) => len_field(s.len()),
            Val::Text(t) => len_field(t.bytes().len()),
            Val::Lossy(b) => len_field(lossy_len(b)),
        }
    }

    /// Writes the `AnyValue` message's contents.
    fn put(&self, buf: &mut impl Put) {
        match self {
            Val::Bool(b) => {
                buf.byte(key(2, VARINT));
                buf.byte(u8::from(*b));
            }
            Val::Int(n) => {
                buf.byte(key(3, VARINT));
                put_varint(buf, *n as u64);
            }
            Val::Double(f) => {
                buf.byte(key(4, I64));
                buf.bytes(&f.to_bits().to_le_bytes());
            }
            Val::Str(s) => put_bytes_field(buf, 1, s.as_bytes()),
            Val::Text(t) => put_bytes_field(buf, 1, t.bytes()),
            Val::Lossy(b) => {
                put_len_header(buf, 1, lossy_len(b));
                put_lossy(buf, b);
            }
        }
    }
}

/// Size of a `KeyValue` message's contents, given its value's.
fn kv_size_of(k: &str, value_size: usize) -> usize {
    str_field(k.len()) + len_field(value_size)
}

/// Size of a `KeyValue` message's contents.
fn kv_size(k: &str, v: &Val<'_>) -> usize {
    kv_size_of(k, v.size())
}

/// Writes a `KeyValue` as field `field` of the enclosing message.
fn put_kv(buf: &mut impl Put, field: u8, k: &str, v: &Val<'_>) {
    let value_size = v.size();
    put_len_header(buf, field, kv_size_of(k, value_size));
    put_str_field(buf, 1, k);
    put_len_header(buf, 2, value_size);
    v.put(buf);
}

fn int_text(n: impl itoa::Integer) -> Val<'static> {
    Val::Text(Text::new(itoa::Buffer::new().format(n)))
}

/// Calls `out` with the attributes of a log record, in the SDK path's order
/// and with its value rules.
pub(super) fn for_each_attr<'a>(log: &LogView<'a>, mut out: impl FnMut(&'a str, Val<'a>)) {
    for field in log.fields {
        let v = match field.value {
            FieldValue::None => continue,
            FieldValue::Bool(b) => Val::Bool(b),
            FieldValue::U64(n) => match i64::try_from(n) {
                Ok(n) => Val::Int(n),
                Err(_) => int_text(n),
            },
            FieldValue::I64(n) => Val::Int(n),
            FieldValue::U128(n) => int_text(n),
            FieldValue::I128(n) => int_text(n),
            FieldValue::F64(f) => Val::Double(f),
            FieldValue::Char(c) => Val::Text(Text::new(c.encode_utf8(&mut [0; 4]))),
            FieldValue::Str(s) => Val::Str(s),
            FieldValue::Bytes(b) => Val::Lossy(b),
            FieldValue::Error {
                type_name,
                message,
                stacktrace,
            } => {
                out("exception.type", Val::Str(type_name));
                out("exception.message", Val::Str(message));
                if !stacktrace.is_empty() {
                    out("exception.stacktrace", Val::Str(stacktrace));
                }
                continue;
            }
        };
        out(field.key, v);
    }
    if let Some(id) = log.correlation_id {
        out("correlation_id", Val::Str(id));
    }
    if !log.thread.is_empty() {
        out("thread.name", Val::Str(log.thread));
    }
    if log.adjusted_count > 1 {
        let n = i64::try_from(log.adjusted_count).unwrap_or(i64::MAX);
        out("sampling.adjusted_count", Val::Int(n));
    }
}

/// The OTLP severity number of a level.
pub(super) fn severity_number(level: Level) -> u64 {
    u64::from(level.severity_number())
}

// ---------------------------------------------------------------------------
// The request encoder
// ---------------------------------------------------------------------------

/// Consecutive records of one target: the records' bytes up to `end`.
#[derive(Clone, Copy, Debug)]
struct Run {
    target: &'static str,
    end: usize,
}

impl Run {
    /// Whether a record of `target` belongs to this run.
    fn has(&self, target: &'static str) -> bool {
        std::ptr::eq(self.target, target) || self.target == target
    }
}

/// The records held for the next request, encoded back to back, in runs of
/// one target (one `ScopeLogs` each): what the protobuf and the JSON log
/// encoders keep between requests. The buffers are reused.
#[derive(Debug, Default)]
pub(super) struct Held {
    /// The records' encodings.
    pub(super) records: Vec<u8>,
    runs: Vec<Run>,
    count: usize,
}

impl Held {
    /// Records held.
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// Whether no record is held.
    pub(super) fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Forgets the records held.
    pub(super) fn clear(&mut self) {
        self.records.clear();
        self.runs.clear();
        self.count = 0;
    }

    /// Whether a record of `target` would continue the last run.
    pub(super) fn continues(&self, target: &'static str) -> bool {
        self.runs.last().is_some_and(|r| r.has(target))
    }

    /// Counts the record of `target` just appended to `records`: it extends
    /// the last run when that has `target`, else starts a new one.
    pub(super) fn ended(&mut self, target: &'static str) {
        let end = self.records.len();
        match self.runs.last_mut() {
            Some(run) if run.has(target) => run.end = end,
            _ => self.runs.push(Run { target, end }),
        }
        self.count += 1;
    }

    /// Each run's target and its records' bytes, in order.
    pub(super) fn runs(&self) -> impl ExactSizeIterator<Item = (&'static str, &[u8])> {
        let mut start = 0;
        self.runs.iter().map(move |run| {
            let records = self.records.get(start..run.end).unwrap_or_default();
            start = run.end;
            (run.target, records)
        })
    }
}

/// Builds `ExportLogsServiceRequest`s from [`LogView`]s, without allocating
/// per record (the buffers are reused from batch to batch).
#[derive(Debug, Default)]
pub(crate) struct LogRequestEncoder {
    /// The `Resource` message's contents (its attributes).
    resource: Vec<u8>,
    /// Each record as a complete `ScopeLogs.log_records` field.
    held: Held,
}

impl LogRequestEncoder {
    /// An empty encoder with an empty resource.
    pub(crate) fn new() -> LogRequestEncoder {
        LogRequestEncoder::default()
    }

    /// Sets the resource of the requests that follow.
    pub(crate) fn set_resource(&mut self, resource: &Resource) {
        self.resource.clear();
        for (k, v) in resource.iter() {
            let v = match v {
                AttrValue::Str(s) => Val::Str(s),
                AttrValue::Bool(b) => Val::Bool(*b),
                AttrValue::I64(n) => Val::Int(*n),
                AttrValue::F64(f) => Val::Double(*f),
            };
            put_kv(&mut self.resource, 1, k, &v);
        }
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

    /// Encodes `log` and holds it for the next request; false (nothing
    /// held) only if its encoded size was worked out wrong, which the
    /// tests rule out.
    pub(crate) fn push(&mut self, log: &LogView<'_>) -> bool {
        let mut attrs = 0;
        for_each_attr(log, |k, v| attrs += len_field(kv_size(k, &v)));
        let level = log.level.as_str();
        let body = Val::Str(log.message);
        let traced = log.trace.is_some();
        let flags = u32::from(log.trace.trace_flags & 1);
        let size = if log.time_unix_nano != 0 { 9 } else { 0 }
            + 1
            + varint_len(severity_number(log.level))
            + str_field(level.len())
            + len_field(body.size())
            + attrs
            + if traced && flags != 0 { 5 } else { 0 }
            + if traced {
                len_field(16) + len_field(8)
            } else {
                0
            }
            + if log.observed_unix_nano != 0 { 9 } else { 0 };

        // The record's bytes are sized exactly above: write them into
        // that room, then check that it was filled exactly.
        let records = &mut self.held.records;
        let start = records.len();
        records.resize(start + len_field(size), 0);
        let Some(room) = records.get_mut(start..) else {
            return false;
        };
        let buf = &mut Cursor::new(room);
        put_len_header(buf, 2, size);
        put_fixed64_field(buf, 1, log.time_unix_nano);
        buf.byte(key(2, VARINT));
        put_varint(buf, severity_number(log.level));
        put_str_field(buf, 3, level);
        put_len_header(buf, 5, body.size());
        body.put(buf);
        for_each_attr(log, |k, v| put_kv(buf, 6, k, &v));
        if traced {
            if flags != 0 {
                buf.byte(key(8, I32));
                buf.bytes(&flags.to_le_bytes());
            }
            put_bytes_field(buf, 9, &log.trace.trace_id.to_be_bytes());
            put_bytes_field(buf, 10, &log.trace.span_id.to_be_bytes());
        }
        put_fixed64_field(buf, 11, log.observed_unix_nano);
        if !buf.is_full() {
            // The size worked out above and the bytes written disagree (a
            // bug): the record is left out, never sent corrupt.
            debug_assert!(false, "OTLP record size mismatch");
            records.truncate(start);
            return false;
        }
        self.held.ended(log.target);
        true
    }

    /// Appends the request of the records held to `out` (nothing when none
    /// is held). The records stay held: call [`Self::clear`].
    pub(crate) fn encode_request(&self, out: &mut Vec<u8>) {
        if self.held.is_empty() {
            return;
        }
        // ScopeLogs { scope: InstrumentationScope { name }, log_records... }
        let scope_logs_size =
            |target: &str, records: &[u8]| len_field(str_field(target.len())) + records.len();
        let resource_logs = len_field(self.resource.len())
            + self
                .held
                .runs()
                .map(|(target, records)| len_field(scope_logs_size(target, records)))
                .sum::<usize>();
        out.reserve(len_field(resource_logs));
        // ExportLogsServiceRequest.resource_logs
        put_len_header(out, 1, resource_logs);
        // ResourceLogs.resource
        put_bytes_field(out, 1, &self.resource);
        for (target, records) in self.held.runs() {
            // ResourceLogs.scope_logs
            put_len_header(out, 2, scope_logs_size(target, records));
            // ScopeLogs.scope
            put_len_header(out, 1, str_field(target.len()));
            put_str_field(out, 1, target);
            // ScopeLogs.log_records, encoded already.
            out.extend_from_slice(records);
        }
    }
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::TraceContext;
    use crate::export::Field;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::any_value::Value as PV;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::LogRecord;
    use proptest::prelude::*;
    use prost::Message as _;

    fn decode(enc: &LogRequestEncoder) -> ExportLogsServiceRequest {
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        match ExportLogsServiceRequest::decode(&out[..]) {
            Ok(r) => r,
            Err(e) => panic!("decode: {e}"),
        }
    }

    fn kv(k: &str, v: PV) -> KeyValue {
        KeyValue {
            key: k.into(),
            value: Some(AnyValue { value: Some(v) }),
            ..Default::default()
        }
    }

    fn s(v: &str) -> PV {
        PV::StringValue(v.into())
    }

    const TRACE: TraceContext = TraceContext {
        trace_id: 0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        span_id: 0x1112_1314_1516_1718,
        parent_span_id: 0,
        trace_flags: 3,
    };

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

    #[test]
    fn varint_lengths() {
        for (v, n) in [
            (0u64, 1),
            (127, 1),
            (128, 2),
            (16_383, 2),
            (16_384, 3),
            (u64::MAX, 10),
        ] {
            assert_eq!(varint_len(v), n, "{v}");
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), n, "{v}");
        }
    }

    #[test]
    fn record_mapping_round_trip() {
        let fields = [
            Field {
                key: "b",
                value: FieldValue::Bool(false),
            },
            Field {
                key: "u",
                value: FieldValue::U64(0),
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
                value: FieldValue::F64(-0.0),
            },
            Field {
                key: "c",
                value: FieldValue::Char('é'),
            },
            Field {
                key: "s",
                value: FieldValue::Str(""),
            },
            Field {
                key: "bytes",
                value: FieldValue::Bytes(b"a\xffb\xe2\x82"),
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
                    stacktrace: "",
                },
            },
        ];
        let mut enc = LogRequestEncoder::new();
        enc.set_resource(
            &Resource::builder()
                .service_name("svc")
                .attribute("n", 7)
                .build_with(|_| None),
        );
        let mut v = view("app::db", "slow query", &fields);
        v.adjusted_count = 100;
        assert!(enc.push(&v));
        let req = decode(&enc);
        assert_eq!(req.resource_logs.len(), 1);
        let rl = &req.resource_logs[0];
        let res = rl.resource.as_ref().map(|r| r.attributes.clone());
        assert!(
            res.as_ref()
                .is_some_and(|a| a.contains(&kv("service.name", s("svc")))
                    && a.contains(&kv("n", PV::IntValue(7))))
        );
        assert_eq!(rl.scope_logs.len(), 1);
        let sl = &rl.scope_logs[0];
        assert_eq!(sl.scope.as_ref().map(|s| s.name.as_str()), Some("app::db"));
        let expected = LogRecord {
            time_unix_nano: 1_700_000_000_123_456_789,
            observed_time_unix_nano: 1_700_000_000_223_456_789,
            severity_number: 13,
            severity_text: "WARN".into(),
            body: Some(AnyValue {
                value: Some(s("slow query")),
            }),
            attributes: vec![
                kv("b", PV::BoolValue(false)),
                kv("u", PV::IntValue(0)),
                kv("big", s("18446744073709551615")),
                kv("i", PV::IntValue(-3)),
                kv("u128", s(&u128::MAX.to_string())),
                kv("i128", s(&i128::MIN.to_string())),
                kv("f", PV::DoubleValue(-0.0)),
                kv("c", s("é")),
                kv("s", s("")),
                kv("bytes", s(&String::from_utf8_lossy(b"a\xffb\xe2\x82"))),
                kv("exception.type", s("io::Error")),
                kv("exception.message", s("disk full")),
                kv("correlation_id", s("req-42")),
                kv("thread.name", s("worker-1")),
                kv("sampling.adjusted_count", PV::IntValue(100)),
            ],
            flags: 1,
            trace_id: TRACE.trace_id.to_be_bytes().to_vec(),
            span_id: TRACE.span_id.to_be_bytes().to_vec(),
            ..Default::default()
        };
        assert_eq!(sl.log_records, vec![expected]);
        // The encoding is canonical: prost re-encodes the same bytes.
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        assert_eq!(req.encode_to_vec(), out);
    }

    #[test]
    fn no_trace_empty_message_and_scope_runs() {
        let mut enc = LogRequestEncoder::new();
        let mut a = view("a", "", &[]);
        a.trace = TraceContext::default();
        a.correlation_id = None;
        a.thread = "";
        a.time_unix_nano = 0;
        a.observed_unix_nano = 0;
        assert!(enc.push(&a));
        assert!(enc.push(&view("a", "x", &[])));
        assert!(enc.push(&view("b", "y", &[])));
        assert!(enc.push(&view("a", "z", &[])));
        assert_eq!(enc.len(), 4);
        let req = decode(&enc);
        let rl = &req.resource_logs[0];
        let names: Vec<(&str, usize)> = rl
            .scope_logs
            .iter()
            .map(|sl| {
                (
                    sl.scope.as_ref().map_or("", |s| s.name.as_str()),
                    sl.log_records.len(),
                )
            })
            .collect();
        assert_eq!(names, [("a", 2), ("b", 1), ("a", 1)]);
        let first = &rl.scope_logs[0].log_records[0];
        assert_eq!(first.body, Some(AnyValue { value: Some(s("")) }));
        assert!(first.trace_id.is_empty() && first.span_id.is_empty());
        assert_eq!(first.flags, 0);
        assert!(first.attributes.is_empty());
        // Clearing keeps the resource, drops the records.
        enc.clear();
        assert!(enc.is_empty());
        let mut out = Vec::new();
        enc.encode_request(&mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn traced_unsampled_and_zero_span() {
        let mut enc = LogRequestEncoder::new();
        let mut v = view("t", "m", &[]);
        v.trace = TraceContext {
            trace_id: 1,
            span_id: 0,
            parent_span_id: 0,
            trace_flags: 2,
        };
        assert!(enc.push(&v));
        let req = decode(&enc);
        let r = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!(r.flags, 0);
        assert_eq!(r.span_id, vec![0; 8]);
        assert_eq!(r.trace_id.last(), Some(&1));
    }

    /// A field's value as proptest draws it: a kind, then the payload of
    /// each kind.
    pub(crate) type RawField = (u8, u64, i64, u128, f64, char, String, Vec<u8>);

    pub(crate) fn field_value() -> impl Strategy<Value = RawField> {
        (
            0u8..12,
            any::<u64>(),
            any::<i64>(),
            any::<u128>(),
            any::<f64>(),
            any::<char>(),
            ".*",
            proptest::collection::vec(any::<u8>(), 0..40),
        )
    }

    /// The fields `raw` stands for, each named `key`.
    pub(crate) fn fields_of<'a>(raw: &'a [RawField], key: &'a str) -> Vec<Field<'a>> {
        raw.iter()
            .map(|(kind, u, i, w, f, c, st, by)| Field {
                key,
                value: match kind {
                    0 => FieldValue::None,
                    1 => FieldValue::Bool(u % 2 == 0),
                    2 => FieldValue::U64(*u),
                    3 => FieldValue::I64(*i),
                    4 => FieldValue::U128(*w),
                    5 => FieldValue::I128(*w as i128),
                    6 => FieldValue::F64(*f),
                    7 => FieldValue::Char(*c),
                    8 => FieldValue::Str(st),
                    9 => FieldValue::Bytes(by),
                    10 => FieldValue::Error {
                        type_name: st,
                        message: key,
                        stacktrace: "",
                    },
                    _ => FieldValue::Error {
                        type_name: key,
                        message: st,
                        stacktrace: st,
                    },
                },
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        #[test]
        fn prop_round_trip(
            message in ".*",
            thread in ".{0,12}",
            key in ".{0,12}",
            corr in proptest::option::of(".{0,20}"),
            times in (any::<u64>(), any::<u64>()),
            trace in (any::<u128>(), any::<u64>(), any::<u8>()),
            raw in proptest::collection::vec(field_value(), 0..6),
        ) {
            let fields = fields_of(&raw, &key);
            let v = LogView {
                time_unix_nano: times.0,
                observed_unix_nano: times.1,
                level: Level::Info,
                target: "prop",
                message: &message,
                trace: TraceContext { trace_id: trace.0, span_id: trace.1, parent_span_id: 0, trace_flags: trace.2 },
                correlation_id: corr.as_deref(),
                thread: &thread,
                truncated: false,
                adjusted_count: 1,
                replayed: false,
                fields: &fields,
            };
            let mut enc = LogRequestEncoder::new();
            assert!(enc.push(&v));
            assert!(enc.push(&v));
            let mut out = Vec::new();
            enc.encode_request(&mut out);
            let req = ExportLogsServiceRequest::decode(&out[..]);
            prop_assert!(req.is_ok());
            let req = req.unwrap_or_default();
            // Canonical: prost's own encoding of the decoded message is identical.
            prop_assert_eq!(req.encode_to_vec(), out);
            let recs = &req.resource_logs[0].scope_logs[0].log_records;
            prop_assert_eq!(recs.len(), 2);
            let r = &recs[0];
            prop_assert_eq!(r.time_unix_nano, times.0);
            prop_assert_eq!(r.observed_time_unix_nano, times.1);
            prop_assert_eq!(&r.body, &Some(AnyValue { value: Some(s(&message)) }));
            // Attributes: compare with a straightforward mapping.
            let mut expected = Vec::new();
            for field in &fields {
                match field.value {
                    FieldValue::None => {}
                    FieldValue::Bool(b) => expected.push(kv(&key, PV::BoolValue(b))),
                    FieldValue::U64(n) => expected.push(kv(&key, match i64::try_from(n) {
                        Ok(n) => PV::IntValue(n),
                        Err(_) => s(&n.to_string()),
                    })),
                    FieldValue::I64(n) => expected.push(kv(&key, PV::IntValue(n))),
                    FieldValue::U128(n) => expected.push(kv(&key, s(&n.to_string()))),
                    FieldValue::I128(n) => expected.push(kv(&key, s(&n.to_string()))),
                    FieldValue::F64(f) => expected.push(kv(&key, PV::DoubleValue(f))),
                    FieldValue::Char(c) => expected.push(kv(&key, s(&c.to_string()))),
                    FieldValue::Str(t) => expected.push(kv(&key, s(t))),
                    FieldValue::Bytes(b) => expected.push(kv(&key, s(&String::from_utf8_lossy(b)))),
                    FieldValue::Error { type_name, message, stacktrace } => {
                        expected.push(kv("exception.type", s(type_name)));
                        expected.push(kv("exception.message", s(message)));
                        if !stacktrace.is_empty() {
                            expected.push(kv("exception.stacktrace", s(stacktrace)));
                        }
                    }
                }
            }
            if let Some(c) = &corr {
                expected.push(kv("correlation_id", s(c)));
            }
            if !thread.is_empty() {
                expected.push(kv("thread.name", s(&thread)));
            }
            // NaN != NaN: compare the encodings.
            prop_assert_eq!(
                r.attributes.iter().map(|a| a.encode_to_vec()).collect::<Vec<_>>(),
                expected.iter().map(|a| a.encode_to_vec()).collect::<Vec<_>>()
            );
            if trace.0 != 0 {
                prop_assert_eq!(&r.trace_id, &trace.0.to_be_bytes().to_vec());
                prop_assert_eq!(&r.span_id, &trace.1.to_be_bytes().to_vec());
                prop_assert_eq!(r.flags, u32::from(trace.2 & 1));
            } else {
                prop_assert!(r.trace_id.is_empty() && r.span_id.is_empty());
                prop_assert_eq!(r.flags, 0);
            }
        }
    }
}
