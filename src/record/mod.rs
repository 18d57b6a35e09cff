//! Record layout in a thread's ring.
//!
//! The caller side ([`RecordBuf`]) serializes a record into a reused
//! thread-local buffer, which is then copied into the ring in one piece. The
//! writer side ([`Decoder`]) walks the bytes back. Layout, little endian:
//!
//! ```text
//! 0   u32  total length in bytes, header included
//! 4   u8   kind (KIND_LOG, KIND_SPAN_*)
//! 5   u8   flags: FLAG_CTX, FLAG_TRUNCATED, FLAG_FMT_MESSAGE, FLAG_CORR, FLAG_REMOTE,
//!          FLAG_TS, FLAG_BUFFERED, FLAG_REPLAYED
//! 6   u16  number of values recorded
//! 8   u32  call-site id
//! 12  u32  adjusted count of a log record kept by its call site's sampler: how
//!          many records it stands for (0 or 1: itself only)
//! 16  u64  raw timestamp
//! 24  [if FLAG_CTX] u128 trace id, u64 span id, u64 parent span id, u8 trace flags
//! ..  [if FLAG_CORR] the correlation id: u32 length + bytes
//! ..  [if FLAG_TS] a span start's W3C tracestate: u32 length + bytes
//! ..  [if FLAG_FMT_MESSAGE] the formatted message as a string value
//! ..  values, one per field name of the call site, each a tag byte + payload
//! ```
//!
//! Span records carry the span's own context and the span's call site:
//! `KIND_SPAN_START` (values: the call site's fields), `KIND_SPAN_ATTR`
//! (values: key string, value; repeated), `KIND_SPAN_EVENT` (values: name
//! string, then key string, value pairs), `KIND_SPAN_STATUS` (values: code
//! u64 (1 ok, 2 error), description string) and `KIND_SPAN_END` (no values).
//! A span without fields, correlation id or later records is written once, at
//! its end, as `KIND_SPAN` (start and end in one record): the header's
//! timestamp is the start, and the record ends with the raw end timestamp
//! (u64) after the context; it has no values.

mod view;

pub(crate) use view::{RecordView, Values, output_keys};

use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};

/// A log record.
pub(crate) const KIND_LOG: u8 = 0;
/// A span started.
pub(crate) const KIND_SPAN_START: u8 = 1;
/// A span ended.
pub(crate) const KIND_SPAN_END: u8 = 2;
/// Attributes recorded on a span after its start.
pub(crate) const KIND_SPAN_ATTR: u8 = 3;
/// An event recorded on a span.
pub(crate) const KIND_SPAN_EVENT: u8 = 4;
/// A span's status set.
pub(crate) const KIND_SPAN_STATUS: u8 = 5;
/// A whole span (start and end) in one record.
pub(crate) const KIND_SPAN: u8 = 6;
/// Highest kind this version writes.
pub(crate) const KIND_MAX: u8 = KIND_SPAN;

pub(crate) const FLAG_CTX: u8 = 1;
pub(crate) const FLAG_TRUNCATED: u8 = 2;
pub(crate) const FLAG_FMT_MESSAGE: u8 = 4;
pub(crate) const FLAG_CORR: u8 = 8;
/// Span start: the parent came from another process.
pub(crate) const FLAG_REMOTE: u8 = 16;
/// Span start: the span's tracestate follows the correlation id.
pub(crate) const FLAG_TS: u8 = 32;
/// Log record of an unsampled trace under `Unsampled::Buffer`: the writer
/// holds it in the debug buffer until an error comes in its trace.
pub(crate) const FLAG_BUFFERED: u8 = 64;
/// Set by the writer on the export copy of a record replayed from the
/// debug buffer (never in a ring).
pub(crate) const FLAG_REPLAYED: u8 = 128;

pub(crate) const HEADER_LEN: usize = 24;
pub(crate) const CTX_LEN: usize = 33;
/// Length of a `KIND_SPAN` record: header, context, end timestamp.
pub(crate) const SPAN_LEN: usize = HEADER_LEN + CTX_LEN + 8;
/// Longest correlation id carried (longer ones are cut).
pub(crate) const CORR_MAX: usize = crate::corr::MAX_CORRELATION_ID_LEN;

