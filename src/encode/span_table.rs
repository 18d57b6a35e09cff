//! The writer's table of live spans, for span lines
//! (`Builder::span_fields`, `Builder::span_ends`).
//!
//! The writer fills it from the span records it already drains: a span's
//! start (its call site and fields), its later attributes, status and
//! exception events; it removes a span at its end. For each live span it
//! keeps the span's *piece* of every line format in use, built once (and
//! again when an attribute comes): JSON `,"span":{"name":"charge_card",
//! "amount":12.5}`, console `charge_card{amount=12.5}: `. A line whose
//! record's span id is in the table gets the piece appended as it is: one
//! lookup and one copy per line, nothing decoded.
//!
//! Bounded: at most [`MAX_LIVE_SPANS`] spans, each with at most
//! [`MAX_SPAN_BYTES`] of recorded fields and pieces of at most
//! [`MAX_PIECE_BYTES`] (fields beyond are left out of the lines, counted in
//! `Stats::span_fields_cut`). A span started while the table is full is not
//! held (counted in `Stats::span_table_full`): its lines carry their ids
//! only, and its end line its name, ids and end time. The slots' buffers
//! are kept and reused: nothing is allocated per record once the table has
//! seen its high-water mark.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{Line, LineFormat, Site, SpanStatus};
use crate::record::{Header, RecordView, Val};
use crate::redact::Redactor;

/// The environment variable turning span fields on lines on or off
/// (`true`/`false`, `1`/`0`, `on`/`off`, `yes`/`no`) when the builder
/// leaves them unset ([`crate::Builder::span_fields`]).
pub const SPAN_FIELDS_ENV: &str = "DATAPUNK_LOG_SPAN_FIELDS";
/// The environment variable turning span-end lines on or off (as
/// [`SPAN_FIELDS_ENV`]) when the builder leaves them unset
/// ([`crate::Builder::span_ends`]).
pub const SPAN_ENDS_ENV: &str = "DATAPUNK_LOG_SPAN_ENDS";

/// Span lines, fixed at `init()`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpanLines {
    /// Each line inside a span carries the span's name and fields.
    pub fields: bool,
    /// A line for each ended span.
    pub ends: bool,
}

impl SpanLines {
    pub(crate) fn any(self) -> bool {
        self.fields || self.ends
    }

    /// The builder's settings; one it leaves unset is read from its
    /// variable through `env` (unset or empty: off). The error names the
    /// variable and its value.
    pub(crate) fn resolve(
        fields: Option<bool>,
        ends: Option<bool>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<SpanLines, (&'static str, String)> {
        let read = |set: Option<bool>, var: &'static str| match set {
            Some(on) => Ok(on),
            None => match env(var).as_deref().map(str::trim) {
                None | Some("") => Ok(false),
                Some(v) => parse_bool(v).ok_or_else(|| {
                    (
                        var,
                        format!("`{v}` is not a boolean (true/false, 1/0, on/off, yes/no)"),
                    )
                }),
            },
        };
        Ok(SpanLines {
            fields: read(fields, SPAN_FIELDS_ENV)?,
            ends: read(ends, SPAN_ENDS_ENV)?,
        })
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    let is = |words: [&str; 4]| words.iter().any(|w| v.eq_ignore_ascii_case(w));
    if is(["true", "1", "on", "yes"]) {
        Some(true)
    } else if is(["false", "0", "off", "no"]) {
        Some(false)
    } else {
        None
    }
}

/// Most spans held at once.
pub(crate) const MAX_LIVE_SPANS: usize = 4096;
/// Most bytes of a span's recorded fields held (its start's values and
/// its attributes, as encoded in its records).
pub(crate) const MAX_SPAN_BYTES: usize = 2048;
/// Most bytes of fields in a span's piece of one format.
pub(crate) const MAX_PIECE_BYTES: usize = 2048;
/// Most bytes kept of a status description or an exception's type and
/// message (cut at a character boundary).
const MAX_TEXT_BYTES: usize = 512;

/// Span ids are random: a multiply spreads them over the table's buckets.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// One live span.
struct Slot {
    /// Raw start timestamp.
    start: u64,
    /// The start record's call site.
    callsite: u32,
    /// The start record, then the attribute records that fit.
    raw: Vec<u8>,
    /// The span's piece of each format.
    pieces: Vec<Vec<u8>>,
    status: u8,
    status_desc: Vec<u8>,
    exception: Option<(Vec<u8>, Vec<u8>)>,
}

/// A field of a span's piece while it is built.
#[derive(Clone, Copy)]
struct Field<'a> {
    key: &'a str,
    value: Val<'a>,
    secret: bool,
}

/// An empty vector of fields with another lifetime, keeping the
/// allocation (collecting from an emptied `into_iter` of the same layout
/// reuses it).
fn reuse<'b>(mut v: Vec<Field<'_>>) -> Vec<Field<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("cleared")).collect()
}

