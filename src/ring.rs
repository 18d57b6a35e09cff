//! The calling thread's ring and the capture path.
//!
//! On its first enabled call a thread creates an `rtrb` ring of the configured
//! capacity and hands the consumer end to the writer. Each call then
//! serializes its record into a reused thread-local buffer and copies it into
//! the ring in one piece: no lock, no allocation, no system call.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::{Backoff, CachePadded};

use crate::callsite::Callsite;
use crate::clock;
use crate::config::Overflow;
use crate::engine::{self, Engine, NewRing};
use crate::record::{RecordBuf, TraceContext};

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
    produced: u64,
    dropped: u64,
}

struct Local {
    ring: RefCell<Option<ThreadRing>>,
    buf: RefCell<Option<RecordBuf>>,
    ctx: Cell<TraceContext>,
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            ring: RefCell::new(None),
            buf: RefCell::new(None),
            ctx: Cell::new(TraceContext { trace_id: 0, span_id: 0, parent_span_id: 0, trace_flags: 0 }),
        }
    };
}

/// Captures one record: called by the macros once the call site is enabled.
#[doc(hidden)]
#[inline]
pub fn dispatch<F: FnOnce(&mut RecordBuf)>(cs: &'static Callsite, f: F) {
    let ts = clock::now();
    if LOCAL.try_with(|l| capture(l, cs, ts, f)).is_err() {
        // Thread-local storage is being torn down (a call from a TLS destructor).
        engine::count_discarded();
    }
}

#[inline(always)]
fn capture<F: FnOnce(&mut RecordBuf)>(l: &Local, cs: &'static Callsite, ts: u64, f: F) {
    let ctx = l.ctx.get();
    match l.buf.try_borrow_mut() {
        Ok(mut slot) => {
            let Some(buf) = slot.as_mut() else {
                drop(slot);
                return capture_first(l, cs, ts, f);
            };
            buf.begin(cs.id(), ts, &ctx);
            f(buf);
            push(l, buf);
        }
        // A value's Display/Debug impl logged while this thread was already
        // capturing: serialize into a temporary buffer (a cold path).
        Err(_) => capture_nested(l, cs, ts, &ctx, f),
    }
}

#[cold]
#[inline(never)]
fn capture_first<F: FnOnce(&mut RecordBuf)>(l: &Local, cs: &'static Callsite, ts: u64, f: F) {
    let Some(engine) = engine::get() else {
        return engine::count_discarded();
    };
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
            produced: 0,
            dropped: 0,
        });
    }
    *l.buf.borrow_mut() = Some(RecordBuf::new(engine.settings.record_limit));
    capture(l, cs, ts, f)
}

#[cold]
#[inline(never)]
fn capture_nested<F: FnOnce(&mut RecordBuf)>(
    l: &Local,
    cs: &'static Callsite,
    ts: u64,
    ctx: &TraceContext,
    f: F,
) {
    let Some(engine) = engine::get() else {
        return engine::count_discarded();
    };
    let mut buf = RecordBuf::new(engine.settings.record_limit);
    buf.begin(cs.id(), ts, ctx);
    f(&mut buf);
    push(l, &mut buf);
}

#[inline(always)]
fn push(l: &Local, buf: &mut RecordBuf) {
    let truncated = buf.is_truncated();
    let bytes = buf.finish();
    let Ok(mut slot) = l.ring.try_borrow_mut() else {
        // Unreachable in practice: the ring is borrowed only inside `push`,
        // which runs no user code.
        return engine::count_discarded();
    };
    let Some(ring) = slot.as_mut() else {
        return engine::count_discarded();
    };
    ring.produced += 1;
    ring.shared.produced.store(ring.produced, Ordering::Relaxed);
    if truncated {
        ring.engine
            .counters
            .truncated
            .fetch_add(1, Ordering::Relaxed);
    }
    if ring.producer.push_entire_slice(bytes).is_err() {
        ring.full(bytes);
    }
}

impl ThreadRing {
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

/// The trace context copied into every record captured on this thread.
pub(crate) fn current_context() -> TraceContext {
    LOCAL.try_with(|l| l.ctx.get()).unwrap_or_default()
}

/// Replaces this thread's trace context, returning the previous one.
pub(crate) fn set_context(ctx: TraceContext) -> TraceContext {
    LOCAL.try_with(|l| l.ctx.replace(ctx)).unwrap_or_default()
}