/// Most fields one call site may have (checked when the call site compiles).
pub const MAX_FIELDS: usize = 64;
/// Room kept beyond the record limit so fixed-size values never need a check:
/// header, context, and the largest fixed value for every field.
pub(crate) const SLACK: usize = HEADER_LEN + CTX_LEN + 4 + CORR_MAX + MAX_FIELDS * 17 + 64;
/// Smallest record limit that still leaves room for text.
pub(crate) const MIN_RECORD_LIMIT: usize = 256;

pub(crate) const TAG_NONE: u8 = 0;
pub(crate) const TAG_FALSE: u8 = 1;
pub(crate) const TAG_TRUE: u8 = 2;
pub(crate) const TAG_U64: u8 = 3;
pub(crate) const TAG_I64: u8 = 4;
pub(crate) const TAG_F64: u8 = 5;
pub(crate) const TAG_STR: u8 = 6;
pub(crate) const TAG_CHAR: u8 = 7;
pub(crate) const TAG_U128: u8 = 8;
pub(crate) const TAG_I128: u8 = 9;
pub(crate) const TAG_F32: u8 = 10;
/// Three strings: type, message, source chain.
pub(crate) const TAG_ERROR: u8 = 11;
/// Bytes that may not be UTF-8 (written with U+FFFD for invalid sequences).
pub(crate) const TAG_BYTES: u8 = 12;

/// Trace context carried by every record; all zero outside a trace.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// 128-bit trace id; zero means "no trace".
    pub trace_id: u128,
    /// Id of the current span.
    pub span_id: u64,
    /// Id of the current span's parent, zero at a root.
    pub parent_span_id: u64,
    /// W3C trace flags (bit 0: sampled).
    pub trace_flags: u8,
}

impl TraceContext {
    /// True when the record belongs to a trace.
    #[inline(always)]
    pub fn is_some(&self) -> bool {
        self.trace_id != 0
    }
}

/// What follows a record's header: its context, correlation id and (span
/// starts) tracestate.
#[derive(Clone, Copy)]
pub(crate) struct Prefix<'a> {
    pub ctx: &'a TraceContext,
    pub corr: Option<&'a str>,
    pub tracestate: Option<&'a crate::span_extra::TsParts<'a>>,
}

/// A record with a context and no values (a span's end), built in one piece.
#[inline(always)]
pub(crate) fn fixed_record(
    kind: u8,
    flags: u8,
    callsite: u32,
    ts: u64,
    ctx: &TraceContext,
) -> [u8; HEADER_LEN + CTX_LEN] {
    let mut r = [0u8; HEADER_LEN + CTX_LEN];
    r[0..4].copy_from_slice(&((HEADER_LEN + CTX_LEN) as u32).to_le_bytes());
    r[4] = kind;
    r[5] = FLAG_CTX | flags;
    r[8..12].copy_from_slice(&callsite.to_le_bytes());
    r[16..24].copy_from_slice(&ts.to_le_bytes());
    r[24..40].copy_from_slice(&ctx.trace_id.to_le_bytes());
    r[40..48].copy_from_slice(&ctx.span_id.to_le_bytes());
    r[48..56].copy_from_slice(&ctx.parent_span_id.to_le_bytes());
    r[56] = ctx.trace_flags;
    r
}

/// A `KIND_SPAN` record: a span that started at `start` and ended at `end`
/// (raw timestamps), built on the stack.
#[inline(always)]
pub(crate) fn whole_span_record(
    flags: u8,
    callsite: u32,
    start: u64,
    end: u64,
    ctx: &TraceContext,
) -> [u8; SPAN_LEN] {
    let mut r = [0u8; SPAN_LEN];
    r[..HEADER_LEN + CTX_LEN]
        .copy_from_slice(&fixed_record(KIND_SPAN, flags, callsite, start, ctx));
    r[0..4].copy_from_slice(&(SPAN_LEN as u32).to_le_bytes());
    r[HEADER_LEN + CTX_LEN..].copy_from_slice(&end.to_le_bytes());
    r
}

/// The end timestamp of a `KIND_SPAN` record, or `None` if `rec` is not one
/// of the right length.
pub(crate) fn whole_span_end(rec: &[u8]) -> Option<u64> {
    if rec.len() != SPAN_LEN || rec.get(4) != Some(&KIND_SPAN) {
        return None;
    }
    let tail: [u8; 8] = rec[HEADER_LEN + CTX_LEN..].try_into().ok()?;
    Some(u64::from_le_bytes(tail))
}

