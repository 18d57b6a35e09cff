//! The calling thread's ring and the capture path.
//!
//! On its first enabled call a thread creates an `rtrb` ring of the configured
//! capacity and hands the consumer end to the writer. Each call then
//! serializes its record into a reused thread-local buffer and copies it into
//! the ring in one piece: no lock, no allocation, no system call.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::{Backoff, CachePadded};

use crate::callsite::{self, Callsite};
use crate::clock;
use crate::corr::CorrId;
use crate::engine::{self, Engine, NewRing};
use crate::level::Level;
use crate::overflow::Overflow;
use crate::record::{
    CTX_LEN, FLAG_BUFFERED, HEADER_LEN, KIND_LOG, Prefix, RecordBuf, SLACK, TraceContext,
};
use crate::sampler;
use crate::sampler::logs::{LEVELS, ThreadSlots};
use crate::span_extra::{NO_TH, SpanExtra, TsParts};
use crate::value::ValueList;

/// What a ring shares with the writer and with `stats()`.
#[derive(Debug)]
pub(crate) struct RingShared {
    /// Records captured by this thread (written by the owner thread only).
    pub produced: CachePadded<AtomicU64>,
    /// Records this thread dropped because its ring was full.
    pub dropped: AtomicU64,
    /// Log records of unsampled traces this thread sampled out under
    /// `Unsampled::Drop`, per level (written by the owner thread only).
    pub unsampled_dropped: [AtomicU64; LEVELS],
    /// The thread's blocks of call-site sampling indices, and what they
    /// sampled out (written by the owner thread only).
    pub sites: ThreadSlots,
    /// Thread name, or its id when it has none.
    pub thread: String,
}

struct ThreadRing {
    producer: rtrb::Producer<u8>,
    shared: Arc<RingShared>,
    engine: &'static Engine,
    overflow: Overflow,
    limit: usize,
    produced: u64,
    dropped: u64,
}

/// A thread's capture state: its ring and its scratch buffer.
struct ThreadState {
    ring: ThreadRing,
    /// Empty while a record is being formatted into it.
    scratch: Box<[MaybeUninit<u8>]>,
}

/// The hot thread-local: plain `Cell`s with a `const` initializer and no
/// destructor, so reaching it is one thread-pointer-relative access with no
/// "initialized / destroyed" check.
struct Hot {
    /// The thread's state while nobody on this thread uses it; null before the
    /// first call, while a call holds it, and after the thread's teardown.
    state: Cell<*mut ThreadState>,
    ctx: Cell<TraceContext>,
    /// `ctx` holds a trace or `corr` an id: checked first, so calls outside
    /// a trace copy nothing.
    in_trace: Cell<bool>,
    /// `ctx` holds a trace that is not sampled: the log sampler's
    /// `Unsampled::Drop` reads this one flag.
    unsampled: Cell<bool>,
    /// This thread's `RingShared::unsampled_dropped` while its state lives
    /// (null before the first call and after teardown): counted through
    /// directly, without taking the state, since only this thread writes it.
    unsampled_counts: Cell<*const [AtomicU64; LEVELS]>,
    /// This thread's `RingShared::sites`, under the same rule.
    sites: Cell<*const ThreadSlots>,
    /// A correlation id is current (in `corr`).
    has_corr: Cell<bool>,
    /// The current span's `th` ([`NO_TH`]: none).
    th: Cell<u64>,
    /// The current span's optional part (correlation id, tracestate), or
    /// null. A non-null pointer holds one strong count of its `Arc`, so it
    /// stays valid whatever happens to the span (a leaked guard leaks the
    /// count, never dangles).
    extra: Cell<*const SpanExtra>,
    /// State of the thread's id generator (wyrand); 0 until seeded.
    rng: Cell<u64>,
}

/// Owns the thread's state; its destructor clears `Hot::state` before freeing it.
struct Owner(Option<Box<ThreadState>>);

impl Drop for Owner {
    fn drop(&mut self) {
        HOT.with(|h| {
            h.state.set(ptr::null_mut());
            h.unsampled_counts.set(ptr::null());
            h.sites.set(ptr::null());
        });
        // The Box drops here: the producer end goes away, and the writer drains
        // the ring and then releases it.
    }
}

