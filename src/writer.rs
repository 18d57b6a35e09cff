//! The background writer thread: drain every ring, merge threads' records in
//! timestamp order, hand each record to the line formats in use (one reused
//! batch buffer per format, see `crate::encode`), ship batches to the sinks.
//!
//! Nothing here allocates per record: the batch buffers, the buffer for
//! records that wrap around a ring's end, and each call site's pieces are
//! reused. Call-site data is built once per call site, ring entries once per
//! thread.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::clock::Converter;
use crate::encode::span_table::{SpanLines, SpanTable};
use crate::encode::{Line, LineCx, LineFormat, NoteVal, Notice, Resolved, Site, SpanEnd};
use crate::engine::{self, Engine, NewRing};
use crate::export::ExportPipe;
use crate::level::Level;
use crate::record::{
    CTX_LEN, FLAG_BUFFERED, FLAG_CTX, FLAG_REPLAYED, HEADER_LEN, Header, KIND_LOG, KIND_MAX,
    KIND_SPAN, KIND_SPAN_ATTR, KIND_SPAN_END, KIND_SPAN_EVENT, KIND_SPAN_START, KIND_SPAN_STATUS,
    RecordView, SLACK, whole_span_end,
};
use crate::ring::RingShared;
use crate::sampler::buffer::DebugBuffer;
use crate::sampler::logs::LEVELS;
use crate::sampler::{self, Unsampled};
use crate::sink::SinkSlot;
use crate::stats::Counters;

const NOTICE_INTERVAL: Duration = Duration::from_millis(100);
/// At most one "export failing" line per this interval while export fails.
const EXPORT_NOTICE_INTERVAL: Duration = Duration::from_secs(10);
/// A chunk of exported records is sent once half this full (or when idle).
pub(crate) const EXPORT_SEND_BYTES: usize = 256 * 1024;

/// Writer settings fixed at `init()`.
pub(crate) struct WriterConfig {
    /// Each sink with the format of its lines.
    pub sinks: Vec<(SinkSlot, Resolved)>,
    pub order_window: Duration,
    pub idle_poll: Duration,
    pub batch_bytes: usize,
    pub export: Option<ExportPipe>,
    pub sampling: WriterSampling,
    /// Least time between two of the writer's "engine stats" records
    /// (`None`: none).
    pub stats_interval: Option<Duration>,
    pub span_lines: SpanLines,
}

/// The writer's part of log sampling, fixed at `init()`.
pub(crate) struct WriterSampling {
    /// Debug buffer: records per trace (K) and bytes in all (B).
    pub buffer_records: usize,
    pub buffer_bytes: usize,
    /// Allocate the debug buffer at start (`Unsampled::Buffer` at `init()`),
    /// not at its first use.
    pub buffer_now: bool,
    /// Least time between two summaries of what was sampled out.
    pub summary_interval: Duration,
}

