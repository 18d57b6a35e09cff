//! The console format: one line per record for people.
//!
//! ```text
//! 2026-12-03T13:00:00.123456Z  INFO checkout::api: request handled user_id=42 route=/api/v1/items trace=4bf92f35 span=00f067aa
//! 2026-12-03T13:00:00.124001Z ERROR checkout::db: query failed db.table=orders trace=4bf92f35 span=5c1f0e22
//!     error: Timeout: the pool timed out
//!     caused by: connection refused
//! ```
//!
//! Time (UTC, microseconds), level (coloured on a terminal), target, message,
//! fields as `key=value`, then the compact ids (the first 8 hex digits of the
//! trace and span ids; the full ids are in the JSON output) and the
//! correlation id. A value holding a space, `=`, a quote, a backslash or a
//! control character is quoted. An error field's exception goes on lines of
//! its own, indented. Control characters (C0, DEL, C1) and the Unicode
//! bidirectional controls inside any text are escaped (`\n`, `\t`, `\r`,
//! `\u{1b}`…), so no value can start a line of its own or drive the
//! terminal. Nothing here allocates per record.

use super::json;
use super::{LineCx, LineFormat, NoteVal, Notice, Site, SpanEnd, SpanStatus};
use crate::level::Level;
use crate::record::RecordView;
use crate::record::TraceContext;
use crate::record::Val;
use crate::redact::Redactor;

const RESET: &[u8] = b"\x1b[0m";
const DIM: &[u8] = b"\x1b[2m";
const BOLD: &[u8] = b"\x1b[1m";
const ITALIC: &[u8] = b"\x1b[3m";

/// The console format.
pub(crate) struct ConsoleLine {
    color: bool,
    ts: json::TimestampWriter,
    /// The timestamp's JSON form (reused).
    stamp: Vec<u8>,
    /// Redacted text before it is escaped (reused).
    scratch: Vec<u8>,
}

impl ConsoleLine {
    pub(crate) fn new(color: bool) -> ConsoleLine {
        ConsoleLine {
            color,
            ts: json::TimestampWriter::new(),
            stamp: Vec::with_capacity(32),
            scratch: Vec::with_capacity(256),
        }
    }

    fn paint(&self, out: &mut Vec<u8>, style: &[u8]) {
        if self.color {
            out.extend_from_slice(style);
        }
    }

    /// Time, level, the current span's piece (`name{k=v}: `, when span
    /// fields are on) and target: `2026-12-03T13:00:00.123456Z  INFO target:`.
    fn head(
        &mut self,
        out: &mut Vec<u8>,
        unix_nanos: u64,
        level: Level,
        span: &[u8],
        target: &str,
    ) {
        self.stamp.clear();
        self.ts.write(&mut self.stamp, unix_nanos);
        self.paint(out, DIM);
        // `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"`: microseconds are enough here.
        out.extend_from_slice(self.stamp.get(1..27).unwrap_or(b""));
        out.push(b'Z');
        self.paint(out, RESET);
        out.push(b' ');
        self.paint(out, level_style(level));
        let name = level.as_str().as_bytes();
        out.extend(std::iter::repeat_n(b' ', 5 - name.len().min(5)));
        out.extend_from_slice(name);
        self.paint(out, RESET);
        out.push(b' ');
        out.extend_from_slice(span);
        self.paint(out, DIM);
        escape(out, target.as_bytes());
        out.push(b':');
        self.paint(out, RESET);
    }

    fn key(&self, out: &mut Vec<u8>, key: &str) {
        out.push(b' ');
        self.paint(out, ITALIC);
        escape(out, key.as_bytes());
        self.paint(out, RESET);
        out.push(b'=');
    }

