//! Spans: named, timed units of work that log records inside them point to.
//!
//! ```
//! let span = datapunk_log::span!("charge_card", amount = 12.5);
//! let _entered = span.enter();
//! datapunk_log::info!(card = "visa", "charged"); // carries the span's ids
//! ```
//!
//! A span takes its parent from the thread's current context when it is
//! made (or from `parent:`), gets a fresh 64-bit span id from a thread-local
//! generator and, at a root, a fresh 128-bit trace id (W3C trace flags
//! `0x03`: sampled, random). Entering it makes its context current on the
//! thread until the guard drops; a log call then copies the trace id, span
//! id, parent span id and flags by value into its record: no lock, no
//! reference count.
//!
//! When an exporter that takes spans is configured, or span lines are on
//! (`Builder::span_fields`, `Builder::span_ends`), the span's start, its
//! later attributes, events and status, and its end are records in the
//! thread's ring, like log records; the export thread joins them into one
//! span, the writer keeps the live spans' names and fields for the lines.
//! Otherwise a span only sets the context (no record is written).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::callsite::Callsite;
use crate::clock;
use crate::corr::CorrId;
use crate::propagation::TraceState;
use crate::propagation::{Propagated, TraceParent};
use crate::record::{
    FLAG_REMOTE, KIND_SPAN_END, KIND_SPAN_EVENT, KIND_SPAN_START, KIND_SPAN_STATUS, RecordBuf,
    TraceContext, fixed_record, whole_span_record,
};
use crate::ring::{self, RecHead};
use crate::sampler::{self, Decision, ParentKind, SpanParams, Threshold};
use crate::span_extra::{self, NO_TH, SpanExtra, TsParts};
use crate::value::{Value, ValueList};

/// Trace flags of a sampled trace started here: sampled (`0x01`) and random
/// trace id (`0x02`, W3C Trace Context level 2). An unsampled root has
/// `0x02`.
pub const ROOT_TRACE_FLAGS: u8 = FLAG_SAMPLED | FLAG_RANDOM;
/// The W3C `sampled` trace flag.
pub const FLAG_SAMPLED: u8 = 0x01;
/// The W3C level-2 `random` trace flag: the trace id's right-most 7 bytes
/// are random.
pub const FLAG_RANDOM: u8 = 0x02;

/// Span records are written: [`RECORD_OFF`], [`RECORD_LAZY`] or
/// [`RECORD_STARTS`]. Set while an exporter that takes spans is installed,
/// or span lines are on (`Builder::span_fields`, `Builder::span_ends`).
static RECORD_SPANS: AtomicU8 = AtomicU8::new(RECORD_OFF);
/// No span records.
const RECORD_OFF: u8 = 0;
/// Span records; a span without fields, correlation id or later records is
/// written once, at its end (`KIND_SPAN`).
const RECORD_LAZY: u8 = 1;
/// Span records, every span's start written when it starts: the writer
/// names the span on the lines inside it (`Builder::span_fields`).
const RECORD_STARTS: u8 = 2;

/// Turns span records on (keeping [`RECORD_STARTS`] when it is set) or off.
pub(crate) fn set_recording(on: bool) {
    let mode = match (on, RECORD_SPANS.load(Ordering::Relaxed)) {
        (false, _) => RECORD_OFF,
        (true, RECORD_STARTS) => RECORD_STARTS,
        (true, _) => RECORD_LAZY,
    };
    RECORD_SPANS.store(mode, Ordering::Release);
}

/// Span records on, each span's start written at its start.
pub(crate) fn set_recording_starts() {
    RECORD_SPANS.store(RECORD_STARTS, Ordering::Release);
}

/// A span without fields may be written once, at its end.
#[inline(always)]
fn lazy_start() -> bool {
    RECORD_SPANS.load(Ordering::Relaxed) == RECORD_LAZY
}

/// A fresh span id: random, never zero.
#[inline(always)]
pub fn new_span_id() -> u64 {
    ring::next_randoms::<1>()[0]
}

/// A fresh trace id: random, never zero.
#[inline(always)]
pub fn new_trace_id() -> u128 {
    let [a, b] = ring::next_randoms::<2>();
    (u128::from(a) << 64) | u128::from(b)
}

/// Where a new span takes its parent from.
#[derive(Debug, Clone, Copy)]
pub enum Parent<'a> {
    /// The thread's current context (the default).
    Current,
    /// No parent: a new trace.
    Root,
    /// A span of this process.
    Span(&'a Span),
    /// A context received from another process, with its correlation id.
    Remote(&'a Propagated),
    /// A bare trace context from another process.
    Context(TraceContext),
}

impl<'a> From<&'a Span> for Parent<'a> {
    fn from(s: &'a Span) -> Self {
        Parent::Span(s)
    }
}

