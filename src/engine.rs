//! The installed engine: global state shared by callers and the writer.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::Thread;

use arc_swap::ArcSwap;
use std::time::{Duration, Instant};

use crate::callsite::Callsite;
use crate::export::Pipeline;
use crate::level::Directives;
use crate::overflow::Overflow;
use crate::redact::Redactor;
use crate::ring::RingShared;
use crate::sampler::SiteSamplingStats;
use crate::sampler::logs::LEVELS;
use crate::stats::{Counters, Stats};

/// Counts calls made before any engine was installed.
static DISCARDED_EARLY: AtomicU64 = AtomicU64::new(0);

static ENGINE: OnceLock<Engine> = OnceLock::new();

/// Settings fixed at `init()`.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub ring_capacity: usize,
    pub record_limit: usize,
    pub overflow: Overflow,
}

/// A ring handed to the writer by a thread on its first call.
pub(crate) struct NewRing {
    pub consumer: rtrb::Consumer<u8>,
    pub shared: Arc<RingShared>,
}

/// Totals of rings whose threads have exited and been drained.
#[derive(Debug, Default)]
pub(crate) struct Retired {
    pub produced: u64,
    pub dropped: u64,
    pub unsampled_dropped: [u64; LEVELS],
}

/// Log records sampled out on the calling threads, per level: by their call
/// site's sampler, and because their trace was unsampled (`Unsampled::Drop`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct CallerSampledOut {
    pub callsite: [u64; LEVELS],
    pub unsampled: [u64; LEVELS],
}

impl Registry {
    /// What the calling threads sampled out so far (exact once the calls
    /// are done).
    pub(crate) fn caller_sampled_out(&self) -> CallerSampledOut {
        let mut s = CallerSampledOut {
            callsite: [0; LEVELS],
            unsampled: self.retired.unsampled_dropped,
        };
        for r in self.rings.iter() {
            for (t, c) in s.unsampled.iter_mut().zip(r.unsampled_dropped.iter()) {
                *t += c.load(Ordering::Relaxed);
            }
        }
        // Without `pending_sampled_out`: the writer sums these up on its
        // passes, where nothing is allocated.
        for cs in self.callsites.iter() {
            let n = cs.sampler().sampled_out();
            if n != 0 {
                s.callsite[cs.metadata().level as usize] += n;
            }
        }
        for (id, n) in self.rings.iter().flat_map(|r| r.sites.pending()) {
            if let Some(cs) = self.callsite(id) {
                s.callsite[cs.metadata().level as usize] += n;
            }
        }
        s
    }

    /// The call site of an id ([`Callsite::id`]: its index + 1).
    pub(crate) fn callsite(&self, id: u32) -> Option<&'static Callsite> {
        let i = usize::try_from(id).ok()?.checked_sub(1)?;
        self.callsites.get(i).copied()
    }

    /// Sampled-out calls of each call site that live threads' slots hold,
    /// indexed by call site id - 1.
    fn pending_sampled_out(&self) -> Vec<u64> {
        let mut v = vec![0u64; self.callsites.len()];
        for (id, n) in self.rings.iter().flat_map(|r| r.sites.pending()) {
            if let Some(t) = (id as usize).checked_sub(1).and_then(|i| v.get_mut(i)) {
                *t += n;
            }
        }
        v
    }
}

#[derive(Default)]
pub(crate) struct Registry {
    pub callsites: Vec<&'static Callsite>,
    /// Live rings (for stats), with the totals of retired ones.
    pub rings: Vec<Arc<RingShared>>,
    pub retired: Retired,
    /// Rings not yet picked up by the writer.
    pub pending: Vec<NewRing>,
}

pub(crate) struct Engine {
    pub settings: Settings,
    /// The filter directives in force (replaced by `reload`; read by a
    /// call site's first call and by the bridges).
    pub directives: ArcSwap<Directives>,
    pub registry: Mutex<Registry>,
    pub has_pending: AtomicBool,
    pub counters: Counters,
    pub writer: OnceLock<Thread>,
    /// The writer loop is running (false once it exits, for any reason).
    pub writer_alive: AtomicBool,
    /// The writer is parked because its last passes found no record (set
    /// around that park only): a producer waiting for room in a full ring
    /// wakes it then, and leaves it alone while it waits on anything else.
    pub writer_idle: AtomicBool,
    pub shutdown: AtomicBool,
    pub flush_requested: AtomicU64,
    pub flush_done: Mutex<u64>,
    pub flush_cv: Condvar,
    pub exited: Mutex<bool>,
    pub exited_cv: Condvar,
    /// The export thread, when exporters are configured.
    pub export: OnceLock<Pipeline>,
    /// Value patterns and the replacement, for the writer and the export
    /// thread (replaced by `reload`).
    pub redactor: ArcSwap<Redactor>,
    /// Bumped by every `reload` that changes redaction: the writer then
    /// takes the new redactor and works out its call sites' pieces again.
    pub redaction_gen: AtomicU64,
}