/// What the table tells the writer's counters.
#[derive(Default)]
pub(crate) struct TableCounts {
    /// Spans not held: the table was full.
    pub full: u64,
    /// Spans with fields left out of their lines (bounds).
    pub cut: u64,
}

/// What a span-end line needs from the table.
pub(crate) struct Ended<'a> {
    pub start: Option<u64>,
    /// Each format's piece.
    pub pieces: &'a [Vec<u8>],
    pub status: SpanStatus<'a>,
    pub exception: Option<(&'a [u8], &'a [u8])>,
}

pub(crate) struct SpanTable {
    index: HashMap<u64, u32, BuildHasherDefault<IdHasher>>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    formats: usize,
    /// Output keys of each call site's fields inside a span's piece (`name`
    /// reserved), by call-site id.
    keys: Vec<Option<Vec<String>>>,
    /// Fields of the piece being built (kept empty, for its capacity).
    fields: Vec<Field<'static>>,
    /// A piece being built.
    scratch: Vec<u8>,
    /// Pieces of a span not in the table (name only), per format.
    bare: Vec<Vec<u8>>,
    pub(crate) counts: TableCounts,
}

impl SpanTable {
    pub(crate) fn new(formats: usize) -> SpanTable {
        let mut index = HashMap::default();
        // Room for every live span up front: inserts and removes never
        // allocate (a table this full is rehashed in place).
        index.reserve(MAX_LIVE_SPANS);
        SpanTable {
            index,
            slots: Vec::new(),
            free: Vec::new(),
            formats,
            keys: Vec::new(),
            fields: Vec::with_capacity(64),
            scratch: Vec::with_capacity(MAX_PIECE_BYTES + 256),
            bare: vec![Vec::with_capacity(128); formats],
            counts: TableCounts::default(),
        }
    }

    /// The piece of format `f` of live span `span_id`, if held.
    #[inline]
    pub(crate) fn piece(&self, span_id: u64, f: usize) -> Option<&[u8]> {
        let i = *self.index.get(&span_id)?;
        self.slots.get(i as usize)?.pieces.get(f).map(Vec::as_slice)
    }