/// The caller-side record serializer. Values write themselves into it through
/// [`crate::Value`]. It writes either straight into the thread's ring (when the
/// record's size is known up front) or into a thread-local scratch buffer.
/// Every write is bounds-checked against the window: text beyond the record
/// limit is cut at a character boundary and the record marked truncated; a
/// fixed-size value that does not fit is left out (the writer prints `null`).
#[derive(Debug)]
pub struct RecordBuf<'a> {
    buf: &'a mut [MaybeUninit<u8>],
    len: usize,
    /// Text stops at this many bytes of record.
    limit: usize,
    values: u16,
    flags: u8,
    kind: u8,
    callsite: u32,
    ts: u64,
}

impl<'a> RecordBuf<'a> {
    /// A serializer over `buf`; text is cut once the record reaches `limit`.
    #[inline(always)]
    pub(crate) fn new(buf: &'a mut [MaybeUninit<u8>], limit: usize) -> RecordBuf<'a> {
        let limit = limit.min(buf.len());
        RecordBuf {
            buf,
            len: 0,
            limit,
            values: 0,
            flags: 0,
            kind: KIND_LOG,
            callsite: 0,
            ts: 0,
        }
    }

    #[cfg(test)]
    pub(crate) fn begin(&mut self, callsite: u32, ts: u64, ctx: &TraceContext) {
        self.begin_kind(
            KIND_LOG,
            0,
            callsite,
            ts,
            &Prefix {
                ctx,
                corr: None,
                tracestate: None,
            },
        );
    }

    /// Starts a record of `kind` with extra header `flags`, the context,
    /// and the correlation id and tracestate when given.
    #[inline(always)]
    pub(crate) fn begin_kind(
        &mut self,
        kind: u8,
        flags: u8,
        callsite: u32,
        ts: u64,
        prefix: &Prefix<'_>,
    ) {
        let Prefix {
            ctx,
            corr,
            tracestate,
        } = *prefix;
        if HEADER_LEN > self.buf.len() {
            self.flags |= FLAG_TRUNCATED;
            return;
        }
        // The header itself is written by `finish`, in one store.
        self.len = HEADER_LEN;
        self.kind = kind;
        self.flags |= flags;
        self.callsite = callsite;
        self.ts = ts;
        if ctx.is_some() {
            let mut c = [0u8; CTX_LEN];
            c[0..16].copy_from_slice(&ctx.trace_id.to_le_bytes());
            c[16..24].copy_from_slice(&ctx.span_id.to_le_bytes());
            c[24..32].copy_from_slice(&ctx.parent_span_id.to_le_bytes());
            c[32] = ctx.trace_flags;
            if self.put(&c) {
                self.flags |= FLAG_CTX;
            }
        }
        if let Some(id) = corr {
            let id = cut(id, CORR_MAX);
            if self.put(&(id.len() as u32).to_le_bytes()) && self.put(id.as_bytes()) {
                self.flags |= FLAG_CORR;
            }
        }
        if let Some(t) = tracestate {
            // Whole or not at all: a tracestate that does not fit is left
            // out (and the record marked truncated).
            let n = t.len();
            if 4 + n <= self.buf.len() - self.len && self.len + 4 + n <= self.limit {
                self.put(&(n as u32).to_le_bytes());
                for piece in t.pieces() {
                    self.put(piece);
                }
                self.flags |= FLAG_TS;
            } else {
                self.flags |= FLAG_TRUNCATED;
            }
        }
    }

    /// Finishes the record: writes its header. Returns the record's length;
    /// its bytes `[0, len)` are initialized.
    #[inline(always)]
    pub(crate) fn finish(&mut self) -> usize {
        if self.len < HEADER_LEN {
            // Only a window smaller than a header gets here; callers never make one.
            return 0;
        }
        let mut head = [0u8; HEADER_LEN];
        head[0..4].copy_from_slice(&(self.len as u32).to_le_bytes());
        head[4] = self.kind;
        head[5] = self.flags;
        head[6..8].copy_from_slice(&self.values.to_le_bytes());
        head[8..12].copy_from_slice(&self.callsite.to_le_bytes());
        head[16..24].copy_from_slice(&self.ts.to_le_bytes());
        // SAFETY: `len >= HEADER_LEN` and `len <= buf.len()`, so the window
        // holds the header's bytes at offset 0.
        unsafe {
            self.buf
                .as_mut_ptr()
                .cast::<[u8; HEADER_LEN]>()
                .write_unaligned(head)
        };
        self.len
    }

    /// [`RecordBuf::finish`], with the log sampler's adjusted count in the
    /// header (`0`, a constant on the default path, writes nothing more).
    #[inline(always)]
    pub(crate) fn finish_adjusted(&mut self, adjusted: u32) -> usize {
        let n = self.finish();
        if adjusted != 0 && n != 0 {
            self.patch(12, adjusted.to_le_bytes());
        }
        n
    }

    /// Overwrites bytes already written.
    #[inline(always)]
    fn patch<const N: usize>(&mut self, at: usize, bytes: [u8; N]) {
        if let Some(dst) = self.buf.get_mut(at..at + N) {
            dst.write_copy_of_slice(&bytes);
        }
    }

    /// The bytes written so far.
    pub(crate) fn written(&self) -> &[u8] {
        // SAFETY: `put` is the only writer and it initializes `[len, end)`
        // before advancing `len` to `end`, so `[0, len)` is initialized.
        unsafe { self.buf[..self.len].assume_init_ref() }
    }

    pub(crate) fn is_truncated(&self) -> bool {
        self.flags & FLAG_TRUNCATED != 0
    }

    /// Runs `record` (a `Value` impl that may record no value or several)
    /// and holds the field to exactly one: none becomes `null`, and of
    /// several the first is kept and the rest dropped; either is counted
    /// ([`misrecorded_values`]). Out of line: built-in values never need it.
    #[inline(never)]
    pub(crate) fn record_one(&mut self, record: impl FnOnce(&mut Self)) {
        let (len0, values0) = (self.len, self.values);
        record(self);
        let n = self.values.wrapping_sub(values0);
        if n == 1 {
            return;
        }
        MISRECORDED.fetch_add(1, Ordering::Relaxed);
        if n > 1 {
            // Keep the first value: cut the record where it ends.
            let mut d = Decoder {
                b: self.written(),
                pos: len0,
            };
            if d.value().is_some() {
                self.len = d.pos;
                self.values = values0 + 1;
                return;
            }
        }
        self.len = len0;
        self.values = values0;
        self.none();
    }

    /// Appends bytes if they fit the window; false (and nothing written) if not.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) -> bool {
        if bytes.len() > self.buf.len() - self.len {
            self.flags |= FLAG_TRUNCATED;
            return false;
        }
        // SAFETY: `len + bytes.len() <= buf.len()` was just checked, so the
        // destination lies inside the window; the window is borrowed mutably,
        // so `bytes` cannot overlap it.
        unsafe {
            copy_bytes(
                bytes.as_ptr(),
                self.buf.as_mut_ptr().add(self.len).cast::<u8>(),
                bytes.len(),
            );
        }
        self.len += bytes.len();
        true
    }