impl Engine {
    pub(crate) fn new(settings: Settings, directives: Directives, redactor: Redactor) -> Engine {
        Engine {
            settings,
            directives: ArcSwap::from_pointee(directives),
            registry: Mutex::new(Registry::default()),
            has_pending: AtomicBool::new(false),
            counters: Counters::default(),
            writer: OnceLock::new(),
            writer_alive: AtomicBool::new(true),
            writer_idle: AtomicBool::new(false),
            shutdown: AtomicBool::new(false),
            flush_requested: AtomicU64::new(0),
            flush_done: Mutex::new(0),
            flush_cv: Condvar::new(),
            exited: Mutex::new(false),
            exited_cv: Condvar::new(),
            export: OnceLock::new(),
            redactor: ArcSwap::from_pointee(redactor),
            redaction_gen: AtomicU64::new(0),
        }
    }

    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        REGISTRY_LOCKS.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means a thread panicked while holding it; the
        // registry's data stays consistent (every update is a single push/remove).
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn wake_writer(&self) {
        if let Some(t) = self.writer.get() {
            t.unpark();
        }
    }

    pub(crate) fn is_writer_thread(&self) -> bool {
        self.writer
            .get()
            .is_some_and(|t| t.id() == std::thread::current().id())
    }

    pub(crate) fn is_running(&self) -> bool {
        !self.shutdown.load(Ordering::Acquire) && self.writer_alive.load(Ordering::Acquire)
    }

    pub(crate) fn add_ring(&self, ring: NewRing) {
        let mut reg = self.registry();
        reg.rings.push(ring.shared.clone());
        reg.pending.push(ring);
        self.has_pending.store(true, Ordering::Release);
    }

    /// Flushes the writer, then the exporters (each within `timeout` overall).
    pub(crate) fn flush_all(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        if !self.flush(timeout) {
            return false;
        }
        match self.export.get() {
            Some(p) if !crate::thread_role::is_muted_thread() => {
                let left = deadline.map_or(Duration::from_secs(u64::MAX / 4), |d| {
                    d.saturating_duration_since(Instant::now())
                });
                p.flush(left)
            }
            _ => true,
        }
    }