    /// A text value: bare when it is plain, quoted otherwise; secrets
    /// replaced. Invalid UTF-8 (`lossy`) becomes U+FFFD; true if any did.
    fn text(&mut self, out: &mut Vec<u8>, r: &Redactor, s: &[u8], lossy: bool) -> bool {
        self.scratch.clear();
        let mut invalid = false;
        if lossy {
            for chunk in s.utf8_chunks() {
                r.write_escaped(&mut self.scratch, chunk.valid().as_bytes(), true, |o, b| {
                    o.extend_from_slice(b)
                });
                if !chunk.invalid().is_empty() {
                    invalid = true;
                    self.scratch.extend_from_slice("\u{FFFD}".as_bytes());
                }
            }
        } else {
            r.write_escaped(&mut self.scratch, s, true, |o, b| o.extend_from_slice(b));
        }
        quoted(out, &self.scratch);
        invalid
    }
}

fn level_style(l: Level) -> &'static [u8] {
    match l {
        Level::Trace => b"\x1b[35m",
        Level::Debug => b"\x1b[34m",
        Level::Info => b"\x1b[32m",
        Level::Warn => b"\x1b[33m",
        Level::Error => b"\x1b[31m",
        Level::Fatal => b"\x1b[1;31m",
    }
}

/// True for a character written escaped: C0 controls, DEL, C1 controls,
/// and the bidirectional formatting characters (U+061C, U+200E, U+200F,
/// U+202A..=U+202E, U+2066..=U+2069), which reorder what a terminal shows.
pub(crate) fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Appends UTF-8 text with its unsafe characters escaped; invalid UTF-8
/// bytes become U+FFFD.
fn escape(out: &mut Vec<u8>, s: &[u8]) {
    escape_with(out, s, false);
}

fn escape_with(out: &mut Vec<u8>, s: &[u8], in_quotes: bool) {
    for chunk in s.utf8_chunks() {
        let v = chunk.valid();
        let mut last = 0;
        for (i, c) in v.char_indices() {
            let special = is_unsafe(c) || (in_quotes && (c == '"' || c == '\\'));
            if !special {
                continue;
            }
            out.extend_from_slice(&v.as_bytes()[last..i]);
            last = i + c.len_utf8();
            match c {
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                c => {
                    out.extend_from_slice(b"\\u{");
                    let mut hex = [0u8; 8];
                    let mut n = c as u32;
                    let mut k = hex.len();
                    loop {
                        k -= 1;
                        hex[k] = b"0123456789abcdef"[(n & 15) as usize];
                        n >>= 4;
                        if n == 0 {
                            break;
                        }
                    }
                    out.extend_from_slice(&hex[k..]);
                    out.push(b'}');
                }
            }
        }
        out.extend_from_slice(&v.as_bytes()[last..]);
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{FFFD}".as_bytes());
        }
    }
}

/// Appends a value bare when it is not empty and holds nothing that needs
/// quoting or escaping (space, `=`, `"`, `\`, unsafe characters), quoted
/// and escaped otherwise.
pub(crate) fn quoted(out: &mut Vec<u8>, s: &[u8]) {
    let plain = !s.is_empty()
        && std::str::from_utf8(s).is_ok_and(|t| {
            !t.chars()
                .any(|c| c == ' ' || c == '=' || c == '"' || c == '\\' || is_unsafe(c))
        });
    if plain {
        out.extend_from_slice(s);
    } else {
        out.push(b'"');
        escape_with(out, s, true);
        out.push(b'"');
    }
}

/// The compact ids: ` trace=4bf92f35 span=00f067aa`.
fn ids(out: &mut Vec<u8>, c: &TraceContext) {
    out.extend_from_slice(b" trace=");
    hex8(out, (c.trace_id >> 96) as u32);
    out.extend_from_slice(b" span=");
    hex8(out, (c.span_id >> 32) as u32);
}

/// A duration for people: `812ns`, `15.20µs`, `3.07ms`, `1.50s`.
fn duration(out: &mut Vec<u8>, ns: u64) {
    let mut num = itoa::Buffer::new();
    let (unit, name): (u64, &str) = match ns {
        0..1_000 => {
            out.extend_from_slice(num.format(ns).as_bytes());
            out.extend_from_slice(b"ns");
            return;
        }
        1_000..1_000_000 => (1_000, "µs"),
        1_000_000..1_000_000_000 => (1_000_000, "ms"),
        _ => (1_000_000_000, "s"),
    };
    out.extend_from_slice(num.format(ns / unit).as_bytes());
    out.push(b'.');
    let hundredths = ns % unit * 100 / unit;
    if hundredths < 10 {
        out.push(b'0');
    }
    out.extend_from_slice(num.format(hundredths).as_bytes());
    out.extend_from_slice(name.as_bytes());
}