    /// Appends a tag and a fixed-size payload if both fit; counts the value.
    #[inline(always)]
    fn fixed<const N: usize>(&mut self, tag: u8, bytes: [u8; N]) {
        if 1 + N > self.buf.len() - self.len {
            self.flags |= FLAG_TRUNCATED;
            return;
        }
        // SAFETY: `len + 1 + N <= buf.len()` was just checked; unaligned
        // writes of plain bytes into the (uninitialized) window are valid.
        unsafe {
            let p = self.buf.as_mut_ptr().add(self.len).cast::<u8>();
            p.write(tag);
            p.add(1).cast::<[u8; N]>().write_unaligned(bytes);
        }
        self.len += 1 + N;
        self.values += 1;
    }

    /// Records `None` / a missing value (JSON `null`).
    #[inline(always)]
    pub fn none(&mut self) {
        self.fixed(TAG_NONE, []);
    }
    /// Records a bool.
    #[inline(always)]
    pub fn bool(&mut self, v: bool) {
        self.fixed(if v { TAG_TRUE } else { TAG_FALSE }, []);
    }
    /// Records an unsigned integer.
    #[inline(always)]
    pub fn u64(&mut self, v: u64) {
        self.fixed(TAG_U64, v.to_le_bytes());
    }
    /// Records a signed integer.
    #[inline(always)]
    pub fn i64(&mut self, v: i64) {
        self.fixed(TAG_I64, v.to_le_bytes());
    }
    /// Records a 128-bit unsigned integer.
    #[inline(always)]
    pub fn u128(&mut self, v: u128) {
        self.fixed(TAG_U128, v.to_le_bytes());
    }
    /// Records a 128-bit signed integer.
    #[inline(always)]
    pub fn i128(&mut self, v: i128) {
        self.fixed(TAG_I128, v.to_le_bytes());
    }
    /// Records an f64.
    #[inline(always)]
    pub fn f64(&mut self, v: f64) {
        self.fixed(TAG_F64, v.to_bits().to_le_bytes());
    }
    /// Records an f32.
    #[inline(always)]
    pub fn f32(&mut self, v: f32) {
        self.fixed(TAG_F32, v.to_bits().to_le_bytes());
    }
    /// Records a char.
    #[inline(always)]
    pub fn char(&mut self, v: char) {
        self.fixed(TAG_CHAR, (v as u32).to_le_bytes());
    }
    /// Records a string, cut at a character boundary if the record is full.
    #[inline(always)]
    pub fn str(&mut self, s: &str) {
        self.text_value(TAG_STR, s.as_bytes(), true);
    }

