//! From the writer thread to the exporters: fixed-size chunks of raw records
//! over a bounded queue, decoded on the export thread.
//!
//! Chunk entry layout: `u8` thread-name length, the name, then the record
//! exactly as it was in the ring, except that its timestamp field holds Unix
//! nanoseconds. Memory is fixed: `CHUNKS` buffers of `chunk_bytes` circulate
//! between the two threads; when none is free, the writer drops the records
//! it would have exported, and counts them.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{EventView, Exporter, Field, FieldValue, LogView, SpanView, StatusView};
use crate::callsite::Callsite;
use crate::engine::{self, Engine};
use crate::overflow::Overflow;
use crate::record::{
    Decoder, FLAG_CTX, FLAG_REMOTE, HEADER_LEN, Header, KIND_LOG, KIND_SPAN, KIND_SPAN_ATTR,
    KIND_SPAN_END, KIND_SPAN_EVENT, KIND_SPAN_START, KIND_SPAN_STATUS, RecordView, TraceContext,
    Val, Values, whole_span_end,
};
use crate::redact::{Redactor, Rule};
use crate::resource::Resource;

/// Buffers in circulation.
const CHUNKS: usize = 16;
/// Spans started and not yet ended that the export thread keeps; beyond
/// this the oldest open span is given up (counted), so spans that never end
/// (a leaked `Span`) cannot stop new ones from being exported.
pub(crate) const MAX_OPEN_SPANS: usize = 65_536;
const TICK: Duration = Duration::from_millis(50);
/// Under `Overflow::Block`, how long the writer waits for a free buffer
/// before it drops (and counts) a record after all.
pub(crate) const BLOCK_MAX: Duration = Duration::from_secs(5);
/// While the export side holds at least this many chunks, a writer pass
/// that found nothing new does not send a partly filled chunk (it keeps
/// filling it) until the chunk is [`HOLD_MAX`] old.
const BUSY_CHUNKS: u64 = CHUNKS as u64 / 4;
/// How long a partly filled chunk is held while the export side is behind.
const HOLD_MAX: Duration = Duration::from_millis(200);

/// Export-side counters, shown in [`crate::Stats`].
#[derive(Debug, Default)]
pub(crate) struct ExportCounters {
    pub logs_dropped: AtomicU64,
    pub spans_dropped: AtomicU64,
    /// Log records in chunks handed to the export thread's queue.
    pub logs_queued: AtomicU64,
    pub logs_exported: AtomicU64,
    pub spans_exported: AtomicU64,
    /// Span records whose span was unknown (its start was dropped).
    pub span_orphans: AtomicU64,
    /// Chunks sent and not yet given back (queued or being exported).
    chunks_busy: AtomicU64,
}