impl<'a> From<&'a Propagated> for Parent<'a> {
    fn from(p: &'a Propagated) -> Self {
        Parent::Remote(p)
    }
}

impl From<TraceContext> for Parent<'_> {
    fn from(c: TraceContext) -> Self {
        Parent::Context(c)
    }
}

impl From<Option<TraceContext>> for Parent<'_> {
    fn from(c: Option<TraceContext>) -> Self {
        c.map_or(Parent::Root, Parent::Context)
    }
}

/// A span's ids and flags, held as 64-bit words: a [`TraceContext`] is
/// 16-byte aligned for its `u128` (48 bytes with padding), and a `Span`
/// holding one was moved around with its padding on every start.
///
/// A span the sampler did not keep may hold its ids *reserved* instead
/// (`lazy`): the thread's generator was advanced past them at the start,
/// and `span_id` holds the generator state they are drawn from
/// ([`ring::random_at`]), so they are computed, always to the same values,
/// only when read: a span that is started and ended without anyone looking
/// at its ids never computes them.
#[derive(Clone, Copy)]
struct Ids {
    trace_hi: u64,
    trace_lo: u64,
    span_id: u64,
    parent_span_id: u64,
    flags: u8,
    lazy: u8,
}

/// [`Ids::lazy`]: the ids are as stored.
const EAGER: u8 = 0;
/// A root's three ids are reserved: span id output 1, trace id outputs 2
/// (high half) and 3 (low half), as [`ring::next_randoms`] orders them.
const LAZY_ROOT: u8 = 1;
/// A child's span id is reserved (output 1); its trace id is stored.
const LAZY_SPAN: u8 = 2;

impl Ids {
    const ZERO: Ids = Ids {
        trace_hi: 0,
        trace_lo: 0,
        span_id: 0,
        parent_span_id: 0,
        flags: 0,
        lazy: EAGER,
    };

    #[inline(always)]
    fn of(c: TraceContext) -> Ids {
        Ids {
            trace_hi: (c.trace_id >> 64) as u64,
            trace_lo: c.trace_id as u64,
            span_id: c.span_id,
            parent_span_id: c.parent_span_id,
            flags: c.trace_flags,
            lazy: EAGER,
        }
    }

    /// An unsampled root whose ids were reserved at `base`.
    #[inline(always)]
    fn lazy_root(base: u64) -> Ids {
        Ids {
            trace_hi: 0,
            trace_lo: 0,
            span_id: base,
            parent_span_id: 0,
            flags: FLAG_RANDOM,
            lazy: LAZY_ROOT,
        }
    }

    /// The context of a sampled root whose ids were reserved at `base`
    /// (the ids [`Ids::lazy_root`] computes when read).
    #[inline(always)]
    fn sampled_root(base: u64) -> TraceContext {
        TraceContext {
            trace_flags: FLAG_RANDOM | FLAG_SAMPLED,
            ..Ids::lazy_root(base).ctx()
        }
    }

    /// An unsampled child of `parent` whose span id is reserved now.
    #[inline(always)]
    fn lazy_child(parent: &TraceContext, flags: u8) -> Ids {
        Ids {
            trace_hi: (parent.trace_id >> 64) as u64,
            trace_lo: parent.trace_id as u64,
            span_id: ring::reserve_randoms::<1>(),
            parent_span_id: parent.span_id,
            flags,
            lazy: LAZY_SPAN,
        }
    }

    /// True when the span has no trace (a disabled span, `Span::none`).
    #[inline(always)]
    fn is_zero(&self) -> bool {
        self.lazy == EAGER && self.trace_hi == 0 && self.trace_lo == 0
    }

    /// The ids as stored: those of a span whose ids are not reserved (a
    /// recorded span's always are).
    #[inline(always)]
    fn stored(self) -> TraceContext {
        debug_assert_eq!(self.lazy, EAGER);
        TraceContext {
            trace_id: (u128::from(self.trace_hi) << 64) | u128::from(self.trace_lo),
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            trace_flags: self.flags,
        }
    }