    /// Records a byte string; the writer replaces invalid UTF-8 with U+FFFD.
    #[inline(always)]
    pub fn bytes(&mut self, b: &[u8]) {
        self.text_value(TAG_BYTES, b, false);
    }

    /// Whether `n` more bytes fit the window; if not, marks the record truncated.
    #[inline(always)]
    fn fits(&mut self, n: usize) -> bool {
        if self.buf.len() - self.len >= n {
            true
        } else {
            self.flags |= FLAG_TRUNCATED;
            false
        }
    }

    /// Bytes of text that still fit, keeping `after` bytes for later parts of
    /// the same value and 4 for this part's length prefix.
    #[inline(always)]
    fn text_room(&self, after: usize) -> usize {
        self.limit.saturating_sub(self.len + 4 + after)
    }

    /// Cuts text to the room left; `utf8` cuts at a character boundary.
    #[inline(always)]
    fn clip<'t>(&mut self, t: &'t [u8], after: usize, utf8: bool) -> &'t [u8] {
        let room = self.text_room(after);
        if t.len() <= room {
            return t;
        }
        self.flags |= FLAG_TRUNCATED;
        if utf8 {
            let mut end = room;
            // Back up to a character boundary (continuation bytes are 0b10xx_xxxx).
            while end > 0 && (t[end] & 0xC0) == 0x80 {
                end -= 1;
            }
            &t[..end]
        } else {
            // Bytes: do not split a character of otherwise valid UTF-8.
            let lo = room.saturating_sub(3);
            let lead = (lo..room).rev().find(|&i| t[i] & 0xC0 != 0x80);
            match lead {
                Some(i) if t[i] >= 0xC0 => {
                    let width = if t[i] >= 0xF0 {
                        4
                    } else if t[i] >= 0xE0 {
                        3
                    } else {
                        2
                    };
                    let whole = t
                        .get(i..i + width)
                        .is_some_and(|c| std::str::from_utf8(c).is_ok());
                    if i + width > room && whole {
                        &t[..i]
                    } else {
                        &t[..room]
                    }
                }
                _ => &t[..room],
            }
        }
    }

    #[inline(always)]
    fn text_value(&mut self, tag: u8, t: &[u8], utf8: bool) {
        if !self.fits(5) {
            return;
        }
        self.put(&[tag]);
        self.values += 1;
        self.text_part(t, 0, utf8);
    }

    /// Writes a length-prefixed text part; the caller checked that `4 + after`
    /// bytes fit, and the text is clipped so that they still do.
    #[inline(always)]
    fn text_part(&mut self, t: &[u8], after: usize, utf8: bool) {
        let t = self.clip(t, after, utf8);
        self.put(&(t.len() as u32).to_le_bytes());
        self.put(t);
    }

    /// Records text produced by formatting, written straight into the record.
    pub fn fmt(&mut self, args: fmt::Arguments<'_>) {
        if self.fits(5) {
            self.put(&[TAG_STR]);
            self.values += 1;
            self.fmt_part(args, 0);
        }
    }

    /// Writes a length-prefixed formatted part, keeping `after` bytes free.
    fn fmt_part(&mut self, args: fmt::Arguments<'_>, after: usize) {
        if let Some(s) = args.as_str() {
            return self.text_part(s.as_bytes(), after, true);
        }
        let at = self.len;
        self.put(&[0; 4]);
        // Our `write_str` never fails; a user's Display impl may, and then the
        // text written so far is kept.
        let _ = fmt::write(&mut FmtSink { r: self, after }, args);
        let len = (self.len - at - 4) as u32;
        self.patch(at, len.to_le_bytes());
    }

    /// Records the formatted message of a call site with format arguments.
    pub(crate) fn message(&mut self, args: fmt::Arguments<'_>) {
        if self.fits(4) {
            self.flags |= FLAG_FMT_MESSAGE;
            self.fmt_part(args, 0);
        }
    }

    /// Records an error: type name, message, and the chain of sources.
    pub fn error(&mut self, type_name: &str, err: &dyn std::error::Error) {
        if !self.fits(13) {
            return;
        }
        self.put(&[TAG_ERROR]);
        self.values += 1;
        self.text_part(type_name.as_bytes(), 8, true);
        self.fmt_part(format_args!("{err}"), 4);
        let at = self.len;
        self.put(&[0; 4]);
        let mut source = err.source();
        let mut first = true;
        while let Some(s) = source {
            let mut w = FmtSink { r: self, after: 0 };
            let _ = if first {
                fmt::write(&mut w, format_args!("caused by: {s}"))
            } else {
                fmt::write(&mut w, format_args!("\ncaused by: {s}"))
            };
            first = false;
            source = s.source();
        }
        let len = (self.len - at - 4) as u32;
        self.patch(at, len.to_le_bytes());
    }
}