fn add(c: &AtomicU64, n: u64) {
    if n != 0 {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

enum Msg {
    Chunk(Vec<u8>, u64),
    Flush(mpsc::Sender<()>, Instant),
    Shutdown(mpsc::Sender<()>, Instant),
}

/// The writer's end.
pub(crate) struct ExportPipe {
    tx: SyncSender<Msg>,
    pool: Receiver<Vec<u8>>,
    cur: Option<Vec<u8>>,
    /// When the first record went into the open chunk.
    cur_since: Option<Instant>,
    cur_logs: u64,
    cur_spans: u64,
    chunk_bytes: usize,
    pub logs: bool,
    /// An exporter takes spans (span records are written for span lines
    /// too: those are not sent).
    pub spans: bool,
    overflow: Overflow,
    counters: Arc<ExportCounters>,
}

/// The application's end: flush and shutdown.
pub(crate) struct Pipeline {
    tx: Mutex<Option<SyncSender<Msg>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    pub counters: Arc<ExportCounters>,
}

impl Pipeline {
    /// Starts the export thread; returns the application's and the writer's ends.
    pub(crate) fn start(
        exporters: Vec<Box<dyn Exporter>>,
        resource: Resource,
        chunk_bytes: usize,
        overflow: Overflow,
    ) -> std::io::Result<(Pipeline, ExportPipe)> {
        let logs = exporters.iter().any(|e| e.wants_logs());
        let spans = exporters.iter().any(|e| e.wants_spans());
        let (tx, rx) = mpsc::sync_channel::<Msg>(CHUNKS + 4);
        let (pool_tx, pool_rx) = mpsc::sync_channel::<Vec<u8>>(CHUNKS);
        for _ in 0..CHUNKS {
            // Cannot fail: the channel has room for every buffer.
            let _ = pool_tx.try_send(Vec::with_capacity(chunk_bytes));
        }
        let counters = Arc::new(ExportCounters::default());
        let mut worker = Worker {
            exporters,
            open: IdMap::with_capacity_and_hasher(1024, Default::default()),
            free: Vec::new(),
            started: VecDeque::new(),
            fields: Vec::with_capacity(64),
            scrubbed: Scrubbed::default(),
            counters: counters.clone(),
        };
        let thread = crate::thread_role::spawn("datapunk-log-export", move || {
            crate::thread_role::mute_this_thread();
            for e in worker.exporters.iter_mut() {
                e.set_resource(&resource);
            }
            worker.run(rx, pool_tx);
        })?;
        Ok((
            Pipeline {
                tx: Mutex::new(Some(tx.clone())),
                thread: Mutex::new(Some(thread)),
                counters: counters.clone(),
            },
            ExportPipe {
                tx,
                pool: pool_rx,
                cur: None,
                cur_since: None,
                cur_logs: 0,
                cur_spans: 0,
                chunk_bytes,
                logs,
                spans,
                overflow,
                counters,
            },
        ))
    }

    fn send_and_wait(&self, make: impl FnOnce(mpsc::Sender<()>) -> Msg, timeout: Duration) -> bool {
        let Some(tx) = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone() else {
            return false;
        };
        let (ack_tx, ack_rx) = mpsc::channel();
        let deadline = crate::clock::deadline_in(timeout);
        // The queue holds at most a few chunks: waiting for room is bounded by
        // the export thread's progress, and the send fails once it is gone.
        let mut msg = Some(make(ack_tx));
        loop {
            match tx.try_send(msg.take().expect("message present")) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    msg = Some(m);
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        ack_rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }

    /// Waits until the exporters have sent everything handed to them so far.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        let deadline = crate::clock::deadline_in(timeout);
        self.send_and_wait(|ack| Msg::Flush(ack, deadline), timeout)
    }

    /// Flushes and stops the exporters, then the thread; bounded by `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        let deadline = crate::clock::deadline_in(timeout);
        let ok = self.send_and_wait(|ack| Msg::Shutdown(ack, deadline), timeout);
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        if ok && let Some(t) = self.thread.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = t.join();
        }
        ok
    }
}

impl ExportPipe {
    /// Hands one record to the export thread (batched into chunks).
    /// `unix_ts` replaces the ring's raw timestamp, and `end_unix_ts` the end
    /// time of a whole span (`KIND_SPAN`); `extra_flags` are added to the
    /// header's flags (`FLAG_REPLAYED`).
    #[allow(clippy::too_many_arguments)] // the writer's per-record call, kept flat
    pub(crate) fn push(
        &mut self,
        rec: &[u8],
        h: &Header,
        unix_ts: u64,
        end_unix_ts: Option<u64>,
        thread: &str,
        now: u64,
        extra_flags: u8,
    ) {
        let is_log = h.kind == KIND_LOG;
        let starts_span = h.kind == KIND_SPAN_START || h.kind == KIND_SPAN;
        let name = &thread[..thread.floor_char_boundary(255)];
        let need = 1 + name.len() + rec.len();
        if self
            .cur
            .as_ref()
            .is_some_and(|c| c.len() + need > self.chunk_bytes)
        {
            self.send(now);
        }
        if self.cur.is_none() {
            self.cur = match self.overflow {
                Overflow::Drop => self.pool.try_recv().ok(),
                // Wait for the export thread to free a buffer, a bounded time.
                Overflow::Block => self
                    .pool
                    .try_recv()
                    .or_else(|_| self.pool.recv_timeout(BLOCK_MAX))
                    .ok(),
            };
        }
        let Some(cur) = self.cur.as_mut() else {
            // Every buffer is queued or being exported: the export side is
            // behind. Drop, counted.
            if is_log {
                add(&self.counters.logs_dropped, 1);
            } else if starts_span {
                add(&self.counters.spans_dropped, 1);
            }
            return;
        };
        if cur.is_empty() {
            self.cur_since = Some(Instant::now());
        }
        cur.push(name.len() as u8);
        cur.extend_from_slice(name.as_bytes());
        let at = cur.len();
        cur.extend_from_slice(rec);
        cur[at + 16..at + 24].copy_from_slice(&unix_ts.to_le_bytes());
        cur[at + 5] |= extra_flags;
        if let Some(end) = end_unix_ts {
            let tail = cur.len() - 8;
            cur[tail..].copy_from_slice(&end.to_le_bytes());
        }
        if is_log {
            self.cur_logs += 1;
        } else if starts_span {
            self.cur_spans += 1;
        }
    }