thread_local! {
    static HOT: Hot = const {
        Hot {
            state: Cell::new(ptr::null_mut()),
            ctx: Cell::new(TraceContext { trace_id: 0, span_id: 0, parent_span_id: 0, trace_flags: 0 }),
            in_trace: Cell::new(false),
            unsampled: Cell::new(false),
            unsampled_counts: Cell::new(ptr::null()),
            sites: Cell::new(ptr::null()),
            has_corr: Cell::new(false),
            th: Cell::new(NO_TH),
            extra: Cell::new(ptr::null()),
            rng: Cell::new(0),
        }
    };
    static OWNER: RefCell<Owner> = const { RefCell::new(Owner(None)) };
}

/// Puts the thread's state back into `Hot` when a call is done with it, even
/// if a user's `Value` impl panicked.
struct Release<'a> {
    hot: &'a Hot,
    state: *mut ThreadState,
}

impl Drop for Release<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.hot.state.set(self.state);
    }
}

/// This thread's `Hot`, reached once per call.
#[inline(always)]
fn hot<'a>() -> &'a Hot {
    let p: *const Hot = HOT.with(|h| h as *const Hot);
    // SAFETY: `HOT` has a const initializer and no destructor, so it lives,
    // at a fixed address, as long as the thread; callers use the reference only
    // within the current call on this thread.
    unsafe { &*p }
}

/// What a record carries besides its call site and values.
#[derive(Clone, Copy)]
pub(crate) struct RecHead<'a> {
    pub kind: u8,
    pub flags: u8,
    /// Adjusted count from the log sampler (0: none).
    pub adjusted: u32,
    pub ctx: TraceContext,
    pub corr: Option<&'a CorrId>,
    /// A span start's tracestate.
    pub ts: Option<TsParts<'a>>,
}

/// What the log sampler decided for a record it keeps: its adjusted count
/// and extra header flags ([`FLAG_BUFFERED`]).
#[doc(hidden)]
#[derive(Clone, Copy, Debug)]
pub struct Kept {
    adjusted: u32,
    flags: u8,
}

impl Kept {
    /// Not sampled: the record stands for itself.
    const PLAIN: Kept = Kept {
        adjusted: 0,
        flags: 0,
    };
}

/// Captures one record: called by the macros once the call site is enabled.
/// `level` is the call site's (a constant where the macro expands); `msg`
/// is the formatted message of a call site with format arguments.
///
/// `plan` is what [`Callsite::log_plan`] returned (not 0): the log sampler
/// decides first, before a clock read or any byte is written; with every
/// policy at keep-all (the default) that is a compare of `plan`, which the
/// call site's one load already brought.
#[doc(hidden)]
#[inline(always)]
pub fn dispatch<L: ValueList>(
    cs: &'static Callsite,
    plan: u8,
    level: Level,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    if plan == callsite::ALWAYS {
        // The default: the capture inlined as before, with constants.
        capture_plain(cs, msg, values);
    } else if let Some(kept) = sample(cs, plan, level) {
        capture_kept(cs, kept, msg, values);
    }
}

/// [`dispatch`] of a call site whose plan is [`callsite::ALWAYS`]: the
/// capture, inlined.
#[doc(hidden)]
#[inline(always)]
pub fn capture_plain<L: ValueList>(
    cs: &'static Callsite,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    emit(None, cs, msg, values, Kept::PLAIN);
}

/// The capture of a record the log sampler kept ([`sample`] said how): out
/// of line, so a call site holds one inlined capture (the default path's)
/// and the sampled-out path stays inlined and short. The macros build the
/// values for it only once the sampler kept the call.
#[doc(hidden)]
#[inline(never)]
pub fn capture_kept<L: ValueList>(
    cs: &'static Callsite,
    kept: Kept,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    emit(None, cs, msg, values, kept);
}

