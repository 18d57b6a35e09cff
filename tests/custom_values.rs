//! User `Value` impls (with and without a known length), and logging from
//! inside a value being recorded (re-entrancy): nothing crashes, deadlocks,
//! or is silently lost.

mod common;

use std::fmt;

use common::{lines_for, serial};
use datapunk_log::{MemorySink, RecordBuf, Value};

/// The engine all tests of this file share.
fn sink() -> &'static MemorySink {
    common::shared_sink(|b| b)
}

/// Cents, recorded as a decimal number of units; its length is known.
struct Money(i64);
impl Value for Money {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.f64(self.0 as f64 / 100.0)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(9)
    }
}

/// Recorded by formatting; length unknown.
struct Version(u32, u32, u32);
impl Value for Version {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.fmt(format_args!("v{}.{}.{}", self.0, self.1, self.2))
    }
}

/// A text value with a correct length.
struct Tag(&'static str);
impl Value for Tag {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str(self.0)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(5 + self.0.len())
    }
}

#[test]
fn user_value_impls() {
    let _s = serial();
    sink();
    let price = Money(1999);
    let v = Version(1, 2, 3);
    datapunk_log::info!(target: "cv.user", price, v, tag = Tag("blue"), opt = Some(Money(5)), "sold");
    datapunk_log::info!(target: "cv.user", price = Money(-250), tag = Tag("direct"));
    let lines = lines_for(sink(), "cv.user");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].get("price").as_f64(), Some(19.99));
    assert_eq!(lines[0].str("v"), "v1.2.3");
    assert_eq!(lines[0].str("tag"), "blue");
    assert_eq!(lines[0].get("opt").as_f64(), Some(0.05));
    assert_eq!(lines[1].get("price").as_f64(), Some(-2.5));
    assert_eq!(lines[1].str("tag"), "direct");
}

/// Claims a length shorter than what it records.
struct Undersized(u64);
impl Value for Undersized {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.u64(self.0)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(1)
    }
}

/// Claims a length longer than what it records.
struct Oversized(&'static str);
impl Value for Oversized {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str(self.0)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(500)
    }
}

#[test]
fn wrong_encoded_len_never_corrupts_other_fields() {
    // The documented contract: "A wrong length is safe: the record is
    // bounds-checked and the value left out or cut." Whatever happens to the
    // lying value, the other fields keep their own keys and values.
    let _s = serial();
    sink();
    datapunk_log::info!(target: "cv.len", case = 1, big = Oversized("short text"), after = 7u64);
    datapunk_log::info!(target: "cv.len", case = 2, n = Undersized(42), flag = true);
    datapunk_log::info!(target: "cv.len", case = 3, n = Undersized(42), s = "text", x = 5u8);
    let lines = lines_for(sink(), "cv.len");
    assert_eq!(lines.len(), 3);
    let l = &lines[0];
    assert_eq!(l.str("big"), "short text");
    assert_eq!(l.u64("after"), 7);
    for l in &lines[1..] {
        let n = l.get("n");
        assert!(
            n.is_null() || n.as_u64() == Some(42),
            "case {}: the lying value's key holds another field's value: {}",
            l.u64("case"),
            l.raw
        );
    }
    assert_eq!(lines[1].get("flag"), true, "{}", lines[1].raw);
    assert_eq!(lines[2].str("s"), "text", "{}", lines[2].raw);
    assert_eq!(lines[2].u64("x"), 5, "{}", lines[2].raw);
}

/// Records nothing.
struct Silent;
impl Value for Silent {
    fn record(&self, _: &mut RecordBuf<'_>) {}
}

/// Records two values (and a third, an error).
struct Chatterbox;
impl Value for Chatterbox {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        buf.str("first");
        buf.u64(2);
        buf.error("io", &std::io::Error::other("third"));
    }
}