    /// Bytes waiting in the current chunk.
    pub(crate) fn pending(&self) -> usize {
        self.cur.as_ref().map_or(0, Vec::len)
    }

    /// Whether a writer pass that found nothing new sends the open chunk:
    /// at once while the export side keeps up (low latency); while it is
    /// behind (a quarter of the chunks or more queued or being exported),
    /// only once the chunk has waited [`HOLD_MAX`], so that a slow
    /// collector meets full chunks, not one chunk per pass.
    pub(crate) fn idle_send_due(&self) -> bool {
        self.counters.chunks_busy.load(Ordering::Relaxed) < BUSY_CHUNKS
            || self.cur_since.is_some_and(|t| t.elapsed() >= HOLD_MAX)
    }

    /// Sends the current chunk, if any.
    pub(crate) fn send(&mut self, now: u64) {
        let Some(buf) = self.cur.take() else {
            return;
        };
        if buf.is_empty() {
            self.cur = Some(buf);
            return;
        }
        self.cur_since = None;
        match self.tx.try_send(Msg::Chunk(buf, now)) {
            Ok(()) => {
                add(&self.counters.logs_queued, self.cur_logs);
                self.counters.chunks_busy.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Full(Msg::Chunk(mut buf, _)))
            | Err(TrySendError::Disconnected(Msg::Chunk(mut buf, _))) => {
                add(&self.counters.logs_dropped, self.cur_logs);
                add(&self.counters.spans_dropped, self.cur_spans);
                buf.clear();
                self.cur = Some(buf);
            }
            Err(_) => {}
        }
        self.cur_logs = 0;
        self.cur_spans = 0;
    }
}

/// Span ids are random already: the map uses them as their own hash.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// A span started and not yet ended: its records so far, as in the chunk.
struct Open {
    buf: Vec<u8>,
}

struct Worker {
    exporters: Vec<Box<dyn Exporter>>,
    open: IdMap<Open>,
    /// Buffers of ended spans, for reuse.
    free: Vec<Vec<u8>>,
    /// Ids of started spans, oldest first (some may have ended since).
    started: VecDeque<u64>,
    /// A log record's fields, kept empty between records for its capacity.
    fields: Vec<Field<'static>>,
    /// Values rewritten by redaction while a view is decoded (reused).
    scrubbed: Scrubbed,
    counters: Arc<ExportCounters>,
}

/// An empty vector of fields with another lifetime, keeping the allocation
/// (collecting from an emptied `into_iter` of the same layout reuses it).
fn reuse<'b>(mut v: Vec<Field<'_>>) -> Vec<Field<'b>> {
    v.clear();
    v.into_iter().map(|_| unreachable!("cleared")).collect()
}

