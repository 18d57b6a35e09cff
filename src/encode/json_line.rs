//! The JSON line format: one object per line (RFC 8259), valid UTF-8, no
//! key twice.
//!
//! Nothing here allocates per record: each call site's pieces (level,
//! target, static message, escaped keys) are escaped once and reused.

use super::json;
use super::{LineCx, LineFormat, NoteVal, Notice, Site, SpanEnd, SpanStatus};
use crate::record::{RecordView, TraceContext, Val};
use crate::redact::Redactor;

/// A call site's pieces, escaped once.
struct JsonSite {
    /// `,"level":"INFO","target":"..","message":` plus the escaped message
    /// when it is static.
    head: Vec<u8>,
    /// `,"<key>":` for each field.
    keys: Vec<Vec<u8>>,
    /// The message is formatted per record (`head` ends at its key).
    fmt: bool,
}

/// The JSON format.
pub(crate) struct JsonLine {
    ts: json::TimestampWriter,
    sites: Vec<Option<JsonSite>>,
}

impl JsonLine {
    pub(crate) fn new() -> JsonLine {
        JsonLine {
            ts: json::TimestampWriter::new(),
            sites: Vec::new(),
        }
    }

    #[inline]
    fn site(&mut self, site: &Site) -> Option<&JsonSite> {
        let i = site.id as usize;
        if self.sites.get(i).is_some_and(|s| s.is_some()) {
            return self.sites[i].as_ref();
        }
        Some(self.new_site(site))
    }

    #[cold]
    fn new_site(&mut self, site: &Site) -> &JsonSite {
        let i = site.id as usize;
        if self.sites.len() <= i {
            self.sites.resize_with(i + 1, || None);
        }
        self.sites[i].get_or_insert_with(|| build_site(site))
    }
}

impl LineFormat for JsonLine {
    fn thread_piece(&self, out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(b",\"thread\":");
        json::write_str(out, name.as_bytes());
    }

    #[inline]
    fn record(
        &mut self,
        out: &mut Vec<u8>,
        site: &Site,
        view: &mut RecordView<'_>,
        cx: &LineCx<'_>,
    ) -> Option<u64> {
        out.extend_from_slice(b"{\"timestamp\":");
        self.ts.write(out, cx.unix_nanos);
        let r = cx.redactor;
        let js = self.site(site)?;
        out.extend_from_slice(&js.head);
        if js.fmt {
            // A formatted message missing from its record (never made by
            // this crate's callers) is written empty: the line stays valid.
            r.write_json(out, view.message.unwrap_or_default());
        }
        if let Some(c) = &view.ctx {
            write_context(out, c);
        }
        if let Some(id) = view.corr {
            out.extend_from_slice(b",\"correlation_id\":");
            json::write_str_lossy(out, id);
        }
        out.extend_from_slice(cx.thread);
        out.extend_from_slice(cx.span);
        let mut exception = false;
        let mut invalid = 0;
        // A local reader: its position stays in registers across the fields.
        let mut values = view.values.clone();
        for (i, key) in js.keys.iter().enumerate() {
            let recorded = values.left() > 0;
            let v = values.field()?;
            if recorded && site.redact >> i & 1 != 0 {
                out.extend_from_slice(key);
                out.push(b'"');
                r.write_key_replacement(out, &v);
                out.push(b'"');
                continue;
            }
            write_field(out, key, v, r, &mut exception, &mut invalid);
        }
        if view.truncated() {
            out.extend_from_slice(b",\"truncated\":true");
        }
        let adjusted = view.adjusted_count();
        if adjusted > 1 {
            out.extend_from_slice(b",\"adjusted_count\":");
            json::write_u64(out, u64::from(adjusted));
        }
        if cx.replayed {
            out.extend_from_slice(b",\"replayed\":true");
        }
        out.extend_from_slice(b"}\n");
        Some(invalid)
    }

    fn notice(&mut self, out: &mut Vec<u8>, n: &Notice<'_>, thread: Option<&[u8]>) {
        out.extend_from_slice(b"{\"timestamp\":");
        self.ts.write(out, n.unix_nanos);
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(n.level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"target\":");
        json::write_str(out, n.target.as_bytes());
        out.extend_from_slice(b",\"message\":");
        json::write_str(out, n.message.as_bytes());
        if let Some(t) = thread {
            out.extend_from_slice(t);
        }
        for (key, v) in n.fields {
            out.push(b',');
            json::write_str(out, key.as_bytes());
            out.push(b':');
            match *v {
                NoteVal::U64(x) => json::write_u64(out, x),
                NoteVal::Str(s) => json::write_str(out, s.as_bytes()),
            }
        }
        out.extend_from_slice(b"}\n");
    }

    fn forget_sites(&mut self) {
        self.sites.clear();
    }

    fn span_open(&mut self, out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(b",\"span\":{\"name\":");
        json::write_str(out, name.as_bytes());
    }

    fn span_field(
        &mut self,
        out: &mut Vec<u8>,
        _first: bool,
        key: &str,
        v: Val<'_>,
        secret: bool,
        r: &Redactor,
    ) -> bool {
        out.push(b',');
        json::write_str(out, key.as_bytes());
        out.push(b':');
        if secret {
            out.push(b'"');
            r.write_key_replacement(out, &v);
            out.push(b'"');
            return false;
        }
        let mut invalid = 0;
        match v {
            // Inside the span's object an error is its message.
            Val::Error { message, .. } => r.write_json(out, message),
            v => write_value(out, v, r, &mut invalid),
        }
        invalid != 0
    }

    fn span_close(&mut self, out: &mut Vec<u8>, _fields: bool) {
        out.push(b'}');
    }