struct RingEntry {
    consumer: rtrb::Consumer<u8>,
    shared: Arc<RingShared>,
    /// The thread's piece of each format in use, built once.
    thread_pieces: Vec<Vec<u8>>,
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

/// One line format in use and its batch buffer.
struct Output {
    line: Line,
    out: Vec<u8>,
}

struct Encoder {
    engine: &'static Engine,
    /// The formats in use (one per distinct format among the sinks).
    outs: Vec<Output>,
    wrap: Vec<u8>,
    /// What every format needs of a call site, by call-site id.
    sites: Vec<Option<Site>>,
    /// The redactor in force, and the engine's `redaction_gen` it is of.
    redactor: Arc<crate::redact::Redactor>,
    redaction_gen: u64,
    conv: Converter,
    written: u64,
    /// Span records taken from the rings (not written as JSON).
    spans: u64,
    export: Option<ExportPipe>,
    /// Unix time of the current pass, for exported records' observed time.
    observed: u64,
    /// The debug buffer (allocated at start or at first use).
    buffer: Option<DebugBuffer>,
    buffer_limits: (usize, usize),
    /// A record being buffered: level, thread name, record (reused).
    hold: Vec<u8>,
    /// The thread pieces of a record being replayed (reused).
    replay_pieces: Vec<Vec<u8>>,
    /// Records evicted from the debug buffer per level: not yet added to
    /// the counters, and in all.
    evicted: [u64; LEVELS],
    evicted_total: [u64; LEVELS],
    /// Records replayed, not yet added to the counters.
    replayed: u64,
    span_lines: SpanLines,
    /// Live spans, while span lines are on.
    spans_live: Option<SpanTable>,
    /// Span-end lines, not yet added to the counters.
    span_ends: u64,
}

/// The periodic summary of sampled-out records.
struct Summary {
    interval: Duration,
    last: Instant,
    /// Log sampling was on at some point (until then nothing is counted).
    seen: bool,
    /// Totals per level reported so far.
    reported: [u64; LEVELS],
    /// Totals per cause reported so far: call site, unsampled trace, buffer.
    reported_causes: [u64; 3],
}

pub(crate) struct Writer {
    enc: Encoder,
    rings: Vec<RingEntry>,
    /// Each sink with the index of its format in `enc.outs`.
    sinks: Vec<(SinkSlot, usize)>,
    window: Duration,
    idle_poll: Duration,
    batch_bytes: usize,
    flushed: u64,
    summary: Summary,
    /// What the export notices have reported so far.
    export_seen: crate::export::health::Health,
    /// Export is failing (a WARN line went out, no batch delivered since),
    /// and when that line went out.
    export_failing: Option<Instant>,
    /// The periodic "engine stats" record: its interval, and when the last
    /// one went out.
    stats_interval: Option<Duration>,
    stats_last: Instant,
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
        // One output per distinct format; each sink points at its own.
        let mut formats: Vec<Resolved> = Vec::new();
        let mut sinks = Vec::with_capacity(cfg.sinks.len());
        for (slot, f) in cfg.sinks {
            let i = formats.iter().position(|g| *g == f).unwrap_or_else(|| {
                formats.push(f);
                formats.len() - 1
            });
            sinks.push((slot, i));
        }
        if formats.is_empty() {
            formats.push(Resolved::Json);
        }
        let outs = formats
            .into_iter()
            .map(|f| Output {
                line: Line::new(f),
                out: Vec::with_capacity(cfg.batch_bytes + 64 * 1024),
            })
            .collect::<Vec<_>>();
        let replay_pieces = vec![Vec::with_capacity(64); outs.len()];
        let spans_live = cfg.span_lines.any().then(|| SpanTable::new(outs.len()));
        Writer {
            enc: Encoder {
                engine,
                outs,
                // Room for the largest record, so wrapped records never grow it.
                wrap: Vec::with_capacity(engine.settings.record_limit + SLACK),
                sites: Vec::new(),
                redactor: engine.redactor.load_full(),
                redaction_gen: engine.redaction_gen.load(Ordering::Acquire),
                conv,
                written: 0,
                spans: 0,
                export: cfg.export,
                observed: 0,
                buffer: cfg.sampling.buffer_now.then(|| {
                    DebugBuffer::new(cfg.sampling.buffer_records, cfg.sampling.buffer_bytes)
                }),
                buffer_limits: (cfg.sampling.buffer_records, cfg.sampling.buffer_bytes),
                hold: Vec::with_capacity(engine.settings.record_limit + SLACK + 2 + 255),
                replay_pieces,
                evicted: [0; LEVELS],
                evicted_total: [0; LEVELS],
                replayed: 0,
                span_lines: cfg.span_lines,
                spans_live,
                span_ends: 0,
            },
            rings: Vec::new(),
            sinks,
            window: cfg.order_window,
            idle_poll: cfg.idle_poll,
            batch_bytes: cfg.batch_bytes,
            flushed: 0,
            summary: Summary {
                interval: cfg.sampling.summary_interval,
                last: Instant::now(),
                seen: false,
                reported: [0; LEVELS],
                reported_causes: [0; 3],
            },
            export_seen: crate::export::health::now(),
            export_failing: None,
            stats_interval: cfg.stats_interval,
            stats_last: Instant::now(),
        }
    }