/// The log sampler's two stages (see `sampler::log_config`): `None` when
/// the record is sampled out (and counted), else how it is kept. `level`
/// is the call site's, a constant where the macro expands.
#[doc(hidden)]
#[inline(always)]
pub fn sample(cs: &'static Callsite, plan: u8, level: Level) -> Option<Kept> {
    let level = level as usize;
    if plan == callsite::ALWAYS | callsite::PLAN_SITE {
        // The call site's sampler alone (one compare to know it).
        return site_stage(cs, level, Kept::PLAIN);
    }
    let mut kept = Kept::PLAIN;
    // The call site's plan has these bits only below ERROR.
    if plan & (callsite::PLAN_DROP | callsite::PLAN_BUFFER) != 0 {
        let hot = hot();
        if hot.unsampled.get() {
            if plan & callsite::PLAN_DROP != 0 {
                count_unsampled(hot, level);
                return None;
            }
            kept.flags = FLAG_BUFFERED;
        }
    }
    if plan & callsite::PLAN_SITE != 0 {
        return site_stage(cs, level, kept);
    }
    Some(kept)
}

/// The per-call-site stage for a call at `level` that the trace-aware stage
/// passed as `kept`: `None` when sampled out (and counted).
#[inline(always)]
fn site_stage(cs: &'static Callsite, level: usize, mut kept: Kept) -> Option<Kept> {
    let now = clock::engine_mono_ns();
    let sites = hot().sites.get();
    let n = if sites.is_null() {
        cs.sampler().sample(now, &sampler::policy_at(level))
    } else {
        // SAFETY: a non-null pointer points into this thread's
        // `RingShared`, kept alive by the thread's state, which clears
        // the pointer before it is freed (`Owner`'s destructor); this
        // thread is the table's owner.
        unsafe { &*sites }.sample(cs.id(), cs.sampler(), now, || sampler::policy_at(level))
    };
    match n {
        0 => None,
        n => {
            kept.adjusted = u32::try_from(n).unwrap_or(u32::MAX);
            Some(kept)
        }
    }
}