    #[inline(always)]
    fn ctx(self) -> TraceContext {
        let (hi, lo, span_id) = match self.lazy {
            LAZY_ROOT => (
                ring::random_at(self.span_id, 2),
                ring::random_at(self.span_id, 3),
                ring::random_at(self.span_id, 1),
            ),
            LAZY_SPAN => (
                self.trace_hi,
                self.trace_lo,
                ring::random_at(self.span_id, 1),
            ),
            _ => (self.trace_hi, self.trace_lo, self.span_id),
        };
        TraceContext {
            trace_id: (u128::from(hi) << 64) | u128::from(lo),
            span_id,
            parent_span_id: self.parent_span_id,
            trace_flags: self.flags,
        }
    }
}

/// A span's final status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<'a> {
    /// Completed successfully.
    Ok,
    /// Failed, with a description.
    Error(&'a str),
}

/// A span. It ends when dropped (or at [`Span::end`]); enter it with
/// [`Span::enter`] to make it the thread's current span.
///
/// A `Span` is `Send`: a future carrying one ([`Instrument`]) may move
/// between threads. A span that was disabled by the filter, or made with
/// [`Span::none`], does nothing.
pub struct Span {
    ids: Ids,
    /// The call site, when the span's records are written (a span this
    /// handle ends; `None` for an unsampled span, a view or none). A span
    /// with a call site never has reserved ids ([`Ids::stored`]).
    cs: Option<&'static Callsite>,
    /// The span's `th` (consistent probability sampling), [`NO_TH`]: none.
    th: u64,
    /// Correlation id and tracestate beyond `th`: only spans of a request
    /// that carries one pay (shared with its children).
    extra: Option<Arc<SpanExtra>>,
    /// Raw start time of a span whose start record is not written yet
    /// (0: written, or nothing to write). A span without fields writes one
    /// record when it ends; a later `record`/`set_status`/event writes the
    /// start first.
    pending_start: AtomicU64,
    /// Record flags of the start (`FLAG_REMOTE`).
    start_flags: u8,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span")
            .field("name", &self.cs.map(|c| c.metadata().message))
            .field("context", &self.ctx())
            .field("correlation_id", &self.correlation_id())
            .finish()
    }
}

impl Span {
    /// A span that does nothing: entering it leaves the context as it is.
    pub const fn none() -> Span {
        Span {
            ids: Ids::ZERO,
            cs: None,
            th: NO_TH,
            extra: None,
            pending_start: AtomicU64::new(0),
            start_flags: 0,
        }
    }

    /// A handle on the thread's current context (its span, trace and
    /// correlation id). Entering it elsewhere, or instrumenting a future with
    /// it, carries the context there; dropping it ends nothing.
    pub fn current() -> Span {
        let ctx = current_or_interop();
        Span {
            ids: Ids::of(ctx),
            cs: None,
            th: ring::current_th(),
            extra: ring::current_extra(),
            pending_start: AtomicU64::new(0),
            start_flags: 0,
        }
    }

    /// Starts a span; used by [`crate::span!`].
    ///
    /// Spans made in the current context whose decision one load settles
    /// (the default configuration, probability at roots, children following
    /// a local parent) take a short inline path; the rest go out of line.
    #[doc(hidden)]
    #[inline(always)]
    pub fn start<L: ValueList>(cs: &'static Callsite, parent: Parent<'_>, values: &L) -> Span {
        if let Parent::Current = parent {
            if ring::is_outside_trace() {
                #[cfg(feature = "opentelemetry")]
                let interop = crate::context::interop_enabled();
                #[cfg(not(feature = "opentelemetry"))]
                let interop = false;
                if !interop {
                    // The three ids are reserved now and computed when
                    // needed: at once for a decision on the trace id or a
                    // kept span, on first read (enter, context, a child)
                    // for a span nobody may look at.
                    let base = ring::reserve_randoms::<3>();
                    // The configuration's word, else the call site's (what
                    // its first root found the call site alone decides).
                    let Some(mode) = sampler::root_shortcut(cs) else {
                        return Span::start_root(cs, values, base);
                    };
                    let d = mode.decide_with(|| ring::random_at(base, 3));
                    if !d.sampled {
                        return Span::unrecorded(Ids::lazy_root(base), NO_TH, None);
                    }
                    if mode.asks_site() {
                        return Span::start_root(cs, values, base);
                    }
                    return Span::finish(cs, values, Ids::sampled_root(base), d, None, 0);
                }
            } else {
                let parent = ring::current_ctx();
                if parent.is_some()
                    && parent.trace_flags & FLAG_SAMPLED == 0
                    && sampler::follows_local_parent()
                {
                    // An unsampled parent, followed: nothing else to read.
                    return Span::unrecorded(
                        Ids::lazy_child(&parent, parent.trace_flags),
                        NO_TH,
                        ring::current_extra(),
                    );
                }
                let (parent, th, extra) = ring::current_span_parts();
                if parent.is_some() {
                    let kind = ParentKind::of(true, false, parent.trace_flags);
                    let rv = extra.as_deref().and_then(|e| e.rv);
                    let th = Threshold::from_raw(th);
                    if let Some(d) = sampler::decide_fast(parent.trace_id, rv, kind, th, false) {
                        let flags = (parent.trace_flags & !FLAG_SAMPLED) | u8::from(d.sampled);
                        if !d.sampled {
                            return Span::unrecorded(Ids::lazy_child(&parent, flags), NO_TH, extra);
                        }
                        let ctx = TraceContext {
                            trace_id: parent.trace_id,
                            span_id: new_span_id(),
                            parent_span_id: parent.span_id,
                            trace_flags: flags,
                        };
                        return Span::finish(cs, values, ctx, d, extra, 0);
                    }
                }
            }
        }
        Span::start_general(cs, parent, values)
    }