    /// The thread's body.
    pub(crate) fn run(mut self) {
        // A sink that logs (or a crate it uses) must not feed the writer its
        // own records: they are discarded and counted.
        crate::thread_role::mute_this_thread();
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
            self.enc.refresh_redaction();
            let n = self.drain(force);
            self.report_drops(force);
            if shutting {
                // What the debug buffer still holds is sampled out.
                self.enc.release_buffer();
            }
            self.report_sampling(shutting);
            self.report_export();
            self.report_stats();
            self.ship();
            if let Some(x) = self.enc.export.as_mut()
                && (force || (n == 0 && x.idle_send_due()) || x.pending() * 2 >= EXPORT_SEND_BYTES)
            {
                x.send(self.enc.observed);
            }
            self.retire();
            for (s, _) in self.sinks.iter_mut() {
                s.retry(&engine.counters, false);
            }
            if force {
                for (s, _) in self.sinks.iter_mut() {
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
                    engine.writer_idle.store(true, Ordering::Release);
                    std::thread::park_timeout(self.idle_poll);
                    engine.writer_idle.store(false, Ordering::Relaxed);
                }
            }
        }
    }

    fn adopt(&mut self) {
        let pending: Vec<NewRing> = std::mem::take(&mut self.enc.engine.registry().pending);
        for r in pending {
            let thread_pieces = self
                .enc
                .outs
                .iter()
                .map(|o| {
                    let mut p = Vec::new();
                    o.line.thread_piece(&mut p, &r.shared.thread);
                    p
                })
                .collect();
            self.rings.push(RingEntry {
                capacity: r.consumer.buffer().capacity(),
                consumer: r.consumer,
                shared: r.shared,
                thread_pieces,
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
            if self.enc.full(self.batch_bytes) {
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
        // Also on a pass that only buffered records: the debug buffer's
        // figures are current at every flush.
        enc.publish_buffer();
        if enc.outs.iter().any(|o| !o.out.is_empty()) {
            let counters = &enc.engine.counters;
            for (s, f) in self.sinks.iter_mut() {
                let out = &enc.outs[*f].out;
                if !out.is_empty() {
                    s.submit(out, counters);
                }
            }
            for o in enc.outs.iter_mut() {
                Counters::add(&counters.bytes, o.out.len() as u64);
                o.out.clear();
            }
        }
        // Also on a pass that wrote no line: span records go to the
        // exporters only, and after a flush `stats()` must count them
        // (`produced == written + span_records + dropped`).
        enc.publish_counts();
    }

    /// Emits the summary of what was sampled out since the last one, at most
    /// once per interval (and at shutdown), when anything was.
    fn report_sampling(&mut self, fin: bool) {
        let sm = &mut self.summary;
        if !sm.seen {
            if !sampler::log_sampling_ever_on() && self.enc.buffer.is_none() {
                return;
            }
            sm.seen = true;
        }
        if !fin && sm.last.elapsed() < sm.interval {
            return;
        }
        sm.last = Instant::now();
        let caller = self.enc.engine.registry().caller_sampled_out();
        let mut levels = [0u64; LEVELS];
        for (l, n) in levels.iter_mut().enumerate() {
            *n = caller.callsite[l] + caller.unsampled[l] + self.enc.evicted_total[l];
        }
        let causes = [
            caller.callsite.iter().sum::<u64>(),
            caller.unsampled.iter().sum::<u64>(),
            self.enc.evicted_total.iter().sum::<u64>(),
        ];
        let total: u64 = causes.iter().sum();
        let before: u64 = sm.reported_causes.iter().sum();
        if total <= before {
            return;
        }
        self.enc.summary(
            total,
            before,
            &levels,
            &sm.reported,
            &causes,
            &sm.reported_causes,
        );
        sm.reported = levels;
        sm.reported_causes = causes;
    }

    /// Turns the exporters' batch outcomes into lines of the JSON output:
    /// a WARN when batches fail (the first at once, then at most one per
    /// [`EXPORT_NOTICE_INTERVAL`] while they go on failing), an INFO when a
    /// batch is delivered again.
    fn report_export(&mut self) {
        use crate::export::health;
        if self.enc.export.is_none() {
            return;
        }
        let now = health::now();
        let seen = self.export_seen;
        if self.export_failing.is_some() && now.last_ok && now.ok_batches > seen.ok_batches {
            self.enc.export_recovered(&now);
            self.export_seen = now;
            self.export_failing = None;
        } else if now.failed_batches > seen.failed_batches
            && self
                .export_failing
                .is_none_or(|t| !now.last_ok && t.elapsed() >= EXPORT_NOTICE_INTERVAL)
        {
            self.enc.export_notice(&now, &seen, &health::last_error());
            self.export_seen = now;
            self.export_failing = Some(Instant::now());
        }
    }

    /// The writer's own INFO record of the engine's figures (`stats()`:
    /// records, sinks, files, export queue), once per `stats_interval`.
    fn report_stats(&mut self) {
        let Some(every) = self.stats_interval else {
            return;
        };
        if self.stats_last.elapsed() < every {
            return;
        }
        self.stats_last = Instant::now();
        let st = self.enc.engine.stats();
        let u = NoteVal::U64;
        let n = Notice {
            unix_nanos: self.enc.conv.unix_now(),
            level: Level::Info,
            target: "datapunk_log::stats",
            message: "engine stats",
            fields: &[
                ("produced", u(st.produced)),
                ("written", u(st.written)),
                ("dropped", u(st.dropped)),
                ("sampled_out", u(st.sampled_out)),
                ("bytes", u(st.bytes)),
                ("threads", u(st.threads)),
                ("sink_errors", u(st.sink_errors)),
                ("sink_lost", u(st.sink_lost)),
                ("file_rotations", u(st.file_rotations)),
                ("files_deleted", u(st.files_deleted)),
                ("compress_backlog", u(st.compress_backlog)),
                ("compress_skipped", u(st.compress_skipped)),
                ("export_pending_logs", u(st.export_pending_logs)),
                ("export_dropped_logs", u(st.export_dropped_logs)),
                ("export_failed_logs", u(st.export_failed_logs)),
                ("redacted", u(st.redacted)),
            ],
        };
        self.enc.note(&n, None);
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
                for (t, n) in reg
                    .retired
                    .unsampled_dropped
                    .iter_mut()
                    .zip(r.shared.unsampled_dropped.iter())
                {
                    *t += n.load(Ordering::Relaxed);
                }
                // The thread is gone: what its slots sampled out moves into
                // the call sites' counters.
                for (id, n) in r.shared.sites.pending() {
                    if let Some(cs) = reg.callsite(id) {
                        cs.sampler().add_sampled_out(n);
                    }
                }
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
                self.record(&a[off..off + h.len], h, &r.thread_pieces, &r.shared.thread)
            } else if off >= a.len() {
                let o = off - a.len();
                self.record(&b[o..o + h.len], h, &r.thread_pieces, &r.shared.thread)
            } else {
                // The record wraps around the ring's end: copy it out whole.
                wrap.clear();
                wrap.resize(h.len, 0);
                copy_out(a, b, off, &mut wrap);
                self.record(&wrap, h, &r.thread_pieces, &r.shared.thread)
            };
            if !ok {
                Counters::add(&self.engine.counters.corrupt, 1);
            }
            off += h.len;
            count += 1;
            if self.full(batch) {
                break;
            }
        }
        self.wrap = wrap;
        chunk.commit(off);
        r.budget -= off;
        count
    }

    /// After a reload changed redaction: takes the new redactor, works
    /// the call sites' pieces out again (which fields are redacted) and
    /// builds the live spans' pieces again under the new rules.
    fn refresh_redaction(&mut self) {
        let generation = self.engine.redaction_gen.load(Ordering::Acquire);
        if generation == self.redaction_gen {
            return;
        }
        self.redaction_gen = generation;
        self.redactor = self.engine.redactor.load_full();
        self.sites.clear();
        for o in self.outs.iter_mut() {
            o.line.forget_sites();
        }
        if let Some(table) = self.spans_live.as_mut() {
            for (slot, callsite) in table.live() {
                let fields = self.span_lines.fields;
                let Some(site) = site_in(&mut self.sites, self.engine, fields, callsite) else {
                    continue;
                };
                let lines = self.outs.iter_mut().map(|o| &mut o.line);
                table.rerender(slot, site, lines, &self.redactor);
            }
        }
    }

    /// True when a format's batch buffer holds `batch` bytes or more.
    fn full(&self, batch: usize) -> bool {
        self.outs.iter().any(|o| o.out.len() >= batch)
    }

    fn site(&mut self, id: u32) -> Option<&Site> {
        site_in(&mut self.sites, self.engine, self.span_lines.fields, id)
    }

    /// Encodes one record as a line of each format. On a malformed record
    /// nothing is written and false is returned.
    fn record(&mut self, rec: &[u8], h: Header, pieces: &[Vec<u8>], thread: &str) -> bool {
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
            if let Some(x) = self.export.as_mut().filter(|x| x.spans) {
                let ts = self.conv.to_unix_nanos(h.ts);
                let end = end.map(|t| self.conv.to_unix_nanos(t));
                x.push(rec, &h, ts, end, thread, self.observed, 0);
            }
            if self.spans_live.is_some() {
                return self.span_record(rec, h, end, pieces).is_some();
            }
            return true;
        }
        if h.flags & FLAG_BUFFERED != 0 {
            if let Some((trace, _)) = trace_of(rec, &h)
                && self.hold(rec, &h, trace, thread)
            {
                return true;
            }
        } else if let Some((trace, flags)) = trace_of(rec, &h)
            && flags & 1 == 0
            && (self.buffer.is_some() || sampler::unsampled() == Unsampled::Buffer)
            && self
                .site(h.callsite)
                .is_some_and(|m| m.level >= Level::Error)
        {
            self.replay(trace);
        }
        self.write_log(rec, h, pieces, thread, false)
    }

    /// Span lines: keeps the live spans' table current and writes the
    /// line of an ended span. `end`: a whole span's end. `None`: the
    /// record is malformed.
    fn span_record(
        &mut self,
        rec: &[u8],
        h: Header,
        end: Option<u64>,
        pieces: &[Vec<u8>],
    ) -> Option<()> {
        let ctx = RecordView::decode(rec, h)?.ctx?;
        let id = ctx.span_id;
        let site = site_in(
            &mut self.sites,
            self.engine,
            self.span_lines.fields,
            h.callsite,
        )?;
        let table = self.spans_live.as_mut()?;
        let r: &crate::redact::Redactor = &self.redactor;
        let lines = self.outs.iter_mut().map(|o| &mut o.line);
        match h.kind {
            KIND_SPAN_START => table.start(id, rec, h, site, lines, r),
            KIND_SPAN_ATTR => table.attr(id, rec, h, site, lines, r),
            KIND_SPAN_STATUS => table.status(id, rec, h),
            KIND_SPAN_EVENT => table.event(id, rec, h),
            KIND_SPAN_END | KIND_SPAN => {
                if self.span_lines.ends {
                    let ended = table.ended(id, site, lines);
                    // A whole span's start is its header's time.
                    let start = end.map_or(ended.start, |_| Some(h.ts));
                    let end = end.unwrap_or(h.ts);
                    let m = site.cs.metadata();
                    let e = SpanEnd {
                        level: m.level,
                        target: m.target,
                        ctx,
                        start_unix_nanos: start.map(|t| self.conv.to_unix_nanos(t)),
                        status: ended.status,
                        exception: ended.exception,
                    };
                    let unix_nanos = self.conv.to_unix_nanos(end);
                    for (i, o) in self.outs.iter_mut().enumerate() {
                        let cx = LineCx {
                            unix_nanos,
                            thread: pieces.get(i).map_or(&[][..], |p| p.as_slice()),
                            replayed: false,
                            redactor: r,
                            span: ended.pieces.get(i).map_or(&[][..], |p| p.as_slice()),
                        };
                        o.line.span_end(&mut o.out, &e, &cx);
                    }
                    self.span_ends += 1;
                }
                self.spans_live.as_mut()?.remove(id);
                Some(())
            }
            _ => None,
        }
    }

    /// Writes a log record in every format and hands it to the exporters.
    fn write_log(
        &mut self,
        rec: &[u8],
        h: Header,
        pieces: &[Vec<u8>],
        thread: &str,
        replayed: bool,
    ) -> bool {
        if self.encode(rec, h, pieces, replayed).is_some() {
            self.written += 1;
            if let Some(x) = self.export.as_mut().filter(|x| x.logs) {
                let ts = self.conv.to_unix_nanos(h.ts);
                let extra = if replayed { FLAG_REPLAYED } else { 0 };
                x.push(rec, &h, ts, None, thread, self.observed, extra);
            }
            true
        } else {
            false
        }
    }

    /// Holds a record of an unsampled trace in the debug buffer. False when
    /// its trace was promoted by an error (the record is then written), or
    /// its call site is unknown (the write path counts it as corrupt).
    fn hold(&mut self, rec: &[u8], h: &Header, trace: u128, thread: &str) -> bool {
        let Some(level) = self.site(h.callsite).map(|m| m.level as u8) else {
            return false;
        };
        let (k, b) = self.buffer_limits;
        let buf = self.buffer.get_or_insert_with(|| DebugBuffer::new(k, b));
        if buf.is_promoted(trace) {
            return false;
        }
        // Stored as: level, thread name (cut to 255 bytes), record.
        let name = &thread[..thread.floor_char_boundary(255)];
        self.hold.clear();
        self.hold.push(level);
        self.hold.push(name.len() as u8);
        self.hold.extend_from_slice(name.as_bytes());
        self.hold.extend_from_slice(rec);
        let evicted = &mut self.evicted;
        let total = &mut self.evicted_total;
        buf.push_each(trace, &self.hold, &mut |e| {
            if let Some(&l) = e.first()
                && let (Some(a), Some(b)) = (evicted.get_mut(l as usize), total.get_mut(l as usize))
            {
                *a += 1;
                *b += 1;
            }
        });
        true
    }

    /// An error came in unsampled trace `trace`: writes its buffered records
    /// first, in order, marked replayed; its later records are written.
    fn replay(&mut self, trace: u128) {
        let (k, b) = self.buffer_limits;
        let mut buf = match self.buffer.take() {
            Some(buf) => buf,
            None => DebugBuffer::new(k, b),
        };
        buf.trigger(trace, |entry| {
            if !self.replay_one(entry) {
                Counters::add(&self.engine.counters.corrupt, 1);
            }
        });
        self.buffer = Some(buf);
    }

    /// Writes one buffered entry (see [`Encoder::hold`]).
    fn replay_one(&mut self, entry: &[u8]) -> bool {
        let Some(&n) = entry.get(1) else {
            return false;
        };
        let n = usize::from(n);
        let (Some(name), Some(rec)) = (entry.get(2..2 + n), entry.get(2 + n..)) else {
            return false;
        };
        let Some(head) = rec.get(..HEADER_LEN).and_then(|b| b.try_into().ok()) else {
            return false;
        };
        let h = Header::parse(head);
        let name = std::str::from_utf8(name).unwrap_or("");
        let mut pieces = std::mem::take(&mut self.replay_pieces);
        for (p, o) in pieces.iter_mut().zip(self.outs.iter()) {
            p.clear();
            o.line.thread_piece(p, name);
        }
        let ok = self.write_log(rec, h, &pieces, name, true);
        self.replay_pieces = pieces;
        if ok {
            self.replayed += 1;
        }
        ok
    }

    /// Drops what the debug buffer holds (shutdown), counted as sampled out.
    fn release_buffer(&mut self) {
        let Some(buf) = self.buffer.as_mut() else {
            return;
        };
        let evicted = &mut self.evicted;
        let total = &mut self.evicted_total;
        buf.clear_each(&mut |e| {
            if let Some(&l) = e.first()
                && let (Some(a), Some(b)) = (evicted.get_mut(l as usize), total.get_mut(l as usize))
            {
                *a += 1;
                *b += 1;
            }
        });
    }

    /// Adds what this thread counted since the last call (records written,
    /// span records taken, span-end lines, the span table's figures) to the
    /// engine's counters.
    fn publish_counts(&mut self) {
        let counters = &self.engine.counters;
        Counters::add(&counters.written, std::mem::take(&mut self.written));
        Counters::add(&counters.span_records, std::mem::take(&mut self.spans));
        Counters::add(
            &counters.span_end_lines,
            std::mem::take(&mut self.span_ends),
        );
        if let Some(t) = self.spans_live.as_mut() {
            Counters::add(
                &counters.span_table_full,
                std::mem::take(&mut t.counts.full),
            );
            Counters::add(&counters.span_fields_cut, std::mem::take(&mut t.counts.cut));
        }
    }

    /// Adds the debug buffer's figures to the counters.
    fn publish_buffer(&mut self) {
        let Some(buf) = self.buffer.as_ref() else {
            return;
        };
        let c = &self.engine.counters;
        for (n, counter) in self.evicted.iter_mut().zip(c.buffer_evicted.iter()) {
            Counters::add(counter, std::mem::take(n));
        }
        Counters::add(&c.replayed, std::mem::take(&mut self.replayed));
        c.buffered
            .store(buf.buffered_records() as u64, Ordering::Relaxed);
        c.buffered_bytes
            .store(buf.buffered_bytes() as u64, Ordering::Relaxed);
    }

    /// Writes the record as a line of each format in use; on a malformed
    /// record, cuts every partial line and returns `None`.
    fn encode(&mut self, rec: &[u8], h: Header, pieces: &[Vec<u8>], replayed: bool) -> Option<()> {
        let unix_nanos = self.conv.to_unix_nanos(h.ts);
        let engine = self.engine;
        let site = site_in(
            &mut self.sites,
            self.engine,
            self.span_lines.fields,
            h.callsite,
        )?;
        let mut view = RecordView::decode(rec, h)?;
        let n = self.outs.len();
        // The current span's pieces, when span fields are on and it is held.
        let live = self
            .spans_live
            .as_ref()
            .filter(|_| self.span_lines.fields)
            .zip(view.ctx);
        let mut invalid = 0;
        // Where this record's lines start in each output (there are at
        // most three formats: JSON, console with and without colours).
        let mut starts = [0usize; 3];
        for (i, o) in self.outs.iter_mut().enumerate() {
            let start = o.out.len();
            if let Some(s) = starts.get_mut(i) {
                *s = start;
            }
            let cx = LineCx {
                unix_nanos,
                thread: pieces.get(i).map_or(&[][..], |p| p.as_slice()),
                replayed,
                redactor: &self.redactor,
                span: live
                    .and_then(|(t, c)| t.piece(c.span_id, i))
                    .unwrap_or_default(),
            };
            // The last format reads the view; the others read a copy.
            let r = if i + 1 == n {
                o.line.record(&mut o.out, site, &mut view, &cx)
            } else {
                o.line.record(&mut o.out, site, &mut view.clone(), &cx)
            };
            match r {
                Some(n) => invalid = n,
                None => {
                    for (o, s) in self.outs.iter_mut().zip(starts).take(i + 1) {
                        o.out.truncate(s);
                    }
                    return None;
                }
            }
        }
        Counters::add(&engine.counters.invalid_utf8, invalid);
        Some(())
    }

    /// Writes one of the writer's own lines in every format, with a
    /// thread's pieces when it is about one thread.
    fn note(&mut self, n: &Notice<'_>, pieces: Option<&[Vec<u8>]>) {
        for (i, o) in self.outs.iter_mut().enumerate() {
            let thread = pieces.and_then(|p| p.get(i)).map(|p| p.as_slice());
            o.line.notice(&mut o.out, n, thread);
        }
        Counters::add(&self.engine.counters.notices, 1);
    }

    /// Emits the writer's own WARN record about a thread's dropped records.
    fn notice(&mut self, r: &RingEntry, total: u64) {
        let n = Notice {
            unix_nanos: self.conv.unix_now(),
            level: Level::Warn,
            target: "datapunk_log",
            message: "records dropped: ring full",
            fields: &[
                ("dropped", NoteVal::U64(total - r.reported_dropped)),
                ("dropped_total", NoteVal::U64(total)),
            ],
        };
        self.note(&n, Some(&r.thread_pieces));
    }

    /// The writer's own WARN line: export batches failed since the last one
    /// (`now` against `seen`), and the last error.
    fn export_notice(
        &mut self,
        now: &crate::export::health::Health,
        seen: &crate::export::health::Health,
        error: &str,
    ) {
        let n = Notice {
            unix_nanos: self.conv.unix_now(),
            level: Level::Warn,
            target: "datapunk_log::export",
            message: "export failing",
            fields: &[
                (
                    "failed_batches",
                    NoteVal::U64(now.failed_batches - seen.failed_batches),
                ),
                (
                    "failed_logs",
                    NoteVal::U64(now.failed_logs - seen.failed_logs),
                ),
                (
                    "failed_spans",
                    NoteVal::U64(now.failed_spans - seen.failed_spans),
                ),
                ("error", NoteVal::Str(error)),
            ],
        };
        self.note(&n, None);
    }

    /// The writer's own INFO line: a batch was delivered after failures.
    fn export_recovered(&mut self, now: &crate::export::health::Health) {
        let n = Notice {
            unix_nanos: self.conv.unix_now(),
            level: Level::Info,
            target: "datapunk_log::export",
            message: "export recovered",
            fields: &[
                ("failed_batches_total", NoteVal::U64(now.failed_batches)),
                ("failed_logs_total", NoteVal::U64(now.failed_logs)),
                ("failed_spans_total", NoteVal::U64(now.failed_spans)),
            ],
        };
        self.note(&n, None);
    }

    /// Emits the writer's own INFO record summing up what was sampled out
    /// since the last one (`now` / `before`: totals per level and cause).
    fn summary(
        &mut self,
        total: u64,
        before: u64,
        levels: &[u64; LEVELS],
        levels_before: &[u64; LEVELS],
        causes: &[u64; 3],
        causes_before: &[u64; 3],
    ) {
        const LEVEL_KEYS: [&str; LEVELS] = [
            "sampled_out.trace",
            "sampled_out.debug",
            "sampled_out.info",
            "sampled_out.warn",
            "sampled_out.error",
            "sampled_out.fatal",
        ];
        const CAUSE_KEYS: [&str; 3] = ["by_callsite", "by_unsampled_trace", "by_debug_buffer"];
        // At most 2 + 6 + 3 + 1 fields, on the stack.
        let mut fields = [("", NoteVal::U64(0)); 12];
        let mut n = 0;
        let mut push = |k: &'static str, v: u64| {
            fields[n] = (k, NoteVal::U64(v));
            n += 1;
        };
        push("sampled_out", total - before);
        push("sampled_out_total", total);
        for (l, key) in LEVEL_KEYS.iter().enumerate() {
            let d = levels[l].saturating_sub(levels_before[l]);
            if d != 0 {
                push(key, d);
            }
        }
        for (c, key) in CAUSE_KEYS.iter().enumerate() {
            let d = causes[c].saturating_sub(causes_before[c]);
            if d != 0 {
                push(key, d);
            }
        }
        if let Some(b) = &self.buffer {
            push("buffered", b.buffered_records() as u64);
        }
        let note = Notice {
            unix_nanos: self.conv.unix_now(),
            level: Level::Info,
            target: "datapunk_log",
            message: "records sampled out",
            fields: &fields[..n],
        };
        self.note(&note, None);
    }
}