    /// Asks the writer to write everything captured before this call and waits
    /// for it (or for the timeout). True when the barrier completed.
    pub(crate) fn flush(&self, timeout: Duration) -> bool {
        if self.is_writer_thread() {
            // A sink calling flush() would wait for itself.
            return false;
        }
        let target = self.flush_requested.fetch_add(1, Ordering::SeqCst) + 1;
        self.wake_writer();
        let deadline = Instant::now().checked_add(timeout);
        let mut done = self.flush_done.lock().unwrap_or_else(|e| e.into_inner());
        while *done < target {
            if !self.writer_alive.load(Ordering::Acquire) {
                return false;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(w) if !w.is_zero() => w.min(Duration::from_millis(50)),
                    _ => return false,
                },
                None => Duration::from_millis(50),
            };
            done = self
                .flush_cv
                .wait_timeout(done, wait)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    /// Stops the writer after it drained everything; waits up to `timeout`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        self.shutdown.store(true, Ordering::SeqCst);
        // Later calls of enabled call sites take the slow path, which sees
        // the shutdown and counts them (without the registry's lock); a
        // disabled call stays one load.
        for cs in self.registry().callsites.iter() {
            cs.forget_if_enabled();
        }
        self.wake_writer();
        let deadline = crate::clock::deadline_in(timeout);
        let mut exited = self.exited.lock().unwrap_or_else(|e| e.into_inner());
        while !*exited {
            let Some(w) = deadline.checked_duration_since(Instant::now()) else {
                return false;
            };
            exited = self
                .exited_cv
                .wait_timeout(exited, w.min(Duration::from_millis(50)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
            self.wake_writer();
        }
        true
    }

    pub(crate) fn stats(&self) -> Stats {
        let c = &self.counters;
        let reg = self.registry();
        let mut produced = reg.retired.produced;
        let mut dropped = reg.retired.dropped;
        for r in reg.rings.iter() {
            produced += r.produced.load(Ordering::Relaxed);
            dropped += r.dropped.load(Ordering::Relaxed);
        }
        let threads = reg.rings.len() as u64;
        let caller = reg.caller_sampled_out();
        drop(reg);
        let mut by_level = [0u64; LEVELS];
        let mut buffer = 0;
        for (l, n) in by_level.iter_mut().enumerate() {
            let b = c.buffer_evicted[l].load(Ordering::Relaxed);
            *n = caller.callsite[l] + caller.unsampled[l] + b;
            buffer += b;
        }
        let callsite: u64 = caller.callsite.iter().sum();
        let unsampled: u64 = caller.unsampled.iter().sum();
        let redacted = crate::redact::counts();
        let mut s = Stats {
            // Calls sampled out never reached a ring: they were produced
            // all the same.
            produced: produced + callsite + unsampled,
            written: c.written.load(Ordering::Relaxed),
            dropped,
            discarded: c.discarded.load(Ordering::Relaxed)
                + DISCARDED_EARLY.load(Ordering::Relaxed),
            truncated: c.truncated.load(Ordering::Relaxed),
            corrupt: c.corrupt.load(Ordering::Relaxed),
            misrecorded_values: crate::record::misrecorded_values(),
            redacted: redacted.total(),
            redacted_by_rule: redacted,
            invalid_utf8: c.invalid_utf8.load(Ordering::Relaxed),
            notices: c.notices.load(Ordering::Relaxed),
            bytes: c.bytes.load(Ordering::Relaxed),
            sink_errors: c.sink_errors.load(Ordering::Relaxed),
            sink_panics: c.sink_panics.load(Ordering::Relaxed),
            sink_lost: c.sink_lost.load(Ordering::Relaxed),
            threads,
            span_records: c.span_records.load(Ordering::Relaxed),
            span_end_lines: c.span_end_lines.load(Ordering::Relaxed),
            span_table_full: c.span_table_full.load(Ordering::Relaxed),
            span_fields_cut: c.span_fields_cut.load(Ordering::Relaxed),
            sampled_out: callsite + unsampled + buffer,
            sampled_out_by_level: by_level,
            sampled_out_callsite: callsite,
            sampled_out_unsampled: unsampled,
            sampled_out_buffer: buffer,
            buffered: c.buffered.load(Ordering::Relaxed),
            buffered_bytes: c.buffered_bytes.load(Ordering::Relaxed),
            replayed: c.replayed.load(Ordering::Relaxed),
            ..Stats::default()
        };
        crate::stats::add_sink_totals(&mut s, c.sinks.get().map_or(&[], |v| v));
        if let Some(p) = self.export.get() {
            let x = &p.counters;
            s.exported_logs = x.logs_exported.load(Ordering::Relaxed);
            // Read after the exported count: a record is queued before it
            // is handed over, so this never goes below the true figure.
            s.export_pending_logs = x
                .logs_queued
                .load(Ordering::Relaxed)
                .saturating_sub(s.exported_logs);
            s.exported_spans = x.spans_exported.load(Ordering::Relaxed);
            s.export_dropped_logs = x.logs_dropped.load(Ordering::Relaxed);
            s.export_dropped_spans = x.spans_dropped.load(Ordering::Relaxed);
            s.export_orphans = x.span_orphans.load(Ordering::Relaxed);
            let h = crate::export::health::now();
            s.export_delivered_logs = h.delivered_logs;
            s.export_failed_logs = h.failed_logs;
            s.export_delivered_spans = h.delivered_spans;
            s.export_failed_spans = h.failed_spans;
        }
        s
    }
}

impl Engine {
    /// Each call site whose log sampler decided at least one call.
    pub(crate) fn site_stats(&self) -> Vec<SiteSamplingStats> {
        let reg = self.registry();
        let pending = reg.pending_sampled_out();
        reg.callsites
            .iter()
            .zip(pending)
            .filter(|(cs, p)| cs.sampler().calls() + p != 0)
            .map(|(cs, pending)| {
                let m = cs.metadata();
                let sampler = cs.sampler();
                let kept = sampler.kept();
                let calls = sampler.calls() + pending;
                SiteSamplingStats {
                    target: m.target,
                    file: m.file,
                    line: m.line,
                    level: m.level,
                    calls,
                    kept,
                    sampled_out: calls.saturating_sub(kept),
                }
            })
            .collect()
    }
}

/// Installs the engine; `None` if one is already installed.
pub(crate) fn install(engine: Engine) -> Option<&'static Engine> {
    let mut slot = Some(engine);
    let installed = ENGINE.get_or_init(|| slot.take().expect("taken once"));
    slot.is_none().then_some(installed)
}

#[inline(always)]
pub(crate) fn get() -> Option<&'static Engine> {
    ENGINE.get()
}