    /// A span that records nothing (the sampler did not keep it, or no
    /// exporter takes spans): it sets the context.
    #[inline(always)]
    fn unrecorded(ids: Ids, th: u64, extra: Option<Arc<SpanExtra>>) -> Span {
        Span {
            ids,
            cs: None,
            th,
            extra,
            pending_start: AtomicU64::new(0),
            start_flags: 0,
        }
    }

    /// The span of a decision: recorded (its start written, or kept
    /// pending) when sampled and an exporter takes spans.
    #[inline(always)]
    fn finish<L: ValueList>(
        cs: &'static Callsite,
        values: &L,
        ctx: TraceContext,
        d: Decision,
        extra: Option<Arc<SpanExtra>>,
        flags: u8,
    ) -> Span {
        let th = d.threshold.map_or(NO_TH, Threshold::raw);
        let mode = RECORD_SPANS.load(Ordering::Relaxed);
        if d.sampled && mode != RECORD_OFF {
            if values.encoded_len() == Some(0)
                && extra.is_none()
                && th == NO_TH
                && mode == RECORD_LAZY
            {
                // The common recorded span: no fields (known at compile
                // time), correlation id or tracestate. Nothing is written
                // now; the end writes the whole span in one record (never
                // 0: 0 means "nothing pending").
                return Span {
                    ids: Ids::of(ctx),
                    cs: Some(cs),
                    th,
                    extra,
                    pending_start: AtomicU64::new(clock::now().max(1)),
                    start_flags: flags,
                };
            }
            Span::recorded(cs, values, ctx, th, extra, flags)
        } else {
            Span::unrecorded(Ids::of(ctx), th, extra)
        }
    }

    /// A sampled span with an exporter that takes spans: out of line, so the
    /// unrecorded path stays short.
    #[inline(never)]
    fn recorded<L: ValueList>(
        cs: &'static Callsite,
        values: &L,
        ctx: TraceContext,
        th: u64,
        extra: Option<Arc<SpanExtra>>,
        flags: u8,
    ) -> Span {
        let ts = TsParts::new(th, extra.as_deref());
        let corr = extra.as_deref().and_then(|e| e.corr.as_ref());
        let mut pending_start = 0;
        if values.encoded_len() == Some(0) && corr.is_none() && ts.is_none() && lazy_start() {
            // No fields (known at compile time), correlation id or
            // tracestate: nothing is written now; the end writes the whole
            // span in one record (never 0: 0 means "nothing pending").
            pending_start = clock::now().max(1);
        } else {
            let head = RecHead {
                kind: KIND_SPAN_START,
                flags,
                adjusted: 0,
                ctx,
                corr,
                ts,
            };
            ring::dispatch_span(&head, cs, values);
        }
        Span {
            ids: Ids::of(ctx),
            cs: Some(cs),
            th,
            extra,
            pending_start: AtomicU64::new(pending_start),
            start_flags: flags,
        }
    }