impl Worker {
    /// Gives up the oldest span still open, counted as dropped.
    fn evict_oldest(&mut self) {
        while let Some(id) = self.started.pop_front() {
            if let Some(old) = self.open.remove(&id) {
                add(&self.counters.spans_dropped, 1);
                self.free.push(old.buf);
                break;
            }
        }
    }

    /// Hands a span (its records, thread-name prefixed, start first) to the
    /// exporters that take spans.
    fn export_span(&mut self, engine: &Engine, r: &Redactor, records: &[u8], end_ts: u64) {
        if span_view(engine, r, records, end_ts, &mut self.scrubbed, |v| {
            for e in self.exporters.iter_mut().filter(|e| e.wants_spans()) {
                e.export_span(v);
            }
        })
        .is_some()
        {
            add(&self.counters.spans_exported, 1);
        } else {
            count_corrupt(engine);
        }
    }

    /// Notes a started span; drops the ids of ended ones now and then, so
    /// the list stays within about twice the open spans (amortized O(1)).
    fn note_started(&mut self, id: u64) {
        self.started.push_back(id);
        if self.started.len() > 2 * self.open.len() + 1024 {
            let open = &self.open;
            self.started.retain(|id| open.contains_key(id));
        }
    }

    fn run(&mut self, rx: Receiver<Msg>, pool: SyncSender<Vec<u8>>) {
        let mut last_tick = Instant::now();
        loop {
            let msg = rx.recv_timeout(TICK);
            match msg {
                Ok(Msg::Chunk(mut buf, observed)) => {
                    self.chunk(&buf, observed);
                    buf.clear();
                    let _ = pool.try_send(buf);
                    self.counters.chunks_busy.fetch_sub(1, Ordering::Relaxed);
                }
                Ok(Msg::Flush(ack, deadline)) => {
                    for e in self.exporters.iter_mut() {
                        e.flush(deadline);
                    }
                    let _ = ack.send(());
                }
                Ok(Msg::Shutdown(ack, deadline)) => {
                    for e in self.exporters.iter_mut() {
                        e.shutdown(deadline);
                    }
                    let _ = ack.send(());
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    let deadline = Instant::now() + Duration::from_secs(5);
                    for e in self.exporters.iter_mut() {
                        e.shutdown(deadline);
                    }
                    return;
                }
            }
            let now = Instant::now();
            if now.duration_since(last_tick) >= TICK {
                last_tick = now;
                for e in self.exporters.iter_mut() {
                    e.tick(now);
                }
            }
        }
    }

    fn chunk(&mut self, buf: &[u8], observed: u64) {
        let Some(engine) = engine::get() else {
            return;
        };
        // One load of the redaction rules per chunk, not per record.
        let redactor = engine.redactor.load_full();
        let r: &Redactor = &redactor;
        let mut off = 0;
        while off < buf.len() {
            let Some(entry) = Entry::at(buf, off) else {
                count_corrupt(engine);
                return;
            };
            off = entry.end;
            match entry.h.kind {
                KIND_LOG => {
                    let exporters = &mut self.exporters;
                    let viewed = log_view(
                        engine,
                        r,
                        &entry,
                        observed,
                        &mut self.fields,
                        &mut self.scrubbed,
                        |v| {
                            for e in exporters.iter_mut().filter(|e| e.wants_logs()) {
                                e.export_log(v);
                            }
                        },
                    );
                    match viewed {
                        Some(()) => add(&self.counters.logs_exported, 1),
                        None => count_corrupt(engine),
                    }
                }
                KIND_SPAN_START => {
                    let Some(id) = span_id(entry.rec) else {
                        count_corrupt(engine);
                        continue;
                    };
                    if self.open.len() >= MAX_OPEN_SPANS {
                        self.evict_oldest();
                    }
                    let mut b = self.free.pop().unwrap_or_default();
                    b.clear();
                    b.extend_from_slice(&buf[entry.start..entry.end]);
                    if let Some(old) = self.open.insert(id, Open { buf: b }) {
                        // The same id started twice (64-bit collision or a
                        // corrupt record): the older one is lost.
                        add(&self.counters.spans_dropped, 1);
                        self.free.push(old.buf);
                    }
                    self.note_started(id);
                }
                KIND_SPAN_ATTR | KIND_SPAN_EVENT | KIND_SPAN_STATUS => {
                    match span_id(entry.rec).and_then(|id| self.open.get_mut(&id)) {
                        Some(o) => o.buf.extend_from_slice(&buf[entry.start..entry.end]),
                        None => add(&self.counters.span_orphans, 1),
                    }
                }
                KIND_SPAN => {
                    // A whole span in one record: exported as it is.
                    let Some(end) = whole_span_end(entry.rec) else {
                        count_corrupt(engine);
                        continue;
                    };
                    self.export_span(engine, r, &buf[entry.start..entry.end], end);
                }
                KIND_SPAN_END => {
                    let Some(open) = span_id(entry.rec).and_then(|id| self.open.remove(&id)) else {
                        add(&self.counters.span_orphans, 1);
                        continue;
                    };
                    self.export_span(engine, r, &open.buf, entry.h.ts);
                    if self.free.len() < 1024 {
                        self.free.push(open.buf);
                    }
                }
                _ => count_corrupt(engine),
            }
        }
    }
}