/// Copies `n` bytes; short copies (the common field value) are done inline
/// with two overlapping loads and stores instead of a call to `memcpy`.
///
/// # Safety
/// `src` is valid for `n` reads, `dst` for `n` writes, and they do not overlap.
#[inline(always)]
unsafe fn copy_bytes(src: *const u8, dst: *mut u8, n: usize) {
    // SAFETY: every access lies within `[0, n)` of its buffer (the two
    // halves overlap when `n` is below twice the word size), which the
    // caller guarantees valid and non-overlapping.
    unsafe {
        if n <= 16 {
            if n >= 8 {
                let a = src.cast::<u64>().read_unaligned();
                let b = src.add(n - 8).cast::<u64>().read_unaligned();
                dst.cast::<u64>().write_unaligned(a);
                dst.add(n - 8).cast::<u64>().write_unaligned(b);
            } else if n >= 4 {
                let a = src.cast::<u32>().read_unaligned();
                let b = src.add(n - 4).cast::<u32>().read_unaligned();
                dst.cast::<u32>().write_unaligned(a);
                dst.add(n - 4).cast::<u32>().write_unaligned(b);
            } else if n > 0 {
                let (a, m, z) = (*src, *src.add(n / 2), *src.add(n - 1));
                *dst = a;
                *dst.add(n / 2) = m;
                *dst.add(n - 1) = z;
            }
        } else if n <= 32 {
            let a = src.cast::<u128>().read_unaligned();
            let b = src.add(n - 16).cast::<u128>().read_unaligned();
            dst.cast::<u128>().write_unaligned(a);
            dst.add(n - 16).cast::<u128>().write_unaligned(b);
        } else {
            ptr::copy_nonoverlapping(src, dst, n);
        }
    }
}

/// Cuts `s` to at most `max` bytes at a character boundary.
#[inline]
fn cut(s: &str, max: usize) -> &str {
    &s[..s.floor_char_boundary(max)]
}

/// Formats into the record, keeping `after` bytes free for later parts.
struct FmtSink<'r, 'a> {
    r: &'r mut RecordBuf<'a>,
    after: usize,
}

impl fmt::Write for FmtSink<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let r = &mut *self.r;
        let room = r.limit.saturating_sub(r.len + self.after);
        if s.len() <= room {
            r.put(s.as_bytes());
        } else {
            r.flags |= FLAG_TRUNCATED;
            r.put(cut(s, room).as_bytes());
        }
        Ok(())
    }
}