    /// A root in the current context, outside any trace, with ids reserved
    /// at `base`, that no shortcut word decides (rules, rate limits,
    /// adaptive rates, always-kept names, a ceiling): the compiled
    /// configuration decides, with what it worked out for this call site,
    /// and the first root tells the call site its word.
    #[inline(never)]
    fn start_root<L: ValueList>(cs: &'static Callsite, values: &L, base: u64) -> Span {
        let kept = Ids::sampled_root(base);
        let trace_id = kept.trace_id;
        let attrs = CallAttrs { cs, values };
        let d = match sampler::decide_site_root(cs.id(), trace_id, &attrs) {
            Some(d) => d,
            None => {
                let meta = cs.metadata();
                sampler::decide_slow(&SpanParams {
                    trace_id,
                    rv: None,
                    parent: ParentKind::Root,
                    parent_th: None,
                    debug: false,
                    name: meta.message,
                    target: meta.target,
                    level: meta.level,
                    attrs: &attrs,
                })
            }
        };
        if sampler::site_word_stale(cs) {
            sampler::publish_site_root(cs);
        }
        if !d.sampled {
            return Span::unrecorded(Ids::lazy_root(base), NO_TH, None);
        }
        Span::finish(cs, values, kept, d, None, 0)
    }

    /// Every other start: out of line, so the short path's frame stays small.
    #[inline(never)]
    fn start_general<L: ValueList>(cs: &'static Callsite, parent: Parent<'_>, values: &L) -> Span {
        let (parent_ctx, parent_th, extra, remote) = match parent {
            Parent::Current => {
                let (ctx, th, extra) = ring::current_span_parts();
                #[cfg(feature = "opentelemetry")]
                let ctx = if !ctx.is_some() && crate::context::interop_enabled() {
                    crate::context::otel_current()
                } else {
                    ctx
                };
                (ctx, th, extra, false)
            }
            Parent::Root => (TraceContext::default(), NO_TH, new_trace_extra(), false),
            Parent::Span(s) => (s.ctx(), s.th, s.extra.clone(), false),
            Parent::Remote(p) => {
                let (th, extra) = SpanExtra::from_propagated(p);
                (
                    remote_context(p.parent.as_ref()),
                    th,
                    extra.map(Arc::new),
                    true,
                )
            }
            Parent::Context(c) => (c, NO_TH, new_trace_extra(), true),
        };
        let has_parent = parent_ctx.is_some();
        let (ctx, kind) = if has_parent {
            let ctx = TraceContext {
                trace_id: parent_ctx.trace_id,
                span_id: new_span_id(),
                parent_span_id: parent_ctx.span_id,
                trace_flags: parent_ctx.trace_flags,
            };
            (ctx, ParentKind::of(true, remote, parent_ctx.trace_flags))
        } else {
            let [span_id, hi, lo] = ring::next_randoms::<3>();
            let ctx = TraceContext {
                trace_id: (u128::from(hi) << 64) | u128::from(lo),
                span_id,
                parent_span_id: 0,
                trace_flags: FLAG_RANDOM,
            };
            (ctx, ParentKind::Root)
        };
        let rv = extra.as_deref().and_then(|e| e.rv);
        let debug = extra.as_deref().is_some_and(|e| e.debug);
        let parent_th = Threshold::from_raw(parent_th);
        let decision = match sampler::decide_fast(ctx.trace_id, rv, kind, parent_th, debug) {
            Some(d) => d,
            None => {
                let meta = cs.metadata();
                sampler::decide_slow(&SpanParams {
                    trace_id: ctx.trace_id,
                    rv,
                    parent: kind,
                    parent_th,
                    debug,
                    name: meta.message,
                    target: meta.target,
                    level: meta.level,
                    attrs: &CallAttrs { cs, values },
                })
            }
        };
        let ctx = TraceContext {
            trace_flags: (ctx.trace_flags & !FLAG_SAMPLED) | u8::from(decision.sampled),
            ..ctx
        };
        let flags = if remote && has_parent { FLAG_REMOTE } else { 0 };
        Span::finish(cs, values, ctx, decision, extra, flags)
    }

    /// Whether the span was sampled: it is recorded and exported, and its
    /// sampled flag propagates. An unsampled span still sets the context.
    pub fn is_sampled(&self) -> bool {
        self.ids.flags & FLAG_SAMPLED != 0
    }

    /// The span's W3C tracestate (`ot=th:…` when its probability is exact,
    /// then what came with its request).
    pub fn tracestate(&self) -> TraceState {
        span_extra::tracestate(self.th, self.extra.as_deref())
    }

    /// The span's trace context (all zero for [`Span::none`]).
    pub fn context(&self) -> TraceContext {
        self.ctx()
    }

    #[inline(always)]
    fn ctx(&self) -> TraceContext {
        self.ids.ctx()
    }