#[test]
fn a_value_that_records_none_or_several_keeps_every_field_on_its_key() {
    let _s = serial();
    sink();
    let before = datapunk_log::stats().misrecorded_values;
    datapunk_log::info!(target: "cv.count", a = 1u64, s = Silent, b = 2u64, c = Chatterbox, d = "four");
    let lines = lines_for(sink(), "cv.count");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.u64("a"), 1, "{}", l.raw);
    assert!(l.get("s").is_null(), "{}", l.raw);
    assert_eq!(l.u64("b"), 2, "{}", l.raw);
    assert_eq!(l.str("c"), "first", "{}", l.raw);
    assert_eq!(l.str("d"), "four", "{}", l.raw);
    assert_eq!(datapunk_log::stats().misrecorded_values - before, 2);
}

/// Logs while being displayed.
struct Chatty(u32);
impl fmt::Display for Chatty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        datapunk_log::info!(target: "cv.nested.inner", depth = self.0, "inner");
        if self.0 > 0 {
            // Deeper nesting: a Display value that itself logs.
            datapunk_log::info!(target: "cv.nested.inner", inner = %Chatty(self.0 - 1), "middle");
        }
        write!(f, "chatty-{}", self.0)
    }
}

#[test]
fn logging_from_display_impls() {
    let _s = serial();
    sink();
    datapunk_log::flush();
    let before = datapunk_log::stats();
    datapunk_log::info!(target: "cv.nested", v = %Chatty(0), "outer field");
    datapunk_log::info!(target: "cv.nested", "outer message {}", Chatty(0));
    datapunk_log::info!(target: "cv.nested", v = %Chatty(2), "outer deep");
    let outer = lines_for(sink(), "cv.nested");
    assert_eq!(outer.len(), 3);
    assert_eq!(outer[0].str("v"), "chatty-0");
    assert_eq!(outer[0].message(), "outer field");
    assert_eq!(outer[1].message(), "outer message chatty-0");
    assert_eq!(outer[2].str("v"), "chatty-2");
    let inner = lines_for(sink(), "cv.nested.inner");
    // Chatty(0): 1 record; Chatty(2): 1 + 1 + Chatty(1) = 1 + 1 + (1 + 1 + 1).
    assert_eq!(inner.len(), 1 + 1 + 5);
    let middles: Vec<&str> = inner
        .iter()
        .filter(|l| l.message() == "middle")
        .map(|l| l.str("inner"))
        .collect();
    assert_eq!(middles.len(), 2);
    assert!(middles.contains(&"chatty-1") && middles.contains(&"chatty-0"));
    let after = datapunk_log::stats();
    assert_eq!(after.written - before.written, 10);
    assert_eq!(after.discarded, before.discarded);
    assert_eq!(after.produced, after.written);
}

/// Logs from inside `Value::record` with a known length (the record is being
/// written straight into the ring at that moment).
struct LogsWhileRecording;
impl Value for LogsWhileRecording {
    fn record(&self, buf: &mut RecordBuf<'_>) {
        datapunk_log::info!(target: "cv.rec.inner", "from record()");
        buf.u64(1)
    }
    fn encoded_len(&self) -> Option<usize> {
        Some(9)
    }
}

#[test]
fn logging_from_a_value_record_impl() {
    let _s = serial();
    sink();
    datapunk_log::flush();
    let before = datapunk_log::stats();
    datapunk_log::info!(target: "cv.rec", v = LogsWhileRecording, after = 2u8, "outer");
    let outer = lines_for(sink(), "cv.rec");
    assert_eq!(outer.len(), 1);
    assert_eq!(outer[0].u64("v"), 1);
    assert_eq!(outer[0].u64("after"), 2);
    let inner = lines_for(sink(), "cv.rec.inner").len() as u64;
    let after = datapunk_log::stats();
    // The inner record is written or counted as discarded, never lost silently.
    assert_eq!(inner + (after.discarded - before.discarded), 1, "{after:?}");
    assert_eq!(after.produced, after.written);
}