    /// A span started: holds it (unless the table is full) and builds its
    /// pieces. `None`: the record is malformed.
    pub(crate) fn start<'l>(
        &mut self,
        span_id: u64,
        rec: &[u8],
        h: Header,
        site: &Site,
        lines: impl Iterator<Item = &'l mut Line>,
        r: &Redactor,
    ) -> Option<()> {
        // Checked before the span is held.
        RecordView::decode(rec, h)?;
        let i = match self.index.get(&span_id) {
            // The same id again (a 64-bit collision or a forged record):
            // the newer span takes the slot.
            Some(&i) => i,
            None if self.index.len() >= MAX_LIVE_SPANS => {
                self.counts.full += 1;
                return Some(());
            }
            None => {
                let i = match self.free.pop() {
                    Some(i) => i,
                    None => {
                        self.slots.push(Slot {
                            start: 0,
                            callsite: 0,
                            raw: Vec::new(),
                            pieces: vec![Vec::new(); self.formats],
                            status: 0,
                            status_desc: Vec::new(),
                            exception: None,
                        });
                        (self.slots.len() - 1) as u32
                    }
                };
                self.index.insert(span_id, i);
                i
            }
        };
        let s = &mut self.slots[i as usize];
        s.start = h.ts;
        s.callsite = h.callsite;
        s.status = 0;
        s.status_desc.clear();
        s.exception = None;
        s.raw.clear();
        let mut cut = false;
        if rec.len() <= MAX_SPAN_BYTES {
            s.raw.extend_from_slice(rec);
        } else {
            // Too large to hold: the span keeps its name, not its fields.
            cut = true;
        }
        self.render(i as usize, site, lines, r, cut)
    }

    /// Attributes recorded on a live span: held when they fit, and the
    /// pieces built again. `None`: the record is malformed.
    pub(crate) fn attr<'l>(
        &mut self,
        span_id: u64,
        rec: &[u8],
        h: Header,
        site: &Site,
        lines: impl Iterator<Item = &'l mut Line>,
        r: &Redactor,
    ) -> Option<()> {
        RecordView::decode(rec, h)?;
        let Some(&i) = self.index.get(&span_id) else {
            return Some(());
        };
        let s = &mut self.slots[i as usize];
        let mut cut = false;
        if s.raw.is_empty() || s.raw.len() + rec.len() > MAX_SPAN_BYTES {
            cut = true;
        } else {
            s.raw.extend_from_slice(rec);
        }
        if cut {
            self.counts.cut += 1;
            return Some(());
        }
        self.render(i as usize, site, lines, r, false)
    }

    /// A status set on a live span (code 1 ok, 2 error, and a description).
    pub(crate) fn status(&mut self, span_id: u64, rec: &[u8], h: Header) -> Option<()> {
        let mut v = RecordView::decode(rec, h)?;
        let code = v.values.raw()?;
        let Val::Str(desc) = v.values.raw()? else {
            return None;
        };
        let code = match code {
            Val::U64(c @ (1 | 2)) => c as u8,
            _ => return None,
        };
        if let Some(&i) = self.index.get(&span_id) {
            let s = &mut self.slots[i as usize];
            s.status = code;
            s.status_desc.clear();
            s.status_desc.extend_from_slice(cut_text(desc));
        }
        Some(())
    }

    /// An event recorded on a live span: an `exception` event's error is
    /// kept for the span's end line.
    pub(crate) fn event(&mut self, span_id: u64, rec: &[u8], h: Header) -> Option<()> {
        let mut v = RecordView::decode(rec, h)?;
        let Val::Str(name) = v.values.raw()? else {
            return None;
        };
        if name != b"exception" {
            return Some(());
        }
        let Some(Val::Error {
            type_name, message, ..
        }) = v.values.raw()
        else {
            return Some(());
        };
        if let Some(&i) = self.index.get(&span_id) {
            let s = &mut self.slots[i as usize];
            let (t, m) = s.exception.get_or_insert_with(Default::default);
            t.clear();
            t.extend_from_slice(cut_text(type_name));
            m.clear();
            m.extend_from_slice(cut_text(message));
        }
        Some(())
    }

    /// What the end line of span `span_id` needs: from its slot when it is
    /// held, else its name only (`site`, the end record's call site).
    pub(crate) fn ended<'l>(
        &mut self,
        span_id: u64,
        site: &Site,
        lines: impl Iterator<Item = &'l mut Line>,
    ) -> Ended<'_> {
        if let Some(&i) = self.index.get(&span_id) {
            let s = &self.slots[i as usize];
            return Ended {
                start: Some(s.start),
                pieces: &s.pieces,
                status: match s.status {
                    1 => SpanStatus::Ok,
                    2 => SpanStatus::Error(&s.status_desc),
                    _ => SpanStatus::Unset,
                },
                exception: s.exception.as_ref().map(|(t, m)| (&t[..], &m[..])),
            };
        }
        let name = site.cs.metadata().message;
        for (p, line) in self.bare.iter_mut().zip(lines) {
            p.clear();
            line.span_open(p, name);
            line.span_close(p, false);
        }
        Ended {
            start: None,
            pieces: &self.bare,
            status: SpanStatus::Unset,
            exception: None,
        }
    }

    /// The live spans: (slot, the call site of its start record). For a
    /// redaction reload (rare): allocates.
    pub(crate) fn live(&self) -> Vec<(u32, u32)> {
        self.index
            .values()
            .map(|&i| (i, self.slots[i as usize].callsite))
            .collect()
    }

    /// Builds slot `slot`'s pieces again from the records it holds, with
    /// `r` (a redaction reload: no line written from now on shows what the
    /// new rules hide). A span cut before stays cut; nothing is counted.
    pub(crate) fn rerender<'l>(
        &mut self,
        slot: u32,
        site: &Site,
        lines: impl Iterator<Item = &'l mut Line>,
        r: &Redactor,
    ) {
        let cut = self.counts.cut;
        let _ = self.render(slot as usize, site, lines, r, false);
        self.counts.cut = cut;
    }

    /// A span ended: its slot is freed (its buffers kept for the next).
    pub(crate) fn remove(&mut self, span_id: u64) {
        if let Some(i) = self.index.remove(&span_id) {
            self.free.push(i);
        }
    }

    /// Builds slot `i`'s pieces from its records.
    fn render<'l>(
        &mut self,
        i: usize,
        site: &Site,
        lines: impl Iterator<Item = &'l mut Line>,
        r: &Redactor,
        mut cut: bool,
    ) -> Option<()> {
        let cs = site.cs;
        let id = site.id as usize;
        if self.keys.len() <= id {
            self.keys.resize_with(id + 1, || None);
        }
        let keys = self.keys[id]
            .get_or_insert_with(|| crate::record::output_keys(cs.metadata().fields, &["name"]));
        let s = &mut self.slots[i];
        let mut fields = reuse(std::mem::take(&mut self.fields));
        let built = collect(&s.raw, keys, site.redact, &mut fields);
        if built.is_none() {
            self.fields = reuse(fields);
            return None;
        }
        let name = cs.metadata().message;
        for (p, line) in s.pieces.iter_mut().zip(lines) {
            let out = &mut self.scratch;
            out.clear();
            line.span_open(out, name);
            let mut any = false;
            for f in fields.iter() {
                let mark = out.len();
                line.span_field(out, !any, f.key, f.value, f.secret, r);
                if out.len() > MAX_PIECE_BYTES {
                    out.truncate(mark);
                    cut = true;
                    break;
                }
                any = true;
            }
            line.span_close(out, any);
            p.clear();
            p.extend_from_slice(out);
        }
        self.fields = reuse(fields);
        if cut {
            self.counts.cut += 1;
        }
        Some(())
    }
}