    /// The correlation id the span carries, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        self.extra
            .as_deref()
            .and_then(|e| e.corr.as_ref())
            .map(CorrId::as_str)
    }

    /// True for a span that does nothing ([`Span::none`], or disabled).
    pub fn is_none(&self) -> bool {
        self.ids.is_zero() && self.extra.is_none()
    }

    /// The span as a W3C `traceparent`, for calls to other services.
    pub fn traceparent(&self) -> Option<TraceParent> {
        let ctx = self.ctx();
        ctx.is_some().then_some(TraceParent {
            trace_id: ctx.trace_id,
            span_id: ctx.span_id,
            flags: ctx.trace_flags,
        })
    }

    /// Makes this span the thread's current span until the guard drops.
    #[inline(always)]
    pub fn enter(&self) -> Entered<'_> {
        if self.is_none() {
            return Entered {
                prev: None,
                _span: PhantomData,
            };
        }
        let prev = ring::enter(self.ctx(), self.th, self.extra.as_ref());
        Entered {
            prev: Some(prev),
            _span: PhantomData,
        }
    }

    /// [`Span::enter`] without the guard: the caller leaves it with
    /// `ring::leave` on this thread (the `tracing` bridge, whose spans are
    /// entered and left by calls).
    #[cfg(feature = "tracing")]
    pub(crate) fn enter_raw(&self) -> Option<ring::Prev> {
        (!self.is_none()).then(|| ring::enter(self.ctx(), self.th, self.extra.as_ref()))
    }

    /// Runs `f` with this span entered.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _e = self.enter();
        f()
    }

    #[inline(always)]
    fn emit<L: ValueList>(&self, kind: u8, values: &L) {
        if let Some(cs) = self.cs {
            self.write_pending_start(cs);
            let head = RecHead {
                kind,
                flags: 0,
                adjusted: 0,
                ctx: self.ids.stored(),
                corr: None,
                ts: None,
            };
            ring::dispatch_span(&head, cs, values);
        }
    }

    /// Writes the start record of a span that has none written yet, with the
    /// time it started (before its first attribute, status or event).
    #[inline]
    fn write_pending_start(&self, cs: &'static Callsite) {
        if self.pending_start.load(Ordering::Relaxed) != 0 {
            // Swapped, not stored: two threads recording on a shared span
            // write the start once.
            let ts = self.pending_start.swap(0, Ordering::Relaxed);
            if ts != 0 {
                ring::dispatch_fixed(&fixed_record(
                    KIND_SPAN_START,
                    self.start_flags,
                    cs.id(),
                    ts,
                    &self.ids.stored(),
                ));
            }
        }
    }

    /// Adds an attribute to the span.
    #[inline]
    pub fn record<V: Value + ?Sized>(&self, key: &'static str, value: &V) {
        self.emit(crate::record::KIND_SPAN_ATTR, &(key, (value, ())));
    }

    /// Sets the span's status; the last one set wins.
    pub fn set_status(&self, status: Status<'_>) {
        match status {
            Status::Ok => self.emit(KIND_SPAN_STATUS, &(1u64, ("", ()))),
            Status::Error(d) => self.emit(KIND_SPAN_STATUS, &(2u64, (d, ()))),
        }
    }

    /// Records an error as an `exception` event (attributes
    /// `exception.type`, `exception.message`, `exception.stacktrace`).
    /// The status is left as it is: call [`Span::set_status`] too when the
    /// error fails the span.
    pub fn record_error(&self, err: &(dyn std::error::Error + 'static)) {
        self.emit(KIND_SPAN_EVENT, &("exception", (err, ())));
    }

    /// Records an event with a name and no attributes.
    pub fn add_event(&self, name: &str) {
        self.emit(KIND_SPAN_EVENT, &(name, ()));
    }

    /// Ends the span now (dropping it does the same).
    pub fn end(self) {}
}

impl Drop for Span {
    /// A span that is not recorded (unsampled, a view, or none) only
    /// releases its optional part: the end of a recorded one is out of
    /// line, so the others' drop stays a compare inlined at the caller.
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(cs) = self.cs {
            self.write_end(cs);
        }
    }
}

impl Span {
    /// Writes the end of a recorded span.
    #[inline(never)]
    fn write_end(&mut self, cs: &'static Callsite) {
        let end = clock::now();
        let start = *self.pending_start.get_mut();
        if start != 0 {
            ring::dispatch_fixed(&whole_span_record(
                self.start_flags,
                cs.id(),
                start,
                end,
                &self.ids.stored(),
            ));
        } else {
            ring::dispatch_fixed(&fixed_record(
                KIND_SPAN_END,
                0,
                cs.id(),
                end,
                &self.ids.stored(),
            ));
        }
    }
}