fn hex8(out: &mut Vec<u8>, v: u32) {
    for i in (0..8).rev() {
        out.push(b"0123456789abcdef"[(v >> (i * 4) & 15) as usize]);
    }
}

impl LineFormat for ConsoleLine {
    fn thread_piece(&self, out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(b" thread=");
        quoted(out, name.as_bytes());
    }

    fn record(
        &mut self,
        out: &mut Vec<u8>,
        site: &Site,
        view: &mut RecordView<'_>,
        cx: &LineCx<'_>,
    ) -> Option<u64> {
        let m = site.cs.metadata();
        let r = cx.redactor;
        self.head(out, cx.unix_nanos, m.level, cx.span, m.target);
        out.push(b' ');
        self.paint(out, BOLD);
        match view.message {
            Some(msg) if m.fmt_message => {
                self.scratch.clear();
                r.write_escaped(&mut self.scratch, msg, true, |o, b| o.extend_from_slice(b));
                escape(out, &self.scratch);
            }
            _ if m.fmt_message => {}
            _ => escape(out, m.message.as_bytes()),
        }
        self.paint(out, RESET);
        let mut invalid = 0;
        // The first error's exception, written after the line.
        let mut exception = None;
        for (i, key) in site.keys.iter().enumerate() {
            let recorded = view.values.left() > 0;
            let v = view.values.field()?;
            if recorded && site.redact >> i & 1 != 0 {
                self.key(out, key);
                r.write_key_replacement(out, &v);
                continue;
            }
            let mut num = itoa::Buffer::new();
            match v {
                Val::Error {
                    type_name,
                    message,
                    chain,
                } if exception.is_none() => {
                    exception = Some((type_name, message, chain));
                }
                Val::Error { message, .. } => {
                    self.key(out, key);
                    self.text(out, r, message, true);
                }
                Val::None => {
                    self.key(out, key);
                    out.extend_from_slice(b"null");
                }
                Val::Bool(b) => {
                    self.key(out, key);
                    json::write_bool(out, b);
                }
                Val::U64(x) => {
                    self.key(out, key);
                    out.extend_from_slice(num.format(x).as_bytes());
                }
                Val::I64(x) => {
                    self.key(out, key);
                    out.extend_from_slice(num.format(x).as_bytes());
                }
                Val::U128(x) => {
                    self.key(out, key);
                    out.extend_from_slice(num.format(x).as_bytes());
                }
                Val::I128(x) => {
                    self.key(out, key);
                    out.extend_from_slice(num.format(x).as_bytes());
                }
                // JSON's number text; NaN and the infinities are strings there
                // and plain words here.
                Val::F64(x) => {
                    self.key(out, key);
                    let start = out.len();
                    json::write_f64(out, x);
                    out.retain_from(start, |b| b != b'"');
                }
                Val::F32(x) => {
                    self.key(out, key);
                    let start = out.len();
                    json::write_f32(out, x);
                    out.retain_from(start, |b| b != b'"');
                }
                Val::Char(c) => {
                    self.key(out, key);
                    quoted(out, c.encode_utf8(&mut [0; 4]).as_bytes());
                }
                Val::Str(s) => {
                    self.key(out, key);
                    self.text(out, r, s, true);
                }
                Val::Bytes(b) => {
                    self.key(out, key);
                    if self.text(out, r, b, true) {
                        invalid += 1;
                    }
                }
            }
        }
        if view.truncated() {
            out.extend_from_slice(b" truncated=true");
        }
        let adjusted = view.adjusted_count();
        if adjusted > 1 {
            out.extend_from_slice(b" adjusted_count=");
            out.extend_from_slice(itoa::Buffer::new().format(adjusted).as_bytes());
        }
        if cx.replayed {
            out.extend_from_slice(b" replayed=true");
        }
        if view.ctx.is_some() || view.corr.is_some() {
            self.paint(out, DIM);
            if let Some(c) = view.ctx {
                ids(out, &c);
            }
            if let Some(id) = view.corr {
                out.extend_from_slice(b" correlation_id=");
                quoted(out, id);
            }
            self.paint(out, RESET);
        }
        out.push(b'\n');
        if let Some((type_name, message, chain)) = exception {
            out.extend_from_slice(b"    ");
            self.paint(out, level_style(Level::Error));
            out.extend_from_slice(b"error");
            self.paint(out, RESET);
            out.extend_from_slice(b": ");
            escape(out, type_name);
            out.extend_from_slice(b": ");
            self.scratch.clear();
            r.write_escaped(&mut self.scratch, message, false, |o, b| {
                o.extend_from_slice(b)
            });
            escape(out, &self.scratch);
            out.push(b'\n');
            if !chain.is_empty() {
                self.scratch.clear();
                r.write_escaped(&mut self.scratch, chain, true, |o, b| {
                    o.extend_from_slice(b)
                });
                for line in self.scratch.split(|&b| b == b'\n') {
                    out.extend_from_slice(b"    ");
                    escape(out, line);
                    out.push(b'\n');
                }
            }
        }
        Some(invalid)
    }

