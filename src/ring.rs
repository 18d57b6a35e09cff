//! The calling thread's ring and the capture path.
//!
//! On its first enabled call a thread creates an `rtrb` ring of the configured
//! capacity and hands the consumer end to the writer. Each call then
//! serializes its record into a reused thread-local buffer and copies it into
//! the ring in one piece: no lock, no allocation, no system call.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::{Backoff, CachePadded};

use crate::callsite::Callsite;
use crate::clock;
use crate::config::Overflow;
use crate::engine::{self, Engine, NewRing};
use crate::record::{CTX_LEN, HEADER_LEN, RecordBuf, SLACK, TraceContext};
use crate::value::ValueList;

/// What a ring shares with the writer and with `stats()`.
#[derive(Debug)]
pub(crate) struct RingShared {
    /// Records captured by this thread (written by the owner thread only).
    pub produced: CachePadded<AtomicU64>,
    /// Records this thread dropped because its ring was full.
    pub dropped: AtomicU64,
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

struct Local {
    ring: RefCell<Option<ThreadRing>>,
    scratch: RefCell<Option<Box<[MaybeUninit<u8>]>>>,
    ctx: Cell<TraceContext>,
    /// `ctx` holds a trace: checked first, so calls outside a trace copy nothing.
    in_trace: Cell<bool>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            ring: RefCell::new(None),
            scratch: RefCell::new(None),
            ctx: Cell::new(TraceContext { trace_id: 0, span_id: 0, parent_span_id: 0, trace_flags: 0 }),
            in_trace: Cell::new(false),
        }
    };
}

/// Captures one record: called by the macros once the call site is enabled.
/// `msg` is the formatted message of a call site with format arguments.
#[doc(hidden)]
#[inline(always)]
pub fn dispatch<L: ValueList>(cs: &'static Callsite, msg: Option<fmt::Arguments<'_>>, values: &L) {
    let ts = clock::now();
    if LOCAL.try_with(|l| capture(l, cs, ts, msg, values)).is_err() {
        // Thread-local storage is being torn down (a call from a TLS destructor).
        engine::count_discarded();
    }
}

#[inline(always)]
fn capture<L: ValueList>(
    l: &Local,
    cs: &'static Callsite,
    ts: u64,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    let ctx = if l.in_trace.get() {
        l.ctx.get()
    } else {
        TraceContext::default()
    };
    // Fast path: the size is known, so the record is written straight into the
    // ring when the free space there is contiguous.
    if msg.is_none()
        && let Some(n) = values.encoded_len()
        && let Ok(mut slot) = l.ring.try_borrow_mut()
        && let Some(ring) = slot.as_mut()
        && ring.direct(cs, ts, &ctx, values, n)
    {
        return;
    }
    capture_scratch(l, cs, ts, &ctx, msg, values);
}

