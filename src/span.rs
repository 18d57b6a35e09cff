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
//! When an exporter that takes spans is configured, the span's start, its
//! later attributes, events and status, and its end are records in the
//! thread's ring, like log records; the export thread joins them into one
//! span. Without one, a span only sets the context (no record is written).

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};

use crate::callsite::Callsite;
use crate::clock;
use crate::corr::CorrId;
use crate::propagation::{Propagated, TraceParent};
use crate::record::{
    FLAG_REMOTE, KIND_SPAN_END, KIND_SPAN_EVENT, KIND_SPAN_START, KIND_SPAN_STATUS, TraceContext,
    fixed_record, whole_span_record,
};
use crate::ring::{self, RecHead};
use crate::value::{Value, ValueList};

/// Trace flags of a trace started here: sampled (`0x01`) and random trace id
/// (`0x02`, W3C Trace Context level 2).
pub const ROOT_TRACE_FLAGS: u8 = 0x03;

/// Set while an exporter that takes spans is installed.
static RECORD_SPANS: AtomicBool = AtomicBool::new(false);

pub(crate) fn set_recording(on: bool) {
    RECORD_SPANS.store(on, Ordering::Release);
}

#[inline(always)]
fn recording() -> bool {
    RECORD_SPANS.load(Ordering::Relaxed)
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
    ctx: TraceContext,
    /// The call site, when the span's records are written.
    cs: Option<&'static Callsite>,
    /// True for a span this handle ends (not a [`Span::current`] view).
    owned: bool,
    /// The correlation id, boxed: only spans of a correlated request pay.
    corr: Option<Box<CorrId>>,
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
            .field("context", &self.ctx)
            .field("correlation_id", &self.correlation_id())
            .finish()
    }
}

impl Span {
    /// A span that does nothing: entering it leaves the context as it is.
    pub const fn none() -> Span {
        Span {
            ctx: TraceContext {
                trace_id: 0,
                span_id: 0,
                parent_span_id: 0,
                trace_flags: 0,
            },
            cs: None,
            owned: false,
            corr: None,
            pending_start: AtomicU64::new(0),
            start_flags: 0,
        }
    }

    /// A handle on the thread's current context (its span, trace and
    /// correlation id). Entering it elsewhere, or instrumenting a future with
    /// it, carries the context there; dropping it ends nothing.
    pub fn current() -> Span {
        let ctx = current_or_interop();
        let corr = ring::current_corr();
        Span {
            ctx,
            cs: None,
            owned: false,
            corr,
            pending_start: AtomicU64::new(0),
            start_flags: 0,
        }
    }

    /// Starts a span; used by [`crate::span!`].
    #[doc(hidden)]
    #[inline(always)]
    pub fn start<L: ValueList>(cs: &'static Callsite, parent: Parent<'_>, values: &L) -> Span {
        let (parent_ctx, corr, remote) = match parent {
            Parent::Current => (current_or_interop(), ring::current_corr(), false),
            Parent::Root => (TraceContext::default(), ring::current_corr(), false),
            Parent::Span(s) => (s.ctx, s.corr.clone(), false),
            Parent::Remote(p) => {
                let corr = p.correlation_id.as_deref().and_then(CorrId::new);
                (remote_context(p.parent.as_ref()), corr.map(Box::new), true)
            }
            Parent::Context(c) => (c, ring::current_corr(), true),
        };
        let ctx = if parent_ctx.is_some() {
            TraceContext {
                trace_id: parent_ctx.trace_id,
                span_id: new_span_id(),
                parent_span_id: parent_ctx.span_id,
                trace_flags: parent_ctx.trace_flags,
            }
        } else {
            let [span_id, hi, lo] = ring::next_randoms::<3>();
            TraceContext {
                trace_id: (u128::from(hi) << 64) | u128::from(lo),
                span_id,
                parent_span_id: 0,
                trace_flags: ROOT_TRACE_FLAGS,
            }
        };
        let mut pending_start = 0;
        let flags = if remote && parent_ctx.is_some() {
            FLAG_REMOTE
        } else {
            0
        };
        let cs = if recording() {
            if values.encoded_len() == Some(0) && corr.is_none() {
                // No fields (known at compile time) and no correlation id:
                // nothing is written now; the end writes the whole span in
                // one record (never 0: 0 means "nothing pending").
                pending_start = clock::now().max(1);
            } else {
                let head = RecHead {
                    kind: KIND_SPAN_START,
                    flags,
                    ctx,
                    corr: corr.as_deref(),
                };
                ring::dispatch_span(&head, cs, values);
            }
            Some(cs)
        } else {
            None
        };
        Span {
            ctx,
            cs,
            owned: true,
            corr,
            pending_start: AtomicU64::new(pending_start),
            start_flags: flags,
        }
    }

    /// The span's trace context (all zero for [`Span::none`]).
    pub fn context(&self) -> TraceContext {
        self.ctx
    }

    /// The correlation id the span carries, if any.
    pub fn correlation_id(&self) -> Option<&str> {
        self.corr.as_deref().map(CorrId::as_str)
    }

    /// True for a span that does nothing ([`Span::none`], or disabled).
    pub fn is_none(&self) -> bool {
        !self.ctx.is_some() && self.corr.is_none()
    }

    /// The span as a W3C `traceparent`, for calls to other services.
    pub fn traceparent(&self) -> Option<TraceParent> {
        self.ctx.is_some().then_some(TraceParent {
            trace_id: self.ctx.trace_id,
            span_id: self.ctx.span_id,
            flags: self.ctx.trace_flags,
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
        let prev = ring::enter(self.ctx, self.corr.as_deref());
        Entered {
            prev: Some(prev),
            _span: PhantomData,
        }
    }

    /// Runs `f` with this span entered.
    pub fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        let _e = self.enter();
        f()
    }

    #[inline(always)]
    fn emit<L: ValueList>(&self, kind: u8, values: &L) {
        if let Some(cs) = self.cs
            && self.owned
        {
            self.write_pending_start(cs);
            let head = RecHead {
                kind,
                flags: 0,
                ctx: self.ctx,
                corr: None,
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
                    &self.ctx,
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
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(cs) = self.cs
            && self.owned
        {
            let end = clock::now();
            let start = *self.pending_start.get_mut();
            if start != 0 {
                ring::dispatch_fixed(&whole_span_record(
                    self.start_flags,
                    cs.id(),
                    start,
                    end,
                    &self.ctx,
                ));
            } else {
                ring::dispatch_fixed(&fixed_record(KIND_SPAN_END, 0, cs.id(), end, &self.ctx));
            }
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
        if let Some(prev) = &self.prev {
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