/// A record the export thread could not decode (should stay 0).
fn count_corrupt(engine: &Engine) {
    engine.counters.corrupt.fetch_add(1, Ordering::Relaxed);
}

/// One chunk entry: thread name and record.
struct Entry<'a> {
    thread: &'a str,
    rec: &'a [u8],
    h: Header,
    start: usize,
    end: usize,
}

impl<'a> Entry<'a> {
    fn at(buf: &'a [u8], start: usize) -> Option<Entry<'a>> {
        let n = usize::from(*buf.get(start)?);
        let thread = std::str::from_utf8(buf.get(start + 1..start + 1 + n)?).ok()?;
        let r = start + 1 + n;
        let head: &[u8; HEADER_LEN] = buf.get(r..r + HEADER_LEN)?.try_into().ok()?;
        let h = Header::parse(head);
        if h.len < HEADER_LEN {
            return None;
        }
        let rec = buf.get(r..r + h.len)?;
        Some(Entry {
            thread,
            rec,
            h,
            start,
            end: r + h.len,
        })
    }
}

fn span_id(rec: &[u8]) -> Option<u64> {
    let h = Header::parse(rec.get(..HEADER_LEN)?.try_into().ok()?);
    if h.flags & FLAG_CTX == 0 {
        return None;
    }
    Decoder::new(rec).context().map(|c| c.span_id)
}

/// Context, correlation id and (span starts) tracestate of a decoded
/// record; `None` when an id is not UTF-8 (never made by this crate).
fn prefix<'a>(v: &RecordView<'a>) -> Option<(TraceContext, Option<&'a str>, &'a str)> {
    let corr = match v.corr {
        Some(c) => Some(std::str::from_utf8(c).ok()?),
        None => None,
    };
    let tracestate = match v.tracestate {
        Some(t) => std::str::from_utf8(t).ok()?,
        None => "",
    };
    Some((v.ctx.unwrap_or_default(), corr, tracestate))
}