pub(crate) fn count_discarded() {
    match ENGINE.get() {
        Some(e) => e.counters.discarded.fetch_add(1, Ordering::Relaxed),
        None => DISCARDED_EARLY.fetch_add(1, Ordering::Relaxed),
    };
}

/// Whether the engine runs and its directives enable `level` for `target`
/// (for records that come without a call site of ours: the bridges).
#[cfg(any(feature = "log", feature = "tracing"))]
pub(crate) fn enables(target: &str, level: crate::Level) -> bool {
    ENGINE
        .get()
        .is_some_and(|e| e.is_running() && e.directives.load().level_for(target).enables(level))
}

/// The slow path of [`Callsite::is_enabled`]: registers the call site and
/// caches the filter's decision. Before `init()` and after shutdown the call is
/// counted as discarded and nothing is cached.
#[cold]
#[inline(never)]
pub(crate) fn register_callsite(cs: &'static Callsite) -> bool {
    let Some(engine) = ENGINE.get() else {
        DISCARDED_EARLY.fetch_add(1, Ordering::Relaxed);
        return false;
    };
    let enabled = |engine: &Engine| directives_enable(&engine.directives.load(), cs);
    if !engine.is_running() {
        // After the shutdown (the engine never runs again): no registry, no
        // lock. A disabled call site stays disabled; an enabled one's calls
        // are counted here, each.
        if enabled(engine) {
            engine.counters.discarded.fetch_add(1, Ordering::Relaxed);
        } else {
            cs.set_enabled(false);
        }
        return false;
    }
    let mut reg = engine.registry();
    if cs.id() == 0 {
        reg.callsites.push(cs);
        cs.set_id(reg.callsites.len() as u32);
    }
    // Decided under the registry's lock: a reload swaps the directives and
    // decides every registered call site again under it, so no call site
    // keeps a decision of directives no longer in force.
    let on = enabled(engine);
    if !engine.is_running() {
        drop(reg);
        if on {
            engine.counters.discarded.fetch_add(1, Ordering::Relaxed);
        }
        return false;
    }
    cs.set_enabled(on);
    on
}

/// Whether `directives` enable the call site.
pub(crate) fn directives_enable(directives: &Directives, cs: &Callsite) -> bool {
    let meta = cs.metadata();
    directives.level_for(meta.target).enables(meta.level)
}

/// Replaces the directives in force and decides every registered call site
/// again (see `config::reload`). A call during it sees the old decision or
/// the new one.
pub(crate) fn replace_directives(engine: &Engine, directives: Directives) {
    let reg = engine.registry();
    engine.directives.store(Arc::new(directives));
    let d = engine.directives.load();
    if engine.is_running() {
        for cs in reg.callsites.iter() {
            cs.set_enabled(directives_enable(&d, cs));
        }
    }
}

/// How many times the call-site registry's lock was taken (for tests: the
/// calls that must not take it, such as any call after the shutdown).
static REGISTRY_LOCKS: AtomicU64 = AtomicU64::new(0);

/// [`REGISTRY_LOCKS`] now.
#[doc(hidden)]
pub fn registry_locks() -> u64 {
    REGISTRY_LOCKS.load(Ordering::Relaxed)
}

/// Calls `f` with every registered call site (none before `init()`).
pub(crate) fn for_each_callsite(mut f: impl FnMut(&'static Callsite)) {
    if let Some(engine) = ENGINE.get() {
        engine.registry().callsites.iter().for_each(|cs| f(cs));
    }
}

/// Looks up a registered call site by id (writer side, on a cache miss).
pub(crate) fn callsite(engine: &Engine, id: u32) -> Option<&'static Callsite> {
    engine.registry().callsite(id)
}

pub(crate) fn discarded_early() -> u64 {
    DISCARDED_EARLY.load(Ordering::Relaxed)
}