    fn span_end(&mut self, out: &mut Vec<u8>, end: &SpanEnd<'_>, cx: &LineCx<'_>) {
        out.extend_from_slice(b"{\"timestamp\":");
        self.ts.write(out, cx.unix_nanos);
        out.extend_from_slice(b",\"level\":\"");
        out.extend_from_slice(end.level.as_str().as_bytes());
        out.extend_from_slice(b"\",\"target\":");
        json::write_str(out, end.target.as_bytes());
        out.extend_from_slice(b",\"message\":\"span ended\"");
        write_context(out, &end.ctx);
        out.extend_from_slice(cx.thread);
        out.extend_from_slice(cx.span);
        if let Some(start) = end.start_unix_nanos {
            out.extend_from_slice(b",\"start_timestamp\":");
            self.ts.write(out, start);
            out.extend_from_slice(b",\"duration_ns\":");
            json::write_u64(out, cx.unix_nanos.saturating_sub(start));
        }
        let r = cx.redactor;
        match end.status {
            SpanStatus::Unset => {}
            SpanStatus::Ok => out.extend_from_slice(b",\"otel.status_code\":\"OK\""),
            SpanStatus::Error(desc) => {
                out.extend_from_slice(b",\"otel.status_code\":\"ERROR\"");
                if !desc.is_empty() {
                    out.extend_from_slice(b",\"otel.status_description\":");
                    r.write_json_lossy(out, desc);
                }
            }
        }
        if let Some((type_name, message)) = end.exception {
            out.extend_from_slice(b",\"exception.type\":");
            json::write_str_lossy(out, type_name);
            out.extend_from_slice(b",\"exception.message\":");
            r.write_json_lossy(out, message);
        }
        out.extend_from_slice(b"}\n");
    }
}

/// `,"trace_id":..,"span_id":..[,"parent_span_id":..],"trace_flags":..`.
#[inline]
fn write_context(out: &mut Vec<u8>, c: &TraceContext) {
    out.extend_from_slice(b",\"trace_id\":");
    json::write_hex_u128(out, c.trace_id);
    out.extend_from_slice(b",\"span_id\":");
    json::write_hex_u64(out, c.span_id);
    if c.parent_span_id != 0 {
        out.extend_from_slice(b",\"parent_span_id\":");
        json::write_hex_u64(out, c.parent_span_id);
    }
    out.extend_from_slice(b",\"trace_flags\":");
    json::write_hex_u8(out, c.trace_flags);
}

/// Writes one field; string values, error messages and their chains go
/// through the value patterns of `r`.
#[inline(always)]
fn write_field(
    out: &mut Vec<u8>,
    key: &[u8],
    v: Val<'_>,
    r: &Redactor,
    exception: &mut bool,
    invalid_utf8: &mut u64,
) {
    if let Val::Error {
        type_name,
        message,
        chain,
    } = v
    {
        if !*exception {
            *exception = true;
            out.extend_from_slice(b",\"exception.type\":");
            json::write_str(out, type_name);
            out.extend_from_slice(b",\"exception.message\":");
            r.write_json(out, message);
            // The error and its chain of sources, one per line:
            // "Type: message\ncaused by: ...". The message is counted once.
            out.extend_from_slice(b",\"exception.stacktrace\":\"");
            json::write_str_inner(out, type_name);
            out.extend_from_slice(b": ");
            r.write_json_inner(out, message, false);
            if !chain.is_empty() {
                out.extend_from_slice(b"\\n");
                r.write_json_inner(out, chain, true);
            }
            out.push(b'"');
            return;
        }
        // A second error in one record: its message under its own key.
        out.extend_from_slice(key);
        r.write_json(out, message);
        return;
    }
    out.extend_from_slice(key);
    write_value(out, v, r, invalid_utf8);
}

/// Writes a value other than an error (which is written by its callers).
#[inline(always)]
fn write_value(out: &mut Vec<u8>, v: Val<'_>, r: &Redactor, invalid_utf8: &mut u64) {
    match v {
        Val::None => out.extend_from_slice(b"null"),
        Val::Bool(b) => json::write_bool(out, b),
        Val::U64(x) => json::write_u64(out, x),
        Val::I64(x) => json::write_i64(out, x),
        Val::U128(x) => json::write_u128(out, x),
        Val::I128(x) => json::write_i128(out, x),
        Val::F64(x) => json::write_f64(out, x),
        Val::F32(x) => json::write_f32(out, x),
        Val::Char(c) => {
            let mut b = [0u8; 4];
            json::write_str(out, c.encode_utf8(&mut b).as_bytes());
        }
        Val::Str(s) => r.write_json(out, s),
        Val::Bytes(b) => {
            if r.write_json_lossy(out, b) {
                *invalid_utf8 += 1;
            }
        }
        Val::Error { .. } => {}
    }
}

fn build_site(site: &Site) -> JsonSite {
    let m = site.cs.metadata();
    let mut head = b",\"level\":\"".to_vec();
    head.extend_from_slice(m.level.as_str().as_bytes());
    head.extend_from_slice(b"\",\"target\":");
    json::write_str(&mut head, m.target.as_bytes());
    head.extend_from_slice(b",\"message\":");
    if !m.fmt_message {
        json::write_str(&mut head, m.message.as_bytes());
    }
    let keys = site
        .keys
        .iter()
        .map(|key| {
            let mut k = b",".to_vec();
            json::write_str(&mut k, key.as_bytes());
            k.push(b':');
            k
        })
        .collect();
    JsonSite {
        head,
        keys,
        fmt: m.fmt_message,
    }
}
