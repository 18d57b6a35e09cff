//! Records over `max_record_bytes` are cut, not dropped: marked
//! `"truncated": true`, text cut to a prefix at a character boundary, the
//! values after the long text kept, and `stats().truncated` counting them.

mod common;

use std::fmt;

// The tests take `serial()`: they compare the global `truncated` counter.
use common::{Line, serial};
use datapunk_log::MemorySink;

const LIMIT: usize = 1024;
const BIG: usize = 100 * 1024;

/// The engine all tests of this file share.
fn sink() -> &'static MemorySink {
    common::shared_sink(|b| b.max_record_bytes(LIMIT))
}

fn lines_for(target: &str) -> Vec<Line> {
    let lines = common::lines_for(sink(), target);
    // Raw bytes must be valid UTF-8: a cut inside a character would not be.
    let bytes = sink().contents();
    std::str::from_utf8(&bytes).expect("output is valid UTF-8");
    lines
}

fn truncated_count() -> u64 {
    datapunk_log::flush();
    datapunk_log::stats().truncated
}

/// Writes `len` bytes of `pattern` in small pieces, like a real Display impl.
struct Big {
    pattern: &'static str,
    len: usize,
}

impl Big {
    fn text(&self) -> String {
        self.pattern.repeat(self.len / self.pattern.len())
    }
}

impl fmt::Display for Big {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for _ in 0..self.len / self.pattern.len() {
            f.write_str(self.pattern)?;
        }
        Ok(())
    }
}

fn assert_prefix(cut: &str, full: &str, what: &str) {
    assert!(
        full.starts_with(cut),
        "{what}: {} bytes that are not a prefix of the original",
        cut.len()
    );
    assert!(cut.len() < full.len(), "{what} was not cut");
    assert!(cut.len() <= LIMIT, "{what}: {} bytes kept", cut.len());
}

#[test]
fn long_string_field_is_cut_and_marked() {
    let _s = serial();
    sink();
    let before = truncated_count();
    let long = "abcdefghij".repeat(BIG / 10);
    datapunk_log::info!(target: "tr.str", n = 1, long = long.as_str(), after = 7u64, flag = true, "msg");
    let l = &lines_for("tr.str")[0];
    assert_eq!(l.get("truncated"), &serde_json::Value::Bool(true));
    assert_eq!(*l.keys().last().unwrap(), "truncated");
    assert_prefix(l.str("long"), &long, "string field");
    assert!(l.str("long").len() > LIMIT / 2, "too much was cut");
    // Values after the long text survive.
    assert_eq!(l.u64("n"), 1);
    assert_eq!(l.u64("after"), 7);
    assert_eq!(l.get("flag"), true);
    assert_eq!(l.message(), "msg");
    assert_eq!(truncated_count() - before, 1);
}

#[test]
fn long_display_value_and_message_are_cut() {
    let _s = serial();
    sink();
    let before = truncated_count();
    let big = Big {
        pattern: "0123456789",
        len: BIG,
    };
    datapunk_log::info!(target: "tr.display", case = 1, shown = %big, after = 5u8);
    datapunk_log::info!(target: "tr.display", case = 2, after = 6u8, "{}", big);
    datapunk_log::info!(target: "tr.display", case = 3, dbg = ?big.text());
    let lines = lines_for("tr.display");
    assert_eq!(lines.len(), 3);
    let full = big.text();
    for l in &lines {
        assert_eq!(l.get("truncated"), true, "{}", l.raw);
    }
    assert_prefix(lines[0].str("shown"), &full, "Display field");
    assert_eq!(lines[0].u64("after"), 5);
    assert_prefix(lines[1].message(), &full, "formatted message");
    assert_eq!(lines[1].u64("after"), 6);
    assert_prefix(lines[2].str("dbg"), &format!("{full:?}"), "Debug field");
    assert_eq!(truncated_count() - before, 3);
}