    fn span_open(&mut self, out: &mut Vec<u8>, name: &str) {
        self.paint(out, BOLD);
        escape(out, name.as_bytes());
        self.paint(out, RESET);
    }

    fn span_field(
        &mut self,
        out: &mut Vec<u8>,
        first: bool,
        key: &str,
        v: Val<'_>,
        secret: bool,
        r: &Redactor,
    ) -> bool {
        out.push(if first { b'{' } else { b' ' });
        self.paint(out, ITALIC);
        escape(out, key.as_bytes());
        self.paint(out, RESET);
        out.push(b'=');
        if secret {
            r.write_key_replacement(out, &v);
            return false;
        }
        let mut num = itoa::Buffer::new();
        match v {
            Val::Error { message: s, .. } | Val::Str(s) | Val::Bytes(s) => {
                return self.text(out, r, s, true);
            }
            Val::None => out.extend_from_slice(b"null"),
            Val::Bool(b) => json::write_bool(out, b),
            Val::U64(x) => out.extend_from_slice(num.format(x).as_bytes()),
            Val::I64(x) => out.extend_from_slice(num.format(x).as_bytes()),
            Val::U128(x) => out.extend_from_slice(num.format(x).as_bytes()),
            Val::I128(x) => out.extend_from_slice(num.format(x).as_bytes()),
            Val::F64(x) => {
                let start = out.len();
                json::write_f64(out, x);
                out.retain_from(start, |b| b != b'"');
            }
            Val::F32(x) => {
                let start = out.len();
                json::write_f32(out, x);
                out.retain_from(start, |b| b != b'"');
            }
            Val::Char(c) => quoted(out, c.encode_utf8(&mut [0; 4]).as_bytes()),
        }
        false
    }

    fn span_close(&mut self, out: &mut Vec<u8>, fields: bool) {
        if fields {
            out.push(b'}');
        }
        out.extend_from_slice(b": ");
    }

    fn span_end(&mut self, out: &mut Vec<u8>, end: &SpanEnd<'_>, cx: &LineCx<'_>) {
        let r = cx.redactor;
        self.head(out, cx.unix_nanos, end.level, cx.span, end.target);
        out.push(b' ');
        self.paint(out, BOLD);
        out.extend_from_slice(b"span ended");
        self.paint(out, RESET);
        if let Some(start) = end.start_unix_nanos {
            self.key(out, "duration");
            duration(out, cx.unix_nanos.saturating_sub(start));
        }
        match end.status {
            SpanStatus::Unset => {}
            SpanStatus::Ok => {
                self.key(out, "status");
                out.extend_from_slice(b"ok");
            }
            SpanStatus::Error(desc) => {
                self.key(out, "status");
                out.extend_from_slice(b"error");
                if !desc.is_empty() {
                    self.key(out, "status_message");
                    self.text(out, r, desc, true);
                }
            }
        }
        if let Some((type_name, message)) = end.exception {
            self.key(out, "error.type");
            quoted(out, type_name);
            self.key(out, "error.message");
            self.text(out, r, message, true);
        }
        self.paint(out, DIM);
        ids(out, &end.ctx);
        self.paint(out, RESET);
        out.push(b'\n');
    }