/// A decoded value, borrowed from the record bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Val<'a> {
    None,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    F64(f64),
    F32(f32),
    Char(char),
    Str(&'a [u8]),
    Bytes(&'a [u8]),
    Error {
        type_name: &'a [u8],
        message: &'a [u8],
        chain: &'a [u8],
    },
}

/// Record header as decoded by the writer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    pub len: usize,
    pub kind: u8,
    pub flags: u8,
    pub values: u16,
    pub callsite: u32,
    /// Adjusted count (0 or 1: the record stands for itself only).
    pub adjusted: u32,
    pub ts: u64,
}

impl Header {
    /// Parses a header from the first [`HEADER_LEN`] bytes.
    pub(crate) fn parse(b: &[u8; HEADER_LEN]) -> Header {
        Header {
            len: u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize,
            kind: b[4],
            flags: b[5],
            values: u16::from_le_bytes([b[6], b[7]]),
            callsite: u32::from_le_bytes([b[8], b[9], b[10], b[11]]),
            adjusted: u32::from_le_bytes([b[12], b[13], b[14], b[15]]),
            ts: u64::from_le_bytes([b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]]),
        }
    }
}

/// Fields whose `Value` impl recorded no value or more than one (see
/// [`RecordBuf::record_one`]).
static MISRECORDED: AtomicU64 = AtomicU64::new(0);

/// Counts `n` values dropped because a bridge met their field out of order.
#[cfg(feature = "tracing")]
pub(crate) fn count_misrecorded(n: u64) {
    MISRECORDED.fetch_add(n, Ordering::Relaxed);
}

/// [`MISRECORDED`] now.
pub(crate) fn misrecorded_values() -> u64 {
    MISRECORDED.load(Ordering::Relaxed)
}