#[test]
fn cut_lands_on_character_boundaries() {
    let _s = serial();
    sink();
    let before = truncated_count();
    // Shift multi-byte text by 0..4 bytes so the cut falls at every offset
    // inside 2-, 3- and 4-byte characters.
    let base = "é€😀".repeat(BIG / 9);
    let mut wanted = Vec::new();
    for shift in 0..8usize {
        let s = format!("{}{base}", "a".repeat(shift));
        datapunk_log::info!(target: "tr.utf8", shift, s = s.as_str());
        datapunk_log::info!(target: "tr.utf8", shift, shown = %s);
        datapunk_log::info!(target: "tr.utf8", shift, "{}", s);
        wanted.push(s);
    }
    let lines = lines_for("tr.utf8");
    assert_eq!(lines.len(), 24);
    for l in &lines {
        let full = &wanted[l.u64("shift") as usize];
        let cut = if l.has("s") {
            l.str("s")
        } else if l.has("shown") {
            l.str("shown")
        } else {
            l.message()
        };
        assert!(
            !cut.contains('\u{FFFD}'),
            "replacement character in {}",
            l.raw
        );
        assert_prefix(cut, full, "multi-byte text");
        assert!(cut.len() + 4 > LIMIT - 200, "cut too early: {}", cut.len());
        assert_eq!(l.get("truncated"), true);
    }
    assert_eq!(truncated_count() - before, 24);
}

#[test]
fn several_long_values_share_the_budget() {
    let _s = serial();
    sink();
    let a = "A".repeat(BIG);
    let b = "B".repeat(BIG);
    datapunk_log::info!(target: "tr.two", a = a.as_str(), b = b.as_str(), c = 3u64);
    let l = &lines_for("tr.two")[0];
    assert_eq!(l.get("truncated"), true);
    assert!(a.starts_with(l.str("a")));
    assert!(b.starts_with(l.str("b")));
    assert!(l.str("a").len() + l.str("b").len() <= LIMIT);
    assert_eq!(l.u64("c"), 3);
    assert!(l.raw.len() < 2 * LIMIT, "line of {} bytes", l.raw.len());
}

#[derive(Debug)]
struct Huge(String);
impl fmt::Display for Huge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for Huge {}

#[test]
fn long_error_is_cut() {
    let _s = serial();
    sink();
    let e = Huge("E".repeat(BIG));
    datapunk_log::error!(target: "tr.err", err = &e as &dyn std::error::Error, after = 1u8);
    let l = &lines_for("tr.err")[0];
    assert_eq!(l.get("truncated"), true);
    assert_eq!(l.str("exception.type"), "Huge");
    assert!(e.0.starts_with(l.str("exception.message")));
    assert!(l.str("exception.message").len() <= LIMIT);
    assert_eq!(l.u64("after"), 1);
}

#[test]
fn small_records_are_not_marked() {
    let _s = serial();
    sink();
    let before = truncated_count();
    let s = "x".repeat(LIMIT / 2);
    datapunk_log::info!(target: "tr.small", s = s.as_str(), "fits");
    let l = &lines_for("tr.small")[0];
    assert!(!l.has("truncated"));
    assert_eq!(l.str("s"), s);
    assert_eq!(truncated_count(), before);
}

#[test]
fn long_valid_utf8_bytes_are_cut_without_replacement() {
    // A byte string that is valid UTF-8 must not gain a U+FFFD (nor count as
    // invalid UTF-8) just because the cut fell inside a character.
    let _s = serial();
    sink();
    let before = datapunk_log::stats().invalid_utf8;
    let text = "€".repeat(BIG / 3);
    for shift in 0..3usize {
        let s = format!("{}{text}", "a".repeat(shift));
        let bytes = s.as_bytes();
        datapunk_log::info!(target: "tr.bytes", shift, bytes);
    }
    let lines = lines_for("tr.bytes");
    assert_eq!(lines.len(), 3);
    for l in &lines {
        assert_eq!(l.get("truncated"), true);
        let cut = l.str("bytes");
        assert!(
            !cut.ends_with('\u{FFFD}'),
            "shift {}: cut valid UTF-8 ends with U+FFFD",
            l.u64("shift")
        );
    }
    assert_eq!(datapunk_log::stats().invalid_utf8, before);
}
