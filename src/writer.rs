//! The background writer thread: drain every ring, merge threads' records in
//! timestamp order, encode JSON lines into a reused buffer, ship batches.
//!
//! Nothing here allocates per record: the batch buffer, the buffer for records
//! that wrap around a ring's end, and each call site's pre-escaped keys are
//! reused. Call-site metadata is built once per call site, ring entries once
//! per thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::clock::Converter;
use crate::encode::json;
use crate::engine::{self, Engine, NewRing};
use crate::export::ExportPipe;
use crate::record::{
    Decoder, FLAG_CORR, FLAG_CTX, FLAG_FMT_MESSAGE, FLAG_TRUNCATED, HEADER_LEN, Header, KIND_LOG,
    KIND_MAX, KIND_SPAN, SLACK, Val, whole_span_end,
};
use crate::ring::RingShared;
use crate::sink::SinkSlot;
use crate::stats::Counters;

/// Keys the engine writes itself; a user field with one of these names is
/// written as `fields.<name>` instead.
pub(crate) const RESERVED_KEYS: &[&str] = &[
    "timestamp",
    "level",
    "target",
    "message",
    "trace_id",
    "span_id",
    "parent_span_id",
    "trace_flags",
    "correlation_id",
    "thread",
    "truncated",
    "exception.type",
    "exception.message",
    "exception.stacktrace",
];

const NOTICE_INTERVAL: Duration = Duration::from_millis(100);
/// A chunk of exported records is sent once half this full (or when idle).
pub(crate) const EXPORT_SEND_BYTES: usize = 256 * 1024;

/// Writer settings fixed at `init()`.
pub(crate) struct WriterConfig {
    pub sinks: Vec<SinkSlot>,
    pub order_window: Duration,
    pub idle_poll: Duration,
    pub batch_bytes: usize,
    pub export: Option<ExportPipe>,
}

struct RingEntry {
    consumer: rtrb::Consumer<u8>,
    shared: Arc<RingShared>,
    /// `,"thread":"<name>"`, escaped once.
    thread_key: Vec<u8>,
    capacity: usize,
    reported_dropped: u64,
    last_notice: Instant,
    /// Bytes this pass may still consume (a snapshot when flushing).
    budget: usize,
    /// Decoded header of the next record, if peeked.
    head: Option<Header>,
    /// More than half full: drained regardless of the ordering window.
    pressured: bool,
}

/// Per-call-site output pieces, escaped once.
struct CallsiteMeta {
    /// `,"level":"INFO","target":"..","message":` plus the escaped message
    /// when it is static.
    head: Vec<u8>,
    /// `,"<key>":` for each field, renamed where it would collide.
    keys: Vec<Vec<u8>>,
}

struct Encoder {
    engine: &'static Engine,
    out: Vec<u8>,
    wrap: Vec<u8>,
    ts: json::TimestampWriter,
    metas: Vec<Option<CallsiteMeta>>,
    conv: Converter,
    written: u64,
    /// Span records taken from the rings (not written as JSON).
    spans: u64,
    export: Option<ExportPipe>,
    /// Unix time of the current pass, for exported records' observed time.
    observed: u64,
}

pub(crate) struct Writer {
    enc: Encoder,
    rings: Vec<RingEntry>,
    sinks: Vec<SinkSlot>,
    window: Duration,
    idle_poll: Duration,
    batch_bytes: usize,
    flushed: u64,
}