impl ThreadRing {
    #[inline(always)]
    fn direct<L: ValueList>(
        &mut self,
        cs: &'static Callsite,
        ts: u64,
        ctx: &TraceContext,
        values: &L,
        values_len: usize,
    ) -> bool {
        let need = HEADER_LEN + if ctx.is_some() { CTX_LEN } else { 0 } + values_len;
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
        buf.begin(cs.id(), ts, ctx);
        values.record_all(&mut buf);
        let truncated = buf.is_truncated();
        if truncated {
            // A value's `encoded_len` was wrong: leave the chunk uncommitted
            // and take the scratch path, which has room for the real sizes.
            return false;
        }
        let n = buf.finish();
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
    fn push(&mut self, bytes: &[u8], truncated: bool) {
        self.count(truncated);
        if self.producer.push_entire_slice(bytes).is_err() {
            self.full(bytes);
        }
    }

    #[cold]
    #[inline(never)]
    fn full(&mut self, bytes: &[u8]) {
        if self.overflow == Overflow::Block {
            let backoff = Backoff::new();
            loop {
                if backoff.is_completed() {
                    self.engine.wake_writer();
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

/// The general path: serialize into the thread's scratch buffer (formatting
/// happens here, with the ring not borrowed), then copy into the ring.
#[inline(never)]
fn capture_scratch<L: ValueList>(
    l: &Local,
    cs: &'static Callsite,
    ts: u64,
    ctx: &TraceContext,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    let Ok(mut slot) = l.scratch.try_borrow_mut() else {
        // A value's Display/Debug impl logged while this thread was already
        // formatting a record: use a temporary buffer (a cold path).
        return capture_nested(l, cs, ts, ctx, msg, values);
    };
    let Some(scratch) = slot.as_mut() else {
        drop(slot);
        if first_call(l) {
            capture_scratch(l, cs, ts, ctx, msg, values);
        }
        return;
    };
    let limit = scratch.len() - SLACK;
    write_and_push(l, scratch, limit, cs, ts, ctx, msg, values);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn write_and_push<L: ValueList>(
    l: &Local,
    window: &mut [MaybeUninit<u8>],
    limit: usize,
    cs: &'static Callsite,
    ts: u64,
    ctx: &TraceContext,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    let mut buf = RecordBuf::new(window, limit);
    buf.begin(cs.id(), ts, ctx);
    if let Some(m) = msg {
        buf.message(m);
    }
    values.record_all(&mut buf);
    let truncated = buf.is_truncated();
    buf.finish();
    match l.ring.try_borrow_mut() {
        Ok(mut slot) => match slot.as_mut() {
            Some(ring) => ring.push(buf.written(), truncated),
            None => engine::count_discarded(),
        },
        // A size-known value's `Value::record` impl logged while its record
        // was being written into the ring: that inner record is discarded.
        Err(_) => engine::count_discarded(),
    }
}

#[cold]
#[inline(never)]
fn capture_nested<L: ValueList>(
    l: &Local,
    cs: &'static Callsite,
    ts: u64,
    ctx: &TraceContext,
    msg: Option<fmt::Arguments<'_>>,
    values: &L,
) {
    let Some(engine) = engine::get() else {
        return engine::count_discarded();
    };
    let limit = engine.settings.record_limit;
    let mut window = vec![MaybeUninit::uninit(); limit + SLACK];
    write_and_push(l, &mut window, limit, cs, ts, ctx, msg, values);
}

/// A thread's first call: creates its ring and scratch buffer. False when no
/// engine runs (the call is counted as discarded).
#[cold]
#[inline(never)]
fn first_call(l: &Local) -> bool {
    let Some(engine) = engine::get() else {
        engine::count_discarded();
        return false;
    };
    let limit = engine.settings.record_limit;
    if l.ring.borrow().is_none() {
        let (producer, consumer) = rtrb::RingBuffer::new(engine.settings.ring_capacity);
        let t = std::thread::current();
        let thread = match t.name() {
            Some(n) => n.to_owned(),
            None => format!("{:?}", t.id()),
        };
        let shared = Arc::new(RingShared {
            produced: CachePadded::new(AtomicU64::new(0)),
            dropped: AtomicU64::new(0),
            thread,
        });
        engine.add_ring(NewRing {
            consumer,
            shared: shared.clone(),
        });
        *l.ring.borrow_mut() = Some(ThreadRing {
            producer,
            shared,
            engine,
            overflow: engine.settings.overflow,
            limit,
            produced: 0,
            dropped: 0,
        });
    }
    *l.scratch.borrow_mut() = Some(vec![MaybeUninit::uninit(); limit + SLACK].into_boxed_slice());
    true
}

/// The trace context copied into every record captured on this thread.
pub(crate) fn current_context() -> TraceContext {
    LOCAL.try_with(|l| l.ctx.get()).unwrap_or_default()
}

/// Replaces this thread's trace context, returning the previous one.
pub(crate) fn set_context(ctx: TraceContext) -> TraceContext {
    LOCAL
        .try_with(|l| {
            l.in_trace.set(ctx.is_some());
            l.ctx.replace(ctx)
        })
        .unwrap_or_default()
}