    fn notice(&mut self, out: &mut Vec<u8>, n: &Notice<'_>, thread: Option<&[u8]>) {
        self.head(out, n.unix_nanos, n.level, &[], n.target);
        out.push(b' ');
        self.paint(out, BOLD);
        escape(out, n.message.as_bytes());
        self.paint(out, RESET);
        for (key, v) in n.fields {
            self.key(out, key);
            match *v {
                NoteVal::U64(x) => out.extend_from_slice(itoa::Buffer::new().format(x).as_bytes()),
                NoteVal::Str(s) => quoted(out, s.as_bytes()),
            }
        }
        if let Some(t) = thread {
            out.extend_from_slice(t);
        }
        out.push(b'\n');
    }
}

/// Keeps the bytes from `start` on that `keep` accepts.
trait RetainFrom {
    fn retain_from(&mut self, start: usize, keep: impl Fn(u8) -> bool);
}

impl RetainFrom for Vec<u8> {
    fn retain_from(&mut self, start: usize, keep: impl Fn(u8) -> bool) {
        let mut w = start;
        for r in start..self.len() {
            let b = self[r];
            if keep(b) {
                self[w] = b;
                w += 1;
            }
        }
        self.truncate(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = Vec::new();
        escape(&mut out, s.as_bytes());
        String::from_utf8(out).unwrap()
    }

    fn q(s: &[u8]) -> String {
        let mut out = Vec::new();
        quoted(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn durations_for_people() {
        let d = |ns| {
            let mut out = Vec::new();
            duration(&mut out, ns);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(d(0), "0ns");
        assert_eq!(d(999), "999ns");
        assert_eq!(d(15_203), "15.20µs");
        assert_eq!(d(3_070_000), "3.07ms");
        assert_eq!(d(1_005_000_000), "1.00s");
        assert_eq!(d(u64::MAX), "18446744073.70s");
    }

    #[test]
    fn controls_and_bidi_are_escaped() {
        assert_eq!(esc("a\nb"), "a\\nb");
        assert_eq!(esc("\x1b[31mred"), "\\u{1b}[31mred");
        assert_eq!(esc("x\u{7f}\u{85}y"), "x\\u{7f}\\u{85}y");
        assert_eq!(esc("\u{202e}abc"), "\\u{202e}abc");
        assert_eq!(esc("tab\there\r"), "tab\\there\\r");
        assert_eq!(esc("plain é"), "plain é");
    }

    #[test]
    fn values_quoted_only_when_needed() {
        assert_eq!(q(b"/api/v1"), "/api/v1");
        assert_eq!(q(b""), "\"\"");
        assert_eq!(q(b"two words"), "\"two words\"");
        assert_eq!(q(b"a=b"), "\"a=b\"");
        assert_eq!(q(b"say \"hi\" \\"), "\"say \\\"hi\\\" \\\\\"");
        assert_eq!(q(b"line\nforged"), "\"line\\nforged\"");
        assert_eq!(q(b"bad\xffbyte"), "\"bad\u{FFFD}byte\"");
    }

    #[test]
    fn no_output_byte_is_a_control_but_the_line_end() {
        // Whatever the text, the escaped form holds no C0/C1 control byte
        // sequence and no newline.
        let mut all = Vec::new();
        for c in (0u32..0x3000).filter_map(char::from_u32) {
            all.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
        }
        all.extend_from_slice(b"\xff\xfe");
        let mut out = Vec::new();
        quoted(&mut out, &all);
        let s = std::str::from_utf8(&out).unwrap();
        assert!(!s.chars().any(is_unsafe), "an unsafe character got through");
    }
}