/// The thread's context, or (with the `opentelemetry` feature and interop
/// on) the OpenTelemetry context's when no span of this crate is current.
#[inline(always)]
fn current_or_interop() -> TraceContext {
    let ctx = ring::current_ctx();
    #[cfg(feature = "opentelemetry")]
    if !ctx.is_some() && crate::context::interop_enabled() {
        return crate::context::otel_current();
    }
    ctx
}

/// What a new trace started inside the current request keeps of it.
fn new_trace_extra() -> Option<Arc<SpanExtra>> {
    let cur = ring::current_extra()?;
    if cur.has_tracestate() {
        cur.for_new_trace().map(Arc::new)
    } else {
        Some(cur)
    }
}

/// A span's fields at its start, looked up by name for the sampler's rules
/// and rate-limit keys. Only a lookup of a name the call site has pays:
/// strings, integers and booleans give their text directly; other values
/// are encoded on the stack and the one asked for decoded.
struct CallAttrs<'a, L> {
    cs: &'static Callsite,
    values: &'a L,
}

impl<L: ValueList> sampler::Attrs for CallAttrs<'_, L> {
    fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool {
        let fields = self.cs.metadata().fields;
        let Some(i) = fields
            .iter()
            .position(|n| crate::callsite::field_key(n) == key)
        else {
            return false;
        };
        self.text_at(i, f)
    }

    #[inline(always)]
    fn text_at(&self, index: usize, f: &mut dyn FnMut(&[u8])) -> bool {
        self.values.feed_nth(index, f) || field_text(self.values, index, f)
    }

    fn site(&self) -> Option<(u32, &'static [&'static str])> {
        Some((self.cs.id(), self.cs.metadata().fields))
    }
}

/// Feeds the text of value `index` of `values` to `f` (numbers in decimal,
/// booleans as `true`/`false`, strings as they are, cut to fit 512 bytes): the
/// value is encoded into a stack buffer and decoded back. False when there
/// is no such value.
fn field_text<L: ValueList>(values: &L, index: usize, f: &mut dyn FnMut(&[u8])) -> bool {
    use crate::record::{Decoder, KIND_LOG, Val};
    use std::mem::MaybeUninit;
    const WINDOW: usize = 512;
    let mut window = [MaybeUninit::<u8>::uninit(); WINDOW];
    let mut buf = RecordBuf::new(&mut window, WINDOW);
    let prefix = crate::record::Prefix {
        ctx: &TraceContext::default(),
        corr: None,
        tracestate: None,
    };
    buf.begin_kind(KIND_LOG, 0, 0, 0, &prefix);
    if !values.record_nth(index, &mut buf) {
        return false;
    }
    let n = buf.finish();
    // SAFETY: `finish` returns the length of the initialized prefix.
    let rec = unsafe { window[..n].assume_init_ref() };
    let mut d = Decoder::new(rec);
    let mut num = itoa::Buffer::new();
    let mut chr = [0u8; 4];
    let text: &[u8] = match d.value() {
        None => return false,
        Some(Val::None) => b"",
        Some(Val::Bool(b)) => {
            if b {
                b"true"
            } else {
                b"false"
            }
        }
        Some(Val::U64(x)) => num.format(x).as_bytes(),
        Some(Val::I64(x)) => num.format(x).as_bytes(),
        Some(Val::U128(x)) => num.format(x).as_bytes(),
        Some(Val::I128(x)) => num.format(x).as_bytes(),
        Some(Val::F64(x)) => {
            return {
                f(x.to_string().as_bytes());
                true
            };
        }
        Some(Val::F32(x)) => {
            return {
                f(x.to_string().as_bytes());
                true
            };
        }
        Some(Val::Char(c)) => c.encode_utf8(&mut chr).as_bytes(),
        Some(Val::Str(b) | Val::Bytes(b)) => b,
        Some(Val::Error { message, .. }) => message,
    };
    f(text);
    true
}

fn remote_context(tp: Option<&TraceParent>) -> TraceContext {
    match tp {
        Some(t) if t.is_valid() => TraceContext {
            trace_id: t.trace_id,
            span_id: t.span_id,
            parent_span_id: 0,
            trace_flags: t.flags,
        },
        _ => TraceContext::default(),
    }
}

/// Restores the previous context when dropped. Not `Send`: a span is
/// entered and left on the same thread.
#[must_use = "the span is current only while the guard lives"]
pub struct Entered<'a> {
    prev: Option<ring::Prev>,
    _span: PhantomData<(&'a Span, *const ())>,
}