fn str_of(v: Val<'_>) -> Option<&str> {
    match v {
        Val::Str(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Decodes a log record into a view (its values redacted) and hands it to
/// `f`. `store`: an empty vector kept for its capacity.
fn log_view(
    engine: &Engine,
    r: &Redactor,
    e: &Entry<'_>,
    observed: u64,
    store: &mut Vec<Field<'static>>,
    sc: &mut Scrubbed,
    f: impl FnOnce(&LogView<'_>),
) -> Option<()> {
    let cs: &'static Callsite = engine::callsite(engine, e.h.callsite)?;
    let meta = cs.metadata();
    sc.clear();
    let mut v = RecordView::decode(e.rec, e.h)?;
    let (ctx, corr, _) = prefix(&v)?;
    let mut message = match v.message {
        Some(m) => {
            let m = std::str::from_utf8(m).ok()?;
            sc.text(r, Slot::Message, m.as_bytes());
            m
        }
        None => meta.message,
    };
    let mut fields = reuse(std::mem::take(store));
    if call_site_fields(cs, &mut v.values, r, &mut fields, sc).is_none() {
        *store = reuse(fields);
        return None;
    }
    // Every rewritten value is in `sc` now: point the view at them.
    for (slot, b) in sc.done() {
        match slot {
            Slot::Message => message = as_str(b),
            Slot::Field(i, part) => {
                if let Some(f) = fields.get_mut(i) {
                    patch(&mut f.value, part, b);
                }
            }
            _ => {}
        }
    }
    f(&LogView {
        time_unix_nano: e.h.ts,
        observed_unix_nano: observed,
        level: meta.level,
        target: meta.target,
        message,
        trace: ctx,
        correlation_id: corr,
        thread: e.thread,
        truncated: v.truncated(),
        adjusted_count: u64::from(v.adjusted_count()),
        replayed: v.replayed(),
        fields: &fields,
    });
    *store = reuse(fields);
    Some(())
}

/// Where a value rewritten by redaction goes in a view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    /// A log record's formatted message.
    Message,
    /// Field `i` of a record or span (its attributes).
    Field(usize, Part),
    /// The name of a span's event `i`.
    EventName(usize),
    /// Field `i` of all a span's events' fields.
    EventField(usize, Part),
    /// A span's error status description.
    Status,
}

/// Which text of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// A string (or bytes) value, whole.
    Whole,
    /// An error's message.
    ErrorMessage,
    /// An error's stack trace.
    ErrorChain,
}

/// Values the export thread rewrote while decoding a view: their new text
/// is appended to one buffer, and each slot's range recorded; once the view
/// is decoded, [`Scrubbed::done`] lends the texts to patch it. The buffer
/// is reused; nothing is allocated for a record without a secret.
#[derive(Default)]
struct Scrubbed {
    buf: Vec<u8>,
    subs: Vec<(Slot, std::ops::Range<usize>)>,
}

impl Scrubbed {
    fn clear(&mut self) {
        self.buf.clear();
        self.subs.clear();
    }

    /// `s` with the secrets it holds replaced, when it holds any.
    fn text(&mut self, r: &Redactor, slot: Slot, s: &[u8]) {
        let start = self.buf.len();
        if r.scrub(&mut self.buf, s) {
            self.subs.push((slot, start..self.buf.len()));
        }
    }

    /// The texts of a value (a string, bytes, an error's message and chain).
    fn value(&mut self, r: &Redactor, v: &FieldValue<'_>, slot: impl Fn(Part) -> Slot) {
        match *v {
            FieldValue::Str(s) => self.text(r, slot(Part::Whole), s.as_bytes()),
            FieldValue::Bytes(b) => self.text(r, slot(Part::Whole), b),
            FieldValue::Error {
                message,
                stacktrace,
                ..
            } => {
                self.text(r, slot(Part::ErrorMessage), message.as_bytes());
                self.text(r, slot(Part::ErrorChain), stacktrace.as_bytes());
            }
            _ => {}
        }
    }

    /// A value redacted by its key, hashed (see `Redactor::masks`).
    fn key(&mut self, r: &Redactor, slot: Slot, v: &Val<'_>) {
        let start = self.buf.len();
        r.write_key_replacement(&mut self.buf, v);
        self.subs.push((slot, start..self.buf.len()));
    }

    /// Drops what was recorded for field `i` (a later value replaced it).
    fn forget_field(&mut self, i: usize) {
        self.subs
            .retain(|(s, _)| !matches!(s, Slot::Field(j, _) if *j == i));
    }

    /// Each slot with its new text.
    fn done(&self) -> impl Iterator<Item = (Slot, &[u8])> {
        self.subs
            .iter()
            .map(|(slot, range)| (*slot, &self.buf[range.clone()]))
    }
}

/// Rewritten text as a `&str`. It is UTF-8 (valid text cut at ASCII bytes,
/// and ASCII replacements); should it ever not be, the mask stands in.
fn as_str(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap_or(crate::redact::MASK)
}

/// Points `part` of `v` at its rewritten text.
fn patch<'a>(v: &mut FieldValue<'a>, part: Part, b: &'a [u8]) {
    match (v, part) {
        (FieldValue::Error { message, .. }, Part::ErrorMessage) => *message = as_str(b),
        (FieldValue::Error { stacktrace, .. }, Part::ErrorChain) => *stacktrace = as_str(b),
        (FieldValue::Bytes(x), Part::Whole) if std::str::from_utf8(b).is_err() => *x = b,
        (v, Part::Whole) => *v = FieldValue::Str(as_str(b)),
        _ => {}
    }
}

/// A decoded value, redacted: by its key (a key given at run time: a span
/// attribute recorded after the start, an event's field), else by the
/// value patterns. A hashed value is `None` until patched from `sc`.
fn redacted<'a>(
    r: &Redactor,
    sc: &mut Scrubbed,
    key: &str,
    v: Val<'a>,
    slot: impl Fn(Part) -> Slot,
) -> Option<FieldValue<'a>> {
    if crate::redact::is_secret_key(key) {
        return Some(key_redacted(r, sc, &v, slot(Part::Whole)));
    }
    let value = FieldValue::from_val(v)?;
    sc.value(r, &value, slot);
    Some(value)
}