/// Call site `id`'s entry in `sites`, worked out on its first use (a
/// function of the fields it needs, so the caller can still use the
/// writer's other fields while it holds the entry).
#[inline(always)]
fn site_in<'s>(
    sites: &'s mut Vec<Option<Site>>,
    engine: &'static Engine,
    span_fields: bool,
    id: u32,
) -> Option<&'s Site> {
    let i = id as usize;
    if sites.get(i).is_some_and(Option::is_some) {
        return sites[i].as_ref();
    }
    site_fill(sites, engine, span_fields, id)
}

/// `site_in`'s first use of a call site (out of the per-record path).
#[cold]
#[inline(never)]
fn site_fill<'s>(
    sites: &'s mut Vec<Option<Site>>,
    engine: &'static Engine,
    span_fields: bool,
    id: u32,
) -> Option<&'s Site> {
    let i = id as usize;
    let cs = engine::callsite(engine, id)?;
    if sites.len() <= i {
        sites.resize_with(i + 1, || None);
    }
    sites[i] = Some(Site::new(id, cs, span_fields));
    sites[i].as_ref()
}

/// Trace id and trace flags of a record with a context.
fn trace_of(rec: &[u8], h: &Header) -> Option<(u128, u8)> {
    if h.flags & FLAG_CTX == 0 {
        return None;
    }
    let id = rec.get(HEADER_LEN..HEADER_LEN + 16)?;
    let flags = *rec.get(HEADER_LEN + CTX_LEN - 1)?;
    Some((u128::from_le_bytes(id.try_into().ok()?), flags))
}