/// The fields of a span's records (`raw`: the start, then attribute
/// records): the call site's fields recorded at the start, then each
/// attribute; a later value of a key replaces the earlier one in place, so
/// no key is written twice. `None`: a record is malformed.
fn collect<'a>(
    raw: &'a [u8],
    keys: &'a [String],
    redact: u64,
    fields: &mut Vec<Field<'a>>,
) -> Option<()> {
    let mut off = 0;
    let mut first = true;
    while off < raw.len() {
        let head: &[u8; crate::record::HEADER_LEN] = raw
            .get(off..off + crate::record::HEADER_LEN)?
            .try_into()
            .ok()?;
        let h = Header::parse(head);
        let rec = raw.get(off..off.checked_add(h.len)?)?;
        if h.len < crate::record::HEADER_LEN {
            return None;
        }
        off += h.len;
        let mut v = RecordView::decode(rec, h)?;
        if first {
            first = false;
            for (i, key) in keys.iter().enumerate() {
                let recorded = v.values.left() > 0;
                let value = v.values.field()?;
                if !recorded || matches!(value, Val::None) {
                    // No value (`None`, a `tracing` span's `Empty` field, a
                    // field declared and not recorded yet): left out, as
                    // `tracing-subscriber` does.
                    continue;
                }
                fields.push(Field {
                    key,
                    value,
                    secret: i < 64 && redact >> i & 1 != 0,
                });
            }
            continue;
        }
        // An attribute record: key, value pairs.
        while let Some(k) = v.values.raw() {
            let Val::Str(k) = k else {
                return None;
            };
            let key = std::str::from_utf8(k).ok()?;
            let value = v.values.raw()?;
            let key = if key == "name" { "fields.name" } else { key };
            let secret = crate::redact::is_secret_key(key);
            match fields.iter_mut().find(|f| f.key == key) {
                Some(f) => {
                    f.value = value;
                    f.secret = secret;
                }
                None => fields.push(Field { key, value, secret }),
            }
        }
    }
    Some(())
}

/// `s` cut to [`MAX_TEXT_BYTES`], at a character boundary when it is UTF-8.
fn cut_text(s: &[u8]) -> &[u8] {
    if s.len() <= MAX_TEXT_BYTES {
        return s;
    }
    let mut end = MAX_TEXT_BYTES;
    while end > 0 && s[end] & 0xC0 == 0x80 {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_builder_wins_and_the_environment_fills_in() {
        let on = SpanLines {
            fields: true,
            ends: true,
        };
        assert_eq!(
            SpanLines::resolve(None, None, env(&[])),
            Ok(SpanLines::default())
        );
        let both = [(SPAN_FIELDS_ENV, " TRUE "), (SPAN_ENDS_ENV, "1")];
        assert_eq!(SpanLines::resolve(None, None, env(&both)), Ok(on));
        assert_eq!(
            SpanLines::resolve(Some(false), None, env(&both)),
            Ok(SpanLines {
                fields: false,
                ends: true
            })
        );
        let off = [(SPAN_FIELDS_ENV, "off"), (SPAN_ENDS_ENV, "")];
        assert_eq!(
            SpanLines::resolve(None, Some(true), env(&off)),
            Ok(SpanLines {
                fields: false,
                ends: true
            })
        );
        let (var, e) = SpanLines::resolve(None, None, env(&[(SPAN_ENDS_ENV, "maybe")]))
            .expect_err("not a boolean");
        assert_eq!(var, SPAN_ENDS_ENV);
        assert!(e.contains("maybe"), "{e}");
    }

    #[test]
    fn text_is_cut_at_a_character_boundary() {
        let long = "é".repeat(MAX_TEXT_BYTES);
        let cut = cut_text(long.as_bytes());
        assert!(cut.len() <= MAX_TEXT_BYTES);
        assert!(std::str::from_utf8(cut).is_ok());
        assert_eq!(cut_text(b"short"), b"short");
    }

    #[test]
    fn malformed_records_are_refused_without_panicking() {
        let run = |raw: &[u8]| collect(raw, &[], 0, &mut Vec::new()).is_some();
        // A header announcing more bytes than there are.
        let mut raw = vec![0u8; crate::record::HEADER_LEN];
        raw[0] = 200;
        assert!(!run(&raw));
        // A header announcing fewer bytes than a header.
        raw[0] = 3;
        assert!(!run(&raw));
        assert!(!run(&raw[..5]));
        assert!(run(&[]));
    }
}