/// Marks the writer as gone however it exits, releasing waiters.
struct ExitGuard(&'static Engine);

impl Drop for ExitGuard {
    fn drop(&mut self) {
        let e = self.0;
        e.writer_alive.store(false, Ordering::Release);
        {
            // Waiters see `writer_alive` false and return false.
            let _done = e.flush_done.lock().unwrap_or_else(|p| p.into_inner());
            e.flush_cv.notify_all();
        }
        let mut exited = e.exited.lock().unwrap_or_else(|p| p.into_inner());
        *exited = true;
        e.exited_cv.notify_all();
    }
}

impl Writer {
    pub(crate) fn new(engine: &'static Engine, cfg: WriterConfig, conv: Converter) -> Writer {
        Writer {
            enc: Encoder {
                engine,
                out: Vec::with_capacity(cfg.batch_bytes + 64 * 1024),
                // Room for the largest record, so wrapped records never grow it.
                wrap: Vec::with_capacity(engine.settings.record_limit + SLACK),
                ts: json::TimestampWriter::new(),
                metas: Vec::new(),
                conv,
                written: 0,
                spans: 0,
                export: cfg.export,
                observed: 0,
            },
            rings: Vec::new(),
            sinks: cfg.sinks,
            window: cfg.order_window,
            idle_poll: cfg.idle_poll,
            batch_bytes: cfg.batch_bytes,
            flushed: 0,
        }
    }

    /// The thread's body.
    pub(crate) fn run(mut self) {
        let engine = self.enc.engine;
        let _guard = ExitGuard(engine);
        let mut idle = 0u32;
        loop {
            self.enc.conv.tick();
            crate::sampler::tick();
            let requested = engine.flush_requested.load(Ordering::SeqCst);
            let shutting = engine.shutdown.load(Ordering::SeqCst);
            if engine.has_pending.swap(false, Ordering::AcqRel) {
                self.adopt();
            }
            let force = requested > self.flushed || shutting;
            self.enc.observed = self.enc.conv.unix_now();
            let n = self.drain(force);
            self.report_drops(force);
            self.ship();
            if let Some(x) = self.enc.export.as_mut()
                && (force || n == 0 || x.pending() * 2 >= EXPORT_SEND_BYTES)
            {
                x.send(self.enc.observed);
            }
            self.retire();
            for s in self.sinks.iter_mut() {
                s.retry(&engine.counters, false);
            }
            if force {
                for s in self.sinks.iter_mut() {
                    s.flush(&engine.counters);
                }
                if requested > self.flushed {
                    self.flushed = requested;
                    let mut done = engine.flush_done.lock().unwrap_or_else(|p| p.into_inner());
                    *done = (*done).max(requested);
                    engine.flush_cv.notify_all();
                }
                if shutting {
                    return;
                }
            }
            if n > 0 {
                idle = 0;
            } else {
                idle += 1;
                if idle < 4 {
                    std::thread::yield_now();
                } else {
                    std::thread::park_timeout(self.idle_poll);
                }
            }
        }
    }

    fn adopt(&mut self) {
        let pending: Vec<NewRing> = std::mem::take(&mut self.enc.engine.registry().pending);
        for r in pending {
            let mut thread_key = b",\"thread\":".to_vec();
            json::write_str(&mut thread_key, r.shared.thread.as_bytes());
            self.rings.push(RingEntry {
                capacity: r.consumer.buffer().capacity(),
                consumer: r.consumer,
                shared: r.shared,
                thread_key,
                reported_dropped: 0,
                last_notice: Instant::now(),
                budget: 0,
                head: None,
                pressured: false,
            });
        }
    }

    /// Encodes every eligible record, merging rings by timestamp. Returns the
    /// number of records encoded.
    fn drain(&mut self, force: bool) -> usize {
        // The window orders records of different threads; a single ring is
        // already in order, so nothing is held back.
        let cutoff = if force || self.rings.len() <= 1 {
            u64::MAX
        } else {
            let now = self.enc.conv.raw_now();
            now.saturating_sub(self.enc.conv.raw_span(self.window))
        };
        for r in self.rings.iter_mut() {
            let used = r.consumer.slots();
            r.budget = used;
            r.pressured = force || used * 2 > r.capacity;
            r.head = None;
        }
        let mut count = 0;
        loop {
            // The ring with the oldest eligible record, and the next oldest
            // head among the others: the best ring's records are taken in one
            // run up to that timestamp, so the merge stays in order while a
            // run costs one read and one commit, not one per record.
            let mut best: Option<(usize, u64)> = None;
            let mut second = u64::MAX;
            for (i, r) in self.rings.iter_mut().enumerate() {
                if r.head.is_none() {
                    r.head = peek(r, &self.enc.engine.counters);
                }
                if let Some(h) = r.head
                    && (r.pressured || h.ts <= cutoff)
                {
                    match best {
                        Some((_, t)) if h.ts >= t => second = second.min(h.ts),
                        Some((_, t)) => {
                            second = second.min(t);
                            best = Some((i, h.ts));
                        }
                        None => best = Some((i, h.ts)),
                    }
                }
            }
            let Some((i, _)) = best else { break };
            let r = &mut self.rings[i];
            r.head = None;
            count += self.enc.take_run(r, second, cutoff, self.batch_bytes);
            if self.enc.out.len() >= self.batch_bytes {
                self.ship();
            }
        }
        count
    }

    fn report_drops(&mut self, force: bool) {
        for r in self.rings.iter_mut() {
            let total = r.shared.dropped.load(Ordering::Relaxed);
            if total > r.reported_dropped
                && (force
                    || r.consumer.is_abandoned()
                    || r.last_notice.elapsed() >= NOTICE_INTERVAL)
            {
                self.enc.notice(r, total);
                r.reported_dropped = total;
                r.last_notice = Instant::now();
            }
        }
    }

    fn ship(&mut self) {
        let enc = &mut self.enc;
        if enc.out.is_empty() {
            return;
        }
        let counters = &enc.engine.counters;
        for s in self.sinks.iter_mut() {
            s.submit(&enc.out, counters);
        }
        Counters::add(&counters.bytes, enc.out.len() as u64);
        Counters::add(&counters.written, std::mem::take(&mut enc.written));
        Counters::add(&counters.span_records, std::mem::take(&mut enc.spans));
        enc.out.clear();
    }

    /// Releases rings whose threads have exited and that are fully drained.
    fn retire(&mut self) {
        let mut i = 0;
        while i < self.rings.len() {
            let r = &self.rings[i];
            if r.consumer.is_abandoned()
                && r.consumer.is_empty()
                && r.shared.dropped.load(Ordering::Relaxed) == r.reported_dropped
            {
                let r = self.rings.swap_remove(i);
                let mut reg = self.enc.engine.registry();
                reg.rings.retain(|s| !Arc::ptr_eq(s, &r.shared));
                reg.retired.produced += r.shared.produced.load(Ordering::Relaxed);
                reg.retired.dropped += r.shared.dropped.load(Ordering::Relaxed);
            } else {
                i += 1;
            }
        }
    }
}

/// Copies `dst.len()` bytes starting at `off` of the two-slice region `a ++ b`.
fn copy_out(a: &[u8], b: &[u8], off: usize, dst: &mut [u8]) {
    let n = dst.len();
    if off + n <= a.len() {
        dst.copy_from_slice(&a[off..off + n]);
    } else if off >= a.len() {
        let o = off - a.len();
        dst.copy_from_slice(&b[o..o + n]);
    } else {
        let k = a.len() - off;
        dst[..k].copy_from_slice(&a[off..]);
        dst[k..].copy_from_slice(&b[..n - k]);
    }
}

/// The header of the record at `off` in the region `a ++ b`, of which
/// `avail` bytes are readable; `None` when it is malformed (a length that
/// does not fit, an unknown kind).
fn header_at(a: &[u8], b: &[u8], off: usize, avail: usize) -> Option<Header> {
    let mut raw = [0u8; HEADER_LEN];
    copy_out(a, b, off, &mut raw);
    let h = Header::parse(&raw);
    (h.len >= HEADER_LEN && h.len <= avail - off && h.kind <= KIND_MAX).then_some(h)
}

/// Reads the next record's header within the ring's budget.
fn peek(r: &mut RingEntry, counters: &Counters) -> Option<Header> {
    if r.budget < HEADER_LEN {
        return None;
    }
    let header = {
        let chunk = r.consumer.read_chunk(HEADER_LEN).ok()?;
        let (a, b) = chunk.as_slices();
        header_at(a, b, 0, r.budget)
    };
    let Some(h) = header else {
        // Cannot happen with this crate's producer; if it ever does, the ring
        // cannot be resynchronized: count what is lost and start clean.
        let n = r.consumer.slots();
        if let Ok(c) = r.consumer.read_chunk(n) {
            c.commit_all();
        }
        Counters::add(&counters.corrupt, 1);
        r.budget = 0;
        return None;
    };
    Some(h)
}

impl Encoder {
    /// Encodes the ring's records in order while their timestamps stay at or
    /// below `until` (and `cutoff`, unless the ring is pressured), within its
    /// budget, until the batch buffer holds `batch` bytes; then frees their
    /// space in one commit. Returns how many records were taken.
    fn take_run(&mut self, r: &mut RingEntry, until: u64, cutoff: u64, batch: usize) -> usize {
        let Ok(chunk) = r.consumer.read_chunk(r.budget) else {
            return 0;
        };
        let (a, b) = chunk.as_slices();
        let avail = a.len() + b.len();
        let mut off = 0;
        let mut count = 0;
        let mut wrap = std::mem::take(&mut self.wrap);
        while avail - off >= HEADER_LEN {
            let Some(h) = header_at(a, b, off, avail) else {
                // Cannot happen with this crate's producer; if it ever does,
                // the ring cannot be resynchronized: drop what is left, counted.
                Counters::add(&self.engine.counters.corrupt, 1);
                off = avail;
                break;
            };
            if count > 0 && (h.ts > until || (!r.pressured && h.ts > cutoff)) {
                break;
            }
            let ok = if off + h.len <= a.len() {
                self.record(&a[off..off + h.len], h, &r.thread_key, &r.shared.thread)
            } else if off >= a.len() {
                let o = off - a.len();
                self.record(&b[o..o + h.len], h, &r.thread_key, &r.shared.thread)
            } else {
                // The record wraps around the ring's end: copy it out whole.
                wrap.clear();
                wrap.resize(h.len, 0);
                copy_out(a, b, off, &mut wrap);
                self.record(&wrap, h, &r.thread_key, &r.shared.thread)
            };
            if !ok {
                Counters::add(&self.engine.counters.corrupt, 1);
            }
            off += h.len;
            count += 1;
            if self.out.len() >= batch {
                break;
            }
        }
        self.wrap = wrap;
        chunk.commit(off);
        r.budget -= off;
        count
    }

    fn meta(&mut self, id: u32) -> Option<&CallsiteMeta> {
        let i = id as usize;
        if self.metas.get(i).is_none_or(|m| m.is_none()) {
            let cs = engine::callsite(self.engine, id)?;
            if self.metas.len() <= i {
                self.metas.resize_with(i + 1, || None);
            }
            self.metas[i] = Some(build_meta(cs.metadata()));
        }
        self.metas[i].as_ref()
    }

    /// Encodes one record as a JSON line. On a malformed record nothing is
    /// written and false is returned.
    fn record(&mut self, rec: &[u8], h: Header, thread_key: &[u8], thread: &str) -> bool {
        if h.kind != KIND_LOG {
            // A span record: for the exporters only. A whole span also
            // carries its end time, converted with the start.
            let end = if h.kind == KIND_SPAN {
                let Some(t) = whole_span_end(rec) else {
                    return false;
                };
                Some(t)
            } else {
                None
            };
            self.spans += 1;
            if let Some(x) = self.export.as_mut() {
                let ts = self.conv.to_unix_nanos(h.ts);
                let end = end.map(|t| self.conv.to_unix_nanos(t));
                x.push(rec, &h, ts, end, thread, self.observed);
            }
            return true;
        }
        let start = self.out.len();
        if self.encode(rec, h, thread_key).is_some() {
            self.written += 1;
            if let Some(x) = self.export.as_mut().filter(|x| x.logs) {
                let ts = self.conv.to_unix_nanos(h.ts);
                x.push(rec, &h, ts, None, thread, self.observed);
            }
            true
        } else {
            self.out.truncate(start);
            false
        }
    }

    fn encode(&mut self, rec: &[u8], h: Header, thread_key: &[u8]) -> Option<()> {
        let nanos = self.conv.to_unix_nanos(h.ts);
        // Take the pieces out of self so the meta borrow and the buffer can coexist.
        let mut out = std::mem::take(&mut self.out);
        let mut ts = std::mem::take(&mut self.ts);
        let r = (|| {
            let meta = self.meta(h.callsite)?;
            out.extend_from_slice(b"{\"timestamp\":");
            ts.write(&mut out, nanos);
            out.extend_from_slice(&meta.head);
            let mut d = Decoder::new(rec);
            let ctx = if h.flags & FLAG_CTX != 0 {
                Some(d.context()?)
            } else {
                None
            };
            let corr = if h.flags & FLAG_CORR != 0 {
                Some(d.string()?)
            } else {
                None
            };
            if h.flags & FLAG_FMT_MESSAGE != 0 {
                json::write_str(&mut out, d.string()?);
            }
            if let Some(c) = ctx {
                out.extend_from_slice(b",\"trace_id\":");
                json::write_hex_u128(&mut out, c.trace_id);
                out.extend_from_slice(b",\"span_id\":");
                json::write_hex_u64(&mut out, c.span_id);
                if c.parent_span_id != 0 {
                    out.extend_from_slice(b",\"parent_span_id\":");
                    json::write_hex_u64(&mut out, c.parent_span_id);
                }
                out.extend_from_slice(b",\"trace_flags\":");
                json::write_hex_u8(&mut out, c.trace_flags);
            }
            if let Some(id) = corr {
                out.extend_from_slice(b",\"correlation_id\":");
                json::write_str_lossy(&mut out, id);
            }
            out.extend_from_slice(thread_key);
            let mut exception = false;
            let mut invalid = 0;
            for (i, key) in meta.keys.iter().enumerate() {
                if i >= h.values as usize {
                    // A user `Value` impl recorded nothing: write null.
                    out.extend_from_slice(key);
                    out.extend_from_slice(b"null");
                    continue;
                }
                let v = d.value()?;
                write_field(&mut out, key, v, &mut exception, &mut invalid);
            }
            if h.flags & FLAG_TRUNCATED != 0 {
                out.extend_from_slice(b",\"truncated\":true");
            }
            out.extend_from_slice(b"}\n");
            Some(invalid)
        })();
        self.out = out;
        self.ts = ts;
        let invalid = r?;
        Counters::add(&self.engine.counters.invalid_utf8, invalid);
        Some(())
    }

    /// Emits the writer's own WARN record about a thread's dropped records.
    fn notice(&mut self, r: &RingEntry, total: u64) {
        let out = &mut self.out;
        out.extend_from_slice(b"{\"timestamp\":");
        self.ts.write(out, self.conv.unix_now());
        out.extend_from_slice(
            b",\"level\":\"WARN\",\"target\":\"datapunk_log\",\"message\":\"records dropped: ring full\"",
        );
        out.extend_from_slice(&r.thread_key);
        out.extend_from_slice(b",\"dropped\":");
        json::write_u64(out, total - r.reported_dropped);
        out.extend_from_slice(b",\"dropped_total\":");
        json::write_u64(out, total);
        out.extend_from_slice(b"}\n");
        Counters::add(&self.engine.counters.notices, 1);
    }
}

fn write_field(
    out: &mut Vec<u8>,
    key: &[u8],
    v: Val<'_>,
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
            json::write_str(out, message);
            // The error and its chain of sources, one per line:
            // "Type: message\ncaused by: ...".
            out.extend_from_slice(b",\"exception.stacktrace\":\"");
            json::write_str_inner(out, type_name);
            out.extend_from_slice(b": ");
            json::write_str_inner(out, message);
            if !chain.is_empty() {
                out.extend_from_slice(b"\\n");
                json::write_str_inner(out, chain);
            }
            out.push(b'"');
            return;
        }
        // A second error in one record: its message under its own key.
        out.extend_from_slice(key);
        json::write_str(out, message);
        return;
    }
    out.extend_from_slice(key);
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
        Val::Str(s) => json::write_str(out, s),
        Val::Bytes(b) => {
            if json::write_str_lossy(out, b) {
                *invalid_utf8 += 1;
            }
        }
        Val::Error { .. } => {}
    }
}

fn build_meta(m: &crate::callsite::Metadata) -> CallsiteMeta {
    let mut head = b",\"level\":\"".to_vec();
    head.extend_from_slice(m.level.as_str().as_bytes());
    head.extend_from_slice(b"\",\"target\":");
    json::write_str(&mut head, m.target.as_bytes());
    head.extend_from_slice(b",\"message\":");
    if !m.fmt_message {
        json::write_str(&mut head, m.message.as_bytes());
    }
    let mut used: Vec<String> = Vec::with_capacity(m.fields.len());
    let keys = m
        .fields
        .iter()
        .map(|name| {
            let name = name.replace(' ', "").replace("r#", "");
            let base = if RESERVED_KEYS.contains(&name.as_str()) {
                format!("fields.{name}")
            } else {
                name
            };
            let mut key = base.clone();
            let mut n = 2;
            while used.contains(&key) || RESERVED_KEYS.contains(&key.as_str()) {
                key = format!("{base}#{n}");
                n += 1;
            }
            let mut k = b",".to_vec();
            json::write_str(&mut k, key.as_bytes());
            k.push(b':');
            used.push(key);
            k
        })
        .collect();
    CallsiteMeta { head, keys }
}