/// A value redacted by its key: the mask, or (patched later) its hash.
fn key_redacted<'a>(r: &Redactor, sc: &mut Scrubbed, v: &Val<'_>, slot: Slot) -> FieldValue<'a> {
    if r.masks() {
        crate::redact::count(Rule::Key, 1);
        FieldValue::Str(crate::redact::MASK)
    } else {
        sc.key(r, slot, v);
        FieldValue::None
    }
}

/// Decodes the values of a record made at a call site with these field
/// names (those not recorded are `None`), redacted.
fn call_site_fields<'a>(
    cs: &'static Callsite,
    d: &mut Values<'a>,
    r: &Redactor,
    fields: &mut Vec<Field<'a>>,
    sc: &mut Scrubbed,
) -> Option<()> {
    let redact = cs.redact_mask();
    for (i, key) in cs.metadata().fields.iter().enumerate() {
        let slot = fields.len();
        let recorded = d.left() > 0;
        let v = d.field()?;
        let value = if recorded && redact >> i & 1 != 0 {
            key_redacted(r, sc, &v, Slot::Field(slot, Part::Whole))
        } else {
            let value = FieldValue::from_val(v)?;
            sc.value(r, &value, |p| Slot::Field(slot, p));
            value
        };
        fields.push(Field {
            key: crate::callsite::field_key(key),
            value,
        });
    }
    Some(())
}