impl std::fmt::Debug for Entered<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entered").finish_non_exhaustive()
    }
}

impl Drop for Entered<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(prev) = self.prev.take() {
            ring::leave(prev);
        }
    }
}

/// Runs `f` inside a new span named `name` (a child of the current span),
/// at INFO, target `datapunk_log::span`. The span ends when `f` returns.
///
/// Each distinct name gets one call site, kept for the life of the process:
/// use names from a small fixed set (for per-request names, use a field).
pub fn in_span<R>(name: &'static str, f: impl FnOnce() -> R) -> R {
    let cs = dynamic_callsite(name);
    let span = if cs.is_enabled() {
        Span::start(cs, Parent::Current, &())
    } else {
        Span::none()
    };
    let _e = span.enter();
    f()
}

fn dynamic_callsite(name: &'static str) -> &'static Callsite {
    use std::cell::RefCell;
    use std::collections::HashMap;
    use std::sync::Mutex;
    static GLOBAL: Mutex<Vec<(&'static str, &'static Callsite)>> = Mutex::new(Vec::new());
    thread_local! {
        static CACHE: RefCell<HashMap<&'static str, &'static Callsite>> = RefCell::new(HashMap::new());
    }
    let cached = CACHE.with(|c| c.borrow().get(name).copied());
    if let Some(cs) = cached {
        return cs;
    }
    let cs = {
        let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
        match g.iter().find(|(n, _)| *n == name) {
            Some((_, cs)) => *cs,
            None => {
                let cs: &'static Callsite = Box::leak(Box::new(Callsite::new(
                    crate::Level::Info,
                    "datapunk_log::span",
                    module_path!(),
                    file!(),
                    line!(),
                    name,
                    &[],
                    false,
                )));
                g.push((name, cs));
                cs
            }
        }
    };
    CACHE.with(|c| c.borrow_mut().insert(name, cs));
    cs
}

/// Attaches a span to a future: entered on every poll, ended when the future
/// is dropped. The future may move between threads.
pub trait Instrument: Sized {
    /// Carries `span` with this future.
    fn instrument(self, span: Span) -> Instrumented<Self> {
        Instrumented { inner: self, span }
    }

    /// Carries the current context (span and correlation id) with this future.
    fn in_current_span(self) -> Instrumented<Self> {
        self.instrument(Span::current())
    }
}

impl<F: Future> Instrument for F {}

pin_project_lite::pin_project! {
    /// A future with its span; see [`Instrument`].
    #[derive(Debug)]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        span: Span,
    }
}

impl<F> Instrumented<F> {
    /// The span this future carries.
    pub fn span(&self) -> &Span {
        &self.span
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _e = this.span.enter();
        this.inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;
    use std::num::NonZeroU32;

    /// What the sampler sees of value `i`: through `feed_text`, and
    /// through the encoding (which every value has).
    fn both<L: ValueList>(values: &L, i: usize) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
        let mut direct = None;
        let fed = values.feed_nth(i, &mut |b| direct = Some(b.to_vec()));
        assert_eq!(fed, direct.is_some());
        let mut encoded = None;
        let found = field_text(values, i, &mut |b| encoded = Some(b.to_vec()));
        assert_eq!(found, encoded.is_some());
        (direct, encoded)
    }

    #[test]
    fn the_direct_text_of_a_value_is_its_encoded_text() {
        let s = String::from("owned");
        let values = (
            "acme",
            (
                42u8,
                (
                    -7i32,
                    (
                        true,
                        (
                            Some("x"),
                            (
                                None::<&str>,
                                (
                                    &s,
                                    (
                                        Cow::Borrowed("cow"),
                                        (
                                            u64::MAX,
                                            (i64::MIN, (NonZeroU32::new(9).unwrap(), (false, ()))),
                                        ),
                                    ),
                                ),
                            ),
                        ),
                    ),
                ),
            ),
        );
        for i in 0..12 {
            let (direct, encoded) = both(&values, i);
            assert_eq!(direct, encoded, "value {i}");
            assert!(direct.is_some(), "value {i} has a direct text");
        }
        // Past the end: neither.
        assert_eq!(both(&values, 12), (None, None));
        // A value without a direct text (a float) is still read, encoded.
        let (direct, encoded) = both(&(0.5f64, ()), 0);
        assert_eq!(direct, None);
        assert_eq!(encoded.as_deref(), Some(&b"0.5"[..]));
    }
}