/// Walks a record's bytes. Every read is bounds-checked: a malformed record
/// yields `None`, never a panic.
#[derive(Debug, Clone)]
pub(crate) struct Decoder<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Decoder<'a> {
    /// Starts after the header.
    pub(crate) fn new(record: &'a [u8]) -> Decoder<'a> {
        Decoder {
            b: record,
            pos: HEADER_LEN,
        }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.b.len().saturating_sub(self.pos)
    }

    #[inline]
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }

    #[inline]
    fn arr<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    #[inline]
    pub(crate) fn context(&mut self) -> Option<TraceContext> {
        Some(TraceContext {
            trace_id: u128::from_le_bytes(self.arr()?),
            span_id: u64::from_le_bytes(self.arr()?),
            parent_span_id: u64::from_le_bytes(self.arr()?),
            trace_flags: self.arr::<1>()?[0],
        })
    }

    #[inline]
    pub(crate) fn string(&mut self) -> Option<&'a [u8]> {
        let n = u32::from_le_bytes(self.arr()?) as usize;
        self.take(n)
    }

    // Always inlined: the value is then built in the caller's registers.
    // Returned through memory, its payload is written by the callee and
    // read back unaligned at once by the caller, a store-forwarding stall
    // per field on the writer (perf annotate showed 40% of its line
    // encoding there).
    #[inline(always)]
    pub(crate) fn value(&mut self) -> Option<Val<'a>> {
        let tag = self.arr::<1>()?[0];
        Some(match tag {
            TAG_NONE => Val::None,
            TAG_FALSE => Val::Bool(false),
            TAG_TRUE => Val::Bool(true),
            TAG_U64 => Val::U64(u64::from_le_bytes(self.arr()?)),
            TAG_I64 => Val::I64(i64::from_le_bytes(self.arr()?)),
            TAG_U128 => Val::U128(u128::from_le_bytes(self.arr()?)),
            TAG_I128 => Val::I128(i128::from_le_bytes(self.arr()?)),
            TAG_F64 => Val::F64(f64::from_bits(u64::from_le_bytes(self.arr()?))),
            TAG_F32 => Val::F32(f32::from_bits(u32::from_le_bytes(self.arr()?))),
            TAG_CHAR => Val::Char(char::from_u32(u32::from_le_bytes(self.arr()?))?),
            TAG_STR => Val::Str(self.string()?),
            TAG_BYTES => Val::Bytes(self.string()?),
            TAG_ERROR => Val::Error {
                type_name: self.string()?,
                message: self.string()?,
                chain: self.string()?,
            },
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header_of(b: &[u8]) -> Header {
        Header::parse(b[..HEADER_LEN].try_into().unwrap())
    }

    fn window(n: usize) -> Vec<MaybeUninit<u8>> {
        vec![MaybeUninit::uninit(); n]
    }

    #[test]
    fn values_round_trip() {
        let mut w = window(1024 + SLACK);
        let mut r = RecordBuf::new(&mut w, 1024);
        let ctx = TraceContext {
            trace_id: 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736,
            span_id: 0x00f0_67aa_0ba9_02b7,
            parent_span_id: 7,
            trace_flags: 1,
        };
        r.begin(42, 123_456, &ctx);
        r.u64(u64::MAX);
        r.i64(i64::MIN);
        r.f64(3.25);
        r.f32(-0.5);
        r.bool(true);
        r.char('é');
        r.str("héllo");
        r.none();
        r.u128(u128::MAX);
        r.i128(i128::MIN);
        let n = r.finish_adjusted(100);
        let bytes = r.written().to_vec();
        let h = header_of(&bytes);
        assert_eq!(h.len, n);
        assert_eq!(h.len, bytes.len());
        assert_eq!(h.callsite, 42);
        assert_eq!(h.adjusted, 100);
        assert_eq!(h.ts, 123_456);
        assert_eq!(h.values, 10);
        assert_eq!(h.flags & FLAG_CTX, FLAG_CTX);
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.context(), Some(ctx));
        let want = [
            Val::U64(u64::MAX),
            Val::I64(i64::MIN),
            Val::F64(3.25),
            Val::F32(-0.5),
            Val::Bool(true),
            Val::Char('é'),
            Val::Str("héllo".as_bytes()),
            Val::None,
            Val::U128(u128::MAX),
            Val::I128(i128::MIN),
        ];
        for w in want {
            assert_eq!(d.value(), Some(w));
        }
        assert_eq!(d.value(), None);
    }

    #[test]
    fn oversized_text_is_cut_at_char_boundary_and_flagged() {
        let mut w = window(MIN_RECORD_LIMIT + SLACK);
        let mut r = RecordBuf::new(&mut w, MIN_RECORD_LIMIT);
        r.begin(1, 0, &TraceContext::default());
        let long = "é".repeat(1000);
        r.str(&long);
        r.fmt(format_args!("{}", long));
        r.u64(5);
        assert!(r.is_truncated());
        r.finish();
        let bytes = r.written().to_vec();
        assert!(bytes.len() <= MIN_RECORD_LIMIT + 9 + 5);
        let mut d = Decoder::new(&bytes);
        for _ in 0..2 {
            let Some(Val::Str(s)) = d.value() else {
                panic!("expected a string")
            };
            let s = std::str::from_utf8(s).expect("cut at a char boundary");
            assert!(s.chars().all(|c| c == 'é'));
        }
        assert_eq!(d.value(), Some(Val::U64(5)));
    }

    #[test]
    fn a_window_too_small_never_overflows() {
        let mut w = window(HEADER_LEN + 10);
        let mut r = RecordBuf::new(&mut w, usize::MAX);
        r.begin(1, 0, &TraceContext::default());
        r.u64(1);
        r.u64(2);
        r.str("does not fit");
        assert!(r.is_truncated());
        let n = r.finish();
        assert_eq!(n, HEADER_LEN + 9);
        let bytes = r.written().to_vec();
        assert_eq!(header_of(&bytes).values, 1);
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.value(), Some(Val::U64(1)));
        assert_eq!(d.value(), None);
    }

    #[test]
    fn copy_bytes_copies_every_length() {
        let src: Vec<u8> = (0..100u8).collect();
        for n in 0..=100 {
            let mut dst = vec![0xAAu8; 102];
            // SAFETY: both buffers hold at least n bytes past the offsets used.
            unsafe { copy_bytes(src.as_ptr(), dst.as_mut_ptr().add(1), n) };
            assert_eq!(&dst[1..1 + n], &src[..n], "length {n}");
            assert_eq!(dst[0], 0xAA);
            assert!(
                dst[1 + n..].iter().all(|&b| b == 0xAA),
                "length {n} wrote past the end"
            );
        }
    }

    #[test]
    fn decoder_rejects_garbage_without_panicking() {
        let mut bytes = vec![0u8; HEADER_LEN];
        bytes.extend_from_slice(&[TAG_STR, 255, 255, 255, 255, b'a']);
        bytes.extend_from_slice(&[99]);
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.value(), None);
        let mut d = Decoder::new(&bytes[..HEADER_LEN + 2]);
        assert_eq!(d.value(), None);
    }
}