/// Joins a span's records (start first) into a view and hands it to `f`.
fn span_view(
    engine: &Engine,
    r: &Redactor,
    buf: &[u8],
    end_ts: u64,
    sc: &mut Scrubbed,
    f: impl FnOnce(&SpanView<'_>),
) -> Option<()> {
    let first = Entry::at(buf, 0)?;
    let cs: &'static Callsite = engine::callsite(engine, first.h.callsite)?;
    let meta = cs.metadata();
    sc.clear();
    let mut fields: Vec<Field<'_>> = Vec::new();
    // (name, time, start, end) of each event's fields within `fields`.
    let mut events: Vec<(&str, u64, usize, usize)> = Vec::new();
    let mut status = StatusView::Unset;
    let mut v = RecordView::decode(first.rec, first.h)?;
    let (ctx, corr, trace_state) = prefix(&v)?;
    call_site_fields(cs, &mut v.values, r, &mut fields, sc)?;
    let mut off = first.end;
    let mut event_fields: Vec<Field<'_>> = Vec::new();
    while off < buf.len() {
        let e = Entry::at(buf, off)?;
        off = e.end;
        let mut v = RecordView::decode(e.rec, e.h)?;
        prefix(&v)?;
        let d = &mut v.values;
        let n = usize::from(e.h.values);
        match e.h.kind {
            KIND_SPAN_ATTR => {
                let mut i = 0;
                while i + 1 < n {
                    let key = str_of(d.raw()?)?;
                    // A later value for a key replaces the earlier one, in place
                    // (attribute keys are unique in OpenTelemetry).
                    let at = fields.iter().position(|f| f.key == key);
                    let slot = at.unwrap_or(fields.len());
                    sc.forget_field(slot);
                    let value = redacted(r, sc, key, d.raw()?, |p| Slot::Field(slot, p))?;
                    match at {
                        Some(k) => fields[k].value = value,
                        None => fields.push(Field { key, value }),
                    }
                    i += 2;
                }
            }
            KIND_SPAN_STATUS => {
                let code = d.raw()?;
                let desc = str_of(d.raw()?)?;
                status = match code {
                    Val::U64(1) => StatusView::Ok,
                    Val::U64(2) => {
                        sc.subs.retain(|(s, _)| *s != Slot::Status);
                        sc.text(r, Slot::Status, desc.as_bytes());
                        StatusView::Error(desc)
                    }
                    _ => return None,
                };
            }
            KIND_SPAN_EVENT => {
                let name = str_of(d.raw()?)?;
                sc.text(r, Slot::EventName(events.len()), name.as_bytes());
                let start = event_fields.len();
                let mut i = 1;
                while i < n {
                    match d.raw()? {
                        Val::Error {
                            type_name,
                            message,
                            chain,
                        } => {
                            let s = |b| std::str::from_utf8(b).ok();
                            for (key, v, scan) in [
                                ("exception.type", type_name, false),
                                ("exception.message", message, true),
                                ("exception.stacktrace", chain, true),
                            ] {
                                if scan {
                                    let slot = Slot::EventField(event_fields.len(), Part::Whole);
                                    sc.text(r, slot, v);
                                }
                                event_fields.push(Field {
                                    key,
                                    value: FieldValue::Str(s(v)?),
                                });
                            }
                            i += 1;
                        }
                        Val::Str(k) if i + 1 < n => {
                            let key = std::str::from_utf8(k).ok()?;
                            let slot = event_fields.len();
                            let value =
                                redacted(r, sc, key, d.raw()?, |p| Slot::EventField(slot, p))?;
                            event_fields.push(Field { key, value });
                            i += 2;
                        }
                        _ => return None,
                    }
                }
                events.push((name, e.h.ts, start, event_fields.len()));
            }
            _ => return None,
        }
    }
    // Every rewritten value is in `sc` now: point the view at them.
    for (slot, b) in sc.done() {
        match slot {
            Slot::Field(i, part) => {
                if let Some(f) = fields.get_mut(i) {
                    patch(&mut f.value, part, b);
                }
            }
            Slot::EventField(i, part) => {
                if let Some(f) = event_fields.get_mut(i) {
                    patch(&mut f.value, part, b);
                }
            }
            Slot::EventName(i) => {
                if let Some(e) = events.get_mut(i) {
                    e.0 = as_str(b);
                }
            }
            Slot::Status => {
                if let StatusView::Error(desc) = &mut status {
                    *desc = as_str(b);
                }
            }
            Slot::Message => {}
        }
    }
    let event_views: Vec<EventView<'_>> = events
        .iter()
        .map(|&(name, ts, s, e)| EventView {
            name,
            time_unix_nano: ts,
            fields: &event_fields[s..e],
        })
        .collect();
    let view = SpanView {
        name: meta.message,
        target: meta.target,
        level: meta.level,
        context: ctx,
        parent_is_remote: first.h.flags & FLAG_REMOTE != 0,
        trace_state,
        correlation_id: corr,
        start_unix_nano: first.h.ts,
        end_unix_nano: end_ts,
        fields: &fields,
        events: &event_views,
        status,
        thread: first.thread,
    };
    f(&view);
    Some(())
}