/// Counts a record of an unsampled trace sampled out on this thread: one
/// load and one store on a counter only this thread writes.
#[inline(always)]
fn count_unsampled(hot: &Hot, level: usize) {
    let p = hot.unsampled_counts.get();
    if p.is_null() {
        return count_unsampled_slow(level);
    }
    // SAFETY: a non-null pointer points into this thread's `RingShared`,
    // kept alive by the thread's state, which clears the pointer before it
    // is freed (`Owner`'s destructor).
    let counts = unsafe { &*p };
    if let Some(c) = counts.get(level) {
        // Only this thread writes it: a load and a store, no locked add.
        c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}

/// [`count_unsampled`] on a thread without a ring yet.
#[cold]
#[inline(never)]
fn count_unsampled_slow(level: usize) {
    if create_state() {
        let p = hot().unsampled_counts.get();
        if !p.is_null() {
            return count_unsampled(hot(), level);
        }
    }
    engine::count_discarded();
}

/// Captures a span record with the span's own context.
#[inline(always)]
pub(crate) fn dispatch_span<L: ValueList>(head: &RecHead<'_>, cs: &'static Callsite, values: &L) {
    emit(Some(head), cs, None, values, Kept::PLAIN);
}

/// Captures a record built on the stack by the caller (a span's start, end,
/// or whole span: no values) without the serializer, copied in one piece.
#[inline(always)]
pub(crate) fn dispatch_fixed<const N: usize>(rec: &[u8; N]) {
    let hot = hot();
    let p = hot.state.replace(ptr::null_mut());
    if p.is_null() {
        return fixed_slow(rec);
    }
    let _held = Release { hot, state: p };
    // SAFETY: taken out of `Hot` above (see `capture`); no user code runs
    // while the reference lives, and `_held` puts the state back after.
    unsafe { (*p).ring.push_fixed(rec) };
}

/// [`dispatch_fixed`] on a thread without a ring yet (or inside another
/// call on this thread, where the record is discarded and counted).
#[cold]
#[inline(never)]
fn fixed_slow(rec: &[u8]) {
    if create_state() {
        let hot = hot();
        let p = hot.state.replace(ptr::null_mut());
        if !p.is_null() {
            let _held = Release { hot, state: p };
            // SAFETY: as in `dispatch_fixed`.
            unsafe { (*p).ring.push(rec, false) };
            return;
        }
    }
    engine::count_discarded();
}

/// `head` is `None` for a log record, which takes the thread's context
/// and the sampler's `kept`.
#[inline(always)]
fn emit<L: ValueList>(
    head: Option<&RecHead<'_>>,
    cs: &'static Callsite,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
    kept: Kept,
) {
    let ts = clock::now();
    // Take the state out of `Hot`: while it is out, this call holds the only
    // way to reach it (a nested call on this thread sees null and takes the
    // slow path; no other thread can reach this thread-local).
    let hot = hot();
    let p = hot.state.replace(ptr::null_mut());
    if p.is_null() {
        return capture_slow(head, cs, ts, msg, values, kept);
    }
    let held = Release { hot, state: p };
    match head {
        Some(h) => capture(&held, cs, ts, h, msg, values),
        None => {
            if hot.in_trace.get() {
                // The id is copied out of the cell (only when there is one):
                // a Display impl run by this call may enter another span.
                let corr;
                let h = RecHead {
                    kind: KIND_LOG,
                    flags: kept.flags,
                    adjusted: kept.adjusted,
                    ctx: hot.ctx.get(),
                    corr: if hot.has_corr.get() {
                        // SAFETY: a non-null `extra` holds a strong count
                        // (see `Hot::extra`); the id is copied before any
                        // user code runs.
                        corr = unsafe { (*hot.extra.get()).corr.unwrap_or(CorrId::EMPTY) };
                        Some(&corr)
                    } else {
                        None
                    },
                    ts: None,
                };
                capture(&held, cs, ts, &h, msg, values)
            } else {
                #[cfg(feature = "opentelemetry")]
                let ctx = if crate::context::interop_enabled() {
                    crate::context::otel_current()
                } else {
                    TraceContext::default()
                };
                #[cfg(not(feature = "opentelemetry"))]
                let ctx = TraceContext::default();
                let h = RecHead {
                    kind: KIND_LOG,
                    flags: kept.flags,
                    adjusted: kept.adjusted,
                    ctx,
                    corr: None,
                    ts: None,
                };
                capture(&held, cs, ts, &h, msg, values)
            }
        }
    }
}

/// Captures with the thread's state held: `held.state` is non-null, points to
/// the ThreadState owned by this thread's `OWNER` (whose destructor clears
/// `Hot::state` before freeing it), and was taken out of `Hot`. References to
/// it are made for short scopes only, never across code that hands it back.
#[inline(always)]
fn capture<L: ValueList>(
    held: &Release<'_>,
    cs: &'static Callsite,
    ts: u64,
    head: &RecHead<'_>,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    // Fast path: the size is known, so the record is written straight into the
    // ring when the free space there is contiguous.
    if msg.is_none()
        && let Some(n) = values.encoded_len()
    {
        // SAFETY: see `held`: this thread holds the state exclusively, and the
        // reference ends with this block. A call nested in a `Value` impl
        // finds `Hot::state` null and never reaches the state.
        let st = unsafe { &mut *held.state };
        if st.ring.direct(cs, ts, head, values, n) {
            return;
        }
    }
    capture_scratch(held, cs, ts, head, msg, values);
}

impl ThreadRing {
    #[inline(always)]
    fn direct<L: ValueList>(
        &mut self,
        cs: &'static Callsite,
        ts: u64,
        head: &RecHead<'_>,
        values: &L,
        values_len: usize,
    ) -> bool {
        let mut need = HEADER_LEN + values_len;
        if head.ctx.is_some() {
            need += CTX_LEN;
        }
        if let Some(c) = head.corr {
            need += 4 + c.len();
        }
        if let Some(t) = &head.ts {
            need += 4 + t.len();
        }
        if need > self.limit {
            return false;
        }
        let Ok(mut chunk) = self.producer.write_chunk_uninit(need) else {
            return false;
        };
        let (first, _) = chunk.as_mut_slices();
        if first.len() < need {
            // The free space wraps around the ring's end.
            return false;
        }
        let mut buf = RecordBuf::new(first, self.limit);
        begin(&mut buf, cs, ts, head);
        values.record_all(&mut buf);
        let truncated = buf.is_truncated();
        if truncated {
            // A value's `encoded_len` was wrong: leave the chunk uncommitted
            // and take the scratch path, which has room for the real sizes.
            return false;
        }
        let n = buf.finish_adjusted(head.adjusted);
        // SAFETY: `RecordBuf` initialized the first `n` bytes of `first`, which
        // are the chunk's first `n` slots (`first` is the chunk's first slice).
        unsafe { chunk.commit(n) };
        self.count(truncated);
        true
    }

    #[inline(always)]
    fn count(&mut self, truncated: bool) {
        self.produced += 1;
        self.shared.produced.store(self.produced, Ordering::Relaxed);
        if truncated {
            self.engine
                .counters
                .truncated
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Copies a finished record into the ring, applying the overflow policy.
    #[inline(always)]
    fn push(&mut self, bytes: &[u8], truncated: bool) {
        self.count(truncated);
        if self.producer.push_entire_slice(bytes).is_err() {
            self.full(bytes);
        }
    }

    /// [`ThreadRing::push`] for a record of a size known at compile time:
    /// one fixed-size store when the free space does not wrap.
    #[inline(always)]
    fn push_fixed<const N: usize>(&mut self, rec: &[u8; N]) {
        if let Ok(mut chunk) = self.producer.write_chunk_uninit(N) {
            let (first, _) = chunk.as_mut_slices();
            if first.len() >= N {
                // SAFETY: `first` holds at least `N` writable slots, the
                // chunk's first ones; all `N` are initialized by this store
                // before they are committed.
                unsafe {
                    first.as_mut_ptr().cast::<[u8; N]>().write_unaligned(*rec);
                    chunk.commit(N);
                }
                self.count(false);
                return;
            }
        }
        self.push(rec, false);
    }

    #[cold]
    #[inline(never)]
    fn full(&mut self, bytes: &[u8]) {
        if self.overflow == Overflow::Block {
            let backoff = Backoff::new();
            loop {
                if backoff.is_completed() {
                    // Wake the writer only while it is parked for want of
                    // records. When it waits on something else (the export
                    // thread's buffers), a wake is a futex call and a context
                    // switch for nothing, and on a small machine it takes CPU
                    // from the threads that would make room.
                    if self.engine.writer_idle.load(Ordering::Acquire) {
                        self.engine.wake_writer();
                    }
                    std::thread::yield_now();
                } else {
                    backoff.snooze();
                }
                if self.producer.push_entire_slice(bytes).is_ok() {
                    return;
                }
                if !self.engine.writer_alive.load(Ordering::Acquire) {
                    break;
                }
            }
        }
        self.dropped += 1;
        self.shared.dropped.store(self.dropped, Ordering::Relaxed);
    }
}

/// The general path: serialize into the thread's scratch buffer, then copy
/// into the ring. Formatting runs user code (Display, Debug), so the thread's
/// state is handed back to `Hot` meanwhile, with the scratch buffer taken out:
/// a record logged from inside a Display impl is captured normally.
#[inline(never)]
fn capture_scratch<L: ValueList>(
    held: &Release<'_>,
    cs: &'static Callsite,
    ts: u64,
    head: &RecHead<'_>,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    let p = held.state;
    // SAFETY: held exclusively (see `capture`); the reference ends here.
    let (scratch, limit) = unsafe {
        let st = &mut *p;
        (std::mem::take(&mut st.scratch), st.ring.limit)
    };
    let mut scratch = ScratchGuard {
        state: p,
        buf: scratch,
    };
    if scratch.buf.is_empty() {
        // A Display impl of an outer call on this thread is formatting into
        // the scratch buffer: use a temporary one (a cold path), which the
        // guard does not put back.
        scratch.state = ptr::null_mut();
        scratch.buf = vec![MaybeUninit::uninit(); limit + SLACK].into_boxed_slice();
    }
    // Hand the state back while user code formats; no reference to it lives.
    held.hot.state.set(p);
    let (len, truncated) = write_record(&mut scratch.buf, limit, cs, ts, head, msg, values);
    held.hot.state.set(ptr::null_mut());
    // SAFETY: taken out of `Hot` again; nested calls during formatting have
    // all returned, and only `Owner`'s destructor, which cannot run during
    // this call, changes the pointer. The reference ends before the guard
    // puts the buffer back.
    push_scratch(unsafe { &mut *p }, &scratch.buf, len, truncated);
}

/// Puts the thread's scratch buffer back when formatting is done, also when
/// a Display impl panicked (otherwise every later call on the thread would
/// take the temporary-buffer path).
struct ScratchGuard {
    /// The state to return the buffer to; null for a temporary buffer.
    state: *mut ThreadState,
    buf: Box<[MaybeUninit<u8>]>,
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        if !self.state.is_null() {
            // SAFETY: `state` is this thread's live state (see `capture`). On
            // the normal path this call holds it exclusively; when a Display
            // impl panicked, the frames that held references to it are gone,
            // so this is the only one.
            unsafe { (*self.state).scratch = std::mem::take(&mut self.buf) };
        }
    }
}

#[inline(always)]
fn push_scratch(st: &mut ThreadState, scratch: &[MaybeUninit<u8>], len: usize, truncated: bool) {
    // SAFETY: `write_record` initialized the first `len` bytes.
    let bytes = unsafe { scratch[..len].assume_init_ref() };
    st.ring.push(bytes, truncated);
}

#[inline(always)]
fn begin(buf: &mut RecordBuf<'_>, cs: &'static Callsite, ts: u64, head: &RecHead<'_>) {
    buf.begin_kind(
        head.kind,
        head.flags,
        cs.id(),
        ts,
        &Prefix {
            ctx: &head.ctx,
            corr: head.corr.map(CorrId::as_str),
            tracestate: head.ts.as_ref(),
        },
    );
}

/// Serializes a record into `window`; returns its length and whether it was cut.
#[inline(always)]
fn write_record<L: ValueList>(
    window: &mut [MaybeUninit<u8>],
    limit: usize,
    cs: &'static Callsite,
    ts: u64,
    head: &RecHead<'_>,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) -> (usize, bool) {
    let mut buf = RecordBuf::new(window, limit);
    begin(&mut buf, cs, ts, head);
    if let Some(m) = msg {
        buf.message(m);
    }
    values.record_all(&mut buf);
    let truncated = buf.is_truncated();
    (buf.finish_adjusted(head.adjusted), truncated)
}

/// No state in `Hot`: the thread's first call, a call nested inside a
/// `Value::record` impl of a size-known value, or a call during the thread's
/// teardown.
#[cold]
#[inline(never)]
fn capture_slow<L: ValueList>(
    head: Option<&RecHead<'_>>,
    cs: &'static Callsite,
    ts: u64,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
    kept: Kept,
) {
    if create_state() {
        emit(head, cs, msg, values, kept);
        // `emit` took a new timestamp; the first call's is at most a
        // ring allocation later, which is what a first call costs.
        let _ = ts;
    } else {
        engine::count_discarded();
    }
}

/// See [`crate::prepare_thread`].
pub(crate) fn prepare_thread() -> bool {
    let hot = hot();
    if hot.state.get().is_null() && !create_state() {
        return false;
    }
    // Non-null here: it existed, or `create_state` just installed it.
    let p = hot.state.replace(ptr::null_mut());
    if p.is_null() {
        return false;
    }
    let _held = Release { hot, state: p };
    // SAFETY: taken out of `Hot` above (see `capture`); no user code runs
    // while the reference lives, and `_held` puts the state back after.
    let state = unsafe { &mut *p };
    // Every free slot of the ring, written and not committed: the pages are
    // now backed, and the reader sees nothing.
    let free = state.ring.producer.slots();
    if let Ok(mut chunk) = state.ring.producer.write_chunk_uninit(free) {
        let (first, second) = chunk.as_mut_slices();
        first.fill(MaybeUninit::new(0));
        second.fill(MaybeUninit::new(0));
    }
    state.scratch.fill(MaybeUninit::new(0));
    true
}

/// Creates this thread's ring and scratch state. False when there is no
/// engine, the thread is muted (the export thread), its state is being torn
/// down, or a call on this thread holds the state (a nested call).
fn create_state() -> bool {
    OWNER
        .try_with(|o| {
            if crate::thread_role::is_muted_thread() {
                return false;
            }
            let Ok(mut owner) = o.try_borrow_mut() else {
                return false;
            };
            if owner.0.is_some() {
                // The state exists but a call on this thread holds it.
                return false;
            }
            let Some(state) = new_state() else {
                return false;
            };
            let boxed = owner.0.insert(Box::new(state));
            let counts: *const [AtomicU64; LEVELS] = &boxed.ring.shared.unsampled_dropped;
            let sites: *const ThreadSlots = &boxed.ring.shared.sites;
            HOT.with(|h| {
                h.state.set(&mut **boxed as *mut ThreadState);
                h.unsampled_counts.set(counts);
                h.sites.set(sites);
            });
            true
        })
        .unwrap_or(false)
}

/// A thread's ring (registered with the writer) and scratch buffer; `None`
/// when no engine runs.
fn new_state() -> Option<ThreadState> {
    let engine = engine::get()?;
    let limit = engine.settings.record_limit;
    let (producer, consumer) = rtrb::RingBuffer::new(engine.settings.ring_capacity);
    let t = std::thread::current();
    let thread = match t.name() {
        Some(n) => n.to_owned(),
        None => format!("{:?}", t.id()),
    };
    let shared = Arc::new(RingShared {
        produced: CachePadded::new(AtomicU64::new(0)),
        dropped: AtomicU64::new(0),
        unsampled_dropped: [const { AtomicU64::new(0) }; LEVELS],
        sites: ThreadSlots::new(),
        thread,
    });
    engine.add_ring(NewRing {
        consumer,
        shared: shared.clone(),
    });
    Some(ThreadState {
        ring: ThreadRing {
            producer,
            shared,
            engine,
            overflow: engine.settings.overflow,
            limit,
            produced: 0,
            dropped: 0,
        },
        scratch: vec![MaybeUninit::uninit(); limit + SLACK].into_boxed_slice(),
    })
}

/// Sets the flags that summarize the current context.
#[inline(always)]
fn set_trace(h: &Hot, ctx: &TraceContext, corr: bool) {
    h.in_trace.set(ctx.is_some() || corr);
    h.unsampled.set(ctx.is_some() && ctx.trace_flags & 1 == 0);
}

/// Replaces this thread's trace context, returning the previous one.
pub(crate) fn set_context(ctx: TraceContext) -> TraceContext {
    HOT.with(|h| {
        set_trace(h, &ctx, h.has_corr.get());
        h.th.set(NO_TH);
        let prev = h.ctx.replace(ctx);
        if prev.is_some() {
            prev
        } else {
            TraceContext::default()
        }
    })
}

/// This thread's current trace context (all zero outside a trace).
#[inline(always)]
pub(crate) fn current_ctx() -> TraceContext {
    let h = hot();
    if h.in_trace.get() {
        h.ctx.get()
    } else {
        TraceContext::default()
    }
}

/// True when no trace and no correlation id is current on this thread.
#[inline(always)]
pub(crate) fn is_outside_trace() -> bool {
    !hot().in_trace.get()
}

/// This thread's current span: its context, `th` and optional part, read
/// in one visit (a thread outside any trace reads one flag).
#[inline(always)]
pub(crate) fn current_span_parts() -> (TraceContext, u64, Option<Arc<SpanExtra>>) {
    let h = hot();
    if !h.in_trace.get() {
        return (TraceContext::default(), NO_TH, None);
    }
    (h.ctx.get(), h.th.get(), current_extra())
}

/// This thread's current span's optional part, shared.
#[inline(always)]
pub(crate) fn current_extra() -> Option<Arc<SpanExtra>> {
    let p = hot().extra.get();
    if p.is_null() {
        return None;
    }
    // SAFETY: a non-null `extra` came from `Arc::into_raw` and holds a
    // strong count (see `Hot::extra`), so the allocation is live; the count
    // taken here belongs to the `Arc` returned.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// This thread's current span's `th` ([`NO_TH`]: none).
#[inline(always)]
pub(crate) fn current_th() -> u64 {
    let h = hot();
    if h.in_trace.get() { h.th.get() } else { NO_TH }
}

/// What [`enter`] replaced. Owns the strong count of `extra` until
/// [`leave`] hands it back to the thread.
#[derive(Debug)]
pub(crate) struct Prev {
    ctx: TraceContext,
    th: u64,
    extra: *const SpanExtra,
}

fn has_corr(extra: *const SpanExtra) -> bool {
    // SAFETY: non-null `extra` pointers in `Hot` and `Prev` hold a count.
    !extra.is_null() && unsafe { (*extra).corr.is_some() }
}

/// Makes `ctx`, `th` and `extra` current on this thread; returns what was.
#[inline(always)]
pub(crate) fn enter(ctx: TraceContext, th: u64, extra: Option<&Arc<SpanExtra>>) -> Prev {
    let h = hot();
    let new = extra.map_or(ptr::null(), |e| Arc::into_raw(Arc::clone(e)));
    let prev = Prev {
        ctx: h.ctx.get(),
        th: h.th.get(),
        extra: h.extra.replace(new),
    };
    h.ctx.set(ctx);
    h.th.set(th);
    let corr = has_corr(new);
    h.has_corr.set(corr);
    set_trace(h, &ctx, corr);
    prev
}

/// Restores what [`enter`] replaced.
#[inline(always)]
pub(crate) fn leave(prev: Prev) {
    let h = hot();
    h.ctx.set(prev.ctx);
    h.th.set(prev.th);
    let cur = h.extra.replace(prev.extra);
    let corr = has_corr(prev.extra);
    h.has_corr.set(corr);
    set_trace(h, &prev.ctx, corr);
    if !cur.is_null() {
        // SAFETY: `cur` was installed by `enter` with a count of its own,
        // which is released here, once.
        drop(unsafe { Arc::from_raw(cur) });
    }
}

/// Drops a saved context without making it current (releases its count).
#[cfg(feature = "tracing")]
pub(crate) fn discard(prev: Prev) {
    if !prev.extra.is_null() {
        // SAFETY: `prev.extra` was taken from `Hot` by `enter` with the count
        // `Hot` held; it is released here, once, instead of by `leave`.
        drop(unsafe { Arc::from_raw(prev.extra) });
    }
}

/// The thread's correlation id, if one is current.
pub(crate) fn current_correlation_id() -> Option<String> {
    let h = hot();
    if !h.has_corr.get() {
        return None;
    }
    // SAFETY: see `Hot::extra`; the id is copied out at once.
    let corr = unsafe { (*h.extra.get()).corr };
    corr.map(|c| c.as_str().to_owned())
}

/// wyrand's increment (the Weyl sequence's step) and its mixing constant.
const WY_INC: u64 = 0xa076_1d64_78bd_642f;
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

/// `N` fresh non-zero random `u64`s from this thread's generator.
#[inline(always)]
pub(crate) fn next_randoms<const N: usize>() -> [u64; N] {
    let base = reserve_randoms::<N>();
    let mut out = [0u64; N];
    for (k, o) in (1u64..).zip(out.iter_mut()) {
        *o = random_at(base, k);
    }
    out
}

/// Reserves the next `N` outputs of this thread's generator without
/// computing them: returns the state they are drawn from, for
/// [`random_at`] (a span whose ids nobody may read draws them late).
#[inline(always)]
pub(crate) fn reserve_randoms<const N: usize>() -> u64 {
    let h = hot();
    let mut x = h.rng.get();
    if x == 0 {
        x = seed();
    }
    h.rng.set(x.wrapping_add((N as u64).wrapping_mul(WY_INC)));
    x
}

/// Output `k` (counted from 1) of the outputs reserved at `base`: the same
/// value [`next_randoms`] gives, whenever it is computed.
///
/// wyrand (Wang Yi; passes BigCrush and PractRand): a Weyl sequence mixed
/// by one 64x64->128 multiply. An output depends on the state only through
/// the addition, so outputs are computed side by side, or later. An output
/// of 0 (probability 2^-64) becomes 1: ids are never zero.
#[inline(always)]
pub(crate) fn random_at(base: u64, k: u64) -> u64 {
    let x = base.wrapping_add(k.wrapping_mul(WY_INC));
    let t = u128::from(x) * u128::from(x ^ WY_XOR);
    let v = (t >> 64) as u64 ^ t as u64;
    v | u64::from(v == 0)
}

#[cold]
fn seed() -> u64 {
    let r = crate::id::random_u128();
    ((r >> 64) as u64 ^ r as u64) | 1
}
